"""Conformance: random queries on random small datasets, checked against a plain-Python evaluation
of the same query (one row at a time, with NumPy only on single samples), plus fuzzing.

The reference below implements TQL's documented semantics independently of the vectorised
engine: per-sample NumPy semantics for operators (``%`` truncates like C's fmod), an empty value
is false in WHERE and sorts last, an index past the end of a sample is empty unless that
dimension has one length in every sample of the tensor (then the query is wrong), stable
ordering, groups in order of first appearance, set operations keep first occurrences. It shares
only the parser with the engine (the parser has its own tests).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deeplake_nb as dl
from deeplake_nb.errors import QueryError
from deeplake_nb.query import nodes as n
from deeplake_nb.query import scan
from deeplake_nb.query.parser import parse

CLASSES = ["cat", "dog", "bird"]
WORDS = ["red", "cat", "a red dog", "blue", "", "x", "redder", "dog cat"]
SIZES = [0, 1, 2, 7, 19]
SEEDS = range(4)
_CACHE: dict[tuple[int, int], tuple[dl.Dataset, dict[str, list[Any]]]] = {}
_READ_ONLY: dict[tuple[int, int], dl.Dataset] = {}


@pytest.fixture(scope="module", autouse=True)
def dictionary_for_all_text():
    """Read-only runs keep every text column dictionary-encoded (however few repeats it has)."""
    saved = scan.DICTIONARY_RATIO, scan.DICTIONARY_AFTER
    scan.DICTIONARY_RATIO, scan.DICTIONARY_AFTER = 1.0, 0  # from the first query on
    yield
    scan.DICTIONARY_RATIO, scan.DICTIONARY_AFTER = saved


def read_only(size: int, seed: int) -> dl.Dataset:
    """The same dataset opened read-only: chunks cached in memory, text dictionary-encoded."""
    key = (size, seed)
    if key not in _READ_ONLY:
        _READ_ONLY[key] = dl.load(dataset(size, seed)[0].path, read_only=True)
    return _READ_ONLY[key]


# -- random datasets ------------------------------------------------------------------------------
def dataset(size: int, seed: int) -> tuple[dl.Dataset, dict[str, list[Any]]]:
    """A cached dataset of ``size`` random rows and, per tensor, its samples read back one by one."""
    key = (size, seed)
    if key in _CACHE:
        return _CACHE[key]
    rng = np.random.default_rng([size, seed])
    ds = dl.empty(f"mem://conformance-{uuid.uuid4().hex}")
    grid = lambda *shape: (rng.integers(-4, 5, shape) * 0.5).astype(np.float32)  # noqa: E731 (exact sums)
    with ds:
        ds.create_tensor("a", htype="generic", dtype="int32")
        ds.create_tensor("f", htype="generic", dtype="float32")
        ds.create_tensor("lab", htype="class_label", class_names=CLASSES)
        ds.create_tensor("multi", htype="class_label", class_names=CLASSES)
        ds.create_tensor("box", htype="bbox")
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("js", htype="json")
        for _ in range(size):
            ds.append({
                "a": int(rng.integers(-4, 5)),
                "f": grid(3),
                "lab": CLASSES[int(rng.integers(0, 3))],
                "multi": [CLASSES[int(c)] for c in rng.integers(0, 3, int(rng.integers(0, 4)))],
                "box": rng.integers(0, 10, (int(rng.integers(0, 4)), 4)).astype(np.float32),
                "txt": WORDS[int(rng.integers(0, len(WORDS)))],
                "emb": grid(4),
                "js": {"k": int(rng.integers(0, 4)), "tag": WORDS[int(rng.integers(0, len(WORDS)))]},
            })
    samples: dict[str, list[Any]] = {}
    for name in ds.tensors:
        tensor = ds[name]
        if tensor.htype == "text":
            samples[name] = [tensor[i].text() for i in range(size)]
        elif tensor.htype == "json":
            samples[name] = [tensor[i].dict() for i in range(size)]
        else:
            samples[name] = [np.asarray(tensor[i].numpy()) for i in range(size)]
        samples["shape:" + name] = [np.asarray(s, np.int64) for s in tensor.shapes()] if size else []
    _CACHE[key] = (ds, samples)
    return ds, samples


# -- the reference: one row at a time -------------------------------------------------------------
class RefError(Exception):
    """The reference's QueryError: the engine must raise QueryError for the same query."""


