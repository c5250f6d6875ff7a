"""Backends that run the batched image ops: ``CPUBackend`` (the NumPy twins) and ``CUDABackend``
(the CuPy kernels). Both take the same batches and host-side parameters, and hand results to
torch without copies (``torch.from_numpy`` / ``torch.from_dlpack``).

A batch is either a list of HWC images (ragged, as decoded) or one NHWC array.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from . import twins


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "device")


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy")


def _hwc(img: Any) -> Any:
    return img[:, :, None] if img.ndim == 2 else img


class CPUBackend:
    """NumPy twins; results stay on the host."""

    name = "cpu"
    ops = twins

    def to_batch(self, images: Any) -> list[np.ndarray] | np.ndarray:
        """A list of HWC arrays or an NHWC array, as NumPy (from NumPy, torch or CuPy inputs)."""
        if isinstance(images, np.ndarray) or _is_torch(images) or _is_cupy(images):
            arr = self.host(images)
            if arr.ndim == 3:           # one gray batch (N, H, W)
                arr = arr[..., None]
            if arr.ndim != 4:
                raise ValueError(f"a batch array must be NHWC (4-D); got shape {arr.shape}.")
            return arr
        return [_hwc(self.host(img)) for img in images]

    @staticmethod
    def host(x: Any) -> np.ndarray:
        if _is_torch(x):
            return x.detach().cpu().numpy()
        if _is_cupy(x):
            return x.get()
        return np.asarray(x)

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        yield

    def dense(self, batch: Any) -> np.ndarray:
        if isinstance(batch, np.ndarray):
            return batch
        return _stack(np.stack, batch)

    def to_torch(self, array: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(array))


class CUDABackend:
    """CuPy kernels from ``kernels/``, launched on torch's current CUDA stream (when torch has
    CUDA), so torch reads the results through DLPack without a copy or a sync."""

    name = "cuda"

    @property
    def ops(self) -> Any:
        from . import kernels

        return kernels

    def to_batch(self, images: Any) -> Any:
        """Device inputs (CuPy, CUDA torch) stay on the device; host inputs stay on the host
        until the first op packs and uploads them in one copy."""
        import cupy

        if _is_torch(images):
            images = cupy.from_dlpack(images.detach()) if images.is_cuda else images.detach().numpy()
        if isinstance(images, (np.ndarray, cupy.ndarray)):
            if images.ndim == 3:
                images = images[..., None]
            if images.ndim != 4:
                raise ValueError(f"a batch array must be NHWC (4-D); got shape {images.shape}.")
            return images
        out = []
        for img in images:
            if _is_torch(img):
                img = cupy.from_dlpack(img.detach()) if img.is_cuda else img.detach().numpy()
            out.append(_hwc(img if isinstance(img, cupy.ndarray) else np.asarray(img)))
        return out

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        import cupy

        from .device import torch_cuda_available

        if torch_cuda_available():
            import torch

            with cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
                yield
        else:
            yield

    def dense(self, batch: Any) -> Any:
        import cupy

        if isinstance(batch, (np.ndarray, cupy.ndarray)):
            return cupy.asarray(batch)
        if all(isinstance(img, np.ndarray) for img in batch):
            return cupy.asarray(_stack(np.stack, batch))
        return _stack(cupy.stack, [cupy.asarray(img) for img in batch])

    def to_torch(self, array: Any) -> Any:
        import torch

        return torch.from_dlpack(array)


def _stack(stack: Any, images: Sequence[Any]) -> Any:
    shapes = {tuple(img.shape) for img in images}
    if len(shapes) > 1:
        raise ValueError(f"images of different shapes ({sorted(shapes)[:3]} ...) need a crop or resize "
                         "(RandomResizedCrop, ResizeCenterCrop) before this transform.")
    return stack(list(images))


def backend_for(device: str) -> CPUBackend | CUDABackend:
    """The backend of a resolved device (``"cuda"`` or ``"cpu"``)."""
    return CUDABackend() if device == "cuda" else CPUBackend()
