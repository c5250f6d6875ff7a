"""A small synchronous facade over any zarr v3 Store.

The format layer reads and writes raw objects (chunk bytes, byte ranges, JSON documents)
on hot paths where zarr's async machinery costs a millisecond per call. Stores that offer
zarr's sync protocol (``get_sync``/``set_sync``/``delete_sync``: LocalStore, MemoryStore) are
called directly; others go through zarr's event loop.

A failed call of the store underneath (an ``OSError`` such as ENOSPC when the disk is full, or
an obstore error from an object store) comes out as ``StorageError`` naming the operation, the
key and the location, with the original ``errno``; deeplake_nb's own errors pass unchanged.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore

from ..errors import DeepLakeNBError, StorageError

try:  # POSIX
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]
from .cache import CacheChain

_PROTOTYPE = default_buffer_prototype()
EARLY_FLUSH_BYTES = 1 << 20
"""Objects written complete (``ByteStore.set(..., complete=True)``) at least this large start
their write-back to disk at once, on the fsync threads, while the writer goes on: a publish then
finds their bytes on disk instead of waiting for all of them (125 MB of JPEG chunks took
0.15-0.2 s to fsync here). Smaller objects wait for the publish, whose fsyncs in flight together
share the file system's journal commits (one early fsync each would cost a commit of its own)."""
MAP_MIN_BYTES = 256 << 10
"""Files at least this large are mapped by :meth:`ByteStore.map` (smaller ones are read: a map
costs a system call and a kernel mapping, and the number of mappings a process has is bounded)."""
MAP_SHARE_OF_DESCRIPTORS = 4
"""At most 1/4 of the process's file-descriptor limit is held by live maps: Python's ``mmap``
keeps a duplicate of the file's descriptor for as long as the map lives, so a cache of maps
must not take the descriptors other files need (1,024 on many systems)."""
_maps_alive = 0
_maps_lock = threading.Lock()
_HINTS: dict[int | None, str] = {  # by errno (an error without one looks up None: no hint)
    errno.ENOSPC: "The disk is full: free some space, then retry.",
    errno.EDQUOT: "The disk quota is exceeded: free some space, then retry.",
    errno.EACCES: "Check the permissions of the dataset's directory.",
    errno.EPERM: "Check the permissions of the dataset's directory.",
    errno.EROFS: "The file system is read-only: open the dataset with read_only=True, or copy it elsewhere.",
}


def _failures() -> tuple[type[BaseException], ...]:
    """The exception types of a failed store call: OSError, and obstore's errors once obstore is
    loaded (it is only imported for s3:// datasets). Evaluated only when something was raised."""
    obstore = sys.modules.get("obstore.exceptions")
    return (OSError, obstore.BaseError) if obstore is not None else (OSError,)


def storage_error(exc: BaseException, operation: str, key: str, store: Store) -> StorageError:
    """The StorageError for ``exc``, raised by ``operation`` ("read", "write" ...) of ``key``."""
    code = getattr(exc, "errno", None)
    hint = _HINTS.get(code, "Check that the storage location is reachable and writable, then retry.")
    error = StorageError(f"Cannot {operation} {key!r} at {_location(store)}: {reason(exc)}. {hint}")
    error.errno = code
    return error


