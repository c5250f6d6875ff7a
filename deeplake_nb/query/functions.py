"""TQL functions. Each one maps its argument values to one value per row, vectorised over the
rows when the argument is dense.

Reductions (``any``, ``all``, ``all_strict``, ``sum``, ``mean``/``avg``, ``min``, ``max``, the
norms, ``cosine_similarity``) work over all elements of a sample (over all members' samples on
grouped rows); ``shape`` and ``len`` of a tensor read the shape side array only (no decoding).
In an aggregate query (``aggregate``) ``count``, ``sum``, ``avg``, ``min`` and ``max`` in the
SELECT list and ORDER BY reduce each group instead; ``count`` counts a group's rows, so outside
an aggregate query it only applies to grouped rows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import nodes as n
from . import vector
from .values import (
    Const,
    Dense,
    Objects,
    Ragged,
    Text,
    Value,
    densify,
    describe,
    elementwise,
    is_null,
    is_text,
    json_numbers,
    map_class_names,
    rows_2d,
    rows_of,
    widen,
)

if TYPE_CHECKING:
    from .evaluate import Evaluator, Rows


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int
    impl: Callable[[Evaluator, n.Call, Rows], Value]
    summary: str


FUNCTIONS: dict[str, Function] = {}


def _register(name: str, min_args: int, max_args: int, summary: str):
    def wrap(impl: Callable[[Evaluator, n.Call, Rows], Value]) -> Callable[[Evaluator, n.Call, Rows], Value]:
        FUNCTIONS[name] = Function(name, min_args, max_args, impl, summary)
        return impl
    return wrap


def check_call(call: n.Call) -> Function:
    """The function a call names, after checking it exists and gets the right number of arguments."""
    func = FUNCTIONS.get(call.name)
    span = call.name_span or call.span
    if func is None:
        close = difflib.get_close_matches(call.name, list(FUNCTIONS), n=1)
        hint = f"; did you mean {close[0]}()?" if close else f"; functions are {', '.join(sorted(FUNCTIONS))}"
        raise span.error(f"Unknown function {call.name}(){hint}")
    count = len(call.args)
    if not func.min_args <= count <= func.max_args:
        want = (str(func.min_args) if func.min_args == func.max_args
                else f"{func.min_args} to {func.max_args}")
        raise call.error(f"{func.name}() takes {want} argument{'s' if want != '1' else ''}, got {count}")
    return func


# -- helpers ----------------------------------------------------------------------------------
def _need_numbers(value: Value, call: n.Call, what: str = "") -> None:
    if is_text(value) or isinstance(value, Objects):
        raise call.error(f"{call.name}() needs numbers{what}; got {describe(value)}")
    arr = value.value if isinstance(value, Const) else value.data if isinstance(value, Dense) else None
    if isinstance(arr, np.ndarray) and arr.dtype.kind not in "biuf":
        raise call.error(f"{call.name}() needs numbers{what}; got {describe(value)}")
    if isinstance(value, Ragged) and any(x.dtype.kind not in "biuf" for x in value.items):
        raise call.error(f"{call.name}() needs numbers{what}; got text")


def _reduce(value: Value, rows: int, call: n.Call, dense: Callable[[np.ndarray], np.ndarray],
            one: Callable[[np.ndarray], Any]) -> Value:
    """Reduce every sample to one value: ``dense`` on an (n, elements) array, ``one`` on a flat sample."""
    value = json_numbers(value, f"{call.name}()", call)
    _need_numbers(value, call)
    with np.errstate(all="ignore"):
        if isinstance(value, Const):
            return Const(np.asarray(one(np.asarray(value.value).reshape(-1))))
        if isinstance(value, Dense):
            return Dense(np.asarray(dense(rows_2d(value.data))))
        assert isinstance(value, Ragged)
        return densify([np.asarray(one(item.reshape(-1))) for item in value.items])


_float = vector.as_float


def _rowwise(ev: Evaluator, func: Callable[..., Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A dense reduction through ``vector`` (on the evaluator's array module: NumPy or the GPU)."""
    xp = getattr(ev, "xp", np)
    return lambda flat: vector.run(func, [_float(flat)], xp)


