"""Grouping and aggregates: ``SELECT labels, COUNT(*) AS n, AVG(score) GROUP BY labels``.

**Which queries aggregate.** A SELECT aggregates when its SELECT list calls an aggregate
(``COUNT``, ``SUM``, ``AVG``, ``MIN``, ``MAX``) and it has a GROUP BY, or when the list calls
``COUNT`` (then all rows form one group). Otherwise ``sum``/``min``/``max``/``avg`` keep their
TQL meaning, a reduction of each sample (``WHERE sum(boxes[:, 2]) > 10``), and a GROUP BY
without aggregates gives groups of samples. In an aggregate query every column and ORDER BY key
is a GROUP BY expression, an aggregate, a constant, or an expression of these; anything else
is a QueryError.

**What it returns.** A table with one row per group, in the order of the groups' first rows.
Each row is represented by its group's first sample (``View.sample_indices``), so a grouped
column (``labels``) reads that sample, while every aggregate is computed once, when the query
runs, and kept as a ``nodes.Lookup`` column keyed by that sample. The result reads like any
view: ``view.n.numpy()``, ``view["n"]``, ``view.to_arrow()``, ``view.query("... WHERE n > 3")``;
ORDER BY, LIMIT and OFFSET of the query apply to its rows. An aggregate over no rows without
GROUP BY is one row with sample index -1 (it represents no sample).

**Values.** SUM adds every element of every member's sample, AVG divides that sum by the number
of elements, MIN/MAX take the smallest/largest element (for text: the first/last in sort
order), COUNT(x) counts the members whose ``x`` is not null (``values.is_null``). Null (empty)
values are skipped; a group with nothing to aggregate gives SUM 0 and AVG/MIN/MAX NaN (empty
text for text). COUNT gives int64, SUM int64 for integers and float64 otherwise, AVG float64,
MIN/MAX the values' own type (float64 when a group has none).

**How.** Each GROUP BY key becomes small integer codes: an integer range directly, text through
its dictionary, anything else through ``np.unique``. Groups are numbered in order of first
appearance (found from the first rows alone when there are few groups), and the reductions are
``np.bincount`` and ``np.minimum.at``/``np.maximum.at`` over the codes: no sort of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import QueryError
from . import nodes as n
from .values import Const, Dense, Objects, Ragged, Text, Value, Key, is_null, json_numbers, rows_2d, widen

if TYPE_CHECKING:
    from .evaluate import Evaluator, Rows

AGGREGATES = frozenset({"count", "sum", "avg", "min", "max"})
_DIRECT_MIN = 1 << 16   # integer keys spanning fewer values than max(this, 4 * rows) are their own codes
_EXACT = float(1 << 53)  # integer sums below this are exact in float64


# -- which queries aggregate ------------------------------------------------------------------
def calls_in(expr: n.Expr) -> list[n.Call]:
    """The outermost aggregate calls in ``expr`` (their arguments are evaluated per row)."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Call) and node.name in AGGREGATES:
            found.append(node)
            continue
        stack.extend(reversed(n.children(node)))
    return found


def is_aggregate(select: n.Select) -> bool:
    """Whether ``select`` is an aggregate query (see the module docstring)."""
    calls = [c for item in select.items if item.expr is not None for c in calls_in(item.expr)]
    return bool(calls) and (bool(select.group_by) or any(c.name == "count" for c in calls))


# -- groups -----------------------------------------------------------------------------------
@dataclass
class Groups:
    """Rows split into groups. ``codes[i]`` (in ``[0, size)``) is row ``i``'s key code;
    ``order`` lists the codes that occur in order of first appearance: group ``g`` is the rows
    with code ``order[g]``, its first row is ``first[g]`` and it has ``counts[g]`` rows."""

    codes: np.ndarray
    size: int
    order: np.ndarray
    first: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return len(self.order)

    def numbers(self) -> np.ndarray:
        """Each row's group number (0 for the first group to appear, ...)."""
        rank = np.zeros(self.size, np.int64)
        rank[self.order] = np.arange(self.n)
        return rank[self.codes]

    def total(self, weights: np.ndarray) -> np.ndarray:
        """Per group, the float64 sum of ``weights`` (one per row)."""
        return np.bincount(self.codes, weights, minlength=self.size)[self.order]


