"""``Tensor``: one named column of samples, or a selection of it (``ds.images[0:8]``), possibly
indexed inside its samples (``ds.images[0, 10:20]``, ``ds.images[0][10:20, ::2]``; see
``core.index``). Reads and writes go through the selection: ``t[0, 1] = 5`` changes one element,
``t[2:4] *= 2`` two samples."""

from __future__ import annotations

import operator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

from ..errors import (DtypeMismatchError, DynamicShapeError, EmptyTensorError, HtypeChangeError, IncompatibleHtypeError,
                      SampleError, SampleIndexError, ShapeMismatchError, TensorError, UnsupportedCompressionError)
from ..format import arrow_values, compression, file_batch, htypes, uniform_batch
from ..format.meta import TensorMeta
from ..format.sample import LinkedSample, Sample
from ..format.sample_codec import SampleCodec
from ..format.tensor_store import TensorStore
from ..storage import links
from . import index as _index
from . import creds as _creds
from . import html_repr, loop_hint
from .chunk_engine import ChunkEngine
from .extensions import TensorExtensions
from . import summary as _summary
from .info import Info

if TYPE_CHECKING:
    from .dataset import Dataset


@dataclass
class Prepared:
    """Samples validated and encoded for one tensor, not yet written. ``htype`` is the htype an
    empty generic tensor takes from its first value (``"text"`` for a str, ``"json"`` for a dict)."""

    tensor: Tensor
    encoded: list[Any]
    added_class_names: list[str]
    ndim: int | None
    dtype: str | None
    htype: str | None = None
    skipped: list[int] = field(default_factory=list)  # positions of the values ignore_errors left out


class _Bounds(NamedTuple):
    lower: tuple[int, ...]
    upper: tuple[int, ...]


class ShapeInterval(_Bounds):
    """The smallest and the largest size of every dimension over the selected samples: a tuple
    ``(lower, upper)`` (``upper`` defaults to ``lower``). Prints as Deep Lake v3 does, fixed
    dimensions as one number and varying ones as ``low:high``: ``(4, 5:10, 3)``."""

    __slots__ = ()

    def __new__(cls, lower: Sequence[int], upper: Sequence[int] | None = None) -> ShapeInterval:
        lower = tuple(lower)
        upper = lower if upper is None else tuple(upper)
        if len(lower) != len(upper) or any(x is not None and x < 0 for x in lower + upper) or any(
                lo is not None and hi is not None and lo > hi for lo, hi in zip(lower, upper)):
            raise ShapeMismatchError(f"Not a shape interval: lower {lower}, upper {upper}; both need the same "
                                     "number of non-negative sizes, each lower one at most its upper one.")
        return super().__new__(cls, lower, upper)

    def astuple(self) -> tuple[int | None, ...]:
        """The shape, with None for the dimensions that vary."""
        return tuple(lo if lo == hi else None for lo, hi in zip(self.lower, self.upper))

    @property
    def is_dynamic(self) -> bool:
        """Whether any dimension varies."""
        return self.lower != self.upper

    def __str__(self) -> str:
        parts = [str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in zip(self.lower, self.upper)]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"

    __repr__ = __str__