def reason(exc: BaseException) -> str:
    """The first line of an exception's message (obstore's add a multi-line debug dump)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def maps_allowed() -> int:
    """How many maps :meth:`ByteStore.map` lets live at once (see :data:`MAP_SHARE_OF_DESCRIPTORS`)."""
    if resource is None:  # pragma: no cover - Windows: a map holds a handle; its limit is high
        return 1 << 12
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 16 if soft == resource.RLIM_INFINITY else soft // MAP_SHARE_OF_DESCRIPTORS


def maps_alive() -> int:
    """How many maps made by :meth:`ByteStore.map` are alive now."""
    return _maps_alive


def _reserve_map() -> bool:
    """Count one more live map, unless that would pass :func:`maps_allowed` (then False: read)."""
    global _maps_alive
    with _maps_lock:
        if _maps_alive >= maps_allowed():
            return False
        _maps_alive += 1
        return True


def _release_map() -> None:
    global _maps_alive
    with _maps_lock:
        _maps_alive -= 1


def _location(store: Store) -> str:
    """The dataset's location: a local root directory, else the store's own description."""
    repository = getattr(store, "repository", None)
    inner = getattr(repository, "store", store)
    root = getattr(inner, "root", None)
    return repr(str(root)) if root is not None else repr(inner)


class ByteStore:
    """Synchronous get/set/delete/list of whole objects or byte ranges on a zarr Store; reads of
    the keys ``cache`` holds go through it (see :mod:`.cache`)."""

    def __init__(self, store: Store, cache: CacheChain | None = None) -> None:
        self.store = store
        self.cache = cache
        self._read_bytes = getattr(store, "read_bytes", None)
        """The store's bytes-level synchronous read (``VersionedStore``, ``RemoteStore``), which
        makes no Buffer around what it reads: each Buffer costs NumPy calls, ~0.07 ms of a
        remote read whose caches went cold during its round trip."""
        self._sync_get = getattr(store, "get_sync", None)
        self._early: dict[str, tuple[int, Future[None]]] = {}
        """Local path -> (process id, its early fsync, see :meth:`flush_soon`), until
        :meth:`flush_to_disk` of it collects the outcome."""

    def describe(self, key: str) -> str:
        """Where ``key`` is, for messages: the store's own ``describe(key)`` when it has one, else
        its file path on a local store, else the key and the store's location."""
        describe = getattr(self.store, "describe", None)  # a store over other objects (a version) says where
        if describe is not None:
            return describe(key)
        root = getattr(self.store, "root", None)
        if isinstance(self.store, LocalStore) and root is not None:
            return os.path.join(str(root), key)
        return f"{key} in {_location(self.store)}"

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        """Bytes of ``key`` (``[start, end)`` when given), or None when the key is absent. A key
        the cache holds is read whole once and then served from the cache (ranges of an object
        too large for every cache: ranged reads of the store, ``CacheChain.read``)."""
        byte_range = None if start is None else OffsetByteRequest(start) if end is None else RangeByteRequest(start, end)
        if self.cache is not None and self.cache.holds(key):
            return self.cache.read(key, lambda: self._get(key, None), start, end,
                                   fetch_range=lambda: self._get(key, byte_range))
        return self._get(key, byte_range)

    def get_buffer(self, key: str) -> mmap.mmap | memoryview | None:
        """``key``'s bytes for a reader that keeps them, copied as little as can be (each page of
        fresh memory costs a page fault, ~2 us here, where a memory map shares the page cache's
        pages, faulted in 16 at a time): a store over other objects (a version) answers itself
        (``get_buffer_sync``: a map, or a patched value's one copy); on local disk, :meth:`map`.
        None where :meth:`get` is the way: another store, a small file, an absent key."""
        native = getattr(self.store, "get_buffer_sync", None)
        if native is not None:
            return native(key)
        return self.map(key)

    def map(self, key: str) -> mmap.mmap | None:
        """A read-only memory map of the file of ``key`` on local disk; None for a store that is
        not local disk, a file under :data:`MAP_MIN_BYTES`, an absent key, a file the system
        will not map, or while :func:`maps_allowed` maps are alive (each holds a descriptor).
        The caller guarantees that the file is never rewritten in place while mapped (published
        objects are immutable; one truncated under a map would fault the process)."""
        if not isinstance(self.store, LocalStore):
            return None
        with self.failures("read", key):
            try:
                descriptor = os.open(os.path.join(str(self.store.root), key), os.O_RDONLY)
            except FileNotFoundError:
                return None
            try:
                if os.fstat(descriptor).st_size < MAP_MIN_BYTES or not _reserve_map():
                    return None
                try:
                    mapped = mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
                except OSError:  # no map to be had (the process's mappings are used up): read it
                    _release_map()
                    return None
                weakref.finalize(mapped, _release_map)
                return mapped
            finally:
                os.close(descriptor)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Whole objects of ``keys`` (None for absent ones), as :meth:`get` gives them; read
        together where the store can (a version on an object store: concurrently, about one round
        trip for all), else one after another. Keys the cache holds are read through it."""
        native = getattr(self.store, "get_many_sync", None)
        found: list[bytes | None] = [None] * len(keys)
        together = [i for i, key in enumerate(keys) if self.cache is None or not self.cache.holds(key)]
        if native is not None and len(together) > 1:
            with self.failures("read", f"{keys[together[0]]} and {len(together) - 1} more"):
                buffers = native([keys[i] for i in together])
            for i, buf in zip(together, buffers):
                found[i] = None if buf is None else as_bytes(buf)
        else:
            together = []
        chosen = set(together)
        for i, key in enumerate(keys):
            if i not in chosen:
                found[i] = self.get(key)
        return found

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]], cached: bool = True) -> list[bytes] | None:
        """Bytes ``[lo, hi)`` of ``key`` for each of ``ranges`` (shorter past the end), or None when
        the key is absent: in one call where the store can (a store with ``get_ranges_sync``, such
        as a version or an object store, answers itself; a local file is opened once and read with
        one ``pread`` per range), else range by range. A key the cache holds (unless ``cached`` is
        False: an object its writer may still rewrite) is read through ``CacheChain.read_ranges``:
        from a cache, else the ranges from the store while the whole object fills the caches."""
        if cached and self.cache is not None and self.cache.holds(key):
            return self.cache.read_ranges(key, ranges, lambda: self._get(key, None),
                                          lambda: self._store_ranges(key, ranges))
        return self._store_ranges(key, ranges)

    def cached_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """What :meth:`get_ranges` gives, when a cache of the chain has ``key``'s object (a store
        over other objects, such as a version, answers itself: ``cached_ranges_sync``); None
        otherwise, without reading the store: a reader tries this in its own thread before it hands
        the read to an I/O thread (a hit costs a few ``pread`` calls, less than the hand-off)."""
        native = getattr(self.store, "cached_ranges_sync", None)
        if native is not None:
            return native(key, ranges)
        if self.cache is not None and self.cache.holds(key):
            return self.cache.cached_ranges(key, ranges)
        return None

    def _store_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        native = getattr(self.store, "get_ranges_sync", None)
        if native is not None:
            return native(key, ranges)
        if isinstance(self.store, LocalStore):
            with self.failures("read", key):
                return _pread_ranges(os.path.join(str(self.store.root), key), ranges)
        out = []
        for lo, hi in ranges:
            data = self._get(key, RangeByteRequest(lo, hi))
            if data is None:
                return None
            out.append(data)
        return out

    def patched_bytes(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``[start, stop)`` of ``key`` when the store can give them from a small verified
        write over the object without reading it (a version's patches, ``VersionedStore.
        patched_bytes``); None otherwise, and on stores that keep no such writes."""
        lookup = getattr(self.store, "patched_bytes", None)
        if lookup is None:
            return None
        with self.failures("read", key):
            return lookup(key, start, stop)

    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        try:
            if self._read_bytes is not None:
                return self._read_bytes(key, byte_range)  # type: ignore[no-any-return]
            if self._sync_get is not None:
                buf = self._sync_get(key, prototype=_PROTOTYPE, byte_range=byte_range)
            else:
                buf = sync(self.store.get(key, _PROTOTYPE, byte_range))
        except DeepLakeNBError:
            raise
        except _failures() as exc:
            raise storage_error(exc, "read", key, self.store) from exc
        return None if buf is None else as_bytes(buf)

    def set(self, key: str, data: bytes, *, complete: bool = False) -> None:
        """Write ``data`` as object ``key``. ``complete``: the object will not be written again
        before it is flushed (a full chunk of an append), so a large one starts to be written
        back to disk now (:meth:`flush_soon`)."""
        buf = _PROTOTYPE.buffer.from_bytes(data)
        setter = getattr(self.store, "set_sync", None)
        try:
            if setter is not None:
                setter(key, buf)
            else:
                sync(self.store.set(key, buf))
        except DeepLakeNBError:
            raise
        except _failures() as exc:
            raise storage_error(exc, "write", key, self.store) from exc
        if complete and len(data) >= EARLY_FLUSH_BYTES:
            self.flush_soon(key)

    def set_parts(self, key: str, parts: Sequence[bytes | memoryview], *, complete: bool = False) -> None:
        """Write the concatenation of ``parts`` as object ``key`` (``complete`` as in :meth:`set`).
        A store with ``set_parts_sync`` (a version, for a new object on local disk) writes the
        parts as they are, one ``writev``, without joining them in memory first (a fresh
        chunk-sized buffer: a page fault per 4 KiB, then a copy); on others they are joined."""
        native = getattr(self.store, "set_parts_sync", None)
        if native is None:
            self.set(key, b"".join(parts), complete=complete)
            return
        with self.failures("write", key):
            native(key, parts)
        if complete and sum(map(len, parts)) >= EARLY_FLUSH_BYTES:
            self.flush_soon(key)

    def flush_soon(self, key: str) -> None:
        """Start making object ``key``, written and not to be written again before it is
        flushed, durable in the background: on local disk its file is fsynced on the fsync
        threads now, and :meth:`flush_to_disk` of it waits for that fsync (raising its error: a
        second fsync may not report a write-back failure the first one saw) before its own,
        which then finds the bytes on disk. A store with its own ``flush_soon`` (a version: its
        object behind the key) decides; a no-op elsewhere. Only a head start: durability is
        still :meth:`flush_to_disk`'s."""
        native = getattr(self.store, "flush_soon", None)
        if native is not None:
            native(key)
            return
        if not isinstance(self.store, LocalStore):
            return
        path = os.path.join(self._local_root(), key)
        early = self._early
        if len(early) >= 1024:  # paths never flushed (deleted objects): forget them once their fsync ended
            for stale, (_, fsync) in list(early.items()):  # (a snapshot: flushes on other threads pop entries)
                if fsync.done() and (fsync.exception() is None or isinstance(fsync.exception(), FileNotFoundError)):
                    early.pop(stale, None)  # a failure is kept: a flush of that path raises it
        early[path] = (os.getpid(), _fsync_pool().submit(_fsync, path))

    def set_ranges(self, key: str, ranges: list[tuple[int, bytes]]) -> bool:
        """Write each ``(offset, bytes)`` of ``ranges`` over the existing object ``key`` (its size
        unchanged); False, writing nothing, when ``key`` does not exist. A store with
        ``set_ranges_sync`` (a version: it writes a small patch instead of the object) does it
        itself; on others this reads, splices and rewrites the object."""
        native = getattr(self.store, "set_ranges_sync", None)
        if native is not None:
            try:
                with self.failures("write", key):
                    native(key, ranges)
            except KeyError:
                return False
            return True
        data = self.get(key)
        if data is None:
            return False
        spliced = bytearray(data)
        for offset, chunk in ranges:
            spliced[offset: offset + len(chunk)] = chunk
        self.set(key, bytes(spliced))
        return True

    @contextmanager
    def failures(self, operation: str, key: str) -> Iterator[None]:
        """Inside the block, a failed store call raises StorageError naming ``operation`` and ``key``."""
        try:
            yield
        except DeepLakeNBError:
            raise
        except _failures() as exc:
            raise storage_error(exc, operation, key, self.store) from exc

    def size(self, key: str) -> int:
        """The size of object ``key`` in bytes (a stat on a local store)."""
        with self.failures("look up", key):
            if isinstance(self.store, LocalStore):
                return os.path.getsize(os.path.join(str(self.store.root), key))
            return sync(self.store.getsize(key))

    def exists(self, key: str) -> bool:
        with self.failures("look up", key):
            if isinstance(self.store, LocalStore):  # a stat, without a trip through zarr's event loop
                return os.path.isfile(os.path.join(str(self.store.root), key))
            return sync(self.store.exists(key))

    def delete(self, key: str) -> None:
        deleter = getattr(self.store, "delete_sync", None)
        with self.failures("delete", key):
            if deleter is not None:
                deleter(key)
            else:
                sync(self.store.delete(key))

    def delete_dir(self, prefix: str) -> None:
        """Delete every key under ``prefix/`` (nothing when there is none): synchronously on a
        store with ``delete_dir_sync`` (a version, whose keys are in memory), else through zarr's
        event loop."""
        native = getattr(self.store, "delete_dir_sync", None)
        with self.failures("delete", prefix + "/"):
            if native is not None:
                native(prefix)
            else:
                sync(self.store.delete_dir(prefix))

    def flush_to_disk(self, keys: Iterable[str], *, contents_only: Iterable[str] = ()) -> None:
        """Make the already written ``keys`` survive a power cut: on a local-disk store, fsync
        each key's file and its folder, and the folders above it up to the store's root the first
        time this process flushes under them (so a new folder's own entry is durable too); zarr's
        LocalStore writes without fsync. A key whose fsync :meth:`flush_soon` started is fsynced
        again once that one has ended (cheap then; its failure is raised). The files are fsynced
        together on a few threads (fsyncs in flight together share the file system's journal
        commits), all of them before any folder, then the folders likewise, a depth at a time
        (deepest first); every fsync has returned when this returns. ``contents_only``: files fsynced in the same round whose
        folders are not (a temporary file that is linked under its name next: see
        :meth:`flush_folders`). A no-op on other stores (an object store's write is durable when
        it returns; a memory store is volatile by design)."""
        if not isinstance(self.store, LocalStore):
            return
        keys = list(keys)
        root = self._local_root()
        paths = {key: os.path.join(root, key) for key in [*keys, *contents_only]}

        def flush_file(key: str) -> None:
            path = paths[key]
            early = self._early.pop(path, None)
            with self.failures("flush", key):
                if early is not None and early[0] == os.getpid():  # (not a parent's: it never ends in a child)
                    early[1].result()
                _fsync(path)

        _together(flush_file, list(paths))
        self.flush_folders(keys)

    def flush_folders(self, keys: Iterable[str]) -> None:
        """The folder round of :meth:`flush_to_disk` alone: fsync the folders holding ``keys``
        (whose contents are durable already), and the folders above them not yet made durable
        by this process, deepest first. A no-op on other stores."""
        if not isinstance(self.store, LocalStore):
            return
        root = self._local_root()
        folders: set[str] = set()
        for key in keys:
            folder = os.path.dirname(os.path.join(root, key))
            folders.add(folder)
            while folder not in _DURABLE_FOLDERS and len(folder) > len(root):
                folder = os.path.dirname(folder)
                folders.add(folder)

        def flush_folder(folder: str) -> None:
            with self.failures("flush", folder):
                _fsync(folder)

        by_depth: dict[int, list[str]] = {}
        for folder in folders:
            by_depth.setdefault(folder.count(os.sep), []).append(folder)
        for depth in sorted(by_depth, reverse=True):  # deepest first: a child before its parent
            _together(flush_folder, by_depth[depth])
        _DURABLE_FOLDERS.update(folders)

    def _local_root(self) -> str:
        """The absolute folder of a local-disk store (keys join it; an absolute path is kept)."""
        store = self.store
        assert isinstance(store, LocalStore)
        return os.path.abspath(str(store.root))

    def list_prefix(self, prefix: str) -> list[str]:
        async def collect() -> list[str]:
            return [key async for key in self.store.list_prefix(prefix)]

        with self.failures("list", prefix):
            return sync(collect())


