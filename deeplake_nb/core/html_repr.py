"""Notebook representations (``_repr_html_``) of datasets, tensors and views: small HTML tables.

Contract: every value is HTML-escaped; no script, no style sheet, no external resource; only
metadata is read (the tensors' documents and array lengths, never a sample or the shape side
array), so a dataset of millions of rows shows at once. A sample shape is given where the
metadata fixes it (a dense tensor); elsewhere its dimensions show as ``?`` (they differ between
samples or need a read: ``tensor.shape`` reads them). At most ``MAX_ROWS`` tensors are listed.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Sequence

from ..format.columns import DenseColumn
from ..format.meta import TensorMeta

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor, TensorMetaView

MAX_ROWS = 50
_CELL = 'style="text-align:left"'


def table(title: str, facts: Sequence[tuple[str, Any]], header: Sequence[str],
          rows: Sequence[Sequence[Any]], more: int = 0) -> str:
    """``title`` in bold, then ``facts`` (label: value) on one line, then a table of ``rows``
    under ``header``; ``more``: rows left out, said in a last line. Every value is escaped."""
    head = "".join(f"<th {_CELL}>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    line = " &middot; ".join(f"{escape(label)}: <code>{escape(str(value))}</code>" for label, value in facts)
    tail = f"<div>&hellip; and {more} more</div>" if more > 0 else ""
    return (f"<div><b>{escape(title)}</b><div>{line}</div>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}</div>")


def meta_cells(meta: TensorMeta | TensorMetaView) -> list[str]:
    """htype, dtype and sample compression of a tensor's metadata (text, json and list: str)."""
    dtype = meta.dtype or ("str" if meta.base_htype in ("text", "json", "list") else "None")
    return [meta.htype or "None", str(dtype), meta.sample_compression or "None"]


def tensor_cells(tensor: Tensor) -> list[str]:
    """htype, dtype, shape and sample compression of ``tensor`` from its metadata alone."""
    htype, dtype, compression = meta_cells(tensor.meta)
    return [htype, dtype, shape_text(tensor), compression]


def shape_text(tensor: Tensor) -> str:
    """``(n, 480, 640, 3)`` for a dense tensor; ``(n, ?, ?, ?)`` when samples may differ (``?``:
    unknown without reading); a sequence's item count shows as ``?`` too; one row (``ds.x[3]``):
    the sample's shape, without ``n``."""
    meta = tensor.meta
    fixed = None
    if not meta.sequence and not meta.link and meta.layout == "dense":
        column = getattr(tensor._store.column, "impl", None)
        if isinstance(column, DenseColumn):
            fixed = tuple(int(d) for d in column.data.row_shape)
    dims = [str(d) for d in fixed] if fixed is not None else ["?"] * ((meta.ndim or 0) + bool(meta.sequence))
    lead = [] if tensor._single else [str(len(tensor))]  # one row (ds.x[3]): the sample's shape
    return "(" + ", ".join([*lead, *dims]) + ("," if len(lead) + len(dims) == 1 else "") + ")"


def dataset_html(ds: Dataset) -> str:
    """``ds._repr_html_()``: path, version, mode, rows and the tensors shown."""
    facts: list[tuple[str, Any]] = [("path", ds.path)]
    commit = ds.commit_id
    version = f"{ds.branch}@{commit[:12]}" if ds.branch and commit else (commit or ds.branch or "")
    if version:
        facts.append(("version", version))
    if ds.group_index:
        facts.append(("group", ds.group_index))
    if ds.read_only:
        facts.append(("read_only", True))
    facts.append(("rows", len(ds)))
    if ds.is_view:
        facts.append(("view", "row selection" if ds.index is not None else "column view"))
    tensors = list(ds.tensors.items())
    rows = [[name, *tensor_cells(tensor)] for name, tensor in tensors[:MAX_ROWS]]
    return table("Dataset", facts, ["tensor", "htype", "dtype", "shape", "compression"], rows,
                 more=len(tensors) - MAX_ROWS)


def tensor_html(tensor: Tensor) -> str:
    """``tensor._repr_html_()``: its key and dataset, and one row of its metadata."""
    facts: list[tuple[str, Any]] = [("key", tensor.key), ("dataset", tensor.dataset.path), ("length", len(tensor))]
    return table("Tensor", facts, ["htype", "dtype", "shape", "compression"], [tensor_cells(tensor)])
