"""One zarr v3 array with samples on axis 0, read and written through fast paths.

Reads decode whole stored chunks directly (raw bytes, zstd or lz4, exactly the codecs the
array declares) and keep a few decoded chunks in a small cache, which avoids zarr's
per-call overhead (about 1.4 ms per ``arr[i]``) on random access. Uncompressed 1-D byte
heaps are read with byte-range requests, so one sample costs one ranged GET.

Writes take the same shortcut: each touched chunk is encoded here (raw bytes, zstd or lz4,
byte-identical to what zarr's codec pipeline produces) and put as one object, a partial chunk
merged with its stored rows and padded with the fill value to the full chunk shape as zarr
does; then the array's ``zarr.json`` is rewritten with the new shape: chunks first, metadata
last, one store call per chunk and one for the metadata instead of zarr's async round trips
(about 1 ms each). Arrays whose codecs or chunk layout this module does not reproduce exactly
are written through zarr.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import zarr
from numcodecs import LZ4, Zstd
from zarr.codecs import BytesCodec, ZstdCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding

from ..storage import ByteStore
from .codecs import LZ4Codec, decompress, zarr_compressors

_CACHED_CHUNKS = 8
_PROTOTYPE = default_buffer_prototype()


class ArrayHandle:
    """Rows of a zarr array ``(n, *row_shape)``; chunked along axis 0 only."""

    def __init__(self, array: zarr.Array, store: ByteStore, compression: str | None) -> None:
        self.store = store
        self.compression = compression
        self.path: str = array.path
        self.dtype = np.dtype(array.dtype)
        self.row_shape: tuple[int, ...] = tuple(array.shape[1:])
        self.rows_per_chunk = int(array.chunks[0])
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._chunk_suffix = "/0" * len(self.row_shape)
        self._encode = _chunk_encoder(array, self.dtype)
        # With the fast path this module owns the array's metadata document; otherwise zarr does.
        self._zarr = array
        self._metadata = array.metadata

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
        return int(self._metadata.shape[0])

    # -- writing ------------------------------------------------------------------------------
    def resize(self, nrows: int) -> None:
        if nrows != self.nrows:
            self._set_nrows(nrows)
            self._cache.clear()

    def _set_nrows(self, nrows: int) -> None:
        """Change the array's length: drop the chunks past the end, then write the metadata."""
        if self._encode is None:
            self._zarr.resize((nrows, *self.row_shape))
            self._metadata = self._zarr.metadata
            return
        r = self.rows_per_chunk
        for k in range(-(-nrows // r), -(-self.nrows // r)):
            self.store.delete(self._key(k))
        metadata = self._metadata.update_shape((nrows, *self.row_shape))
        for name, buf in metadata.to_buffer_dict(_PROTOTYPE).items():
            self.store.set(f"{self.path}/{name}", buf.to_bytes())
        self._metadata = metadata

    def write(self, start: int, rows: np.ndarray) -> None:
        """Write ``rows`` at ``start``, growing the array to fit."""
        stop = start + len(rows)
        if self._encode is None:
            if stop > self.nrows:
                self._zarr.resize((stop, *self.row_shape))
                self._metadata = self._zarr.metadata
            if len(rows):
                self._zarr[start:stop] = rows
            self._cache.clear()
            return
        rows = np.asarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.row_shape:  # broadcast like zarr's setitem, or raise before writing
            rows = np.broadcast_to(rows, (len(rows), *self.row_shape))
        rows = np.ascontiguousarray(rows)
        r = self.rows_per_chunk
        for k in range(start // r, (stop - 1) // r + 1 if stop > start else 0):
            lo = k * r
            a, b = max(start, lo), min(stop, lo + r)
            if a == lo and b == lo + r:
                chunk = rows[a - start: b - start]
                self._cache.pop(k, None)
            else:
                chunk = self._chunk(k).copy()
                chunk[a - lo: b - lo] = rows[a - start: b - start]
                self._remember(k, chunk)
            self.store.set(self._key(k), self._encode(chunk))
        if stop > self.nrows:
            self._set_nrows(stop)

    def append_blobs(self, blobs: Sequence[bytes]) -> int:
        """Append the concatenation of ``blobs`` to a 1-D uint8 array; returns where it starts.

        Each stored chunk is joined from the pieces of the blobs that fall in it, so the whole
        concatenation never exists in memory: one big ``b"".join`` of a flush costs a page fault
        per 4 KiB of fresh memory, a chunk-sized join reuses the allocator's memory.
        (Gathering the pieces with ``os.writev`` instead of joining them measured no faster.)"""
        base = self.nrows
        if self._encode is None or self.row_shape or self.dtype != np.uint8:
            self.write(base, np.frombuffer(b"".join(blobs), np.uint8))
            return base
        stop = base + sum(len(b) for b in blobs)
        r = self.rows_per_chunk
        pieces = iter(blobs)
        current = memoryview(b"")
        pos = base
        for k in range(base // r, (stop - 1) // r + 1 if stop > base else 0):
            lo, hi = k * r, k * r + r
            parts: list[bytes | memoryview] = []
            if pos > lo:
                parts.append(memoryview(self._chunk(k))[: pos - lo])
            end = min(stop, hi)
            while pos < end:
                if not len(current):
                    current = memoryview(next(pieces)).cast("B")
                    continue
                piece = current[: end - pos]
                parts.append(piece)
                current = current[len(piece):]
                pos += len(piece)
            if end < hi:
                parts.append(bytes(hi - end))
            chunk = b"".join(parts)
            if lo < base or end < hi:
                self._remember(k, np.frombuffer(chunk, np.uint8))
            else:
                self._cache.pop(k, None)
            self.store.set(self._key(k), self._encode(chunk))
        if stop > base:
            self._set_nrows(stop)
        return base

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
    def _key(self, k: int) -> str:
        return f"{self.path}/c/{k}{self._chunk_suffix}"

    def _remember(self, k: int, chunk: np.ndarray) -> None:
        self._cache[k] = chunk
        self._cache.move_to_end(k)
        if len(self._cache) > _CACHED_CHUNKS:
            self._cache.popitem(last=False)

    def _chunk(self, k: int) -> np.ndarray:
        cached = self._cache.get(k)
        if cached is not None:
            self._cache.move_to_end(k)
            return cached
        raw = self.store.get(self._key(k))
        shape = (self.rows_per_chunk, *self.row_shape)
        if raw is None:
            chunk = np.zeros(shape, self.dtype)
        else:
            chunk = np.frombuffer(decompress(raw, self.compression), self.dtype).reshape(shape)
        self._remember(k, chunk)
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
            part = self.store.get(self._key(k), lo, hi)
            parts.append(part if part is not None else bytes(hi - lo))
        return b"".join(parts)


def _chunk_encoder(array: zarr.Array, dtype: np.dtype) -> Callable[[np.ndarray | bytes], bytes] | None:
    """Chunk array -> stored bytes, exactly as zarr would encode them for ``array``; None when the
    array uses anything else than a regular axis-0 chunk grid, default ``c/`` keys, a zero fill
    value, native little-endian bytes and at most one zstd or lz4 compressor."""
    meta = array.metadata
    if (getattr(meta, "zarr_format", None) != 3 or not isinstance(meta.chunk_grid, RegularChunkGrid)
            or meta.chunk_key_encoding != DefaultChunkKeyEncoding(separator="/")
            or tuple(meta.chunk_grid.chunk_shape[1:]) != tuple(meta.shape[1:]) or meta.fill_value != 0
            or meta.storage_transformers or dtype.hasobject):
        return None
    codecs = tuple(meta.codecs)
    if not codecs or not isinstance(codecs[0], BytesCodec):
        return None
    endian = codecs[0].endian
    if dtype.itemsize > 1 and (sys.byteorder != "little" or endian is None or endian.value != "little"):
        return None
    if len(codecs) == 1:
        return lambda chunk: chunk if isinstance(chunk, bytes) else chunk.tobytes()
    if len(codecs) > 2:
        return None
    codec = codecs[1]
    if isinstance(codec, ZstdCodec):
        compressor = Zstd(level=codec.level, checksum=codec.checksum)
    elif isinstance(codec, LZ4Codec):
        compressor = LZ4(acceleration=codec.acceleration)
    else:
        return None
    return lambda chunk: compressor.encode(chunk)
