"""Caches of immutable objects in front of a store: Deep Lake v3's cache chain.

``memory_cache_size`` and ``local_cache_size`` (MB, on ``dl.load`` / ``dl.empty`` /
``dl.dataset``) put a chain in front of a dataset's store: an in-process LRU of objects
(:class:`MemoryCache`), then a folder on local disk (:class:`DiskCache`), then the store. A read
of a key the chain holds is answered by the first cache that has it; a miss of a whole object
reads it from the store once and keeps it in every cache, so later epochs and re-opens read
locally. A ranged read of an object no cache has yet is answered by its own ranged store read at
once, and the whole object is fetched for the caches behind it, on a few background threads
(:data:`FILL_THREADS`; one fill per object at a time): the first batch of a loader waits for the
samples it needs, not for whole 4 MiB chunk objects. Once the object is cached, its ranged reads
are served from it (from the disk cache by reading only that range of its file). Concurrent misses
of one whole object in a process make one store read, which the others wait for; a fill is such a
read too. Background fills are daemon threads: a process exiting does not wait for them (a fill
cut short leaves a temporary file, removed by a later scan once it is :data:`STALE_TEMP_SECONDS`
old), and a forked child starts with none (the locks and fetches in flight are the parent's).

A prefetch (``prefetch``: a loader asks for one when it is made) fills the caches with the whole
objects it is given, in order, :data:`PREFETCH_THREADS` at a time on threads of its own, until
it fetched :data:`PREFETCH_FRACTION` of the largest cache: a first epoch's chunk objects arrive
while the loader starts (torch's import, the workers' fork) and its reads find them on disk.

An object larger than :data:`LARGE_FRACTION` of a cache is not kept in it; once an object is
known to fit in no cache of the chain (it was read whole once), it is not fetched whole again
for its ranged reads (the chain remembers the last :data:`LARGE_KEYS` such keys).

Processes sharing a disk cache fill each object once: a background fill first takes the object's
lock file in the folder (an exclusive, non-blocking ``flock``, released when the fill ends or its
process dies) and is dropped when another process holds it; that process is fetching the object
into the shared folder, and the ranged reads meanwhile go to the store. The lock only spares
requests: a fill that takes it looks in the caches again first, and a missed lock costs at most
one more fetch, never a wrong byte.

Only keys whose bytes never change may be cached: the caller says which (``holds``; the version
layer's objects, manifest deltas, metadata and commit documents, never refs). So a cached copy
is never stale and needs no invalidation; gc deleting an object only leaves a copy nobody asks
for, which the size bound evicts.

The disk cache is shared by the processes that open the same dataset (loader workers, later
sessions): each file is written to a temporary name and renamed into place, so readers see a
whole file or none; each file starts with its length and CRC-32C, so a damaged or truncated file
is detected, deleted and fetched again; eviction removes the least recently used files (a hit
refreshes the file's time, when it is older than :data:`REFRESH_SECONDS`) until the folder is back
under its size. Every process rescans the folder after adding :data:`RESCAN_FRACTION` of the
bound, so several processes together exceed it by at most that fraction each. A file's CRC is
checked the first time a process reads it (over the bytes a whole read reads; for a ranged read,
over a memory map of the file, so a loader worker's first sample of each chunk file costs no copy
of the file); later ranged reads of the same file (same inode and size: files are only ever
replaced whole, by rename) read just their range, several ranges of one file with one open
(:meth:`DiskCache.get_ranges`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import mmap
import os
import secrets
import struct
import queue
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import google_crc32c
import numpy as np

from ..errors import DatasetOptionError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: fills are not shared between processes
    fcntl = None  # type: ignore[assignment]

MB = 1 << 20
CACHE_ENV = "DEEPLAKE_NB_CACHE"
"""The folder under which each dataset's disk cache lives (default ``~/.cache/deeplake_nb``)."""
RESCAN_FRACTION = 1 / 16
LOW_WATER = 0.9
"""Eviction frees space down to this fraction of the bound (so it does not run on every write)."""
LARGE_FRACTION = 1 / 8
"""A cache keeps no object larger than this fraction of its bound (one object must not evict the rest)."""
MAP_FROM_BYTES = 256 << 10
"""The first ranged read of a cache file at least this large checks its CRC over a memory map of
it (smaller files are read: a map costs a system call and a kernel mapping)."""
REFRESH_SECONDS = 10.0
"""A hit refreshes a file's time (the eviction order) when it is older than this: files are read
many times a second in an epoch, and each refresh is a metadata write."""
FILL_THREADS = 2
"""Whole objects fetched at once per process to fill the caches behind ranged reads: few, so the
fills take little of the bandwidth and CPU the ranged reads a loader waits for need."""
PREFETCH_THREADS = 4
"""Whole objects a prefetch (``CacheChain.prefetch``) fetches at once. A remote first epoch
(``bench_remote.py``) ran 3.66-3.71 s with 4, 3.95-4.06 s with 2, 3.67 s with 8."""
PREFETCH_FRACTION = 0.5
"""A prefetch (``CacheChain.prefetch``) stops once it fetched this fraction of the chain's largest
cache: it never evicts most of what it fetched itself."""
STALE_TEMP_SECONDS = 600.0
"""A temporary file this old is a write that never finished (its process exited); a scan removes it."""
LARGE_KEYS = 4096
"""Keys of objects that fit in no cache a chain remembers (the least recently seen are forgotten
first: a forgotten one is at worst fetched whole once more, and again not kept)."""
_HEADER = struct.Struct("<4sQI")
_MAGIC = b"DLC1"
_TEMP = ".tmp"
_LOCK = ".lock"


