"""``ds.jax()``: the loader's batches as JAX arrays, handed over by DLPack.

A ``numpy_batches.NumpyBatches`` whose every batch goes through ``to_jax``: each numeric array
(and each numeric item of a ragged tensor's list) becomes a ``jax.Array`` through
``jax.dlpack.from_dlpack``, which on the CPU shares the batch buffer instead of copying it (the
buffer is the batch's own, never reused, and ``collate`` aligns it to the 64 bytes XLA needs to
adopt it); on another ``device`` JAX copies it there. Text, json
and byte values stay as they are (str, objects, bytes). JAX's own dtype rules apply: with
``jax_enable_x64`` off (its default) 64-bit values arrive as 32-bit ones (``index`` as int32).
JAX is imported when the loader is made, never by ``import deeplake_nb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import LoaderDependencyError, LoaderOptionError
from .numpy_batches import NumpyBatches


def import_jax() -> Any:
    """The ``jax`` module; ``LoaderDependencyError`` naming the extra when it is not installed."""
    try:
        import jax
        import jax.dlpack
    except ImportError as exc:
        raise LoaderDependencyError(f"ds.jax() needs JAX, which is not installed ({exc}); pip install "
                                    "'deeplake_nb[jax]' (or jax[cuda12] for NVIDIA GPUs).") from exc
    return jax


class ToJax:
    """Batch -> the same batch with JAX arrays for its numeric arrays (on ``device``, if given)."""

    def __init__(self, device: Any = None) -> None:
        self.jax = import_jax()
        if isinstance(device, str):
            try:
                device = self.jax.devices(device)[0]
            except RuntimeError as exc:
                raise LoaderOptionError(f"JAX has no {device!r} device ({exc}); pass device=None for JAX's "
                                        f"default ({self.jax.devices()[0]}).") from None
        self.device = device

    def array(self, value: np.ndarray) -> Any:
        if not value.flags.c_contiguous or not value.flags.writeable:  # DLPack exports neither
            value = np.array(value, order="C")
        out = self.jax.dlpack.from_dlpack(value)
        return out if self.device is None else self.jax.device_put(out, self.device)

    def value(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            return self.array(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def __call__(self, batch: Any) -> Any:
        if isinstance(batch, dict):
            return {key: self.value(v) for key, v in batch.items()}
        if isinstance(batch, tuple):
            return tuple(self.value(v) for v in batch)
        return self.value(batch)


def jax_batches(ds: Any, *, device: Any = None, **options: Any) -> NumpyBatches:
    """``NumpyBatches`` over ``ds`` yielding JAX arrays; see ``Dataset.jax``. In a multi-process
    JAX program (``jax.distributed.initialize``) each process reads its share
    (``num_replicas=jax.process_count()``, ``rank=jax.process_index()``) unless those are given,
    as ``ds.pytorch()`` shards under a torch process group."""
    convert = ToJax(device)
    jax = convert.jax
    if "num_replicas" not in options and "rank" not in options and jax.process_count() > 1:
        options.update(num_replicas=jax.process_count(), rank=jax.process_index())
    return NumpyBatches(ds, convert=convert, **options)
