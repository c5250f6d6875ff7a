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

from ..core.extensions import provide
from ..errors import QueryError
from .functions import FUNCTIONS
from . import saved, vector_index
from .parser import parse
from .view import ComputedTensor, View, ViewTensor, as_view, filter_rows, run_query, sample_rows

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


def install() -> None:
    """Provide ``Dataset.query``, ``filter``, ``sample_by``, ``save_view``, ``get_views``, ``get_view``,
    ``load_view``, ``delete_view``, ``to_arrow`` and ``to_pandas``, and ``Tensor.create_vdb_index``,
    ``delete_vdb_index`` and ``get_vdb_indexes`` (declared in ``core.extensions``)."""
    provide(query=run_query, filter=_filter_method, sample_by=sample_rows, save_view=saved.save_view, get_views=saved.get_views,
            get_view=saved.get_view, load_view=saved.load_view, delete_view=saved.delete_view,
            to_arrow=_to_arrow, to_pandas=_to_pandas, create_vdb_index=vector_index.create_vdb_index,
            delete_vdb_index=vector_index.delete_vdb_index, get_vdb_indexes=vector_index.get_vdb_indexes)


def _to_arrow(ds: Any, columns: Sequence[str] | None = None) -> Any:
    """``ds.to_arrow``: the rows and tensors a dataset or view shows, as a View's table."""
    return as_view(ds).to_arrow(columns)


def _to_pandas(ds: Any, columns: Sequence[str] | None = None) -> Any:
    return as_view(ds).to_pandas(columns)


def _filter_method(ds: Any, function: Callable[[Any], Any] | str, num_workers: int = 0, scheduler: str = "threaded",
                   progressbar: bool = False, save_result: bool = False, result_path: str | None = None,
                   result_ds_args: dict[str, Any] | None = None) -> View:
    """``ds.filter``: ``scheduler`` is accepted (threads run the Python fallback)."""
    return filter_rows(ds, function, num_workers, progressbar, save_result, result_path, result_ds_args)