@dataclass(frozen=True)
class CacheSettings:
    """Sizes (bytes) of a dataset's caches, and its disk cache's folder; picklable, so a
    dataset sent to loader workers keeps its cache. ``scratch``: the folder is made and removed
    by its owner (a loader's scratch cache), never made here: once it is removed, fills leave
    their objects uncached instead of making it again."""

    memory_bytes: int
    local_bytes: int
    folder: str
    scratch: bool = False
    owner: Any = field(default=None, compare=False, repr=False)
    """What keeps a scratch folder (its owner removes it once nothing holds this): every chain
    made with these settings holds it, so the folder lasts while anything reads through it."""


def settings_for(url: str, memory_cache_size: float | None, local_cache_size: float | None) -> CacheSettings | None:
    """The cache settings of the dataset at ``url`` for v3's ``memory_cache_size`` and
    ``local_cache_size`` (MB); None when both are 0 or absent. The disk cache's folder is
    ``$DEEPLAKE_NB_CACHE/<hash of url>`` (one folder per dataset location)."""
    memory, local = (_bytes(value, name) for value, name in ((memory_cache_size, "memory_cache_size"),
                                                              (local_cache_size, "local_cache_size")))
    if not memory and not local:
        return None
    return CacheSettings(memory, local, cache_folder(url))


def cache_root() -> str:
    """The folder under which disk caches live: ``$DEEPLAKE_NB_CACHE``, else ``~/.cache/deeplake_nb``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "deeplake_nb")


def cache_folder(url: str) -> str:
    """The disk cache folder of the dataset at ``url``: ``<cache_root()>/<hash of url>``."""
    return os.path.join(cache_root(), hashlib.sha256(url.encode()).hexdigest()[:24])


def _bytes(value: float | None, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise DatasetOptionError(f"{name} is a size in MB (a finite number >= 0), not {value!r}.")
    return int(value * MB)


class MemoryCache:
    """An in-process LRU of objects, bounded by their total size; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it at the fork

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def fits(self, size: int) -> bool:
        """Whether an object of ``size`` bytes is kept (at most ``LARGE_FRACTION`` of the bound)."""
        return size <= self.max_bytes * LARGE_FRACTION

    def put(self, key: str, data: bytes) -> None:
        if not self.fits(len(data)):
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.used += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while self.used > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self.used -= len(evicted)


