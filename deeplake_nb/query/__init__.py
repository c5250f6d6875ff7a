"""TQL, the tensor query language: ``ds.query("SELECT * WHERE labels == 'cat' LIMIT 10")``.

Text -> tokens (``lexer``) -> syntax tree (``parser``, ``nodes``) -> names bound and functions
checked (``execute.bind``) -> stages run over whole columns with NumPy/Arrow (``execute``,
``evaluate``, ``functions``, reading through ``scan``) -> a ``View``.

Queries::

    SELECT * | expr [AS name], ...
        [FROM name] [WHERE cond] [GROUP BY expr, ...] [UNGROUP BY]
        [SAMPLE BY max_weight|sum_weight(cond: weight, ...) [REPLACE TRUE|FALSE] [LIMIT n]]
        [ORDER BY expr [ASC|DESC], ...] [LIMIT n] [OFFSET n]
    (query) UNION|INTERSECT|EXCEPT [ALL] (query) [ORDER BY ...] [LIMIT n] [OFFSET n]

Expressions: numbers, 'strings', TRUE/FALSE, ARRAY[...], tensor names ("quoted" when they hold
'/', '-' or spaces), + - * / %, == = != <> < <= > >=, AND OR NOT, IN (...), BETWEEN a AND b,
indexing and slicing of samples (``images[0:64, 0:64, :]``, ``boxes[:, 2]``), and the functions
in ``functions.FUNCTIONS``. Class names compare as their ids (``labels == 'cat'``).
``sample_index`` is each row's index in the source dataset (``ORDER BY sample_index``).

The vector functions run on a GPU through CuPy for big inputs when one is present (``backend``;
``DEEPLAKE_NB_QUERY_DEVICE=cpu`` turns that off).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import QueryError
from .functions import FUNCTIONS
from . import saved
from .parser import parse
from .view import ComputedTensor, View, ViewTensor, filter_rows, run_query

__all__ = ["FUNCTIONS", "ComputedTensor", "QueryError", "View", "ViewTensor", "filter", "install", "parse", "query"]


def query(source: Any, query: str, seed: int | None = None, exact: bool = False,
          ef_search: int | None = None) -> View:
    """Run a TQL query on a dataset, a row view of one, or a View; ``seed`` makes ``random()``
    and ``SAMPLE BY`` reproducible; ``exact=True`` never uses a vector index (``ORDER BY
    <distance> LIMIT k`` scans every row); ``ef_search``: a vector index's search depth."""
    return run_query(source, query, seed, exact, ef_search)


def filter(source: Any, function: Callable[[Any], Any] | str, progressbar: bool = False) -> View:  # noqa: A001
    """Rows of ``source`` where ``function(row)`` is true (Python fallback, one call per row), or
    where a TQL condition string holds."""
    return filter_rows(source, function, progressbar=progressbar)


def _query_method(self: Any, query: str, seed: int | None = None, exact: bool = False,
                  ef_search: int | None = None) -> View:
    """Run a TQL query over this dataset's rows, e.g.
    ``ds.query("SELECT * WHERE labels == 'cat' ORDER BY random() LIMIT 100")``; returns a View.
    ``seed`` makes ``random()`` and ``SAMPLE BY`` reproducible. ``exact=True``: ``ORDER BY
    <distance> LIMIT k`` never uses a vector index (``tensor.create_vdb_index``); ``ef_search``:
    the index's search depth (recall vs speed)."""
    return run_query(self, query, seed, exact, ef_search)


def _filter_method(self: Any, function: Callable[[Any], Any] | str, num_workers: int = 0, scheduler: str = "threaded",
                   progressbar: bool = False, save_result: bool = False, result_path: str | None = None,
                   result_ds_args: dict[str, Any] | None = None) -> View:
    """Rows for which ``function(row)`` is true (called once per row with a one-row dataset, on
    ``num_workers`` threads when > 0; ``scheduler`` is accepted), or for which a TQL condition
    string holds (``ds.filter("labels == 2")``); returns a View. ``save_result``: also save it
    (``save_view(path=result_path, **result_ds_args)``)."""
    return filter_rows(self, function, num_workers, progressbar, save_result, result_path, result_ds_args)


def _save_view_method(self: Any, message: str | None = None, path: str | None = None, id: str | None = None,  # noqa: A002
                      optimize: bool = False, tensors: Sequence[str] | None = None, num_workers: int = 0,
                      scheduler: str = "threaded", verbose: bool = True, progressbar: bool = True,
                      **ds_args: Any) -> str:
    """Save this view (``ds[1:5]``, ``ds[[0, 3, 7]]``, ``ds[["x", "z"]]``, or the whole dataset): in
    the dataset under ``id`` (returns its address ``<dataset path>/.queries/<id>``, which
    ``dl.load`` opens; needs no uncommitted changes), or with ``path`` as a dataset of its own
    (returns the path). See ``deeplake_nb.query.saved``."""
    return saved.save_view(self, message=message, path=path, id=id, optimize=optimize, tensors=tensors,
                           num_workers=num_workers, scheduler=scheduler, verbose=verbose, progressbar=progressbar,
                           **ds_args)


def _is_view(self: Any) -> bool:
    """Whether this is a view of the dataset: a row selection (``ds[1:5]``) or a column view
    (``ds[["x", "z"]]``); a group of the whole dataset is not."""
    return self.index is not None or self._columns is not None


def _get_views_method(self: Any, commit_id: str | None = None) -> list[saved.ViewEntry]:
    """The views saved in this dataset (``view.save_view(...)``) that are bound to ``commit_id``
    (default: the current commit), as ``ViewEntry`` objects (``entry["id"]``, ``entry.load()``)."""
    return saved.get_views(self, commit_id)


def _get_view_method(self: Any, id: str) -> saved.ViewEntry:  # noqa: A002
    """The saved view ``id`` as a ``ViewEntry``; ``ViewNotFoundError`` (a KeyError) if none."""
    return saved.get_view(self, id)


def _load_view_method(self: Any, id: str, optimize: bool = False, tensors: Sequence[str] | None = None,  # noqa: A002
                      num_workers: int = 0, scheduler: str = "threaded", progressbar: bool = True) -> View:
    """The saved view ``id``, read-only at the commit it was saved at (or its optimized copy);
    ``optimize=True`` first stores that copy (``tensors``: only those columns)."""
    return saved.load_view(self, id, optimize=optimize, tensors=tensors, num_workers=num_workers,
                           scheduler=scheduler, progressbar=progressbar)


def _delete_view_method(self: Any, id: str) -> None:  # noqa: A002
    """Delete the saved view ``id`` and its optimized copy, if any. Makes no commit."""
    saved.delete_view(self, id)


def install(dataset_cls: type) -> None:
    """Give ``dataset_cls`` (core's Dataset) its ``query``, ``filter``, ``save_view``, ``is_view``,
    ``get_views``, ``get_view``, ``load_view`` and ``delete_view``. Called from
    ``deeplake_nb/__init__.py`` so that core never imports this package."""
    dataset_cls.query = _query_method  # type: ignore[attr-defined]
    dataset_cls.filter = _filter_method  # type: ignore[attr-defined]
    dataset_cls.save_view = _save_view_method  # type: ignore[attr-defined]
    dataset_cls.is_view = property(_is_view)  # type: ignore[attr-defined]
    dataset_cls.get_views = _get_views_method  # type: ignore[attr-defined]
    dataset_cls.get_view = _get_view_method  # type: ignore[attr-defined]
    dataset_cls.load_view = _load_view_method  # type: ignore[attr-defined]
    dataset_cls.delete_view = _delete_view_method  # type: ignore[attr-defined]
