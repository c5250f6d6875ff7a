"""One zarr v3 array with samples on axis 0, read and written through fast paths.

Reads decode whole stored chunks directly (raw bytes, zstd, blosc or the LZ4 block format of
formats 1-2: exactly the codecs the array declares) and keep a few decoded chunks in a small cache, which avoids zarr's
per-call overhead (about 1.4 ms per ``arr[i]``) on random access. Uncompressed 1-D byte
heaps are read with byte-range requests, so one sample costs one ranged GET.

Writes take the same shortcut: each touched chunk is encoded here (raw bytes, zstd, blosc or
lz4, byte-identical to what zarr's codec pipeline produces) and put as one object, a partial chunk
merged with its stored rows and padded with the fill value to the full chunk shape as zarr
does; then the array's ``zarr.json`` is rewritten with the new shape: chunks first, metadata
last, one store call per chunk and one for the metadata instead of zarr's async round trips
(about 1 ms each). Arrays whose codecs or chunk layout this module does not reproduce exactly
are written through zarr.
"""

from __future__ import annotations

import functools
import mmap
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np
import zarr
from numcodecs import LZ4, Blosc, Zstd
import google_crc32c
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ZstdCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.storage import MemoryStore

from ..errors import CorruptChunkError, CorruptSampleError, SampleIndexError
from ..storage import ByteStore
from .codecs import LZ4_NAME, LZ4Codec, decompress, zarr_compressors
from .groups import v3_document

_CACHED_CHUNKS = 8
_MAX_PATCHED_ROWS = 4096
"""Updates of more rows of one chunk than this rewrite the chunk instead of patching it."""
_PROTOTYPE = default_buffer_prototype()

_CRC32C_RESIDUE = 0x48674BC7
"""crc32c of any bytes followed by their own crc32c (little-endian)."""


