"""The query widget's filter panel: what can be filtered on (facets) and the TQL a choice makes.

Facets of a dataset (or row view), read from tensor metadata, the shape side arrays and the
label/number columns only (pictures are never decoded):

- ``{"kind": "class", "tensor", "multi", "total", "classes": [{"name", "id", "count"}]}`` for each
  class_label tensor: per class, the number of samples holding it (so a share is at most 100%);
  ``multi`` when some sample holds other than one label;
- ``{"kind": "range", "tensor", "expr", "min", "max", "integer"}`` (and ``label`` where the
  expression is not the clearest name) for each numeric tensor with one
  value per sample (``expr`` is its name) and for each tensor whose samples differ in length
  (``expr`` is ``len(<name>)``: the number of boxes, points, characters ...), and for the height
  and width of pictures whose sizes differ (``shape(<name>)[0]``, ``shape(<name>)[1]``, read from
  the shape side arrays), when the values are not all equal;
- ``{"kind": "text", "tensor"}`` for each text tensor (caption search).

``filter_query(facets, selection)`` turns the panel's state into one query; ``selection`` is
``{"classes": {tensor: [names]}, "ranges": {expr: [lo, hi]}, "text": {tensor: needle}}``. Classes of
one tensor are OR-ed (``contains(t, 'a')`` on multi-label tensors, ``t == 'a'`` on the others),
everything else AND-ed. Names are quoted as TQL needs (``"a/b"`` identifiers, ``''`` in strings).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..errors import DynamicShapeError, WidgetRequestError
from ..query.parser import RESERVED
from . import classes
from . import overlays as ov
from .source import READ_ERRORS

MAX_BARS = 24
MAX_CLASSES = 200   # classes listed in the panel per tensor (the most frequent)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMERIC = "biuf"


def tql_name(name: str) -> str:
    """A tensor name as a TQL identifier (double-quoted unless it is a plain word, not a keyword)."""
    plain = _PLAIN.fullmatch(name) and name.upper() not in RESERVED
    return name if plain else '"' + name.replace('"', '""') + '"'


def tql_string(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _per_sample_ids(tensor: Any) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
    """The class ids of every sample: a dense (n, k) array when all samples hold k ids, else a list."""
    try:
        arr = np.asarray(tensor.numpy())
        return None, arr.reshape(len(arr), -1).astype(np.int64, copy=False)
    except DynamicShapeError:
        return [np.asarray(x).reshape(-1).astype(np.int64) for x in tensor.numpy(aslist=True)], None


def _distinct_per_row(ids: np.ndarray) -> np.ndarray:
    """The ids of an (n, k) array with each row's repeats dropped (a sample counts once per class),
    flattened. Sorting within rows, not ``np.unique(..., axis=0)`` over (row, id) pairs: 7x faster
    on 100,000 samples of one label."""
    if ids.shape[1] <= 1:
        return ids.reshape(-1)
    ordered = np.sort(ids, axis=1)
    first = np.ones(ordered.shape, bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return ordered[first]


def label_counts(rows: Any, tensor_name: str, max_bars: int = MAX_BARS) -> dict[str, Any]:
    """Class counts of class_label tensor ``tensor_name`` over ``rows`` (a dataset or row view):
    for the ``max_bars`` most common classes, the number of samples that hold each (ties: lower id
    first), ``other`` (samples-with-class count summed over the rest), ``unlabeled`` (samples with
    no label), ``total`` samples and ``multi`` (some sample holds other than one label)."""
    tensor = rows[tensor_name]
    names = classes.class_names(tensor)
    total = len(rows)
    counts = np.zeros(0, np.int64)
    unlabeled, multi = 0, False
    if total:
        ragged, dense = _per_sample_ids(tensor)
        if dense is not None:
            multi = dense.shape[1] != 1
            unlabeled = total if dense.shape[1] == 0 else 0
            ids = _distinct_per_row(dense)
        else:
            assert ragged is not None  # _per_sample_ids gives the list when there is no dense array
            multi = any(x.size != 1 for x in ragged)
            unlabeled = sum(1 for x in ragged if x.size == 0)
            ids = np.concatenate([np.unique(x) for x in ragged]) if ragged else np.empty(0, np.int64)
        ids = ids[ids >= 0]
        counts = np.bincount(ids) if ids.size else counts
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -counts[present]))]
    bars = [{"name": names[i] if i < len(names) else str(int(i)), "id": int(i), "count": int(counts[i])}
            for i in order[:max_bars]]
    other = int(counts[order[max_bars:]].sum()) if len(order) > max_bars else 0
    return {"tensor": tensor_name, "total": int(total), "bars": bars, "other": other, "unlabeled": int(unlabeled),
            "multi": bool(multi)}


def facets(rows: Any) -> list[dict[str, Any]]:
    """The facets of ``rows`` (see the module doc), in tensor order; a tensor that cannot be read
    is left out."""
    out: list[dict[str, Any]] = []
    for name, tensor in rows.tensors.items():
        role = ov.role(tensor)
        try:
            if role == "label":
                counts = label_counts(rows, name, MAX_CLASSES)
                out.append({"kind": "class", "tensor": name, "multi": counts["multi"], "total": counts["total"],
                            "classes": counts["bars"]})
            elif role == "text":
                out.append({"kind": "text", "tensor": name})
            elif role == "image" and not tensor.meta.sequence:
                out.extend(_picture_ranges(tensor, name))
            elif role not in ("image", "mask") and not tensor.meta.sequence:
                found = _range(tensor, name)
                if found is not None:
                    out.append(found)
        except (*READ_ERRORS, TypeError):
            continue
    return out


def _range(tensor: Any, name: str) -> dict[str, Any] | None:
    """A numeric tensor with one value per sample, or a tensor whose sample lengths differ."""
    if not len(tensor):
        return None
    dtype = np.dtype(tensor.meta.dtype) if tensor.meta.dtype else None
    shapes = np.asarray(tensor.shapes()).reshape(len(tensor), -1)
    if dtype is not None and dtype.kind in _NUMERIC and (np.prod(shapes, axis=1) == 1).all():
        values = np.asarray(tensor.numpy()).reshape(-1)
        expr, integer = tql_name(name), dtype.kind in "biu"
    elif shapes.shape[1] >= 1 and len(np.unique(shapes[:, 0])) > 1:
        values, expr, integer = shapes[:, 0], f"len({tql_name(name)})", True
    else:
        return None
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if not values.size:
        return None
    lo, hi = values.min().item(), values.max().item()
    if lo == hi:
        return None  # nothing to choose
    return {"kind": "range", "tensor": name, "expr": expr, "min": lo, "max": hi, "integer": bool(integer)}


def _picture_ranges(tensor: Any, name: str) -> list[dict[str, Any]]:
    """Height and width ranges of an image tensor whose pictures differ in size (none that agree)."""
    if not len(tensor):
        return []
    shapes = np.asarray(tensor.shapes()).reshape(len(tensor), -1)
    out = []
    for axis in range(min(2, shapes.shape[1])):
        lo, hi = int(shapes[:, axis].min()), int(shapes[:, axis].max())
        if lo != hi:
            out.append({"kind": "range", "tensor": name, "expr": f"shape({tql_name(name)})[{axis}]",
                        "label": f"{name} {('height', 'width')[axis]}", "min": lo, "max": hi, "integer": True})
    return out


def filter_query(found: list[dict[str, Any]], selection: Any) -> str:
    """The TQL for ``selection`` over facets ``found`` (see the module doc); WidgetRequestError for a
    selection that names no facet or has a malformed value."""
    if not isinstance(selection, dict):
        raise WidgetRequestError(f"A filter selection is a mapping; got {selection!r}.")
    by_tensor = {(f["kind"], f["tensor"]): f for f in found}
    by_expr = {f["expr"]: f for f in found if f["kind"] == "range"}
    terms: list[str] = []
    for tensor, names in _section(selection, "classes"):
        facet = by_tensor.get(("class", tensor))
        if facet is None or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise WidgetRequestError(f"No class facet {tensor!r} with class names {names!r}.")
        if names:
            t = tql_name(tensor)
            parts = [f"contains({t}, {tql_string(n)})" if facet["multi"] else f"{t} == {tql_string(n)}" for n in names]
            terms.append(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")
    for expr, bounds in _section(selection, "ranges"):
        facet = by_expr.get(expr)
        if facet is None or not _bounds_ok(bounds):
            raise WidgetRequestError(f"No range facet {expr!r} with bounds [lo, hi]; got {bounds!r}.")
        lo, hi = bounds
        if lo > facet["min"] or hi < facet["max"]:
            terms.append(f"{expr} BETWEEN {_number(lo)} AND {_number(hi)}")
    for tensor, needle in _section(selection, "text"):
        if ("text", tensor) not in by_tensor or not isinstance(needle, str):
            raise WidgetRequestError(f"No text facet {tensor!r} to search for {needle!r}.")
        if needle:
            terms.append(f"contains({tql_name(tensor)}, {tql_string(needle)})")
    return "SELECT *" + (" WHERE " + " AND ".join(terms) if terms else "")


def _section(selection: dict[str, Any], key: str) -> Any:
    """The ``(name, value)`` pairs of one part of a selection (none when it is absent)."""
    part = selection.get(key) or {}
    if not isinstance(part, dict):
        raise WidgetRequestError(f"A filter selection's {key!r} is a mapping; got {part!r}.")
    return part.items()


def _bounds_ok(bounds: Any) -> bool:
    return (isinstance(bounds, list) and len(bounds) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds)
            and bounds[0] <= bounds[1])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
