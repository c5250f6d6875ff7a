"""Turn user indices (int, slice, list, bool mask, ndarray) into sample positions, and index
inside samples.

A tensor index ``t[a, b, c]`` selects samples with ``a`` and indexes each selected sample with
``(b, c)`` (NumPy semantics, applied after the samples are selected): ``t[1:4, 3:7]`` is rows 3..6
of samples 1..3. Indexing again (``t[0][1:3]``, ``t[:, 0][0:2]``) first selects among the selected
samples (unless one sample is selected: then it indexes inside it), so a selection is sample
``rows`` plus a *chain* of per-sample indices applied one after the other."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DuplicateIndexError, SampleIndexError, ShapeMismatchError


def resolve(item: Any, length: int) -> tuple[np.ndarray, bool]:
    """Positions in ``[0, length)`` selected by ``item``, and whether it named a single sample."""
    if isinstance(item, (int, np.integer)):
        i = int(item)
        if not -length <= i < length:
            raise SampleIndexError(f"Index {i} is out of range for {length} samples.")
        return np.asarray([i % length], np.int64), True
    if isinstance(item, slice):
        return np.arange(length, dtype=np.int64)[item], False
    if isinstance(item, tuple) and item and all(e is Ellipsis or (isinstance(e, slice) and e == slice(None))
                                                for e in item[1:]):
        return resolve(item[0], length)  # (rows,) or (rows, :, ...): only the rows select anything
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


def pop_positions(index: Any, length: int, what: str = "tensor") -> np.ndarray:
    """The sorted positions ``pop(index)`` removes from ``length`` samples: ``index`` is None
    (the last one), an int or a list of ints in ``[0, length)``. An index out of range is a
    SampleIndexError (an IndexError, so popping from an empty ``what`` too), and so is a negative
    one, as in Deep Lake v3: what a deletion removes never depends on counting from an end (a
    dataset's tensors may differ in length). One given twice is a DuplicateIndexError (also a
    ValueError, as in v3)."""
    wanted = [length - 1] if index is None else np.atleast_1d(np.asarray(index)).tolist()
    if not length and wanted:
        raise SampleIndexError(f"Cannot pop from an empty {what}.")
    negative = [i for i in wanted if isinstance(i, int) and i < 0]
    if negative:
        raise SampleIndexError(f"pop takes indices from 0 to {length - 1} and refuses negative ones (got "
                               f"{negative[0]}); call pop() to remove the last sample, or pop({length - 1}).")
    rows = resolve(wanted, length)[0] if wanted else np.empty(0, np.int64)
    if len(np.unique(rows)) != len(rows):
        raise DuplicateIndexError(f"pop got the same index more than once ({wanted}); give each index once.")
    return np.sort(rows)


def compose(rows: np.ndarray | None, item: Any, length: int) -> tuple[np.ndarray, bool]:
    """Apply ``item`` on top of an existing selection ``rows`` (None = all ``length`` samples)."""
    if rows is None:
        return resolve(item, length)
    local, single = resolve(item, len(rows))
    return rows[local], single


Chain = tuple  # of per-sample index tuples, applied one after the other


def split(item: Any) -> tuple[Any, tuple]:
    """``item`` as (the part selecting samples, the part indexing inside each sample). A leading
    Ellipsis selects every sample and stays in the inner part (``t[..., :2]``)."""
    if isinstance(item, tuple):
        if not item:
            return slice(None), ()
        if item[0] is Ellipsis:
            return slice(None), item
        return item[0], item[1:]
    if item is Ellipsis:
        return slice(None), ()
    return item, ()


def narrow(rows: np.ndarray | None, single: bool, chain: Chain, item: Any,
           length: int) -> tuple[np.ndarray, bool, Chain]:
    """The selection ``(rows, single, chain)`` indexed again with ``item`` (rows of ``length``)."""
    if single:
        return rows, True, chain + (item if isinstance(item, tuple) else (item,),)
    head, rest = split(item)
    rows, single = compose(rows, head, length)
    return rows, single, chain + ((rest,) if rest else ())


def apply(value: np.ndarray, chain: Chain) -> np.ndarray:
    """``value[chain[0]][chain[1]]...``; SampleIndexError when an index does not fit the sample."""
    try:
        for entry in chain:
            value = value[entry]
    except IndexError as exc:
        raise SampleIndexError(f"Index {describe(chain)} does not fit a sample of shape "
                               f"{np.shape(value)}: {exc}.") from None
    return value


def shape_after(shape: tuple[int, ...], chain: Chain) -> tuple[int, ...]:
    """The shape of a sample of ``shape`` indexed by ``chain``, computed without its data."""
    if not chain:
        return tuple(shape)
    dummy = np.broadcast_to(np.zeros((), np.uint8), tuple(int(x) for x in shape))
    return tuple(apply(dummy, chain).shape)


def assign(sample: np.ndarray, chain: Chain, value: Any) -> np.ndarray:
    """A copy of ``sample`` whose elements selected by ``chain`` are set to ``value`` (broadcast
    like NumPy's ``sample[...] = value``, for any chain: basic, fancy or mask indices)."""
    out = np.array(sample, copy=True)
    where = apply(np.arange(out.size).reshape(out.shape), chain)
    flat = out.reshape(-1)
    try:
        flat[where] = np.broadcast_to(value, np.shape(where))
    except ValueError as exc:
        raise ShapeMismatchError(f"Cannot assign a value of shape {np.shape(value)} to the part "
                                 f"{describe(chain)} of shape {np.shape(where)} of a sample ({exc}).") from None
    return out


def select_items(items: list[Any], chain: Chain) -> tuple[list[Any], bool]:
    """Index a sample that is a list of arrays (a sequence's items, a polygon sample's polygons)
    with ``chain``: the first index of each entry selects items, the rest indexes inside each.
    Returns the selected (indexed) items and whether one item was named (then it is the only one)."""
    positions, single, inner = None, False, ()
    for entry in chain:
        positions, single, inner = narrow(positions, single, inner, entry, len(items))
    picked = list(items) if positions is None else [items[p] for p in positions.tolist()]
    if inner:
        picked = [apply(np.asarray(x), inner) for x in picked]
    return picked, single


def assign_items(items: list[Any], chain: Chain, value: Any, cast: Any) -> list[Any]:
    """A copy of the list of arrays ``items`` with the part ``chain`` selects set to ``value``. A
    whole item named by one index takes ``value`` as it is (any value the tensor takes); parts of
    items take ``cast(value_part, item_dtype)``, broadcast like NumPy."""
    positions, single, inner = None, False, ()
    for entry in chain:
        positions, single, inner = narrow(positions, single, inner, entry, len(items))
    out = list(items)
    picked = range(len(items)) if positions is None else positions.tolist()
    parts = [value] if single else split_value(value, [np.shape(apply(np.asarray(out[p]), inner)) for p in picked])
    for p, part in zip(picked, parts):
        out[p] = part if not inner else assign(np.asarray(out[p]), inner, cast(part, np.asarray(out[p]).dtype))
    return out


def split_value(value: Any, shapes: list[tuple[int, ...]]) -> list[Any]:
    """One value per target of the given shapes: ``value`` broadcast over all of them when they
    share a shape (NumPy semantics over the stacked targets), else ``value`` must hold one per target."""
    if shapes and all(s == shapes[0] for s in shapes):
        try:
            return list(np.broadcast_to(np.asarray(value), (len(shapes), *shapes[0])))
        except ValueError:
            pass
    values = list(value) if hasattr(value, "__len__") and not isinstance(value, (str, bytes, dict)) else [value]
    if len(values) != len(shapes):
        raise ShapeMismatchError(f"Got {len(values)} values for {len(shapes)} selected parts of samples; pass one "
                                 "per part, or one value that broadcasts to all of them.")
    return values


def is_basic(chain: Chain) -> bool:
    """True when the chain uses only ints, slices, Ellipsis and None: indexing a stack of samples
    with ``(slice(None), *entry)`` then gives the same as indexing each sample."""
    return all(e is Ellipsis or e is None or isinstance(e, (int, np.integer, slice))
               for entry in chain for e in entry)


def same(a: Chain, b: Chain) -> bool:
    """Whether two chains are the same index (arrays compared by value)."""
    return len(a) == len(b) and all(_key(x) == _key(y) for x, y in zip(a, b))


def _key(entry: Any) -> Any:
    if isinstance(entry, tuple):
        return tuple(_key(e) for e in entry)
    if isinstance(entry, (list, np.ndarray)):
        return ("array", np.asarray(entry).tolist())
    return entry


def describe(chain: Chain) -> str:
    """``[1:3, 0][2]`` for a chain, as the user wrote it."""
    def one(e: Any) -> str:
        if isinstance(e, slice):
            return ":".join("" if x is None else str(x) for x in (e.start, e.stop)) + (
                "" if e.step is None else f":{e.step}")
        return "..." if e is Ellipsis else repr(e)
    return "".join("[" + ", ".join(one(e) for e in entry) + "]" for entry in chain)


def _rows_entry(rows: np.ndarray, single: bool) -> Any:
    """The selection ``rows`` as an index a user would write: an int, a slice for a run of
    consecutive rows, else a tuple of the rows."""
    if single:
        return int(rows[0])
    if len(rows) == 0:
        return slice(0, 0, None)
    if np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return slice(int(rows[0]), int(rows[0]) + len(rows), None)
    return tuple(rows.tolist())


def v3_text(rows: np.ndarray | None, single: bool, chain: Chain = ()) -> str:
    """Deep Lake v3's text of a selection: ``Index([slice(1, 4, None), 2])`` for rows 1..3 indexed
    inside with 2; ``""`` for the whole of a tensor or dataset. Further chained inner indices
    follow as ``describe`` writes them."""
    if rows is None and not chain:
        return ""
    entries = [slice(None) if rows is None else _rows_entry(rows, single), *(chain[0] if chain else ())]
    return f"Index({entries!r})" + describe(chain[1:])