class R:
    """A per-row value: ndarray (numbers), str (text) or a JSON value; ``classes`` for class ids."""

    def __init__(self, value: Any, classes: list[str] | None = None, json: bool = False) -> None:
        self.value, self.classes, self.json = value, classes, json


def widen(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and x.dtype.itemsize < 8):
        return x.astype(np.int64)
    return x


def plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.reshape(-1)[0].item() if x.size == 1 else x.tolist()
    return x


def as_float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float64)


_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.fmod}
_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
        ">=": np.greater_equal}
_PY = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class Reference:
    def __init__(self, samples: dict[str, list[Any]], size: int) -> None:
        self.samples = samples
        self.size = size
        self.classes = {"lab": CLASSES, "multi": CLASSES}
        self.kinds = {"txt": "text", "js": "json"}
        # set when an expression met no rows at all: the engine may then still report a type
        # error (it checks types on whole columns), which the row-at-a-time reference cannot see
        self.vacuous = False

    # a "row" is a list of sample indices (one for flat rows, the members for a group)
    def column(self, name: str, row: list[int], grouped: bool) -> R:
        if name not in self.kinds and name not in self.classes and name not in ("a", "f", "box", "emb"):
            raise RefError(f"unknown {name}")
        values = [self.samples[name][i] for i in row]
        kind = self.kinds.get(name)
        if not grouped:
            return R(values[0], self.classes.get(name), kind == "json")
        if kind == "text":
            return R(np.asarray(values, dtype=str))
        if kind == "json":
            return R(values, json=True)
        if values and all(v.shape == values[0].shape for v in values):
            return R(np.stack(values), self.classes.get(name))
        raise RefError("ragged group")  # not generated

    def eval(self, e: n.Expr, row: list[int], number: int, grouped: bool, env: dict[str, n.Expr]) -> R:
        with np.errstate(all="ignore"):
            return self._eval(e, row, number, grouped, env)

    def _eval(self, e: n.Expr, row: list[int], number: int, grouped: bool, env: dict[str, n.Expr]) -> R:
        ev = lambda x: self._eval(x, row, number, grouped, env)  # noqa: E731
        if isinstance(e, n.Literal):
            return R(e.value if isinstance(e.value, str) else np.asarray(e.value))
        if isinstance(e, n.ArrayLiteral):
            return R(e.value)
        if isinstance(e, n.Name):
            if e.name in env:
                return ev(env[e.name])
            return self.column(e.name, row, grouped)
        if isinstance(e, n.Index):
            target = ev(e.target)
            if target.json or any(isinstance(i, str) for i in e.items):
                if not target.json:
                    raise RefError("key index on non-json")
                item = target.value
                for key in e.items:
                    if isinstance(key, str):
                        item = item.get(key) if isinstance(item, dict) else None
                    else:
                        item = item[key] if isinstance(item, list) and -len(item) <= key < len(item) else None
                    if item is None:
                        break
                return R(item, json=True)
            if isinstance(target.value, str):
                raise RefError("index text")
            idx = tuple(i.as_slice() if isinstance(i, n.Slice) else i for i in e.items)
            if len(idx) > target.value.ndim:
                raise RefError("too many indices")
            try:
                return R(np.asarray(target.value[idx]), target.classes)
            except IndexError:
                fixed = self.fixed_dims(e.target, grouped, env)
                for d, i in enumerate(idx):
                    size = target.value.shape[d]
                    if isinstance(i, int) and not -size <= i < size and fixed(d):
                        raise RefError("index out of range on a dimension of one length") from None
                return R(np.zeros(0, target.value.dtype), target.classes)
        if isinstance(e, n.Unary):
            v = ev(e.operand)
            if isinstance(v.value, str):
                raise RefError("unary on text")
            if v.json:
                if e.op == "not":
                    return R(np.asarray(not bool(plain(v.value))))
                v = self.json_number(v)
            if e.op == "not":
                return R(np.logical_not(v.value))
            return R(np.negative(widen(v.value)) if e.op == "-" else +widen(v.value))
        if isinstance(e, n.Binary):
            return self.binary(e.op, ev(e.left), ev(e.right))
        if isinstance(e, n.Between):
            x = ev(e.operand)
            both = self.binary("and", self.binary(">=", x, ev(e.low)), self.binary("<=", x, ev(e.high)))
            return R(np.logical_not(both.value)) if e.negated else both
        if isinstance(e, n.InList):
            x = ev(e.operand)
            found = R(np.asarray(False))
            for i, item in enumerate(e.items):
                eq = self.binary("==", x, ev(item))
                found = eq if i == 0 else self.binary("or", found, eq)
            return R(np.logical_not(found.value)) if e.negated else found
        if isinstance(e, n.Call):
            return self.call(e, row, number, grouped, env)
        raise RefError("unknown node")

    def fixed_dims(self, target: n.Expr, grouped: bool, env: dict[str, n.Expr]) -> Any:
        """Whether dimension d of ``target``'s values has one length in every sample: a stored
        column's dimensions that are equal across all its samples, and shape()'s one dimension."""
        if isinstance(target, n.Call) and target.name == "shape":
            return lambda d: d == 0
        if not isinstance(target, n.Name) or target.name in env:
            return lambda d: False
        shapes = self.samples["shape:" + target.name]

        def fixed(d: int) -> bool:
            d -= grouped
            return bool(shapes) and d >= 0 and all(len(s) > d and s[d] == shapes[0][d] for s in shapes)
        return fixed

    def classes_map(self, value: R, classes: list[str]) -> R:
        v = value.value
        if isinstance(v, str):
            if v not in classes:
                raise RefError("unknown class")
            return R(np.asarray(classes.index(v)))
        return value

    def json_number(self, value: R) -> R:
        """A JSON value as a number (JSON null: empty); text or an object: an error."""
        if not value.json:
            return value
        v = value.value
        if v is None:
            return R(np.zeros(0))
        if isinstance(v, (bool, int, float)) or (isinstance(v, list) and all(isinstance(x, (bool, int, float))
                                                                           for x in v)):
            return R(np.asarray(v, dtype=np.float64 if v == [] else None))
        raise RefError("json text in arithmetic")

    def binary(self, op: str, a: R, b: R) -> R:
        if op in _CMP:
            if a.classes:
                b = self.classes_map(b, a.classes)
            if b.classes:
                a = self.classes_map(a, b.classes)
        text_a = isinstance(a.value, str) or (isinstance(a.value, np.ndarray) and a.value.dtype.kind == "U")
        text_b = isinstance(b.value, str) or (isinstance(b.value, np.ndarray) and b.value.dtype.kind == "U")
        if (a.json or b.json) and op in _ARITH:
            a, b = self.json_number(a), self.json_number(b)
        if a.json or b.json:
            x, y = plain(a.value), plain(b.value)
            if op in _PY:
                try:
                    return R(np.asarray(bool(_PY[op](x, y))))
                except TypeError:
                    return R(np.asarray(False))
            if op in ("and", "or"):
                return R(np.asarray(bool(x) and bool(y) if op == "and" else bool(x) or bool(y)))
            raise RefError("json arithmetic")
        if text_a or text_b:
            if op not in _CMP or not (text_a and text_b):
                raise RefError("text op")
            if isinstance(a.value, str) and isinstance(b.value, str):
                return R(np.asarray(_PY[op](a.value, b.value)))
            return R(np.asarray(_CMP[op](a.value, b.value)))
        try:
            if op in _ARITH:
                return R(np.asarray(_ARITH[op](widen(a.value), widen(b.value))))
            if op in _CMP:
                return R(np.asarray(_CMP[op](a.value, b.value)))
            return R(np.asarray((np.logical_and if op == "and" else np.logical_or)(a.value, b.value)))
        except ValueError as exc:
            raise RefError(str(exc)) from None

    def call(self, e: n.Call, row: list[int], number: int, grouped: bool, env: dict[str, n.Expr]) -> R:
        name, args = e.name, e.args
        ev = lambda x: self._eval(x, row, number, grouped, env)  # noqa: E731
        if name == "row_number":
            return R(np.asarray(number))
        if name in ("shape", "len") and isinstance(args[0], n.Name) and args[0].name not in env:
            col = args[0].name
            self.column(col, row, grouped)
            if grouped:
                shapes = np.stack([self.samples["shape:" + col][i] for i in row])
                same = (shapes == shapes[0]).all(axis=0)
                shape = np.concatenate([[len(row)], np.where(same, shapes[0], -1)])
            else:
                shape = self.samples["shape:" + col][row[0]]
            if name == "shape":
                return R(shape)
            if col in ("txt", "js") and not grouped:
                value = self.samples[col][row[0]]
                if not isinstance(value, (str, list, dict)):
                    raise RefError("len of json scalar")
                return R(np.asarray(len(value)))
            if len(shape) == 0:
                raise RefError("len of scalars")
            return R(np.asarray(shape[0]))
        vals = [ev(a) for a in args]
        v = vals[0]
        if name == "len":
            if isinstance(v.value, str):
                return R(np.asarray(len(v.value)))
            if v.json:
                if not isinstance(v.value, (list, dict, str)):
                    raise RefError("len json")
                return R(np.asarray(len(v.value)))
            if v.value.ndim == 0:
                raise RefError("len scalar")
            return R(np.asarray(v.value.shape[0]))
        if name == "shape":
            if isinstance(v.value, str) or v.json:
                raise RefError("shape of text")
            return R(np.asarray(v.value.shape, np.int64))
        if name == "contains":
            needle = vals[1]
            if v.classes:
                needle = self.classes_map(needle, v.classes)
            target = needle.value
            if v.json:
                item = v.value
                t = plain(target)
                if isinstance(item, (str, dict)):
                    return R(np.asarray(isinstance(t, str) and t in item))
                if isinstance(item, list):
                    return R(np.asarray(t in item))
                return R(np.asarray(item == t))
            if isinstance(v.value, str):
                if not isinstance(target, str):
                    raise RefError("contains text needs text")
                return R(np.asarray(target in v.value))
            if isinstance(target, str):
                raise RefError("contains numbers with text")
            return R(np.asarray(bool((v.value == target).any())))
        if isinstance(v.value, str) or v.json or (isinstance(v.value, np.ndarray) and v.value.dtype.kind not in "biuf"):
            raise RefError("numbers needed")
        x = v.value.reshape(-1)
        if name == "any":
            return R(np.asarray(bool((x != 0).any())))
        if name == "all":
            return R(np.asarray(bool((x != 0).all())))
        if name == "all_strict":
            return R(np.asarray(bool(x.size and (x != 0).all())))
        if name == "sum":
            return R(np.asarray(widen(x).sum()))
        if name == "mean":
            return R(np.asarray(as_float(x).sum() / x.size if x.size else np.nan))
        if name == "min":
            return R(np.asarray(x.min() if x.size else np.nan))
        if name == "max":
            return R(np.asarray(x.max() if x.size else np.nan))
        if name == "abs":
            return R(np.abs(v.value))
        if name == "sqrt":
            return R(np.sqrt(v.value))
        if name == "l1_norm":
            return R(np.asarray(np.abs(as_float(x)).sum()))
        if name == "l2_norm":
            return R(np.asarray(np.sqrt(np.dot(as_float(x), as_float(x)))))
        if name == "linf_norm":
            return R(np.asarray(np.abs(as_float(x)).max() if x.size else 0.0))
        if name == "cosine_similarity":
            other = vals[1]
            if isinstance(other.value, str) or other.json:
                raise RefError("cos text")
            x = as_float(x)
            y = np.asarray(other.value, dtype=x.dtype if isinstance(args[1], n.ArrayLiteral) else None).reshape(-1)
            y = as_float(y)
            if isinstance(args[0], n.ArrayLiteral):
                x, y = np.asarray(v.value, dtype=y.dtype).reshape(-1), y
            if x.size != y.size:
                raise RefError("cos length")
            norm = np.sqrt(np.dot(x, x)) * np.sqrt(np.dot(y, y))
            return R(np.asarray(np.dot(x, y) / norm if norm > 0 else 0.0))
        raise RefError(f"function {name}")

    # -- row-level helpers -------------------------------------------------------------------------
    def truth(self, v: R) -> bool:
        if isinstance(v.value, str):
            raise RefError("text condition")
        if v.json:
            return bool(plain(v.value))
        if v.value.dtype.kind == "U":
            raise RefError("text condition")
        if v.value.size > 1:
            raise RefError("several values")
        return bool(v.value.reshape(-1)[0]) if v.value.size else False

    def key(self, v: R) -> Any:
        """A scalar sort/group key, None when missing."""
        x = v.value
        if isinstance(x, str):
            return x
        if v.json:
            x = plain(x)
            if isinstance(x, (list, dict)):
                raise RefError("json key")
            return x
        if x.size > 1:
            raise RefError("several values")
        if not x.size:
            return None
        item = x.reshape(-1)[0].item()
        return None if isinstance(item, float) and item != item else item


