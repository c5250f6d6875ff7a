"""Deep Lake v3's import path ``deeplake.core.storage.gcs``: ``GCSProvider``. deeplake_nb stores
no data on Google Cloud Storage, so making one raises UnsupportedFeatureError."""

from __future__ import annotations

from typing import Any

from ...util import unsupported
from .provider import StorageProvider


class GCSProvider(StorageProvider):
    """v3's Google Cloud Storage provider; not available here."""

    def __init__(self, root: str = "", *args: Any, **kwargs: Any) -> None:
        raise unsupported("Google Cloud Storage (GCSProvider, gcs:// paths)",
                          "use a local path, mem:// or s3:// (GCS's S3-compatible endpoint works through "
                          "S3Provider(endpoint_url='https://storage.googleapis.com', ...)).")
