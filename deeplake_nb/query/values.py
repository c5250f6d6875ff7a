"""Column values during query execution, and the element-wise operations on them.

A value holds one sample-level value per row, for ``n`` rows, in one of these forms:

- ``Dense``: numeric/bool ndarray ``(n, *sample_shape)`` (every row has one shape: vectorises);
- ``Ragged``: a list of ndarrays, one per row, of varying shapes (boxes, decoded images);
- ``Text``: one string per row, as an Arrow string array (vectorised string kernels);
- ``Objects``: one JSON value per row (json/list/polygon tensors);
- ``Const``: one value for every row (literals, ``ARRAY[...]``).

Per-row semantics follow NumPy: ``a + b`` on two rows broadcasts their sample shapes as NumPy
would. Integer arithmetic is done in int64 (no uint32 wrap-around). ``%`` is SQL's remainder: it
truncates like C's fmod, so the result has the sign of the dividend (``-10 % 7 == -3``).
Values of class_label tensors carry their ``classes`` so that ``labels == 'cat'`` compares the
class id.

JSON values compare with numbers and text as Python values (``meta['kind'] == 'cat'``); in
arithmetic and numeric functions they count as numbers (``meta['score'] * 2``): a missing key or
JSON null is an empty value, and text or an object there is a QueryError.

**Null.** TQL has no separate NULL: a row's value is null when it is *empty*: a JSON null or
missing key, an empty JSON text/list/object, an empty text, or an array with no elements (a
sample of shape (0, 4), an empty class-label list, an index past the end of a sample). ``IS
NULL`` tests that (``is_null``); an empty value is false in WHERE, sorts last, and aggregates
skip it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import QueryError
from .nodes import Node


class Value:
    classes: list[str] | None = None


@dataclass
class Const(Value):
    value: Any                      # 0-d or n-d ndarray, or str
    classes: list[str] | None = None


@dataclass
class Dense(Value):
    data: np.ndarray                # (n, *sample_shape)
    classes: list[str] | None = None


@dataclass
class Ragged(Value):
    items: list[np.ndarray]
    classes: list[str] | None = None


class Text(Value):
    """One string per row: an Arrow string array, or ``dictionary`` (distinct strings) and
    ``codes`` (int32 per row); then predicates run once per distinct string."""

    def __init__(self, array: pa.Array | None = None, dictionary: pa.Array | None = None,
                 codes: np.ndarray | None = None) -> None:
        self._array = array
        self.dictionary = dictionary
        self.codes = codes

    @property
    def array(self) -> pa.Array:
        if self._array is None:
            assert self.dictionary is not None and self.codes is not None
            self._array = self.dictionary.take(pa.array(self.codes))
        return self._array

    def __len__(self) -> int:
        return len(self.codes) if self.codes is not None else len(self._array)

    def per_value(self, compute: Callable[[pa.Array], Any]) -> np.ndarray:
        """``compute`` (Arrow array -> per-string results) applied to every row, running it once
        per distinct string when the text is dictionary-encoded."""
        if self.dictionary is not None and self.codes is not None:
            return np.asarray(_numpy(compute(self.dictionary)))[self.codes]
        return np.asarray(_numpy(compute(self.array)))

    def strings(self) -> np.ndarray:
        return np.asarray(self.array.to_numpy(zero_copy_only=False), dtype=object)


def _numpy(result: Any) -> Any:
    return result.to_numpy(zero_copy_only=False) if isinstance(result, (pa.Array, pa.ChunkedArray)) else result


@dataclass
class Objects(Value):
    items: list[Any]


def rows_2d(data: np.ndarray) -> np.ndarray:
    """``data`` (rows, *sample_shape) as (rows, elements per sample); also for zero rows."""
    return data.reshape(len(data), int(np.prod(data.shape[1:], dtype=np.int64)))


def describe(value: Value) -> str:
    if isinstance(value, Text) or (isinstance(value, Const) and isinstance(value.value, str)):
        return "text"
    if isinstance(value, Objects):
        return "JSON"
    return "numbers"


def densify(items: Sequence[Any], classes: list[str] | None = None) -> Value:
    """Dense when every row has one shape and dtype (and there is at least one row), else Ragged."""
    if items and all(isinstance(a, np.ndarray) for a in items):
        first = items[0]
        if all(a.shape == first.shape and a.dtype == first.dtype for a in items):
            return Dense(np.stack(items), classes)
    return Ragged([np.asarray(a) for a in items], classes)


def rows_of(value: Value, n: int) -> list[Any]:
    """The per-row values as a list (the slow, general path)."""
    if isinstance(value, Const):
        return [value.value] * n
    if isinstance(value, Dense):
        return list(value.data)
    if isinstance(value, Ragged):
        return value.items
    if isinstance(value, Text):
        return value.array.to_pylist()
    return list(value.items)


def is_text(value: Value) -> bool:
    return isinstance(value, Text) or (isinstance(value, Const) and isinstance(value.value, str))


# -- class names ------------------------------------------------------------------------------
def class_id(classes: list[str], name: str, node: Node) -> int:
    try:
        return classes.index(name)
    except ValueError:
        close = difflib.get_close_matches(name, classes, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; class names are {classes}"
        raise node.error(f"No class '{name}'{hint}") from None


def map_class_names(value: Value, classes: list[str], node: Node) -> Value:
    """Turn a string constant (or constant array of strings) into class ids."""
    if isinstance(value, Const):
        v = value.value
        if isinstance(v, str):
            return Const(np.asarray(class_id(classes, v, node)))
        if isinstance(v, np.ndarray) and v.dtype.kind == "U":
            return Const(np.vectorize(lambda s: class_id(classes, s, node), otypes=[np.int64])(v))
    return value


# -- element-wise operations ------------------------------------------------------------------
_ARITH: dict[str, Callable[..., Any]] = {"+": np.add, "-": np.subtract, "*": np.multiply,
                                         "/": np.true_divide, "%": np.fmod}
_COMPARE: dict[str, Callable[..., Any]] = {"==": np.equal, "!=": np.not_equal, "<": np.less,
                                           "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_LOGIC: dict[str, Callable[..., Any]] = {"and": np.logical_and, "or": np.logical_or}
_ARROW_COMPARE = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
                  ">": pc.greater, ">=": pc.greater_equal}
_PY_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def widen(arr: Any) -> Any:
    """int64 for small ints and bools, so that arithmetic does not wrap around."""
    if isinstance(arr, np.ndarray) and (arr.dtype.kind == "b" or (arr.dtype.kind in "iu" and arr.dtype.itemsize < 8)):
        return arr.astype(np.int64)
    return arr


def _numeric(value: Value, op: str, node: Node) -> None:
    if is_text(value) or isinstance(value, Objects):
        raise node.error(f"'{op}' needs numbers; got {describe(value)}")
    arr = value.value if isinstance(value, Const) else value.data if isinstance(value, Dense) else None
    if isinstance(arr, np.ndarray) and arr.dtype.kind not in "biuf":
        raise node.error(f"'{op}' needs numbers; got {describe(value)}")


def _is_str_array(value: Value) -> bool:
    if isinstance(value, Dense):
        return value.data.dtype.kind == "U"
    return isinstance(value, Ragged) and bool(value.items) and all(x.dtype.kind == "U" for x in value.items)


def binary(op: str, a: Value, b: Value, n: int, node: Node) -> Value:
    """``a op b`` row by row; ``op`` is arithmetic, a comparison, ``and`` or ``or``."""
    if op in _COMPARE:
        if a.classes is not None:
            b = map_class_names(b, a.classes, node)
        if b.classes is not None:
            a = map_class_names(a, b.classes, node)
        a, b = in_dtype_of(a, b), in_dtype_of(b, a)
    if op in _ARITH and (isinstance(a, Objects) or isinstance(b, Objects)):
        a, b = json_numbers(a, op, node), json_numbers(b, op, node)
    if isinstance(a, Objects) or isinstance(b, Objects):
        return _object_binary(op, a, b, n, node)
    if is_text(a) or is_text(b):
        return _text_binary(op, a, b, n, node)
    if op in _ARITH:
        _numeric(a, op, node)
        _numeric(b, op, node)
        func = _ARITH[op]
        prepare: Callable[[Any], Any] = widen
    else:
        func = _COMPARE.get(op) or _LOGIC[op]
        prepare = _identity
    return elementwise(lambda x, y: func(prepare(x), prepare(y)), [a, b], n, node)


def in_dtype_of(value: Value, other: Value) -> Value:
    """``value``, when it is an integer constant (a 0-d array) that ``other``'s numbers (a Dense
    column) hold exactly, as a constant of their dtype; else ``value`` as it is. The comparison
    gives the same rows either way, but NumPy compares an int32 column with an int64 constant
    by converting every value to int64 first (~4x slower than comparing in int32)."""
    if not (isinstance(value, Const) and isinstance(other, Dense)):
        return value
    v, dtype = value.value, other.data.dtype
    if not (isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iu" and dtype.kind in "iuf"
            and v.dtype != dtype):
        return value
    with np.errstate(all="ignore"):  # past a float16's range: inf, which the check below refuses
        narrowed = v.astype(dtype)
    return Const(narrowed, value.classes) if narrowed == v else value


def _identity(x: Any) -> Any:
    return x


def elementwise(func: Callable[..., Any], values: Sequence[Value], n: int, node: Node,
                classes: list[str] | None = None) -> Value:
    """Apply a NumPy function row by row, vectorised when no input is ragged."""
    try:
        with np.errstate(all="ignore"):
            if all(isinstance(v, Const) for v in values):
                return Const(np.asarray(func(*[v.value for v in values])), classes)
            if not any(isinstance(v, Ragged) for v in values):
                ndim = max(_row_ndim(v) for v in values)
                out = func(*[_aligned(v, ndim) for v in values])
                out = np.asarray(out)
                if out.shape[:1] != (n,):  # only constants broadcast to n rows here
                    out = np.broadcast_to(out, (n, *out.shape[1:])).copy()
                return Dense(out, classes)
            per_row = [rows_of(v, n) for v in values]
            return densify([np.asarray(func(*args)) for args in zip(*per_row)], classes)
    except QueryError:
        raise
    except (TypeError, ValueError, IndexError, OverflowError, ZeroDivisionError) as exc:
        raise node.error(f"Cannot evaluate this: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    if "broadcast" in text:
        return "the operands' sample shapes do not match (" + text + ")"
    return text


def _row_ndim(value: Value) -> int:
    if isinstance(value, Const):
        return np.ndim(value.value)
    assert isinstance(value, Dense)
    return value.data.ndim - 1


def _aligned(value: Value, ndim: int) -> np.ndarray:
    """Data shaped (rows, 1, ..., *sample_shape) with ``ndim`` sample dimensions, so that NumPy
    broadcasting pairs sample dimensions from the right, as it would for one row."""
    if isinstance(value, Const):
        arr = np.asarray(value.value)
        return arr.reshape((1,) * (ndim - arr.ndim + 1) + arr.shape)
    assert isinstance(value, Dense)
    data = value.data
    extra = ndim - (data.ndim - 1)
    return data.reshape(data.shape[:1] + (1,) * extra + data.shape[1:]) if extra else data


def _text_binary(op: str, a: Value, b: Value, n: int, node: Node) -> Value:
    if op not in _ARROW_COMPARE:
        raise node.error(f"'{op}' does not apply to text" if op in _ARITH else
                         f"'{op.upper()}' needs conditions; text is not one. Compare it, e.g. "
                         "captions == 'red' or contains(captions, 'red')")
    for side in (a, b):
        if not (is_text(side) or _is_str_array(side)):
            raise node.error(f"Cannot compare text with {describe(side)}")
    if isinstance(a, (Dense, Ragged)) or isinstance(b, (Dense, Ragged)):  # arrays of strings (grouped text)
        a, b = (Dense(np.asarray(v.array.to_pylist(), dtype=str)) if isinstance(v, Text) else v for v in (a, b))
        return elementwise(_COMPARE[op], [a, b], n, node)
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(np.asarray(_PY_COMPARE[op](a.value, b.value)))
    func = _ARROW_COMPARE[op]
    if isinstance(a, Text) and isinstance(b, Const):
        scalar = pa.scalar(b.value, pa.large_string())
        return Dense(a.per_value(lambda strings: func(strings, scalar)).astype(bool, copy=False))
    if isinstance(a, Const) and isinstance(b, Text):
        scalar = pa.scalar(a.value, pa.large_string())
        return Dense(b.per_value(lambda strings: func(scalar, strings)).astype(bool, copy=False))
    left, right = a.array, b.array  # type: ignore[union-attr]
    if left.type != right.type:
        left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
    out = _ARROW_COMPARE[op](left, right)
    return Dense(out.to_numpy(zero_copy_only=False).astype(bool, copy=False))


def _object_binary(op: str, a: Value, b: Value, n: int, node: Node) -> Value:
    left, right = rows_of(a, n), rows_of(b, n)
    left = [_plain(x) for x in left]
    right = [_plain(x) for x in right]
    if op in _PY_COMPARE:
        func = _PY_COMPARE[op]

        def safe(x: Any, y: Any) -> bool:
            try:
                return bool(func(x, y))
            except TypeError:
                return False
        return Dense(np.fromiter((safe(x, y) for x, y in zip(left, right)), bool, n))
    if op in _LOGIC:
        fn = (lambda x, y: bool(x) and bool(y)) if op == "and" else (lambda x, y: bool(x) or bool(y))
        return Dense(np.fromiter((fn(x, y) for x, y in zip(left, right)), bool, n))
    raise node.error(f"'{op}' does not apply to JSON values")


def json_numbers(value: Value, op: str, node: Node) -> Value:
    """JSON values as numbers for arithmetic (other values as they are): a number per row, or
    an array for a list of numbers; JSON null (or a missing key) is an empty value."""
    if not isinstance(value, Objects):
        return value
    items: list[np.ndarray] = []
    for i, item in enumerate(value.items):
        if item is None:
            items.append(np.zeros(0))
            continue
        if isinstance(item, (bool, int, float)) or (isinstance(item, list) and all(
                isinstance(x, (bool, int, float)) for x in item)):
            arr = np.asarray(item)
            items.append(arr.astype(np.float64) if arr.size == 0 else arr)
            continue
        what = "text" if isinstance(item, str) else "a JSON object" if isinstance(item, dict) else "a JSON list"
        raise node.error(f"'{op}' needs numbers; row {i} holds {what} ({_short(item)})")
    return densify(items)


def _short(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(x: Any) -> Any:
    """NumPy scalars and 0-d/size-1 arrays as Python values (for comparing with JSON values)."""
    if isinstance(x, np.ndarray):
        return x.reshape(-1)[0].item() if x.size == 1 else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


# -- LIKE and IS NULL --------------------------------------------------------------------------
def like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """An SQL LIKE pattern as a regular expression: ``%`` any run of characters, ``_`` one
    character, a backslash makes the next character literal; it must match the whole text."""
    parts, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(value: Value, pattern: str, ignore_case: bool, n: int, node: Node) -> Value:
    """Whether each row's text matches an SQL LIKE ``pattern``: Arrow's kernel over a text
    column (once per distinct string when it is dictionary-encoded); class labels match their
    class names; JSON values that are not text never match."""
    if isinstance(value, Text):
        return Dense(value.per_value(lambda strings: pc.match_like(strings, pattern, ignore_case=ignore_case))
                     .astype(bool, copy=False))
    regex = like_regex(pattern, ignore_case)
    if isinstance(value, Const) and isinstance(value.value, str):
        return Const(np.asarray(regex.fullmatch(value.value) is not None))
    if isinstance(value, Objects):
        return Dense(np.fromiter((isinstance(x, str) and regex.fullmatch(x) is not None for x in value.items),
                                 bool, n))
    if value.classes is not None:
        hits = np.asarray([regex.fullmatch(c) is not None for c in value.classes] + [False])
        return elementwise(lambda ids: hits[np.clip(ids, 0, len(hits) - 1)], [value], n, node)
    if _is_str_array(value) or (isinstance(value, Const) and np.asarray(value.value).dtype.kind == "U"):
        match = np.vectorize(lambda s: regex.fullmatch(s) is not None, otypes=[bool])
        return elementwise(match, [value], n, node)
    raise node.error(f"LIKE needs text; got {describe(value)}")


def is_null(value: Value, n: int) -> np.ndarray:
    """Per row: is the value empty (JSON null or missing, empty text/list/object, no elements)?"""
    if isinstance(value, Text):
        return value.per_value(pc.binary_length) == 0
    if isinstance(value, Const):
        v = value.value
        return np.full(n, len(v) == 0 if isinstance(v, str) else np.size(v) == 0)
    if isinstance(value, Dense):
        return np.full(n, rows_2d(value.data).shape[1] == 0)
    if isinstance(value, Ragged):
        return np.fromiter((item.size == 0 for item in value.items), bool, n)
    return np.fromiter((x is None or (isinstance(x, (str, list, dict)) and len(x) == 0) for x in value.items), bool, n)


def logical_not(value: Value, n: int, node: Node) -> Value:
    if is_text(value):
        raise node.error("NOT needs a condition; text is not one")
    if isinstance(value, Objects):
        return Dense(np.fromiter((not bool(x) for x in value.items), bool, n))
    return elementwise(np.logical_not, [value], n, node)


# -- one value per row: conditions, sort and group keys ---------------------------------------
def truth(value: Value, n: int, node: Node, clause: str = "WHERE") -> np.ndarray:
    """A bool per row. A row's value must be one element (an empty value counts as false)."""
    if is_text(value):
        raise node.error(f"{clause} needs a condition; text is not one. Compare it, e.g. "
                         "captions == 'red' or contains(captions, 'red')")
    if isinstance(value, Objects):
        return np.fromiter((bool(_plain(x)) for x in value.items), bool, n)
    if isinstance(value, Const):
        arr = np.asarray(value.value)
        if arr.size > 1:
            raise node.error(f"{clause} needs one value per sample; this gives {arr.size}")
        return np.full(n, bool(arr.reshape(-1)[0]) if arr.size else False)
    if isinstance(value, Dense):
        flat = rows_2d(value.data)
        if flat.shape[1] == 1:
            return flat[:, 0].astype(bool, copy=False)
        if flat.shape[1] == 0:
            return np.zeros(n, bool)
        raise node.error(f"{clause} needs one value per sample; this gives {flat.shape[1]} "
                         "(samples of shape " + str(tuple(value.data.shape[1:])) + "); wrap it in any() or all()")
    assert isinstance(value, Ragged)
    out = np.zeros(n, bool)
    for i, item in enumerate(value.items):
        if item.size == 1:
            out[i] = bool(item.reshape(-1)[0])
        elif item.size > 1:
            raise node.error(f"{clause} needs one value per sample; sample {i} gives {item.size}; "
                             "wrap it in any() or all()")
    return out


