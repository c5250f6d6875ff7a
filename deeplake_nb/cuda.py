"""Is there a usable CUDA device, and which optional packages are installed? Asked without
importing anything heavy, and never raising: a missing package, driver or device all read as
"no". The one place both the GPU data path (``gpu.device``) and the query engine
(``query.backend``) ask.
"""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType


def has_package(name: str) -> bool:
    """Whether ``name`` is importable, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=None)
def cupy_device_count() -> int:
    """CUDA devices CuPy can use; 0 when CuPy is missing or has no driver / device."""
    if not has_package("cupy"):
        return 0
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CUDARuntimeError, missing libcuda, CPU-only container: all mean "none"
        return 0


@functools.lru_cache(maxsize=None)
def usable_cupy() -> ModuleType | None:
    """The CuPy module when a device answers a first small computation (checked once), else None."""
    if cupy_device_count() < 1:
        return None
    try:
        import cupy

        cupy.zeros(1).sum().item()  # a device that is present but unusable fails here
        return cupy
    except Exception:  # noqa: BLE001 - a broken install or device: the CPU it is
        return None
