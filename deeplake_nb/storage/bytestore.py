"""A small synchronous facade over any zarr v3 Store.

The format layer reads and writes raw objects (chunk bytes, byte ranges, JSON documents)
on hot paths where zarr's async machinery costs a millisecond per call. Stores that offer
zarr's sync protocol (``get_sync``/``set_sync``/``delete_sync``: LocalStore, MemoryStore) are
called directly; others go through zarr's event loop.
"""

from __future__ import annotations

from zarr.abc.store import RangeByteRequest, Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

_PROTOTYPE = default_buffer_prototype()


class ByteStore:
    """Synchronous get/set/delete/list of whole objects or byte ranges on a zarr Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sync_get = getattr(store, "get_sync", None)

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        """Bytes of ``key`` (``[start, end)`` when given), or None when the key is absent."""
        byte_range = None if start is None else RangeByteRequest(start, end)
        if self._sync_get is not None:
            buf = self._sync_get(key, prototype=_PROTOTYPE, byte_range=byte_range)
        else:
            buf = sync(self.store.get(key, _PROTOTYPE, byte_range))
        return None if buf is None else buf.to_bytes()

    def set(self, key: str, data: bytes) -> None:
        buf = _PROTOTYPE.buffer.from_bytes(data)
        setter = getattr(self.store, "set_sync", None)
        if setter is not None:
            setter(key, buf)
        else:
            sync(self.store.set(key, buf))

    def exists(self, key: str) -> bool:
        return sync(self.store.exists(key))

    def delete(self, key: str) -> None:
        deleter = getattr(self.store, "delete_sync", None)
        if deleter is not None:
            deleter(key)
        else:
            sync(self.store.delete(key))

    def delete_dir(self, prefix: str) -> None:
        """Delete every key under ``prefix/`` (nothing when there is none)."""
        sync(self.store.delete_dir(prefix))

    def list_prefix(self, prefix: str) -> list[str]:
        async def collect() -> list[str]:
            return [key async for key in self.store.list_prefix(prefix)]

        return sync(collect())