def group(keys: list[Key], rows: int) -> Groups:
    """The groups of rows with equal keys (all rows in one group when there are no keys).
    Rows whose key is missing form one group of their own."""
    codes, size = np.zeros(rows, np.uint8), 1  # no keys: one group
    for i, key in enumerate(keys):
        more, count = key_codes(key)
        if i == 0:
            codes, size = more, count
        elif size * count <= max(_DIRECT_MIN, 4 * rows):
            codes, size = codes.astype(np.int64) * count + more, size * count
        else:
            codes = codes.astype(np.int64)
            uniq, inverse = np.unique(codes * count + more if size * count < (1 << 62)
                                      else np.stack([codes, more], axis=1), axis=0, return_inverse=True)
            codes, size = inverse.reshape(-1).astype(np.int64), len(uniq)
    counts = np.bincount(codes, minlength=size)
    present = np.flatnonzero(counts)
    first = _first_rows(codes, size, len(present))
    order = present[np.argsort(first[present], kind="stable")]
    return Groups(codes, size, order, first[order], counts[order])


def key_codes(key: Key) -> tuple[np.ndarray, int]:
    """(code per row, number of codes) for one key; equal values get equal codes. The codes
    are non-negative integers of any width (a key of small integers is its own codes)."""
    count = len(key.missing)
    if key.is_arrow:
        encoded = pc.dictionary_encode(key.values)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes, size = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(encoded.dictionary)
    else:
        values = key.values.view(np.uint8) if key.values.dtype.kind == "b" else key.values
        lo = int(values.min()) if count and values.dtype.kind in "iu" else 0
        hi = int(values.max()) if count and values.dtype.kind in "iu" else 0
        if values.dtype.kind in "iu" and hi - lo < max(_DIRECT_MIN, 4 * count):
            codes = values - values.dtype.type(lo) if lo else values  # exact: the results lie in [0, hi - lo]
            if codes.dtype == np.uint64:
                codes = codes.astype(np.int64)
            size = hi - lo + 1 if count else 0
        else:
            uniq, inverse = np.unique(values, return_inverse=True)
            codes, size = inverse.reshape(-1).astype(np.int64), len(uniq)
    if key.missing.any():
        codes = np.where(key.missing, size, codes.astype(np.int64))
        size += 1
    return codes, max(size, 1)


def _first_rows(codes: np.ndarray, size: int, wanted: int) -> np.ndarray:
    """Per code, the first row that has it (-1 if none); scans growing blocks of rows until
    ``wanted`` codes were seen, so a few groups cost a look at the first rows only."""
    first = np.full(size, -1, np.int64)
    found, start, step = 0, 0, 4096
    while found < wanted and start < len(codes):
        uniq, index = np.unique(codes[start:start + step], return_index=True)
        new = first[uniq] < 0
        first[uniq[new]] = index[new] + start
        found += int(np.count_nonzero(new))
        start += step
        step *= 2
    return first


# -- aggregates -------------------------------------------------------------------------------
def compute(ev: Evaluator, call: n.Call, rows: Rows, groups: Groups) -> tuple[Any, list[str] | None]:
    """One aggregate call per group: (ndarray or Arrow strings, class names or None)."""
    try:
        return _compute(ev, call, rows, groups)
    except (TypeError, ValueError, IndexError, ArithmeticError, pa.ArrowException) as exc:
        if isinstance(exc, QueryError):
            raise
        raise call.error(f"Cannot compute {call.text}: {str(exc).splitlines()[0] if str(exc) else exc}") from None


def _compute(ev: Evaluator, call: n.Call, rows: Rows, groups: Groups) -> tuple[Any, list[str] | None]:
    if call.name == "count" and not call.args:
        return groups.counts.astype(np.int64), None
    arg = call.args[0]
    if call.name == "count":
        nonnull = _concat(ev.per_row(arg, rows, lambda value, batch: ~is_null(value, batch.n)))
        return np.bincount(groups.codes[nonnull], minlength=groups.size)[groups.order].astype(np.int64), None
    parts = ev.per_row(arg, rows, lambda value, batch: _per_row(value, batch.n, call))
    if any(isinstance(p, Text) for p in parts):
        if not all(isinstance(p, Text) for p in parts):
            raise call.error(f"{call.name.upper()}() needs values of one kind (numbers or text)")
        return _text_extreme(call, parts, groups), None
    stats = {k: _concat([p[k] for p in parts]) for k in parts[0] if k != "classes"}  # type: ignore[index]
    classes = next((p["classes"] for p in parts if p.get("classes") is not None), None)  # type: ignore[union-attr]
    if call.name == "sum":
        return _sum(stats["sum"], groups), None
    if call.name == "avg":
        with np.errstate(all="ignore"):
            return groups.total(stats["sum"].astype(np.float64)) / groups.total(stats["size"]), None
    return _extreme(call.name, stats, groups), classes