_DURABLE_FOLDERS: set[str] = set()
"""Folders whose own entry (in their parent) this process has made durable."""

_FSYNC_THREADS = 8
_fsync_pool_of: tuple[int, ThreadPoolExecutor] | None = None


def _fsync_pool() -> ThreadPoolExecutor:
    """The threads ``flush_to_disk`` fsyncs files on, made once per process (a forked child
    makes its own: the parent's threads do not exist there)."""
    global _fsync_pool_of
    if _fsync_pool_of is None or _fsync_pool_of[0] != os.getpid():
        _fsync_pool_of = (os.getpid(), ThreadPoolExecutor(_FSYNC_THREADS, thread_name_prefix="deeplake_nb-fsync"))
    return _fsync_pool_of[1]


def _together(flush: Callable[[str], None], items: list[str]) -> None:
    """``flush`` each of ``items``, on the fsync threads when there are several; every call has
    returned (the first failure raised) when this returns."""
    if len(items) > 1:
        for _ in _fsync_pool().map(flush, items):
            pass
    elif items:
        flush(items[0])


def _fsync(path: str) -> None:
    """fsync a file or a directory by path."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _pread_ranges(path: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
    """``ByteStore.get_ranges`` of a local file: one open, one ``pread`` per range."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return [os.pread(descriptor, hi - lo, lo) if hi > lo else b"" for lo, hi in ranges]
    finally:
        os.close(descriptor)


def as_bytes(buf: Buffer) -> bytes:
    """The bytes of ``buf``: the ``bytes`` object it wraps when it wraps one whole (what stores
    that read a file or an object give), a copy otherwise (a chunk of 1 MiB copied costs about
    as much as reading it from the page cache)."""
    array = buf.as_numpy_array()
    base = array.base
    if isinstance(base, bytes) and len(base) == array.nbytes and array.ndim == 1 and array.itemsize == 1:
        return base
    return buf.to_bytes()
