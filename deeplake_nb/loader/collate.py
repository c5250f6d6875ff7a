"""Collate the samples of one batch while they are being produced, without a second copy.

A sample is a dict ``{name: value}`` (or a tuple, or one value, when a whole-sample transform
returns that). Per key, the first numeric array (or number) fixes a shape and dtype; the batch
buffer ``(batch, *shape)`` is allocated once - in shared memory inside a DataLoader worker, so
the batch crosses to the main process without pickling its bytes - and every thread writes its
samples straight into their slots. A key whose samples differ in shape becomes a list (ragged);
str, bytes, PIL images and other objects are always lists. A text or json sample (a (1,) str or
object array, as ``Tensor.numpy()`` gives it) is batched as its str or object, other str and
object arrays (list, tag) as lists (``plain_value``; Deep Lake v3 batches text as str).

A polygon tensor's sample (a list of (points, dims) arrays) batches as a list of samples, except
in a loader of batch size 1 (``positionwise`` keys), where it comes as Deep Lake v3 gives it, torch's
``default_collate`` of one sample: a list with one (1, points, dims) array per polygon.

A batch of dict samples is a ``TensorDict``: a dict whose iteration yields its values (Deep Lake
v3's batches), so ``images, labels = batch`` and ``for images, labels in loader`` unpack it.

Output "torch": tensors and lists of tensors; unsigned types torch cannot compute with are
widened (uint16 -> int32, uint32/uint64 -> int64). Output "numpy": arrays and lists of arrays.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import LoaderError

_WIDEN = {np.dtype("uint16"): np.dtype("int32"), np.dtype("uint32"): np.dtype("int64"),
          np.dtype("uint64"): np.dtype("int64")}


def _numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc"


def as_array(value: Any) -> np.ndarray | None:
    """``value`` as a numeric ndarray (sharing memory where possible), or None if it is not numeric."""
    if isinstance(value, np.ndarray):
        return value if _numeric(value) else None
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return np.asarray(value)
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        if value.device.type != "cpu" or value.requires_grad:
            value = value.detach().cpu()
        return value.numpy()
    return None


class TensorDict(dict):
    """A batch by tensor name whose iteration yields the values, in tensor order, as Deep Lake v3's
    batches do: ``images, labels = batch``. Everything else is a dict's: ``keys()``, ``items()``,
    ``batch["images"]``, ``"images" in batch``, ``len``, ``dict(batch)``, pickling, copying."""

    __slots__ = ()

    def __iter__(self) -> Any:
        return iter(self.values())

    def __repr__(self) -> str:
        return f"TensorDict({dict.__repr__(self)})"


def plain_value(value: Any, single: bool | None = None) -> Any:
    """A str or object array (a text, json, list or tag sample in ``Tensor.numpy()``'s form) as a
    batch holds it: for a text or json tensor (``single``) its one element, the str or the object;
    for a list or tag tensor (``single=False``) a list of its items; for a key that names no tensor
    (None) one str as itself (Deep Lake v3's rule for text), else a list. Other values unchanged."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "USO":
        return value
    one = value.size == 1 and (single or (single is None and value.dtype.kind in "US"))
    if not one:
        return value.tolist()
    item = value.reshape(-1)[0]
    return item.item() if isinstance(item, np.generic) else item


def plain_sample(sample: Any, singles: Mapping[str, bool]) -> Any:
    """A dict sample with ``plain_value`` applied to each value (``singles``: tensor -> single)."""
    if not isinstance(sample, dict):
        return sample
    return {key: plain_value(value, singles.get(key)) for key, value in sample.items()}


class _Column:
    __slots__ = ("array", "tensor", "items", "written")

    def __init__(self, size: int) -> None:
        self.array: np.ndarray | None = None
        self.tensor: Any = None
        self.items: list[Any] | None = None
        self.written = np.zeros(size, bool)

    def to_items(self) -> None:
        """Switch to list mode, keeping what was already written."""
        self.items = [self.array[i].copy() if w else None for i, w in enumerate(self.written)] \
            if self.array is not None else [None] * len(self.written)
        self.array = self.tensor = None


class BatchBuffer:
    """Slots for ``size`` samples; ``put`` may be called from many threads, ``finish`` once."""

    def __init__(self, size: int, output: str = "torch", shared: bool = False,
                 allocator: Callable[[tuple[int, ...], np.dtype], Any] | None = None,
                 singles: Mapping[Any, bool] | None = None, positionwise: frozenset[Any] = frozenset()) -> None:
        """``allocator(shape, dtype)`` may supply the tensor for a key (a slot of a ``SlotRing``);
        when it returns None, memory is allocated as usual. ``singles``: ``plain_value``'s
        ``single`` for the keys of text, json, list and tag tensors. ``positionwise``: keys whose
        list-of-arrays samples come as one array per list position, with the batch dimension first
        (only for batches of one sample, where every sample's list lines up)."""
        self.size, self.output, self.shared, self.allocator = size, output, shared, allocator
        self.singles = singles or {}
        self.positionwise = positionwise
        self.slot_keys: list[Any] = []
        """Keys of the last ``finish`` whose tensors came from ``allocator``."""
        self._lock = threading.Lock()
        self._columns: dict[Any, _Column] = {}
        self._from_allocator: set[Any] = set()
        self._kind: str | None = None  # "dict", "tuple" or "value"
        self._order: list[Any] = []

    # -- filling ----------------------------------------------------------------------------------
    def put(self, slot: int, sample: Any) -> None:
        if isinstance(sample, dict):
            kind, pairs = "dict", sample.items()
        elif isinstance(sample, tuple):
            kind, pairs = "tuple", enumerate(sample)
        else:
            kind, pairs = "value", [(None, sample)]
        with self._lock:
            if self._kind is None:
                self._kind = kind
            elif self._kind != kind:
                raise LoaderError(f"Samples of one batch have different structures ({self._kind} and {kind}); "
                                  "make the transform always return the same kind of value.")
        for key, value in pairs:
            self._put_value(slot, key, value)

    def put_columns(self, slots: Sequence[int], columns: Mapping[Any, Sequence[Any]]) -> None:
        """``put(slots[j], {key: columns[key][j] ...})`` for every ``j``, with the same result, but
        per key one check and one write for all the samples (one ``np.stack`` into the batch
        buffer when they are arrays of one shape and dtype)."""
        with self._lock:
            if self._kind is None:
                self._kind = "dict"
            elif self._kind != "dict":
                raise LoaderError(f"Samples of one batch have different structures ({self._kind} and dict); "
                                  "make the transform always return the same kind of value.")
        for key, values in columns.items():
            self._put_many(key, slots, values)

    def _put_many(self, key: Any, slots: Sequence[int], values: Sequence[Any]) -> None:
        single = self.singles.get(key)
        values = [plain_value(v, single) for v in values]
        arrays = [as_array(v) for v in values]
        if not arrays:
            return
        first = arrays[0]
        if first is None and not any(a is not None for a in arrays):  # no numbers: a list
            with self._lock:
                column = self._column(key)
                if column.items is None:
                    column.to_items()
                for slot, value in zip(slots, values):
                    column.items[slot] = value
            return
        if first is None or not all(a is not None and a.shape == first.shape and a.dtype == first.dtype
                                    for a in arrays):
            for slot, value in zip(slots, values):  # mixed: sample by sample
                self._put_value(slot, key, value)
            return
        with self._lock:
            column = self._column(key)
            target = None
            if column.items is None:
                if column.array is None:
                    self._allocate(key, column, first)
                if column.array.shape[1:] == first.shape and np.can_cast(first.dtype, column.array.dtype, "same_kind"):
                    target = column.array
                else:
                    column.to_items()
            if target is None:
                for slot, arr in zip(slots, arrays):
                    column.items[slot] = arr
                return
        index = np.asarray(slots, np.intp)
        if isinstance(slots, range) and slots.step == 1:
            target[slots.start:slots.stop] = np.stack(arrays)  # outside the lock: threads copy in parallel
        else:
            target[index] = np.stack(arrays)
        with self._lock:
            if column.items is not None:  # another thread switched this key to a list meanwhile
                for slot, arr in zip(slots, arrays):
                    column.items[slot] = arr.copy()
            else:
                column.written[index] = True

    def _column(self, key: Any) -> _Column:
        column = self._columns.get(key)
        if column is None:
            column = self._columns[key] = _Column(self.size)
            self._order.append(key)
        return column

    def _put_value(self, slot: int, key: Any, value: Any) -> None:
        value = plain_value(value, self.singles.get(key))
        arr = as_array(value)
        with self._lock:
            column = self._column(key)
            if arr is None or column.items is not None:
                if column.items is None:
                    column.to_items()
                column.items[slot] = value if arr is None else arr
                return
            if column.array is None:
                self._allocate(key, column, arr)
            elif column.array.shape[1:] != arr.shape or not np.can_cast(arr.dtype, column.array.dtype, "same_kind"):
                column.to_items()
                column.items[slot] = arr
                return
            target = column.array
        target[slot] = arr  # outside the lock: threads copy in parallel
        with self._lock:
            if column.items is not None:  # another thread switched this key to a list meanwhile
                column.items[slot] = arr.copy()
            else:
                column.written[slot] = True

    def _allocate(self, key: Any, column: _Column, arr: np.ndarray) -> None:
        shape = (self.size, *arr.shape)
        dtype = _WIDEN.get(arr.dtype, arr.dtype) if self.output == "torch" else arr.dtype
        if self.output == "torch":
            column.tensor = self.allocator(shape, dtype) if self.allocator is not None else None
            if column.tensor is not None:
                self._from_allocator.add(key)
            else:
                column.tensor = _torch_empty(shape, dtype, self.shared)
            column.array = column.tensor.numpy()
        else:
            column.array = aligned_empty(shape, dtype)

    # -- result -----------------------------------------------------------------------------------
    def finish(self, keep: np.ndarray | None = None) -> Any:
        """The collated batch; rows with ``keep[i] == False`` (skipped samples) are left out."""
        out = {key: self._finish_column(self._columns[key], keep, key in self.positionwise) for key in self._order}
        self.slot_keys = [key for key in self._order if key in self._from_allocator
                          and out[key] is self._columns[key].tensor]
        if self._kind == "tuple":
            return tuple(out[i] for i in range(len(out)))
        if self._kind == "value":
            return out[None]
        return TensorDict(out)

    def _finish_column(self, column: _Column, keep: np.ndarray | None, positionwise: bool = False) -> Any:
        if column.items is None and column.array is not None:
            if keep is None or keep.all():
                return column.tensor if self.output == "torch" else column.array
            sub = column.array[keep]
            return _to_torch(sub) if self.output == "torch" else sub
        items = column.items or []
        chosen = [v for i, v in enumerate(items) if keep is None or keep[i]]
        if positionwise and len(chosen) == 1 and isinstance(chosen[0], list) and all(map(_numeric, chosen[0])):
            chosen = [v[np.newaxis] for v in chosen[0]]
        if self.output == "torch":
            return [_to_torch(v) if _numeric(v) else v for v in chosen]
        return chosen


ALIGNMENT = 64
"""Bytes to which NumPy batch buffers are aligned: XLA (``ds.jax()``) adopts a host buffer by
DLPack without copying only when it is 64-byte aligned; NumPy's own allocations are 16."""


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose data starts on an ``ALIGNMENT``-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    skip = -raw.ctypes.data % ALIGNMENT
    return raw[skip:skip + nbytes].view(dtype).reshape(shape)


def _torch_empty(shape: tuple[int, ...], dtype: np.dtype, shared: bool) -> Any:
    import torch

    if not shared:  # NumPy asks for transparent huge pages on big buffers: far fewer page faults
        return torch.from_numpy(np.empty(shape, dtype))
    tdtype = torch.from_numpy(np.empty(0, dtype)).dtype
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    storage = torch.UntypedStorage._new_shared(max(nbytes, 1))
    return torch.empty(0, dtype=tdtype).set_(storage, 0, shape)


def _to_torch(arr: np.ndarray) -> Any:
    import torch

    target = _WIDEN.get(arr.dtype)
    if target is not None:
        arr = arr.astype(target)
    elif not arr.flags.writeable:
        arr = arr.copy()
    return torch.from_numpy(arr)


def pin(batch: Any) -> Any:
    """Pin every tensor of a (nested) batch; a no-op without an accelerator."""
    import torch

    if not torch.cuda.is_available():
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.pin_memory()
    if isinstance(batch, dict):
        return type(batch)((k, pin(v)) for k, v in batch.items())
    if isinstance(batch, (list, tuple)):
        return type(batch)(pin(v) for v in batch)
    return batch
