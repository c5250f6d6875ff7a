"""Streaming loader: planned order (shuffle, shard, resume), coalesced fetch, threaded decode,
zero-copy collate, PyTorch front ends.

Importing this package does not import torch, TensorFlow or JAX; ``Dataset.pytorch``/``dataloader``/
``torch_dataset``, ``Dataset.tensorflow`` and ``Dataset.jax`` (declared in ``core.extensions``,
provided by ``install``) import theirs when called; naming ``deeplake_nb.loader.Loader`` imports torch.

Modules: ``sampler`` (order, DDP shards, resume state), ``fetch`` (coalesced range reads),
``decode`` (decode methods), ``collate`` (batch buffers), ``engine`` (the per-process pipeline),
``local_cache`` (the disk cache a remote dataset is read through), ``compat`` (Deep Lake v3's options: ``batch_size=None``, ``buffer_size``, ``tobytes`` ...),
``torch_loader`` (``Loader``, ``TorchDataset``), ``numpy_batches`` (``NumpyBatches``: the same
pipeline in process, NumPy batches, no torch), ``jax_loader`` and ``tf_loader`` (``ds.jax()``,
``ds.tensorflow()`` over it), ``stage`` (the main-process batch stage hook that
``deeplake_nb.gpu`` fills: DALI decoding, batched GPU transforms, ``device``), ``builder``
(``ds.dataloader()``), ``transforms``, ``throughput`` (``stream_epoch_images_per_s``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.extensions import provide
from .builder import DataLoaderBuilder
from .collate import TensorDict
from .numpy_batches import NumpyBatches
from . import local_cache, source, warmup
from .throughput import stream_epoch_images_per_s
from .transforms import CropNormalize

if TYPE_CHECKING:
    from .torch_loader import Loader, TorchDataset


def pytorch_loader(ds: Any, **options: Any) -> Loader:
    """``ds.pytorch(**options)`` (and the builder's ``.pytorch()`` / ``.numpy()``): the fork server
    started and the dataset's chunks prefetched through its disk cache before torch is imported."""
    warmup.start_early(ds.path, options.get("num_workers", 0), options.get("multiprocessing_context"))
    ds = local_cache.for_loader(ds, options)
    source.prefetch(ds, options.get("tensors"))  # the chunks arrive while torch is imported
    from .torch_loader import Loader

    return Loader(ds, **options)


def _torch_dataset(ds: Any, **options: Any) -> TorchDataset:
    from .torch_loader import TorchDataset

    return TorchDataset(local_cache.for_loader(ds, options), **options)


def _numpy_batches(ds: Any, **options: Any) -> NumpyBatches:
    return NumpyBatches(local_cache.for_loader(ds, options), **options)


def _jax(ds: Any, **options: Any) -> NumpyBatches:
    from .jax_loader import jax_batches

    return jax_batches(local_cache.for_loader(ds, options), **options)


def _tensorflow(ds: Any, *args: Any, **options: Any) -> Any:
    from .tf_loader import tensorflow

    return tensorflow(local_cache.for_loader(ds, options), *args, **options)


def install() -> None:
    """Provide ``Dataset.pytorch``, ``torch_dataset``, ``dataloader``, ``numpy_batches``, ``jax``
    and ``tensorflow`` (declared, with their options, in ``core.extensions``)."""
    provide(pytorch=pytorch_loader, torch_dataset=_torch_dataset, dataloader=DataLoaderBuilder, numpy_batches=_numpy_batches,
            jax=_jax, tensorflow=_tensorflow)


def __getattr__(name: str) -> Any:
    """``Loader`` and ``TorchDataset`` import torch: loaded when first named."""
    if name in ("Loader", "TorchDataset"):
        from . import torch_loader

        return getattr(torch_loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CropNormalize", "DataLoaderBuilder", "NumpyBatches", "TensorDict", "install", "stream_epoch_images_per_s"]
