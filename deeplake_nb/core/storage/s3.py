"""Deep Lake v3's import path ``deeplake.core.storage.s3``: ``S3Provider``, the objects under an
``s3://bucket/prefix`` (see ``provider.StorageProvider``), with v3's credential arguments."""

from __future__ import annotations

from typing import Any

from ...errors import StorageError
from ...util import unsupported
from .provider import StorageProvider


class S3Provider(StorageProvider):
    """The objects under ``root`` = ``s3://bucket/prefix``. v3's ``aws_access_key_id``,
    ``aws_secret_access_key``, ``aws_session_token``, ``endpoint_url`` and ``aws_region`` become
    the storage options deeplake_nb passes to obstore; without them obstore reads the environment."""

    def __init__(self, root: str, aws_access_key_id: str | None = None, aws_secret_access_key: str | None = None,
                 aws_session_token: str | None = None, endpoint_url: str | None = None,
                 aws_region: str | None = None, profile_name: str | None = None, token: str | None = None,
                 read_only: bool = False, **_v3_options: Any) -> None:
        if not root.startswith("s3://"):
            raise StorageError(f"S3Provider takes an s3://bucket/prefix URL, not {root!r}.")
        if profile_name is not None:
            raise unsupported("S3Provider(profile_name=...)", "pass aws_access_key_id and aws_secret_access_key "
                              "(or set AWS_* environment variables) instead.")
        if token is not None:
            raise unsupported("S3Provider(token=...) (an Activeloop hub token)", "pass AWS credentials instead.")
        given = {"aws_access_key_id": aws_access_key_id, "aws_secret_access_key": aws_secret_access_key,
                 "aws_session_token": aws_session_token, "endpoint_url": endpoint_url, "aws_region": aws_region}
        options = {name: value for name, value in given.items() if value is not None}  # v3's names: storage.remote
        super().__init__(root, read_only=read_only, storage_options=options or None)