def order(keys: list[list[Any]], descending: list[bool], count: int) -> list[int]:
    idx = list(range(count))
    for column, desc in reversed(list(zip(keys, descending))):
        present = [i for i in idx if column[i] is not None]
        missing = [i for i in idx if column[i] is None]
        idx = sorted(present, key=lambda i: column[i], reverse=desc) + missing
    return idx


def reference_select(ref: Reference, select: n.Select, rows: list[list[int]], grouped: bool
                     ) -> tuple[list[list[int]], bool, dict[str, n.Expr]]:
    aliases = {i.alias: i.expr for i in select.items if i.alias and i.expr is not None}
    source_first = {k: v for k, v in aliases.items() if k not in ref.samples}
    numbers = list(range(len(rows)))
    if not rows and (select.where is not None or select.group_by or select.order_by):
        ref.vacuous = True
    if select.where is not None:
        kept = [(r, num) for r, num in zip(rows, numbers)
                if ref.truth(ref.eval(select.where, r, num, grouped, source_first))]
        rows, numbers = [r for r, _ in kept], [num for _, num in kept]
    if select.group_by:
        if grouped:
            raise RefError("already grouped")
        groups: dict[tuple, list[int]] = {}
        for r, num in zip(rows, numbers):
            k = tuple(ref.key(ref.eval(g, r, num, False, source_first)) for g in select.group_by)
            groups.setdefault(k, []).extend(r)
        rows, grouped = list(groups.values()), True
        numbers = list(range(len(rows)))
    assert select.sample is None
    if not rows and select.order_by:
        ref.vacuous = True
    if select.order_by:
        keys = [[ref.key(ref.eval(k.expr, r, num, grouped, aliases)) for r, num in zip(rows, numbers)]
                for k in select.order_by]
        for column in keys:  # one kind per key, like the engine
            kinds = {type(x) is str for x in column if x is not None}
            if len(kinds) > 1:
                raise RefError("mixed")
        idx = order(keys, [k.descending for k in select.order_by], len(rows))
        rows, numbers = [rows[i] for i in idx], [numbers[i] for i in idx]
    start = select.offset or 0
    stop = None if select.limit is None else start + select.limit
    rows = rows[start:stop]
    if select.ungroup and grouped:
        rows, grouped = [[i] for r in rows for i in r], False
    return rows, grouped, aliases


