"""The text of ``ds.summary()`` / ``t.summary()``: Deep Lake v3's table of tensors (htype, shape
interval, dtype, sample compression), character for character, so output written for v3 reads
the same.

Each column is as wide as its widest value (at least 7) plus 2, every cell centred in it (an odd
spare space goes to the right); header cells are not measured, so "compression" may overflow its
column. Every row starts with a newline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..errors import ViewTooLargeError

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor

VIEW_SUMMARY_SAFE_LIMIT = 10000  # rows of a view above which summary() needs force=True (as v3)
_MIN_WIDTH = 7
_DIVIDER = "-------"


def _cells(tensor: Tensor) -> list[str]:
    """htype, shape interval, dtype name and sample compression of a tensor, as v3 prints them."""
    dtype = tensor.dtype
    if dtype is not None:
        dtype_name = dtype.name
    else:  # text, json and list samples are strings to v3
        dtype_name = "str" if tensor.base_htype in ("text", "json", "list") else "None"
    return [tensor.htype or "None", str(tensor.shape_interval), dtype_name, tensor.sample_compression or "None"]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([_MIN_WIDTH, *(len(r[i]) for r in rows)]) + 2 for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for cell, width in zip(cells, widths):
            left = max(0, (width - len(cell)) // 2)
            out.append(" " * left + cell + " " * max(0, width - len(cell) - left))
        return "\n" + "".join(out)

    return "".join(line(r) for r in [header, [_DIVIDER] * len(header), *rows])


def dataset_table(ds: Dataset) -> str:
    """The table of every visible tensor of ``ds`` (a dataset, group or view), one row each."""
    rows = [[name, *_cells(tensor)] for name, tensor in ds.tensors.items()]
    return _table(["tensor", "htype", "shape", "dtype", "compression"], rows)


def tensor_table(tensor: Tensor) -> str:
    """The one-row table of a tensor (or a selection of it)."""
    return _table(["htype", "shape", "dtype", "compression"], [_cells(tensor)])


def check_view_size(ds: Dataset, force: bool) -> None:
    """ViewTooLargeError (a ValueError) for the summary of a view of VIEW_SUMMARY_SAFE_LIMIT rows
    or more without ``force``: it reads the shape of every selected sample."""
    if ds.index is not None and len(ds) >= VIEW_SUMMARY_SAFE_LIMIT and not force:
        raise ViewTooLargeError(f"This view has {len(ds)} rows; summarising {VIEW_SUMMARY_SAFE_LIMIT} or more "
                                "rows reads every sample's shape and may take long. Pass force=True to "
                                "summarise it anyway.")
