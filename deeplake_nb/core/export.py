"""``dl.export_zarr``: one version of a dataset, or a view's rows, as a plain Zarr v3 hierarchy.

The export needs nothing of deeplake_nb to be read: every array uses only codecs of the Zarr v3
specification (``bytes``, ``blosc``, ``zstd``, ``crc32c``), numeric types only (no
variable-length data types, which zarr-python marks unstable and TensorStore does not read), and
what a reader must know is in the attributes. The layout (``EXPORT_FORMAT`` 1):

```
<path>/zarr.json            group; attributes: export_format, exported_by, length (rows), tensors
                            (names, in order), info (the dataset's), source {path, branch,
                            commit_id, uncommitted_changes, version, query}
<path>/_sample_index        (n,) int64: each row's index in the source version
<path>/<tensor>             a tensor, by its name (a/b: inside group a), one of:
  layout "dense"            array (n, *shape): every sample one shape (labels, embeddings,
                            fixed-size raw images), blosc-LZ4
  layout "bytes"            group: bytes (m,) uint8, offsets (n+1,) uint64 (sample i is
                            bytes[offsets[i]:offsets[i+1]]; empty = an empty sample) and, for
                            arrays, shape (n, ndim) uint32; "encoding" says what the bytes are:
                            "raw" (C-order values of "dtype"), "jpeg"/"png"/"webp" (the stored
                            files, byte-identical), "utf-8" (text), "json" (UTF-8 JSON text;
                            bytes inside a value are {"__deeplake_nb__": "bytes", "data":
                            <base64>}), "url" (link tensors: the linked URLs; creds keys and
                            credentials are not exported)
  layout "sequence"         group: offsets (n+1,) uint64 over items, and items, a node of one
                            of these layouts holding every item of every sample in order;
                            sequence[X] tensors, and polygons (a sample = a sequence of
                            (points, dim) raw arrays); nested nodes carry the tensor's
                            encoding and dtype too
```

Each tensor node's attributes: htype, dtype, layout, encoding, sample_compression,
chunk_compression (the source's, for reference), sequence, link, info (class_names ...), and
tensor (its key in the source). ``sample_compression="lz4"`` samples are decompressed; other
sample encodings are kept as stored.

A tensor's samples are read in batches of about 32 MiB (stored bytes) and appended to the
arrays; a tqdm.auto bar counts rows. Failures are ours: bad arguments ``ExportError``, an
occupied target ``ExportExistsError`` (unless ``overwrite=True``), storage failures
``StorageError``; the source is only read, and a failed export removes what it wrote.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec
from zarr.core.sync import sync

from .._version import __version__
from ..errors import DeepLakeNBError, ExportError, ExportExistsError, StorageError
from ..format import codecs, compression
from ..format.meta import TensorMeta
from ..format.sample_codec import SampleCodec
from ..format.tensor_store import TensorStore
from ..storage import delete_location, links, normalize, open_store
from . import internal
from .copy import pick_names
from .dataset import Dataset
from .tensor import Tensor

EXPORT_FORMAT = 1
BATCH_BYTES = 32 << 20  # stored bytes read per batch of one tensor
DENSE_CHUNK_BYTES = 4 << 20
HEAP_CHUNK_BYTES = 4 << 20
TABLE_CHUNK_BYTES = 1 << 20
SAMPLE_INDEX = "_sample_index"


def export_zarr(source: Any, path: str, version: str | None = None, *, tensors: Sequence[str] | None = None,
                overwrite: bool = False, storage_options: dict[str, Any] | None = None,
                progressbar: bool = True) -> str:
    """Write ``source`` (a dataset, group, row or column view, or a query result view) as a plain
    Zarr v3 hierarchy at ``path`` (a local path, ``mem://name``, ``s3://``, ``gs://``, ``az://``
    with ``storage_options``); returns the normalised location. ``version`` (a branch, tag or
    commit id) exports that version of a dataset instead of the one it shows (not with a row
    selection); ``tensors`` picks tensors or groups by name (default: every visible one). The
    layout is this module's docstring. ExportExistsError when ``path`` holds anything, unless
    ``overwrite=True``, which replaces it."""
    ds, rows, columns, origin = _resolve(source, version)
    if isinstance(tensors, str):
        tensors = [tensors]
    chosen = pick_names([name for name, _ in columns], tensors, "export")
    columns = [(name, key) for name, key in columns if name in chosen]
    url = normalize(path)
    if _overlaps(url, ds.path):
        raise ExportError(f"Cannot export {ds.path!r} to {url!r}: the target and the dataset overlap; choose a "
                          "path outside the dataset.")
    store = open_store(url, storage_options=storage_options)
    try:
        occupied = not sync(store.is_empty(""))
    except DeepLakeNBError:
        raise
    except OSError as exc:
        raise StorageError(f"Cannot look at the export target {url!r} ({exc}); check the path and its "
                           "permissions.") from exc
    if occupied:
        if not overwrite:
            raise ExportExistsError(f"{url!r} already holds data; pass overwrite=True to replace it, or choose "
                                    "another path.")
        delete_location(url, storage_options)
        store = open_store(url, storage_options=storage_options)
    try:
        _write(store, url, ds, rows, columns, origin, progressbar)
    except BaseException as exc:
        _remove(url, storage_options)  # a failed export leaves nothing behind
        if isinstance(exc, OSError) and not isinstance(exc, DeepLakeNBError):
            raise StorageError(f"Exporting to {url!r} failed ({exc}); nothing was left there. Check the free "
                               "space and permissions of the target.") from exc
        raise
    return url


def _remove(url: str, storage_options: dict[str, Any] | None) -> None:
    """Delete what a failed export wrote, as far as the store lets us: the export's own error,
    not a second one from the cleanup, is what the caller needs to see."""
    try:
        delete_location(url, storage_options)
    except (DeepLakeNBError, OSError):
        pass


# -- what is exported -------------------------------------------------------------------------
def _resolve(source: Any, version: str | None) -> tuple[Dataset, np.ndarray, list[tuple[str, str]], dict[str, Any]]:
    """(dataset, source rows, [(export name, tensor key)], source attributes) of ``source``."""
    if isinstance(source, Dataset):
        ds = source
        if version is not None:
            picked = internal.selection(ds)
            if picked.rows is not None:
                raise ExportError("version= exports a whole version; it cannot be combined with a row selection. "
                                  "Check out the version (ds.checkout(...)), then select rows and export that.")
            ds = internal.over(internal.state(internal.open_version(ds, version)), picked.group, None, False,
                               picked.columns)
        rows = np.arange(len(ds), dtype=np.int64) if ds.index is None else np.asarray(ds.index, np.int64)
        columns = [(name, tensor.key) for name, tensor in ds.tensors.items()]
        query = None
    elif isinstance(getattr(source, "dataset", None), Dataset) and hasattr(source, "sample_indices"):
        if version is not None:
            raise ExportError("A query view is exported at the version it was computed at; leave out version=.")
        if getattr(source, "is_grouped", False):
            raise ExportError("A grouped view (GROUP BY) has groups of samples as rows, which have no Zarr layout "
                              "here; export a view without GROUP BY.")
        ds = source.dataset
        rows = np.asarray(source.sample_indices, np.int64)
        columns, computed = [], []
        for name, column in source.tensors.items():
            if isinstance(column, Tensor):
                columns.append((name, column.key))
            else:
                computed.append(name)
        if computed:
            raise ExportError(f"Columns {computed} are computed by the query, not stored; select stored tensors, "
                              "or save the view with optimize=True, load it and export that.")
        query = getattr(source, "query_string", None)
    else:
        raise ExportError(f"dl.export_zarr exports a dataset or a view of one; got {type(source).__name__}. Open a "
                          "dataset with dl.load(path) first.")
    for _, key in columns:
        store = internal.tensor_store(ds, key)
        if store.has_pending:  # buffered writes (inside `with ds:`) are read as written
            store.flush()
    origin = {"path": ds.path, "branch": ds.branch, "commit_id": ds.commit_id,
              "uncommitted_changes": bool(ds.has_head_changes), "version": version, "query": query}
    return ds, rows, columns, origin


def _overlaps(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


# -- writing ----------------------------------------------------------------------------------
def _write(store: Any, url: str, ds: Dataset, rows: np.ndarray, columns: list[tuple[str, str]],
           origin: dict[str, Any], progressbar: bool) -> None:
    from tqdm.auto import tqdm

    root = zarr.create_group(store=store, attributes={
        "export_format": EXPORT_FORMAT, "exported_by": f"deeplake_nb {__version__}", "length": len(rows),
        "tensors": [name for name, _ in columns], "info": copy.deepcopy(dict(internal.state(ds).meta.info)),
        "source": origin})
    index = root.create_array(SAMPLE_INDEX, shape=rows.shape, chunks=(max(1, min(len(rows), TABLE_CHUNK_BYTES // 8)),),
                              dtype="int64", compressors=_compressors("lz4", "int64"), fill_value=0)
    if len(rows):
        index[:] = rows
    with tqdm(total=len(rows) * len(columns), desc=f"export -> {url}", unit="row", disable=not progressbar) as bar:
        for name, key in columns:
            _TensorExport(root, name, key, internal.tensor_meta(ds, key), internal.tensor_store(ds, key)).run(
                rows, bar.update)


def _compressors(chunk_compression: str | None, dtype: str) -> tuple[Any, ...]:
    return codecs.zarr_compressors(chunk_compression, dtype=dtype) or (Crc32cCodec(),)


def _rows_per_chunk(row_bytes: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // max(1, row_bytes))


class _Dense:
    """Layout "dense": one array ``(n, *shape)``."""

    def __init__(self, parent: zarr.Group, name: str, dtype: str, shape: tuple[int, ...], attrs: dict[str, Any]) -> None:
        row_bytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        self.dtype = np.dtype(dtype)
        self.array = parent.create_array(name, shape=(0, *shape), chunks=(_rows_per_chunk(row_bytes, DENSE_CHUNK_BYTES), *shape),
                                         dtype=dtype, compressors=_compressors("lz4", dtype), fill_value=0,
                                         attributes={**attrs, "layout": "dense"})

    def append(self, values: Sequence[np.ndarray] | np.ndarray) -> None:
        block = values if isinstance(values, np.ndarray) else np.stack(values) if len(values) else None
        if block is not None and len(block):
            self.array.append(np.asarray(block, self.dtype))


class _Bytes:
    """Layout "bytes": ``bytes``, ``offsets`` and (for arrays) ``shape``."""

    def __init__(self, parent: zarr.Group, name: str, attrs: dict[str, Any], chunk_compression: str | None,
                 ndim: int | None) -> None:
        self.group = parent.create_group(name, attributes={**attrs, "layout": "bytes"})
        self.heap = self.group.create_array("bytes", shape=(0,), chunks=(HEAP_CHUNK_BYTES,), dtype="uint8",
                                            compressors=_compressors(chunk_compression, "uint8"), fill_value=0)
        self.offsets = self.group.create_array("offsets", shape=(1,), chunks=(TABLE_CHUNK_BYTES // 8,), dtype="uint64",
                                               compressors=_compressors("lz4", "uint64"), fill_value=0)
        self.end = 0
        self.ndim = ndim
        self.shape = None
        if ndim is not None:
            self.shape = self.group.create_array("shape", shape=(0, max(ndim, 1)),
                                                 chunks=(_rows_per_chunk(4 * max(ndim, 1), TABLE_CHUNK_BYTES), max(ndim, 1)),
                                                 dtype="uint32", compressors=_compressors("lz4", "uint32"), fill_value=0)

    def append(self, values: Sequence[tuple[bytes, tuple[int, ...] | None]]) -> None:
        if not values:
            return
        blobs = [blob for blob, _ in values]
        lengths = np.fromiter(map(len, blobs), np.uint64, len(blobs))
        if int(lengths.sum()):
            self.heap.append(np.frombuffer(b"".join(blobs), np.uint8))
        self.offsets.append(np.cumsum(lengths) + np.uint64(self.end))
        self.end += int(lengths.sum())
        if self.shape is not None:
            width = self.shape.shape[1]
            table = np.zeros((len(values), width), np.uint32)
            for j, (_, shape) in enumerate(values):
                if shape:
                    table[j, :min(len(shape), width)] = shape[:width]
            self.shape.append(table)


class _Sequence:
    """Layout "sequence": ``offsets`` over ``items``, a node of its own."""

    def __init__(self, parent: zarr.Group, name: str, attrs: dict[str, Any],
                 items: Callable[[zarr.Group], _Dense | _Bytes | _Sequence]) -> None:
        self.group = parent.create_group(name, attributes={**attrs, "layout": "sequence"})
        self.offsets = self.group.create_array("offsets", shape=(1,), chunks=(TABLE_CHUNK_BYTES // 8,), dtype="uint64",
                                               compressors=_compressors("lz4", "uint64"), fill_value=0)
        self.items = items(self.group)
        self.end = 0

    def append(self, values: Sequence[Sequence[Any]]) -> None:
        if not values:
            return
        counts = np.fromiter(map(len, values), np.uint64, len(values))
        self.items.append([item for value in values for item in value])
        self.offsets.append(np.cumsum(counts) + np.uint64(self.end))
        self.end += int(counts.sum())


class _TensorExport:
    """One tensor's samples at ``rows`` into the node ``name`` of ``root``."""

    def __init__(self, root: zarr.Group, name: str, key: str, meta: TensorMeta, store: TensorStore) -> None:
        self.root, self.name, self.key, self.meta, self.store = root, name, key, meta, store
        self.lz4 = meta.sample_compression == "lz4" and not meta.link
        self.dtype = str(np.dtype(meta.dtype)) if meta.kind == "array" and meta.dtype else None
        if meta.link:
            self.encoding = "url"
        elif meta.kind == "text":
            self.encoding = "utf-8"
        elif meta.kind == "json":
            self.encoding = "json"
        elif meta.kind == "polygon" or meta.sample_compression not in compression.SAMPLE_COMPRESSIONS:
            self.encoding = "raw"
        else:
            self.encoding = meta.sample_compression
        self.codec = SampleCodec(meta)

    def attrs(self) -> dict[str, Any]:
        meta = self.meta
        return {"htype": meta.htype_name,
                "dtype": self.dtype or (meta.dtype if meta.kind == "polygon" else None), "encoding": self.encoding,
                "sample_compression": meta.sample_compression, "chunk_compression": meta.chunk_compression,
                "sequence": meta.sequence, "link": meta.link, "info": copy.deepcopy(meta.info), "tensor": self.key}

    def _parent(self) -> tuple[zarr.Group, str]:
        group = self.root
        *parts, last = self.name.split("/")
        for part in parts:
            group = group.require_group(part)
        return group, last

    def _dense_shape(self, rows: np.ndarray) -> tuple[int, ...] | None:
        """The one shape of every item at ``rows`` when they can form a dense array (raw numeric,
        every item the same non-empty shape), else None."""
        if self.encoding != "raw" or self.meta.kind != "array" or not self.dtype or not len(rows):
            return None
        shapes = self.store.shapes(rows)
        if isinstance(shapes, list):
            shapes = np.concatenate([s for s in shapes if len(s)]) if any(len(s) for s in shapes) else None
        if shapes is None or not len(shapes) or shapes.ndim != 2 or not shapes.shape[1]:
            return None
        first = shapes[0]
        if not (shapes == first).all() or int(np.prod(first)) == 0:
            return None
        return tuple(int(x) for x in first)

    def _leaf(self, dense: tuple[int, ...] | None) -> Callable[[zarr.Group, str, dict[str, Any]], _Dense | _Bytes]:
        if dense is not None:
            return lambda group, name, attrs: _Dense(group, name, self.dtype or "float64", dense, attrs)
        compressed = None if self.encoding in compression.SAMPLE_COMPRESSIONS else (
            "zstd" if self.encoding in ("utf-8", "json", "url") else "lz4")
        ndim = None if self.encoding in ("utf-8", "json", "url") else 2 if self.meta.kind == "polygon" else (
            self.meta.ndim or 1)
        return lambda group, name, attrs: _Bytes(group, name, attrs, compressed, ndim)

    def run(self, rows: np.ndarray, progress: Callable[[int], Any]) -> None:
        dense = self._dense_shape(rows)
        leaf = self._leaf(dense)
        parent, name = self._parent()
        attrs = self.attrs()
        items = {"encoding": attrs["encoding"], "dtype": attrs["dtype"]}  # what a nested node's items are
        polygon = self.meta.kind == "polygon" and not self.meta.link
        if self.meta.sequence and polygon:
            node: Any = _Sequence(parent, name, attrs, lambda g: _Sequence(g, "items", items,
                                                                           lambda h: leaf(h, "items", items)))
        elif self.meta.sequence or polygon:
            node = _Sequence(parent, name, attrs, lambda g: leaf(g, "items", items))
        else:
            node = leaf(parent, name, attrs)
        for batch in _batches(self.store, rows):
            if dense is not None and not self.meta.sequence:
                block = self.store.take_dense(batch)
                if block is not None:
                    node.append(block)
                    progress(len(batch))
                    continue
            encoded = self.store.take(batch)
            if self.meta.sequence:
                node.append([[self._value(p, s, dense) for p, s in sample] for sample in encoded])
            else:
                node.append([self._value(p, s, dense) for p, s in encoded])
            progress(len(batch))

    def _value(self, payload: Any, shape: tuple[int, ...], dense: tuple[int, ...] | None) -> Any:
        """A stored item in the form its node takes: an array (dense), (bytes, shape) (bytes),
        or a list of (bytes, shape) (a polygon's point arrays)."""
        if self.meta.link:
            return (links.unpack(bytes(payload))[0].encode() if len(payload) else b""), None
        if self.meta.kind == "polygon":
            return [(np.ascontiguousarray(p).tobytes(), p.shape) for p in self.codec.decode_item(payload, shape)]
        if isinstance(payload, np.ndarray):
            return payload if dense is not None else (payload.tobytes(), payload.shape)
        data = codecs.decompress(payload, "lz4") if self.lz4 and len(payload) else bytes(payload)
        if dense is not None:
            return np.frombuffer(data, self.dtype or "float64").reshape(dense)
        return data, (shape if self.meta.kind == "array" else None)


def _batches(store: TensorStore, rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` cut into runs of about ``BATCH_BYTES`` stored bytes (at least one row each)."""
    if not len(rows):
        return []
    sizes = np.cumsum(store.nbytes(rows).astype(np.int64))
    out, start = [], 0
    while start < len(rows):
        base = int(sizes[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(sizes, base + BATCH_BYTES, side="right")))
        out.append(rows[start:stop])
        start = stop
    return out