def reference(ref: Reference, stmt: n.Statement) -> tuple[list[list[int]], bool, dict[str, n.Expr]]:
    base = [[i] for i in range(ref.size)]
    if isinstance(stmt, n.Select):
        return reference_select(ref, stmt, base, False)
    left, lg, la = reference(ref, stmt.left)
    right, rg, _ = reference(ref, stmt.right)
    if lg or rg:
        raise RefError("grouped set op")
    a, b = [r[0] for r in left], [r[0] for r in right]
    if stmt.op == "union":
        both = a + b
        out = both if stmt.all else list(dict.fromkeys(both))
    elif stmt.all:
        out, seen = [], {}
        for x in a:
            seen[x] = seen.get(x, 0) + 1
            inside = seen[x] <= b.count(x)
            if inside == (stmt.op == "intersect"):
                out.append(x)
    else:
        out = [x for x in dict.fromkeys(a) if (x in b) == (stmt.op == "intersect")]
    rows = [[x] for x in out]
    if stmt.order_by or stmt.limit is not None or stmt.offset:
        select = n.Select(stmt.span, items=(n.SelectItem(stmt.span),), order_by=stmt.order_by,
                          limit=stmt.limit, offset=stmt.offset)
        return reference_select(ref, select, rows, False)
    return rows, False, la