@dataclass
class Key:
    """One sortable value per row: ``values`` (ndarray, or Arrow strings) and ``missing`` rows."""

    values: Any
    missing: np.ndarray
    text: bool = False      # strings (kept as Arrow strings, or as the ranks of their dictionary)

    @property
    def is_text(self) -> bool:
        return self.text or self.is_arrow

    @property
    def is_arrow(self) -> bool:
        return isinstance(self.values, (pa.Array, pa.ChunkedArray))

    @staticmethod
    def concat(keys: list[Key]) -> Key:
        if len(keys) == 1:
            return keys[0]
        missing = np.concatenate([k.missing for k in keys])
        if len({k.is_arrow for k in keys}) > 1 or len({k.is_text for k in keys}) > 1:
            raise ValueError("mixed text and numbers")
        if keys[0].is_arrow:
            return Key(pa.chunked_array([k.values for k in keys]).combine_chunks(), missing, True)
        return Key(np.concatenate([k.values for k in keys]), missing, keys[0].text)


def scalar_key(value: Value, n: int, node: Node, clause: str) -> Key:
    """One number or string per row (rows with an empty value are ``missing``)."""
    none = np.zeros(n, bool)
    if isinstance(value, Text):
        if value.dictionary is not None:  # sort by the rank of each distinct string
            ranks = pc.rank(value.dictionary, sort_keys="ascending", tiebreaker="dense")
            return Key(value.per_value(lambda _: ranks).astype(np.int64), none, text=True)
        return Key(value.array, none, text=True)
    if isinstance(value, Const):
        v = value.value
        if isinstance(v, str):
            return Key(pa.array([v] * n, pa.large_string()), none, text=True)
        arr = np.asarray(v)
        if arr.size != 1:
            raise node.error(f"{clause} needs one value per sample; this gives {arr.size}")
        return Key(np.full(n, arr.reshape(-1)[0]), none)
    if isinstance(value, Dense):
        if value.data.dtype.kind not in "biuf":
            if value.data.dtype.kind == "U":
                return scalar_key(densify_text(value.data, n, node, clause), n, node, clause)
            raise node.error(f"{clause} needs numbers or text")
        flat = rows_2d(value.data)
        if flat.shape[1] == 1:
            vals = flat[:, 0]
            return Key(vals, np.isnan(vals) if vals.dtype.kind == "f" else none)
        if flat.shape[1] == 0:
            return Key(np.zeros(n), np.ones(n, bool))
        raise node.error(f"{clause} needs one value per sample; this gives {flat.shape[1]} "
                         f"(samples of shape {tuple(value.data.shape[1:])})")
    items = value.items if isinstance(value, (Ragged, Objects)) else []
    plain = []
    missing = np.zeros(n, bool)
    for i, item in enumerate(items):
        if isinstance(value, Objects):
            x = _plain(item)
            if isinstance(x, (list, dict)):
                raise node.error(f"{clause} needs one value per sample; sample {i} holds a JSON "
                                 f"{'list' if isinstance(x, list) else 'object'}")
        else:
            if item.size > 1:
                raise node.error(f"{clause} needs one value per sample; sample {i} gives {item.size}")
            x = item.reshape(-1)[0].item() if item.size else None
        if x is None or (isinstance(x, float) and x != x):
            missing[i] = True
            x = None
        plain.append(x)
    present = [x for x in plain if x is not None]
    if present and all(isinstance(x, str) for x in present):
        return Key(pa.array([x if x is not None else "" for x in plain], pa.large_string()), missing, text=True)
    if not all(isinstance(x, (bool, int, float)) for x in present):
        raise node.error(f"{clause} needs numbers or text of one kind")
    filled = [0 if x is None else x for x in plain]
    return Key(np.asarray(filled, dtype=np.float64 if any(isinstance(x, float) for x in present) else None)
               if filled else np.zeros(0), missing)


def densify_text(data: np.ndarray, n: int, node: Node, clause: str) -> Text:
    flat = rows_2d(data)
    if flat.shape[1] != 1:
        raise node.error(f"{clause} needs one value per sample")
    return Text(pa.array(flat[:, 0].tolist(), pa.large_string()))
