"""An Arrow column -> a tensor: which htype (inferred from the Arrow type, or given) and each batch's values.

Inferred from the Arrow type (``infer``):

- integers, floats, booleans -> ``generic`` of that dtype (a float null is NaN, another null an
  empty sample);
- strings -> ``text``; dictionary-encoded strings (pandas ``category``) -> ``class_label`` with
  the dictionary as ``class_names``;
- lists of numbers (nested too) -> ``generic`` arrays (an empty list is an empty sample);
  lists of strings -> ``list``; structs, maps and other lists -> ``json``;
- binary -> ``generic`` uint8 arrays of the bytes; dates, times, timestamps, decimals -> ``text``.

A given ``htype`` of ``image`` (any ``image.*``) takes binary values as encoded files (stored
byte-identical when their format is the tensor's sample compression) and strings as file paths;
``link[...]`` takes strings as URLs. Tensor names are the column names with ``? ! / \\ # ' "``
replaced by ``_`` (as Deep Lake v3 does) unless ``name`` is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import IngestionError
from ..format.sample import LinkedSample, Sample

_INVALID = re.compile(r"[?!/\\#'\"]")


@dataclass
class Plan:
    """How one source column becomes one tensor."""
    column: str
    tensor: str
    params: dict[str, Any]
    convert: Callable[[Any], Any] = field(repr=False)
    holds_files: bool = False

    @property
    def links(self) -> bool:
        """Whether the tensor holds links (``link[...]``)."""
        return "link[" in str(self.params.get("htype", ""))

    def values(self, array: Any) -> Any:
        """The tensor's values for one Arrow array (or chunked array) of the column."""
        return self.convert(array)


def plans(schema: Any, column_params: dict[str, dict[str, Any]], creds_key: str | None, source: str) -> list[Plan]:
    """One plan per column of ``schema``; ``column_params`` naming an unknown column is an error."""
    unknown = set(column_params) - set(schema.names)
    if unknown:
        raise IngestionError(f"column_params names columns {sorted(unknown)} that {source} does not have; its "
                             f"columns are {schema.names}.")
    out = [plan(f.name, f.type, dict(column_params.get(f.name, {})), creds_key, source) for f in schema]
    tensors = [p.tensor for p in out]
    if len(set(tensors)) != len(tensors):
        raise IngestionError(f"Columns of {source} map to the same tensor names {tensors}; name them apart with "
                             "column_params={'col': {'name': ...}}.")
    return out


def plan(column: str, arrow_type: Any, params: dict[str, Any], creds_key: str | None, source: str) -> Plan:
    tensor = params.pop("name", None) or _INVALID.sub("_", str(column))
    if "htype" not in params:
        params.update(infer(arrow_type, column, source))
    return Plan(column, tensor, params, _converter(params, arrow_type, creds_key, column, source),
                holds_files=str(params.get("htype", "")).replace("link[", "").startswith("image")
                or _is_binary(arrow_type))


def add_class_names(plans: list[Plan], table: Any) -> None:
    """Give the class_label tensors of dictionary columns of a pyarrow Table their dictionary as
    ``class_names`` (pandas categories keep their order); names found later are appended."""
    import pyarrow as pa
    import pyarrow.types as pt

    if not isinstance(table, pa.Table):
        return
    for plan in plans:
        column = table.column(plan.column)
        if (plan.params.get("htype") == "class_label" and "class_names" not in plan.params
                and pt.is_dictionary(column.type) and column.num_chunks):
            plan.params["class_names"] = [str(v) for v in column.chunk(0).dictionary.to_pylist()]