# -- query strategies -----------------------------------------------------------------------------
CLS = st.sampled_from(CLASSES).map(lambda c: f"'{c}'")
WORD = st.sampled_from(["red", "cat", "x", "", "dog c", "zzz"]).map(lambda w: f"'{w}'")
NUM_LIT = st.sampled_from(["0", "1", "-2", "3", "0.5", "1.5", "-0.5"])
NUM_ATOM = st.one_of(NUM_LIT, st.sampled_from([
    "a", "a[0]", "f[0]", "f[2]", "f[-1]", "lab", "lab[0]", "emb[1]", "shape(box)[0]", "len(box)", "len(txt)",
    "len(multi)", "sum(f)", "mean(emb)", "max(box)", "min(f)", "l2_norm(emb)", "l1_norm(f)", "linf_norm(box)",
    "abs(a)", "sqrt(abs(a))", "cosine_similarity(emb, ARRAY[1, 0, 0.5, 0])", "cosine_similarity(emb, emb)",
    "row_number()", "sum(box[:, 2])", "box[0, 1]", "multi[0]", "js['k']", "mean(box[:, 0:2])", "max(multi)",
    "shape(txt)[0]", "len(js['tag'])"]))
NUM = st.recursive(NUM_ATOM, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    inner.map(lambda x: f"-({x})")), max_leaves=3)
COND_ATOM = st.one_of(
    st.tuples(NUM, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), NUM).map(" ".join),
    st.tuples(st.sampled_from(["lab", "lab[0]", "multi[1]"]), st.sampled_from(["==", "!="]), CLS).map(" ".join),
    st.lists(CLS, min_size=1, max_size=3).map(lambda cs: f"lab IN ({', '.join(cs)})"),
    st.lists(NUM_LIT, min_size=1, max_size=3).map(lambda xs: f"a NOT IN ({', '.join(xs)})"),
    st.tuples(NUM, NUM_LIT, NUM_LIT).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    WORD.map(lambda w: f"contains(txt, {w})"),
    WORD.map(lambda w: f"contains(js['tag'], {w})"),
    CLS.map(lambda c: f"contains(multi, {c})"),
    st.tuples(st.integers(0, 3), NUM_LIT).map(lambda t: f"any(box[:, {t[0]}] > {t[1]})"),
    NUM_LIT.map(lambda k: f"all(f > {k})"),
    NUM_LIT.map(lambda k: f"all_strict(box[:, 0] >= {k})"),
    st.tuples(st.sampled_from(["==", "<", ">="]), WORD).map(lambda t: f"txt {t[0]} {t[1]}"),
    st.sampled_from(["js['k'] == 2", "js['k'] > 1", "js['nope'] == 1", "any(f)", "all(emb == 0)"]))
