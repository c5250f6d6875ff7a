"""Curation from the widgets: find samples like one (the TQL it takes), tag samples, save them as a view.

- ``embedding_tensors(dataset)``: the tensors a "find similar" can use: ``embedding`` tensors and
  float tensors holding one fixed-length vector per sample;
- ``similar_query(rows, position, tensor, k)``: ``SELECT * ORDER BY cosine_similarity(<tensor>,
  ARRAY[...]) DESC LIMIT k`` with the vector of row ``position`` of ``rows`` written out, the
  query engine's top-k search (``query.topk``), as text the user sees and can edit;
- ``tag(dataset, rows, positions, tag, tensor)``: adds ``tag`` to the samples at ``positions`` of
  ``rows`` in a ``tag`` tensor (Deep Lake v3's list-of-strings htype), made on ``dataset`` when
  missing (then every existing sample gets an empty list);
- ``save(view, message)``: ``save_view`` of the samples, returning the address ``dl.load`` opens.

Errors are ``WidgetRequestError`` (a bad tensor, tag or position) or the dataset's own (read-only,
uncommitted changes before ``save_view``), and their messages say what to do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import WidgetRequestError
from . import overlays as ov
from .facets import tql_name

MAX_DIMS = 4096       # the longest vector written into a query (about 60 KB of text)
MAX_SIMILAR = 1000    # k at most
MAX_TAG_CHARS = 200
DEFAULT_TAG_TENSOR = "tags"


def embedding_tensors(dataset: Any) -> list[str]:
    """Names of the tensors holding one vector per sample (see the module doc)."""
    return [name for name, tensor in dataset.tensors.items() if _holds_vectors(tensor)]


def _holds_vectors(tensor: Any) -> bool:
    if tensor.meta.sequence or ov.role(tensor) != "other":
        return False
    if tensor.base_htype == "embedding":
        return True
    shape = tuple(tensor.shape)
    fixed = len(shape) == 2 and shape[1] is not None and shape[1] >= 2
    return fixed and np.dtype(tensor.meta.dtype).kind == "f" and tensor.meta.kind == "array"


def similar_query(rows: Any, position: int, tensor: str, k: int) -> str:
    """The query that finds the ``k`` samples whose ``tensor`` is closest (cosine) to that of row
    ``position`` of ``rows`` (the sample itself comes first)."""
    if not isinstance(tensor, str) or tensor not in rows.tensors or not _holds_vectors(rows.tensors[tensor]):
        raise WidgetRequestError(f"{tensor!r} holds no vector per sample to compare; pick one of "
                                 f"{embedding_tensors(rows)}.")
    if isinstance(position, bool) or not isinstance(position, int):
        raise WidgetRequestError(f"A sample position is an integer; got {position!r}.")
    if not 0 <= position < len(rows):
        raise WidgetRequestError(f"Sample {position} is out of range for {len(rows)} samples.")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SIMILAR:
        raise WidgetRequestError(f"k (how many similar samples) must be an integer in 1..{MAX_SIMILAR}; got {k!r}.")
    vector = np.asarray(rows[tensor][position].numpy(), dtype=np.float64).reshape(-1)
    if not 0 < vector.size <= MAX_DIMS or not np.all(np.isfinite(vector)) or not np.any(vector):
        raise WidgetRequestError(f"Sample {position}'s {tensor!r} cannot be compared (it needs 1..{MAX_DIMS} finite "
                                 f"values, not all zero; it has {vector.size}); pick another sample.")
    array = ", ".join(f"{v:.7g}" for v in vector.tolist())
    return f"SELECT * ORDER BY cosine_similarity({tql_name(tensor)}, ARRAY[{array}]) DESC LIMIT {k}"


def tag(dataset: Any, rows: Any, positions: list[int], label: str, tensor: str = DEFAULT_TAG_TENSOR) -> int:
    """Add ``label`` to the tags of the samples at ``positions`` of ``rows`` (a view of ``dataset``
    or ``dataset`` itself); returns how many samples got it (those that had it are left as they
    are). A missing ``tensor`` is made on ``dataset`` with htype ``tag``."""
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_TAG_CHARS:
        raise WidgetRequestError(f"A tag is a non-empty string of at most {MAX_TAG_CHARS} characters; got {label!r}.")
    if not isinstance(tensor, str) or not tensor:
        raise WidgetRequestError(f"The tag tensor is named by a non-empty string; got {tensor!r}.")
    n = len(rows)
    bad = [p for p in positions if not 0 <= p < n]
    if bad:
        raise WidgetRequestError(f"Samples {bad[:5]} are out of range for {n} samples.")
    if tensor in rows.tensors:
        if rows.tensors[tensor].base_htype not in ("tag", "list"):
            raise WidgetRequestError(f"{tensor!r} is a {rows.tensors[tensor].htype} tensor, not a tag tensor; "
                                     "tag into another one (tensor='tags').")
    elif not positions:
        return 0
    else:
        _make_tag_tensor(dataset, tensor)
    column = rows[tensor]
    added = 0
    for p in sorted(set(positions)):
        have = [str(v) for v in np.ravel(column[p].numpy())]
        if label not in have:
            column[p] = [*have, label]
            added += 1
    return added


def _make_tag_tensor(dataset: Any, tensor: str) -> None:
    if getattr(dataset, "index", None) is not None:
        raise WidgetRequestError(f"This widget shows a view, which cannot get a new tensor; make it on the dataset "
                                 f"(ds.create_tensor({tensor!r}, htype='tag')) and tag again.")
    n = len(dataset)
    dataset.create_tensor(tensor, htype="tag")
    dataset[tensor].extend([[] for _ in range(n)])


def save(view: Any, message: str | None = None) -> str:
    """``save_view`` of ``view`` (a selection or a query result); returns the saved view's address."""
    if message is not None and not isinstance(message, str):
        raise WidgetRequestError(f"A view's message is a string; got {type(message).__name__}.")
    return view.save_view(message=message or None, verbose=False)
