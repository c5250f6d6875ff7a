"""``BatchEngine``: planned batches -> fetched bytes -> decoded, transformed, collated batches.

The engine runs in one process (the main one with ``num_workers=0``, else each DataLoader worker):

1. batches are grouped in windows of ``fetch_batches`` (by default 1 on local disk, 4 on an object
   store; the first window of one batch, so that the first batch waits only for its own reads); a
   window's rows are fetched together by ``fetch`` (sorted by heap offset, coalesced, read on an
   I/O thread pool, or in this thread from the cache chain), and the next window is always in
   flight while the current one decodes (read-ahead);
2. each batch is cut into groups of samples; a CPU thread pool decodes (GIL-free decoders), runs
   the transforms and writes the results straight into the batch buffer (``collate``); up to
   ``decode_ahead`` batches are in the pool at once so the threads never wait for the driver (one
   with a single decode thread, as each of two workers on two cores has: the next batch is
   submitted before the finished one is handed on, so the thread does not wait, and a second
   batch in flight would only hold a batch buffer, ~38 MB at 64x3x224x224 float32). With
   ``lookahead=False`` the next batch is submitted only once the finished one was taken: for a
   DataLoader worker whose next task is already queued (``prefetch_factor`` >= 2), where a batch
   submitted before would hold one more shared-memory slot (~38 MB per worker) and gain only the
   moment the handing on takes;
3. batches come out in the order they went in, as ``(batch_id, batch, skipped_rows, slot)``; in a
   DataLoader worker they are written into reusable shared-memory slots (``slots``); a worker whose
   slots are all taken starts its next batch only after it handed on every batch it made, and may
   then wait for the user to let a slot go (``SlotRing.acquire``).

Errors carry the dataset index of the sample: ``TransformError`` for a transform that raised,
``CorruptSampleError`` for unreadable media (or, with ``ignore_errors``, the row is left out of
its batch and reported in ``skipped_rows``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping

import numpy as np

from ..errors import CorruptSampleError, TransformError
from ..storage.remote import is_remote
from .collate import BatchBuffer, plain_sample
from .config import LoaderConfig
from .decode import SampleDecoder
from .fetch import LOCAL_MAX_GAP, REMOTE_MAX_GAP, Fetcher, Result, fetcher_for
from .slots import Lease, SlotRing
from .source import DatasetSource


LOCAL_IO_THREADS = 4
REMOTE_IO_THREADS = 64
"""Reads in flight per process on an object store: a window's reads (``fetch.REMOTE_MAX_GAP``
keeps them about one per sample of a shuffled epoch) overlap their round trips. A cold shuffled
window of 256 rows is ~256 ranged reads (the disk cache fills behind them): 4 round trips at 64,
16 at 16 (5,000 JPEGs, 20 ms per request, load ~6: first epoch 227 -> 240 images/s, first batch
8.8 -> 7.0 s, medians of 3). The threads wait in obstore's blocking calls, without the GIL."""
LOCAL_FETCH_BATCHES = 1
REMOTE_FETCH_BATCHES = 4
"""Batches per read window (``fetch_batches=None``): on an object store a window's reads overlap
their round trips, so four batches' worth are asked for together; on local disk a window of one
batch reads as fast (a shuffled window's samples rarely share a read) and each worker holds ~20 MB
less of fetched bytes (5,000 JPEGs, 2 workers: peak PSS ~540 -> ~500 MB, the same images/s)."""


FILL_STEP = 8
"""Samples decoded, transformed and written into their batch at a time (``BatchEngine._fill``): a
step's decoded images and transformed arrays are freed once written, so a process's heap holds a
step's worth of them, not a whole group's (half a batch with one decode thread: 32 decoded
images and 32 transformed ones, ~26 MB at 3x224x224 float32, per worker)."""


def freed_memory_releaser() -> Callable[[], None]:
    """A function that gives the pages of freed C-heap blocks back to the system (glibc's
    ``malloc_trim``): a process's I/O and decode threads each get a malloc arena, which otherwise
    keeps the buffers of past batches (~40 MB per worker on an epoch of 5,000 JPEGs). It does
    nothing where the C library has no ``malloc_trim`` (macOS, musl), and keeps working while the
    interpreter shuts down (an iterator abandoned at exit closes after module globals are cleared)."""
    trim = _malloc_trim()

    def release() -> None:
        if trim is not None:
            trim(0)
    return release


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once per process (a lookup costs ~30x the call)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _apply(fn: Callable[[Any], Any] | None, value: Any, row: int, what: str) -> Any:
    """``fn(value)`` (``value`` when ``fn`` is None); a ``TransformError`` naming ``row`` if it raises."""
    if fn is None:
        return value
    try:
        return fn(value)
    except Exception as exc:
        raise TransformError(f"{what} raised on sample index {row}: {type(exc).__name__}: {exc}", row) from exc