COND = st.recursive(COND_ATOM, lambda inner: st.one_of(
    inner.map(lambda c: f"NOT ({c})"),
    st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")),
    max_leaves=4)
ORDER_KEY = st.one_of(NUM, st.sampled_from(["txt", "lab", "js['k']"]))
GROUP_KEY = st.sampled_from(["lab", "a", "txt", "len(box)", "f[0] > 0", "js['k']"])
GROUP_ORDER = st.sampled_from(["len(a)", "sum(a)", "a[0]", "max(f)", "lab[0]", "row_number()", "mean(emb)"])


@st.composite
def select_query(draw: Any, allow_group: bool = True) -> str:
    parts = ["SELECT *"]
    if draw(st.booleans()):
        parts.append("WHERE " + draw(COND))
    grouped = allow_group and draw(st.integers(0, 4)) == 0
    if grouped:
        parts.append("GROUP BY " + ", ".join(draw(st.lists(GROUP_KEY, min_size=1, max_size=2, unique=True))))
        keys = draw(st.lists(GROUP_ORDER, max_size=2))
    else:
        keys = draw(st.lists(ORDER_KEY, max_size=2))
    if keys:
        parts.append("ORDER BY " + ", ".join(f"{k} {draw(st.sampled_from(['', 'ASC', 'DESC']))}" for k in keys))
    if draw(st.booleans()):
        parts.append(f"LIMIT {draw(st.integers(0, 8))}")
    if draw(st.booleans()):
        parts.append(f"OFFSET {draw(st.integers(0, 3))}")
    if grouped and draw(st.booleans()):
        parts.append("UNGROUP BY")
    return " ".join(parts)


@st.composite
def set_query(draw: Any) -> str:
    left = draw(select_query(allow_group=False))
    right = draw(select_query(allow_group=False))
    op = draw(st.sampled_from(["UNION", "INTERSECT", "EXCEPT", "UNION ALL", "INTERSECT ALL", "EXCEPT ALL"]))
    tail = draw(st.sampled_from(["", " ORDER BY a DESC", " LIMIT 3", " ORDER BY txt, f[0] DESC LIMIT 4 OFFSET 1"]))
    return f"({left}) {op} ({right}){tail}"


def check(size: int, seed: int, query: str) -> None:
    ds, samples = dataset(size, seed)
    ref = Reference(samples, size)
    try:
        expected, grouped, _ = reference(ref, parse(query))
    except RefError:
        for target in (ds, read_only(size, seed)):
            with pytest.raises(QueryError):
                target.query(query)
        return
    for target in (ds, read_only(size, seed)):
        try:
            view = target.query(query)
        except QueryError:
            if ref.vacuous:  # a type error found on an empty column
                continue
            raise
        assert view.is_grouped == grouped, query
        if grouped:
            assert [g.tolist() for g in view.groups] == expected, query
        else:
            assert view.sample_indices.tolist() == [r[0] for r in expected], query


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(SIZES), st.sampled_from(SEEDS), select_query())
def test_select_matches_reference(size, seed, query):
    check(size, seed, query)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(SIZES), st.sampled_from(SEEDS), set_query())
