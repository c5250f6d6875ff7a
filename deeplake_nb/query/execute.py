"""Run a parsed query over a table (a dataset or a view) and build the resulting ``View``.

Plan: bind names (tensors, view columns, ``AS`` aliases) and check functions first, so that
mistakes are reported before any data is read; then run the stages in this order: WHERE,
GROUP BY, SAMPLE BY, ORDER BY, OFFSET/LIMIT, UNGROUP BY. The SELECT list is not computed here:
the view keeps each column's definition and computes it when it is read. An aggregate query
(``aggregate``) computes its aggregates right after GROUP BY and goes on with one row per group.

``FROM`` may name the dataset being queried (its path or the last part of it); naming another
dataset is a QueryError (a query reads one dataset).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import aggregate
from . import nodes as n
from . import topk, vector_index
from .evaluate import Evaluator, Rows
from .functions import check_call
from .values import Key, Value, scalar_key, truth

_MAX_SAMPLE = 100_000_000
SAMPLE_INDEX = "sample_index"  # the name of the rows' indices in the source dataset


@dataclass
class Table:
    """What a query reads: rows of ``dataset`` (a dataset or group with no row selection) and
    the columns visible by name, each a bound expression over ``dataset``'s tensors."""

    dataset: Any
    positions: np.ndarray | range
    offsets: np.ndarray | None
    columns: dict[str, n.Expr]
    commit_id: str | None = None
    exact: bool = False
    """Never answer ``ORDER BY <distance> LIMIT k`` from a vector index (``vector_index``)."""
    ef_search: int | None = None
    """The vector index's search depth for this query (None: the one stored with the index)."""

    @property
    def rows(self) -> Rows:
        return Rows.of(self.positions, self.offsets)


def tensor_columns(dataset: Any) -> dict[str, n.Expr]:
    """Every visible tensor of ``dataset`` as a column of that name."""
    return {name: n.TensorRef(n.Span(name, 0, len(name)), key=tensor.key, name=name)
            for name, tensor in dataset.tensors.items()}


# -- binding ----------------------------------------------------------------------------------
Scope = Callable[[n.Name], n.Expr]


