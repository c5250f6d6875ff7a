"""Fetch the stored (still encoded) samples of many rows at once, in few large reads.

``coalesce`` is the planner: it sorts the byte spans of the requested rows by heap offset,
splits them at heap-chunk boundaries, and merges spans closer than ``max_gap`` bytes into one
range read of at most ``max_range`` bytes. A fetcher turns rows into such reads, issues them on an
I/O thread pool, and hands back each row's encoded sample in the order the rows were asked for.

Contracts:
- ``Fetcher.start(rows, io)`` does its metadata lookups (index/shape arrays) on the calling thread
  and only raw store reads on ``io`` (format objects are not thread-safe; ``ByteStore`` reads are);
- the returned callable blocks until the reads finish and returns one encoded sample per row,
  exactly what ``TensorStore.take`` would return: ``(payload, shape)``, or a list of them for a
  sequence tensor. Payloads may be ``memoryview`` slices of a larger read;
- layouts without a fast path (sequences, links, sharded or unknown codecs) fall back to
  ``TensorStore.take``, which is correct but reads row by row.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from ..format.arrays import ArrayHandle
from ..format.columns import AdaptiveColumn, DenseColumn, RaggedColumn
from ..format.tensor_store import TensorStore

Result = Callable[[], list[Any]]

LOCAL_MAX_GAP = 64 << 10
REMOTE_MAX_GAP = 64 << 10
"""On an object store the engine keeps many reads in flight (``engine.REMOTE_IO_THREADS``), so their
round trips overlap and a bridged gap saves no time, only costs bandwidth: with 1 MiB, one
shuffled epoch of 5,000 JPEGs (25 KB each) read 11x the dataset's bytes; with 64 KiB, 1.15x."""


class RangeRead(NamedTuple):
    """One ranged read of heap chunk ``chunk``: bytes ``[lo, hi)`` of that chunk object."""

    chunk: int
    lo: int
    hi: int


@dataclass(frozen=True)
class ReadPlan:
    """Reads to issue, and for each requested row the pieces ``(read, start, stop)`` that make it."""

    reads: list[RangeRead]
    pieces: list[list[tuple[int, int, int]]]