def _empty_nan(reduce: Callable[..., np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Row-wise min/max on an (n, k) array, NaN for every row when k == 0."""
    def run(flat: np.ndarray) -> np.ndarray:
        if flat.shape[1] == 0:
            return np.full(len(flat), np.nan)
        return reduce(flat, axis=1)
    return run


def _one_nan(reduce: Callable[..., Any]) -> Callable[[np.ndarray], Any]:
    return lambda x: reduce(x) if x.size else np.nan


# -- reductions -------------------------------------------------------------------------------
@_register("any", 1, 1, "True when any element of the sample is true")
def _any(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, lambda f: (f != 0).any(axis=1),
                   lambda x: bool((x != 0).any()))


@_register("all", 1, 1, "True when every element is true (an empty sample gives True)")
def _all(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, lambda f: (f != 0).all(axis=1),
                   lambda x: bool((x != 0).all()))


@_register("all_strict", 1, 1, "Like all(), but an empty sample gives False")
def _all_strict(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call,
                   lambda f: (f != 0).all(axis=1) & (f.shape[1] > 0),
                   lambda x: bool(x.size and (x != 0).all()))


@_register("sum", 1, 1, "Sum of the sample's elements")
def _sum(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, lambda f: widen(f).sum(axis=1),
                   lambda x: widen(x).sum())


@_register("mean", 1, 1, "Mean of the sample's elements (NaN for an empty sample)")
def _mean(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    def dense(f: np.ndarray) -> np.ndarray:
        return _float(f).sum(axis=1) / f.shape[1] if f.shape[1] else np.full(len(f), np.nan)
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, dense,
                   lambda x: _float(x).sum() / x.size if x.size else np.nan)


@_register("avg", 1, 1, "Mean of the sample's elements, like mean(); in an aggregate query, of the group's")
def _avg(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _mean(ev, call, rows)


@_register("count", 0, 1, "COUNT(*): rows in the group; COUNT(x): rows whose x is not null (needs groups)")
def _count(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    if rows.offsets is None:
        raise call.error("COUNT() counts the rows of a group: use it in the SELECT list "
                         "(SELECT labels, COUNT(*) GROUP BY labels) or after GROUP BY")
    if not call.args:
        return Dense(np.diff(rows.offsets).astype(np.int64))
    from .evaluate import Rows as _Rows  # evaluate imports this module

    members = _Rows(rows.positions, range(len(rows.positions)))
    present = ~is_null(ev.eval(call.args[0], members), members.n)
    running = np.concatenate([[0], np.cumsum(present, dtype=np.int64)])
    return Dense(running[rows.offsets[1:]] - running[rows.offsets[:-1]])


@_register("min", 1, 1, "Smallest element of the sample (NaN for an empty sample)")
def _min(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, _empty_nan(np.min), _one_nan(np.min))


@_register("max", 1, 1, "Largest element of the sample (NaN for an empty sample)")
def _max(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, _empty_nan(np.max), _one_nan(np.max))


@_register("l1_norm", 1, 1, "Sum of absolute values of the sample's elements")
def _l1(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, _rowwise(ev, vector.l1_rows),
                   lambda x: np.abs(_float(x)).sum())


@_register("l2_norm", 1, 1, "Euclidean length of the sample's elements")
def _l2(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, _rowwise(ev, vector.l2_rows),
                   lambda x: np.sqrt(np.dot(_float(x), _float(x))))


@_register("linf_norm", 1, 1, "Largest absolute value of the sample's elements (0 when empty)")
def _linf(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return _reduce(ev.eval(call.args[0], rows), rows.n, call, _rowwise(ev, vector.linf_rows),
                   lambda x: np.abs(_float(x)).max() if x.size else 0.0)


@_register("cosine_similarity", 2, 2, "Cosine of the angle between two vectors (0 when one is all zeros)")
def _cosine(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    a, b = (ev.eval(arg, rows) for arg in call.args)
    for v in (a, b):
        _need_numbers(v, call)
    if isinstance(b, Const) and not isinstance(a, Const):
        a, b = b, a
    with np.errstate(all="ignore"):
        if isinstance(a, Const) and isinstance(b, Const):
            return Const(np.asarray(_cos_one(_vec(a.value), _vec(b.value), call)))
        xp = getattr(ev, "xp", np)
        if isinstance(a, Const) and isinstance(b, Dense):
            x = _float(rows_2d(b.data))
            q = vector.query_vector(a.value, x.dtype)
            if q.size != x.shape[1]:
                raise call.error(f"cosine_similarity() needs vectors of one length; got {x.shape[1]} and {q.size}")
            return Dense(vector.run(vector.cosine_rows, [x, q], xp))
        if isinstance(a, Dense) and isinstance(b, Dense):
            x, y = (_float(rows_2d(v.data)) for v in (a, b))
            if x.shape[1] != y.shape[1]:
                raise call.error(f"cosine_similarity() needs vectors of one length; got {x.shape[1]} and {y.shape[1]}")
            return Dense(vector.run(vector.cosine_pairs, [x, y], xp))
        pairs = zip(rows_of(a, rows.n), rows_of(b, rows.n))
        return densify([np.asarray(_cos_one(_vec(x), _vec(y), call)) for x, y in pairs])


def _vec(x: Any) -> np.ndarray:
    return _float(np.asarray(x)).reshape(-1)


def _cos_one(x: np.ndarray, y: np.ndarray, call: n.Call) -> float:
    if x.size != y.size:
        raise call.error(f"cosine_similarity() needs vectors of one length; got {x.size} and {y.size}")
    norm = np.sqrt(np.dot(x, x)) * np.sqrt(np.dot(y, y))
    return float(np.dot(x, y) / norm) if norm > 0 else 0.0


# -- element-wise -----------------------------------------------------------------------------
@_register("abs", 1, 1, "Absolute value of each element")
def _abs(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    value = json_numbers(ev.eval(call.args[0], rows), "abs()", call)
    _need_numbers(value, call)
    return elementwise(np.abs, [value], rows.n, call)


@_register("sqrt", 1, 1, "Square root of each element (NaN below zero)")
def _sqrt(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    value = json_numbers(ev.eval(call.args[0], rows), "sqrt()", call)
    _need_numbers(value, call)
    return elementwise(np.sqrt, [value], rows.n, call)


# -- shapes -----------------------------------------------------------------------------------
@_register("shape", 1, 1, "The sample's shape, e.g. shape(images)[0] is the height (no decoding)")
def _shape(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    arg = call.args[0]
    if isinstance(arg, n.TensorRef):
        return Dense(ev.shapes(arg.key, rows))
    value = ev.eval(arg, rows)
    if isinstance(value, Const):
        if isinstance(value.value, str):
            raise call.error("shape() needs an array; got text")
        return Const(np.asarray(np.shape(value.value), np.int64))
    if isinstance(value, Dense):
        return Dense(np.tile(np.asarray(value.data.shape[1:], np.int64), (len(value.data), 1)))
    if isinstance(value, Ragged):
        return densify([np.asarray(item.shape, np.int64) for item in value.items])
    raise call.error(f"shape() needs an array; got {describe(value)}")


@_register("len", 1, 1, "Length of the sample's first dimension, or of a text (no decoding for arrays)")
def _len(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    arg = call.args[0]
    if isinstance(arg, n.TensorRef):
        meta = ev.scan(arg.key).meta
        if rows.offsets is not None:
            return Dense(np.diff(rows.offsets).astype(np.int64))
        if meta.kind == "array" and not meta.link:
            shapes = ev.shapes(arg.key, rows)
            if not len(shapes):
                return Dense(np.zeros(0, np.int64))
            if shapes.shape[1] == 0:
                raise call.error(f"len() needs samples with at least one dimension; {arg.name} holds scalars")
            return Dense(shapes[:, 0].copy())
    value = ev.eval(arg, rows)
    if isinstance(value, Text):
        return Dense(value.per_value(pc.utf8_length).astype(np.int64))
    if isinstance(value, Const):
        v = value.value
        if isinstance(v, str):
            return Const(np.asarray(len(v)))
        if np.ndim(v) == 0:
            raise call.error("len() needs an array or a text; got a single number")
        return Const(np.asarray(len(v)))
    if isinstance(value, Dense):
        if value.data.ndim < 2:
            raise call.error("len() needs samples with at least one dimension; these are single numbers")
        return Dense(np.full(len(value.data), value.data.shape[1], np.int64))
    if isinstance(value, Ragged):
        if any(item.ndim == 0 for item in value.items):
            raise call.error("len() needs samples with at least one dimension")
        return Dense(np.fromiter((len(item) for item in value.items), np.int64, len(value.items)))
    assert isinstance(value, Objects)
    out = np.zeros(len(value.items), np.int64)
    for i, item in enumerate(value.items):
        if not isinstance(item, (list, dict, str)):
            raise call.error(f"len() needs a list, an object or a text; sample {i} holds {type(item).__name__}")
        out[i] = len(item)
    return Dense(out)


# -- search -----------------------------------------------------------------------------------
@_register("contains", 2, 2, "Text contains a substring, or an array/list contains a value")
def _contains(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    arg = call.args[0]
    if isinstance(arg, n.TensorRef) and rows.offsets is None and isinstance(call.args[1], n.Literal) \
            and isinstance(call.args[1].value, str) and not ev.has_read(arg.key, rows):
        found = ev.scan(arg.key).text_contains(rows.positions, call.args[1].value)
        if found is not None:  # a text column searched in its stored chunks, without reading it as text
            return Dense(found)
    haystack = ev.eval(arg, rows)
    needle = ev.eval(call.args[1], rows)
    if not isinstance(needle, Const):
        raise call.error("contains() takes a constant as its second argument, e.g. contains(captions, 'red')")
    if haystack.classes is not None:
        needle = map_class_names(needle, haystack.classes, call.args[1])
    v = needle.value
    if isinstance(haystack, Text):
        if not isinstance(v, str):
            raise call.error("contains() on text needs a text to look for, e.g. contains(captions, 'red')")
        return Dense(haystack.per_value(lambda strings: text_contains(strings, v)))
    if isinstance(haystack, Objects):
        return Dense(np.fromiter((_json_contains(x, v) for x in haystack.items), bool, len(haystack.items)))
    if isinstance(haystack, Const) and isinstance(haystack.value, str):
        if not isinstance(v, str):
            raise call.error("contains() on text needs a text to look for")
        return Const(np.asarray(v in haystack.value))
    strings = (isinstance(haystack, Ragged) and bool(haystack.items)
               and all(x.dtype.kind == "U" for x in haystack.items))
    if strings or (isinstance(haystack, Dense) and haystack.data.dtype.kind == "U"):
        if not isinstance(v, str):
            raise call.error("contains() on text needs a text to look for")
        return _reduce_strings(haystack, v)
    if isinstance(v, str):
        raise call.error(f"contains(): {call.args[0].text} holds numbers, not text or class labels; "
                         "look for a number instead")
    if np.ndim(v) != 0:
        raise call.error("contains() looks for one value")
    _need_numbers(haystack, call)
    target = np.asarray(v)
    return _reduce(haystack, rows.n, call, lambda f: (f == target).any(axis=1),
                   lambda x: bool((x == target).any()))


def text_contains(array: pa.Array, needle: str) -> np.ndarray:
    """Which strings of an Arrow string array contain ``needle`` (byte-exact, so case-sensitive).

    When the needle's rarest byte is rare in the data, the byte heap is scanned for it with
    NumPy and only those spots are checked (a vectorised memchr); otherwise Arrow's
    per-string search is faster."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    count = len(array)
    pattern = np.frombuffer(needle.encode(), np.uint8)
    if not len(pattern):
        return np.ones(count, bool)
    if array.null_count or array.type not in (pa.large_string(), pa.string()) or not count:
        return pc.match_substring(array, needle).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    _, offset_buffer, data_buffer = array.buffers()
    width = np.int64 if array.type == pa.large_string() else np.int32
    offsets = np.frombuffer(offset_buffer, width)[array.offset: array.offset + count + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    heap = np.frombuffer(data_buffer, np.uint8)[lo:hi] if data_buffer is not None else np.zeros(0, np.uint8)
    m, size = len(pattern), len(heap)
    if size < m:
        return np.zeros(count, bool)
    sample = np.bincount(heap[: 1 << 16], minlength=256)
    anchor = int(np.argmin(sample[pattern]))
    expected = sample[pattern[anchor]] * size / min(size, 1 << 16)
    if expected > count / 2:  # the rarest byte is everywhere: per-string search wins
        return pc.match_substring(array, needle).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    spots = np.flatnonzero(heap[anchor: size - m + 1 + anchor] == pattern[anchor])
    for k in range(m):
        if k != anchor and len(spots):
            spots = spots[heap[spots + k] == pattern[k]]
    found = np.zeros(count, bool)
    if len(spots):
        starts = offsets[:-1] - lo
        row = np.searchsorted(starts, spots, side="right") - 1
        inside = spots + m <= offsets[1:][row] - lo
        found[row[inside]] = True
    return found


def _reduce_strings(haystack: Value, needle: str) -> Value:
    items = rows_of(haystack, 0) if isinstance(haystack, Ragged) else list(haystack.data)  # type: ignore[union-attr]
    return Dense(np.fromiter((bool((np.strings.find(np.asarray(x, dtype=str), needle) >= 0).any())
                              for x in items), bool, len(items)))


def _json_contains(item: Any, needle: Any) -> bool:
    if isinstance(needle, np.ndarray):
        needle = needle.item() if needle.ndim == 0 else needle.tolist()
    if isinstance(item, str):
        return isinstance(needle, str) and needle in item
    if isinstance(item, dict):
        return isinstance(needle, str) and needle in item
    if isinstance(item, list):
        try:
            return needle in item
        except TypeError:
            return False
    return item == needle


# -- row information --------------------------------------------------------------------------
@_register("random", 0, 0, "A uniform random number in [0, 1) per row (seed with query(..., seed=))")
def _random(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return Dense(ev.rng(call, rows).random(rows.n))


@_register("row_number", 0, 0, "The row's position (0-based) in what the query reads")
def _row_number(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    return Dense(rows.number_array().copy())


@_register("sample_index", 0, 0, "The sample's index in the source dataset (View.sample_indices); "
           "the bare name sample_index means the same unless a tensor or column has that name")
def _sample_index(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    from .evaluate import group_value  # evaluate imports this module

    value = Dense(rows.position_array().copy())
    return value if rows.offsets is None else group_value(value, rows.offsets)


@_register("data", 2, 2, "data(tensor, i): the value of a tensor at row i, as a constant")
def _data(ev: Evaluator, call: n.Call, rows: Rows) -> Value:
    ref, index = call.args
    if not isinstance(ref, n.TensorRef):
        raise call.error("data() takes a tensor name first, e.g. data(embeddings, 10)")
    if not (isinstance(index, n.Literal) and isinstance(index.value, int) and not isinstance(index.value, bool)):
        raise index.error("data() takes a whole number as its second argument")
    return ev.sample(ref, index.value, index)
