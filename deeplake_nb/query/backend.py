"""Where a query's heavy vector math runs: NumPy, or CuPy when a GPU is present.

``module_for(nbytes)`` picks the array module for an expression that reads ``nbytes``: CuPy
when ``DEVICE`` allows it, CuPy is installed, a CUDA device answers and the data is at least
``GPU_MIN_BYTES`` (copying a few MB to the device costs more than it saves); NumPy otherwise.
CuPy is looked up with ``importlib`` and imported only the first time a big enough expression
asks for it, never when ``deeplake_nb`` is imported. Only the vector functions
(``cosine_similarity``, ``l1_norm``, ``l2_norm``, ``linf_norm`` and the ORDER BY ... LIMIT scan
over them) use it; their results come back as NumPy arrays.

``DEVICE`` comes from the environment variable ``DEEPLAKE_NB_QUERY_DEVICE``:

- ``auto`` (default): the GPU for big inputs when there is one;
- ``cpu``: never the GPU;
- ``gpu``: the GPU for every input size (still NumPy when there is no GPU).

``forced(xp)`` makes every choice return ``xp`` for a while; with ``xp=numpy`` it runs the
device code path on the CPU, which is how the tests check its plumbing without a GPU.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType
from typing import Any, Iterator

import numpy as np

from ..cuda import usable_cupy

DEVICE = os.environ.get("DEEPLAKE_NB_QUERY_DEVICE", "auto").strip().lower() or "auto"
GPU_MIN_BYTES = 64 << 20   # smaller inputs stay on the CPU
GPU_BATCH_BYTES = 256 << 20  # rows per device batch: about this many input bytes

_FORCED: list[Any] = []     # a stack of forced modules (tests)


def gpu_module() -> ModuleType | None:
    """CuPy when it is installed and a CUDA device is usable (checked once), else None."""
    return usable_cupy()


def module_for(nbytes: int) -> Any:
    """The array module for vector math over ``nbytes`` of input (NumPy or CuPy)."""
    if _FORCED:
        return _FORCED[-1]
    device = DEVICE
    if device == "cpu" or (device != "gpu" and nbytes < GPU_MIN_BYTES):
        return np
    return gpu_module() or np


def on_device(xp: Any) -> bool:
    """True when ``xp`` is not plain NumPy used directly (CuPy, or a module forced by a test)."""
    return xp is not np


@contextlib.contextmanager
def forced(xp: Any) -> Iterator[None]:
    """Every ``module_for`` answers ``xp`` inside the block (runs the device path with any module)."""
    _FORCED.append(xp)
    try:
        yield
    finally:
        _FORCED.pop()


def to_host(array: Any) -> np.ndarray:
    """A NumPy array of ``array`` (copied from the device when it lives there)."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    return np.asarray(get() if callable(get) else array)