def test_set_operations_match_reference(size, seed, query):
    check(size, seed, query)


PROJECTIONS = st.sampled_from(["a * 2", "f[0:2]", "box[:, 2]", "txt", "shape(box)", "lab", "emb - ARRAY[1, 1, 1, 1]",
                               "l2_norm(emb)", "js['k']", "contains(txt, 'red')", "multi", "f / a", "-a % 3"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(SIZES), st.sampled_from(SEEDS), st.lists(PROJECTIONS, min_size=1, max_size=3, unique=True),
       st.one_of(st.none(), COND))
def test_projections_match_reference(size, seed, items, cond):
    ds, samples = dataset(size, seed)
    ref = Reference(samples, size)
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(items))
    query = f"SELECT {select}" + (f" WHERE {cond}" if cond else "")
    stmt = parse(query)
    try:
        rows, _, aliases = reference(ref, stmt)
        wanted = {name: [ref.eval(expr, r, 0, False, {}) for r in rows] for name, expr in aliases.items()}
    except RefError:
        with pytest.raises(QueryError):
            ds.query(query)
        return
    try:
        view = ds.query(query)
    except QueryError:
        if ref.vacuous or not rows:
            return
        raise
    assert list(view.tensors) == [f"c{i}" for i in range(len(items))]
    for name, values in wanted.items():
        column = view[name]
        if values and values[0].json:
            assert column.data()["value"] == [v.value for v in values], query
            continue
        if values and isinstance(values[0].value, str):
            assert column.data()["value"] == [v.value for v in values], query
            continue
        got = column.numpy(aslist=True)
        assert len(got) == len(values)
        for g, w in zip(got, values):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w.value), err_msg=query)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SIZES), st.sampled_from(SEEDS), st.one_of(st.none(), COND), st.integers(0, 2 ** 31),
       st.integers(1, 30), st.booleans())