class TensorMetaView:
    """``tensor.meta``: the tensor's ``TensorMeta`` (attributes read and set through), plus Deep
    Lake v3's shape interval of the whole tensor, computed from the stored shapes: ``min_shape``
    and ``max_shape`` (per dimension, over every sample, or every item of a sequence)."""

    __slots__ = ("_target", "_tensor")

    def __init__(self, meta: TensorMeta, tensor: Tensor) -> None:
        object.__setattr__(self, "_target", meta)
        object.__setattr__(self, "_tensor", tensor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __repr__(self) -> str:
        return repr(self._target)

    @property
    def length(self) -> int:
        """The number of samples, counting every item of a sequence tensor (v3's ``meta.length``)."""
        return self._tensor.chunk_engine.num_samples

    @property
    def min_shape(self) -> list[int]:
        return self._bounds()[0]

    @property
    def max_shape(self) -> list[int]:
        return self._bounds()[1]

    def _bounds(self) -> tuple[list[int], list[int]]:
        """[] for a tensor without samples; zeros for one of only empty samples whose dimensions are
        not known yet: [] for generic tensors, [0, 0, 0] where an image codec implies (H, W, C)."""
        meta, whole = self._target, Tensor(self._tensor.dataset, self._tensor.key)
        if not len(whole):
            return [], []
        if whole._unknown_ndim():
            zeros = [0, 0, 0] if meta.sample_compression in compression.SAMPLE_COMPRESSIONS else []
            return zeros, list(zeros)
        low, high = whole.shape_interval
        skip = 2 if meta.sequence else 1  # the sample count, and a sequence's item count
        return [int(x) for x in low[skip:]], [int(x) for x in high[skip:]]


class Tensor(TensorExtensions):
    def __init__(self, dataset: Dataset, key: str, rows: np.ndarray | None = None, single: bool = False,
                 inner: _index.Chain = ()) -> None:
        self.dataset = dataset
        self.key = key
        self._rows = rows
        self._single = single
        self._inner = inner

    # -- identity and metadata --------------------------------------------------------------------
    @property
    def meta(self) -> TensorMetaView:
        """The tensor's metadata (read and set through), with v3's ``min_shape`` / ``max_shape``."""
        return TensorMetaView(self._meta, self)

    @property
    def _meta(self) -> TensorMeta:
        return self.dataset._state.meta.tensors[self.key]

    @property
    def _store(self) -> TensorStore:
        return self.dataset._state.tensor_store(self.key)

    @property
    def chunk_engine(self) -> ChunkEngine:
        """Read-only facts about how the whole tensor is stored (chunks, samples per chunk) and
        what changed in it since the commit its version is based on (``commit_diff``), under
        Deep Lake v3's names; see ``core.chunk_engine``. A view's is its whole tensor's."""
        return ChunkEngine(self.dataset, self.key)

    @property
    def _codec(self) -> SampleCodec:
        codec = SampleCodec(self._meta)
        if self._meta.link:
            codec.link_creds = self.dataset._state.link_creds
        return codec

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def htype(self) -> str | None:
        """The htype; None for an untyped tensor (created without one) until its first
        non-empty sample, as in Deep Lake v3."""
        return self._meta.htype

    @htype.setter
    def htype(self, value: str) -> None:
        """Give a generic or image tensor another array htype (``ds.boxes.htype = "bbox"``) when
        every stored sample already fits it, as Deep Lake v3 does (``htypes.CONVERSIONS``); no
        sample is rewritten. IncompatibleHtypeError (a ValueError) when samples do not fit or the
        htype is a sequence or link; HtypeChangeError (NotImplementedError) for changes v3 does
        not make (from other htypes, to htypes without shape rules such as text)."""
        state = self.dataset._state
        state.check_writable()
        meta = self._meta
        base, sequence, link = htypes.parse(value)
        spec = htypes.HTYPES[base]
        if sequence or link:
            raise IncompatibleHtypeError(f"Cannot change {self.key!r} to {value!r}: sequence[...] and link[...] are "
                                         "fixed when a tensor is created; create a new tensor.")
        if meta.base_htype not in htypes.CONVERTIBLE or meta.sequence or meta.link or base not in htypes.CONVERSIONS:
            raise HtypeChangeError(f"Changing {self.key!r} from {meta.htype_name!r} to {value!r} is not supported: generic and "
                                   f"image tensors can become one of {sorted(htypes.CONVERSIONS)}. Create a new "
                                   "tensor and copy the samples.")
        compression.canonical(meta.sample_compression, spec.sample_compressions, f"sample compression for htype {base!r}")
        self._check_fits(spec)
        meta.htype, meta.base_htype = value.replace(" ", ""), base
        meta.dtype = meta.dtype or spec.dtype
        for k, v in spec.info.items():
            meta.info.setdefault(k, list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        state.meta_changed()

    def _check_fits(self, spec: htypes.Htype) -> None:
        """Raise unless every stored sample fits the htype ``spec`` as it is (``htypes.CONVERSIONS``)."""
        meta = self._meta
        if spec.dtype_fixed and meta.dtype not in (None, spec.dtype):
            raise IncompatibleHtypeError(f"htype {spec.name!r} stores {spec.dtype}; {self.key!r} stores {meta.dtype}.")
        rule = htypes.CONVERSIONS[spec.name]
        stored = self._store
        if stored.has_pending:
            stored.flush()
        shapes = stored.shapes(np.arange(len(stored)))
        if meta.sequence:
            shapes = np.concatenate([s for s in shapes if len(s)]) if any(len(s) for s in shapes) else []
        for shape in {tuple(int(x) for x in s) for s in shapes if np.any(s)} or {None}:
            problem = rule(shape, meta.dtype)
            if problem:
                raise IncompatibleHtypeError(f"{self.key!r} has {problem}, which htype {spec.name!r} does not take as "
                                             "they are.")

    @property
    def base_htype(self) -> str | None:
        """The htype inside ``sequence[...]`` / ``link[...]``; None for an untyped tensor, as in v3."""
        return self._meta.base_htype if self._meta.htype is not None else None

    @property
    def dtype(self) -> np.dtype | None:
        """The NumPy dtype of array samples; None for text and json tensors (a json tensor's
        ``meta.dtype`` may be a schema such as ``"List[Dict[str, int]]"``) and before a first sample."""
        meta = self._meta
        return np.dtype(meta.dtype) if meta.dtype is not None and meta.kind in ("array", "polygon") else None

    @property
    def sample_compression(self) -> str | None:
        return self._meta.sample_compression

    @property
    def chunk_compression(self) -> str | None:
        return self._meta.chunk_compression

    @property
    def is_sequence(self) -> bool:
        return self._meta.sequence

    @property
    def is_link(self) -> bool:
        return self._meta.link

    @property
    def info(self) -> Info:
        state = self.dataset._state
        return Info(self._meta.info, state.check_info_writable, state.meta_changed)

    @info.setter
    def info(self, mapping: dict[str, Any]) -> None:
        self.info.replace(mapping)

    @property
    def num_samples(self) -> int:
        return len(self._store)

    @property
    def sample_indices(self) -> np.ndarray:
        """Deep Lake v3: the tensor's rows this view shows, in order (all of them for the tensor)."""
        return np.arange(len(self._store), dtype=np.int64) if self._rows is None else np.array(self._rows, np.int64)

    def __len__(self) -> int:
        return len(self._store) if self._rows is None else len(self._rows)

    def _positions(self, padded: bool = False) -> np.ndarray:
        """The selected rows. A row past this tensor's end (a row view of a dataset whose tensors
        differ in length) is a SampleIndexError, unless ``padded`` and the view pads
        (``ds.max_view``): the caller then reads it as an empty sample."""
        if self._rows is None:
            return np.arange(len(self._store), dtype=np.int64)
        n, rows = len(self._store), self._rows
        last = int(rows[0]) if len(rows) == 1 else int(rows.max()) if len(rows) else -1  # (one row: no reduction)
        if last >= n and not (padded and self.dataset._padded):
            raise SampleIndexError(
                f"Row {last} is past the end of tensor {self.key!r} ({n} samples): the dataset's "
                "tensors differ in length. Read the rows every tensor has (ds.min_view), or ds.max_view, "
                "where shorter tensors read as empty samples.")
        return self._rows

    @property
    def is_iteration(self) -> bool:
        """Whether this tensor belongs to a row yielded by iterating a dataset (``for row in ds``)."""
        return self.dataset.is_iteration

    def __getitem__(self, item: Any) -> Tensor:
        if type(item) is int and self._rows is None and not self._meta.hidden:
            history = self.dataset._state.index_history.setdefault(f"tensor:{self.key}", [])
            loop_hint.note(history, item, self.key)
        rows, single, inner = _index.narrow(self._rows, self._single, self._inner, item, len(self._store))
        return Tensor(self.dataset, self.key, rows, single, inner)

    def __iter__(self) -> Iterator[Tensor]:
        """The selected samples one by one; inside one sample, its first axis (a sequence's items)."""
        count = len(self) if not self._single else (self.shape or (None,))[0]
        if count is None:
            raise SampleIndexError(f"{self!r} is one sample without a first axis of known length to iterate.")
        for i in range(count):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = np.asarray(self.numpy())
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        """Deep Lake v3's form: ``Tensor(key='x')``, ``Tensor(key='x', index=Index([slice(1, 3, None)]))``."""
        index = _index.v3_text(self._rows, self._single, self._inner)
        return f"Tensor(key={self.key!r}{', index=' + index if index else ''})"

    def _repr_html_(self) -> str:
        """Jupyter's view: key, dataset, length and the htype, dtype, shape and compression, from
        metadata only (``core.html_repr``)."""
        return html_repr.tensor_html(self)

    def summary(self) -> None:
        """Print this tensor's repr and v3's table of its htype, shape interval, dtype and sample
        compression (see ``core.summary``)."""
        print(self)
        print(_summary.tensor_table(self))

    def _selects(self, key: str, rows: np.ndarray, single: bool, chain: _index.Chain) -> bool:
        """Whether this tensor is exactly the selection ``key[rows, chain]``."""
        return (self.key == key and self._single == single and np.array_equal(self._positions(), rows)
                and _index.same(self._inner, chain))

    # -- writing ----------------------------------------------------------------------------------
    def prepare(self, values: Sequence[Any], ignore_errors: bool = False, infer_htype: bool = False,
                ndim: int | None = None, on_sample: Callable[[], None] | None = None) -> Prepared:
        """Validate and encode ``values``; raises SampleError and changes nothing if one is bad
        (with ``ignore_errors``, bad values are left out instead). ``None`` is an empty sample. A
        value may be a one-sample Tensor of any dataset (``ds2.y.append(ds1.x[0])``). With
        ``infer_htype``, an untyped or empty generic tensor may take an htype from its first value
        (``Prepared.htype``, see ``_inferred_meta``; the caller applies it with ``adopt_htype``
        when it commits).
        ``ndim`` gives the sample dimensions to a tensor that has none yet. ``on_sample`` is
        called after each value (progress bars)."""
        values = [v.as_value(link=self._meta.link) if isinstance(v, Tensor) else v for v in values]
        inferred = self._inferred_meta(values) if infer_htype else None
        meta = inferred or self._meta
        if meta.base_htype == "class_label" and not (meta.link or meta.sequence) and meta.ndim in (None, 1):
            fast = self._prepare_int_labels(values)
            if fast is not None:
                return fast
        codec = SampleCodec(meta)
        if meta.link:
            codec.link_creds = self.dataset._state.link_creds
        added: list[str] = []
        ndim, dtype = (ndim if meta.ndim is None else meta.ndim), meta.dtype
        codec.ndim = ndim
        # same-shape arrays (boxes, points): as one array; image files stored as given: in one loop
        uniform = uniform_batch.encode(codec, values) or file_batch.encode(codec, values)
        if uniform is not None:
            if on_sample is not None:
                for _ in values:
                    on_sample()
            return Prepared(self, uniform[0], [], uniform[1], dtype, inferred.htype if inferred else None)
        encoded, skipped = [], []
        for position, value in enumerate(values):
            try:
                item, new, codec = self._encode(codec, value, added)
                dtype = codec.meta.dtype
                ndim = codec.ndim = _sample_ndim(meta, value, item, ndim)
            except (SampleError, UnsupportedCompressionError) as exc:
                if ignore_errors:
                    skipped.append(position)
                    continue
                where = f"sample {position} of the batch" if len(values) > 1 else "the sample"
                raise type(exc)(f"Tensor {self.key!r}, {where}: {exc}") from None
            finally:
                if on_sample is not None:
                    on_sample()
            encoded.append(item)
            added += new
        if ndim is not None and meta.ndim is None:  # empty samples met before the batch fixed ndim
            encoded = [_with_ndim(e, meta, ndim) for e in encoded]
        if meta.link:
            _creds.note_used(self.dataset._state, _creds_keys(values))
        return Prepared(self, encoded, added, ndim, dtype, inferred.htype if inferred else None, skipped)

    def _encode(self, codec: SampleCodec, value: Any, added: list[str]) -> tuple[Any, list[str], SampleCodec]:
        """One value encoded; the class names it adds; the codec (with the dtype a dtype-less
        tensor takes from its first non-empty sample)."""
        meta, new = codec.meta, []
        if meta.base_htype == "class_label" and not meta.link:
            value, new = htypes.class_ids(value, meta.info.get("class_names", []) + added,
                                          meta.info.get("fixed_class_names", False))
        item = codec.encode(value)
        if meta.dtype is None and meta.kind == "array" and not meta.link:
            dtype = _first_dtype(value, meta)
            if dtype is not None:
                ndim, codec = codec.ndim, SampleCodec(replace(meta, dtype=dtype))
                codec.ndim = ndim
                item = codec.encode(value)
        return item, new, codec

    def _inferred_meta(self, values: Sequence[Any]) -> TensorMeta | None:
        """The meta the first non-empty value of ``values`` gives an untyped tensor or an empty,
        dtype-less generic one: text for a str, json for a dict or a list of non-numbers (while
        the tensor has no dtype, dimensions, compression or samples), else generic for an
        untyped one; None when the tensor keeps its htype."""
        meta = self._meta
        first = next((v for v in values if v is not None), None)
        if meta.htype not in (None, "generic") or first is None:
            return None
        name = None
        if meta.dtype is None and meta.ndim is None and not meta.sample_compression and not len(self._store):
            if isinstance(first, str):
                name = "text"
            elif isinstance(first, dict) or (isinstance(first, (list, tuple, np.ndarray)) and not _numeric(first)):
                name = "json"
        if name is None:
            return replace(meta, htype="generic", info=dict(meta.info)) if meta.htype is None else None
        spec = htypes.HTYPES[name]
        return replace(meta, htype=name, base_htype=name, kind=spec.kind, dtype=spec.dtype, info=dict(meta.info))

    def adopt_htype(self, prepared: Prepared) -> None:
        """Give an untyped or empty generic tensor the htype its first values chose
        (``Prepared.htype``); called when ``prepared`` is committed, before its samples are written."""
        if not prepared.htype or self._meta.htype == prepared.htype:
            return
        state = self.dataset._state
        meta = self._meta
        meta.htype = prepared.htype
        if prepared.htype != meta.base_htype:  # text or json: another kind of column
            spec = htypes.HTYPES[prepared.htype]
            meta.base_htype, meta.kind, meta.dtype = prepared.htype, spec.kind, spec.dtype
            state.drop_store(self.key)  # its column was built for numeric samples
        state.save_meta()

    def _prepare_int_labels(self, values: Sequence[Any]) -> Prepared | None:
        """One-array path for a batch of plain class ids (Python or NumPy integer scalars: the common
        ingest case, a list or an array of ids); None when the batch needs the per-sample path
        (names, lists, or a value that would be refused)."""
        if not values or np.dtype(self._meta.dtype).kind not in "iu" or not all(
                type(v) is int or isinstance(v, np.integer) for v in values):
            return None
        ids = np.asarray(values)
        names = self._meta.info.get("class_names", [])
        if ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() > np.iinfo(self._meta.dtype).max or (
                self._meta.info.get("fixed_class_names", False) and names and ids.max() >= len(names)):
            return None  # the per-sample path raises the precise error
        rows = ids.astype(self._meta.dtype).reshape(-1, 1)
        return Prepared(self, [(row, (1,)) for row in rows], [], 1, self._meta.dtype)

    def append(self, value: Any) -> None:
        """Append one sample (``None``: an empty one)."""
        self.extend([value])

    def extend(self, values: Sequence[Any] | np.ndarray, progressbar: bool = False,
               ignore_errors: bool = False) -> None:
        """Append every sample of ``values`` (``None`` values are empty samples; a pyarrow Array or
        ChunkedArray is read by ``format.arrow_values``); all or nothing.
        With ``ignore_errors=True`` the values that fail validation are skipped instead.
        ``progressbar=True`` shows the progress of validating and encoding the values."""
        state = self.dataset._state
        state.check_writable()
        if self._rows is not None:
            raise SampleError("Append to the whole tensor (ds.tensor.append), not to a slice of it.")
        if arrow_values.is_arrow_table(values):
            raise SampleError(f"tensor.extend takes one column; pass table.column({self.name!r}), or give the whole "
                              "table to ds.extend(table) (its columns by tensor name).")
        if arrow_values.is_arrow(values):  # a pyarrow Array or ChunkedArray
            values = arrow_values.values_for(values, self._meta, self.key)
        values = list(values) if not isinstance(values, np.ndarray) else values
        with progress(len(values), f"extending {self.key!r}", progressbar) as bar, skip_hint(len(values) > 1):
            prepared = self.prepare(list(values), ignore_errors=ignore_errors, infer_htype=True,
                                    ndim=self._batch_ndim(values), on_sample=lambda: bar.update(1))
        state.commit_prepared([prepared], ids=None)

    def _batch_ndim(self, values: Any) -> int | None:
        """The sample dimensions a first write of one NumPy batch gives an uncompressed image
        tensor: Deep Lake v3 stores ``extend(np.zeros((N, H, W)))`` as 2-D images, where single
        (H, W) samples become (H, W, 1). None otherwise (the first sample decides)."""
        meta = self._meta
        if (isinstance(values, np.ndarray) and values.dtype != object and values.ndim >= 3
                and meta.base_htype == "image" and meta.sample_compression is None and not meta.sequence
                and not meta.link and meta.ndim is None):
            return values.ndim - 1
        return None

    def clear(self) -> None:
        """Remove every sample of this tensor; its htype, dtype, compression and info stay."""
        state = self.dataset._state
        state.check_writable()
        if self._rows is not None:
            raise SampleError("Clear the whole tensor (ds.tensor.clear()), not a selection of it.")
        self._store.clear()
        self._meta.ndim = None
        state.meta_changed()

    def __setitem__(self, item: Any, value: Any) -> None:
        """Replace samples, or parts of samples (``t[0, 1:3] = ...``), in place; hidden sample ids
        stay the same. Assigning at an index past the end pads with empty samples."""
        state = self.dataset._state
        state.check_writable()
        n = len(self._store)
        if self._rows is None and isinstance(item, (int, np.integer)) and int(item) >= n:
            self.extend([None] * (int(item) - n) + [value])
            return
        rows, single, chain = _index.narrow(self._rows, self._single, self._inner, item, n)
        Tensor(self.dataset, self.key, rows)._positions()  # refuses rows past the end (views of uneven datasets)
        if isinstance(value, Tensor) and value.dataset._state is state and value._selects(self.key, rows, single, chain):
            return  # ``t[i] += 1``: the in-place operation already wrote it
        self._write(rows, single, chain, value)

    def assign(self, value: Any) -> None:
        """Replace what this tensor selects with ``value``: one sample's value for a one-sample
        selection (``ds[3].labels.assign(5)``), a value per sample for several, a broadcastable
        value for parts of samples. ``t[...] = value`` instead indexes inside a one-sample selection."""
        self.dataset._state.check_writable()
        rows = self._positions()
        if isinstance(value, Tensor) and value.dataset._state is self.dataset._state and value._selects(
                self.key, rows, self._single, self._inner):
            return  # ``ds["x"] += 1``: the in-place operation already wrote it
        self._write(rows, self._single, self._inner, value)

    def _write(self, rows: np.ndarray, single: bool, chain: _index.Chain, value: Any) -> None:
        if isinstance(value, Tensor):
            value = value.as_value() if value._single else [value[i].as_value() for i in range(len(value))]
        if single:
            values = [value]
        elif chain:
            values = _index.split_value(value, [np.shape(v) for v in Tensor(
                self.dataset, self.key, rows, False, chain).numpy(aslist=True)])
        else:
            values = list(self._without_leading_ones(value))
            if len(values) != len(rows):
                raise SampleError(f"Got {len(values)} values for {len(rows)} samples.")
        if chain:
            values = [self._patched(int(row), chain, v) for row, v in zip(rows.tolist(), values)]
        state = self.dataset._state
        prepared = self.prepare(values, infer_htype=True)  # an untyped tensor's first value makes it generic
        if prepared.encoded:
            self.adopt_htype(prepared)
        state.apply_meta(prepared)
        state.after_write(force=self._store.set_many(rows, prepared.encoded))

    def _without_leading_ones(self, value: Any) -> Any:
        """A batch array with more dimensions than a batch of this tensor's samples has, less its
        leading size-1 ones (as NumPy assignment drops them: ``t[:] = x[None]``)."""
        meta = self._meta
        if not isinstance(value, np.ndarray) or meta.ndim is None or meta.kind != "array":
            return value
        batch_ndim = meta.ndim + 1 + int(meta.sequence)
        while value.ndim > batch_ndim and value.shape[0] == 1:
            value = value[0]
        return value

    def _patched(self, row: int, chain: _index.Chain, value: Any) -> Any:
        """Sample ``row`` with its part ``chain`` set to ``value``."""
        meta = self._meta
        if meta.kind in ("text", "json"):
            raise SampleIndexError(f"{meta.htype_name} samples cannot be indexed inside; assign whole samples.")
        store = self._store
        if store.has_pending:
            store.flush()
        current = self._codec.decode(store.read(row))
        if meta.sequence or meta.kind == "polygon":
            return _index.assign_items(list(current), chain, value, self._cast)
        return _index.assign(current, chain, self._cast(value, current.dtype))

    def _cast(self, value: Any, dtype: np.dtype) -> np.ndarray:
        """A value for part of a sample, as ``dtype`` without losing values (class names as ids);
        floats are rounded to a narrower float dtype, as NumPy assigns them."""
        meta = self._meta
        if meta.base_htype == "class_label":
            names = meta.info.get("class_names", [])
            value, added = htypes.class_ids(value, names, False)
            if added:
                raise SampleError(f"Class names {added} are not in {self.key!r}'s class list; assign a whole "
                                  "sample to add new names.")
        return htypes.to_array(value, str(dtype), meta.base_htype, narrowing=True)

    def pop(self, index: int | Sequence[int] | None = None) -> None:
        """Remove samples of this tensor only (default: the last one; an int or a list of indices,
        each once); later samples shift down."""
        state = self.dataset._state
        state.check_writable()
        rows = _index.pop_positions(index, len(self._store), "tensor")
        self._store.delete(rows)
        state.after_write()

    # -- in-place arithmetic: ``t += 1``, ``ds.x[2:4] *= 2``, ``ds.x[0][1] -= t2[0][1]`` -------------
    def _inplace(self, op: Callable[[Any, Any], Any], other: Any) -> Tensor:
        """Apply ``op`` (NumPy's in-place semantics: the tensor keeps its dtype) to the selection
        and write the result back."""
        self.dataset._state.check_writable()
        per_sample = isinstance(other, Tensor) and not other._single
        if isinstance(other, Tensor):
            other = other.numpy(aslist=True) if per_sample else other.numpy()
        try:
            if self._single:
                result = op(np.array(self.numpy()), other)
            else:
                result = _apply_rows(op, self.numpy(aslist=True), other, per_sample)
        except (TypeError, ValueError) as exc:
            raise DtypeMismatchError(f"Cannot apply the operation to {self!r} ({exc}); the result must keep "
                                     f"the tensor's dtype {self._meta.dtype}.") from None
        self._write(self._positions(), self._single, self._inner, result)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(operator.iadd, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(operator.isub, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(operator.imul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(operator.itruediv, other)

    def __ifloordiv__(self, other: Any) -> Tensor:
        return self._inplace(operator.ifloordiv, other)

    def __imod__(self, other: Any) -> Tensor:
        return self._inplace(operator.imod, other)

    def __ipow__(self, other: Any) -> Tensor:
        return self._inplace(operator.ipow, other)

    def __iand__(self, other: Any) -> Tensor:
        return self._inplace(operator.iand, other)

    def __ior__(self, other: Any) -> Tensor:
        return self._inplace(operator.ior, other)

    def __ixor__(self, other: Any) -> Tensor:
        return self._inplace(operator.ixor, other)

    def __ilshift__(self, other: Any) -> Tensor:
        return self._inplace(operator.ilshift, other)

    def __irshift__(self, other: Any) -> Tensor:
        return self._inplace(operator.irshift, other)

    # -- reading ----------------------------------------------------------------------------------
    def _read_rows(self) -> tuple[np.ndarray, list[Any] | np.ndarray]:
        store = self._store
        if store.has_pending:
            store.flush()
        rows = self._positions(padded=True)
        n = len(store)
        if (int(rows[0]) >= n) if self._single else (rows >= n).any():  # (one row: no array arithmetic)
            return rows, self._with_padding(rows, rows >= n)
        dense = store.take_dense(rows) if self._meta.kind == "array" and not self._meta.link else None
        if dense is not None:
            return rows, dense
        codec = self._codec
        if self._single:
            return rows, [codec.decode(store.read(int(rows[0])))]
        return rows, [codec.decode(e) for e in store.take(rows)]

    def _with_padding(self, rows: np.ndarray, past: np.ndarray) -> list[Any]:
        """The decoded samples at ``rows``, an empty sample where ``past`` (the rows ds.max_view pads)."""
        inside = iter(Tensor(self.dataset, self.key, rows[~past])._read_rows()[1] if not past.all() else ())
        codec = self._codec
        return [codec.decode(codec.encode(None)) if p else next(inside) for p in past.tolist()]

    def _unknown_ndim(self) -> bool:
        """True when a generic tensor holds only empty samples: they have no dimensions yet."""
        meta = self._meta
        return (meta.kind == "array" and not meta.link and not meta.sequence and meta.ndim is None
                and htypes.empty_shape(meta.base_htype, None) == () and len(self) > 0)

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        """The selected samples, indexed inside by the selection's inner index, as one array (or a
        list with ``aslist=True``, needed when shapes vary). Text samples read as (1,) str arrays,
        json as (1,) object arrays, list as (k,) arrays, polygons as lists of (P, D) arrays (a list
        over samples, always); an empty sample as a zero-size array ("" / {} / [] for text, json, list)."""
        if self._unknown_ndim():
            raise EmptyTensorError(f"Tensor {self.key!r} holds only empty samples (None), which have no shape "
                                   "until a real sample is appended; append one, or read .shapes().")
        _, values = self._read_rows()
        values = self._indexed(values, aslist)
        if self._single:
            return values[0]
        if aslist or self._meta.kind == "polygon":
            return list(values)
        if isinstance(values, np.ndarray):
            return values
        return _stack(values, aslist=False, what=self.key)

    def _indexed(self, values: list[Any] | np.ndarray, aslist: bool) -> list[Any] | np.ndarray:
        """The decoded samples in ``numpy()``'s per-sample form, indexed inside by the selection."""
        meta, chain = self._meta, self._inner
        if meta.kind in ("text", "json"):
            if chain:
                raise SampleIndexError(f"{meta.htype_name} samples cannot be indexed inside; read whole samples.")
            return [htypes.numpy_form(self._meta.kind, self._meta.base_htype, v) for v in values]
        if meta.sequence or meta.kind == "polygon":
            out = []
            for v in values:
                picked, one = _index.select_items(v, chain)
                out.append(picked[0] if one else _stack(picked, aslist or not meta.sequence))
            return out
        if not chain:
            return values
        if isinstance(values, np.ndarray) and _index.is_basic(chain):  # a dense stack: index it whole
            return _index.apply(values, tuple((slice(None), *entry) for entry in chain))
        return [_index.apply(v, chain) for v in values]

    def data(self, aslist: bool = False) -> dict[str, Any]:
        """``{"value": ...}`` in the htype's natural Python form (str for text, dict for json, a
        list of arrays when shapes vary); class labels of a tensor with class names add ``"text"``
        (the names, shaped like the ids; flat per sample for sequences)."""
        meta = self._meta
        if meta.kind in ("text", "json"):
            if self._inner:
                raise SampleIndexError(f"{meta.htype_name} samples cannot be indexed inside; read whole samples.")
            _, values = self._read_rows()
            return {"value": values[0] if self._single else list(values)}
        if self._single:
            value = self.numpy()
        elif not len(self):
            value = []
        else:
            try:
                value = self.numpy(aslist=aslist)
            except DynamicShapeError:
                value = self.numpy(aslist=True)
        out: dict[str, Any] = {"value": value}
        names = meta.info.get("class_names") if meta.base_htype == "class_label" else None
        if names:
            out["text"] = (_label_names(value, names, meta.sequence) if self._single
                           else [_label_names(v, names, meta.sequence) for v in value])
        return out

    def as_value(self, link: bool = False) -> Any:
        """This one sample as a value any tensor's ``append`` takes: str for text, a Python
        object for json, class names for named class labels, None for an empty sample, else the
        array; with ``link=True`` a linked sample gives its link (for another link tensor)."""
        if not self._single:
            raise SampleError("Only one sample can be used as a value; index it first, e.g. ds.x[0].")
        meta = self._meta
        if meta.kind == "array" and not self._inner and not meta.sequence and self._is_empty():
            return None
        if link and meta.link and not self._inner:
            return self._linked(self._store.read(int(self._positions()[0])))
        if meta.kind in ("text", "json"):
            return self.data()["value"]
        if meta.base_htype == "class_label" and meta.info.get("class_names") and not meta.sequence:
            return self.data()["text"]
        return self.numpy()

    def _is_empty(self) -> bool:
        """Whether the (first) selected sample is empty; ``as_value`` reads one sample."""
        return bool(len(self)) and bool(self._empty_rows()[0])

    def _of_htype(self, htype: str, what: str) -> Any:
        if self._meta.base_htype != htype:
            raise TensorError(f"{what}() reads {htype} tensors; {self.key!r} is {self._meta.htype_name!r}. "
                              "Use .data()['value'] or .numpy().")
        return self.data()["value"]

    def text(self) -> Any:
        """Text samples as str (one) or list of str."""
        return self._of_htype("text", "text")

    def dict(self) -> Any:
        """JSON samples as Python objects."""
        return self._of_htype("json", "dict")

    def list(self) -> Any:
        """``list`` samples as Python lists."""
        return self._of_htype("list", "list")

    def tobytes(self) -> bytes:
        """The stored bytes of one sample: the encoded file for sample-compressed media, the
        linked file's bytes for ``link[...]`` tensors (b"" for an empty sample); for a sequence,
        the bytes of its items one after the other, as Deep Lake v3 gives them."""
        if not self._single or self._inner:
            raise SampleError("tobytes() reads one sample, whole; index it first, e.g. ds.images[0].tobytes().")
        store = self._store
        if store.has_pending:
            store.flush()
        stored = store.read(int(self._positions()[0]))
        if self._meta.sequence:
            return b"".join(self._item_bytes(item) for item in stored)
        return self._item_bytes(stored)

    def _item_bytes(self, encoded: Any) -> bytes:
        """The bytes of one stored sample or sequence item (a linked file's, for links)."""
        payload, _ = encoded
        if self._meta.link and len(payload):
            url, number = links.unpack(bytes(payload))
            return links.fetch(url, self._codec.creds_for(number))
        if self._meta.link:
            return b""
        return payload if isinstance(payload, bytes) else np.ascontiguousarray(payload).tobytes()

    # -- links: their URLs and creds keys, read without fetching the files -------------------------
    def _linked(self, encoded: Any) -> LinkedSample | None:
        """The link of one stored sample (or sequence item), with its creds key; None when empty."""
        payload, _ = encoded
        if not len(payload):
            return None
        url, number = links.unpack(bytes(payload))
        return LinkedSample(url, self.dataset._state.link_creds.get_creds_key(number))

    def _links(self) -> list[Any]:
        """The links of the selected samples (lists of them for sequences)."""
        meta = self._meta
        if not meta.link:
            raise TensorError(f"{self.key!r} is a {meta.htype_name} tensor; only link[...] tensors have paths and creds keys.")
        if self._inner:
            raise SampleIndexError("Paths and creds keys belong to whole samples; index samples only, e.g. t[0].path().")
        store = self._store
        if store.has_pending:
            store.flush()
        stored = store.take(self._positions())
        return [[self._linked(item) for item in s] if meta.sequence else self._linked(s) for s in stored]

    def _linked_sample(self) -> LinkedSample | None:
        """Deep Lake v3's link of exactly one sample of a ``link[...]`` tensor (``.path``,
        ``.creds_key``), read from the stored reference without fetching the file; None for an
        empty sample, a list of links for a sequence sample. SampleIndexError unless one sample
        is selected; TensorError for other htypes."""
        if not self._single:
            raise SampleIndexError("_linked_sample() reads exactly one sample; index one first, e.g. t[0]._linked_sample().")
        return self._links()[0]

    def path(self, aslist: bool = True) -> Any:
        """The URLs of the selected ``link[...]`` samples ("" for an empty one), as a text
        tensor gives its strings: one sample as a (1,) str array, several as a list of them (an
        (n, 1) array with ``aslist=False``); a sequence sample as a list of URLs."""
        urls = [[(i.url if i else "") for i in s] if self._meta.sequence else np.asarray([s.url if s else ""])
                for s in self._links()]
        if self._single:
            return urls[0]
        if aslist or self._meta.sequence:
            return urls
        return np.asarray(urls, dtype=str).reshape(len(urls), 1)

    def creds_key(self) -> Any:
        """The creds key one ``link[...]`` sample was linked with (None for none), or the keys
        of a sequence sample's items."""
        if not self._single:
            raise SampleIndexError("creds_key() reads one sample; index it first, e.g. ds.images[0].creds_key().")
        (sample,) = self._links()
        if self._meta.sequence:
            return [i.creds_key if i else None for i in sample]
        return sample.creds_key if sample else None

    def shapes(self) -> np.ndarray | list[np.ndarray]:
        """Shapes of the selected samples (indexed inside by the selection) as an (n, ndim)
        array, read from the shape side array without decoding; (n, 0) while a generic tensor
        holds only empty samples. For sequences, as Deep Lake v3 gives them: each sample's
        (items, ndim) item shapes, stacked to (n, items, ndim) when every sample has as many
        items, else a list of them."""
        if self._meta.sequence and not self._inner:
            return _item_shapes(self._stored_shapes(), self._meta.ndim or 0)
        return self._row_shapes()

    def _row_shapes(self) -> np.ndarray:
        """One row per selected sample: its shape; for a sequence, [item count, *item dims] with -1
        for the dims that vary between its items (what ``shape`` and queries read)."""
        if self._unknown_ndim():
            return np.zeros((len(self), 0), np.int64)
        meta = self._meta
        if self._inner and (meta.sequence or meta.kind != "array"):
            return _shape_rows([np.shape(v) for v in self.numpy(aslist=True)]) if not self._single \
                else _shape_rows([np.shape(self.numpy())])
        shapes = self._stored_shapes()
        if meta.sequence:
            ndim = meta.ndim or 0
            return (np.stack([_sequence_shape(s, ndim) for s in shapes]) if len(shapes)
                    else np.zeros((0, ndim + 1), np.int64))
        if self._inner:
            return _shape_rows([_index.shape_after(tuple(s), self._inner) for s in shapes.tolist()])
        return shapes

    def _stored_shapes(self) -> Any:
        """The stored shapes of the selected rows (for sequences a list of (items, ndim) arrays);
        a row ds.max_view pads has an empty sample's shape."""
        store = self._store
        if store.has_pending:
            store.flush()
        rows = self._positions(padded=True)
        past = rows >= len(store)
        if not past.any():
            return store.shapes(rows)
        inside = store.shapes(rows[~past])
        if self._meta.sequence:
            items = iter(inside)
            return [np.zeros((0, self._meta.ndim or 0), np.int64) if p else next(items) for p in past.tolist()]
        empty = np.asarray(self._codec.encode(None)[1], np.int64)
        out = np.zeros((len(rows), inside.shape[1] if len(inside) else len(empty)), np.int64)
        out[~past] = inside
        out[past] = empty if len(empty) == out.shape[1] else 0
        return out

    def _read_link_shapes(self, shapes: np.ndarray) -> np.ndarray:
        """``shapes`` with the rows of image links not read when linked (all -1: verify=False)
        filled from the linked files' headers, as Deep Lake v3 reads them; other rows as given."""
        unread = np.flatnonzero((shapes == -1).all(axis=1)) if shapes.ndim == 2 and shapes.shape[1] == 3 else []
        if not len(unread) or self._meta.sequence or not self._meta.base_htype.startswith("image"):
            return shapes
        shapes, codec, rows = shapes.copy(), self._codec, self._positions()
        for i in unread:
            url, number = links.unpack(bytes(self._store.read(int(rows[i]))[0]))
            shapes[i] = Sample(buffer=links.fetch(url, codec.creds_for(number))).shape
        return shapes

    def _empty_rows(self) -> np.ndarray:
        """Which selected samples are empty: no stored bytes, or a row ds.max_view pads."""
        store = self._store
        if store.has_pending:
            store.flush()
        rows = self._positions(padded=True)
        inside = rows < len(store)
        empty = np.ones(len(rows), bool)
        empty[inside] = store.nbytes(rows[inside]) == 0
        return empty

    @property
    def shape(self) -> tuple[int | None, ...]:
        """Shape of the selection; dimensions that differ between samples (or are not known yet,
        as for a linked file never read) are None."""
        shapes = self._row_shapes()
        if self._meta.link and not self._inner:  # zeros: the file was not read when linked, unless empty
            shapes = self._read_link_shapes(np.where((shapes == 0) & ~self._empty_rows()[:, None], -1, shapes))
        if self._single:
            return tuple(None if x < 0 else int(x) for x in shapes[0])
        if not len(shapes):  # no samples: a sequence has no items either (v3: (0, 0))
            return (0,) + ((0,) if self._meta.sequence else ()) + (None,) * (self._meta.ndim or 0)
        same = (shapes == shapes[0]).all(axis=0) & (shapes[0] >= 0)
        return (len(shapes),) + tuple(int(x) if s else None for x, s in zip(shapes[0], same))

    @property
    def shape_interval(self) -> ShapeInterval:
        """The smallest and largest size of every dimension of ``shape`` over the selected samples
        (for sequences: item counts, then item dimensions over all items)."""
        n = len(self)
        meta = self._meta
        if meta.sequence and not self._inner:
            per = self._stored_shapes()
            counts = np.asarray([len(s) for s in per] or [0])
            items = [s for s in per if len(s)]
            flat = np.concatenate(items) if items else np.zeros((1, meta.ndim or 0), np.int64)
            low = (int(counts.min()), *flat.min(axis=0).tolist())
            high = (int(counts.max()), *flat.max(axis=0).tolist())
        else:
            shapes = self._row_shapes()
            width = shapes.shape[1]
            low = tuple(shapes.min(axis=0).tolist()) if len(shapes) else (0,) * width
            high = tuple(shapes.max(axis=0).tolist()) if len(shapes) else (0,) * width
        if self._single:
            return ShapeInterval(tuple(low), tuple(high))
        return ShapeInterval((n, *low), (n, *high))

    @property
    def is_dynamic(self) -> bool:
        """Whether the selected samples differ in shape."""
        shape = self.shape
        return any(d is None for d in (shape if self._single else shape[1:]))

    @property
    def size(self) -> int | None:
        """Number of elements of the selection; None when shapes vary."""
        shape = self.shape
        return None if any(d is None for d in shape) else int(np.prod(shape, dtype=np.int64))

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

    def modified_samples(self, target_id: str | None = None, return_indexes: bool = False
                         ) -> Tensor | tuple[Tensor, list[int]]:
        """The selected samples added or updated since the previous commit, or since
        ``target_id`` (a branch, tag or commit the current version descends from; VersionError,
        v3's TensorModifiedError, otherwise): a view of them, and their indices in this
        selection with ``return_indexes=True``."""
        modified = self.dataset._modified_rows(self.key, target_id)
        indexes = np.flatnonzero(np.isin(self._positions(), modified)).tolist()
        view = self[indexes]
        return (view, indexes) if return_indexes else view


SKIP_HINT = "If you wish to skip the samples that cause errors, please specify `ignore_errors=True`."


@contextmanager
def skip_hint(enabled: bool = True) -> Iterator[None]:
    """Errors of samples refused while extending by several say how to skip them instead
    (``ignore_errors``)."""
    try:
        yield
    except (SampleError, UnsupportedCompressionError) as exc:
        if not enabled:
            raise
        raise type(exc)(f"{exc} {SKIP_HINT}") from exc.__cause__


def progress(total: int | None, desc: str, enabled: bool, unit: str = "sample") -> Any:
    """A ``tqdm.auto`` progress bar over ``total`` steps (None: not known), used as a context
    manager and moved with ``update(n)``; when not ``enabled``, or over no steps, a silent bar that
    does neither import tqdm nor start its monitor thread (every ``extend`` makes one)."""
    if not enabled or total == 0:
        return SilentBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit=unit)


class SilentBar:
    """The bar ``progress`` gives when nothing is shown: ``update`` and the context do nothing."""

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _creds_keys(values: Sequence[Any]) -> set[str]:
    """The creds keys of the links among ``values`` (and their items)."""
    keys: set[str] = set()
    for value in values:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, LinkedSample) and item.creds_key is not None:
                keys.add(item.creds_key)
    return keys


def _numeric(value: Any) -> bool:
    """Whether a list-like value is a rectangular array of numbers or bools."""
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except (ValueError, TypeError):
        return False


def _first_dtype(value: Any, meta: TensorMeta) -> str | None:
    """The dtype of the first non-empty array in a sample (a sequence's items), or None."""
    items = (value if value is not None else []) if meta.sequence else [value]
    for item in items:
        if htypes.is_empty(item, meta.base_htype):
            continue
        if isinstance(item, Sample):  # an encoded image (dl.read): its pixels' dtype, from the header
            return item.dtype
        arr = np.asarray(item)
        if arr.size:
            return str(arr.dtype)
    return None


def _sample_ndim(meta: TensorMeta, value: Any, item: Any, ndim: int | None) -> int | None:
    """The tensor's ndim after ``value`` (encoded as ``item``): the first real sample fixes it, later
    ones must match it; empty samples do neither."""
    pairs = zip(value if value is not None else [], item) if meta.sequence else [(value, item)]
    for v, (_, shape) in pairs:
        if meta.kind == "array" and htypes.is_empty(v, meta.base_htype):
            continue
        if ndim is None:
            ndim = len(shape)
        elif len(shape) != ndim:
            raise ShapeMismatchError(
                f"samples of this {meta.htype_name} tensor have {ndim} dimensions; got shape {shape}. "
                "Reshape the sample or store it in another tensor.")
    return ndim


def _with_ndim(encoded: Any, meta: TensorMeta, ndim: int) -> Any:
    """An encoded sample whose empty array samples (or items) get ``ndim`` dimensions."""
    if meta.sequence:
        return [_with_ndim(e, replace(meta, sequence=False), ndim) for e in encoded]
    payload, shape = encoded
    if meta.kind == "array" and isinstance(payload, bytes) and not payload and len(shape) != ndim:
        return payload, htypes.empty_shape(meta.base_htype, ndim)
    return encoded


def _apply_rows(op: Callable[[Any, Any], Any], values: list[Any], other: Any, per_sample: bool) -> list[Any]:
    """``op`` over samples: on their stack when they share a shape (NumPy broadcasting over the
    stack), else sample by sample (``other`` paired with samples when ``per_sample``)."""
    if values and all(np.shape(v) == np.shape(values[0]) for v in values):
        rhs = other if not per_sample else np.stack([np.asarray(o) for o in other])  # Python scalars stay weak
        return list(op(np.stack(values), rhs))
    if per_sample and len(other) != len(values):
        raise ValueError(f"{len(other)} samples on the right for {len(values)} on the left")
    return [op(np.array(v), other[j] if per_sample else other) for j, v in enumerate(values)]


def _label_names(ids: Any, names: list[str], flat: bool) -> list[Any]:
    """Class names for an array of ids, nested like it (flat when ``flat``); unknown ids as str."""
    arr = np.asarray(ids)
    if flat or arr.ndim <= 1:
        return [names[int(i)] if int(i) < len(names) else str(int(i)) for i in arr.ravel()]
    return [_label_names(row, names, False) for row in arr]


def _shape_rows(shapes: list[tuple[int, ...]]) -> np.ndarray:
    """(n, ndim) int64 rows of shapes that all have one ndim."""
    width = len(shapes[0]) if shapes else 0
    return np.asarray(shapes, np.int64).reshape(len(shapes), width)


def _item_shapes(per_sample: list[np.ndarray], ndim: int) -> np.ndarray | list[np.ndarray]:
    """Deep Lake v3's ``shapes()`` of sequence samples: each sample's (items, ndim) item shapes,
    stacked to (n, items, ndim) when every sample has as many items, else a list; (0, ndim) for none."""
    fitted = [np.asarray(s, np.int64).reshape(len(s), ndim) for s in per_sample]
    if not fitted:
        return np.zeros((0, ndim), np.int64)
    return np.stack(fitted) if len({len(s) for s in fitted}) == 1 else fitted


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
