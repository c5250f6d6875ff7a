"""How one tensor's samples sit in zarr arrays.

- ``DenseColumn``: samples of one shape stacked in ``data (n, *shape)`` (vectorises queries);
- ``RaggedColumn``: variable shapes or encoded media: a uint8 ``bytes`` heap, an ``index (n, 2)``
  of [offset, length] into it, and a ``shape (n, ndim)`` side array (shapes without decoding).
  The heap is append-only: an update appends new bytes and repoints its index row;
- ``AdaptiveColumn``: picks dense or ragged on first write, and moves to ragged the first time a
  sample does not fit the dense shape;
- ``SequenceColumn``: a ``seq (n, 2)`` array of [first item, item count] over an adaptive item
  column, for ``sequence[X]`` tensors.

A payload is an ndarray (raw numeric sample) or bytes (encoded media, text, JSON); an empty
sample (``None``) is ``b""`` with a shape of zeros, so it always lives in a ragged column. Its
shape may have fewer dimensions than the column's (``()`` while a generic tensor has no real
sample yet): the ``shape`` row is padded with zeros, and the first real sample of more
dimensions widens the ``shape`` array (every stored row is then empty). Every column takes
explicit row positions, so rows left past the authoritative length by an interrupted write are
simply overwritten by the next one.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import zarr

from ..storage import ByteStore
from .arrays import ArrayHandle

Payload = Union[np.ndarray, bytes]
Encoded = tuple[Payload, tuple[int, ...]]
Staged = tuple[np.ndarray, np.ndarray]
"""Rows whose bytes are in a ragged column's heap already (``RaggedColumn.stage``): their index
rows ``(n, 2)`` [offset, length] and ``shape`` rows ``(n, ndim)``."""

HEAP_CHUNK_BYTES = 4 << 20
HEAP_CHUNK_BYTES_COMPRESSED = 1 << 20
TABLE_CHUNK_BYTES = 256 << 10
TABLE_COMPRESSION = None  # index/shape/_id/seq tables: uncompressed, so a change is a small patch (version.patches)
DENSE_CHUNK_BYTES = 1 << 20


class DenseColumn:
    def __init__(self, data: ArrayHandle) -> None:
        self.data = data

    @classmethod
    def create(cls, group: zarr.Group, store: ByteStore, dtype: str, shape: tuple[int, ...],
               compression: str | None, chunk_bytes: int | None = None) -> DenseColumn:
        return cls(ArrayHandle.create(group, "data", store, dtype=dtype, row_shape=shape,
                                      chunk_bytes=chunk_bytes or DENSE_CHUNK_BYTES, compression=compression))

    def fits(self, payload: Payload) -> bool:
        return isinstance(payload, np.ndarray) and payload.shape == self.data.row_shape

    @property
    def nrows(self) -> int:
        return self.data.nrows

    def write(self, start: int, encoded: Sequence[Encoded]) -> None:
        self.data.write(start, np.stack([p for p, _ in encoded]) if encoded else
                        np.empty((0, *self.data.row_shape), self.data.dtype))

    def read(self, i: int) -> Encoded:
        return self.data.row(i), self.data.row_shape

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.data.take(rows)

    def set_many(self, rows: np.ndarray, encoded: Sequence[Encoded]) -> None:
        self.data.write_rows(rows, np.stack([np.asarray(p) for p, _ in encoded]))

    def shapes(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(self.data.row_shape, np.int64), (len(rows), 1))

    def nbytes(self, rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), self.data.dtype.itemsize * int(np.prod(self.data.row_shape)), np.int64)


class RaggedColumn:
    def __init__(self, heap: ArrayHandle, index: ArrayHandle, shape: ArrayHandle) -> None:
        self.heap, self.index, self.shape = heap, index, shape

    @classmethod
    def create(cls, group: zarr.Group, store: ByteStore, ndim: int, compression: str | None,
               chunk_bytes: int | None = None) -> RaggedColumn:
        heap_bytes = chunk_bytes or (HEAP_CHUNK_BYTES if compression is None else HEAP_CHUNK_BYTES_COMPRESSED)
        return cls(
            ArrayHandle.create(group, "bytes", store, dtype="uint8", row_shape=(), chunk_bytes=heap_bytes,
                               compression=compression),
            ArrayHandle.create(group, "index", store, dtype="uint64", row_shape=(2,),
                               chunk_bytes=TABLE_CHUNK_BYTES, compression=TABLE_COMPRESSION),
            _shape_array(group, store, ndim),
        )

    def widen(self, group: zarr.Group, store: ByteStore, ndim: int, nrows: int) -> None:
        """Give the ``shape`` array ``ndim`` columns; only while its ``nrows`` rows are all empty
        samples (zeros), which it rewrites."""
        self.shape = _shape_array(group, store, ndim)
        if nrows:
            self.shape.write(0, np.zeros((nrows, ndim), np.uint32))

    def _shape_rows(self, encoded: Sequence[Encoded]) -> np.ndarray:
        """The ``shape`` rows of ``encoded``; shorter shapes (empty samples) padded with zeros."""
        width = self.shape.row_shape[0]
        rows = np.zeros((len(encoded), width), np.uint32)
        for j, (_, shape) in enumerate(encoded):
            rows[j, :len(shape)] = shape
        return rows

    @classmethod
    def open(cls, group: zarr.Group, store: ByteStore) -> RaggedColumn:
        return cls(ArrayHandle.open(group, "bytes", store),
                   ArrayHandle.open(group, "index", store),
                   ArrayHandle.open(group, "shape", store))

    def fits(self, payload: Payload) -> bool:
        return True

    @property
    def nrows(self) -> int:
        return self.index.nrows

    def _append_heap(self, encoded: Sequence[Encoded], hold_tail: bool = False) -> np.ndarray:
        blobs = [p if isinstance(p, bytes) else p.tobytes() for p, _ in encoded]
        lengths = np.fromiter(map(len, blobs), np.uint64, len(blobs))
        base = np.uint64(self.heap.append_blobs(blobs, hold_tail=hold_tail))
        return np.stack([np.cumsum(lengths) - lengths + base, lengths], axis=1)

    def stage(self, encoded: Sequence[Encoded]) -> Staged | None:
        """Put the bytes of ``encoded`` (rows to be appended) in the heap now, its partly filled
        last chunk held in memory (``ArrayHandle.append_blobs(hold_tail=True)``): their index and
        shape rows, which ``write`` takes, in order, before the rows it is given. None (nothing
        done) for a heap that cannot hold a tail."""
        if not self.heap.can_hold:
            return None
        return self._append_heap(encoded, hold_tail=True), self._shape_rows(encoded)

    def write(self, start: int, encoded: Sequence[Encoded], staged: Sequence[Staged] = ()) -> None:
        """Append ``staged`` rows (``stage``'s, in order), then ``encoded``, at row ``start``;
        the heap's held tail is stored."""
        if not encoded and not staged:
            return
        if encoded:
            rows = self._append_heap(encoded)  # after the held tail, which it stores with them
        else:
            self.heap.store_held()
            rows = np.zeros((0, 2), np.uint64)
        shapes = self._shape_rows(encoded)
        if staged:
            width = shapes.shape[1]  # rows staged before the shape array was widened: zeros beyond
            rows = np.concatenate([*(index for index, _ in staged), rows])
            shapes = np.concatenate([*(np.pad(s, ((0, 0), (0, width - s.shape[1]))) for _, s in staged), shapes])
        self.shape.write(start, shapes)
        self.index.write(start, rows)

    def set_many(self, rows: np.ndarray, encoded: Sequence[Encoded]) -> None:
        """New values for existing rows: appended to the heap in one go (the old bytes stay
        until the rows' chunks are no longer referenced), then each touched table chunk once."""
        spans = self._append_heap(encoded)
        self.shape.write_rows(rows, self._shape_rows(encoded))
        self.index.write_rows(rows, spans)

    def read(self, i: int) -> Encoded:
        offset, length = self.index.row(i).tolist()
        return self.heap.read_bytes(offset, offset + length), tuple(self.shape.row(i).tolist())

    def take_bytes(self, rows: np.ndarray) -> list[bytes]:
        spans = self.index.take(rows)
        return [self.heap.read_bytes(int(o), int(o + n)) for o, n in spans]

    def shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shape.take(rows).astype(np.int64)

    def nbytes(self, rows: np.ndarray) -> np.ndarray:
        return self.index.take(rows)[:, 1].astype(np.int64)


class AdaptiveColumn:
    """Dense while every sample has one shape, ragged from the first one that does not.

    ``state`` is the tensor's mutable meta; ``key`` names its layout field.
    ``on_layout`` is called (to persist meta) before any data of a new layout is written.
    ``chunk_bytes``: the size of the sample data's chunks (dense rows, heap bytes) that arrays
    made from now on get; None for the format's defaults.
    """

    def __init__(self, group: zarr.Group, store: ByteStore, state: Any, key: str, *, dtype: str | None,
                 compression: str | None, on_layout: Any, chunk_bytes: int | None = None) -> None:
        self.group, self.store, self.state, self.key = group, store, state, key
        self.dtype, self.compression, self.on_layout = dtype, compression, on_layout
        self.chunk_bytes = chunk_bytes
        layout = getattr(state, key)
        self.impl: DenseColumn | RaggedColumn | None = None
        if layout == "dense":
            self.impl = DenseColumn(ArrayHandle.open(group, "data", store))
        elif layout == "ragged":
            self.impl = RaggedColumn.open(group, store)

    @property
    def nrows(self) -> int:
        return 0 if self.impl is None else self.impl.nrows

    @property
    def dense(self) -> bool:
        return isinstance(self.impl, DenseColumn)

    def _set_layout(self, layout: str | None) -> None:
        setattr(self.state, self.key, layout)
        self.on_layout()

    def _choose(self, encoded: Sequence[Encoded]) -> None:
        first = encoded[0][0]
        uniform = (isinstance(first, np.ndarray) and first.size > 0 and
                   all(isinstance(p, np.ndarray) and p.shape == first.shape for p, _ in encoded))
        if uniform:
            self.impl = DenseColumn.create(self.group, self.store, self.dtype, first.shape, self.compression,
                                           self.chunk_bytes)
            self._set_layout("dense")
        else:
            ndim = max(len(s) for _, s in encoded)
            self.impl = RaggedColumn.create(self.group, self.store, ndim, self.compression, self.chunk_bytes)
            self._set_layout("ragged")

    def _to_ragged(self, nrows: int) -> None:
        """Rewrite the dense rows ``[0, nrows)`` as a ragged column (one-time migration)."""
        dense = self.impl
        assert isinstance(dense, DenseColumn)
        ragged = RaggedColumn.create(self.group, self.store, len(dense.data.row_shape), self.compression,
                                     self.chunk_bytes)
        step = max(1, dense.data.rows_per_chunk)
        for start in range(0, nrows, step):
            rows = dense.data.read(start, min(nrows, start + step))
            ragged.write(start, [(r, r.shape) for r in rows])
        self.impl = ragged
        self._set_layout("ragged")
        del self.group["data"]

    def _ensure_fits(self, encoded: Sequence[Encoded], nrows: int) -> None:
        if self.impl is None:
            self._choose(encoded)
        elif not all(self.impl.fits(p) for p, _ in encoded):
            self._to_ragged(nrows)
        ndim = max(len(s) for _, s in encoded)
        if isinstance(self.impl, RaggedColumn) and ndim > self.impl.shape.row_shape[0]:
            self.impl.widen(self.group, self.store, ndim, self.impl.nrows)

    def stage(self, encoded: Sequence[Encoded], nrows: int) -> Staged | None:
        """``RaggedColumn.stage`` of ``encoded`` (rows to be appended after ``nrows``) when the
        column is ragged, or is to be made ragged by them (every payload bytes: encoded media,
        text); None, nothing done, otherwise (a dense column stages nothing)."""
        if not encoded or not (isinstance(self.impl, RaggedColumn) or
                               (self.impl is None and all(isinstance(p, bytes) for p, _ in encoded))):
            return None
        self._ensure_fits(encoded, nrows)
        assert isinstance(self.impl, RaggedColumn)
        return self.impl.stage(encoded)

    def write(self, start: int, encoded: Sequence[Encoded], staged: Sequence[Staged] = ()) -> None:
        """Append ``staged`` rows (``stage``'s, which made the column ragged) and ``encoded``."""
        if encoded:
            self._ensure_fits(encoded, start)
        if staged:
            assert isinstance(self.impl, RaggedColumn)
            self.impl.write(start, encoded, staged)
        elif encoded:
            self.impl.write(start, encoded)

    def set_many(self, rows: np.ndarray, encoded: Sequence[Encoded], nrows: int) -> None:
        """Replace existing rows ``rows`` (of ``nrows``) with ``encoded``."""
        if encoded:
            self._ensure_fits(encoded, nrows)
            self.impl.set_many(np.asarray(rows, np.int64), encoded)

    def read(self, i: int) -> Encoded:
        return self.impl.read(i)

    def take(self, rows: np.ndarray) -> list[Encoded]:
        if isinstance(self.impl, DenseColumn):
            block = self.impl.take(rows)
            return [(r, r.shape) for r in block]
        shapes = self.impl.shapes(rows)
        return [(b, tuple(int(x) for x in s)) for b, s in zip(self.impl.take_bytes(rows), shapes)]

    def shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.impl.shapes(rows)

    def nbytes(self, rows: np.ndarray) -> np.ndarray:
        return self.impl.nbytes(rows)

    def handles(self) -> list[ArrayHandle]:
        if isinstance(self.impl, DenseColumn):
            return [self.impl.data]
        if isinstance(self.impl, RaggedColumn):
            return [self.impl.index, self.impl.shape]
        return []

    def truncate(self, nrows: int) -> None:
        for handle in self.handles():
            handle.resize(min(handle.nrows, nrows))

    def clear(self) -> None:
        """Drop every row and the column's arrays: the next write picks a layout afresh."""
        for name in ("data", "bytes", "index", "shape"):
            if name in self.group:
                del self.group[name]
        self.impl = None
        self._set_layout(None)

    def delete_rows(self, rows: np.ndarray, nrows: int) -> None:
        for handle in self.handles():
            handle.delete_rows(rows, nrows)


def _shape_array(group: zarr.Group, store: ByteStore, ndim: int) -> ArrayHandle:
    """A new ``shape`` side array of ``ndim`` columns (at least one: zarr needs a non-empty chunk)."""
    return ArrayHandle.create(group, "shape", store, dtype="uint32", row_shape=(max(ndim, 1),),
                              chunk_bytes=TABLE_CHUNK_BYTES, compression=TABLE_COMPRESSION)


class SequenceColumn:
    """Samples that are lists of items: ``seq (n, 2)`` = [first item, count] over ``items/``."""

    def __init__(self, seq: ArrayHandle, items: AdaptiveColumn) -> None:
        self.seq, self.items = seq, items

    @property
    def nrows(self) -> int:
        return self.seq.nrows

    def _append_items(self, samples: Sequence[Sequence[Encoded]]) -> np.ndarray:
        base = self.items.nrows
        counts = np.fromiter((len(s) for s in samples), np.uint64, len(samples))
        firsts = base + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.uint64)
        flat = [item for sample in samples for item in sample]
        self.items.write(base, flat)
        return np.stack([firsts, counts], axis=1)

    def write(self, start: int, samples: Sequence[Sequence[Encoded]]) -> None:
        if samples:
            self.seq.write(start, self._append_items(samples))

    def set_many(self, rows: np.ndarray, samples: Sequence[Sequence[Encoded]], nrows: int) -> None:
        if samples:
            self.seq.write_rows(np.asarray(rows, np.int64), self._append_items(samples))

    def _ranges(self, rows: np.ndarray) -> np.ndarray:
        return self.seq.take(rows).astype(np.int64)

    def read(self, i: int) -> list[Encoded]:
        first, count = (int(x) for x in self.seq.row(i))
        return self.items.take(np.arange(first, first + count))

    def take(self, rows: np.ndarray) -> list[list[Encoded]]:
        return [self.items.take(np.arange(f, f + c)) for f, c in self._ranges(rows)]

    def shapes(self, rows: np.ndarray) -> list[np.ndarray]:
        return [self.items.shapes(np.arange(f, f + c)) if c and self.items.impl is not None
                else np.zeros((0, 0), np.int64) for f, c in self._ranges(rows)]

    def nbytes(self, rows: np.ndarray) -> np.ndarray:
        return np.array([int(self.items.nbytes(np.arange(f, f + c)).sum()) if c else 0
                         for f, c in self._ranges(rows)], np.int64)

    def truncate(self, nrows: int) -> None:
        self.seq.resize(min(self.seq.nrows, nrows))

    def clear(self) -> None:
        """Drop every row and every item."""
        self.truncate(0)
        self.items.clear()

    def delete_rows(self, rows: np.ndarray, nrows: int) -> None:
        self.seq.delete_rows(rows, nrows)
