"""Where bytes live: dataset URLs -> zarr Stores, and a sync facade for hot paths."""

from .bytestore import ByteStore
from .remote import is_remote
from .url import delete_location, is_memory, normalize, normalize_new, open_store, rename_location

__all__ = ["ByteStore", "delete_location", "is_memory", "is_remote", "normalize", "normalize_new", "open_store",
           "rename_location"]
