"""Turn user indices (int, slice, list, bool mask, ndarray) into sample positions."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SampleIndexError


def resolve(item: Any, length: int) -> tuple[np.ndarray, bool]:
    """Positions in ``[0, length)`` selected by ``item``, and whether it named a single sample."""
    if isinstance(item, (int, np.integer)):
        i = int(item)
        if not -length <= i < length:
            raise SampleIndexError(f"Index {i} is out of range for {length} samples.")
        return np.asarray([i % length], np.int64), True
    if isinstance(item, slice):
        return np.arange(length, dtype=np.int64)[item], False
    if isinstance(item, tuple) and len(item) == 1:
        return resolve(item[0], length)
    arr = np.asarray(item)
    if arr.dtype == bool:
        if arr.shape != (length,):
            raise SampleIndexError(f"A boolean mask must have length {length}; got shape {arr.shape}.")
        return np.flatnonzero(arr).astype(np.int64), False
    if arr.ndim == 1 and (arr.size == 0 or arr.dtype.kind in "iu"):
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < -length or arr.max() >= length):
            raise SampleIndexError(f"Some indices are out of range for {length} samples.")
        return np.where(arr < 0, arr + length, arr), False
    raise SampleIndexError(f"Cannot index samples with {item!r}; use an int, a slice, a list of ints or a bool mask.")


def compose(rows: np.ndarray | None, item: Any, length: int) -> tuple[np.ndarray, bool]:
    """Apply ``item`` on top of an existing selection ``rows`` (None = all ``length`` samples)."""
    if rows is None:
        return resolve(item, length)
    local, single = resolve(item, len(rows))
    return rows[local], single
