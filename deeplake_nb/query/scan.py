"""Read the tensors a query needs, as whole columns, without decoding what it does not need.

``TensorScan`` turns (tensor, sample positions) into a ``values.Value``:

- dense numeric tensors: the stored chunks are read straight into one ``(n, *shape)`` array
  (chunk bytes from the store without an intermediate copy, a slice copy per chunk);
- text and JSON tensors: the index rows and the byte heap are read in bulk, and text becomes
  an Arrow string array over the heap bytes (no per-sample object, no per-sample request);
  ``contains(text, 'needle')`` over consecutive rows does not even build that: the heap chunks
  are searched in place and each hit is mapped to its row by the sample offsets
  (``TensorScan.text_contains``);
- other ragged tensors (boxes, encoded images): bulk heap read, then one decode per sample
  through the tensor's own ``SampleCodec``;
- sequences and links: through the public ``Tensor`` API.

``shapes`` reads only the shape side array, so ``shape(images)`` never decodes an image.

On a dataset opened read-only (a snapshot: its chunks cannot change under it), chunks that
were read stay in memory, up to ``CACHE_BYTES`` per dataset (least recently used first out),
like a database's buffer pool; a text tensor whose values repeat a lot is also kept
dictionary-encoded, so that string predicates run once per distinct value. Writable datasets
are always read from storage.

The bulk paths use the format layer's column objects (``AdaptiveColumn``, ``ArrayHandle``);
when they are not what this module expects, it falls back to the ``Tensor`` API.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core import internal
from ..core.dataset import Dataset
from ..core.tensor import Tensor
from ..format.codecs import decompress
from ..format.sample_codec import SampleCodec
from .values import Const, Dense, Objects, Ragged, Text, Value, densify

try:  # zarr's default CPU buffer prototype: lets us take chunk bytes without a copy
    from zarr.core.buffer import default_buffer_prototype
    _PROTOTYPE: Any = default_buffer_prototype()
except ImportError:  # pragma: no cover
    _PROTOTYPE = None

_GAP_BYTES = 1 << 20  # heap spans further apart than this are read separately
CACHE_BYTES = 1 << 30  # chunks kept in memory per read-only dataset (0: no cache)
DICTIONARY_RATIO = 0.25  # text is kept dictionary-encoded when distinct values <= this share of rows
DICTIONARY_AFTER = 1     # whole reads of a text tensor searched plainly before its dictionary is built
SEARCH_SPOTS_PER_ROW = 0.5  # contains() searches the heap when its needle's rarest byte is rarer than this


class Cache:
    """Decoded chunks and dictionary-encoded text of one read-only dataset (thread-safe LRU)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._sizes: dict[Any, int] = {}
        self.nbytes = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Any, item: Any, nbytes: int) -> None:
        if nbytes > CACHE_BYTES:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self._sizes[key] = nbytes
            self.nbytes += nbytes
            while self.nbytes > CACHE_BYTES and self._items:
                old, _ = self._items.popitem(last=False)
                self.nbytes -= self._sizes.pop(old)


_CACHES: dict[int, tuple[weakref.ref, Cache]] = {}  # id(store) -> (store, its cache); stores are unhashable
_CACHES_LOCK = threading.RLock()
"""Reentrant: a store's finalizer (``_forget``) may run from the garbage collector on a thread
that holds the lock (any allocation under it can collect), and must not wait for itself."""


def cache_for(dataset: Any) -> Cache | None:
    """The cache of a dataset opened read-only, or None (writable, or caching off). It belongs to
    the store of the version being read, so a checkout of another version starts a new one."""
    state = internal.state(dataset) if isinstance(dataset, Dataset) else None
    if CACHE_BYTES <= 0 or state is None or not state.read_only:
        return None
    store = state.zarr_store
    with _CACHES_LOCK:
        found = _CACHES.get(id(store))
        if found is not None and found[0]() is store:
            return found[1]
        try:
            ref = weakref.ref(store)
        except TypeError:  # a store that takes no weak reference: no cache
            return None
        cache = Cache()
        _CACHES[id(store)] = (ref, cache)
        weakref.finalize(store, _forget, id(store), ref)
        return cache