def test_random_features_keep_their_promises(size, seed, cond, qseed, limit, replace):
    ds, samples = dataset(size, seed)
    where = f" WHERE {cond}" if cond else ""
    try:
        base = ds.query(f"SELECT *{where}").sample_indices.tolist()
    except QueryError:
        return
    shuffled = ds.query(f"SELECT *{where} ORDER BY random()", seed=qseed).sample_indices.tolist()
    assert sorted(shuffled) == sorted(base)
    assert shuffled == ds.query(f"SELECT *{where} ORDER BY random()", seed=qseed).sample_indices.tolist()
    sampled = ds.query(f"SELECT *{where} SAMPLE BY max_weight(lab == 'cat': 2, a > 0: 1) "
                       f"REPLACE {'TRUE' if replace else 'FALSE'} LIMIT {limit}", seed=qseed).sample_indices.tolist()
    eligible = [i for i in base if samples["lab"][i][0] == 0 or samples["a"][i][0] > 0]
    assert set(sampled) <= set(eligible)
    if replace:
        assert len(sampled) == (limit if eligible else 0)
    else:
        assert len(sampled) == min(limit, len(eligible)) and len(set(sampled)) == len(sampled)


TOKENS = st.sampled_from(["SELECT", "*", "WHERE", "ORDER BY", "GROUP BY", "UNGROUP BY", "LIMIT", "OFFSET", "AND",
                          "OR", "NOT", "IN", "BETWEEN", "(", ")", "[", "]", ",", ":", "==", "<", "+", "/", "%",
                          "-", "a", "f", "lab", "box", "txt", "emb", "js", "multi", "'cat'", "'x'", "0", "2", "-1",
                          "1.5", "ARRAY[1, 2]", "shape(box)", "len(", "any(", "contains(", "cosine_similarity(",
                          "sum(", "data(", "random()", "row_number()", "AS", "UNION", "SAMPLE BY max_weight(",
                          "DESC", "'key'", "TRUE", "nope", "sqrt(", "mean(", "'cat':", "REPLACE"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([0, 7]), st.lists(TOKENS, max_size=14))
def test_fuzz_queries_only_raise_query_error(size, tokens):
    ds, _ = dataset(size, 0)
    query = "SELECT * WHERE " + " ".join(tokens) if tokens[:1] != ["SELECT"] else " ".join(tokens)
    try:
        view = ds.query(query, seed=0)
    except QueryError:
        return
    for column in view.tensors.values():  # computed columns evaluate without surprises too
        try:
            column.numpy(aslist=True)
        except QueryError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_text_on_a_dataset_only_raises_query_error(text):
    ds, _ = dataset(2, 0)
    try:
        ds.query(text)
    except QueryError:
        pass
    try:
        ds.filter(text)
    except QueryError:
        pass
