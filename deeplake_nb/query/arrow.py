"""A view's columns as Arrow arrays (``View.to_arrow``) and a pandas frame (``View.to_pandas``).

Each column has one Arrow form, chosen from the tensor's metadata (stored tensors) or from the
values (computed columns):

- scalars and class labels: a primitive array; class labels as ``dictionary<int32, string>``
  (the class names) when every id names a class, else the ids;
- text: ``large_string``; json: its JSON text, typed as Arrow's canonical JSON extension type
  (``arrow.json`` over ``large_string``: pandas sees the strings, ``extend`` parses them back);
  list and tag: lists of str;
- images and other sample-compressed media: ``large_binary``, the stored file bytes (JPEG, PNG
  ... as written; nothing is decoded or re-encoded); linked files: their URLs as strings;
- 1-D numeric samples: ``fixed_size_list`` when every sample has the same length, else ``list``;
- N-D numeric samples of one shape: Arrow's canonical ``fixed_shape_tensor`` extension type
  (``arrow.fixed_shape_tensor``, row-major), which other Arrow readers understand; of different
  shapes: nested lists (``list<fixed_size_list>`` when only the first dimension varies, e.g.
  bounding boxes);
- sequences and polygons: nested lists of their items' forms.

``to_pandas``: the same table as a DataFrame, with class labels as ``Categorical``, binary
columns as ``bytes`` and tensor columns as one NumPy array (of the sample's shape) per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import ExportError
from ..format import htypes
from . import nodes as n
from .evaluate import Evaluator, Rows
from .values import Dense, Objects, Ragged, Text, Value


def column(ev: Evaluator, expr: n.Expr, rows: Rows) -> pa.Array:
    """One column of a view, for ``rows`` (flat, before grouping), in its Arrow form."""
    if not isinstance(expr, n.TensorRef):
        value = ev.eval(expr, rows)
        return from_value(value, value.classes)
    scan = ev.scan(expr.key)
    meta = scan.meta
    positions = rows.position_array()
    if meta.sequence:
        return _sequence(scan.tensor[positions].data(aslist=True)["value"] if len(positions) else [])
    if meta.link:
        paths = scan.tensor[positions].path(aslist=True) if len(positions) else []
        return pa.array([str(p[0]) for p in paths], pa.large_string())
    if meta.kind == "array" and meta.sample_compression not in (None, "lz4"):
        return scan.stored_bytes(positions)
    if meta.kind == "json" and meta.base_htype in htypes.LIST_HTYPES:
        items = scan.tensor[positions].numpy(aslist=True) if len(positions) else []
        return pa.array([[str(v) for v in np.ravel(x)] for x in items], pa.list_(pa.large_string()))
    if meta.kind not in ("array", "text", "json"):  # polygons: lists of point arrays
        return _nested(scan.tensor[positions].numpy(aslist=True) if len(positions) else [])
    value = ev.eval(expr, rows)
    return from_value(value, scan.classes if scan.classes is not None else value.classes)


def from_value(value: Value, classes: list[str] | None = None) -> pa.Array:
    """A query value (one item per row) in its Arrow form (see the module docstring)."""
    if isinstance(value, Text):
        return value.array
    if isinstance(value, Objects):
        text = pa.array([htypes.json_bytes(x).decode() for x in value.items], pa.large_string())
        return pa.ExtensionArray.from_storage(pa.json_(pa.large_string()), text)
    if isinstance(value, Dense):
        return _dense(value.data, classes)
    if isinstance(value, Ragged):
        return _ragged(value.items)
    return _nested(getattr(value, "items", []))


def _dense(data: np.ndarray, classes: list[str] | None) -> pa.Array:
    if data.ndim == 1 or (data.ndim == 2 and data.shape[1] == 1):
        flat = data.reshape(-1)
        if classes and flat.dtype.kind in "iu" and (len(flat) == 0 or int(flat.max(initial=0)) < len(classes)):
            return pa.DictionaryArray.from_arrays(pa.array(flat.astype(np.int32)), pa.array(classes))
        return pa.array(flat)
    if data.ndim == 2:
        return pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), data.shape[1])
    shape = data.shape[1:]
    storage = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(data).reshape(-1)),
                                                int(np.prod(shape)))
    return pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(storage.type.value_type, shape), storage)


def _ragged(items: list[np.ndarray]) -> pa.Array:
    if all(item.ndim <= 1 for item in items):
        if all(item.size <= 1 for item in items):
            return pa.array([item.reshape(-1)[0].item() if item.size else None for item in items])
        return pa.array([item.reshape(-1).tolist() for item in items])
    rest = {item.shape[1:] for item in items if item.size}
    ndims = {item.ndim for item in items}
    if len(rest) == 1 and len(ndims) == 1 and all(np.prod(r) > 0 for r in rest):
        (inner,) = rest
        dtype = np.result_type(*[item.dtype for item in items])
        flat = np.concatenate([item.astype(dtype, copy=False).reshape(-1) for item in items])
        values: pa.Array = pa.array(flat)
        for size in reversed(inner):
            values = pa.FixedSizeListArray.from_arrays(values, int(size))
        offsets = np.cumsum([0] + [len(item) for item in items]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), values)
    return _nested(items)


def _sequence(rows: list[Any]) -> pa.Array:
    """Sequence samples (lists of items): ``list<fixed_shape_tensor>`` when every item is a numeric
    array of one shape (frames of a video, say; dtype kept), else nested lists."""
    items = [item for row in rows for item in row]
    if items and all(isinstance(x, np.ndarray) and x.dtype.kind in "biuf" for x in items):
        shapes = {x.shape for x in items}
        if len(shapes) == 1 and next(iter(shapes)):
            offsets = np.cumsum([0] + [len(row) for row in rows]).astype(np.int32)
            return pa.ListArray.from_arrays(pa.array(offsets), _dense(np.stack(items), None))
    return _nested(rows)


def _nested(items: Any) -> pa.Array:
    """Values of any nesting (sequences, polygons, ragged N-D arrays) as nested Arrow lists;
    ``ExportError`` when they have no common Arrow type (json items of different structures)."""
    values = [_plain(item) for item in items]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ExportError(f"These values have no common Arrow type ({exc}): leave the column out "
                          "(to_arrow(columns=[...])) or read it with .data() / .numpy(aslist=True).") from None


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US" and value.size == 1 and value.ndim <= 1:
            return str(value.reshape(-1)[0])
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_pandas(table: pa.Table) -> Any:
    """``table`` as a pandas DataFrame (see the module docstring)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns):
        kind = col.type
        if isinstance(kind, pa.FixedShapeTensorType):
            arrays = [chunk.to_numpy_ndarray() for chunk in col.chunks] or [np.zeros((0, *kind.shape))]
            stacked = np.concatenate(arrays)
            data[name] = pd.Series(list(stacked), dtype=object)
        else:
            data[name] = col.to_pandas()
    return pd.DataFrame(data)