def infer(arrow_type: Any, column: str, source: str) -> dict[str, Any]:
    """``create_tensor`` arguments for a column of ``arrow_type``; see the module docstring."""
    import pyarrow.types as pt

    if pt.is_integer(arrow_type) or pt.is_floating(arrow_type) or pt.is_boolean(arrow_type):
        return {"htype": "generic", "dtype": np.dtype(arrow_type.to_pandas_dtype()).name}
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or _is_textual(arrow_type):
        return {"htype": "text"}
    if pt.is_dictionary(arrow_type):
        if pt.is_string(arrow_type.value_type) or pt.is_large_string(arrow_type.value_type):
            return {"htype": "class_label"}
        return infer(arrow_type.value_type, column, source)
    if _is_binary(arrow_type):
        return {"htype": "generic", "dtype": "uint8"}
    if _is_list(arrow_type):
        inner = _innermost(arrow_type)
        if pt.is_integer(inner) or pt.is_floating(inner) or pt.is_boolean(inner):
            return {"htype": "generic", "dtype": np.dtype(inner.to_pandas_dtype()).name}
        if (pt.is_string(inner) or pt.is_large_string(inner)) and not _is_list(arrow_type.value_type):
            return {"htype": "list"}
        return {"htype": "json"}
    if pt.is_struct(arrow_type) or pt.is_map(arrow_type) or pt.is_null(arrow_type):
        return {"htype": "json"}
    raise IngestionError(f"Column {column!r} of {source} has Arrow type {arrow_type}, which no tensor takes as is; "
                         "convert it, or give column_params={" + repr(column) + ": {'htype': ...}}.")


def _is_binary(arrow_type: Any) -> bool:
    import pyarrow.types as pt

    return pt.is_binary(arrow_type) or pt.is_large_binary(arrow_type) or pt.is_fixed_size_binary(arrow_type)


def _is_textual(arrow_type: Any) -> bool:
    import pyarrow.types as pt

    return pt.is_temporal(arrow_type) or pt.is_decimal(arrow_type)


def _is_list(arrow_type: Any) -> bool:
    import pyarrow.types as pt

    return pt.is_list(arrow_type) or pt.is_large_list(arrow_type) or pt.is_fixed_size_list(arrow_type)


def _innermost(arrow_type: Any) -> Any:
    while _is_list(arrow_type):
        arrow_type = arrow_type.value_type
    return arrow_type


def _converter(params: dict[str, Any], arrow_type: Any, creds_key: str | None, column: str,
               source: str) -> Callable[[Any], Any]:
    import pyarrow.types as pt

    htype = str(params.get("htype") or "generic")
    if htype.startswith("link[") or htype.startswith("sequence[link["):
        return lambda array: [None if u is None else LinkedSample(u, creds_key) for u in array.to_pylist()]
    if htype.startswith("image"):
        if _is_binary(arrow_type):
            return lambda array: [None if b is None else Sample(buffer=b) for b in array.to_pylist()]
        if pt.is_string(arrow_type) or pt.is_large_string(arrow_type):
            return lambda array: [None if p is None else Sample(p) for p in array.to_pylist()]
        raise IngestionError(f"Column {column!r} of {source} is an image column but holds {arrow_type}; an image "
                             "column holds encoded bytes or file paths.")
    if htype == "text" and _is_textual(arrow_type):
        return lambda array: [None if v is None else str(v) for v in array.to_pylist()]
    if pt.is_integer(arrow_type) or pt.is_floating(arrow_type) or pt.is_boolean(arrow_type):
        return _numbers
    if pt.is_dictionary(arrow_type) and htype != "class_label":
        return lambda array: _converter(params, arrow_type.value_type, creds_key, column, source)(
            array.cast(arrow_type.value_type))
    if _is_binary(arrow_type) and htype == "generic":
        return lambda array: [None if b is None else np.frombuffer(b, dtype=np.uint8) for b in array.to_pylist()]
    if _is_list(arrow_type) and params.get("htype") == "generic":
        dtype = np.dtype(_innermost(arrow_type).to_pandas_dtype())
        return lambda array: [None if not v else np.asarray(v, dtype=dtype) for v in array.to_pylist()]
    return lambda array: array.to_pylist()


def _numbers(array: Any) -> Any:
    """A numeric column's values: one NumPy array (floats' nulls as NaN), or a list with None
    (an empty sample) for the other nulls."""
    import pyarrow.types as pt

    if array.null_count and pt.is_floating(array.type):
        array = array.fill_null(float("nan"))
    if array.null_count:
        return array.to_pylist()
    return array.to_numpy(zero_copy_only=False)
