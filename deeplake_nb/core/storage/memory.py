"""Deep Lake v3's import path ``deeplake.core.storage.memory``: ``MemoryProvider``, the objects of
an in-memory location of this process (see ``provider.StorageProvider``)."""

from __future__ import annotations

from typing import Any

from ...storage import normalize_new
from .provider import StorageProvider


class MemoryProvider(StorageProvider):
    """The objects at ``mem://name`` (``root`` may omit the scheme); a bare ``"mem://"`` (the
    default) names a fresh, unused location. Datasets at the same ``mem://`` path see them."""

    def __init__(self, root: str = "mem://", read_only: bool = False, **_v3_options: Any) -> None:
        root = root if root.startswith("mem://") else "mem://" + root.lstrip("/")
        super().__init__(normalize_new(root), read_only=read_only)
