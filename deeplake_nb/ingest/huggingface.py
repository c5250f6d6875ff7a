"""Hugging Face ``datasets`` <-> deeplake_nb: ``dl.ingest_huggingface`` and ``ds.to_huggingface()``.

Ingest reads the Hugging Face dataset's Arrow data in batches (never decoding its images) and maps
each feature to a tensor of the same name:

- ``Image`` (with ``decode`` True or False) -> ``image``: the stored bytes are kept byte-identical
  (the tensor's sample compression is the first image's format), a path-only image is read from
  its file;
- ``ClassLabel`` -> ``class_label`` with the feature's names (-1, "no label", is an empty sample);
- a dict of features -> a group, one tensor per key (``Sequence`` of a dict too: lists per key);
- ``Value``, ``Sequence``, ``Array2D``...: as ``columns`` maps their Arrow types (numbers ->
  ``generic``, strings -> ``text``, lists of strings -> ``list`` ...);
- others (``Audio`` ...) are left out with an ``IngestionWarning``.

A ``DatasetDict``'s splits become groups (``train/label`` ...).
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Iterator

import numpy as np

from ..core.dataset import Dataset
from ..core.extensions import provide
from ..errors import IngestionError, IngestionWarning
from ..format.sample import Sample
from . import batches, columns, extras
from .target import target


PATH_SEP = "\x1f"  # between the keys of a nested feature's path in a plan's column (keys may hold "/")


def _datasets() -> Any:
    return extras.require("datasets", "Converting to or from Hugging Face datasets")


def ingest_huggingface(src: Any, dest: Any, use_progressbar: bool = True, token: str | None = None,
                       connect_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> Dataset:
    """Ingest a Hugging Face ``Dataset`` or ``DatasetDict`` into ``dest`` (a path for a new dataset,
    with ``dl.empty``'s ``**dataset_kwargs``, or an open dataset); see the module docstring. On any
    error nothing of the ingest stays in ``dest``."""
    hf = _datasets()
    if isinstance(src, hf.DatasetDict):
        splits = [(f"{name}/", split) for name, split in src.items()]
    elif isinstance(src, hf.Dataset):
        splits = [("", src)]
    else:
        raise IngestionError(f"ingest_huggingface takes a datasets.Dataset or DatasetDict; got {type(src).__name__}.")
    name = _name(splits[0][1])
    planned = [(split, _plans(prefix, split.features, split, name)) for prefix, split in splits]
    with target(dest, name, None, token, connect_kwargs, **dataset_kwargs) as ds:
        for _, plans in planned:
            for plan in plans:
                if plan.tensor not in ds.tensors:
                    ds.create_tensor(plan.tensor, **plan.params)
        rows = (batch for split, plans in planned for batch in _batches(split, plans, name))
        batches.write(ds, rows, sum(len(split) for split, _ in planned), f"ingesting {name}", use_progressbar)
    return ds


def _name(split: Any) -> str:
    """The source's name for messages: "Hugging Face dataset <its builder name>"."""
    builder = getattr(getattr(split, "info", None), "dataset_name", None)
    return f"Hugging Face dataset {builder}" if builder else "the Hugging Face dataset"


def _plans(prefix: str, features: Any, split: Any, source: str) -> list[columns.Plan]:
    """One plan per leaf feature (dicts flattened into groups); unsupported features warned about."""
    hf = _datasets()
    arrow = split.with_format("arrow")[:0].schema
    out: list[columns.Plan] = []
    skipped: list[str] = []
    for key, feature in features.items():
        _plan(f"{prefix}{key}", [key], feature, arrow.field(key).type, split, source, out, skipped, hf)
    if skipped:
        skipped = [s.replace(PATH_SEP, "/") for s in skipped]
        warnings.warn(f"ingest_huggingface left out features {skipped} of {source}: no tensor takes them.",
                      IngestionWarning, stacklevel=3)
    return out


def _plan(tensor: str, path: list[str], feature: Any, arrow_type: Any, split: Any, source: str,
          out: list[columns.Plan], skipped: list[str], hf: Any) -> None:
    if isinstance(feature, dict) or (isinstance(feature, hf.Sequence) and isinstance(feature.feature, dict)):
        inner = feature if isinstance(feature, dict) else feature.feature
        for key, sub in inner.items():
            _plan(f"{tensor}/{key}", [*path, key], sub, arrow_type.field(key).type, split, source, out, skipped, hf)
        return
    if isinstance(feature, hf.Image):
        params: dict[str, Any] = {"htype": "image", "sample_compression": _image_format(split, path)}
        out.append(columns.Plan(PATH_SEP.join(path), tensor, params, _images, holds_files=True))
    elif isinstance(feature, hf.ClassLabel):
        params = {"htype": "class_label", "class_names": list(feature.names)}
        out.append(columns.Plan(PATH_SEP.join(path), tensor, params, _labels))
    elif isinstance(feature, _value_features(hf)):
        storage = getattr(arrow_type, "storage_type", arrow_type)
        try:
            plan = columns.plan(PATH_SEP.join(path), storage, {"name": tensor}, None, source)
        except IngestionError:
            skipped.append(PATH_SEP.join(path))
            return
        out.append(columns.Plan(plan.column, tensor, plan.params, _unwrapped(plan.convert)))
    else:
        skipped.append(PATH_SEP.join(path))


def _value_features(hf: Any) -> tuple[type, ...]:
    """The feature types whose Arrow data ``columns`` maps (``LargeList`` where datasets has it)."""
    names = ("Value", "Sequence", "LargeList", "Array2D", "Array3D", "Array4D", "Array5D")
    return (list, *(getattr(hf, name) for name in names if hasattr(hf, name)))


def _unwrapped(convert: Any) -> Any:
    return lambda array: convert(array.storage if hasattr(array, "storage") else array)


def _image_format(split: Any, path: list[str]) -> str | None:
    """The format of the first stored image bytes of the column (None: no bytes, re-encode nothing)."""
    for start in range(0, len(split), 1024):
        array = _field(split.with_format("arrow")[start:start + 1024], path)
        for value in array.field("bytes").to_pylist():
            if value:
                try:
                    return Sample(buffer=value).compression
                except Exception:
                    return None
    return None


def _images(array: Any) -> list[Any]:
    """Image structs {bytes, path} -> Samples (the bytes, else the file at path); None stays None."""
    out: list[Any] = []
    for value in array.to_pylist():
        if value is None or (not value.get("bytes") and not value.get("path")):
            out.append(None)
        else:
            out.append(Sample(buffer=value["bytes"]) if value.get("bytes") else Sample(value["path"]))
    return out


def _labels(array: Any) -> Any:
    values = array.to_numpy(zero_copy_only=False) if not array.null_count else array.to_pylist()
    if isinstance(values, np.ndarray) and not (values < 0).any():
        return values.astype(np.uint32)
    return [None if v is None or v < 0 else np.uint32(v) for v in values]


def _field(table: Any, path: list[str]) -> Any:
    """Column ``path`` (through struct fields) of an Arrow table, as one array."""
    array = table.column(path[0]).combine_chunks()
    for key in path[1:]:
        array = array.field(key)
    return array


def _batches(split: Any, plans: list[columns.Plan], source: str) -> Iterator[batches.Batch]:
    size = batches.BATCH_ROWS if any(p.holds_files for p in plans) else 8192
    arrow = split.with_format("arrow")
    for start in range(0, len(split), size):
        table = arrow[start:start + size]
        values = {plan.tensor: plan.values(_field(table, plan.column.split(PATH_SEP))) for plan in plans}
        yield values, [f"{source} row {start + i}" for i in range(table.num_rows)]


# --- to Hugging Face ------------------------------------------------------------------------------


def to_huggingface(ds: Dataset) -> Any:
    """``ds.to_huggingface()``: the dataset (or view) as a ``datasets.Dataset``, one column per
    tensor (groups as ``group/tensor``): a class_label tensor of one label per sample as a
    ``ClassLabel`` of its class names (an empty sample as -1), a compressed image tensor as an
    ``Image`` of the stored bytes (byte-identical), text as strings, json as JSON text, list as a
    sequence of its items, other tensors as nested sequences of their dtype. Every value is read
    into memory."""
    hf = _datasets()
    data: dict[str, list[Any]] = {}
    features = {}
    for name, tensor in ds.tensors.items():
        if tensor.meta.hidden:
            continue
        data[name], features[name] = _column(tensor, hf)
    return hf.Dataset.from_dict(data, features=hf.Features(features))


def _column(tensor: Any, hf: Any) -> tuple[list[Any], Any]:
    base, kind = tensor.meta.base_htype, tensor.meta.kind
    if tensor.meta.link or tensor.meta.sequence:
        return [json.dumps(_plain(v)) for v in tensor.numpy(aslist=True)], hf.Value("string")
    if base == "image" and tensor.meta.sample_compression in ("jpeg", "png", "webp"):
        return [{"bytes": tensor[i].tobytes() or None, "path": None} for i in range(len(tensor))], hf.Image()
    if kind == "text":
        return [str(v) for v in tensor.text()] if len(tensor) else [], hf.Value("string")
    if kind == "json" and base in ("list", "tag"):
        items = [list(np.asarray(v).ravel()) for v in tensor.numpy(aslist=True)]
        if all(isinstance(x, str) for v in items for x in v):
            return items, hf.Sequence(hf.Value("string"))
        return [json.dumps(_plain(v)) for v in items], hf.Value("string")
    if kind == "json":
        return [json.dumps(_plain(v)) for v in tensor.dict()], hf.Value("string")
    values = tensor.numpy(aslist=True)
    if base == "class_label" and all(np.size(v) <= 1 for v in values):
        names = list(tensor.info.class_names) or [str(i) for i in range(int(max((int(np.max(v)) for v in values
                                                                                 if np.size(v)), default=-1)) + 1)]
        return [int(np.ravel(v)[0]) if np.size(v) else -1 for v in values], hf.ClassLabel(names=names)
    if kind == "polygon":
        return [[np.asarray(p).tolist() for p in v] for v in values], _nested(hf, "float32", 3)
    dtype = np.dtype(tensor.dtype or "float64").name
    if all(np.size(v) == 1 and np.ndim(v) <= 1 for v in values):
        return [np.ravel(v)[0].item() for v in values], hf.Value(dtype)
    ndim = max((np.ndim(v) for v in values), default=1)
    return [np.asarray(v).tolist() for v in values], _nested(hf, dtype, ndim)


def _nested(hf: Any, dtype: str, depth: int) -> Any:
    feature = hf.Value(dtype)
    for _ in range(max(depth, 1)):
        feature = hf.Sequence(feature)
    return feature


def _plain(value: Any) -> Any:
    """A value as plain JSON types."""
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype != object else [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def install() -> None:
    """Provide ``Dataset.to_huggingface`` (declared in ``core.extensions``)."""
    provide(to_huggingface=to_huggingface)