class DiskCache:
    """Objects as files in ``folder`` (see the module docstring), at most ``max_bytes`` in all;
    ``scratch``: the folder is its owner's to make (``CacheSettings.scratch``)."""

    def __init__(self, folder: str, max_bytes: int, scratch: bool = False) -> None:
        self.folder, self.max_bytes, self.scratch = folder, max_bytes, scratch
        self._lock = threading.Lock()
        self._used: int | None = None  # the folder's size at the last scan plus what this process added since
        self._added = 0
        self._checked: dict[str, tuple[int, int]] = {}  # path -> (inode, size) of a file whose CRC matched here

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, hashlib.sha256(key.encode()).hexdigest()[:40])

    def fits(self, size: int) -> bool:
        """Whether an object of ``size`` bytes is kept (at most ``LARGE_FRACTION`` of the bound)."""
        return _HEADER.size + size <= self.max_bytes * LARGE_FRACTION

    def has(self, key: str) -> bool:
        """Whether a file for ``key`` is in the folder (not read, so not checked)."""
        return os.path.exists(self._path(key))

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        """The cached bytes of ``key`` (``[start, end)`` of them when ``start`` is given); None
        when absent, or damaged (then the file is deleted). The first read of a file in this
        process checks its CRC (a whole read over the bytes it reads; a ranged read over a memory
        map of the file, with no copy); later ranged reads of a checked file read only their
        range."""
        if start is None:
            whole = self._read(key, None)
            return whole if isinstance(whole, bytes) else None
        found = self._read(key, [(start, end)])
        return found[0] if isinstance(found, list) else None

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """``[lo, hi)`` of ``key``'s cached bytes for each of ``ranges`` (as :meth:`get` gives
        one), the file opened, looked up and checked once for them all; None as :meth:`get`."""
        found = self._read(key, ranges)
        return found if isinstance(found, list) else None

    def _read(self, key: str, ranges: Sequence[tuple[int, int | None]] | None) -> bytes | list[bytes] | None:
        """``key``'s whole data (``ranges`` None) or its ``ranges``; see :meth:`get`."""
        path = self._path(key)
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            stat = os.fstat(descriptor)
            identity = (stat.st_ino, stat.st_size)
            checked = self._checked.get(path) == identity
            size = stat.st_size - _HEADER.size
            found: bytes | list[bytes] | None = None
            if ranges is None:
                found = _read_data(descriptor, size, checked)
            elif checked or _intact(descriptor, size):
                parts = [_pread_exactly(descriptor, hi - lo, _HEADER.size + lo)
                         for lo, hi in (_bounds(start, end, size) for start, end in ranges)]
                whole = [part for part in parts if part is not None]
                found = whole if len(whole) == len(parts) else None  # the file shrank since its stat: damaged
            if found is None:
                self._checked.pop(path, None)
                _remove(path)
                return None
            self._checked[path] = identity
        except OSError:
            return None
        finally:
            os.close(descriptor)
        if time.time() - stat.st_mtime > REFRESH_SECONDS:
            try:
                os.utime(path)  # least recently used goes first
            except OSError:
                pass
        return found

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Whether this caller may fetch ``key`` into the folder now: True while it holds the
        key's lock file (an exclusive ``flock``: released when the block ends, or when the process
        dies), False when another process, or another open of the lock in this one, holds it. So
        the processes sharing the folder fetch an object once. True when the lock cannot be taken
        for another reason (no ``fcntl``, an unwritable folder): then at worst one more fetch."""
        path = self._path(key) + _LOCK
        try:
            if fcntl is None:
                raise OSError("no fcntl")
            self._make_folder()
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield True
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = True
            except OSError:  # a file system without flock: fetch (at worst once more)
                held = False
            else:
                held = False
            if held:
                yield False
                return
            try:
                yield True
            finally:
                _remove(path)  # while held: a later claim makes a new lock file and finds the object cached
        finally:
            os.close(descriptor)

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` as ``key``'s bytes (nothing when it is too large: ``fits``). A failure
        to write (a full disk) only leaves the object uncached."""
        size = _HEADER.size + len(data)
        if not self.fits(len(data)):
            return
        path = self._path(key)
        temp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}{_TEMP}"
        try:
            self._make_folder()
            with open(temp, "wb") as f:
                f.write(_HEADER.pack(_MAGIC, len(data), google_crc32c.value(data)))
                f.write(data)
            os.replace(temp, path)
        except OSError:
            _remove(temp)
            return
        with self._lock:
            self._added += size
            if self._used is None or self._added > self.max_bytes * RESCAN_FRACTION:
                self._used, self._added = self._scan(), 0
            if self._used + self._added > self.max_bytes:
                self._evict()

    def _make_folder(self) -> None:
        """Make the folder if it is missing (OSError for a scratch folder: its owner removed it)."""
        if not self.scratch:
            os.makedirs(self.folder, exist_ok=True)
        elif not os.path.isdir(self.folder):
            raise FileNotFoundError(self.folder)

    def _files(self) -> list[tuple[float, int, str]]:
        """(last use, size, path) of every cache file (temporary files and fill locks left out;
        stale ones, of processes that ended before they removed them, removed)."""
        out: list[tuple[float, int, str]] = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return out
        stale = time.time() - STALE_TEMP_SECONDS
        for entry in entries:
            try:
                stat = entry.stat()
            except OSError:
                continue
            if entry.name.endswith((_TEMP, _LOCK)):
                if stat.st_mtime < stale:  # a write (or fill) whose process ended before its rename
                    _remove(entry.path)
                continue
            out.append((stat.st_mtime, stat.st_size, entry.path))
        return out

    def _scan(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _evict(self) -> None:
        """Delete the least recently used files until the folder holds at most LOW_WATER of the bound."""
        files = sorted(self._files())
        used = sum(size for _, size, _ in files)
        target = self.max_bytes * LOW_WATER
        for _, size, path in files:
            if used <= target:
                break
            _remove(path)
            self._checked.pop(path, None)  # a file this process deleted needs no record of its check
            used -= size
        self._used, self._added = used, 0


class CacheChain:
    """Memory, then disk, then the store, for the keys ``holds`` accepts (see the module docstring)."""

    def __init__(self, settings: CacheSettings, holds: Callable[[str], bool]) -> None:
        self.settings = settings
        self.holds = holds
        self.memory = MemoryCache(settings.memory_bytes) if settings.memory_bytes else None
        self.disk = DiskCache(settings.folder, settings.local_bytes, settings.scratch) if settings.local_bytes else None
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._filling: set[str] = set()  # keys whose whole object a background fill is fetching or will fetch
        self._large: OrderedDict[str, None] = OrderedDict()  # keys of objects that fit in no cache (LARGE_KEYS)
        self._coming: frozenset[str] = frozenset()
        """Keys a running prefetch will fill into the disk cache (in this process, or in the parent
        of a forked one, into the folder they share): no background fill is queued for them."""
        _CHAINS.add(self)

    def after_fork(self) -> None:
        """In a forked child: the parent's fetches and fills do not run here, and its locks may
        have been held by its other threads at the fork (its prefetch goes on filling the shared
        disk cache: ``_coming`` stays)."""
        self._lock = threading.Lock()
        self._flights, self._filling = {}, set()
        for cache in (self.memory, self.disk):
            if cache is not None:
                cache.after_fork()

    def read(self, key: str, fetch: Callable[[], bytes | None], start: int | None = None, end: int | None = None,
             fetch_range: Callable[[], bytes | None] | None = None) -> bytes | None:
        """``key``'s bytes (``[start, end)`` of them when ``start`` is given) from the first cache
        that has them, else from the store: the whole object from ``fetch()`` (kept in every cache
        it fits; None, when the store has no such key, is not kept), or, for a range when
        ``fetch_range`` is given, ``fetch_range()`` (just the range, from the store) while a
        background fill fetches the whole object for the caches (none for an object known to fit
        in no cache)."""
        data = self.memory.get(key) if self.memory is not None else None
        if data is not None:
            return data if start is None else data[slice(*_bounds(start, end, len(data)))]
        if self.disk is not None:
            data = self.disk.get(key, start, end)  # a range: only that part of the file
            if data is not None:
                if start is None and self.memory is not None:
                    self.memory.put(key, data)
                return data
        if start is not None and fetch_range is not None:
            if not self._is_large(key):
                self._fill_behind(key, fetch)
            return fetch_range()
        data = self._fetch_once(key, fetch)
        return data if data is None or start is None else data[slice(*_bounds(start, end, len(data)))]

    def _fetch_once(self, key: str, fetch: Callable[[], bytes | None]) -> bytes | None:
        """``fetch()``'s bytes, kept in the caches; concurrent callers for one key share one fetch."""
        with self._lock:
            found = self._flights.get(key)
            leader = found is None
            flight = self._flights[key] = _Flight() if found is None else found
        if not leader:
            return flight.wait()
        try:
            data = self._held(key)  # a fetch that ended after this caller's own cache look-up kept it
            if data is None:
                data = fetch()
                if data is not None:
                    self.put(key, data)
            flight.data = data
            return data
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def read_ranges(self, key: str, ranges: Sequence[tuple[int, int]], fetch: Callable[[], bytes | None],
                    fetch_ranges: Callable[[], list[bytes] | None]) -> list[bytes] | None:
        """``[lo, hi)`` of ``key``'s bytes for each of ``ranges``, as :meth:`read` gives one: from
        the first cache that has the object, else ``fetch_ranges()`` (the ranges from the store,
        requested together) while a background fill fetches the whole object with ``fetch()``."""
        out = self.cached_ranges(key, ranges)
        if out is not None:
            return out
        if not self._is_large(key):
            self._fill_behind(key, fetch)
        return fetch_ranges()

    def cached_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """``[lo, hi)`` of ``key``'s bytes for each of ``ranges`` from the first cache that has the
        object; None when none has it (nothing is fetched or queued: see :meth:`read_ranges`)."""
        data = self.memory.get(key) if self.memory is not None else None
        if data is not None:
            return [data[slice(*_bounds(lo, hi, len(data)))] for lo, hi in ranges]
        return self.disk.get_ranges(key, ranges) if self.disk is not None else None

    def _is_large(self, key: str) -> bool:
        """Whether ``key``'s object is known to fit in no cache (refreshed as recently seen)."""
        with self._lock:
            if key not in self._large:
                return False
            self._large.move_to_end(key)
            return True

    def _fill_behind(self, key: str, fetch: Callable[[], bytes | None]) -> None:
        """Queue a background fetch of ``key``'s whole object into the caches, unless one is queued
        or running, or a prefetch will fetch it (``_coming``)."""
        if key not in self._coming and self._start_fill(key):
            _fill_queue().put((self, key, fetch))

    def _start_fill(self, key: str) -> bool:
        """Note that a fill of ``key`` is queued or running (``_fill`` ends it); False when one is."""
        with self._lock:
            if key in self._filling:
                return False
            self._filling.add(key)
            return True

    def _fill(self, key: str, fetch: Callable[[], bytes | None]) -> int:
        """A background fill: the whole object, kept in the caches (shared with a whole read of it
        in flight), unless another process holds the object's lock in the disk cache (it fills
        the shared folder; see the module docstring); the size of the object it got, 0 when none.
        A failure is dropped: the ranged reads it was behind were answered by the store, and the
        next ranged miss of ``key`` queues another fill."""
        data = None
        try:
            if self.disk is None:
                data = self._fetch_once(key, fetch)
            else:
                with self.disk.claim(key) as mine:
                    if mine:
                        data = self._fetch_once(key, fetch)
        except Exception:  # noqa: BLE001 - a cache that stays cold is no error
            pass
        finally:
            with self._lock:
                self._filling.discard(key)
        return 0 if data is None else len(data)

    def prefetch(self, objects: Sequence[tuple[str, Callable[[], bytes | None]]],
                 expected_bytes: int | None = None) -> threading.Thread | None:
        """Fill the caches with the whole ``objects`` (``(key, fetch)``, in that order) that no
        cache of this process holds, :data:`PREFETCH_THREADS` at a time, on a daemon thread (returned;
        None when there is nothing to do), until the bytes it filled reach :data:`PREFETCH_FRACTION`
        of the chain's largest cache. Each object is filled as a background fill is (``_fill``:
        once per shared disk cache, failures dropped). A loader asks for this when it starts, so
        that an epoch's chunk objects arrive while it starts instead of behind its first reads.
        ``expected_bytes``: about what the objects hold; when twice that is within the budget, every
        object will be fetched, so while this runs no background fill of one is queued here or in
        forked children reading the same disk cache (``_coming``): each object comes once, straight
        into the shared folder, instead of also through a child's relay."""
        budget = max(self.settings.local_bytes, self.settings.memory_bytes) * PREFETCH_FRACTION
        wanted = [(key, fetch) for key, fetch in objects if self.holds(key) and not self._cached(key)]
        if not wanted or budget <= 0:
            return None
        if expected_bytes is not None and self.disk is not None and 2 * expected_bytes <= budget:
            self._coming = frozenset(key for key, _ in wanted)

        def fill(key: str, fetch: Callable[[], bytes | None]) -> int:
            return self._fill(key, fetch) if self._start_fill(key) else 0

        def run() -> None:
            fetched = 0
            try:
                with ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="deeplake_nb-cache-prefetch") as pool:
                    running: set[Future] = set()
                    for key, fetch in wanted:
                        if len(running) >= PREFETCH_THREADS:
                            done, running = wait(running, return_when=FIRST_COMPLETED)
                            fetched += sum(future.result() for future in done)
                        if fetched >= budget:
                            break
                        try:
                            running.add(pool.submit(fill, key, fetch))
                        except RuntimeError:  # this interpreter is exiting: no new work
                            break
            finally:
                self._coming = frozenset()  # what it did not fetch, reads fill behind them again

        thread = threading.Thread(target=run, name="deeplake_nb-cache-prefetch", daemon=True)
        thread.start()
        return thread

    def _cached(self, key: str) -> bool:
        """Whether a cache of this chain holds ``key`` (the disk cache: a file is there)."""
        if self.memory is not None and self.memory.get(key) is not None:
            return True
        return self.disk is not None and self.disk.has(key)

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until no background fill of this chain is queued or running (tests, benchmarks);
        False when ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._filling:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def _held(self, key: str) -> bytes | None:
        """``key``'s whole bytes from the memory or disk cache, else None."""
        data = self.memory.get(key) if self.memory is not None else None
        if data is None and self.disk is not None:
            data = self.disk.get(key, None, None)
        return data

    def get(self, key: str) -> bytes | None:
        """``key``'s bytes when a cache has them (no store request)."""
        return self.read(key, lambda: None)

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` (fetched by the caller) as ``key``'s bytes, in each cache it fits."""
        if not any(cache.fits(len(data)) for cache in (self.memory, self.disk) if cache is not None):
            with self._lock:
                self._large[key] = None
                self._large.move_to_end(key)
                while len(self._large) > LARGE_KEYS:
                    self._large.popitem(last=False)
            return
        if self.disk is not None:
            self.disk.put(key, data)
        if self.memory is not None:
            self.memory.put(key, data)


_CHAINS: weakref.WeakSet[CacheChain] = weakref.WeakSet()
"""Every chain of this process (reset in a forked child)."""
_fills: tuple[int, queue.SimpleQueue] | None = None


def _fill_queue() -> queue.SimpleQueue:
    """The queue of background fills ``(chain, key, fetch)``, and its :data:`FILL_THREADS` daemon
    threads, made once per process (a forked child makes its own)."""
    global _fills
    pid = os.getpid()
    if _fills is None or _fills[0] != pid:
        jobs: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(FILL_THREADS):
            threading.Thread(target=_fill_worker, args=(jobs,), daemon=True, name=f"deeplake_nb-cache-fill-{i}").start()
        _fills = (pid, jobs)
    return _fills[1]


def _fill_worker(jobs: queue.SimpleQueue) -> None:
    while True:
        chain, key, fetch = jobs.get()
        chain._fill(key, fetch)
        del chain, key, fetch  # hold no chain while waiting


def _after_fork_in_child() -> None:
    for chain in list(_CHAINS):
        chain.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Flight:
    """One store read of a key that other threads wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def wait(self) -> bytes | None:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.data


def _bounds(start: int, end: int | None, size: int) -> tuple[int, int]:
    """``[start, end)`` clamped to an object of ``size`` bytes (``end`` None: to its end)."""
    lo = min(max(start, 0), size)
    return lo, max(lo, min(size if end is None else end, size))


def _header_crc(descriptor: int, size: int) -> int | None:
    """The CRC-32C a cache file's header gives for its ``size`` bytes of data; None when the
    header is not ours or gives another length."""
    if size < 0:
        return None
    head = os.pread(descriptor, _HEADER.size, 0)
    if len(head) != _HEADER.size:
        return None
    magic, length, crc = _HEADER.unpack(head)
    return crc if magic == _MAGIC and length == size else None


def _pread_exactly(descriptor: int, count: int, offset: int) -> bytes | None:
    """``count`` bytes at ``offset``; None when the file ends first."""
    data = os.pread(descriptor, count, offset)
    while len(data) < count:  # short reads happen on some file systems
        more = os.pread(descriptor, count - len(data), offset + len(data))
        if not more:
            return None
        data += more
    return data


def _read_data(descriptor: int, size: int, checked: bool) -> bytes | None:
    """A cache file's ``size`` bytes of data, read once (no copy of the header along) and, unless
    ``checked`` already, checked against its header's CRC; None when damaged."""
    crc = _header_crc(descriptor, size)
    if crc is None:
        return None
    data = _pread_exactly(descriptor, size, _HEADER.size)
    if data is None or (not checked and google_crc32c.value(data) != crc):
        return None
    return data


def _intact(descriptor: int, size: int) -> bool:
    """Whether a cache file's ``size`` bytes of data match its header's CRC, read through a
    memory map (no copy into fresh memory: the first ranged read of each 4 MiB chunk file in a
    loader worker copied it twice); a small file is read. Cache files are replaced only whole,
    by rename, never truncated in place, so the map cannot lose its pages."""
    crc = _header_crc(descriptor, size)
    if crc is None:
        return False
    if size < MAP_FROM_BYTES:
        data = _pread_exactly(descriptor, size, _HEADER.size)
        return data is not None and google_crc32c.value(data) == crc
    with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as mapped:
        if len(mapped) != _HEADER.size + size:
            return False
        view = np.frombuffer(mapped, np.uint8, size, _HEADER.size)
        view.flags.writeable = False  # (google_crc32c takes read-only buffers)
        try:
            return google_crc32c.value(view) == crc
        finally:
            del view  # the map closes only when no view of it is left


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