def _concat(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _per_row(value: Value, count: int, call: n.Call) -> Any:
    """What an aggregate needs of each row: its elements' sum and number ("sum", "size") and,
    for MIN/MAX, their extremes ("low", "high"); text for MIN/MAX as it is (``Text``)."""
    name = call.name
    if isinstance(value, Text) or (isinstance(value, Const) and isinstance(value.value, str)):
        if name not in ("min", "max"):
            raise call.error(f"{name.upper()}() needs numbers; got text")
        return value if isinstance(value, Text) else Text(pa.array([value.value] * count, pa.large_string()))
    value = json_numbers(value, f"{name.upper()}()", call) if isinstance(value, Objects) else value
    if isinstance(value, Const):
        value = Dense(np.broadcast_to(np.asarray(value.value), (count, *np.shape(value.value))), value.classes)
    if isinstance(value, Dense):
        flat = rows_2d(value.data)
        if flat.dtype.kind not in "biuf":
            raise call.error(f"{name.upper()}() needs numbers or text")
        items: list[np.ndarray] | None = None
    else:
        assert isinstance(value, Ragged)
        if any(item.dtype.kind not in "biuf" for item in value.items):
            raise call.error(f"{name.upper()}() needs numbers")
        items = [item.reshape(-1) for item in value.items]
    out: dict[str, Any] = {"classes": value.classes}
    if items is None:
        width = flat.shape[1]
        out["size"] = np.full(count, width, np.float64)
        out["sum"] = flat[:, 0] if width == 1 and flat.dtype.kind == "f" else (
            widen(flat).sum(axis=1, dtype=np.float64 if flat.dtype.kind == "f" else None))
        if name in ("min", "max"):
            out["low"] = flat.min(axis=1) if width else np.zeros(count, flat.dtype)
            out["high"] = flat.max(axis=1) if width else np.zeros(count, flat.dtype)
    else:
        out["size"] = np.fromiter((x.size for x in items), np.float64, count)
        floats = any(x.dtype.kind == "f" for x in items)
        out["sum"] = np.asarray([float(x.sum()) if floats else int(widen(x).sum()) for x in items],
                                np.float64 if floats else np.int64)
        if name in ("min", "max"):
            kind = np.result_type(*[x.dtype for x in items]) if items else np.float64
            out["low"] = np.asarray([x.min() if x.size else 0 for x in items], kind)
            out["high"] = np.asarray([x.max() if x.size else 0 for x in items], kind)
    return out


def _sum(sums: np.ndarray, groups: Groups) -> np.ndarray:
    if sums.dtype.kind == "f":
        return groups.total(sums)
    sums = widen(sums)
    if not len(sums) or float(np.abs(sums).max()) * len(sums) < _EXACT:
        return np.rint(groups.total(sums.astype(np.float64))).astype(np.int64)
    out = np.zeros(groups.size, np.int64)
    np.add.at(out, groups.codes, sums)  # exact for big integers
    return out[groups.order]


def _extreme(name: str, stats: dict[str, np.ndarray], groups: Groups) -> np.ndarray:
    """MIN or MAX per group over rows with at least one element."""
    values = stats["low" if name == "min" else "high"]
    values = values.view(np.uint8) if values.dtype.kind == "b" else values
    has = stats["size"] > 0
    kind = values.dtype
    if kind.kind == "f":
        start = np.inf if name == "min" else -np.inf
    else:
        info = np.iinfo(kind)
        start = info.max if name == "min" else info.min
    out = np.full(groups.size, start, kind)
    (np.minimum if name == "min" else np.maximum).at(out, groups.codes[has], values[has])
    out = out[groups.order]
    empty = np.bincount(groups.codes[has], minlength=groups.size)[groups.order] == 0
    if empty.any():
        out = out.astype(np.float64)
        out[empty] = np.nan
    return out


def _text_extreme(call: n.Call, parts: list[Text], groups: Groups) -> pa.Array:
    """MIN/MAX of text per group: the first/last non-empty text in sort order ('' when none).
    Only the distinct texts are sorted (text kept dictionary-encoded already is not re-encoded)."""
    if all(p.dictionary is not None and p.dictionary is parts[0].dictionary for p in parts):
        dictionary, codes = parts[0].dictionary, _concat([p.codes for p in parts])
    else:
        strings = pa.chunked_array([p.array.cast(pa.large_string()) for p in parts]).combine_chunks()
        encoded = pc.dictionary_encode(strings)
        dictionary, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    order = pc.sort_indices(dictionary).to_numpy(zero_copy_only=False)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    has = (pc.binary_length(dictionary).to_numpy(zero_copy_only=False) > 0)[codes] if len(order) else codes > 0
    pick = np.full(groups.size, len(order) if call.name == "min" else -1, np.int64)
    (np.minimum if call.name == "min" else np.maximum).at(pick, groups.codes[has], rank[codes[has]])
    pick = pick[groups.order]
    found = (pick >= 0) & (pick < len(order))
    if not found.any():
        return pa.array([""] * len(pick), pa.large_string())
    taken = dictionary.take(pa.array(order[np.where(found, pick, 0)])).cast(pa.large_string())
    return pc.if_else(pa.array(found), taken, pa.scalar("", pa.large_string()))
