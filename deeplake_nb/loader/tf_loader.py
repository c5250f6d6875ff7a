"""``ds.tensorflow()``: Deep Lake v3's ``tf.data.Dataset`` of a dataset's samples.

The ``tf.data.Dataset`` is ``tf.data.Dataset.from_generator`` over a ``numpy_batches.NumpyBatches``
(the loader's planner, coalesced reads and threaded decode), with an ``output_signature`` taken
from the tensors' metadata, so TensorFlow knows dtypes and shapes before the first sample:

- numeric tensors: their dtype, the tensor's sample shape (``tensor.shape[1:]``, None where
  samples differ; unknown rank for linked files, whose shapes are not read ahead);
- text: ``tf.string`` of shape (1,) (UTF-8), as v3 gives it; json: its JSON text, (1,);
  list and tag: ``tf.string`` of shape (None,); ``tobytes`` tensors: the stored bytes, (1,);
- ``index`` (``return_index=True``): int64, (1,).

``batch_size=None`` (v3's form) yields one sample dict at a time; batch it with tf.data
(``.batch(n)``, or ``.ragged_batch(n)`` / ``.padded_batch(n)`` for tensors whose samples differ in
shape). ``batch_size=n`` yields the loader's own batches, exactly what ``.batch(n)`` would make of
the samples, with less per-sample work; it needs a fixed sample shape in every tensor.

Under ``tf.distribute``, give each input pipeline its share:
``strategy.distribute_datasets_from_function(lambda ctx: ds.tensorflow(batch_size=n, shuffle=True,
seed=s, num_replicas=ctx.num_input_pipelines, rank=ctx.input_pipeline_id))``.

Every iteration of the returned dataset is one epoch of the plan (a new permutation when
shuffling, a contiguous share with ``num_replicas``/``rank``); ``tf_dataset.loader`` is the
``NumpyBatches`` behind it: ``state_dict()`` after a batch, then ``load_state_dict(state)`` on a
new one continues with the next (what the generator handed over; tf.data's ``prefetch`` may hold
more). TensorFlow is imported when the dataset is made, never by ``import deeplake_nb``.

Options are checked when the dataset is made (our ``LoaderOptionError`` and the like). An error
while reading (an unreadable sample without ``ignore_errors=True``, a transform's) happens inside
tf.data's generator op, which TensorFlow re-raises as its own ``tf.errors.InvalidArgumentError``
carrying our exception's class name and message (``CorruptSampleError: ... sample index 3 ...``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import LoaderDependencyError, LoaderOptionError
from ..format import htypes
from .numpy_batches import NumpyBatches

SAMPLE_READ_BATCH = 32
"""Rows read and decoded together when the dataset yields single samples (``batch_size=None``)."""


def import_tensorflow() -> Any:
    """The ``tensorflow`` module; ``LoaderDependencyError`` naming the extra when it is not installed."""
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise LoaderDependencyError(f"ds.tensorflow() needs TensorFlow, which is not installed ({exc}); pip install "
                                    "'deeplake_nb[tensorflow]' (or tensorflow-cpu).") from exc
    return tf


class _Column:
    """How one key of a batch becomes TensorFlow input: its ``tf.TensorSpec`` (per sample) and the
    conversion of the loader's batch value (an array, or a list of str / objects / bytes / arrays)."""

    def __init__(self, name: str, kind: str, dtype: Any, shape: tuple[int | None, ...] | None) -> None:
        self.name, self.kind, self.dtype, self.shape = name, kind, dtype, shape

    def spec(self, tf: Any, batched: bool, size: int | None) -> Any:
        """Per sample, or per batch of ``size`` rows (None: the last batch may be shorter)."""
        dtype = tf.string if self.kind != "array" else tf.as_dtype(self.dtype)
        shape = None if self.shape is None else ((size,) if batched else ()) + self.shape
        return tf.TensorSpec(shape=shape, dtype=dtype)

    def sample(self, value: Any) -> np.ndarray:
        """One sample's value (an item of the batch value) as NumPy for TensorFlow."""
        if self.kind == "array":
            return np.asarray(value)
        if self.kind == "items":  # list / tag: the items as text
            return np.asarray([str(v).encode() for v in value], dtype=object)
        if self.kind == "json":
            return np.asarray([htypes.json_bytes(value)], dtype=object)
        if self.kind == "bytes":
            return np.asarray([bytes(value)], dtype=object)
        return np.asarray([value.encode() if isinstance(value, str) else str(value).encode()], dtype=object)

    def batch(self, value: Any) -> np.ndarray:
        """The whole batch value as one array (fixed sample shapes only)."""
        if self.kind == "array" and isinstance(value, np.ndarray):
            return value
        return np.stack([self.sample(v) for v in value])


