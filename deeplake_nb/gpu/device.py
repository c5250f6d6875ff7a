"""Where GPU work runs: detect a usable CUDA device and resolve ``device="auto"|"cuda"|"cpu"``.

Contract: nothing here imports CuPy, DALI or torch at module import time, and detection never
raises: a missing driver, a CPU-only build or an absent package all read as "no GPU". Asking
for ``"cuda"`` without one raises ``GPUUnavailableError``; ``"auto"`` falls back to ``"cpu"``
with a ``GPUFallbackWarning`` that says why.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Literal

from ..cuda import cupy_device_count, has_package
from ..errors import GPUError, GPUFallbackWarning, GPUUnavailableError, MissingDependencyError

Device = Literal["cuda", "cpu"]
DEVICES = ("auto", "cuda", "cpu")
INSTALL_HINT = "pip install 'deeplake_nb[gpu]' (nvidia-dali-cuda120, cupy-cuda12x)"


def torch_cuda_available() -> bool:
    """``torch.cuda.is_available()``, or False when torch is missing."""
    if not has_package("torch"):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def cuda_available() -> bool:
    """Whether any CUDA device is usable (seen by CuPy or by torch)."""
    return cupy_device_count() > 0 or torch_cuda_available()


def resolve(device: str, needs: tuple[str, ...] = (), what: str = "this operation") -> Device:
    """Resolve ``"auto"|"cuda"|"cpu"`` to ``"cuda"`` or ``"cpu"``.

    ``needs`` names the packages the CUDA path requires (``"cupy"``, ``"nvidia.dali"``); the CUDA
    path is taken only when a device is present *and* those are installed. The fallback warning
    points at the first caller outside this package (the user's line).
    """
    if device not in DEVICES:
        raise GPUError(f"device must be one of {DEVICES}; got {device!r}.")
    if device == "cpu":
        return "cpu"
    missing = [name for name in needs if not has_package(name)]
    reason = None
    if not cuda_available():
        reason = "no CUDA device is visible (no GPU, no driver, or a CPU-only build)"
    elif missing:
        reason = f"{', '.join(missing)} is not installed ({INSTALL_HINT})"
    if reason is None:
        return "cuda"
    if device == "cuda":
        raise GPUUnavailableError(f'device="cuda" was asked for {what}, but {reason}. '
                                  'Pass device="auto" to fall back to the CPU, or device="cpu".')
    warnings.warn(f"{what} runs on the CPU: {reason}.", GPUFallbackWarning, stacklevel=user_stacklevel())
    return "cpu"


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by this package's caller of it point at the
    first frame outside ``deeplake_nb`` (``warnings.warn`` counts itself's caller as 1)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def require(module: str, pip_name: str) -> None:
    """Raise ``MissingDependencyError`` (with the pip command) when ``module`` is not installed."""
    if not has_package(module):
        raise MissingDependencyError(f"{module} is not installed; run `pip install {pip_name}`.")


def current_device_id() -> int:
    """The CUDA device torch (or else CuPy) currently uses; 0 if neither says."""
    if torch_cuda_available():
        import torch

        return int(torch.cuda.current_device())
    if cupy_device_count():
        import cupy

        return int(cupy.cuda.runtime.getDevice())
    return 0
