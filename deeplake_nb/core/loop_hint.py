"""A hint for a slow pattern: reading a dataset or tensor one integer index at a time in a loop
(``for i in range(len(ds)): ds[i]``), where iterating it (``for row in ds``) or reading slices
fetches samples in batches. As in Deep Lake v3, ten indices in a row that advance by one fixed
step make the next one that continues them warn (``UserWarning``), unless
``deeplake_nb.constants.SHOW_ITERATION_WARNING`` is False. Only indexing from user code counts:
deeplake_nb's own loops (``for row in ds`` itself) never warn."""

from __future__ import annotations

import sys
import warnings

from .. import constants

RUN = 10  # indices in a fixed-step run before the next one warns


def note(history: list[int], item: int, key: str | None) -> None:
    """Record the integer index ``item`` of the dataset (``key`` None) or of the tensor ``key``
    in ``history`` (the indices recently used on it) and warn when it continues a fixed-step run."""
    if not constants.SHOW_ITERATION_WARNING or sys._getframe(2).f_globals.get("__name__", "").startswith("deeplake_nb"):
        return
    step = item - history[-1] if history else 0
    if len(history) == RUN and step and all(b - a == step for a, b in zip(history, history[1:])):
        what = "ds" if key is None else f"ds.{key.replace('/', '.')}"
        warnings.warn(f"Reading {what}[i] one index at a time in a loop is slow; iterate instead "
                      f"(for sample in {what}: ...), or read a slice ({what}[a:b]) at once.", UserWarning, stacklevel=3)
    history.append(item)
    del history[:-RUN]