def coalesce(offsets: np.ndarray, lengths: np.ndarray, chunk_bytes: int, max_gap: int, max_range: int) -> ReadPlan:
    """Plan range reads covering heap spans ``[offset, offset+length)`` (see the module doc).

    Vectorised: the spans are cut at chunk edges, sorted by (chunk, start), and a read starts
    where the chunk changes or the gap to the furthest byte so far exceeds ``max_gap``; only a
    group longer than ``max_range`` is split further, span by span (``_split``)."""
    offsets = np.asarray(offsets, np.int64)
    lengths = np.asarray(lengths, np.int64)
    n = len(offsets)
    pieces: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    stop = offsets + lengths
    first = offsets // chunk_bytes
    count = np.where(lengths > 0, (stop - 1) // chunk_bytes - first + 1, 0)  # chunks each span touches
    total = int(count.sum())
    if not total:
        return ReadPlan([], pieces)
    row = np.repeat(np.arange(n, dtype=np.int64), count)
    k = first if total == n and bool((count == 1).all()) else \
        first[row] + (np.arange(total) - np.repeat(np.cumsum(count) - count, count))
    base = k * chunk_bytes
    lo = np.maximum(offsets[row], base) - base
    hi = np.minimum(stop[row], base + chunk_bytes) - base
    order = np.lexsort((row, hi, lo, k))
    k, lo, hi, row = k[order], lo[order], hi[order], row[order]
    furthest = np.maximum.accumulate(k * chunk_bytes + hi)
    new = np.ones(total, bool)
    new[1:] = (k[1:] != k[:-1]) | (k[1:] * chunk_bytes + lo[1:] - furthest[:-1] > max_gap)
    starts = np.flatnonzero(new)
    group_hi = np.maximum.reduceat(hi, starts)
    too_long = set(np.flatnonzero(group_hi - lo[starts] > max_range).tolist())
    bounds = np.append(starts, total).tolist()
    k_, lo_, hi_, row_, group_hi_ = k.tolist(), lo.tolist(), hi.tolist(), row.tolist(), group_hi.tolist()
    reads: list[RangeRead] = []
    for g in range(len(starts)):
        a, b = bounds[g], bounds[g + 1]
        if g in too_long:
            _split(k_[a], lo_[a:b], hi_[a:b], row_[a:b], max_gap, max_range, reads, pieces)
            continue
        r, start = len(reads), lo_[a]
        reads.append(RangeRead(k_[a], start, group_hi_[g]))
        for i in range(a, b):
            pieces[row_[i]].append((r, lo_[i] - start, hi_[i] - start))
    return ReadPlan(reads, pieces)


def _split(chunk: int, lo: list[int], hi: list[int], rows: list[int], max_gap: int, max_range: int,
           reads: list[RangeRead], pieces: list[list[tuple[int, int, int]]]) -> None:
    """``coalesce`` of one chunk's sorted spans, span by span: a read grows while the next span
    is within ``max_gap`` of it and the read stays within ``max_range``."""
    members: list[tuple[int, int, int]] = []
    cur_lo = cur_hi = 0
    for start, end, row in zip(lo, hi, rows):
        if members and (start - cur_hi > max_gap or max(end, cur_hi) - cur_lo > max_range):
            _close(chunk, cur_lo, cur_hi, members, reads, pieces)
        if not members:
            cur_lo, cur_hi = start, end
        cur_hi = max(cur_hi, end)
        members.append((row, start, end))
    _close(chunk, cur_lo, cur_hi, members, reads, pieces)


def _close(chunk: int, lo: int, hi: int, members: list[tuple[int, int, int]], reads: list[RangeRead],
           pieces: list[list[tuple[int, int, int]]]) -> None:
    r = len(reads)
    reads.append(RangeRead(chunk, lo, hi))
    for w, a, b in members:
        pieces[w].append((r, a - lo, b - lo))
    members.clear()


def _shape_tuples(shapes: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(s) for s in shapes.tolist()]


class Fetcher:
    """Encoded samples of one tensor for many rows; see the module contract."""

    def start(self, rows: np.ndarray, io: Executor) -> Result:
        raise NotImplementedError


class TakeFetcher(Fetcher):
    """Fallback: ``TensorStore.take`` on the calling thread."""

    def __init__(self, store: TensorStore) -> None:
        self.store = store

    def start(self, rows: np.ndarray, io: Executor) -> Result:
        encoded = self.store.take(rows)
        return lambda: encoded


class DenseFetcher(Fetcher):
    """Dense columns: one vectorised gather; rows are views of the gathered block."""

    def __init__(self, data: ArrayHandle) -> None:
        self.data = data

    def start(self, rows: np.ndarray, io: Executor) -> Result:
        block = self.data.take(rows)
        shape = self.data.row_shape
        encoded = [(row, shape) for row in block]
        return lambda: encoded


class HeapRangeFetcher(Fetcher):
    """Uncompressed ragged heaps: coalesced ranged reads of the chunk objects. ``grouped``: all
    reads of one chunk object go to the store in one ``ByteStore.get_ranges`` call (one task on
    ``io``; a local file is opened once per window instead of once per read; on an object store
    without a cache, one obstore ``get_ranges`` call with the reads in flight together), or, when
    the cache chain holds the object, answered in the calling thread (``ByteStore.cached_ranges``);
    else each read is its own task (many requests in flight, each answered at once while the chunk
    fills the cache). A row read alone comes out as the read's own ``bytes`` (no slice, no copy)."""

    def __init__(self, column: RaggedColumn, max_gap: int, max_range: int, grouped: bool = False) -> None:
        self.column = column
        self.heap = column.heap
        self.max_gap, self.max_range = max_gap, max_range
        self.grouped = grouped

    def start(self, rows: np.ndarray, io: Executor) -> Result:
        spans = self.column.index.take(rows).astype(np.int64)
        shapes = _shape_tuples(self.column.shape.take(rows))
        plan = coalesce(spans[:, 0], spans[:, 1], self.heap.rows_per_chunk, self.max_gap, self.max_range)
        store, key_of, reads = self.heap.store, self.heap.chunk_key, plan.reads
        jobs: list[tuple[Future, list[int]]] = []
        if self.grouped:
            by_chunk: dict[int, list[int]] = {}
            for i, r in enumerate(reads):
                by_chunk.setdefault(r.chunk, []).append(i)
            for k, members in by_chunk.items():
                ranges = [(reads[i].lo, reads[i].hi) for i in members]
                cached = store.cached_ranges(key_of(k), ranges)  # a cache hit: read here, no hand-off
                future = _finished(cached) if cached is not None else io.submit(store.get_ranges, key_of(k), ranges)
                jobs.append((future, members))
        else:
            for i, r in enumerate(reads):
                jobs.append((io.submit(_as_list, store.get, key_of(r.chunk), r.lo, r.hi), [i]))

        def result() -> list[Any]:
            data: list[Any] = [None] * len(reads)
            for future, members in jobs:
                found = future.result()
                for i, got in zip(members, found if found is not None else [None] * len(members)):
                    data[i] = got if got is not None else bytes(reads[i].hi - reads[i].lo)  # absent: fill (zeros)
            out = []
            for parts, shape in zip(plan.pieces, shapes):
                if len(parts) == 1:
                    r, lo, hi = parts[0]
                    got = data[r]
                    out.append((got if lo == 0 and hi == len(got) else memoryview(got)[lo:hi], shape))
                else:
                    out.append((b"".join(memoryview(data[r])[lo:hi] for r, lo, hi in parts), shape))
            return out
        return result


def _as_list(get: Callable[..., Any], *args: Any) -> list[Any]:
    return [get(*args)]


class HeapChunkFetcher(Fetcher):
    """Chunk-compressed ragged heaps: each needed chunk is read and decompressed once (on ``io``)."""

    def __init__(self, column: RaggedColumn, cached_chunks: int = 16) -> None:
        self.column = column
        self.heap = column.heap
        self._cache: OrderedDict[int, Future] = OrderedDict()
        self._cached = cached_chunks

    def _load(self, k: int) -> memoryview:
        return memoryview(self.heap.chunk_bytes(k))

    def start(self, rows: np.ndarray, io: Executor) -> Result:
        spans = self.column.index.take(rows).astype(np.int64)
        shapes = _shape_tuples(self.column.shape.take(rows))
        size = self.heap.rows_per_chunk
        plan = coalesce(spans[:, 0], spans[:, 1], size, max_gap=size, max_range=size)
        chunks: dict[int, Future] = {}
        for r in plan.reads:
            future = self._cache.get(r.chunk)
            if future is None:
                future = self._cache[r.chunk] = io.submit(self._load, r.chunk)
            else:
                self._cache.move_to_end(r.chunk)
            chunks[r.chunk] = future
        while len(self._cache) > max(self._cached, len(chunks)):
            self._cache.popitem(last=False)

        def result() -> list[Any]:
            out = []
            for parts, shape in zip(plan.pieces, shapes):
                views = [chunks[plan.reads[r].chunk].result()[plan.reads[r].lo + lo: plan.reads[r].lo + hi]
                         for r, lo, hi in parts]
                out.append((views[0] if len(views) == 1 else b"".join(views), shape))
            return out
        return result


def _plain_codecs(handle: ArrayHandle) -> bool:
    """True when this module can read the heap's chunks through ``ArrayHandle``'s direct paths:
    a 1-D array whose chunks are raw bytes or one compressor (a trailing checksum allowed)."""
    return handle.row_shape == () and handle.direct


def _finished(value: Any) -> Future:
    """A Future that already holds ``value``."""
    future: Future = Future()
    future.set_result(value)
    return future


def fetcher_for(store: TensorStore, max_gap: int, max_range: int, grouped: bool = False) -> Fetcher:
    """The fastest correct fetcher for a tensor's current layout; ``grouped``: see
    ``HeapRangeFetcher`` (for stores where one call per object is cheaper than concurrent reads)."""
    column = store.column
    if isinstance(column, AdaptiveColumn) and not store.meta.link:
        impl = column.impl
        if isinstance(impl, DenseColumn):
            return DenseFetcher(impl.data)
        if isinstance(impl, RaggedColumn) and _plain_codecs(impl.heap):
            if impl.heap.compression is None:
                return HeapRangeFetcher(impl, max_gap, max_range, grouped)
            return HeapChunkFetcher(impl)
    return TakeFetcher(store)


def rows_per_chunk(store: TensorStore, probe: int = 1024) -> int:
    """About how many consecutive rows one stored chunk of this tensor holds (the natural
    shuffle block for ``shuffle="chunks"``)."""
    column = store.column
    impl = column.impl if isinstance(column, AdaptiveColumn) else None
    if isinstance(impl, DenseColumn):
        return max(1, impl.data.rows_per_chunk)
    if isinstance(impl, RaggedColumn) and impl.nrows:
        sizes = impl.nbytes(np.arange(min(probe, impl.nrows)))
        return max(1, int(impl.heap.rows_per_chunk // max(1.0, float(sizes.mean()))))
    return 1
