"""Arrow input: the values of a pyarrow Array / ChunkedArray for one tensor, and of a Table's columns.

``tensor.extend(array)`` and ``ds.extend(table)`` (column names -> tensors) read Arrow data through
``values_for``, which converts by the Arrow type and the tensor's htype, then hands the values to
the ordinary write path (which validates them as it validates any other values):

- integers, floats, booleans: one NumPy array (zero-copy where Arrow allows); a null is NaN in a
  float column (as ``ingest_dataframe`` reads it) and an empty sample otherwise;
- fixed-size lists (nested too) and Arrow's ``fixed_shape_tensor`` of numbers: one (n, *shape)
  array, the fast path for embeddings and boxes; lists of numbers (a list of fixed-size lists:
  bounding boxes): one array per row (a null or empty list is an empty sample);
- binary: for image tensors and other sample-compressed tensors, encoded files (``Sample``, stored
  byte-identical when their format is the tensor's compression, decoded and re-encoded only when
  it is not); for other tensors, uint8 arrays of the bytes;
- Arrow's JSON extension type (``arrow.json``, what ``to_arrow`` gives json tensors): the parsed
  values for json tensors;
- strings: str values (text, class names for class labels); dictionary-encoded
  columns (pandas ``category``) by their values; lists of strings: lists (list, tag htypes);
  structs and maps: dicts (json); dates, times, timestamps and decimals: their text for text
  tensors.

Any other pairing is a ``DtypeMismatchError`` naming the Arrow type and the tensor, before
anything is written. Arrow is only imported when such data arrives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DtypeMismatchError
from . import json_values
from .meta import TensorMeta
from .sample import Sample


def is_arrow(values: Any) -> bool:
    """Whether ``values`` is a pyarrow Array or ChunkedArray (without importing pyarrow)."""
    return type(values).__module__.startswith("pyarrow") and hasattr(values, "type") and hasattr(values, "to_pylist")


def is_arrow_table(values: Any) -> bool:
    """Whether ``values`` is a pyarrow Table or RecordBatch."""
    return (type(values).__module__.startswith("pyarrow") and hasattr(values, "column_names")
            and hasattr(values, "schema"))


def values_for(array: Any, meta: TensorMeta, name: str = "") -> Any:
    """The values of an Arrow Array or ChunkedArray for a tensor of ``meta`` (see the module doc)."""
    import pyarrow as pa

    label = name or meta.htype_name
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if isinstance(array, pa.ExtensionArray):
        if isinstance(array.type, pa.FixedShapeTensorType) and not array.null_count:
            return array.to_numpy_ndarray()
        if isinstance(array.type, pa.JsonType) and meta.kind == "json":  # what to_arrow writes for json
            return [None if v is None else _json(v, label) for v in array.storage.to_pylist()]
        array = array.storage
    return _convert(array, meta, label)


def _convert(array: Any, meta: TensorMeta, label: str) -> Any:
    import pyarrow.types as pt

    kind = array.type
    base = meta.base_htype or ""
    media = meta.kind == "array" and (base.startswith("image") or meta.sample_compression not in (None, "lz4"))
    untyped = meta.htype in (None, "generic") and meta.dtype is None  # the first values choose (text, json ...)
    if pt.is_dictionary(kind):
        if base == "class_label" or meta.kind in ("text", "json") or untyped:
            return array.to_pylist()  # the dictionary's values: class names, strings
        return _convert(array.dictionary_decode(), meta, label)
    if pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind):
        if array.null_count and pt.is_floating(kind):
            array = array.fill_null(float("nan"))
        if array.null_count:
            return array.to_pylist()
        return array.to_numpy(zero_copy_only=False)
    if pt.is_binary(kind) or pt.is_large_binary(kind) or pt.is_fixed_size_binary(kind):
        if media and not meta.link:
            return [None if b is None else Sample(buffer=b) for b in array.to_pylist()]
        if meta.kind == "array":
            return [None if b is None else np.frombuffer(b, dtype=np.uint8) for b in array.to_pylist()]
    if pt.is_string(kind) or pt.is_large_string(kind):
        if meta.kind in ("text", "json") or meta.link or base == "class_label" or untyped:
            return array.to_pylist()
    if pt.is_temporal(kind) or pt.is_decimal(kind):
        if meta.kind == "text":
            return [None if v is None else str(v) for v in array.to_pylist()]
    if pt.is_fixed_size_list(kind) and meta.kind == "array" and not array.null_count:
        dims, leaf = _fixed_dims(kind)
        if leaf is not None:
            flat = _leaf_values(array, len(dims))
            return flat.to_numpy(zero_copy_only=False).reshape(len(array), *dims)
    if (pt.is_list(kind) or pt.is_large_list(kind) or pt.is_fixed_size_list(kind)) and meta.kind == "array":
        dims, leaf = _fixed_dims(kind.value_type)
        if leaf is not None and not pt.is_fixed_size_list(kind):
            return _ragged(array, dims)
        if leaf is None and untyped:
            return array.to_pylist()
        return [None if v is None or (isinstance(v, list) and not v) else np.asarray(v) for v in array.to_pylist()]
    if pt.is_list(kind) or pt.is_large_list(kind) or pt.is_fixed_size_list(kind) or pt.is_struct(kind) \
            or pt.is_map(kind) or pt.is_null(kind):
        if meta.kind in ("json", "polygon") or untyped or pt.is_null(kind):
            return array.to_pylist()
    raise DtypeMismatchError(
        f"Tensor {label!r} ({meta.htype_name}) cannot take an Arrow column of type {kind}; cast it first "
        "(pyarrow.compute.cast) or convert it to a list of values the tensor takes.")


def _json(text: str, label: str) -> Any:
    try:
        return json_values.loads(text)
    except ValueError as exc:
        raise DtypeMismatchError(f"Tensor {label!r}: a value of the Arrow JSON column is not JSON ({exc}).") from None


def _fixed_dims(kind: Any) -> tuple[list[int], Any]:
    """The dimensions of nested fixed-size lists down to a numeric leaf type (None when the leaf
    is not numeric): ``fixed_size_list<fixed_size_list<float, 2>, 3>`` -> ([3, 2], float)."""
    import pyarrow.types as pt

    dims = []
    while pt.is_fixed_size_list(kind):
        dims.append(kind.list_size)
        kind = kind.value_type
    numeric = pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind)
    return dims, (kind if numeric else None)


def _leaf_values(array: Any, depth: int) -> Any:
    """The flat numeric values under ``depth`` levels of fixed-size lists (offsets applied)."""
    for _ in range(depth):
        array = array.flatten()
    return array


def _ragged(array: Any, dims: list[int]) -> list[np.ndarray | None]:
    """A list column of numbers (or of fixed-size lists of numbers): one array per row, cut out of
    one NumPy copy of the flat values; a null or empty list is an empty sample."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = _leaf_values(array.flatten(), len(dims))
    if flat.null_count:
        raise DtypeMismatchError("A list column holds null numbers, which no numeric sample can; fill them first "
                                 "(pyarrow.compute.fill_null).")
    values = flat.to_numpy(zero_copy_only=False).reshape(-1, *dims) if dims else flat.to_numpy(zero_copy_only=False)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return [values[a:b] if ok and b > a else None for a, b, ok in zip(bounds[:-1], bounds[1:], valid)]
