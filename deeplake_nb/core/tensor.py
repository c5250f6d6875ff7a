"""``Tensor``: one named column of samples, or a selection of its samples (``ds.images[0:8]``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import DynamicShapeError, SampleError, ShapeMismatchError, UnsupportedCompressionError
from ..format import htypes
from ..format.meta import TensorMeta
from ..format.sample_codec import SampleCodec
from ..format.tensor_store import TensorStore
from ..storage import links
from . import index as _index
from .info import Info

if TYPE_CHECKING:
    from .dataset import Dataset


@dataclass
class Prepared:
    """Samples validated and encoded for one tensor, not yet written."""

    tensor: Tensor
    encoded: list[Any]
    added_class_names: list[str]
    ndim: int | None
    dtype: str | None


class Tensor:
    def __init__(self, dataset: Dataset, key: str, rows: np.ndarray | None = None, single: bool = False) -> None:
        self.dataset = dataset
        self.key = key
        self._rows = rows
        self._single = single

    # -- identity and metadata --------------------------------------------------------------------
    @property
    def meta(self) -> TensorMeta:
        return self.dataset._state.meta.tensors[self.key]

    @property
    def _store(self) -> TensorStore:
        return self.dataset._state.tensor_store(self.key)

    @property
    def _codec(self) -> SampleCodec:
        return SampleCodec(self.meta)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def htype(self) -> str:
        return self.meta.htype

    @property
    def base_htype(self) -> str:
        return self.meta.base_htype

    @property
    def dtype(self) -> np.dtype | None:
        dtype = self.meta.dtype
        return np.dtype(dtype) if dtype not in (None, "str", "Any", "List") else None

    @property
    def sample_compression(self) -> str | None:
        return self.meta.sample_compression

    @property
    def chunk_compression(self) -> str | None:
        return self.meta.chunk_compression

    @property
    def is_sequence(self) -> bool:
        return self.meta.sequence

    @property
    def is_link(self) -> bool:
        return self.meta.link

    @property
    def info(self) -> Info:
        state = self.dataset._state
        return Info(self.meta.info, state.check_writable, state.meta_changed)

    @property
    def num_samples(self) -> int:
        return len(self._store)

    def __len__(self) -> int:
        return len(self._store) if self._rows is None else len(self._rows)

    def _positions(self) -> np.ndarray:
        return np.arange(len(self._store), dtype=np.int64) if self._rows is None else self._rows

    def __getitem__(self, item: Any) -> Tensor:
        rows, single = _index.compose(self._rows, item, len(self._store))
        return Tensor(self.dataset, self.key, rows, single)

    def __repr__(self) -> str:
        where = "" if self._rows is None else f", index={self._rows[0] if self._single else len(self._rows)}"
        return f"Tensor(key={self.key!r}, htype={self.htype!r}{where})"

    # -- writing ----------------------------------------------------------------------------------
    def prepare(self, values: Sequence[Any]) -> Prepared:
        """Validate and encode ``values``; raises SampleError and changes nothing if one is bad.
        A value may be a one-sample Tensor of any dataset (``ds2.y.append(ds1.x[0])``)."""
        values = [v.as_value() if isinstance(v, Tensor) else v for v in values]
        meta = self.meta
        if meta.base_htype == "class_label" and not (meta.link or meta.sequence) and meta.ndim in (None, 1):
            fast = self._prepare_int_labels(values)
            if fast is not None:
                return fast
        codec = self._codec
        added: list[str] = []
        ndim, dtype = meta.ndim, meta.dtype
        encoded = []
        for position, value in enumerate(values):
            try:
                if meta.base_htype == "class_label" and not meta.link:
                    value, new = htypes.class_ids(value, meta.info.get("class_names", []) + added,
                                                  meta.info.get("fixed_class_names", False))
                    added += new
                item = codec.encode(value)
                if dtype is None and meta.kind == "array" and not meta.link:
                    first = item[0] if not meta.sequence else (item[0] if item else None)
                    if first is not None:  # a dtype-less tensor takes the dtype of its first sample
                        dtype = str(first[0].dtype)
                        codec = SampleCodec(replace(meta, dtype=dtype))
                        item = codec.encode(value)
                for _, shape in (item if meta.sequence else [item]):
                    if ndim is None:
                        ndim = len(shape)
                    elif len(shape) != ndim:
                        raise ShapeMismatchError(
                            f"samples of this {meta.htype} tensor have {ndim} dimensions; got shape {shape}. "
                            "Reshape the sample or store it in another tensor.")
            except (SampleError, UnsupportedCompressionError) as exc:
                where = f"sample {position} of the batch" if len(values) > 1 else "the sample"
                raise type(exc)(f"Tensor {self.key!r}, {where}: {exc}") from None
            encoded.append(item)
        return Prepared(self, encoded, added, ndim, dtype)

    def _prepare_int_labels(self, values: Sequence[Any]) -> Prepared | None:
        """One-array path for a batch of plain int class ids (the common ingest case); None when
        the batch needs the per-sample path (names, lists, or a value that would be refused)."""
        if not values or np.dtype(self.meta.dtype).kind not in "iu" or not all(type(v) is int for v in values):
            return None
        ids = np.asarray(values)
        names = self.meta.info.get("class_names", [])
        if ids.min() < 0 or ids.max() > np.iinfo(self.meta.dtype).max or (
                self.meta.info.get("fixed_class_names", False) and names and ids.max() >= len(names)):
            return None  # the per-sample path raises the precise error
        rows = ids.astype(self.meta.dtype).reshape(-1, 1)
        return Prepared(self, [(row, (1,)) for row in rows], [], 1, self.meta.dtype)

    def append(self, value: Any) -> None:
        self.extend([value])

    def extend(self, values: Sequence[Any] | np.ndarray) -> None:
        """Append every sample of ``values``; all or nothing."""
        state = self.dataset._state
        state.check_writable()
        if self._rows is not None:
            raise SampleError("Append to the whole tensor (ds.tensor.append), not to a slice of it.")
        prepared = state.prepare_all([(self, list(values))])
        state.commit_prepared(prepared, ids=None)

    def __setitem__(self, item: Any, value: Any) -> None:
        """Replace samples in place; the hidden sample ids stay the same."""
        state = self.dataset._state
        state.check_writable()
        rows, single = _index.compose(self._rows, item, len(self._store))
        values = [value] if single else list(value)
        if len(values) != len(rows):
            raise SampleError(f"Got {len(values)} values for {len(rows)} samples.")
        prepared = state.prepare_all([(self, values)])[0]
        store = self._store
        state.apply_meta(prepared)
        state.after_write(force=store.set_many(rows, prepared.encoded))

    def pop(self, index: int | Sequence[int] | None = None) -> None:
        """Remove samples of this tensor only (default: the last one); later samples shift down."""
        state = self.dataset._state
        state.check_writable()
        n = len(self._store)
        rows = np.asarray([n - 1] if index is None else np.atleast_1d(index), np.int64)
        rows = np.unique(_index.resolve(list(rows), n)[0])
        self._store.delete(rows)
        state.after_write()

    # -- reading ----------------------------------------------------------------------------------
    def _read_rows(self) -> tuple[np.ndarray, list[Any] | np.ndarray]:
        store = self._store
        if store.has_pending:
            store.flush()
        rows = self._positions()
        dense = store.take_dense(rows) if self.meta.kind == "array" and not self.meta.link else None
        if dense is not None:
            return rows, dense
        codec = self._codec
        if self._single:
            return rows, [codec.decode(store.read(int(rows[0])))]
        return rows, [codec.decode(e) for e in store.take(rows)]

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        """The samples as one array (or a list with ``aslist=True``, needed when shapes vary)."""
        _, values = self._read_rows()
        kind = self.meta.kind
        if kind in ("text", "json"):
            values = [self._as_array_value(v) for v in values]
        elif self.meta.sequence:
            values = [_stack(v, aslist) for v in values]
        if self._single:
            return values[0]
        if aslist:
            return list(values)
        if isinstance(values, np.ndarray):
            return values
        return _stack(values, aslist=False, what=self.key)

    def _as_array_value(self, value: Any) -> np.ndarray:
        if self.meta.base_htype == "list":
            return np.asarray(value, dtype=str if value and all(isinstance(v, str) for v in value) else object)
        if self.meta.kind == "text":
            return np.asarray([value])
        out = np.empty(1, dtype=object)
        out[0] = value
        return out

    def data(self, aslist: bool = False) -> dict[str, Any]:
        """``{"value": ...}`` in the htype's natural Python form (str for text, dict for json);
        class labels add ``"text"`` with the class names."""
        _, values = self._read_rows()
        if self.meta.kind in ("text", "json"):
            value = values[0] if self._single else list(values)
            return {"value": value}
        if self._single:
            value = values[0]
        else:
            value = list(values) if aslist or not isinstance(values, np.ndarray) else values
        out: dict[str, Any] = {"value": value}
        if self.meta.base_htype == "class_label":
            names = self.meta.info.get("class_names", [])

            def text(ids: Any) -> list[str]:
                return [names[int(i)] if int(i) < len(names) else str(int(i)) for i in np.ravel(ids)]
            out["text"] = text(value) if self._single else [text(v) for v in value]
        return out

    def as_value(self) -> Any:
        """This one sample as a value any tensor's ``append`` takes: str for text, a Python
        object for json, class names for named class labels, else the array."""
        if not self._single:
            raise SampleError("Only one sample can be used as a value; index it first, e.g. ds.x[0].")
        if self.meta.kind in ("text", "json"):
            return self.data()["value"]
        if self.meta.base_htype == "class_label" and self.meta.info.get("class_names") and not self.meta.sequence:
            return self.data()["text"]
        return self.numpy()

    def text(self) -> Any:
        """Text samples as str (one) or list of str."""
        return self.data()["value"]

    def dict(self) -> Any:
        """JSON samples as Python objects."""
        return self.data()["value"]

    def tobytes(self) -> bytes:
        """The stored bytes of one sample: the encoded file for sample-compressed media, the
        linked file's bytes for ``link[...]`` tensors."""
        if not self._single:
            raise SampleError("tobytes() reads one sample; index it first, e.g. ds.images[0].tobytes().")
        if self.meta.sequence:
            raise SampleError(f"A {self.htype} sample is a list of items; read it with .numpy(aslist=True).")
        store = self._store
        if store.has_pending:
            store.flush()
        payload, _ = store.read(int(self._rows[0]))
        if self.meta.link:
            return links.fetch(bytes(payload).decode())
        return payload if isinstance(payload, bytes) else np.ascontiguousarray(payload).tobytes()

    def shapes(self) -> np.ndarray:
        """Shapes of the selected samples as an (n, ndim) array, read from the shape side array."""
        store = self._store
        if store.has_pending:
            store.flush()
        shapes = store.shapes(self._positions())
        if self.meta.sequence:
            ndim = self.meta.ndim or 0
            return (np.stack([_sequence_shape(s, ndim) for s in shapes]) if len(shapes)
                    else np.zeros((0, ndim + 1), np.int64))
        return shapes

    @property
    def shape(self) -> tuple[int | None, ...]:
        """Shape of the selection; dimensions that differ between samples are None."""
        shapes = self.shapes()
        if self.meta.link:
            shapes = np.where(shapes == 0, -1, shapes)
        if self._single:
            return tuple(None if x < 0 else int(x) for x in shapes[0])
        if not len(shapes):
            return (0,) + (None,) * (self.meta.ndim or 0)
        same = (shapes == shapes[0]).all(axis=0) & (shapes[0] >= 0)
        return (len(shapes),) + tuple(int(x) if s else None for x, s in zip(shapes[0], same))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def sample_ids(self) -> np.ndarray:
        """The hidden, stable uint64 ids of the selected samples."""
        store = self._store
        if store.has_pending:
            store.flush()
        return store.sample_ids(self._positions())


def _sequence_shape(item_shapes: np.ndarray, ndim: int) -> np.ndarray:
    """[item count, *item dims], -1 for dims that vary between items (or are unknown: no items)."""
    if not len(item_shapes):
        return np.concatenate([[0], np.full(ndim, -1)]).astype(np.int64)
    same = (item_shapes == item_shapes[0]).all(axis=0)
    return np.concatenate([[len(item_shapes)], np.where(same, item_shapes[0], -1)])


def _stack(values: list[Any], aslist: bool, what: str = "sequence") -> Any:
    if aslist:
        return list(values)
    if not values:
        return np.asarray(values)
    first = values[0]
    if all(isinstance(v, np.ndarray) and v.shape == first.shape for v in values):
        return np.stack(values)
    raise DynamicShapeError(
        f"Samples of {what!r} have different shapes and cannot be stacked; call .numpy(aslist=True)."
    )
