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
from typing import Any, Callable

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


@dataclass(frozen=True)
class RangeRead:
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
    """Plan range reads covering heap spans ``[offset, offset+length)`` (see the module doc)."""
    flat: list[tuple[int, int, int, int]] = []  # (chunk, lo, hi, row) in chunk-local coordinates
    for row, (off, n) in enumerate(zip(offsets.tolist(), lengths.tolist())):
        stop = off + n
        while off < stop:
            k = off // chunk_bytes
            end = min(stop, (k + 1) * chunk_bytes)
            flat.append((k, off - k * chunk_bytes, end - k * chunk_bytes, row))
            off = end
    flat.sort()
    reads: list[RangeRead] = []
    pieces: list[list[tuple[int, int, int]]] = [[] for _ in range(len(offsets))]
    members: list[tuple[int, int, int]] = []
    cur_k = cur_lo = cur_hi = -1

    def close() -> None:
        if members:
            r = len(reads)
            reads.append(RangeRead(cur_k, cur_lo, cur_hi))
            for row, lo, hi in members:
                pieces[row].append((r, lo - cur_lo, hi - cur_lo))
            members.clear()

    for k, lo, hi, row in flat:
        if k != cur_k or lo - cur_hi > max_gap or max(hi, cur_hi) - cur_lo > max_range:
            close()
            cur_k, cur_lo, cur_hi = k, lo, hi
        else:
            cur_hi = max(cur_hi, hi)
        members.append((row, lo, hi))
    close()
    return ReadPlan(reads, pieces)


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
    ``io``; a local file is opened once per window instead of once per read); else each read is
    its own task (an object store: many requests in flight). A row read alone comes out as the
    read's own ``bytes`` (no slice, no copy)."""

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
                jobs.append((io.submit(store.get_ranges, key_of(k), ranges), members))
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