def make_scope(*layers: dict[str, n.Expr]) -> Scope:
    def resolve(name: n.Name) -> n.Expr:
        for layer in layers:
            found = layer.get(name.name)
            if found is not None:
                if isinstance(found, n.TensorRef):
                    return n.TensorRef(name.span, key=found.key, name=name.name)
                return found
        if name.name == SAMPLE_INDEX:  # each row's index in the source dataset, unless a column is named so
            return n.Call(name.span, name=SAMPLE_INDEX, args=(), name_span=name.span)
        known = sorted({k for layer in layers for k in layer})
        close = difflib.get_close_matches(name.name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; tensors are {', '.join(known)}" if known else "")
        raise name.error(f"Unknown tensor '{name.name}'{hint}")
    return resolve


def bind(expr: n.Expr, scope: Scope) -> n.Expr:
    """``expr`` with names resolved and function calls checked (raises QueryError)."""
    if isinstance(expr, n.Name):
        return scope(expr)
    if isinstance(expr, n.Call):
        check_call(expr)
        bound = dataclasses.replace(expr, args=tuple(bind(a, scope) for a in expr.args))
        if expr.name == "data" and not isinstance(bound.args[0], n.TensorRef):
            raise expr.args[0].error("data() takes a tensor name first, e.g. data(embeddings, 10)")
        return bound
    if isinstance(expr, n.Index):
        return dataclasses.replace(expr, target=bind(expr.target, scope))
    if isinstance(expr, n.Unary):
        return dataclasses.replace(expr, operand=bind(expr.operand, scope))
    if isinstance(expr, n.Binary):
        return dataclasses.replace(expr, left=bind(expr.left, scope), right=bind(expr.right, scope))
    if isinstance(expr, n.Between):
        return dataclasses.replace(expr, operand=bind(expr.operand, scope), low=bind(expr.low, scope),
                                   high=bind(expr.high, scope))
    if isinstance(expr, n.InList):
        return dataclasses.replace(expr, operand=bind(expr.operand, scope),
                                   items=tuple(bind(i, scope) for i in expr.items))
    if isinstance(expr, n.Like):
        return dataclasses.replace(expr, operand=bind(expr.operand, scope), pattern=bind(expr.pattern, scope))
    if isinstance(expr, n.IsNull):
        return dataclasses.replace(expr, operand=bind(expr.operand, scope))
    return expr


def substitute(expr: n.Expr, found: Callable[[n.Expr], n.Expr | None]) -> n.Expr:
    """``expr`` with every sub-expression for which ``found`` gives a replacement replaced."""
    replacement = found(expr)
    if replacement is not None:
        return replacement
    sub = lambda e: substitute(e, found)  # noqa: E731
    if isinstance(expr, n.Index):
        return dataclasses.replace(expr, target=sub(expr.target))
    if isinstance(expr, n.Call):
        return dataclasses.replace(expr, args=tuple(sub(a) for a in expr.args))
    if isinstance(expr, (n.Unary, n.IsNull)):
        return dataclasses.replace(expr, operand=sub(expr.operand))
    if isinstance(expr, n.Binary):
        return dataclasses.replace(expr, left=sub(expr.left), right=sub(expr.right))
    if isinstance(expr, n.Between):
        return dataclasses.replace(expr, operand=sub(expr.operand), low=sub(expr.low), high=sub(expr.high))
    if isinstance(expr, n.InList):
        return dataclasses.replace(expr, operand=sub(expr.operand), items=tuple(sub(i) for i in expr.items))
    if isinstance(expr, n.Like):
        return dataclasses.replace(expr, operand=sub(expr.operand), pattern=sub(expr.pattern))
    return expr


def bind_items(select: n.Select, table: Table) -> dict[str, n.Expr]:
    """The SELECT list as named, bound column definitions."""
    scope = make_scope(table.columns)
    columns: dict[str, n.Expr] = {}
    origin: dict[str, n.Node] = {}
    for item in select.items:
        if item.expr is None:
            pairs = list(table.columns.items())
        else:
            expr = bind(item.expr, scope)
            name = item.alias or (item.expr.name if isinstance(item.expr, n.Name) else item.expr.text)
            if isinstance(expr, n.TensorRef) and item.alias:
                expr = n.TensorRef(expr.span, key=expr.key, name=item.alias)
            pairs = [(name, expr)]
        for name, expr in pairs:
            if name in columns:
                if item.expr is None and name in origin and origin[name] is item:
                    continue
                raise item.error(f"Column '{name}' is selected twice; rename one with AS")
            columns[name] = expr
            origin[name] = item
    return columns


# -- running ----------------------------------------------------------------------------------
def run(statement: n.Statement, table: Table, seed: int) -> tuple[Rows, dict[str, n.Expr]]:
    """The rows and columns of the query's result."""
    try:
        if isinstance(statement, n.SetOp):
            return _run_set(statement, table, seed)
        return _run_select(statement, table, seed)
    except RecursionError:  # the parser keeps trees shallow; this is the last line of defence
        raise statement.error("The query nests too deeply to run") from None


def check_source(select: n.Select, dataset: Any) -> None:
    """``FROM name`` must name the dataset being queried: its path or the path's last part."""
    if select.source is None:
        return
    path = str(getattr(dataset, "path", "") or "")
    names = {path.rstrip("/"), path.rstrip("/").rsplit("/", 1)[-1]}
    if "://" not in path and path:
        names.add(os.path.abspath(path))
    wanted = select.source.rstrip("/")
    if wanted in names or ("://" not in wanted and os.path.abspath(wanted) in names):
        return
    span = select.source_span or select.span
    raise span.error(f"FROM names {select.source!r}, but this query runs on the dataset at {path!r}; a query "
                     "reads one dataset: leave FROM out, or run the query on that dataset")


def _run_select(select: n.Select, table: Table, seed: int) -> tuple[Rows, dict[str, n.Expr]]:
    check_source(select, table.dataset)
    columns = bind_items(select, table)
    aliases = {name: expr for name, expr in columns.items()
               if not isinstance(expr, n.TensorRef) or name not in table.columns}
    source_first = make_scope(table.columns, aliases)
    alias_first = make_scope(aliases, table.columns)
    where = bind(select.where, source_first) if select.where is not None else None
    group_by = [bind(e, source_first) for e in select.group_by]
    sample_terms = ([(bind(c, source_first), bind(w, source_first)) for c, w in select.sample.terms]
                    if select.sample else [])
    order_by = [(bind(k.expr, alias_first), k) for k in select.order_by]

    rows = table.rows
    flat_input = table.positions if table.offsets is None else None
    ev = Evaluator(table.dataset, flat_input, seed, exact=table.exact, ef_search=table.ef_search)
    if where is not None:
        first = rows.first  # each batch turns its mask into row numbers (in parallel when batches are)
        hits = ev.per_row(where, rows, lambda value, batch: _hits(truth(value, batch.n, where, "WHERE"),
                                                                  batch.first - first))
        rows = rows.take(_concat(hits))
    if aggregate.is_aggregate(select):
        rows, columns, order_by = _aggregate(ev, select, rows, columns, group_by, order_by)
    elif group_by:
        if rows.offsets is not None:
            raise select.group_by[0].error("These rows are already grouped; UNGROUP BY first")
        rows = _group(rows, [_key(ev, e, rows, "GROUP BY") for e in group_by])
    if select.sample is not None:
        rows = _sample(ev, rows, select.sample, sample_terms, seed)
    if order_by:
        stop = None if select.limit is None else (select.offset or 0) + select.limit
        if stop is not None and len(order_by) == 1 and rows.offsets is None and stop < rows.n // 4:
            rows = rows.take(top_k(ev, order_by[0][0], rows, order_by[0][1].descending, stop))
        else:
            keys = [_key(ev, expr, rows, "ORDER BY") for expr, _ in order_by]
            rows = rows.take(sort_order(keys, [k.descending for _, k in order_by], stop))
    if select.offset or select.limit is not None:
        start = select.offset or 0
        rows = rows.slice(start, rows.n if select.limit is None else start + select.limit)
    if select.ungroup:
        rows = rows.ungroup()
    _check_columns(ev, columns, rows)
    return rows, columns


def _aggregate(ev: Evaluator, select: n.Select, rows: Rows, columns: dict[str, n.Expr], group_by: list[n.Expr],
               order_by: list[tuple[n.Expr, n.OrderKey]]
               ) -> tuple[Rows, dict[str, n.Expr], list[tuple[n.Expr, n.OrderKey]]]:
    """GROUP BY with aggregates: one row per group (its first sample), each aggregate computed
    now and kept as a ``Lookup`` column (see ``aggregate``)."""
    star = next((item for item in select.items if item.expr is None), None)
    if star is not None:
        raise star.error("SELECT * cannot be combined with aggregates; list the GROUP BY columns instead, "
                         "e.g. SELECT labels, COUNT(*) GROUP BY labels")
    if select.ungroup:
        raise select.error("UNGROUP BY does not apply to an aggregate query: it already gives one row per group")
    if rows.offsets is not None:
        raise select.error("These rows are already grouped; UNGROUP BY first")
    keys = [_key(ev, e, rows, "GROUP BY") for e in group_by]
    groups = aggregate.group(keys, rows.n)
    if not group_by and groups.n == 0:  # an aggregate of no rows is still one row
        groups = aggregate.Groups(groups.codes, 1, np.zeros(1, np.int64), np.full(1, -1, np.int64),
                                  np.zeros(1, np.int64))
    positions = rows.take(groups.first).position_array() if rows.n else np.full(groups.n, -1, np.int64)
    order = np.argsort(positions, kind="stable")
    if len(positions) > 1 and (np.diff(positions[order]) == 0).any():
        raise select.group_by[0].error("Two groups start at the same sample (the rows repeat samples and the "
                                       "GROUP BY key differs between them); group by something the sample determines")
    lookups: dict[str, n.Lookup] = {}
    for expr in [*columns.values(), *(e for e, _ in order_by)]:
        for call in aggregate.calls_in(expr):
            name = n.canonical(call)
            if name not in lookups:
                values, classes = aggregate.compute(ev, call, rows, groups)
                values = values.take(pa.array(order)) if isinstance(values, pa.Array) else np.asarray(values)[order]
                lookups[name] = n.Lookup(call.span, positions=positions[order], values=values,
                                         classes=tuple(classes) if classes is not None else None)
    found = lambda e: lookups.get(n.canonical(e)) if isinstance(e, n.Call) else None  # noqa: E731
    columns = {name: substitute(expr, found) for name, expr in columns.items()}
    order_by = [(substitute(expr, found), key) for expr, key in order_by]
    grouped = {n.canonical(e) for e in group_by}
    for expr in [*columns.values(), *(e for e, _ in order_by)]:
        _check_grouped(expr, grouped)
    return Rows.of(positions), columns, order_by


def _check_grouped(expr: n.Expr, grouped: set[str]) -> None:
    """In an aggregate query, what is not aggregated must be a GROUP BY expression."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Lookup) or n.canonical(node) in grouped:
            continue
        if isinstance(node, n.TensorRef) or (isinstance(node, n.Call) and node.name in ("row_number", SAMPLE_INDEX)):
            raise node.error(f"{node.text} is neither in GROUP BY nor aggregated: add it to GROUP BY, or "
                             f"aggregate it, e.g. MIN({node.text})")
        stack.extend(n.children(node))


def _truth(expr: n.Expr, clause: str) -> Callable[[Value, Rows], np.ndarray]:
    return lambda value, batch: truth(value, batch.n, expr, clause)


def _hits(mask: np.ndarray, offset: int) -> np.ndarray:
    """The row numbers where ``mask`` holds, plus ``offset`` (added in place: no second array)."""
    found = true_positions(mask)
    if offset:
        found += offset
    return found


SPARSE_LOOP_MAX = 0.1
"""NumPy's ``nonzero`` scans a bool array of at most this share of true values with a loop that
branches on every value (fast when they are rare), denser ones with a branchless loop."""
PAD_FROM = 0.04
"""``true_positions`` pads masks denser than this (and at most ``SPARSE_LOOP_MAX``) into the
branchless loop: below it the branching loop is as fast (measured on masks of 65k-1M values)."""


def true_positions(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` of a 1-D bool mask (int64 positions, ascending), without the
    branch mispredictions of NumPy's sparse loop on random masks 4-10% true (a label filter
    over 10-25 classes): 1.4 ms for 1M values at 10% against 0.5 ms for the branchless loop.
    Such a mask is copied with enough true values after its end to take NumPy past
    ``SPARSE_LOOP_MAX``, and the positions of the padding (all past the end) are dropped: the
    result is then a view, and the memory behind it holds up to ~1.7x as many positions more.
    Other masks (and other arrays) go to ``np.flatnonzero`` as they are."""
    if mask.dtype != np.bool_ or mask.ndim != 1:
        return np.flatnonzero(mask)
    n = mask.size
    count = int(np.count_nonzero(mask))
    if not n * PAD_FROM < count <= n * SPARSE_LOOP_MAX:
        return np.flatnonzero(mask)
    pad = int((n * SPARSE_LOOP_MAX - count) / (1 - SPARSE_LOOP_MAX)) + 1  # (count + pad) / (n + pad) > 0.1
    padded = np.empty(n + pad, np.bool_)
    padded[:n] = mask
    padded[n:] = True
    return np.flatnonzero(padded)[:count]


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _key(ev: Evaluator, expr: n.Expr, rows: Rows, clause: str) -> Key:
    parts = ev.per_row(expr, rows, lambda value, batch: scalar_key(value, batch.n, expr, clause))
    try:
        return Key.concat(parts)
    except ValueError:
        raise expr.error(f"{clause} needs values of one kind (numbers or text)") from None


def _check_columns(ev: Evaluator, columns: dict[str, n.Expr], rows: Rows) -> None:
    """Compute computed columns on the first row, so that their mistakes show now, not later."""
    if rows.n == 0:
        return
    first = rows.slice(0, 1)
    for expr in columns.values():
        if not isinstance(expr, n.TensorRef):
            ev.eval(expr, first)


# -- sorting ----------------------------------------------------------------------------------
def top_k(ev: Evaluator, expr: n.Expr, rows: Rows, descending: bool, k: int) -> np.ndarray:
    """The first ``k`` rows (row numbers, in order) of ``ORDER BY expr``, the same as
    ``sort_order`` gives, without keeping every row's key: a distance with a fresh vector index
    asks the index for ``k`` rows and keys only those exactly (``vector_index``: the rows found are
    approximate, their order and scores exact; not with ``exact=True``); cosine_similarity and the
    L1 / L2 / L-inf distances to a constant are one scan of the stored chunks (``topk``); any other
    key is evaluated batch by batch and each batch keeps only its own first ``k`` rows."""
    if not ev.exact:
        near = vector_index.candidates(ev, expr, rows, descending, k, ev.ef_search)
        if isinstance(near, tuple):  # keyed already (oriented: larger is better)
            return near[0][sort_order([near[1]], [True], k)]
        if near is not None:
            key = _key(ev, expr, rows.take(near), "ORDER BY")
            return near[sort_order([key], [descending], k)]
    found = topk.candidates(ev, expr, rows, descending, k)
    if found is not None:
        ids, key = found
        return ids[sort_order([key], [True], k)]
    first = rows.first

    def finish(value: Value, batch: Rows) -> tuple[np.ndarray, Key]:
        key = scalar_key(value, batch.n, expr, "ORDER BY")
        offset = batch.first - first
        keep = best_rows(key, descending, k)
        if keep is None:
            return np.arange(offset, offset + batch.n, dtype=np.int64), key
        return keep + offset, Key(key.values[keep], key.missing[keep], key.text)

    parts = ev.per_row(expr, rows, finish)
    ids = _concat([ids for ids, _ in parts])
    try:
        key = Key.concat([key for _, key in parts])
    except ValueError:
        raise expr.error("ORDER BY needs values of one kind (numbers or text)") from None
    return ids[sort_order([key], [descending], k)]


def best_rows(key: Key, descending: bool, k: int) -> np.ndarray | None:
    """Positions (ascending) of a superset of the first ``k`` rows of ``key``'s order: the ``k``
    best present values (ties by position) and the first ``k`` missing ones; None when every
    row has to stay (text, or no more than ``k`` rows)."""
    values = key.values
    if key.is_arrow or len(values) <= k or values.dtype.kind not in "biuf":
        return None
    if k <= 0:
        return np.zeros(0, np.int64)
    if values.dtype.kind == "b":
        values = values.view(np.uint8)
    present = np.flatnonzero(~key.missing)
    missing = np.flatnonzero(key.missing)[:k]
    if len(present) > k:
        work = values[present]
        cut = len(work) - k if descending else k - 1
        threshold = np.partition(work, cut)[cut]
        better = np.flatnonzero(work > threshold if descending else work < threshold)
        equal = np.flatnonzero(work == threshold)[: k - len(better)]
        present = present[np.sort(np.concatenate([better, equal]))]
    return np.sort(np.concatenate([present, missing]))


def _ranks(key: Key) -> np.ndarray:
    """Dense 0-based ranks of the present values (ascending); -1 for missing ones."""
    if key.is_arrow:
        ranks = pc.rank(key.values, sort_keys="ascending", tiebreaker="dense")
        out = ranks.to_numpy(zero_copy_only=False).astype(np.int64) - 1
    else:
        values = key.values
        out = np.full(len(values), -1, np.int64)
        present = ~key.missing
        if present.any():
            out[present] = np.unique(values[present], return_inverse=True)[1].reshape(-1)
        return out
    out[key.missing] = -1
    return out


def sort_order(keys: list[Key], descending: list[bool], stop: int | None = None) -> np.ndarray:
    """Row order for several keys: stable, missing values last in either direction. With ``stop``
    only the first ``stop`` rows of the order are computed (top-k)."""
    count = len(keys[0].missing)
    if stop is not None and len(keys) == 1 and stop < count // 4:
        keep = best_rows(keys[0], descending[0], stop)  # sort only a superset of the first rows
        if keep is not None:
            key = keys[0]
            return keep[sort_order([Key(key.values[keep], key.missing[keep], key.text)], descending)[:stop]]
    columns = []
    for key, desc in zip(keys, descending):
        ranks = _ranks(key)
        if desc:
            ranks = np.where(ranks >= 0, ranks.max(initial=0) - ranks, -1)
        columns.append(np.where(ranks >= 0, ranks, count + 1))
    order = np.lexsort(columns[::-1]) if len(columns) > 1 else np.argsort(columns[0], kind="stable")
    return order if stop is None else order[:stop]


# -- grouping and sampling --------------------------------------------------------------------
def _group(rows: Rows, keys: list[Key]) -> Rows:
    """Rows grouped by equal keys: groups in order of first appearance, members in row order."""
    if rows.n == 0:
        return Rows(rows.positions, range(0), np.zeros(1, np.int64))
    groups = aggregate.group(keys, rows.n)
    members = np.argsort(groups.numbers(), kind="stable")
    offsets = np.concatenate([[0], np.cumsum(groups.counts)]).astype(np.int64)
    return Rows(rows.position_array()[members], range(groups.n), offsets)


def _sample(ev: Evaluator, rows: Rows, spec: n.SampleBy, terms: list[tuple[n.Expr, n.Expr]], seed: int) -> Rows:
    weights = np.zeros(rows.n)
    for (cond, weight), (_, weight_src) in zip(terms, spec.terms):
        hit = _concat(ev.per_row(cond, rows, _truth(cond, "SAMPLE BY")))
        key = _key(ev, weight, rows, "SAMPLE BY weight")
        if key.is_text:
            raise weight_src.error("A SAMPLE BY weight must be a number")
        w = np.where(key.missing, 0.0, key.values.astype(np.float64))
        if (w < 0).any():
            raise weight_src.error("SAMPLE BY weights must be >= 0")
        w = np.where(hit, w, 0.0)
        weights = np.maximum(weights, w) if spec.mode == "max_weight" else weights + w
    size = rows.n if spec.limit is None else spec.limit
    if size > _MAX_SAMPLE:
        raise spec.error(f"SAMPLE BY can draw at most {_MAX_SAMPLE:,} rows")
    total = weights.sum()
    if not np.isfinite(total):
        raise spec.error("SAMPLE BY weights must be finite")
    return rows.take(weighted_draw(weights, size, spec.replace, np.random.default_rng([seed, spec.span.start, 1])))


def weighted_draw(weights: np.ndarray, size: int, replace: bool, rng: np.random.Generator) -> np.ndarray:
    """``size`` positions drawn with probability proportional to ``weights`` (finite, >= 0), with
    or without replacement (then at most as many as have a weight above 0); none when every
    weight is 0."""
    total = weights.sum()
    if total <= 0 or size == 0:
        return np.zeros(0, np.int64)
    p = weights / total
    if not replace:
        size = min(size, int(np.count_nonzero(weights)))
    return np.asarray(rng.choice(len(weights), size=size, replace=replace, p=p), np.int64)


# -- set operations ---------------------------------------------------------------------------
def _run_set(op: n.SetOp, table: Table, seed: int) -> tuple[Rows, dict[str, n.Expr]]:
    left_rows, left_cols = run(op.left, table, seed)
    right_rows, right_cols = run(op.right, table, seed + 1)
    if left_rows.offsets is not None or right_rows.offsets is not None:
        raise op.error(f"{op.op.upper()} needs ungrouped rows; add UNGROUP BY to the grouped query")
    if list(left_cols) != list(right_cols) or any(
            _definition(left_cols[k]) != _definition(right_cols[k]) for k in left_cols):
        raise op.error(f"Both sides of {op.op.upper()} must select the same columns; "
                       f"got {list(left_cols)} and {list(right_cols)}")
    a, b = left_rows.position_array(), right_rows.position_array()
    positions = combine(op.op, op.all, a, b)
    rows = Rows.of(positions)
    if op.order_by or op.limit is not None or op.offset:
        combined = dataclasses.replace(table, positions=positions, offsets=None, columns=left_cols)
        select = n.Select(op.span, items=(n.SelectItem(op.span, expr=None),), order_by=op.order_by,
                          limit=op.limit, offset=op.offset)
        return _run_select(select, combined, seed)
    return rows, left_cols


def _definition(expr: n.Expr) -> str:
    return n.canonical(expr)


def _first_occurrences(values: np.ndarray) -> np.ndarray:
    if not len(values):
        return values
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def _occurrence(values: np.ndarray) -> np.ndarray:
    """For each element, how many equal elements come before it."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]) if len(values) else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0)) if len(values) else starts
    out = np.empty(len(values), np.int64)
    out[order] = np.arange(len(values)) - run_start
    return out


def _count_in(values: np.ndarray, other: np.ndarray) -> np.ndarray:
    uniq, counts = np.unique(other, return_counts=True)
    where = np.searchsorted(uniq, values)
    where = np.clip(where, 0, max(len(uniq) - 1, 0))
    hit = (uniq[where] == values) if len(uniq) else np.zeros(len(values), bool)
    return np.where(hit, counts[where] if len(uniq) else 0, 0)


def combine(op: str, every: bool, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sample positions of ``a op b``; without ALL each position appears once, in first-seen order."""
    if op == "union":
        both = np.concatenate([a, b])
        return both if every else _first_occurrences(both)
    if every:
        seen, available = _occurrence(a), _count_in(a, b)
        keep = seen < available if op == "intersect" else seen >= available
        return a[keep]
    a = _first_occurrences(a)
    inside = np.isin(a, b)
    return a[inside] if op == "intersect" else a[~inside]

