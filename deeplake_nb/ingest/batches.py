"""Writing an ingest's rows in large batches, with a progress bar, naming the input a refused value came from.

Each batch is a dict of tensor name -> values (one per row) and the name of each row's input (a
file, ``file:line``, a table row); the tensors it does not name get nothing. It is written with
one ``ds.extend`` (or, into tensors of unequal lengths, one extend per tensor; every value prepared
before any is stored), inside one ``with ds:`` for the whole ingest, never one append per file.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..core import internal
from ..core.dataset import Dataset
from ..core.tensor import progress
from ..errors import DeepLakeNBError, IngestionError
from .land import refused

Columns = Mapping[str, Sequence[Any] | np.ndarray]  # tensor name -> one value per row
Batch = tuple[Columns, Sequence[str]]  # (the rows' values, each row's input)

BATCH_ROWS = 256  # rows per ds.extend: large enough to amortise a call, small enough to bound memory


def progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    """A tqdm.auto bar of rows (``core.tensor.progress``: a silent one when ``enabled`` is false)."""
    return progress(total, desc, enabled, unit="row")


def write(ds: Dataset, batches: Iterable[Batch], total: int | None, desc: str, progressbar: bool) -> int:
    """Append every batch to ``ds``; returns the number of rows written. A refused value raises its
    error as an IngestionError whose message starts with the input it came from."""
    rows = 0
    with progress_bar(total, desc, progressbar) as bar, ds:
        for columns, origins in batches:
            try:
                _extend(ds, columns)
            except DeepLakeNBError as exc:
                raise named(ds, columns, origins, exc)  # noqa: B904 - its __cause__ is the refused input's error
            rows += len(origins)
            bar.update(len(origins))
    return rows


def _extend(ds: Dataset, columns: Columns) -> None:
    """One ``ds.extend`` (rows sharing hidden ids) when the tensors written have one length; else
    (a dataset given open, its tensors of several lengths) every tensor extended on its own."""
    if len({len(ds[name]) for name in columns}) <= 1:
        ds.extend(dict(columns), skip_ok=True)
        return
    internal.commit(ds, internal.prepare(ds, [(ds[name], list(values)) for name, values in columns.items()]))


def named(ds: Dataset, columns: Columns, origins: Sequence[str], exc: Exception) -> IngestionError:
    """An IngestionError (as Deep Lake v3 raises) naming the first input whose values ``ds``
    refuses (on their own, else with the inputs before it: ``land.refused``) and what was refused
    (that input's error, also its ``__cause__``)."""
    origin = "the input"
    if origins:
        rows = [(row, {name: [values[row]] for name, values in columns.items()}) for row in range(len(origins))]
        [(row, exc)] = refused(ds, rows, exc, every=False).items()
        origin = origins[row]
    error = IngestionError(f"{origin}: {type(exc).__name__}: {exc} Nothing of the ingest was kept; fix or remove "
                           "that input and run it again.")
    error.__cause__ = exc
    return error
