"""The physical store as version control sees it: whole immutable objects, put-if-absent, listing.

Built on :class:`deeplake_nb.storage.ByteStore` (sync get/set/delete/list over any zarr Store).
Put-if-absent uses the store's ``set_if_not_exists`` (an exclusive create on LocalStore, an
atomic ``setdefault`` on MemoryStore, ``If-None-Match`` on S3). zarr's stores return silently
when the key already exists, so the winner is decided by reading the key back: callers must
write content that no other writer could write byte for byte (a random nonce inside).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Sequence

from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore

from ..storage import ByteStore

_PROTOTYPE = default_buffer_prototype()


class PhysicalStore(ByteStore):
    """A :class:`ByteStore` with put-if-absent, directory listing and concurrent multi-get."""

    def put_if_absent(self, key: str, data: bytes, *, durable: bool = False, after: Sequence[str] = ()) -> bool:
        """Write ``key`` only if it does not exist; True when this call's ``data`` is what landed.
        ``durable``: on local disk, fsync what landed (see :meth:`ByteStore.flush_to_disk`).
        ``after``: keys already written that must be durable before ``key`` can exist (what a
        ref entry names); on local disk they are fsynced, with this key's bytes in its temporary
        file, before the file is linked under its name, whose folder is fsynced then: a landing
        waits for three rounds of fsyncs (files; their folders; the new name's folder), not
        four. Elsewhere ``after`` is flushed first (a no-op on object stores)."""
        if not (isinstance(self.store, LocalStore) and not self.store.read_only):
            self.flush_to_disk(after)
            with self.failures("write", key):
                sync(self.store.set_if_not_exists(key, _PROTOTYPE.buffer.from_bytes(data)))
            return self.get(key) == data
        durable = durable or bool(after)

        def before_link(temporary: str) -> None:  # the contents of everything, then their folders
            self.flush_to_disk(after, contents_only=[temporary] if durable else [])

        with self.failures("write", key):
            created = _create_file(os.path.join(str(self.store.root), key), data, before_link)
        if created:
            if durable:
                self.flush_folders([key])
            return True
        landed = self.get(key) == data  # the name was taken: by these very bytes only in a retry
        if landed and durable:
            self.flush_to_disk([key])
        return landed

    def put_new(self, key: str, data: bytes | Sequence[bytes | memoryview]) -> None:
        """Write ``key``, a fresh name that nothing names yet and nobody else writes (a new object
        or manifest delta, flushed before the ref entry that names it lands): on local disk
        created exclusively in place, without zarr's temporary file and rename, which a
        reader-safe overwrite needs but a new name does not; elsewhere an ordinary write.
        ``data``: the bytes, or parts whose concatenation they are (written with ``writev``,
        never joined in memory on local disk). Raises StorageError when the key exists."""
        parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
        if not isinstance(self.store, LocalStore) or self.store.read_only:
            self.set(key, bytes(parts[0]) if len(parts) == 1 else b"".join(parts))
            return
        with self.failures("write", key):
            descriptor = _open_for_writing(os.path.join(str(self.store.root), key), os.O_EXCL)
            try:
                _write_all(descriptor, parts)
            finally:
                os.close(descriptor)

    def overwrite_advisory(self, key: str, data: bytes) -> None:
        """Replace ``key``, an advisory document whose readers verify what they read and fall
        back when it is torn (a ref's hint: a checksummed zlib stream), by writing in place on
        local disk: no temporary file and rename, which ext4 makes wait for the data to reach
        the disk when the rename replaces a file (~0.4 ms against ~0.01 ms). A reader that
        reads it mid-write, or after a crash, sees a damaged copy and ignores it. Elsewhere an
        ordinary write."""
        if not isinstance(self.store, LocalStore) or self.store.read_only:
            self.set(key, data)
            return
        with self.failures("write", key):
            descriptor = _open_for_writing(os.path.join(str(self.store.root), key))
            try:
                if os.pwrite(descriptor, data, 0) != len(data):
                    raise OSError(f"short write to {key}")
                os.ftruncate(descriptor, len(data))  # not to 0 first: that too makes ext4 wait
            finally:
                os.close(descriptor)

    def list_dir(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (a folder path without trailing '/')."""

        async def collect() -> list[str]:
            return [name async for name in self.store.list_dir(prefix)]

        return sync(collect())

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Whole objects for ``keys``, fetched concurrently (those the cache has, from it); None
        for absent keys."""
        cache = self.cache
        if cache is not None and any(cache.holds(key) for key in keys):
            found = [cache.get(key) if cache.holds(key) else None for key in keys]
            missing = [i for i, data in enumerate(found) if data is None]
            for i, data in zip(missing, self._fetch_many([keys[i] for i in missing]), strict=True):
                found[i] = data
                if data is not None and cache.holds(keys[i]):
                    cache.put(keys[i], data)
            return found
        return self._fetch_many(keys)

    @property
    def round_trips(self) -> bool:
        """Whether each read is a round trip to a server (an object store), so that reads of
        several objects are best issued together; local disk and memory read one after another."""
        return not isinstance(self.store, (LocalStore, MemoryStore))

    def _fetch_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        if isinstance(self.store, LocalStore):  # local reads one after another beat a trip through zarr's loop
            return [self._get(key, None) for key in keys]

        async def collect() -> list[Buffer | None]:
            return await asyncio.gather(*(self.store.get(key, _PROTOTYPE) for key in keys))

        with self.failures("read", keys[0] if len(keys) == 1 else f"{keys[0]} and {len(keys) - 1} more"):
            found = sync(collect())
        return [None if buf is None else buf.to_bytes() for buf in found]


def _open_for_writing(path: str, flags: int = 0) -> int:
    """A descriptor of ``path`` opened for writing (created if absent, with its folders), with
    extra ``flags`` (``os.O_EXCL``: only if absent)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)


_IOV_MAX = 1024  # the fewest buffers one writev takes on the systems we run on (POSIX's minimum is 16; Linux, macOS: 1024)


def _write_all(descriptor: int, parts: Sequence[bytes | memoryview]) -> None:
    """Write every byte of ``parts`` in order (``writev`` of up to ``_IOV_MAX`` parts at a time;
    a short write is resumed where it stopped; one ``write`` per part where there is no
    ``writev``)."""
    views = [view for view in (memoryview(part).cast("B") for part in parts) if view.nbytes]
    if not hasattr(os, "writev"):  # Windows
        for view in views:
            while view:
                view = view[os.write(descriptor, view):]
        return
    i = 0
    while i < len(views):
        written = os.writev(descriptor, views[i: i + _IOV_MAX])
        while written:
            size = views[i].nbytes
            if written < size:
                views[i] = views[i][written:]
                break
            written -= size
            i += 1


def _create_file(path: str, data: bytes, before_link: Callable[[str], None]) -> bool:
    """Create the file ``path`` holding ``data`` unless it exists; True when this call created
    it. Atomic as zarr's LocalStore does it (a temporary file, then a hard link, which fails
    when the name exists), without two thread hand-offs through zarr's event loop (~1 ms a
    call on a busy machine; every publish and commit makes one or two). ``before_link`` is
    called with the temporary file's path once its bytes are written (to make them durable
    before the name appears)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        with open(temporary, "wb") as f:
            f.write(data)
        before_link(temporary)
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
