"""Evaluate bound expressions over sets of rows.

``Rows`` are the rows a query stage works on: flat sample positions, or groups of them after
``GROUP BY`` (a grouped row's tensor values are its members' samples stacked, like a sequence).
``Evaluator.eval`` computes a ``Value`` for every row at once; ``Evaluator.per_row`` does it in
batches of rows sized to the tensors the expression reads, on a thread pool when the reads are
thread-safe, and concatenates the per-row results.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DeepLakeNBError
from . import nodes as n
from .backend import GPU_BATCH_BYTES, module_for, on_device
from .functions import check_call
from .scan import TensorScan, as_array
from .values import (
    Const,
    Dense,
    Objects,
    Ragged,
    Text,
    Value,
    binary,
    densify,
    elementwise,
    is_null,
    is_text,
    json_numbers,
    like,
    logical_not,
    map_class_names,
    widen,
)

BATCH_BYTES = 4 << 20       # bytes read per batch of rows (per expression)
PARALLEL = True             # evaluate batches on a thread pool when their reads are thread-safe
PARALLEL_MIN_BYTES = 32 << 20  # ... and the expression reads at least this much (threads cost ~ms)
PARALLEL_MIN_ROWS = 1 << 19    # ... or covers this many rows (cheap reads, but per-row work to share)
WORKERS: int | None = None  # threads in that pool (default: one per CPU, at most 32)
_MIN_BATCH, _MAX_BATCH = 16, 1 << 20
_POOL: ThreadPoolExecutor | None = None
_CPUS = os.cpu_count() or 1  # (asked once: glibc reads /sys for it, ~6 us a call)
T = TypeVar("T")


def _pool() -> ThreadPoolExecutor | None:
    global _POOL
    workers = WORKERS or min(32, _CPUS)
    if workers < 2 or not PARALLEL:
        return None
    if _POOL is None or _POOL._max_workers != workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deeplake_nb-query")
    return _POOL


def _pick(positions: np.ndarray | range, index: np.ndarray) -> np.ndarray:
    """``positions[index]``; ``index`` itself for a range from 0 (no copy: rows never write
    into their arrays, and a filter's hits over a whole column are its new positions)."""
    if isinstance(positions, range):
        return index + positions.start if positions.start else index
    return positions[index]


@dataclass
class Rows:
    """Rows of a query stage. Row ``i`` is sample ``positions[i]``, or, when grouped, the
    samples ``positions[offsets[i]:offsets[i + 1]]``. ``numbers`` are what ``row_number()``
    gives; ``first`` is the index of this batch's first row (seeds ``random()``). Consecutive
    positions and numbers are kept as ``range`` objects (no arrays for whole-column scans)."""

    positions: np.ndarray | range
    numbers: np.ndarray | range
    offsets: np.ndarray | None = None
    first: int = 0

    @property
    def n(self) -> int:
        return len(self.numbers)

    @staticmethod
    def of(positions: np.ndarray | range, offsets: np.ndarray | None = None) -> Rows:
        count = len(positions) if offsets is None else len(offsets) - 1
        if not isinstance(positions, range):
            positions = np.asarray(positions, np.int64)
        return Rows(positions, range(count), offsets)

    def position_array(self) -> np.ndarray:
        return as_array(self.positions)

    def number_array(self) -> np.ndarray:
        return as_array(self.numbers)

    def take(self, index: np.ndarray) -> Rows:
        """The rows at ``index`` (any order, repeats allowed)."""
        index = np.asarray(index, np.int64)
        if self.offsets is None:
            return Rows(_pick(self.positions, index), _pick(self.numbers, index))
        starts, sizes = self.offsets[:-1][index], np.diff(self.offsets)[index]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        member = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1], dtype=np.int64)
        return Rows(_pick(self.positions, member), _pick(self.numbers, index), offsets)

    def slice(self, start: int, stop: int) -> Rows:
        if self.offsets is None:
            return Rows(self.positions[start:stop], self.numbers[start:stop], None, self.first + start)
        return self.take(np.arange(start, min(stop, self.n)))

    def ungroup(self) -> Rows:
        return Rows.of(self.positions) if self.offsets is not None else self