def _columns(batches: NumpyBatches, ds: Any) -> list[_Column]:
    out = []
    for name in batches.source.names:
        meta = batches.source.meta(name)
        method = batches.config.method(name)
        if method not in ("numpy", "tobytes"):
            raise LoaderOptionError(f"ds.tensorflow() decodes with 'numpy' or 'tobytes' (tobytes=...); {name!r} asks "
                                    f"for {method!r}.")
        if method == "tobytes":
            out.append(_Column(name, "bytes", None, (1,)))
        elif meta.sequence or meta.kind not in ("array", "text", "json"):
            raise LoaderOptionError(f"Tensor {name!r} ({meta.htype_name}) has no tf.data form; leave it out "
                                    "(tensors=[...]) or read its stored bytes (tobytes=[...]).")
        elif meta.kind == "text":
            out.append(_Column(name, "text", None, (1,)))
        elif meta.kind == "json":
            listed = meta.base_htype in htypes.LIST_HTYPES
            out.append(_Column(name, "items" if listed else "json", None, (None,) if listed else (1,)))
        else:
            shape = None if meta.link else tuple(ds[name].shape[1:])
            out.append(_Column(name, "array", _dtype(name, meta), shape))
    if batches.config.index_in_sample and "index" not in batches.source.names:
        out.append(_Column("index", "array", np.dtype(np.int64), (1,)))
    return out


def _dtype(name: str, meta: Any) -> np.dtype:
    """A numeric tensor's dtype; linked images, whose tensors record none, decode to uint8."""
    if meta.dtype is not None:
        return np.dtype(meta.dtype)
    if (meta.base_htype or "").startswith("image"):
        return np.dtype(np.uint8)
    raise LoaderOptionError(f"Tensor {name!r} has no dtype to declare to tf.data; create it with dtype=..., or "
                            "read its stored bytes (tobytes=[...]).")


def tensorflow(ds: Any, tensors: Sequence[str] | None = None, tobytes: bool | Sequence[str] = False,
               fetch_chunks: bool = True, *, batch_size: int | None = None, shuffle: bool | str = False,
               seed: int | None = None, drop_last: bool = False, num_replicas: int = 1, rank: int = 0,
               return_index: bool = False, **options: Any) -> Any:
    """A ``tf.data.Dataset`` over ``ds``; see ``Dataset.tensorflow``."""
    tf = import_tensorflow()
    if not isinstance(fetch_chunks, bool):
        raise LoaderOptionError(f"fetch_chunks must be True or False; got {fetch_chunks!r}.")
    if "transform" in options or "collate_fn" in options:
        raise LoaderOptionError("ds.tensorflow() yields the stored samples; transform them with tf.data's .map(...), "
                                "or use ds.numpy_batches(transform=...).")
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1):
        raise LoaderOptionError(f"batch_size must be None (single samples) or an int >= 1; got {batch_size!r}.")
    batches = NumpyBatches(ds, tensors=tensors, batch_size=batch_size or SAMPLE_READ_BATCH, shuffle=shuffle,
                           seed=seed, drop_last=drop_last if batch_size else False, tobytes=tobytes,
                           num_replicas=num_replicas, rank=rank, return_index=return_index, **options)
    columns = _columns(batches, ds)
    if batch_size is not None:
        ragged = [c.name for c in columns if c.shape is None or None in c.shape]
        if ragged:
            raise LoaderOptionError(f"Tensors {ragged} have samples of different shapes, which one batch array cannot "
                                    "hold; use batch_size=None and tf.data's .ragged_batch(n) or .padded_batch(n).")

    def batched() -> Iterator[dict[str, np.ndarray]]:
        for batch in batches:
            yield {c.name: c.batch(batch[c.name]) for c in columns}

    def samples() -> Iterator[dict[str, np.ndarray]]:
        for batch in batches:
            n = len(batch[columns[0].name])
            for i in range(n):
                yield {c.name: c.sample(batch[c.name][i]) for c in columns}

    signature = {c.name: c.spec(tf, batch_size is not None, batch_size if drop_last else None) for c in columns}
    dataset = tf.data.Dataset.from_generator(batched if batch_size else samples, output_signature=signature)
    exact = tf.data.Options()  # no prefetch tf.data would add on its own: the state is what was consumed
    exact.experimental_optimization.inject_prefetch = False
    dataset = dataset.with_options(exact)
    dataset.loader = batches  # state_dict / load_state_dict / set_epoch / skipped
    return dataset