def _done(fn: Callable[..., Any], *args: Any) -> Future:
    """``fn(*args)`` run now, as a finished Future (its exception raised when the result is asked for)."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - raised by future.result()
        future.set_exception(exc)
    return future


class _Skip(Exception):
    """A corrupt sample to leave out (``ignore_errors=True``)."""


@dataclass
class _Window:
    """Consecutive batches whose rows are fetched together."""

    batches: list[tuple[int, np.ndarray]]
    results: dict[str, Result]
    fetched: dict[str, list[Any]] | None = None
    next: int = 0
    starts: list[int] = field(default_factory=list)

    def take(self, rows_of: Callable[[np.ndarray], np.ndarray]) -> tuple[int, np.ndarray, dict[str, list[Any]]]:
        if self.fetched is None:
            self.fetched = {name: result() for name, result in self.results.items()}
        bid, positions = self.batches[self.next]
        lo = self.starts[self.next]
        hi = lo + len(positions)
        self.next += 1
        return bid, rows_of(positions), {name: enc[lo:hi] for name, enc in self.fetched.items()}

    @property
    def done(self) -> bool:
        return self.next >= len(self.batches)

    @property
    def next_id(self) -> int:
        """The id of the batch ``take`` gives next."""
        return self.batches[self.next][0]


class BatchEngine:
    """Produces batches for one process; picklable (per-process state is rebuilt lazily)."""

    def __init__(self, source: DatasetSource, config: LoaderConfig, output: str = "torch",
                 num_workers: int = 0) -> None:
        self.source, self.config, self.output = source, config, output
        self.num_threads = config.num_threads or max(1, available_cpus() // max(1, num_workers))
        self.decode_ahead = min(config.decode_ahead, self.num_threads)
        remote = is_remote(source.url)
        self.io_threads = REMOTE_IO_THREADS if remote else LOCAL_IO_THREADS
        self.max_gap = config.max_gap if config.max_gap is not None else (REMOTE_MAX_GAP if remote else LOCAL_MAX_GAP)
        self.fetch_batches = config.fetch_batches if config.fetch_batches is not None else \
            (REMOTE_FETCH_BATCHES if remote else LOCAL_FETCH_BATCHES)
        self._pid: int | None = None
        self._fetchers: dict[str, Fetcher] = {}
        self._decoders: dict[str, SampleDecoder] = {}
        self._singles: dict[str, bool] = {}
        self._positionwise: frozenset[str] = frozenset()
        self._groups = 1
        self._pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_pid=None, _fetchers={}, _decoders={}, _singles={}, _positionwise=frozenset(), _groups=1,
                     _pools=None)
        return state

    # -- per-process state ------------------------------------------------------------------------
    def _setup(self) -> None:
        if self._pid == os.getpid():
            return
        names = self.source.names
        # one get_ranges call per chunk object and window: a local file opened once; on an object
        # store, one obstore call with the ranges in flight together (with a cache chain: from the
        # cache file, or, cold, from the store while the chunk fills the cache behind them)
        self._fetchers = {n: fetcher_for(self.source.store(n), self.max_gap, self.config.max_range, grouped=True)
                          for n in names}
        self._decoders = {n: SampleDecoder(n, self.source.meta(n), self.config.method(n)) for n in names}
        self._singles = {n: d.single for n, d in self._decoders.items() if d.single is not None}
        transforms = self.config.transform.values() if isinstance(self.config.transform, Mapping) \
            else [self.config.transform]
        self._groups = 1 if all(d.cheap for d in self._decoders.values()) and all(t is None for t in transforms) \
            else 2 * self.num_threads  # a batch's share of the CPU threads: all of them, or one for copies
        self._positionwise = frozenset(  # Deep Lake v3's polygon batches, where they line up: batches of one
            n for n in names if self.config.batch_size == 1 and self.source.meta(n).base_htype == "polygon")
        self._pools = None
        self._pid = os.getpid()

    def _new_pools(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        return (ThreadPoolExecutor(self.num_threads, thread_name_prefix="deeplake_nb-decode"),
                ThreadPoolExecutor(self.io_threads, thread_name_prefix="deeplake_nb-io"))

    def _persistent_pools(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        self._setup()
        if self._pools is None:
            self._pools = self._new_pools()
        return self._pools

    def close(self) -> None:
        """Stop the threads of ``samples`` (``run`` stops its own)."""
        if self._pools is not None and self._pid == os.getpid():
            for pool in self._pools:
                pool.shutdown(wait=False, cancel_futures=True)
        self._pools = None

    def _start_fetch(self, rows: np.ndarray, io: ThreadPoolExecutor) -> dict[str, Result]:
        return {name: fetcher.start(rows, io) for name, fetcher in self._fetchers.items()}

    # -- one sample ---------------------------------------------------------------------------------
    def make_sample(self, row: int, encoded: Mapping[str, Any]) -> Any:
        """Decode and transform one row (runs on a CPU thread): ``{tensor: value}`` plus ``"index"``
        (``config.index_in_sample``), each through its entry of a dict transform, then the whole
        sample through a callable transform, whose result is the sample."""
        config = self.config
        per_tensor = config.transform if isinstance(config.transform, Mapping) else {}
        sample: dict[str, Any] = {}
        for name, decoder in self._decoders.items():
            try:
                value = decoder(encoded[name])
            except (CorruptSampleError, ValueError, OSError) as exc:
                if config.ignore_errors:
                    raise _Skip(row) from exc
                raise CorruptSampleError(f"Tensor {name!r}, sample index {row}: {exc} Pass ignore_errors=True "
                                         "to skip unreadable samples.") from exc
            sample[name] = _apply(per_tensor.get(name), value, row, f"The transform of tensor {name!r}")
        if config.index_in_sample and "index" not in sample:  # a tensor named "index" takes precedence
            sample["index"] = _apply(per_tensor.get("index"), np.array([row], np.int64), row,
                                     "The transform of 'index'")
        if callable(config.transform):
            return _apply(config.transform, sample, row, "The transform")
        return sample

    def _fill(self, buf: BatchBuffer | list, slots: range, rows: np.ndarray,
              encoded: dict[str, list[Any]]) -> list[int]:
        """Make samples ``slots`` of a batch into ``buf``; returns the skipped slots. Without a
        whole-sample transform the samples are made tensor by tensor (``_columns``: one decode
        call and one buffer write per tensor), :data:`FILL_STEP` samples at a time when they are
        decoded or transformed (copies: the whole group at once), else one by one."""
        if callable(self.config.transform):
            return self._fill_samples(buf, slots, rows, encoded)
        step = FILL_STEP if self._groups > 1 else max(1, len(slots))
        skipped: list[int] = []
        for lo in range(slots.start, slots.stop, step):
            part = range(lo, min(lo + step, slots.stop))
            columns, skip = self._columns(part, rows, encoded)
            if isinstance(buf, list):
                names = list(columns)
                for j, values in enumerate(zip(*columns.values())):
                    if part[j] not in skip:
                        buf[part[j]] = dict(zip(names, values))
            elif skip:
                keep = [j for j, slot in enumerate(part) if slot not in skip]
                buf.put_columns([part[j] for j in keep], {n: [v[j] for j in keep] for n, v in columns.items()})
            else:
                buf.put_columns(part, columns)
            skipped.extend(skip)
            del columns  # this step's decoded and transformed samples, before the next step's
        return sorted(skipped)

    def _columns(self, slots: range, rows: np.ndarray,
                 encoded: dict[str, list[Any]]) -> tuple[dict[str, list[Any]], set[int]]:
        """``make_sample`` for the samples ``slots``, by tensor: ``({key: values}, skipped slots)``;
        a skipped slot's values are None. The same values, errors and skips as ``make_sample``."""
        config = self.config
        per_tensor = config.transform if isinstance(config.transform, Mapping) else {}
        skipped: set[int] = set()
        columns: dict[str, list[Any]] = {}
        for name, decoder in self._decoders.items():
            batch = encoded[name][slots.start:slots.stop]
            try:
                values = decoder.many(batch)
            except (CorruptSampleError, ValueError, OSError):
                values = [None] * len(batch)
                for j, item in enumerate(batch):
                    row = int(rows[slots[j]])
                    try:
                        values[j] = decoder(item)
                    except (CorruptSampleError, ValueError, OSError) as exc:
                        if not config.ignore_errors:
                            raise CorruptSampleError(f"Tensor {name!r}, sample index {row}: {exc} Pass "
                                                     "ignore_errors=True to skip unreadable samples.") from exc
                        skipped.add(slots[j])
            fn = per_tensor.get(name)
            if fn is not None:
                what = f"The transform of tensor {name!r}"
                values = [None if slots[j] in skipped else _apply(fn, v, int(rows[slots[j]]), what)
                          for j, v in enumerate(values)]
            columns[name] = values
        if config.index_in_sample and "index" not in columns:  # a tensor named "index" takes precedence
            block = rows[slots.start:slots.stop, np.newaxis].copy()
            fn = per_tensor.get("index")
            columns["index"] = list(block) if fn is None else [
                None if slots[j] in skipped else _apply(fn, v, int(v[0]), "The transform of 'index'")
                for j, v in enumerate(block)]
        return columns, skipped

    def _fill_samples(self, buf: BatchBuffer | list, slots: range, rows: np.ndarray,
                      encoded: dict[str, list[Any]]) -> list[int]:
        """``_fill`` one sample at a time (a whole-sample transform sees each sample)."""
        skipped = []
        names = list(encoded)
        for slot in slots:
            try:
                sample = self.make_sample(int(rows[slot]), {n: encoded[n][slot] for n in names})
            except _Skip:
                skipped.append(slot)
                continue
            if isinstance(buf, list):
                buf[slot] = sample
            else:
                buf.put(slot, sample)
        return skipped

    def _submit(self, cpu: ThreadPoolExecutor, buf: BatchBuffer | list, rows: np.ndarray,
                encoded: dict[str, list[Any]]) -> list[Future]:
        n = len(rows)
        if self._groups == 1:  # copies only: made here, no hand-off to a thread
            return [_done(self._fill, buf, range(n), rows, encoded)]
        step = max(1, -(-n // self._groups))
        return [cpu.submit(self._fill, buf, range(lo, min(n, lo + step)), rows, encoded) for lo in range(0, n, step)]

    # -- many batches -------------------------------------------------------------------------------
    def run(self, batches: Iterable[tuple[int, np.ndarray]], shared: bool = False, ring: SlotRing | None = None,
            worker: int = 0, lookahead: bool = True,
            ) -> Generator[tuple[int, Any, list[int], tuple[int, int, list[Any]] | None], None, None]:
        """Yield ``(batch_id, batch, skipped_rows, slot)`` for ``(batch_id, positions)`` pairs, in order.

        ``shared``: allocate batches in shared memory (inside a DataLoader worker); ``ring``: reuse
        this worker's slots for them, ``slot`` then says ``(slot, lease, keys)`` for ``SlotRing.adopt``;
        ``lookahead``: submit the next batch before a finished one is yielded, else after it was
        taken (see the module doc). A run left suspended (a loop broken out of, never closed) is
        closed at interpreter exit, while the modules its threads need still exist (``_LIVE_RUNS``)."""
        run = self._run(batches, shared, ring, worker, lookahead)
        _LIVE_RUNS.add(run)
        return run

    def _run(self, batches: Iterable[tuple[int, np.ndarray]], shared: bool, ring: SlotRing | None, worker: int,
             lookahead: bool) -> Generator[tuple[int, Any, list[int], tuple[int, int, list[Any]] | None], None, None]:
        self._setup()
        cpu, io = self._new_pools()
        release = freed_memory_releaser()
        pending: Iterator[tuple[int, np.ndarray]] = iter(batches)
        windows: deque[_Window] = deque()
        first_window = True
        inflight: deque[tuple[int, np.ndarray, Any, list[Future], Lease | None]] = deque()
        rows_of = self.source.rows.__getitem__
        collate_fn = self.config.collate_fn

        def open_window() -> _Window | None:
            nonlocal first_window
            # the first window holds one batch: the first batch waits only for its own reads
            size, first_window = (1 if first_window else self.fetch_batches), False
            chosen = []
            for item in pending:
                chosen.append(item)
                if len(chosen) == size:
                    break
            if not chosen:
                return None
            starts = np.cumsum([0] + [len(p) for _, p in chosen]).tolist()
            rows = rows_of(np.concatenate([p for _, p in chosen]))
            return _Window(chosen, self._start_fetch(rows, io), starts=starts[:-1])

        def submit_next(handed_on: bool = True) -> bool:
            """Start the next batch; False when there is none, or when this worker's slots are all
            taken and a batch of its own is still to be yielded (not ``handed_on``: a finished
            one; or one in ``inflight``): it starts after that yield. Only with none left does it
            wait for a slot (``SlotRing.acquire``), which the user may hold."""
            while windows and windows[0].done:
                windows.popleft()
            if not windows:
                first = open_window()
                if first is None:
                    return False
                windows.append(first)
            if len(windows) < 2:  # read ahead: the next window's reads run while this one decodes
                ahead = open_window()
                if ahead is not None:
                    windows.append(ahead)
            lease = None
            if ring is not None and not collate_fn:
                alone = handed_on and not inflight
                lease = ring.acquire(worker, windows[0].next_id, wait=alone)
                if lease is None and not alone:
                    return False
            bid, rows, encoded = windows[0].take(rows_of)
            buf: Any = [None] * len(rows) if collate_fn else BatchBuffer(
                len(rows), self.output, shared, allocator=lease.alloc if lease is not None else None,
                singles=self._singles, positionwise=self._positionwise)
            inflight.append((bid, rows, buf, self._submit(cpu, buf, rows, encoded), lease))
            return True

        try:
            ahead = 1 if self._groups == 1 else self.decode_ahead  # batches made in this thread: none ahead
            while len(inflight) < ahead and submit_next():
                pass
            while inflight:
                bid, rows, buf, futures, lease = inflight[0]
                skipped = sorted(s for f in futures for s in f.result())
                inflight.popleft()
                if lookahead:
                    submit_next(handed_on=False)
                keep = None
                if skipped:
                    keep = np.ones(len(rows), bool)
                    keep[skipped] = False
                if collate_fn:
                    batch = collate_fn([s for i, s in enumerate(buf) if keep is None or keep[i]])
                else:
                    batch = buf.finish(keep)
                slot = None
                if lease is not None and ring is not None:  # a lease comes from the ring
                    ring.finished(lease, sent=bool(buf.slot_keys))
                    slot = (lease.slot, lease.lease, buf.slot_keys) if buf.slot_keys else None
                yield bid, batch, [int(rows[s]) for s in skipped], slot
                del batch, buf  # handed on: this process's references go before the next batch is made
                if shared:  # a worker process: between batches
                    release()
                while len(inflight) < ahead and submit_next():  # (with lookahead: one it could not start)
                    pass
        finally:
            for pool in (cpu, io):
                pool.shutdown(wait=True, cancel_futures=True)
            release()  # the ended threads' arenas (a run in the main process: the bridge, an epoch)
            if ring is not None:
                for *_, lease in inflight:
                    if lease is not None:
                        ring.finished(lease, sent=False)

    def samples(self, positions: np.ndarray) -> list[Any]:
        """Decoded, transformed samples at loader positions (for map-style use), text and json
        values as str and objects (``collate.plain_sample``: torch's ``default_collate`` batches
        them); skipped ones are left out."""
        cpu, io = self._persistent_pools()
        rows = self.source.rows[np.asarray(positions, np.int64)]
        encoded = {name: result() for name, result in self._start_fetch(rows, io).items()}
        out: list[Any] = [None] * len(rows)
        skipped = set()
        for future in self._submit(cpu, out, rows, encoded):
            skipped.update(future.result())
        return [plain_sample(s, self._singles) for i, s in enumerate(out) if i not in skipped]


_LIVE_RUNS: weakref.WeakSet[Generator[Any, None, None]] = weakref.WeakSet()
"""``BatchEngine.run`` generators not yet garbage collected."""


@atexit.register
def _close_live_runs() -> None:
    """End the runs still suspended at interpreter exit (their ``finally`` shuts their thread pools
    down), before module globals are cleared: finalized later, that ``finally`` would fail inside
    ``concurrent.futures`` and print a traceback. One running in another thread is left alone."""
    for run in list(_LIVE_RUNS):
        with contextlib.suppress(ValueError):  # "generator already executing"
            run.close()
