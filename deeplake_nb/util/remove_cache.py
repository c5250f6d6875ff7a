"""Deep Lake v3's import path ``deeplake.util.remove_cache``: ``get_base_storage``."""

from __future__ import annotations

from ..core.storage import StorageProvider


def get_base_storage(storage: StorageProvider) -> StorageProvider:
    """The storage under v3's cache layers; deeplake_nb's providers (``ds.storage``) have none,
    so it is ``storage`` itself."""
    return storage