class ArrayHandle:
    """Rows of a zarr array ``(n, *row_shape)``; chunked along axis 0 only."""

    def __init__(self, path: str, metadata: ArrayV3Metadata, store: ByteStore, array: zarr.Array | None = None) -> None:
        self.store = store
        self.compression = stored_compression(metadata)
        """The compression of the stored chunks, read from the array's codecs (``codecs.decompress``
        undoes it): None, "zstd", "blosc" or "lz4" (the LZ4 block codec of formats 1-2)."""
        self.path = path
        self.dtype = np.dtype(metadata.data_type.to_native_dtype())
        self.row_shape: tuple[int, ...] = tuple(metadata.shape[1:])
        self.rows_per_chunk = int(metadata.chunk_grid.chunk_shape[0])
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._chunk_suffix = "/0" * len(self.row_shape)
        self.checksum = has_checksum(metadata)
        """Whether stored chunks end with zarr's crc32c checksum (4 bytes, little-endian)."""
        self._encode = _chunk_encoder(metadata, self.dtype)
        self._metadata = metadata
        # Arrays the fast path cannot write go through zarr, which then owns their metadata.
        self._zarr_array = array
        self._held: tuple[int, list[bytes | memoryview]] | None = None
        """A byte heap's last chunk (its number, the pieces of its bytes so far) appended with
        ``hold_tail`` and not stored yet (``append_blobs``); the pieces are the blobs' own bytes,
        never joined (a chunk-sized copy into fresh memory at every append)."""
        self._held_end: int | None = None
        """The heap's length with the bytes appended with ``hold_tail`` (its stored ``nrows``
        does not count them until they are stored); None when there are none."""

    @classmethod
    def create(cls, group: zarr.Group, name: str, store: ByteStore, *, dtype: str | np.dtype,
               row_shape: tuple[int, ...], chunk_bytes: int, compression: str | None) -> ArrayHandle:
        """A new empty array ``group/name``, replacing whatever was stored there (as zarr's
        ``create_array(..., overwrite=True)``, whose metadata document it writes), compressed as a
        tensor's ``compression`` ("zstd", "lz4" or None) asks: ``codecs.zarr_compressors``."""
        row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        rows = max(1, chunk_bytes // row_bytes)
        metadata = _new_metadata(str(np.dtype(dtype)), tuple(row_shape), rows, compression)
        path = _join(group.path, name)
        store.delete_dir(path)
        store.set(f"{path}/zarr.json", _document(metadata))
        return cls(path, metadata, store)

    @classmethod
    def open(cls, group: zarr.Group, name: str, store: ByteStore) -> ArrayHandle:
        """An existing array; its compression is read from its own codec list. Its metadata
        document is read straight from ``store`` (a version serves it from memory; no round trip
        through zarr's event loop, ~0.2 ms an array when a dataset's tensors are first opened);
        anything that is not a zarr v3 array document there is left to zarr, and its errors."""
        metadata = cls.stored_metadata(_join(group.path, name), store)
        if metadata is not None:
            return cls(_join(group.path, name), metadata, store)
        array = group[name]
        return cls(array.path, array.metadata, store, array)

    @classmethod
    def open_if_present(cls, group: zarr.Group, name: str, store: ByteStore) -> ArrayHandle | None:
        """The array ``group/name`` (as :meth:`open`), or None when there is none: no document at
        its path means no node (every zarr v3 node has one), without asking zarr (a trip through
        its event loop, made for each tensor a dataset creates)."""
        path = _join(group.path, name)
        raw = store.get(f"{path}/zarr.json")
        if raw is None:
            return None
        metadata = _parsed_metadata(raw if isinstance(raw, bytes) else bytes(raw))
        if metadata is not None:
            return cls(path, metadata, store)
        return cls.open(group, name, store) if name in group else None

    @staticmethod
    def stored_metadata(path: str, store: ByteStore) -> ArrayV3Metadata | None:
        """The zarr v3 array metadata stored at ``path``, or None when there is none or it is not
        one (absent, another zarr format, a group, damaged: callers then ask zarr, which reports
        the problem in its words). Storage errors are raised as ``ByteStore.get`` raises them."""
        raw = store.get(f"{path}/zarr.json")
        return None if raw is None else _parsed_metadata(raw if isinstance(raw, bytes) else bytes(raw))

    @property
    def _zarr(self) -> zarr.Array:
        if self._zarr_array is None:
            self._zarr_array = zarr.open_array(store=self.store.store, path=self.path,
                                               mode="r" if self.store.read_only else "r+")
        return self._zarr_array

    @property
    def nrows(self) -> int:
        return int(self._metadata.shape[0])

    # -- writing ------------------------------------------------------------------------------
    def resize(self, nrows: int) -> None:
        self.store_held()
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
        self.store.set(f"{self.path}/zarr.json", _document(metadata))
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
            elif lo < self.nrows and self._patch_rows(k, [(a - lo, rows[a - start: b - start])]):
                continue
            else:
                chunk = self._chunk(k).copy()
                chunk[a - lo: b - lo] = rows[a - start: b - start]
                self._remember(k, chunk)
            self.store.set(self._key(k), self._encode(chunk), complete=b == lo + r)
        if stop > self.nrows:
            self._set_nrows(stop)

    def _patch_rows(self, k: int, runs: list[tuple[int, np.ndarray]]) -> bool:
        """Write ``runs`` (first row within chunk ``k``, rows) into the stored chunk as byte
        ranges, without reading or rewriting the chunk (a version stores a small patch); False,
        writing nothing, when the chunk is compressed or not stored. A cached copy is updated."""
        if self.compression is not None:
            return False
        row_bytes = self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64))
        ranges = [(first * row_bytes, np.ascontiguousarray(values, self.dtype).tobytes()) for first, values in runs]
        if self.checksum:
            checksum = self._patched_checksum(k, row_bytes, ranges)
            if checksum is None:
                return False
            ranges.append(checksum)
        if not self.store.set_ranges(self._key(k), ranges):
            return False
        with self._cache_lock:
            cached = self._cache.get(k)
            if cached is not None:
                cached = cached.copy()
                for first, values in runs:
                    cached[first: first + len(values)] = values
                self._cache[k] = cached
        return True

    def write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Write ``values[j]`` at row ``rows[j]`` (existing rows, any order; a repeated row takes
        its last value), rewriting each touched chunk once."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return
        if int(rows.max()) >= self.nrows or int(rows.min()) < 0:
            raise IndexError(f"rows {rows.min()}..{rows.max()} are not all in 0..{self.nrows - 1}.")
        values = np.broadcast_to(np.asarray(values, dtype=self.dtype), (len(rows), *self.row_shape))
        if self._encode is None:
            for row, value in zip(rows.tolist(), values):
                self._zarr[row] = value
            self._cache.clear()
            return
        r = self.rows_per_chunk
        chunk_of = rows // r
        for k in np.unique(chunk_of).tolist():
            picked = np.flatnonzero(chunk_of == k)
            order = picked[np.argsort(rows[picked], kind="stable")]  # a repeated row: its last value wins
            if len(picked) <= _MAX_PATCHED_ROWS and self._patch_rows(
                    k, [(int(rows[j]) - k * r, values[j: j + 1]) for j in order.tolist()]):
                continue
            chunk = self._chunk(k).copy()
            chunk[rows[picked] - k * r] = values[picked]
            self._remember(k, chunk)
            self.store.set(self._key(k), self._encode(chunk))

    @property
    def can_hold(self) -> bool:
        """Whether ``append_blobs`` can hold a tail: a 1-D uint8 array this module writes."""
        return self._encode is not None and not self.row_shape and self.dtype == np.uint8

    def append_blobs(self, blobs: Sequence[bytes], *, hold_tail: bool = False) -> int:
        """Append the concatenation of ``blobs`` to a 1-D uint8 array; returns where it starts.

        Each stored chunk is joined from the pieces of the blobs that fall in it, so the whole
        concatenation never exists in memory: one big ``b"".join`` of a flush costs a page fault
        per 4 KiB of fresh memory. An uncompressed chunk is written from its pieces and its
        checksum (``ByteStore.set_parts``: one ``writev`` for a new object on local disk, no
        joined copy); a partial one (the array's new tail) is joined first, and kept. A chunk
        filled to its end is marked complete, so its write-back to disk starts at once.

        ``hold_tail`` (an array that ``can_hold``): a new last chunk not filled to its end is kept
        in memory, not stored, and the array's stored length stays as it was, until a later call
        without ``hold_tail`` (or ``store_held``) stores both: an append streamed in pieces writes
        each chunk once, when it is full, from bytes still in the CPU's caches, and the blobs can
        be freed at once (``TensorStore`` stages a ragged tensor's bytes this way). Readers of the
        array see stored bytes only; a held tail is stored first by ``resize`` and
        ``delete_rows``, and ``_chunk`` gives it if it is read."""
        base = self._held_end if self._held_end is not None else self.nrows
        if not self.can_hold:
            self.write(base, np.frombuffer(b"".join(blobs), np.uint8))
            return base
        lengths = np.fromiter(map(len, blobs), np.int64, len(blobs))
        ends = np.cumsum(lengths) + base
        starts = ends - lengths
        stop = base + int(lengths.sum())
        r = self.rows_per_chunk
        held, stored = self._held, self.nrows
        if stop > base:
            touched = range(base // r, (stop - 1) // r + 1)
        else:  # nothing new: only a held tail to store
            touched = range(held[0], held[0] + 1) if held is not None and not hold_tail else range(0)
        new_held = None
        for k in touched:
            lo, hi = k * r, k * r + r
            end = min(stop, hi)
            parts: list[bytes | memoryview] = []
            if lo < base:  # the chunk's bytes so far: held here (exactly those), or stored
                if held is not None and held[0] == k:
                    parts += held[1]
                else:
                    parts.append(memoryview(self._chunk(k))[: base - lo])
            first = int(np.searchsorted(ends, lo, side="right"))  # blobs[first:last] overlap [lo, end)
            last = int(np.searchsorted(starts, end, side="left"))
            if first < last:
                head, tail = max(lo - int(starts[first]), 0), max(int(ends[last - 1]) - end, 0)
                if first == last - 1:
                    parts.append(memoryview(blobs[first])[head: len(blobs[first]) - tail] if head or tail
                                 else blobs[first])
                else:
                    parts.append(memoryview(blobs[first])[head:] if head else blobs[first])
                    parts += blobs[first + 1: last - 1]
                    parts.append(memoryview(blobs[last - 1])[: len(blobs[last - 1]) - tail] if tail
                                 else blobs[last - 1])
            if end < hi and hold_tail:
                new_held = (k, parts)
                with self._cache_lock:
                    self._cache.pop(k, None)
                continue
            if lo < stored:  # the chunk is stored up to ``stored``: the bytes after it, over its padding
                after = b"".join(parts)[stored - lo:] if held is not None and held[0] == k else \
                    b"".join(parts[1:])  # (parts[0]: the stored bytes)
                if self._patch_rows(k, [(stored - lo, np.frombuffer(after, np.uint8)[: end - stored])]):
                    continue
            if end < hi:  # a new partial tail, padded, kept joined: the next append extends it
                parts.append(bytes(hi - end))
                chunk = b"".join(parts)
                self._remember(k, np.frombuffer(chunk, np.uint8))
                parts = [chunk]
            else:
                with self._cache_lock:
                    self._cache.pop(k, None)
            # a chunk filled to its end is complete: later appends leave it alone
            if self.compression is None:
                self.store.set_parts(self._key(k), _stored_parts(parts, self.checksum), complete=end == hi)
            else:
                self.store.set(self._key(k), self._encode(b"".join(parts)), complete=end == hi)
        self._held = new_held
        if hold_tail:
            self._held_end = stop
        else:
            self._held_end = None
            if stop > self.nrows:
                self._set_nrows(stop)
        return base

    def store_held(self) -> None:
        """Store what ``append_blobs(hold_tail=True)`` held: the tail chunk and the length."""
        if self._held_end is not None:
            self.append_blobs([])

    def delete_rows(self, rows: np.ndarray, nrows: int) -> None:
        """Remove the given (sorted, unique) row numbers of the first ``nrows``; shift the rest down."""
        self.store_held()
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
        with self._cache_lock:  # readers on several threads share the cache
            self._cache[k] = chunk
            self._cache.move_to_end(k)
            if len(self._cache) > _CACHED_CHUNKS:
                self._cache.popitem(last=False)

    def _chunk(self, k: int) -> np.ndarray:
        held = self._held
        if held is not None and held[0] == k:  # (a reader that did not store the held tail first)
            data = b"".join(held[1])
            return np.frombuffer(data + bytes(self.rows_per_chunk - len(data)), np.uint8)
        with self._cache_lock:
            cached = self._cache.get(k)
            if cached is not None:
                self._cache.move_to_end(k)
                return cached
        raw = self.store.get(self._key(k))
        shape = (self.rows_per_chunk, *self.row_shape)
        if raw is None:
            chunk = np.zeros(shape, self.dtype)
        else:
            chunk = self._decode_chunk(k, raw, shape)
        self._remember(k, chunk)
        return chunk

    def _chunks(self, ks: list[int]) -> list[np.ndarray]:
        """Chunks ``ks`` as ``_chunk`` gives them; those not cached are read together
        (``ByteStore.get_many``: on an object store about one round trip for all, not one each)."""
        with self._cache_lock:
            found = {k: self._cache[k] for k in ks if k in self._cache}
        missing = [k for k in ks if k not in found]
        if len(missing) < 2:
            return [found[k] if k in found else self._chunk(k) for k in ks]
        shape = (self.rows_per_chunk, *self.row_shape)
        for k, raw in zip(missing, self.store.get_many([self._key(k) for k in missing])):
            found[k] = np.zeros(shape, self.dtype) if raw is None else self._decode_chunk(k, raw, shape)
            self._remember(k, found[k])
        return [found[k] for k in ks]

    def _patched_checksum(self, k: int, row_bytes: int, ranges: list[tuple[int, bytes]]) -> tuple[int, bytes] | None:
        """The range that rewrites chunk ``k``'s crc32c trailer for ``ranges`` written over it,
        computed without reading the chunk: CRC-32C is affine, so for equal-length messages
        crc(new) = crc(old) ^ crc(old ^ new) ^ crc(zeros), and ``old ^ new`` is zero outside the
        ranges (only their old bytes are read, or the chunk itself when it is cached or the
        ranges are many). None when the chunk is not stored."""
        length = self.rows_per_chunk * row_bytes
        ranges = _last_write_wins(ranges)
        with self._cache_lock:
            cached = self._cache.get(k)
        if cached is None and len(ranges) > 16:
            cached = self._chunk(k)
        wanted = [(length, length + 4)]
        if cached is None:  # the old bytes of every range, with the trailer, in one read
            wanted += [(offset, offset + len(new)) for offset, new in ranges]
        found = self.store.get_ranges(self._key(k), wanted)
        if found is None or len(found[0]) != 4:
            return None
        stored, olds = found[0], found[1:]
        whole = None if cached is None else memoryview(np.ascontiguousarray(cached)).cast("B")
        crc, at = 0, 0
        for j, (offset, new) in enumerate(ranges):
            old = whole[offset: offset + len(new)] if whole is not None else olds[j]
            crc = _extend_zeros(crc, offset - at)
            crc = google_crc32c.extend(crc, (np.frombuffer(bytes(old), np.uint8) ^ np.frombuffer(new, np.uint8)).tobytes())
            at = offset + len(new)
        crc = _extend_zeros(crc, length - at)
        # all crc32c values (google_crc32c.extend continues a value), combined by the affine rule
        checksum = int.from_bytes(stored, "little") ^ crc ^ _zeros_crc(length)
        return length, checksum.to_bytes(4, "little")

    def chunk_key(self, k: int) -> str:
        """The store key of chunk ``k`` (for readers that fetch byte ranges of it directly)."""
        return self._key(k)

    def read_chunk(self, k: int, kept: bool = False) -> np.ndarray:
        """Stored chunk ``k`` decoded as a read-only ``(rows_per_chunk, *row_shape)`` array,
        read now (the handle's cache is neither used nor filled: for readers that keep their
        own); zeros when the chunk was never written. CorruptChunkError when it is damaged.
        ``kept``: the caller keeps the chunk (a cache), so an uncompressed one is read with
        ``ByteStore.get_buffer`` where it can be (a view of the file's memory map, checked once
        here: no copy into fresh memory); a chunk read once is copied, which costs less than
        setting up and tearing down a map (whose teardown also stalls the other threads'
        page faults)."""
        key = self._key(k)
        raw = self.store.get_buffer(key) if kept and self.compression is None else None
        if raw is None:
            raw = self.store.get(key)
        shape = (self.rows_per_chunk, *self.row_shape)
        return np.zeros(shape, self.dtype) if raw is None else self._decode_chunk(k, raw, shape)

    def chunk_bytes(self, k: int) -> bytes:
        """The decoded bytes of stored chunk ``k`` (checksum verified, decompressed; zeros when
        the chunk was never written), for readers that slice a 1-D heap themselves."""
        raw = self.store.get(self._key(k))
        if raw is None:
            return bytes(self.rows_per_chunk * self.dtype.itemsize)
        return self._decode_chunk(k, raw, (self.rows_per_chunk, *self.row_shape)).tobytes()

    @property
    def direct(self) -> bool:
        """Whether this handle reads and writes the stored chunks itself (codecs it reproduces
        exactly: raw bytes, then zstd, blosc or lz4, then a crc32c checksum, each optional)."""
        return self._encode is not None

    @property
    def ranges_readable(self) -> bool:
        """Whether byte ranges of the stored chunks are the array's bytes (uncompressed chunks,
        any checksum only trailing), so a reader may fetch sample bytes with ranged GETs."""
        return self.compression is None and self.direct

    def _decode_chunk(self, k: int, raw: bytes | memoryview | mmap.mmap, shape: tuple[int, ...]) -> np.ndarray:
        """Stored chunk ``k`` (``raw``: its stored bytes, or a buffer over them such as a memory
        map) as an array; CorruptChunkError naming it when its bytes do not decompress or do not
        hold exactly one chunk."""
        if self.checksum:  # bytes followed by their crc32c have a fixed crc32c: no copy of the body to check
            if len(raw) < 4 or google_crc32c.value(_readonly(raw)) != _CRC32C_RESIDUE:
                raise self._damaged(k, "its checksum does not match its bytes")
            raw = memoryview(raw)[:-4] if self.compression is None else raw[:-4]
        expected = int(np.prod(shape)) * self.dtype.itemsize
        try:
            data = decompress(raw, self.compression, expected)
        except CorruptSampleError as exc:
            raise self._damaged(k, f"it cannot be decompressed: {exc.__cause__ or exc}") from None
        if len(data) != expected:
            raise self._damaged(k, f"it holds {len(data)} bytes where a chunk has {expected}")
        return np.frombuffer(data, self.dtype).reshape(shape)

    def _damaged(self, k: int, why: str) -> CorruptChunkError:
        return CorruptChunkError(f"The stored chunk {self.store.describe(self._key(k))} is damaged ({why}). Nothing "
                                 "was changed; restore that file from a backup, or check out an earlier commit.")

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
        self._check_rows(i)
        r = self.rows_per_chunk
        return self._chunk(i // r)[i % r]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows at arbitrary positions, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.row_shape), self.dtype)
        if not len(rows):
            return out
        self._check_rows(int(rows.max()))
        chunk_of = rows // self.rows_per_chunk
        if len(rows) > 64:
            chunks = np.unique(chunk_of).tolist()
            for first in range(0, len(chunks), _READ_TOGETHER):
                group = chunks[first:first + _READ_TOGETHER]
                for k, chunk in zip(group, self._chunks(group)):
                    mask = chunk_of == k
                    out[mask] = chunk[rows[mask] - k * self.rows_per_chunk]
        else:
            for j, (k, i) in enumerate(zip(chunk_of.tolist(), rows.tolist())):
                found = self._patched_row(k, i - k * self.rows_per_chunk)
                out[j] = found if found is not None else self._chunk(k)[i - k * self.rows_per_chunk]
        return out

    def _patched_row(self, k: int, within: int) -> np.ndarray | None:
        """Row ``within`` of chunk ``k`` from a small verified write over the stored chunk (a
        version's patch: an updated sample) when the chunk is not cached, without reading the
        chunk; None when it must be read (``ByteStore.patched_bytes``)."""
        if not self.ranges_readable:
            return None
        with self._cache_lock:
            if k in self._cache:
                return None
        row_bytes = self.dtype.itemsize * max(1, int(np.prod(self.row_shape, dtype=np.int64)))
        data = self.store.patched_bytes(self._key(k), within * row_bytes, (within + 1) * row_bytes)
        return None if data is None else np.frombuffer(data, self.dtype).reshape(self.row_shape)

    def peek(self, rows: np.ndarray) -> np.ndarray:
        """Rows at arbitrary positions, as :meth:`take` gives them, but a few rows of chunks that
        are not cached are read as byte ranges of uncompressed chunks, whose checksums are then
        not verified. For checks whose mismatch falls back to a verified read (a garbled byte can
        only make a check fail); never for values that are kept or returned to a user."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows) or len(rows) > 64 or not self.ranges_readable:
            return self.take(rows)
        self._check_rows(int(rows.max()))
        row_bytes = self.dtype.itemsize * max(1, int(np.prod(self.row_shape, dtype=np.int64)))
        out = np.empty((len(rows), *self.row_shape), self.dtype)
        chunk_of = rows // self.rows_per_chunk
        for k in np.unique(chunk_of).tolist():
            picked = np.flatnonzero(chunk_of == k)
            within = rows[picked] - k * self.rows_per_chunk
            with self._cache_lock:
                cached = self._cache.get(k)
            if cached is not None:
                out[picked] = cached[within]
                continue
            parts = self.store.get_ranges(self._key(k), [(int(i) * row_bytes, (int(i) + 1) * row_bytes)
                                                         for i in within.tolist()])
            if parts is None or any(len(p) != row_bytes for p in parts):
                out[picked] = self._chunk(k)[within]  # absent or short: the verified read says what it is
                continue
            out[picked] = np.frombuffer(b"".join(parts), self.dtype).reshape((len(picked), *self.row_shape))
        return out

    def _check_rows(self, last: int) -> None:
        """SampleIndexError for a row past the end: its chunk's fill values are no sample (a view
        of a dataset whose tensors differ in length may name such rows)."""
        if last >= self.nrows:
            raise SampleIndexError(f"Row {last} is past the end of {self.path!r} ({self.nrows} rows): the dataset's "
                                   "tensors differ in length. Read the rows every tensor has (ds.min_view), "
                                   "or ds.max_view, where shorter tensors read as empty samples.")

    def read_bytes(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of a 1-D uint8 heap; ranged GETs when chunks are uncompressed."""
        if self.compression is not None:
            return self.read(start, stop).tobytes()
        r = self.rows_per_chunk
        parts = []
        for k in range(start // r, (stop - 1) // r + 1 if stop > start else start // r):
            lo, hi = max(start - k * r, 0), min(stop - k * r, r)
            part = self.store.get(self._key(k), lo, hi)
            if part is not None and len(part) != hi - lo:
                raise self._damaged(k, f"bytes {lo}..{hi} were asked and it ends after {lo + len(part)}")
            parts.append(part if part is not None else bytes(hi - lo))
        return b"".join(parts)


_ZEROS = np.zeros(1 << 20, np.uint8)
_ZEROS.flags.writeable = False


def _readonly(raw: Any) -> bytes | np.ndarray:
    """``raw`` (bytes, a memory map, any buffer) as ``google_crc32c`` takes it, a read-only
    buffer, without copying it."""
    if isinstance(raw, bytes):
        return raw
    view = np.frombuffer(raw, np.uint8)
    view.flags.writeable = False
    return view


def _extend_zeros(crc: int, count: int) -> int:
    """``google_crc32c.extend`` of ``crc`` over ``count`` zero bytes (views of one zero buffer:
    a slice copy of it would cost more than the checksum)."""
    while count > 0:
        step = min(count, len(_ZEROS))
        crc = google_crc32c.extend(crc, _ZEROS[:step])
        count -= step
    return crc


_ZERO_CRCS: dict[int, int] = {}


def _zeros_crc(length: int) -> int:
    """The crc32c of ``length`` zero bytes (cached per length: one per chunk size)."""
    crc = _ZERO_CRCS.get(length)
    if crc is None:
        crc = _ZERO_CRCS[length] = _extend_zeros(0, length)
    return crc


def _last_write_wins(ranges: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """``ranges`` sorted by offset, a range written twice at one offset kept once (its last
    bytes); ranges must not otherwise overlap (rows of one chunk never do)."""
    latest: dict[int, bytes] = {}
    for offset, data in ranges:
        latest[offset] = data
    return sorted(latest.items())


def has_checksum(metadata: ArrayV3Metadata) -> bool:
    """Whether an array's codecs end with zarr's crc32c."""
    codecs = tuple(metadata.codecs)
    return bool(codecs) and isinstance(codecs[-1], Crc32cCodec)


def _join(group_path: str, name: str) -> str:
    return f"{group_path}/{name}" if group_path else name


def _document(metadata: ArrayV3Metadata) -> bytes:
    return metadata.to_buffer_dict(_PROTOTYPE)["zarr.json"].to_bytes()


_TEMPLATES: dict[tuple[str, tuple[int, ...], int, str | None], ArrayV3Metadata] = {}


@functools.lru_cache(maxsize=4096)
def _parsed_metadata(raw: bytes) -> ArrayV3Metadata | None:
    """:meth:`ArrayHandle.stored_metadata` of a document's bytes, parsed once per distinct
    document (a merge or diff opens the same arrays in several versions; zarr's parse costs
    ~0.15 ms an array). The metadata objects are frozen, so handles may share them."""
    doc = v3_document(raw, "array")
    if doc is None:
        return None
    try:
        return ArrayV3Metadata.from_dict(doc)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _new_metadata(dtype: str, row_shape: tuple[int, ...], rows: int, compression: str | None) -> ArrayV3Metadata:
    """The metadata zarr's ``create_array`` writes for an empty ``(0, *row_shape)`` array chunked
    ``rows`` at a time: made by zarr itself, once per layout, on an in-memory store."""
    key = (dtype, row_shape, rows, compression)
    metadata = _TEMPLATES.get(key)
    if metadata is None:
        compressors = zarr_compressors(compression, dtype=dtype)
        template = zarr.create_array(MemoryStore(), shape=(0, *row_shape), chunks=(rows, *row_shape),
                                     dtype=dtype, compressors=compressors, fill_value=0)
        metadata = _TEMPLATES[key] = template.metadata
    return metadata


def _chunk_encoder(meta: ArrayV3Metadata, dtype: np.dtype) -> Callable[[np.ndarray | bytes], bytes] | None:
    """Chunk array -> stored bytes, exactly as zarr would encode them for an array with metadata
    ``meta``; None when the array uses anything else than a regular axis-0 chunk grid, default
    ``c/`` keys, a zero fill value, native little-endian bytes and at most one zstd, blosc or lz4
    compressor."""
    if (getattr(meta, "zarr_format", None) != 3 or not isinstance(meta.chunk_grid, RegularChunkGrid)
            or meta.chunk_key_encoding != DefaultChunkKeyEncoding(separator="/")
            or tuple(meta.chunk_grid.chunk_shape[1:]) != tuple(meta.shape[1:]) or meta.fill_value != 0
            or meta.storage_transformers or dtype.hasobject):
        return None
    codecs = tuple(meta.codecs)
    if has_checksum(meta):
        inner = _chunk_encoder_for(codecs[:-1], dtype)
        if inner is None:
            return None
        return lambda chunk: _with_checksum(inner(chunk))
    return _chunk_encoder_for(codecs, dtype)


_READ_TOGETHER = 16
"""Chunks ``ArrayHandle.take`` reads together at most (their decoded arrays are held at once)."""


def _with_checksum(data: bytes) -> bytes:
    return bytes(data) + google_crc32c.value(data).to_bytes(4, "little")


def _stored_parts(parts: Sequence[bytes | memoryview], checksum: bool) -> list[bytes | memoryview]:
    """The stored bytes of an uncompressed chunk given as the pieces it joins, as pieces: with
    zarr's crc32c of them as a last piece when ``checksum`` (what ``_with_checksum(b"".join(
    parts))`` gives, joined): written as they are (``ByteStore.set_parts``), the chunk is never
    copied into one fresh chunk-sized buffer (a page fault per 4 KiB, then a copy)."""
    if not checksum:
        return list(parts)
    crc = 0
    for part in parts:
        crc = google_crc32c.extend(crc, part if isinstance(part, bytes) else bytes(part))
    return [*parts, crc.to_bytes(4, "little")]


def _chunk_encoder_for(codecs: tuple, dtype: np.dtype) -> Callable[[np.ndarray | bytes], bytes] | None:
    """The encoder for an array-to-bytes ``BytesCodec`` and at most one zstd, blosc or lz4 compressor."""
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
    elif isinstance(codec, BloscCodec):  # as zarr's BloscCodec: its settings, over the chunk's bytes
        compressor = Blosc(cname=codec.cname.value, clevel=codec.clevel, shuffle=_SHUFFLES[codec.shuffle.value],
                           blocksize=codec.blocksize, typesize=codec.typesize)
        return lambda chunk: compressor.encode(chunk if isinstance(chunk, bytes) else _as_bytes(chunk))
    else:
        return None
    return lambda chunk: compressor.encode(chunk)


_SHUFFLES = {"noshuffle": Blosc.NOSHUFFLE, "shuffle": Blosc.SHUFFLE, "bitshuffle": Blosc.BITSHUFFLE}


def _as_bytes(chunk: np.ndarray) -> np.ndarray:
    """A chunk's bytes as a flat uint8 array (no copy when contiguous): blosc is given bytes, as
    zarr gives them, so the shuffle works on the codec's ``typesize``."""
    return np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)


def stored_compression(metadata: ArrayV3Metadata) -> str | None:
    """The chunk compression an array's codecs declare ("zstd", "blosc", "lz4" or None)."""
    names = {codec.to_dict()["name"] for codec in metadata.codecs}
    return next((name for name in ("zstd", "blosc") if name in names), "lz4" if LZ4_NAME in names else None)