def _forget(key: int, ref: weakref.ref) -> None:
    with _CACHES_LOCK:
        if key in _CACHES and _CACHES[key][0] is ref:
            del _CACHES[key]


def as_array(positions: np.ndarray | range) -> np.ndarray:
    """Sample positions as an int64 array (``range`` is how consecutive positions travel)."""
    if isinstance(positions, range):
        return np.arange(positions.start, positions.stop, dtype=np.int64)
    return np.asarray(positions, np.int64)


class _Reading:
    """A chunk being read by one thread, for the others that want it too."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.chunk: np.ndarray | None = None
        self.error: BaseException | None = None


class ChunkReader:
    """Rows of one ``ArrayHandle`` read chunk by chunk, straight from the store."""

    def __init__(self, handle: Any, cache: Cache | None = None) -> None:
        self.handle = handle
        self.cache = cache
        self.rows_per_chunk = int(handle.rows_per_chunk)
        self.row_shape = tuple(handle.row_shape)
        self.dtype = np.dtype(handle.dtype)
        self.nrows = int(handle.nrows)
        self._chunk_bytes = self.rows_per_chunk * max(1, math.prod(self.row_shape)) \
            * self.dtype.itemsize
        byte_store = handle.store
        zarr_store = getattr(byte_store, "store", None)
        self._get_sync = getattr(zarr_store, "get_sync", None) if _PROTOTYPE is not None else None
        self._byte_store = byte_store
        key = getattr(handle, "chunk_key", None)
        if key is None:
            path = handle.path if hasattr(handle, "path") else handle.array.path
            suffix = "/0" * len(self.row_shape)
            key = lambda k: f"{path}/c/{k}{suffix}"  # noqa: E731
        self._key = key
        self._last: tuple[int, np.ndarray] | None = None  # the last chunk read (one tuple: thread-safe)
        self._lock = threading.Lock()
        self._reading: dict[int, _Reading] = {}  # chunks being read by some thread (cached readers)

    def chunk(self, k: int) -> np.ndarray:
        """Chunk ``k`` as a (rows_per_chunk, *row_shape) read-only array."""
        last = self._last
        if last is not None and last[0] == k:
            return last[1]
        key = (self.handle.path if hasattr(self.handle, "path") else id(self.handle), k)
        chunk = self.cache.get(key) if self.cache is not None else None
        if chunk is None:
            chunk = self._read_chunk(k) if self.cache is None else self._read_shared(k, key)
        self._last = (k, chunk)
        return chunk

    def _read_shared(self, k: int, key: Any) -> np.ndarray:
        """Chunk ``k`` read once into the cache even when several threads ask for it at once
        (batches of a scan that share a heap chunk): the others wait for that read."""
        assert self.cache is not None
        with self._lock:
            reading = self._reading.get(k)
            owner = reading is None
            if owner:
                reading = self._reading[k] = _Reading()
        assert reading is not None
        if not owner:
            reading.done.wait()
            if reading.chunk is None:  # the reading thread failed: the same error here
                raise reading.error if reading.error is not None else RuntimeError(f"chunk {k} was not read")
            return reading.chunk
        try:
            chunk = self.cache.get(key)
            if chunk is None:
                chunk = self._read_chunk(k)
                chunk.flags.writeable = False
                self.cache.put(key, chunk, chunk.nbytes)
            reading.chunk = chunk
            return chunk
        except BaseException as exc:
            reading.error = exc
            raise
        finally:
            with self._lock:
                del self._reading[k]
            reading.done.set()

    def derived(self, k: int, tag: str, make: Callable[[np.ndarray], tuple[Any, int]], after: int = 0) -> Any:
        """Something computed from chunk ``k`` once and kept in the cache next to it (e.g. the
        8-bit copy of a vector chunk): ``make(chunk)`` gives (item or None, its bytes). None
        without a cache (writable datasets) or when ``make`` gave None, and for the first
        ``after`` asks (so the first query, which reads the chunk anyway, does not also pay for
        what only later ones gain from)."""
        if self.cache is None:
            return None
        key = (self.handle.path if hasattr(self.handle, "path") else id(self.handle), k, tag)
        found = self.cache.get(key)
        if found is None and after > 0:
            asked = self.cache.get((*key, "asked")) or 0
            if asked < after:
                self.cache.put((*key, "asked"), asked + 1, 8)
                return None
        if found is None:
            item, nbytes = make(self.chunk(k))
            found = False if item is None else item
            self.cache.put(key, found, nbytes)
        return found if found is not False else None

    def _read_chunk(self, k: int) -> np.ndarray:
        read_chunk = getattr(self.handle, "read_chunk", None)
        if read_chunk is not None and getattr(self.handle, "direct", False):
            return read_chunk(k, kept=self.cache is not None)  # checksum verified, decompressed, damage named
        key = self._key(k)
        if self._get_sync is not None:
            buf = self._get_sync(key, prototype=_PROTOTYPE)
            raw = None if buf is None else buf.as_numpy_array()
        else:
            data = self._byte_store.get(key)
            raw = None if data is None else np.frombuffer(data, np.uint8)
        shape = (self.rows_per_chunk, *self.row_shape)
        if raw is None:
            return np.zeros(shape, self.dtype)
        compression = self.handle.compression
        if compression is not None:
            raw = np.frombuffer(decompress(raw, compression), np.uint8)
        if raw.nbytes != self._chunk_bytes:
            raise ValueError(f"chunk {key} has {raw.nbytes} bytes, expected {self._chunk_bytes}")
        return raw.view(self.dtype).reshape(shape)

    def read_range(self, start: int, stop: int) -> np.ndarray:
        r = self.rows_per_chunk
        first, last = start // r, (stop - 1) // r
        if stop <= start:
            return np.empty((0, *self.row_shape), self.dtype)
        if first == last:
            return self.chunk(first)[start - first * r: stop - first * r]
        out = np.empty((stop - start, *self.row_shape), self.dtype)

        def copy(k: int) -> None:
            lo, hi = max(start, k * r), min(stop, k * r + r)
            out[lo - start: hi - start] = self.chunk(k)[lo - k * r: hi - k * r]
        _each(copy, range(first, last + 1), out.nbytes)
        return out

    def take(self, positions: np.ndarray | range) -> np.ndarray:
        """Rows at ``positions`` (any order, repeats allowed), each chunk read once."""
        if isinstance(positions, range):
            return self.read_range(positions.start, positions.stop)
        positions = np.asarray(positions, np.int64)
        m = len(positions)
        if m == 0:
            return np.empty((0, *self.row_shape), self.dtype)
        steps = np.diff(positions)
        if m == 1 or (steps == 1).all():
            return self.read_range(int(positions[0]), int(positions[-1]) + 1)
        order = None
        if (steps < 0).any():
            order = np.argsort(positions, kind="stable")
            positions = positions[order]
        r = self.rows_per_chunk
        chunk_of = positions // r
        cuts = np.flatnonzero(np.diff(chunk_of)) + 1
        bounds = np.concatenate([[0], cuts, [m]])
        out = np.empty((m, *self.row_shape), self.dtype)

        def gather(span: tuple[int, int]) -> None:
            a, b = span
            k = int(chunk_of[a])
            local = positions[a:b] - k * r
            chunk = self.chunk(k)
            if local[-1] - local[0] == b - a - 1 and (b - a == 1 or (np.diff(local) == 1).all()):
                out[a:b] = chunk[local[0]: local[-1] + 1]
            else:
                np.take(chunk, local, axis=0, out=out[a:b])
        _each(gather, list(zip(bounds[:-1].tolist(), bounds[1:].tolist())), out.nbytes)
        if order is not None:
            result = np.empty_like(out)
            result[order] = out
            return result
        return out


PARALLEL_READ_BYTES = 8 << 20  # rows gathered from at least 4 chunks and this many bytes: chunks in parallel


def _each(job: Callable[[Any], None], items: Any, nbytes: int) -> None:
    """``job(item)`` for every item (chunks to read and copy into disjoint parts of one array): on
    the query thread pool when they are several and big enough (file reads, checksums, decompression
    and copies release the GIL), in order otherwise and inside the pool's own threads (a nested
    wait on the pool could deadlock it)."""
    pool = None
    if len(items) >= 4 and nbytes >= PARALLEL_READ_BYTES \
            and not threading.current_thread().name.startswith("deeplake_nb-query"):
        from .evaluate import _pool  # evaluate imports this module

        pool = _pool()
    if pool is None:
        for item in items:
            job(item)
    else:
        list(pool.map(job, items))


class TensorScan:
    """Reads one tensor of ``dataset`` for a query (created once per query, before any thread)."""

    def __init__(self, dataset: Any, key: str) -> None:
        self.tensor = Tensor(dataset, key)
        self.dataset = dataset
        self.key = key
        self.meta = meta = self.tensor.meta
        self.codec = SampleCodec(meta)
        self.classes: list[str] | None = (list(meta.info.get("class_names", []))
                                          if meta.base_htype == "class_label" else None)
        self.mode = "core"
        self.dense: ChunkReader | None = None
        self.heap = self.index = self.shape = None
        self._fixed: tuple[int | None, ...] | None = None
        self.cache = cache_for(dataset)
        try:
            store = internal.tensor_store(self.tensor.dataset, self.tensor.key)
            if store.has_pending:
                store.flush()
            self._setup(store)
        except (AttributeError, TypeError, ValueError, KeyError):
            self.mode = "core"

    def _setup(self, store: Any) -> None:
        meta = self.meta
        if meta.sequence or meta.link or (meta.kind == "text" and meta.sample_compression):
            return  # (the heap of lz4-compressed text is not UTF-8: read it through the codec)
        impl = getattr(store.column, "impl", "missing")
        if impl is None:
            self.mode = "empty"
            return
        if type(impl).__name__ == "DenseColumn" and meta.kind == "array":
            self.dense = ChunkReader(impl.data, self.cache)
            self.mode = "dense"
        elif type(impl).__name__ == "RaggedColumn":
            self.heap, self.index, self.shape = (ChunkReader(impl.heap, self.cache),
                                                 ChunkReader(impl.index, self.cache),
                                                 ChunkReader(impl.shape, self.cache))
            self.mode = "heap"

    @property
    def parallel_safe(self) -> bool:
        """True when reads touch no shared cache (safe from several threads)."""
        return self.mode in ("dense", "heap", "empty")

    @property
    def row_bytes(self) -> int:
        """Rough bytes read per sample, to size batches of rows."""
        if self.mode == "dense" and self.dense is not None:
            return max(1, int(np.prod(self.dense.row_shape, dtype=np.int64)) * self.dense.dtype.itemsize)
        if self.meta.kind == "text" and self.mode == "heap" and self._dictionary() is not None:
            return 4  # an int32 code per row
        if self.meta.kind in ("text", "json"):
            if self.mode == "heap" and self.heap is not None and self.index is not None and self.index.nrows:
                return 16 + max(1, self.heap.nrows // self.index.nrows)  # an index row and the average payload
            return 32
        if self.meta.sample_compression:
            return 1 << 20   # decoded media: keep batches small
        return 1 << 12

    @property
    def rows_per_chunk(self) -> int:
        """Rows per stored chunk of the main array (batches aligned to it avoid copies)."""
        reader = self.dense if self.mode == "dense" else self.index if self.mode == "heap" else None
        return reader.rows_per_chunk if reader is not None else 1

    # -- values -----------------------------------------------------------------------------------
    def _check_rows(self, positions: np.ndarray | range) -> None:
        """SampleIndexError when ``positions`` go past this tensor's end (a view of a dataset whose
        tensors differ in length may name such rows; their stored fill values are no samples)."""
        if len(positions):
            last = positions[-1] if isinstance(positions, range) else int(np.max(positions))
            Tensor(self.dataset, self.key, np.asarray([last], np.int64))._positions()

    def values(self, positions: np.ndarray | range) -> Value:
        self._check_rows(positions)
        if self.mode in ("dense", "heap"):
            try:
                return self._fast_values(positions)
            except (AttributeError, TypeError, ValueError, KeyError):  # format internals changed
                self.mode = "core"
        if self.mode == "empty":
            return self._empty(len(positions))
        return self._core_values(positions)

    def _fast_values(self, positions: np.ndarray | range) -> Value:
        if self.mode == "dense":
            assert self.dense is not None
            return Dense(self.dense.take(positions), self.classes)
        if self.meta.kind == "text":
            encoded = self._dictionary()
            if encoded is not None:
                dictionary, codes = encoded
                return Text(dictionary=dictionary, codes=codes[positions.start:positions.stop]
                            if isinstance(positions, range) else codes[positions])
        buf, starts, lens = self._heap_bytes(positions)
        if self.meta.kind == "text":
            return Text(_arrow_strings(buf, starts, lens))
        assert self.shape is not None
        shapes = self.shape.take(positions)
        items = [self.codec.decode_item(bytes(buf[s:s + n]), tuple(shape))
                 for s, n, shape in zip(starts.tolist(), lens.tolist(), shapes.tolist())]
        return self._wrap(items)

    def _empty(self, n: int) -> Value:
        kind = self.meta.kind
        if kind == "text":
            return Text(pa.array([""] * n, pa.large_string()))
        if kind == "array":
            return Ragged([np.zeros((0,) * (self.meta.ndim or 1)) for _ in range(n)], self.classes)
        return Objects([None] * n)

    def _wrap(self, items: list[Any]) -> Value:
        kind = self.meta.kind
        if kind == "text":
            return Text(pa.array([str(x) for x in items], pa.large_string()))
        if kind == "array" and all(isinstance(x, np.ndarray) for x in items):
            return densify(items, self.classes) if items else Ragged([], self.classes)
        return Objects(list(items))

    def _core_values(self, positions: np.ndarray) -> Value:
        tensor = Tensor(self.dataset, self.key, as_array(positions))
        if self.meta.kind in ("text", "json") and not self.meta.sequence:
            return self._wrap(list(tensor.data()["value"]) if len(positions) else [])
        return self._wrap(tensor.numpy(aslist=True) if len(positions) else [])

    def prepare(self, rows: int) -> None:
        """Called before reading ``rows`` samples: a text tensor read mostly whole gets its
        dictionary encoding now (once per read-only dataset, at the ``DICTIONARY_AFTER + 1``-th
        such read: encoding costs several plain searches of the text, which the first query
        after opening does not pay for), so batches can use it."""
        if self.meta.kind == "text" and self.mode == "heap" and self.index is not None \
                and 4 * rows >= self.index.nrows and self.cache is not None:
            asked_key = ("dictionary asked", self.key, self.index.nrows)
            asked = self.cache.get(asked_key) or 0
            if asked < DICTIONARY_AFTER:
                self.cache.put(asked_key, asked + 1, 8)
                return
            try:
                self._dictionary(build=True)
            except (AttributeError, TypeError, ValueError, KeyError):
                self.mode = "core"

    def text_contains(self, positions: np.ndarray | range, needle: str) -> np.ndarray | None:
        """Which of the consecutive rows ``positions`` hold text containing ``needle``
        (byte-exact), found by searching the stored heap chunks in place for the needle and
        mapping each hit to its row through the sample offsets: no copy of the text, no Arrow
        array, no per-row slicing. None when this does not apply (the caller then reads the text):
        not a plain text heap, a dictionary is already kept (a search per distinct value is
        cheaper), rows not consecutive, samples not laid in row order in the heap (after
        updates), far-apart samples, or a needle whose rarest byte is in most rows."""
        try:
            return self._text_contains(positions, needle)
        except (AttributeError, TypeError, ValueError, KeyError):  # format internals changed, a damaged
            return None                                          # chunk: the general path reads (and names) it

    def _text_contains(self, positions: np.ndarray | range, needle: str) -> np.ndarray | None:
        pattern = needle.encode()
        if not (self.mode == "heap" and self.meta.kind == "text" and isinstance(positions, range)
                and positions.step == 1 and len(positions) and pattern) or self._dictionary() is not None:
            return None
        assert self.index is not None and self.heap is not None
        self._check_rows(positions)
        start, stop = positions.start, positions.stop
        r = self.index.rows_per_chunk
        parts = [self.index.chunk(k)[max(start, k * r) - k * r: min(stop, k * r + r) - k * r]
                 for k in range(start // r, (stop - 1) // r + 1)]
        if parts[0].dtype != np.uint64 or parts[0].ndim != 2:
            return None
        starts = np.concatenate([p[:, 0] for p in parts]).view(np.int64)  # offsets < 2**63
        lens = np.concatenate([p[:, 1] for p in parts]).view(np.int64)
        ends = starts + lens
        count, m = len(starts), len(pattern)
        if starts[0] < 0 or not (starts[1:] >= ends[:-1]).all():
            return None  # samples out of row order or overlapping: the general path
        lo, hi, total = int(starts[0]), int(ends[-1]), int(lens.sum())
        found = np.zeros(count, bool)
        if total < m:
            return found
        if hi - lo > 2 * total + _GAP_BYTES or hi > self.heap.nrows or m > self.heap.rows_per_chunk:
            return None
        size = self.heap.rows_per_chunk
        first_chunk = self.heap.chunk(lo // size)
        sample = first_chunk[lo % size: lo % size + (1 << 16)]
        freq = np.bincount(sample, minlength=256)
        anchor = int(np.argmin(freq[np.frombuffer(pattern, np.uint8)]))
        if freq[pattern[anchor]] * (hi - lo) / max(len(sample), 1) > SEARCH_SPOTS_PER_ROW * count:
            return None  # the rarest byte is everywhere: a per-string search wins
        hits = []
        previous: np.ndarray | None = None
        for j in range(lo // size, (hi - 1) // size + 1):
            chunk = first_chunk if j == lo // size else self.heap.chunk(j)
            a, b = max(lo, j * size) - j * size, min(hi, j * size + size) - j * size
            if previous is not None and m > 1:  # needles across the boundary with the chunk before
                tail = previous[max(size - (m - 1), lo - (j - 1) * size):]
                window = np.concatenate([tail, chunk[: min(m - 1, b)]])
                spots = find_all(window, pattern, anchor)
                hits.append(spots[spots < len(tail)] + (j * size - len(tail)))
            hits.append(find_all(chunk[a:b], pattern, anchor) + (j * size + a))
            previous = chunk
        spots = np.concatenate(hits) if len(hits) > 1 else hits[0]
        if len(spots):
            row = np.searchsorted(starts, spots, side="right") - 1
            inside = spots + m <= ends[row]  # row >= 0: every spot is at or after lo = starts[0]
            found[row[inside]] = True
        return found

    def _dictionary(self, build: bool = False) -> tuple[pa.Array, np.ndarray] | None:
        """(distinct values, code per sample) of a text tensor of a read-only dataset when its
        values repeat enough to pay off; computed once (``build``) and cached."""
        if self.cache is None or self.index is None:
            return None
        key = ("dictionary", self.key, self.index.nrows)
        found = self.cache.get(key)
        if found is None and build:
            count = self.index.nrows
            buf, starts, lens = self._heap_bytes(range(count))
            encoded = pc.dictionary_encode(_arrow_strings(buf, starts, lens))
            dictionary = encoded.dictionary
            if len(dictionary) > DICTIONARY_RATIO * count:
                found = False
            else:
                found = (dictionary, encoded.indices.to_numpy().astype(np.int32, copy=False))
            size = 0 if found is False else found[1].nbytes + dictionary.nbytes
            self.cache.put(key, found, size)
        return found or None

    def _heap_bytes(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One buffer holding the stored bytes of every sample, and each sample's start and length in it."""
        assert self.index is not None and self.heap is not None
        spans = self.index.take(positions)
        spans = spans.view(np.int64) if spans.dtype == np.uint64 else spans.astype(np.int64)  # offsets < 2**63
        starts, lens = spans[:, 0], spans[:, 1]
        if not len(starts):
            return np.zeros(0, np.uint8), starts, lens
        ends = starts + lens
        lo, hi = int(starts.min()), int(ends.max())
        if hi - lo <= 2 * int(lens.sum()) + _GAP_BYTES:
            return self.heap.read_range(lo, hi), starts - lo, lens
        # far-apart samples: read each cluster of nearby spans, then lay them side by side
        order = np.argsort(starts, kind="stable")
        s_sorted, e_sorted = starts[order], np.maximum.accumulate(ends[order])
        breaks = np.flatnonzero(s_sorted[1:] > e_sorted[:-1] + _GAP_BYTES) + 1
        bounds = np.concatenate([[0], breaks, [len(order)]])
        parts, offset = [], 0
        new_starts = np.empty_like(starts)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            c_lo, c_hi = int(s_sorted[a]), int(e_sorted[b - 1])
            parts.append(self.heap.read_range(c_lo, c_hi))
            new_starts[order[a:b]] = starts[order[a:b]] - c_lo + offset
            offset += c_hi - c_lo
        return np.concatenate(parts), new_starts, lens

    def stored_bytes(self, positions: np.ndarray | range) -> pa.Array:
        """Each sample's stored bytes (for sample-compressed media: the encoded file, as written)
        as an Arrow large_binary array: from the byte heap, without decoding (zero-copy when the
        samples lie back to back), else through ``Tensor.tobytes`` one sample at a time."""
        self._check_rows(positions)
        rows = as_array(positions)
        if self.mode == "heap":
            try:
                return _arrow_strings(*self._heap_bytes(rows), arrow_type=pa.large_binary())
            except (AttributeError, TypeError, ValueError, KeyError):  # format internals changed
                self.mode = "core"
        return pa.array([self.tensor[int(p)].tobytes() for p in rows.tolist()], pa.large_binary())

    def shapes(self, positions: np.ndarray | range) -> np.ndarray:
        """(n, ndim) int64 sample shapes from the shape side array; no sample is decoded."""
        self._check_rows(positions)
        if self.mode == "dense" and self.dense is not None:
            return np.tile(np.asarray(self.dense.row_shape, np.int64), (len(positions), 1))
        if self.mode == "heap" and self.shape is not None:
            try:
                return self.shape.take(positions).astype(np.int64)
            except (AttributeError, TypeError, ValueError, KeyError):
                self.mode = "core"
        if not len(positions):
            return np.zeros((0, self.meta.ndim or 0), np.int64)
        return np.asarray(Tensor(self.dataset, self.key, as_array(positions))._row_shapes(), np.int64)

    def fixed_dims(self) -> tuple[int | None, ...]:
        """Per sample dimension, its length when every sample of the tensor has that length,
        else None (``Tensor.shape`` without the row count); read once per scan."""
        if self._fixed is None:
            if self.mode == "dense" and self.dense is not None:
                self._fixed = tuple(int(x) for x in self.dense.row_shape)
            else:
                self._fixed = tuple(self.tensor.shape[1:])
        return self._fixed

    def one(self, position: int) -> Const:
        """The value of one sample, as a constant."""
        value = self.values(np.asarray([position], np.int64))
        if isinstance(value, Text):
            return Const(value.array[0].as_py())
        if isinstance(value, Dense):
            return Const(value.data[0], value.classes)
        if isinstance(value, Ragged):
            return Const(value.items[0], value.classes)
        assert isinstance(value, Objects)
        item = value.items[0]
        return Const(item if isinstance(item, str) else np.asarray(item))


