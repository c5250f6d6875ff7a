"""Deep Lake v3's import path ``deeplake.core.storage.local``: ``LocalProvider``, the objects
under a local directory (see ``provider.StorageProvider``)."""

from __future__ import annotations

import os
from typing import Any

from ...errors import StorageError
from .provider import StorageProvider


class LocalProvider(StorageProvider):
    """The objects under the local directory ``root`` (made on the first write)."""

    def __init__(self, root: str | os.PathLike[str], read_only: bool = False, **_v3_options: Any) -> None:
        if "://" in os.fspath(root) and not os.fspath(root).startswith("file://"):
            raise StorageError(f"LocalProvider takes a local directory, not {os.fspath(root)!r}; use MemoryProvider "
                               "for mem:// and S3Provider for s3://.")
        super().__init__(os.fspath(root), read_only=read_only)
