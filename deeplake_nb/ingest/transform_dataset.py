"""``TransformDataset``: what a ``@dl.compute`` function writes to (its ``sample_out``).

An in-memory buffer of the output dataset's tensors: tensor name (relative to ``ds_out``, groups
as ``"a/b"``) -> list of values, filled with Deep Lake v3's calls (``out.x.append(v)``,
``out["g"].y.extend(vs)``, ``out.append({"x": ..., "y": ...})``). Values are kept as given;
they are validated and encoded only when the transform lands them in ``ds_out`` (``land``).
Indexing a buffer by position gives one row of it (``out[0].x.numpy()``), which is how the next
function of a pipeline reads what the previous one wrote.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..core.tensor import Tensor
from ..errors import SampleError, TensorNotFoundError, UnsupportedFeatureError
from ..format.sample import Sample


class TransformDataset:
    """Output buffer of one transform call: ``tensors`` are the names it accepts.

    ``TransformDataset(names)`` is the whole buffer; attribute or item access by a group name
    gives a view of that group, by an int a one-row view (read-only)."""

    def __init__(self, tensors: Sequence[str], *, _data: dict[str, list[Any]] | None = None,
                 _prefix: str = "", _row: int | None = None) -> None:
        self._data = {name: [] for name in tensors} if _data is None else _data
        self._prefix = _prefix
        self._row = _row

    # -- names ------------------------------------------------------------------------------------
    @property
    def tensors(self) -> dict[str, TransformTensor]:
        """The tensors of this buffer or group, by name relative to it."""
        cut = len(self._prefix)
        return {name[cut:]: self._tensor(name) for name in self._data if name.startswith(self._prefix)}

    def _tensor(self, full: str) -> TransformTensor:
        if self._row is None:
            return TransformTensor(self._data, full)
        return TransformTensor(self._data, full, [self._row], single=True)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            full = self._prefix + item.strip("/")
            if full in self._data:
                return self._tensor(full)
            if any(name.startswith(full + "/") for name in self._data):
                return TransformDataset((), _data=self._data, _prefix=full + "/", _row=self._row)
            raise TensorNotFoundError(f"The output dataset has no tensor or group {full!r}; its tensors: "
                                      f"{sorted(self._data)}. Create it in ds_out before running the transform.")
        if isinstance(item, (int, np.integer)) and self._row is None:
            n = len(self)
            if not -n <= item < n:
                raise IndexError(f"Row {item} is out of range for {n} rows written so far.")
            return TransformDataset((), _data=self._data, _prefix=self._prefix, _row=int(item) % n)
        raise TypeError(f"Index a transform's output by tensor name or row number, not {item!r}.")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __len__(self) -> int:
        """Rows written so far: the length of the longest tensor (1 for a row view)."""
        if self._row is not None:
            return 1
        return max((len(values) for name, values in self._data.items() if name.startswith(self._prefix)),
                   default=0)

    def __iter__(self) -> Iterator[TransformDataset]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        where = f", row={self._row}" if self._row is not None else ""
        return f"TransformDataset(tensors={list(self.tensors)}{where})"

    # -- writing ----------------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._row is not None:
            raise SampleError("A row of a transform's output is read-only; write to the sample_out argument.")

    def append(self, sample: dict[str, Any], skip_ok: bool = False, append_empty: bool = False) -> None:
        """Append one row: a dict of tensor name -> value. The named tensors must have the same
        length before; the others get nothing, or an empty sample (None) with ``append_empty``."""
        self.extend(_as_columns(sample, "append"), skip_ok=skip_ok, append_empty=append_empty)

    def extend(self, samples: Mapping[str, Sequence[Any]], skip_ok: bool = False, append_empty: bool = False) -> None:
        """Append rows given as a dict of tensor name -> equal-length sequences of values (see
        ``append``). Every name is checked before anything is appended."""
        self._check_writable()
        if skip_ok:
            raise SampleError("skip_ok is not an option of append/extend inside a transform; pass skip_ok=True "
                              "to .eval(...) to let the transform leave tensors unwritten.")
        if not isinstance(samples, dict):
            raise SampleError(f"extend takes a dict of tensor name -> list of values; got {type(samples).__name__}.")
        columns = {name: _value_list(values) for name, values in samples.items()}
        tensors = {name: self[name] for name in columns}
        for name, tensor in tensors.items():
            if not isinstance(tensor, TransformTensor):
                raise SampleError(f"{name!r} is a group of the output dataset; name one of its tensors.")
        if len({len(t) for t in tensors.values()}) > 1:
            raise SampleError("The tensors of a row must have the same length before it is appended; lengths now: "
                              f"{ {name: len(t) for name, t in tensors.items()} }.")
        sizes = {name: len(values) for name, values in columns.items()}
        if len(set(sizes.values())) > 1:
            raise SampleError(f"Every tensor needs the same number of values; got {sizes}.")
        n = next(iter(sizes.values()), 0)
        for name, tensor in tensors.items():
            tensor.extend(columns[name])
        if append_empty:
            for name in self.tensors:
                if name not in columns:
                    self[name].extend([None] * n)

    def update(self, sample: dict[str, Any]) -> None:
        raise UnsupportedFeatureError("update is not available inside a transform: a transform appends rows. "
                                      "Update the dataset after the transform, or write the new values as rows.")

    # -- what the transform lands -----------------------------------------------------------------
    def written(self) -> dict[str, list[Any]]:
        """The values of every tensor that got any, by name relative to ``ds_out``."""
        return {name: values for name, values in self._data.items() if values}


class TransformTensor:
    """One tensor of a transform's output buffer, or some of its rows (``out.x[0]``)."""

    def __init__(self, data: dict[str, list[Any]], name: str, rows: list[int] | None = None,
                 single: bool = False) -> None:
        self._data = data
        self.name = name
        self._rows = rows
        self._single = single

    @property
    def _values(self) -> list[Any]:
        return self._data[self.name]

    def __len__(self) -> int:
        return len(self._values) if self._rows is None else len(self._rows)

    def _positions(self) -> list[int]:
        return list(range(len(self._values))) if self._rows is None else self._rows

    def __getitem__(self, item: Any) -> TransformTensor:
        if self._single:
            raise TypeError("This is one value; read it with .numpy() and index the array.")
        positions = self._positions()
        if isinstance(item, (int, np.integer)):
            return TransformTensor(self._data, self.name, [positions[item]], single=True)
        if isinstance(item, slice):
            return TransformTensor(self._data, self.name, positions[item])
        raise TypeError(f"Index a transform's output tensor by int or slice, not {item!r}.")

    def __repr__(self) -> str:
        return f"TransformTensor({self.name!r}, rows={len(self)})"

    # -- writing ----------------------------------------------------------------------------------
    def append(self, value: Any) -> None:
        """Append one value (None: an empty sample). A one-row view of a transform output or a
        one-sample Tensor of a dataset (``sample_in.x``) stands for its value."""
        self.extend([value])

    def extend(self, values: Sequence[Any] | np.ndarray) -> None:
        """Append every value of ``values`` (an array: each entry along its first axis)."""
        if self._rows is not None:
            raise SampleError(f"Append to the whole output tensor ({self.name!r}), not to rows of it.")
        self._values.extend(_unwrap(v) for v in _value_list(values))

    # -- reading (what the next function of a pipeline sees) -------------------------------------
    def _selected(self) -> list[Any]:
        values = self._values
        return [values[i] for i in self._positions()]

    def numpy(self, aslist: bool = False) -> Any:
        """The value(s) as arrays: one array for one row; for several, one stacked array when
        their shapes agree (a list otherwise, or with ``aslist=True``)."""
        arrays = [_as_array(v) for v in self._selected()]
        if self._single:
            return arrays[0]
        if aslist or len({getattr(a, "shape", None) for a in arrays}) > 1:
            return arrays
        return np.stack(arrays) if arrays else np.zeros((0,))

    def data(self) -> dict[str, Any]:
        values = [_as_python(v) for v in self._selected()]
        return {"value": values[0] if self._single else values}

    def text(self) -> Any:
        return self.data()["value"]

    def dict(self) -> Any:
        return self.data()["value"]

    def list(self) -> Any:
        return self.data()["value"]

    @property
    def shape(self) -> tuple[int, ...]:
        if self._single:
            return tuple(np.shape(self.numpy()))
        shapes = {np.shape(a) for a in self.numpy(aslist=True)}
        return (len(self), *shapes.pop()) if len(shapes) == 1 else (len(self),)


def _as_columns(sample: Any, what: str) -> dict[str, list[Any]]:
    if not isinstance(sample, dict):
        raise SampleError(f"{what} takes a dict of tensor name -> value; got {type(sample).__name__}. To write one "
                          "tensor, call sample_out.<tensor>.append(value).")
    return {name: [value] for name, value in sample.items()}


def _value_list(values: Any) -> list[Any]:
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
        raise SampleError(f"extend takes a sequence of values, not {type(values).__name__}; use append for one value.")
    return list(values)


def _unwrap(value: Any) -> Any:
    """The value a row view of a transform output stands for; anything else as is."""
    if isinstance(value, TransformTensor):
        if not value._single:
            raise SampleError(f"Append one value of {value.name!r} at a time (index it: out.x[0]).")
        return value._selected()[0]
    return value


def _as_array(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Sample):
        return value.array
    if isinstance(value, Tensor):
        return value.numpy()
    return np.asarray(value)


def _as_python(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.data()["value"]
    if isinstance(value, Sample):
        return value.array
    return value