def find_all(buf: np.ndarray, pattern: bytes, anchor: int = 0) -> np.ndarray:
    """Start positions (int64, ascending) of every occurrence of ``pattern`` in the uint8 array
    ``buf``, overlapping ones included: the spots of its byte at ``anchor`` (best the rarest),
    narrowed byte by byte (a vectorised memchr)."""
    m, n = len(pattern), len(buf)
    if n < m or not m:
        return np.zeros(0, np.int64)
    spots = np.flatnonzero(buf[anchor: n - m + 1 + anchor] == pattern[anchor])
    for k in range(m):
        if k != anchor and len(spots):
            spots = spots[buf[spots + k] == pattern[k]]
    return spots.astype(np.int64, copy=False)


def _arrow_strings(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray,
                   arrow_type: pa.DataType | None = None) -> pa.Array:
    """An Arrow large_string (or ``arrow_type``: large_binary) array over ``buf``; zero-copy when
    the samples lie back to back."""
    arrow_type = pa.large_string() if arrow_type is None else arrow_type
    n = len(lens)
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    np.cumsum(lens, out=offsets[1:])
    if n and not (starts[0] == 0 and np.array_equal(starts[1:], offsets[1:-1])):
        gather = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1], dtype=np.int64)
        buf = buf[gather]
    elif len(buf) != offsets[-1]:
        buf = buf[: offsets[-1]]
    return pa.Array.from_buffers(arrow_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf))])
