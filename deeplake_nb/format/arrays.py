"""One zarr v3 array with samples on axis 0: writes go through zarr, reads take a fast path.

Reads decode whole stored chunks directly (raw bytes, zstd or lz4, exactly the codecs the
array declares) and keep a few decoded chunks in a small cache, which avoids zarr's
per-call overhead (about 1.4 ms per ``arr[i]``) on random access. Uncompressed 1-D byte
heaps are read with byte-range requests, so one sample costs one ranged GET.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import zarr

from ..storage import ByteStore
from .codecs import decompress, zarr_compressors

_CACHED_CHUNKS = 8


class ArrayHandle:
    """Rows of a zarr array ``(n, *row_shape)``; chunked along axis 0 only."""

    def __init__(self, array: zarr.Array, store: ByteStore, compression: str | None) -> None:
        self.array = array
        self.store = store
        self.compression = compression
        self.dtype = np.dtype(array.dtype)
        self.row_shape: tuple[int, ...] = tuple(array.shape[1:])
        self.rows_per_chunk = int(array.chunks[0])
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._chunk_suffix = "/0" * len(self.row_shape)

    @classmethod
    def create(cls, group: zarr.Group, name: str, store: ByteStore, *, dtype: str | np.dtype,
               row_shape: tuple[int, ...], chunk_bytes: int, compression: str | None) -> ArrayHandle:
        row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        rows = max(1, chunk_bytes // row_bytes)
        array = group.create_array(name, shape=(0, *row_shape), chunks=(rows, *row_shape), dtype=dtype,
                                   compressors=zarr_compressors(compression), fill_value=0,
                                   overwrite=True)
        return cls(array, store, compression)

    @classmethod
    def open(cls, group: zarr.Group, name: str, store: ByteStore, compression: str | None) -> ArrayHandle:
        return cls(group[name], store, compression)

    @property
    def nrows(self) -> int:
        return int(self.array.shape[0])

    # -- writing ------------------------------------------------------------------------------
    def resize(self, nrows: int) -> None:
        if nrows != self.nrows:
            self.array.resize((nrows, *self.row_shape))
            self._cache.clear()

    def write(self, start: int, rows: np.ndarray) -> None:
        """Write ``rows`` at ``start``, growing the array to fit."""
        stop = start + len(rows)
        if stop > self.nrows:
            self.array.resize((stop, *self.row_shape))
        if len(rows):
            self.array[start:stop] = rows
        self._cache.clear()

    def delete_rows(self, rows: np.ndarray, nrows: int) -> None:
        """Remove the given (sorted, unique) row numbers of the first ``nrows``; shift the rest down."""
        if not len(rows):
            return
        first = int(rows[0])
        tail = self.read(first, nrows)
        keep = np.ones(len(tail), bool)
        keep[rows - first] = False
        self.write(first, tail[keep])
        self.resize(nrows - len(rows))

    # -- reading ------------------------------------------------------------------------------
    def _chunk(self, k: int) -> np.ndarray:
        cached = self._cache.get(k)
        if cached is not None:
            self._cache.move_to_end(k)
            return cached
        raw = self.store.get(f"{self.array.path}/c/{k}{self._chunk_suffix}")
        shape = (self.rows_per_chunk, *self.row_shape)
        if raw is None:
            chunk = np.zeros(shape, self.dtype)
        else:
            chunk = np.frombuffer(decompress(raw, self.compression), self.dtype).reshape(shape)
        self._cache[k] = chunk
        if len(self._cache) > _CACHED_CHUNKS:
            self._cache.popitem(last=False)
        return chunk

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as one array (a view into the cache when it fits one chunk)."""
        r = self.rows_per_chunk
        if stop <= start:
            return np.empty((0, *self.row_shape), self.dtype)
        first, last = start // r, (stop - 1) // r
        if first == last:
            return self._chunk(first)[start - first * r: stop - first * r]
        parts = [self._chunk(k)[max(start - k * r, 0): min(stop - k * r, r)] for k in range(first, last + 1)]
        return np.concatenate(parts)

    def row(self, i: int) -> np.ndarray:
        r = self.rows_per_chunk
        return self._chunk(i // r)[i % r]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows at arbitrary positions, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.row_shape), self.dtype)
        if not len(rows):
            return out
        chunk_of = rows // self.rows_per_chunk
        if len(rows) > 64:
            for k in np.unique(chunk_of):
                mask = chunk_of == k
                out[mask] = self._chunk(int(k))[rows[mask] - k * self.rows_per_chunk]
        else:
            for j, (k, i) in enumerate(zip(chunk_of.tolist(), rows.tolist())):
                out[j] = self._chunk(k)[i - k * self.rows_per_chunk]
        return out

    def read_bytes(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of a 1-D uint8 heap; ranged GETs when chunks are uncompressed."""
        if self.compression is not None:
            return self.read(start, stop).tobytes()
        r = self.rows_per_chunk
        parts = []
        for k in range(start // r, (stop - 1) // r + 1 if stop > start else start // r):
            lo, hi = max(start - k * r, 0), min(stop - k * r, r)
            part = self.store.get(f"{self.array.path}/c/{k}", lo, hi)
            parts.append(part if part is not None else bytes(hi - lo))
        return b"".join(parts)
