"""``View``: the result of a query, a list of sample indices into a source dataset (tied to the
commit it was read from, when the dataset has one) plus named columns.

A view reads like a dataset: ``len(v)``, ``v.tensors``, ``v.labels.numpy()``, ``v[3]``,
``v[10:20]``, ``v.query(...)``, ``v.filter(...)``, ``v.to_arrow()``. Columns that are stored
tensors come back as ``ViewTensor`` (a ``Tensor`` over the view's rows, with bulk read paths);
computed columns (``SELECT images[0:64, 0:64] AS crop``) as ``ComputedTensor``, computed from
their definition each time they are read. After ``GROUP BY`` every row is a group of samples and
each column gives the group's samples stacked, like a sequence.

A view is (source dataset, sample indices, group offsets, column definitions, commit id), which
is all that saving it later needs (``save_view``, see ``saved``). A view of stored tensors
streams to PyTorch like a dataset view: ``view.pytorch(...)``, ``view.dataloader()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from ..core import html_repr, internal
from ..core import index as _index
from ..core.tensor import Tensor
from ..errors import DynamicShapeError, LoaderError, QueryError, TensorNotFoundError
from . import arrow
from . import nodes as n
from . import vector_index
from .evaluate import Evaluator, Rows
from .execute import Table, run, tensor_columns, weighted_draw
from .parser import parse, parse_expression
from .scan import TensorScan, as_array
from .values import Const, Dense, Objects, Text, Value, rows_of

INDEX_COLUMN = "sample_index"


def new_seed() -> int:
    """A fresh 128-bit seed from the system's entropy (what ``np.random.SeedSequence()`` draws,
    without its ~0.5 ms of set-up on every query)."""
    return int.from_bytes(os.urandom(16), "little")


def table_of(source: Any) -> Table:
    """The table a query on ``source`` (a Dataset, a row view of one, or a View) reads."""
    if isinstance(source, View):
        return source._table()
    base = internal.whole(source, source.group_index)  # the same dataset/group, every row
    rows = source.index
    positions = range(len(source)) if rows is None else np.asarray(rows, np.int64)
    return Table(base, positions, None, tensor_columns(source), getattr(source, "commit_id", None))


def as_view(source: Any) -> View:
    """``source`` as a View: a View itself, or a dataset, group, row view or column view as the
    View of its rows and shown tensors (at the dataset's current commit)."""
    if isinstance(source, View):
        return source
    table = table_of(source)
    return View(table.dataset, np.asarray(table.positions, np.int64), None, table.columns, table.commit_id)


def run_query(source: Any, query: str, seed: int | None = None, exact: bool = False,
              ef_search: int | None = None) -> View:
    """Parse and run ``query`` on ``source``; see ``deeplake_nb.query`` for the language.
    ``exact``: never answer ``ORDER BY <distance> LIMIT k`` from a vector index; ``ef_search``:
    the index's search depth for this query (``query.vector_index``)."""
    statement = parse(query)
    if not isinstance(exact, bool):
        raise QueryError(f"exact must be True or False; got {exact!r}.")
    table = dataclasses.replace(table_of(source), exact=exact, ef_search=vector_index.check_ef_search(ef_search))
    rows, columns = run(statement, table, new_seed() if seed is None else int(seed))
    return View(table.dataset, rows.positions, rows.offsets, columns, table.commit_id, query)


def filter_rows(source: Any, function: Callable[[Any], Any] | str, num_workers: int = 0, progressbar: bool = False,
                save_result: bool = False, result_path: str | None = None,
                result_ds_args: dict[str, Any] | None = None) -> View:
    """Rows of ``source`` for which ``function(row)`` is true (a Python callable, called once per
    row with a one-row dataset or view, on ``num_workers`` threads when > 0), or for which a TQL
    condition holds (a str). ``save_result``: also save the result (``save_view``: at
    ``result_path`` as its own dataset, else in the dataset; ``result_ds_args`` are its other
    arguments, e.g. ``{"id": "cats"}``)."""
    view = _filtered(source, function, num_workers, progressbar)
    if save_result:
        view.save_view(path=result_path, **(result_ds_args or {}))
    return view


def _filtered(source: Any, function: Callable[[Any], Any] | str, num_workers: int, progressbar: bool) -> View:
    table = table_of(source)
    if isinstance(function, str):
        expr = parse_expression(function)
        span = expr.span
        select = n.Select(span, items=(n.SelectItem(span, expr=None),), where=expr)
        rows, columns = run(select, table, new_seed())
        return View(table.dataset, rows.positions, rows.offsets, columns, table.commit_id,
                    f"SELECT * WHERE {function}")
    if not callable(function):
        raise QueryError(f"filter() takes a callable or a condition string; got {type(function).__name__}.")
    keep = _matching(source, function, num_workers, progressbar)
    chosen = table.rows.take(np.asarray(keep, np.int64))
    return View(table.dataset, chosen.positions, chosen.offsets, table.columns, table.commit_id, None)


def sample_rows(source: Any, weights: str | Sequence[float] | np.ndarray, replace: bool = True,
                size: int | None = None, seed: int | None = None) -> View:
    """``ds.sample_by`` (Deep Lake v3): ``size`` rows (default: as many as ``source`` has) drawn
    at random, each with a probability proportional to its weight, with or without ``replace``.
    ``weights``: a TQL ``max_weight(cond: weight, ...)`` / ``sum_weight(...)`` (run as ``SAMPLE
    BY``), any other TQL expression (a row's weight, e.g. a tensor's value), or one weight per row
    (finite, >= 0). ``seed`` makes the draw reproducible. QueryError for weights that cannot be."""
    if not isinstance(replace, bool):
        raise QueryError(f"replace must be True or False; got {replace!r}.")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        raise QueryError(f"size must be an int >= 0 or None; got {size!r}.")
    seed = new_seed() if seed is None else int(seed)
    if isinstance(weights, str):
        clause = weights if re.match(r"\s*(max|sum)_weight\s*\(", weights, re.IGNORECASE) else f"sum_weight(true: {weights})"
        limit = "" if size is None else f" LIMIT {int(size)}"
        return run_query(source, f"SELECT * SAMPLE BY {clause} REPLACE {str(replace).upper()}{limit}", seed)
    table = table_of(source)
    try:
        values = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise QueryError("sample_by takes a TQL expression or one number per row as weights.") from None
    if values.ndim != 1 or len(values) != table.rows.n:
        raise QueryError(f"sample_by needs one weight per row: {table.rows.n} rows, weights of shape {values.shape}.")
    if not np.isfinite(values).all() or (values < 0).any():
        raise QueryError("sample_by weights must be finite numbers >= 0.")
    chosen = table.rows.take(weighted_draw(values, table.rows.n if size is None else int(size), replace,
                                           np.random.default_rng(seed)))
    return View(table.dataset, chosen.positions, chosen.offsets, table.columns, table.commit_id, None)


def _matching(source: Any, function: Callable[[Any], Any], num_workers: int, progressbar: bool) -> list[int]:
    """Positions ``i`` of ``source`` where ``function(source[i])`` is true, in order."""
    numbers: Sequence[int] = range(len(source))
    if progressbar:
        from tqdm.auto import tqdm
        numbers = tqdm(numbers, desc="filter", unit="row")
    if num_workers <= 0:
        return [i for i in numbers if function(source[i])]
    dataset = source.dataset if isinstance(source, View) else source
    dataset.flush()  # the threads only read: buffered writes go to storage first
    with ThreadPoolExecutor(num_workers, thread_name_prefix="deeplake_nb-filter") as pool:
        verdicts = pool.map(lambda i: bool(function(source[i])), numbers)
        return [i for i, keep in enumerate(verdicts) if keep]


class View:
    """Rows selected from a dataset, with named columns; see the module docstring."""

    def __init__(self, dataset: Any, positions: np.ndarray | range, offsets: np.ndarray | None,
                 columns: dict[str, n.Expr], commit_id: str | None = None, query: str | None = None,
                 single: bool = False) -> None:
        self._dataset = dataset
        self._positions = as_array(positions)
        self._positions.flags.writeable = False
        self._offsets = offsets
        self._columns = dict(columns)
        self._commit_id = commit_id
        self._query = query
        self._single = single

    # -- identity -------------------------------------------------------------------------------
    @property
    def dataset(self) -> Any:
        """The dataset (or group) the view selects from, with no row selection."""
        return self._dataset

    @property
    def sample_indices(self) -> np.ndarray:
        """Indices of the selected samples in the source dataset, in result order (all groups'
        members, group after group, when the view is grouped)."""
        return self._positions

    @property
    def commit_id(self) -> str | None:
        """The commit the view was computed at (None when the dataset is not versioned)."""
        return self._commit_id

    @property
    def query_string(self) -> str | None:
        return self._query

    @property
    def is_grouped(self) -> bool:
        return self._offsets is not None

    @property
    def is_view(self) -> bool:
        """Always True (``Dataset.is_view`` is True for row and column views)."""
        return True

    @property
    def read_only(self) -> bool:
        """Whether the dataset the view reads is open read-only (a loaded saved view always is:
        it reads the commit it was saved at, or its optimized copy)."""
        return bool(self._dataset.read_only)

    @property
    def is_optimized(self) -> bool:
        """Whether the view reads an optimized copy (``save_view(optimize=True)``, then ``load_view``)."""
        from .saved import reads_a_copy
        return reads_a_copy(self)

    @property
    def groups(self) -> list[np.ndarray] | None:
        """The sample indices of each group (None when the view is not grouped)."""
        if self._offsets is None:
            return None
        return [self._positions[a:b] for a, b in zip(self._offsets[:-1].tolist(), self._offsets[1:].tolist())]

    def _rows(self) -> Rows:
        return Rows.of(self._positions, self._offsets)

    def _table(self) -> Table:
        return Table(self._dataset, self._positions, self._offsets, self._columns, self._commit_id)

    def __len__(self) -> int:
        return len(self._positions) if self._offsets is None else len(self._offsets) - 1

    # -- columns --------------------------------------------------------------------------------
    @property
    def tensors(self) -> dict[str, Any]:
        """The view's columns by name: ViewTensor for stored tensors, ComputedTensor otherwise."""
        return {name: self._column(name) for name in self._columns}

    def _column(self, name: str) -> Any:
        expr = self._columns[name]
        if isinstance(expr, n.TensorRef) and self._offsets is None:
            return ViewTensor(self._dataset, expr.key, self._positions, self._single, name)
        return ComputedTensor(self, name, expr, self._single)

    def _select(self, local: np.ndarray) -> View:
        """The rows (groups, when grouped) at ``local``, as a view of the same kind."""
        rows = self._rows().take(local)
        return View(self._dataset, rows.positions, rows.offsets, self._columns, self._commit_id, self._query)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            if item in self._columns:
                return self._column(item)
            close = difflib.get_close_matches(item, list(self._columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns: {list(self._columns)}"
            raise TensorNotFoundError(f"The view has no column {item!r}{hint}")
        if self._single:
            raise TypeError("This view is one row; index its columns instead, e.g. view.labels.numpy().")
        local, single = _index.resolve(item, len(self))
        if self._offsets is not None:
            if single:  # one group: a flat view of its samples
                a, b = int(self._offsets[local[0]]), int(self._offsets[local[0] + 1])
                return View(self._dataset, self._positions[a:b], None, self._columns, self._commit_id, self._query)
            return self._select(local)
        return View(self._dataset, self._positions[local], None, self._columns, self._commit_id, self._query,
                    single=single)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        columns = self.__dict__.get("_columns", {})
        if name in columns:
            return self._column(name)
        raise AttributeError(f"View has no attribute or column {name!r}.")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {c for c in self._columns if c.isidentifier()})

    def __iter__(self) -> Iterator[View]:
        for i in range(len(self)):
            yield self[i]

    # -- queries --------------------------------------------------------------------------------
    def query(self, query: str, seed: int | None = None, exact: bool = False,
              ef_search: int | None = None) -> View:
        """Run a TQL query over this view's rows and columns (computed columns included);
        ``exact`` and ``ef_search`` as for ``ds.query`` (vector indexes)."""
        return run_query(self, query, seed, exact, ef_search)

    def filter(self, function: Callable[[Any], Any] | str, num_workers: int = 0, scheduler: str = "threaded",
               progressbar: bool = False, save_result: bool = False, result_path: str | None = None,
               result_ds_args: dict[str, Any] | None = None) -> View:
        """Rows of this view for which ``function(row)`` (or the TQL condition) is true; see
        ``filter_rows`` (``scheduler`` is accepted: a callable runs on threads)."""
        return filter_rows(self, function, num_workers, progressbar, save_result, result_path, result_ds_args)

    def sample_by(self, weights: str | Sequence[float] | np.ndarray, replace: bool = True, size: int | None = None,
                  seed: int | None = None) -> View:
        """A weighted random draw of this view's rows; see ``sample_rows`` (``ds.sample_by``)."""
        return sample_rows(self, weights, replace, size, seed)

    # -- saving ---------------------------------------------------------------------------------
    def save_view(self, message: str | None = None, path: str | None = None, id: str | None = None,  # noqa: A002
                  optimize: bool = False, tensors: Sequence[str] | None = None, num_workers: int = 0,
                  scheduler: str = "threaded", verbose: bool = True, progressbar: bool = True,
                  **ds_args: Any) -> str:
        """Save this view: in its dataset under ``id`` (returns its address,
        ``<dataset path>/.queries/<id>``, which ``dl.load`` opens; bound to its commit, so the
        dataset needs no uncommitted changes), or with ``path`` as a dataset of its own holding a
        copy of its samples (returns the path). ``optimize=True`` also keeps such a copy in the
        dataset, for streaming. See ``deeplake_nb.query.saved``."""
        from .saved import save_view
        return save_view(self, message=message, path=path, id=id, optimize=optimize, tensors=tensors,
                         num_workers=num_workers, scheduler=scheduler, verbose=verbose, progressbar=progressbar,
                         **ds_args)

    # -- streaming ------------------------------------------------------------------------------
    def pytorch(self, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """A PyTorch loader over the view's rows (``Dataset.pytorch``'s options), loading its
        columns unless ``tensors`` (or a dict transform) names others; ``"index"`` gives each
        sample's index in the source dataset."""
        rows = self._streamed()
        if tensors is None and not isinstance(options.get("transform"), Mapping):
            tensors = list(self._columns)
        return rows.pytorch(tensors=tensors, **options)

    def numpy_batches(self, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """NumPy batches of the view's rows (``Dataset.numpy_batches``'s options), its columns
        unless ``tensors`` (or a dict transform) names others."""
        return self._streamed().numpy_batches(tensors=self._stream_tensors(tensors, options), **options)

    def jax(self, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """JAX batches of the view's rows (``Dataset.jax``'s options)."""
        return self._streamed().jax(tensors=self._stream_tensors(tensors, options), **options)

    def tensorflow(self, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """A ``tf.data.Dataset`` of the view's rows (``Dataset.tensorflow``'s options)."""
        return self._streamed().tensorflow(self._stream_tensors(tensors, options), **options)

    def _stream_tensors(self, tensors: Sequence[str] | None, options: Mapping[str, Any]) -> Sequence[str] | None:
        if tensors is None and not isinstance(options.get("transform"), Mapping):
            return list(self._columns)
        return tensors

    def dataloader(self) -> Any:
        """Deep Lake v3's loader builder over the view's rows and columns (``Dataset.dataloader``)."""
        return self._streamed(only_columns=True).dataloader()

    def torch_dataset(self, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """A map-style ``torch.utils.data.Dataset`` of the view's rows (``Dataset.torch_dataset``)."""
        return self._streamed(only_columns=tensors is None).torch_dataset(tensors=tensors, **options)

    def _streamed(self, only_columns: bool = False) -> Any:
        """The dataset row view the loader reads for this view (a column view of its columns when
        ``only_columns``). Every column must be a stored tensor under its own name."""
        if self.is_grouped:
            raise LoaderError("A grouped view (GROUP BY) has groups of samples as rows; stream the source "
                              "dataset, or a view without GROUP BY.")
        prefix = f"{self._dataset.group_index}/" if self._dataset.group_index else ""
        odd = [name for name, expr in self._columns.items()
               if not isinstance(expr, n.TensorRef) or expr.key != prefix + name]
        if odd:
            raise LoaderError(f"Columns {odd} are computed or renamed (AS), which the loader cannot read; select "
                              "stored tensors under their own names, or save the view with optimize=True and "
                              "load it (its copy stores every column as a tensor).")
        base = self._dataset
        rows = internal.over(internal.state(base), base.group_index, np.asarray(self._positions, np.int64))
        return rows[list(self._columns)] if only_columns and self._columns else rows

    # -- export ---------------------------------------------------------------------------------
    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """A pyarrow Table: ``sample_index`` then every column (or those named in ``columns``),
        each in its Arrow form (``query.arrow``: images and other encoded media as their stored
        bytes, text and json as strings, class labels as dictionaries, N-D arrays as
        ``fixed_shape_tensor``). Grouped views give list columns."""
        names = list(self._columns) if columns is None else list(columns)
        for name in names:
            if name not in self._columns:
                raise TensorNotFoundError(f"The view has no column {name!r}; columns: {list(self._columns)}")
        index_name = INDEX_COLUMN if INDEX_COLUMN not in self._columns else "_" + INDEX_COLUMN
        arrays: dict[str, pa.Array] = {index_name: _grouped(pa.array(self._positions, pa.int64()), self._offsets)}
        ev = Evaluator(self._dataset, None, 0)
        flat = Rows.of(self._positions)
        for name in names:
            arrays[name] = _grouped(arrow.column(ev, self._columns[name], flat), self._offsets)
        return pa.table(arrays)

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """``to_arrow(columns)`` as a pandas DataFrame (class labels as Categorical, encoded
        media as bytes, N-D samples as one array per row); needs pandas."""
        return arrow.to_pandas(self.to_arrow(columns))

    # -- display --------------------------------------------------------------------------------
    def summary(self) -> None:
        print(self._summary_text())

    def _summary_text(self) -> str:
        head = f"View of {len(self)} {'groups' if self.is_grouped else 'rows'} from {self._dataset.path!r}"
        lines = [head + (f" at commit {self._commit_id}" if self._commit_id else "")]
        for name, expr in self._columns.items():
            what = f"tensor {expr.key!r}" if isinstance(expr, n.TensorRef) else f"= {expr.text}"
            lines.append(f"  {name}: {what}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        kind = "groups" if self.is_grouped else "rows"
        return f"View({len(self)} {kind}, columns={list(self._columns)}, dataset={self._dataset.path!r})"

    def _repr_html_(self) -> str:
        """Jupyter's view: source, commit, query, rows and each column (a stored tensor's htype,
        dtype and compression from its metadata; a computed column's expression); reads no sample."""
        facts = [("dataset", self._dataset.path), ("commit", self._commit_id or ""), ("query", self._query or ""),
                 ("groups" if self.is_grouped else "rows", len(self))]
        rows = []
        for name, expr in list(self._columns.items())[:html_repr.MAX_ROWS]:
            if isinstance(expr, n.TensorRef):
                rows.append([name, *html_repr.meta_cells(internal.tensor_meta(self._dataset, expr.key)),
                             f"tensor {expr.key}"])
            else:
                rows.append([name, "", "", "", f"= {expr.text}"])
        return html_repr.table("View", [(k, v) for k, v in facts if v != ""],
                               ["column", "htype", "dtype", "compression", "source"], rows,
                               more=len(self._columns) - html_repr.MAX_ROWS)


def _writable(data: np.ndarray) -> np.ndarray:
    """Arrays handed to users are theirs: a copy when the data is a view of a cached chunk."""
    return data if data.flags.writeable else data.copy()


def _grouped(array: pa.Array, offsets: np.ndarray | None) -> pa.Array:
    if offsets is None:
        return array
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), array)


class ViewTensor(Tensor):
    """A stored tensor read through a view: the core ``Tensor`` over the view's rows, with bulk
    read paths for dense numeric, text and JSON tensors."""

    def __init__(self, dataset: Any, key: str, rows: np.ndarray, single: bool = False,
                 alias: str | None = None) -> None:
        super().__init__(dataset, key, rows, single)
        self._view_rows = rows
        self._view_single = single
        self._alias = alias

    @property
    def name(self) -> str:
        return self._alias or super().name

    def __getitem__(self, item: Any) -> ViewTensor:
        local, single = _index.resolve(item, len(self._view_rows))
        return ViewTensor(self.dataset, self.key, self._view_rows[local], single, self._alias)

    def __repr__(self) -> str:
        return f"ViewTensor(name={self.name!r}, key={self.key!r}, htype={self.htype!r}, rows={len(self._view_rows)})"

    def _bulk(self) -> Value | None:
        meta = self.meta
        if meta.link or meta.sequence:
            return None
        scan = TensorScan(self.dataset, self.key)
        if scan.mode == "dense" or (scan.mode == "heap" and meta.kind in ("text", "json")):
            return scan.values(self._view_rows)
        return None

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        if not self._view_single and not len(self._view_rows):
            return [] if aslist else np.zeros((0,), self.dtype or np.float64)
        value = None if self._view_single else self._bulk()
        if isinstance(value, Dense) and not aslist:
            return _writable(value.data)
        if isinstance(value, Text):
            strings = value.strings()
            column = np.asarray(strings.tolist(), dtype=str).reshape(-1, 1)  # like Tensor.numpy(): (n, 1)
            return list(column) if aslist else column
        return super().numpy(aslist=aslist, fetch_chunks=fetch_chunks)

    def data(self, aslist: bool = False) -> dict[str, Any]:
        value = None if self._view_single else self._bulk()
        if isinstance(value, Text):
            return {"value": value.array.to_pylist()}
        if isinstance(value, Objects):
            return {"value": list(value.items)}
        return super().data(aslist=aslist)


class ComputedTensor:
    """A computed column of a view (or any column of a grouped view), computed when read."""

    def __init__(self, view: View, name: str, expr: n.Expr, single: bool = False) -> None:
        self.view = view
        self.name = self.key = name
        self.expr = expr
        self.single = single

    @property
    def definition(self) -> str:
        return self.expr.text

    @property
    def htype(self) -> str:
        return "sequence" if self.view.is_grouped else "generic"

    def _value(self) -> Value:
        view = self.view
        ev = Evaluator(view._dataset, view._positions if view._offsets is None else None, 0)
        value = ev.eval(self.expr, view._rows())
        if isinstance(value, Const):  # one value for every row
            count = len(view)
            if isinstance(value.value, str):
                return Text(pa.array([value.value] * count, pa.large_string()))
            return Dense(np.broadcast_to(value.value, (count, *np.shape(value.value))).copy(), value.classes)
        return value

    def numpy(self, aslist: bool = False) -> Any:
        """The column's values: one array, or a list when ``aslist`` (needed when shapes vary)."""
        value = self._value()
        count = len(self.view)
        if isinstance(value, Text):
            items: list[Any] = [np.asarray([s]) for s in value.array.to_pylist()]
        elif isinstance(value, Dense):
            data = _writable(value.data)
            items = list(data) if (aslist or self.single) else []
            if not aslist and not self.single:
                return data
        else:
            items = rows_of(value, count)
        if self.single:
            return items[0]
        if aslist:
            return items
        if items and all(isinstance(x, np.ndarray) and x.shape == items[0].shape for x in items):
            return np.stack(items)
        if not items:
            return np.zeros((0,))
        raise DynamicShapeError(f"Samples of {self.name!r} have different shapes and cannot be stacked; "
                                "call .numpy(aslist=True).")

    def data(self, aslist: bool = False) -> dict[str, Any]:
        value = self._value()
        if isinstance(value, Text):
            strings = value.array.to_pylist()
            return {"value": strings[0] if self.single else strings}
        if isinstance(value, Objects):
            return {"value": value.items[0] if self.single else list(value.items)}
        return {"value": self.numpy(aslist=aslist)}

    def shapes(self) -> np.ndarray:
        value = self._value()
        count = len(self.view)
        if isinstance(value, Dense):
            return np.tile(np.asarray(value.data.shape[1:], np.int64), (count, 1))
        items = rows_of(value, count)
        return np.asarray([np.shape(x) for x in items], np.int64)

    @property
    def shape(self) -> tuple[int | None, ...]:
        shapes = self.shapes()
        if self.single:
            return tuple(int(x) for x in shapes[0])
        if not len(shapes):
            return (0,)
        same = (shapes == shapes[0]).all(axis=0)
        return (len(shapes),) + tuple(int(x) if s else None for x, s in zip(shapes[0], same))

    def __len__(self) -> int:
        if self.single:
            raise TypeError(f"{self.name!r} is one sample here; it has no length.")
        return len(self.view)

    def __getitem__(self, item: Any) -> ComputedTensor:
        if self.single:
            raise TypeError(f"{self.name!r} is one sample here; read it with .numpy().")
        local, single = _index.resolve(item, len(self.view))
        return ComputedTensor(self.view._select(local), self.name, self.expr, single)

    def __repr__(self) -> str:
        return f"ComputedTensor(name={self.name!r}, definition={self.definition!r}, rows={len(self.view)})"