class Evaluator:
    """Evaluates bound expressions over rows of ``dataset`` (``input_positions``: the flat rows the
    query reads, for ``data(tensor, i)``; ``seed``: seeds ``random()`` and ``SAMPLE BY``)."""

    def __init__(self, dataset: Any, input_positions: np.ndarray | range | None, seed: int, *,
                 exact: bool = False, ef_search: int | None = None) -> None:
        self.dataset = dataset
        self.input_positions = input_positions
        self.seed = seed
        self.exact = exact          # never use a vector index (``execute.top_k``)
        self.ef_search = ef_search  # a vector index's search depth for this query (None: its own)
        self._scans: dict[str, TensorScan] = {}
        self._local = threading.local()  # per thread: the tensors read by the evaluation under way
        self.xp: Any = np  # the array module of the vector functions (``backend``): set by per_row

    # -- tensors --------------------------------------------------------------------------------
    def scan(self, key: str) -> TensorScan:
        scan = self._scans.get(key)
        if scan is None:
            scan = self._scans[key] = TensorScan(self.dataset, key)
        return scan

    def prepare(self, expr: n.Expr, rows: int = 0) -> list[TensorScan]:
        """Open the scans ``expr`` needs for ``rows`` rows (before any thread uses them)."""
        keys = dict.fromkeys(node.key for node in n.walk(expr) if isinstance(node, n.TensorRef))
        scans = [self.scan(key) for key in keys]
        for scan in scans:
            scan.prepare(rows)
        return scans

    def shapes(self, key: str, rows: Rows) -> np.ndarray:
        shapes = self.scan(key).shapes(rows.positions)
        if rows.offsets is None:
            return shapes
        out = np.empty((rows.n, 1 + shapes.shape[1]), np.int64)
        for i, (a, b) in enumerate(zip(rows.offsets[:-1].tolist(), rows.offsets[1:].tolist())):
            part = shapes[a:b]
            out[i, 0] = b - a
            out[i, 1:] = np.where((part == part[0]).all(axis=0), part[0], -1) if b > a else 0
        return out

    def sample(self, ref: n.TensorRef, index: int, node: n.Node) -> Const:
        positions = self.input_positions
        if positions is None:
            raise node.error("data() is not available on grouped rows; ungroup first")
        if not -len(positions) <= index < len(positions):
            raise node.error(f"data(): row {index} is out of range for {len(positions)} rows")
        return self.scan(ref.key).one(int(positions[index]))

    def rng(self, node: n.Node, rows: Rows) -> np.random.Generator:
        return np.random.default_rng([self.seed, node.span.start, rows.first])

    # -- evaluation -----------------------------------------------------------------------------
    def eval(self, expr: n.Expr, rows: Rows) -> Value:
        """The value of ``expr`` for every row of ``rows``. A tensor named several times in
        ``expr`` is read once per call."""
        local = self._local
        outermost = getattr(local, "reads", None) is None
        if outermost:
            local.reads = {}
        try:
            return self._eval(expr, rows)
        except DeepLakeNBError:  # ours say what is wrong (a damaged chunk is not a query mistake)
            raise
        except RecursionError:
            raise expr.error("The query nests too deeply to evaluate") from None
        except (TypeError, ValueError, IndexError, KeyError, ArithmeticError, pa.ArrowException) as exc:
            reason = str(exc).split("\n")[0]
            raise expr.error(f"Cannot evaluate {expr.text}: {reason}") from None
        finally:
            if outermost:
                local.reads = None

    def has_read(self, key: str, rows: Rows) -> bool:
        """Whether the evaluation under way has already read tensor ``key`` for ``rows``."""
        reads = getattr(self._local, "reads", None)
        return reads is not None and (key, id(rows)) in reads

    def _read(self, expr: n.TensorRef, rows: Rows) -> Value:
        reads = self._local.reads
        found = reads.get((expr.key, id(rows))) if reads is not None else None
        if found is not None:
            return found[1]
        value = self.scan(expr.key).values(rows.positions)
        value = value if rows.offsets is None else group_value(value, rows.offsets)
        if reads is not None:
            reads[(expr.key, id(rows))] = (rows, value)  # keeps ``rows`` alive: its id stays unique
        return value

    def _eval(self, expr: n.Expr, rows: Rows) -> Value:
        if isinstance(expr, n.TensorRef):
            return self._read(expr, rows)
        if isinstance(expr, n.Literal):
            v = expr.value
            return Const(v if isinstance(v, str) else np.asarray(v))
        if isinstance(expr, n.ArrayLiteral):
            return Const(expr.value)
        if isinstance(expr, n.Binary) and expr.op in ("and", "or"):
            return self._logic(expr, rows)
        if isinstance(expr, n.Binary):
            left, right = self.eval(expr.left, rows), self.eval(expr.right, rows)
            if expr.op in ("==", "!=", "<", "<=", ">", ">="):  # 'cat' -> class id, blaming the literal
                if left.classes is not None:
                    right = map_class_names(right, left.classes, expr.right)
                if right.classes is not None:
                    left = map_class_names(left, right.classes, expr.left)
            return binary(expr.op, left, right, rows.n, expr)
        if isinstance(expr, n.Call):
            return check_call(expr).impl(self, expr, rows)
        if isinstance(expr, n.Index):
            return index_value(self.eval(expr.target, rows), expr, rows.n, self._fixed_length(expr.target, rows))
        if isinstance(expr, n.Unary):
            operand = self.eval(expr.operand, rows)
            if expr.op == "not":
                return logical_not(operand, rows.n, expr)
            operand = json_numbers(operand, expr.op, expr)
            if is_text(operand):
                raise expr.error(f"Unary '{expr.op}' needs numbers")
            if expr.op == "+":
                return elementwise(lambda x: +widen(x), [operand], rows.n, expr)
            return elementwise(lambda x: np.negative(widen(x)), [operand], rows.n, expr)
        if isinstance(expr, n.Between):
            x = self.eval(expr.operand, rows)
            low = binary(">=", x, self.eval(expr.low, rows), rows.n, expr)
            high = binary("<=", x, self.eval(expr.high, rows), rows.n, expr)
            both = binary("and", low, high, rows.n, expr)
            return logical_not(both, rows.n, expr) if expr.negated else both
        if isinstance(expr, n.InList):
            found = self._in_list(expr, rows)
            return logical_not(found, rows.n, expr) if expr.negated else found
        if isinstance(expr, n.Like):
            pattern = self.eval(expr.pattern, rows)
            if not (isinstance(pattern, Const) and isinstance(pattern.value, str)):
                raise expr.pattern.error("LIKE takes a text pattern, e.g. captions LIKE '%cat%'")
            found = like(self.eval(expr.operand, rows), pattern.value, expr.ignore_case, rows.n, expr)
            return logical_not(found, rows.n, expr) if expr.negated else found
        if isinstance(expr, n.IsNull):
            empty = self._is_null(expr.operand, rows)
            return Dense(~empty if expr.negated else empty)
        if isinstance(expr, n.Lookup):
            return self._lookup(expr, rows)
        if isinstance(expr, n.Name):  # pragma: no cover - names are bound before evaluation
            raise expr.error(f"Unknown name {expr.name!r}")
        raise expr.error("Cannot evaluate this expression")  # pragma: no cover

    def _logic(self, expr: n.Binary, rows: Rows) -> Value:
        """A chain of AND (or of OR) terms, one term after the other (no recursion along the
        chain). Under OR, two or more terms ``x == constant`` on one ``x`` are computed together
        as ``x IN (...)``; under AND, ``x != constant`` terms as ``x NOT IN (...)``."""
        terms, stack = [], [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, n.Binary) and node.op == expr.op:
                stack.extend((node.right, node.left))
            else:
                terms.append(node)
        tests = [_constant_test(term, "==" if expr.op == "or" else "!=") for term in terms]
        together: dict[str, list[n.Literal]] = {}
        for test in tests:
            if test is not None:
                together.setdefault(n.canonical(test[0]), []).append(test[1])
        result: Value | None = None
        done: set[str] = set()
        for term, test in zip(terms, tests):
            name = n.canonical(test[0]) if test is not None else ""
            if test is not None and len(together[name]) > 1:
                if name in done:
                    continue
                done.add(name)
                term = n.InList(term.span, operand=test[0], items=tuple(together[name]), negated=expr.op == "and")
            value = self.eval(term, rows)
            result = value if result is None else binary(expr.op, result, value, rows.n, expr)
        assert result is not None
        return result

    def _is_null(self, expr: n.Expr, rows: Rows) -> np.ndarray:
        """Which rows' values are empty; a stored array's from its shapes (nothing decoded)."""
        if isinstance(expr, n.TensorRef) and rows.offsets is None:
            meta = self.scan(expr.key).meta
            if meta.kind == "array" and not meta.link and not meta.sequence:
                shapes = self.shapes(expr.key, rows)
                return np.prod(shapes, axis=1) == 0 if shapes.shape[1] else np.zeros(rows.n, bool)
        return is_null(self.eval(expr, rows), rows.n)

    def _lookup(self, expr: n.Lookup, rows: Rows) -> Value:
        positions = rows.position_array()
        keys = expr.positions
        at = np.minimum(np.searchsorted(keys, positions), max(len(keys) - 1, 0))
        if len(positions) and (not len(keys) or not np.array_equal(keys[at], positions)):
            raise expr.error(f"{expr.text} is a column of an aggregate result: it has values only for that "
                             "result's rows; query the result itself")
        values = expr.values
        if isinstance(values, pa.Array):
            value: Value = Text(values.take(pa.array(at)) if len(positions) else values.slice(0, 0))
        else:
            value = Dense(np.asarray(values)[at], list(expr.classes) if expr.classes is not None else None)
        return value if rows.offsets is None else group_value(value, rows.offsets)

    def _fixed_length(self, target: n.Expr, rows: Rows) -> Callable[[int], bool]:
        """For ``target[...]``: whether dimension ``d`` of ``target``'s samples has one length
        in every sample, asked only when an index falls outside a sample: a stored tensor's
        fixed dimensions (numbers in ``Tensor.shape``), the one dimension of shape()."""
        if isinstance(target, n.TensorRef):
            scan, grouped = self.scan(target.key), rows.offsets is not None

            def stored(d: int) -> bool:
                dims = scan.fixed_dims()
                d -= grouped  # a group stacks its members on a new first axis, of varying length
                return 0 <= d < len(dims) and dims[d] is not None
            return stored
        if isinstance(target, n.Call) and target.name == "shape":
            return lambda d: d == 0
        return lambda d: False

    def _in_list(self, expr: n.InList, rows: Rows) -> Value:
        x = self.eval(expr.operand, rows)
        items = [self.eval(item, rows) for item in expr.items]
        if x.classes is not None:
            items = [map_class_names(item, x.classes, src) for item, src in zip(items, expr.items)]
        if not items:
            return Dense(np.zeros(rows.n, bool))
        consts = all(isinstance(i, Const) and np.ndim(i.value) == 0 for i in items)
        if consts and isinstance(x, Text) and all(isinstance(i.value, str) for i in items):  # type: ignore[union-attr]
            wanted = [i.value for i in items]  # type: ignore[union-attr]
            found = x.per_value(lambda strings: pc.is_in(strings, value_set=pa.array(wanted, strings.type)))
            return Dense(found.astype(bool, copy=False))
        if (consts and isinstance(x, Dense) and x.data.dtype.kind in "biuf"
                and all(not isinstance(i.value, str) for i in items)):  # type: ignore[union-attr]
            return Dense(np.isin(x.data, np.asarray([i.value for i in items])))  # type: ignore[union-attr]
        found = binary("==", x, items[0], rows.n, expr)
        for item in items[1:]:
            found = binary("or", found, binary("==", x, item, rows.n, expr), rows.n, expr)
        return found

    # -- batches --------------------------------------------------------------------------------
    def batch_rows(self, expr: n.Expr, share: int = _MAX_BATCH) -> tuple[int, int]:
        """Rows per batch so that one batch reads about BATCH_BYTES for ``expr`` and has no more
        than ``share`` rows, in whole chunks of the biggest tensor it reads; and the bytes read per
        row. A share of a chunk or more is rounded down to whole chunks, a smaller one up to one
        chunk: a batch of one whole chunk is read in place, a batch of several is copied into one
        array (with 2 workers, 1M int32 rows in 4 chunks are 4 batches of one chunk, not 2 of two)."""
        per_row, heaviest, seen = 0, None, set()
        for node in n.walk(expr):
            if isinstance(node, n.Call) and node.name in ("shape", "len") and node.args \
                    and isinstance(node.args[0], n.TensorRef):
                per_row += 16
            elif isinstance(node, n.TensorRef) and node.key not in seen:  # each tensor is read once
                seen.add(node.key)
                scan = self.scan(node.key)
                per_row += scan.row_bytes
                if heaviest is None or scan.row_bytes > heaviest.row_bytes:
                    heaviest = scan
        if per_row == 0:
            return _MAX_BATCH, 0
        size = int(min(_MAX_BATCH, max(_MIN_BATCH, BATCH_BYTES // per_row)))
        chunk = heaviest.rows_per_chunk if heaviest is not None else 1
        if chunk > 1 and size < _MAX_BATCH:
            size = max(chunk, size // chunk * chunk)
        if share < size:
            size = max(1, share // chunk) * chunk if chunk > 1 else share
        return size, per_row

    def per_row(self, expr: n.Expr, rows: Rows, finish: Callable[[Value, Rows], T]) -> list[T]:
        """``finish(value, batch)`` for each batch of rows, in order; on the thread pool when the
        expression reads much, or covers many rows (then every thread gets a share)."""
        scans = self.prepare(expr, len(rows.positions))
        if rows.offsets is not None or rows.n == 0:
            return [finish(self.eval(expr, rows), rows)]
        size, per_row = self.batch_rows(expr)
        xp = device_module(expr, per_row * rows.n)
        if on_device(xp):  # big batches, one at a time: the device does the heavy math
            self.xp = xp
            try:
                size = max(size, int(min(_MAX_BATCH * 16, GPU_BATCH_BYTES // max(per_row, 1))))
                return [finish(self.eval(expr, batch), batch)
                        for batch in (rows.slice(a, a + size) for a in range(0, rows.n, size))]
            finally:
                self.xp = np
        pool = None
        if (per_row * rows.n >= PARALLEL_MIN_BYTES or rows.n >= PARALLEL_MIN_ROWS) \
                and all(s.parallel_safe for s in scans):
            pool = _pool()
        if pool is not None:
            size, _ = self.batch_rows(expr, share=-(-rows.n // pool._max_workers))
        if rows.n <= size:
            return [finish(self.eval(expr, rows), rows)]
        batches = [rows.slice(a, a + size) for a in range(0, rows.n, size)]
        work = lambda batch: finish(self.eval(expr, batch), batch)  # noqa: E731
        if pool is not None:
            return list(pool.map(work, batches))
        return [work(batch) for batch in batches]


def _constant_test(term: n.Expr, op: str) -> tuple[n.Expr, n.Literal] | None:
    """(x, constant) when ``term`` is ``x op constant`` or ``constant op x``."""
    if not (isinstance(term, n.Binary) and term.op == op):
        return None
    if isinstance(term.right, n.Literal) and not isinstance(term.left, n.Literal):
        return term.left, term.right
    if isinstance(term.left, n.Literal) and not isinstance(term.right, n.Literal):
        return term.right, term.left
    return None


VECTOR_FUNCTIONS = frozenset({"cosine_similarity", "l1_norm", "l2_norm", "linf_norm"})


def device_module(expr: n.Expr, nbytes: int) -> Any:
    """The array module for ``expr`` reading ``nbytes``: NumPy unless it calls a vector function
    and ``backend`` picks a device for that much data."""
    if not any(isinstance(node, n.Call) and node.name in VECTOR_FUNCTIONS for node in n.walk(expr)):
        return np
    return module_for(nbytes)


# -- indexing and grouping --------------------------------------------------------------------
def index_value(value: Value, expr: n.Index, rows: int, fixed: Callable[[int], bool] = lambda d: False) -> Value:
    """``value[items]`` applied to every row's sample (NumPy indexing; 'key' items index JSON).
    An index past a sample's end is a QueryError along a dimension that has one length in every
    sample (``fixed(d)``: the 4 of (K, 4) boxes, the length of shape(x)); along a dimension whose
    length varies (the K of boxes, a list of labels) it gives an empty value for that row (false
    in WHERE, last in ORDER BY), whether or not the tensor happens to be stored dense."""
    items = expr.items
    if isinstance(value, Objects) or any(isinstance(i, str) for i in items):
        if not isinstance(value, Objects):
            raise expr.error("Only JSON samples take 'key' indices")
        return Objects([_json_index(item, items) for item in value.items])
    if is_text(value):
        raise expr.error("Text samples cannot be indexed")
    index = tuple(i.as_slice() if isinstance(i, n.Slice) else i for i in items)
    dims = len(index)
    if isinstance(value, Const):
        if np.ndim(value.value) < dims:
            raise expr.error(f"Too many indices: the value has {np.ndim(value.value)} dimension(s)")
        try:
            return Const(np.asarray(value.value[index]), value.classes)
        except IndexError:
            raise expr.error(f"Index out of range for shape {np.shape(value.value)}") from None
    if isinstance(value, Dense):
        shape = value.data.shape[1:]
        if len(shape) < dims:
            raise expr.error(f"Too many indices: samples have {len(shape)} dimension(s), shape {shape}")
        try:
            return Dense(value.data[(slice(None),) + index], value.classes)
        except IndexError:  # past the end of every sample (they share one shape): all empty
            _check_fixed(expr, index, shape, fixed)
            return Dense(np.zeros((len(value.data), 0), value.data.dtype), value.classes)
    assert isinstance(value, Ragged)
    out = []
    for item in value.items:
        if item.ndim < dims:
            raise expr.error(f"Too many indices: samples have {item.ndim} dimension(s)")
        try:
            out.append(np.asarray(item[index]))
        except IndexError:
            _check_fixed(expr, index, item.shape, fixed)
            out.append(np.zeros(0, item.dtype))
    return densify(out, value.classes)


def _check_fixed(expr: n.Index, index: tuple[Any, ...], shape: tuple[int, ...], fixed: Callable[[int], bool]) -> None:
    """Raise when an integer index of ``index`` is outside a dimension of ``shape`` that has
    that length in every sample (the query asks for something no sample has)."""
    for d, item in enumerate(index):
        if isinstance(item, int) and not -shape[d] <= item < shape[d] and fixed(d):
            size = shape[d]
            valid = f"valid: {-size} to {size - 1}" if size else "it is empty"
            raise expr.error(f"Index {item} is out of range: dimension {d} of {expr.target.text} has length "
                             f"{size} in every sample ({valid})")


def _json_index(item: Any, items: tuple[n.IndexItem, ...]) -> Any:
    for key in items:
        try:
            if isinstance(key, n.Slice):
                item = item[key.as_slice()] if isinstance(item, list) else None
            elif isinstance(key, str):
                item = item[key] if isinstance(item, dict) else None
            else:
                item = item[key] if isinstance(item, list) else None
        except (IndexError, KeyError, TypeError):
            item = None
        if item is None:
            return None
    return item


def group_value(value: Value, offsets: np.ndarray) -> Value:
    """Per-group values: each group's member samples stacked along a new first axis."""
    sizes = np.diff(offsets)
    bounds = list(zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    if isinstance(value, Const):
        return value
    if isinstance(value, Dense):
        data = value.data
        if len(sizes) and (sizes == sizes[0]).all():
            return Dense(data.reshape((len(sizes), int(sizes[0])) + data.shape[1:]), value.classes)
        return Ragged([data[a:b] for a, b in bounds], value.classes)
    if isinstance(value, Text):
        strings = value.array.to_pylist()
        return densify([np.asarray(strings[a:b], dtype=str) for a, b in bounds])
    if isinstance(value, Ragged):
        groups: list[Any] = []
        for a, b in bounds:
            members = value.items[a:b]
            if members and all(m.shape == members[0].shape for m in members):
                groups.append(np.stack(members))
            elif not members:
                groups.append(np.zeros((0,)))
            else:
                return Objects([list(value.items[a:b]) for a, b in bounds])
        return densify(groups, value.classes)
    assert isinstance(value, Objects)
    return Objects([value.items[a:b] for a, b in bounds])


