"""Landing a transform's outputs in ``ds_out``: all of them or none.

The outputs of every input, in input order, go through the dataset's write protocol: every value
of every tensor is prepared (validated, encoded) first, and only then committed, inside one
``with ds_out:`` block, so a refused value leaves the dataset as it was. The rows one input
produced share hidden ids across the tensors it wrote, as a ``ds.append`` row does.

When a value is refused, ``refused`` finds which input produced it: each input's values are
prepared alone, and when all pass alone (a clash only in combination, such as a dtype fixed by an
earlier input) the shortest refused prefix of the inputs names it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..core import internal
from ..core.dataset import Dataset, new_ids
from ..core.tensor import Prepared
from .worker import Output

Outputs = Sequence[tuple[int, Output]]  # (input index, what it produced), in input order


class Refused(Exception):
    """Values produced by the inputs ``errors`` (index -> the error) were refused by ``ds_out``."""

    def __init__(self, errors: dict[int, Exception]) -> None:
        super().__init__(errors)
        self.errors = errors


def columns(outputs: Outputs) -> dict[str, list[Any]]:
    """Tensor name -> every value written to it, in input order."""
    out: dict[str, list[Any]] = {}
    for _, output in outputs:
        for name, values in output.items():
            out.setdefault(name, []).extend(values)
    return out


def prepare(target: Dataset, outputs: Outputs) -> dict[str, Prepared]:
    """Validate and encode every value, by tensor name; raises what the first refused value raises."""
    values = columns(outputs)
    prepared = internal.prepare(target, [(target[name], column) for name, column in values.items()])
    return dict(zip(values, prepared))


def refused(target: Dataset, outputs: Outputs, error: Exception, every: bool) -> dict[int, Exception]:
    """The inputs whose values ``target`` refuses (``error``: what preparing all of them raised):
    the first one, or with ``every`` all that are refused on their own (at least one)."""
    found: dict[int, Exception] = {}
    for index, output in outputs:
        try:
            prepare(target, [(index, output)])
        except Exception as exc:
            found[index] = exc
            if not every:
                return found
    if found:
        return found
    passes, fails = 0, len(outputs)  # outputs[:passes] prepare; outputs[:fails] is refused with `error`
    while fails - passes > 1:
        middle = (passes + fails) // 2
        try:
            prepare(target, outputs[:middle])
            passes = middle
        except Exception as exc:
            fails, error = middle, exc
    return {outputs[fails - 1][0]: error}


def prepare_landing(target: Dataset, outputs: Outputs,
                    ignore_errors: bool) -> tuple[dict[str, Prepared], Outputs, dict[int, Exception]]:
    """Prepare ``outputs``; with ``ignore_errors`` leave out the inputs whose values are refused.
    Returns (prepared, the outputs they hold, refused inputs); raises ``Refused`` otherwise."""
    skipped: dict[int, Exception] = {}
    outputs = list(outputs)
    while True:
        try:
            return prepare(target, outputs), outputs, skipped
        except Exception as exc:
            bad = refused(target, outputs, exc, every=ignore_errors)
            if not ignore_errors:
                raise Refused(bad) from None
            skipped.update(bad)
            outputs = [(index, output) for index, output in outputs if index not in bad]


def row_ids(outputs: Outputs) -> dict[str, np.ndarray]:
    """Hidden ids per tensor: the rows of one input share ids across the tensors it wrote."""
    ids: dict[str, list[np.ndarray]] = {}
    for _, output in outputs:
        rows = new_ids(len(next(iter(output.values()))) if output else 0)
        for name in output:
            ids.setdefault(name, []).append(rows)
    return {name: np.concatenate(parts) for name, parts in ids.items()}


def land(target: Dataset, outputs: Outputs, *, replace: bool = False,
         ignore_errors: bool = False) -> dict[int, Exception]:
    """Write ``outputs`` to ``target`` (appending, or with ``replace`` replacing the samples of
    every tensor written); all or nothing. Returns the inputs left out (only with
    ``ignore_errors``; ``Refused`` otherwise)."""
    internal.check_writable(target)
    prepared, outputs, skipped = prepare_landing(target, outputs, ignore_errors)
    if not prepared:
        return skipped
    ids = row_ids(outputs)
    with target:
        for name, p in prepared.items():
            if replace:
                p.tensor.clear()
            internal.commit(target, [p], ids[name])
    return skipped
