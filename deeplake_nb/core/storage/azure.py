"""Deep Lake v3's import path ``deeplake.core.storage.azure``: ``AzureProvider``. deeplake_nb
stores no data on Azure Blob Storage, so making one raises UnsupportedFeatureError."""

from __future__ import annotations

from typing import Any

from ...util import unsupported
from .provider import StorageProvider


class AzureProvider(StorageProvider):
    """v3's Azure Blob Storage provider; not available here."""

    def __init__(self, root: str = "", *args: Any, **kwargs: Any) -> None:
        raise unsupported("Azure Blob Storage (AzureProvider, az:// paths)",
                          "use a local path, mem:// or s3:// (or copy the data to one of them).")
