"""Deep Lake v3's import path ``deeplake.core.storage.provider``: ``StorageProvider``, the
objects stored at one location as a mutable mapping of key -> bytes, over deeplake_nb's
``storage.ByteStore``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from zarr.abc.store import Store

from ...errors import ObjectNotFoundError, ReadOnlyError, UnsupportedFeatureError
from ...storage import ByteStore, normalize, open_store


class StorageProvider(MutableMapping):
    """Every object stored under ``root`` (a local directory, ``mem://name`` or
    ``s3://bucket/prefix``): ``provider[key]`` is its bytes (ObjectNotFoundError, a KeyError,
    when absent); setting, deleting, iterating and ``len`` act on the storage directly, so
    ``flush`` has nothing to write. Over a dataset's location (``ds.storage``) the keys are
    deeplake_nb's physical objects of every version: writing them bypasses version control and,
    as in v3, can damage the dataset."""

    def __init__(self, root: str, read_only: bool = False, storage_options: dict[str, Any] | None = None) -> None:
        self.root = normalize(root)
        self._options = storage_options
        self._bytes = ByteStore(open_store(self.root, read_only=read_only, storage_options=storage_options))
        self.read_only = read_only
        self._publishes_each_write: Callable[[], bool] | None = None

    @classmethod
    def over(cls, root: str, store: Store, read_only: bool,
             publishes_each_write: Callable[[], bool] | None = None) -> StorageProvider:
        """A provider over an open zarr ``store`` holding ``root``'s objects; over a dataset's
        location, ``publishes_each_write()`` says whether the dataset publishes each write as it
        is made (what ``autoflush`` reports)."""
        provider = cls.__new__(cls)
        provider.root, provider._options, provider.read_only = root, None, read_only
        provider._bytes = ByteStore(store)
        provider._publishes_each_write = publishes_each_write
        return provider

    @property
    def store(self) -> Store:
        """The zarr Store holding this provider's objects (what ``Dataset(storage=...)`` opens)."""
        return self._bytes.store

    # -- the mapping --------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> bytes:
        data = self._bytes.get(key)
        if data is None:
            raise ObjectNotFoundError(f"No object {key!r} under {self.root!r}; list them with provider.keys().")
        return data

    def get_bytes(self, key: str, start_byte: int | None = None, end_byte: int | None = None) -> bytes:
        """Bytes ``[start_byte, end_byte)`` of the object ``key`` (all of them by default)."""
        if start_byte is None and end_byte is None:
            return self[key]
        data = self._bytes.get(key, start_byte or 0, end_byte)
        if data is None:
            raise ObjectNotFoundError(f"No object {key!r} under {self.root!r}; list them with provider.keys().")
        return data

    def __setitem__(self, key: str, value: bytes) -> None:
        self._writable().set(key, bytes(value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise ObjectNotFoundError(f"No object {key!r} under {self.root!r} to delete.")
        self._writable().delete(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._bytes.exists(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._bytes.list_prefix(""))

    def __len__(self) -> int:
        return len(self._bytes.list_prefix(""))

    def clear(self, prefix: str = "") -> None:
        """Delete every object whose key starts with ``prefix`` (every object by default)."""
        store = self._writable()
        for key in store.list_prefix(prefix):
            store.delete(key)

    # -- v3's provider controls ----------------------------------------------------------------------
    @property
    def autoflush(self) -> bool:
        """Whether each write reaches storage as it is made. For a dataset's provider
        (``ds.storage``): True while the dataset publishes every write at once, False inside
        ``with ds:`` (the block publishes its writes when it ends). A provider's own writes always
        go to storage at once: True. It follows ``with ds:`` and cannot be set to another value."""
        return True if self._publishes_each_write is None else self._publishes_each_write()

    @autoflush.setter
    def autoflush(self, value: bool) -> None:
        if bool(value) != self.autoflush:
            raise UnsupportedFeatureError(
                f"storage.autoflush cannot be set to {value!r} here: it follows the dataset's `with ds:` blocks "
                "(False inside one, whose writes are published when it ends; True outside, where each write is "
                "published at once). To batch writes, put them in `with ds:`.")

    def flush(self) -> None:
        """Nothing to write: every change went to storage when it was made."""

    def enable_readonly(self) -> None:
        """Refuse writes from now on (ReadOnlyError)."""
        self.read_only = True

    def disable_readonly(self) -> None:
        """Allow writes again (the storage itself must be writable)."""
        if self._bytes.read_only:
            self._bytes = ByteStore(open_store(self.root, storage_options=self._options))
        self.read_only = False

    def _writable(self) -> ByteStore:
        if self.read_only or self._bytes.read_only:
            raise ReadOnlyError(f"The storage provider of {self.root!r} is read-only; call disable_readonly() "
                                "(on a dataset's storage: load the dataset with read_only=False) to write.")
        return self._bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r}{', read_only=True' if self.read_only else ''})"
