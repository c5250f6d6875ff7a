"""The CUDA kernels of ``kernels/*.cu``, compiled by CuPy at first use and launched on CuPy's
current stream (``transforms`` makes that torch's current stream).

Each function mirrors the NumPy twin of the same name in ``twins.py`` (same arguments, same
results within float32 rounding); parameters arrive as host NumPy arrays from ``params.py``.
CuPy is imported inside the functions only: importing this module never needs a GPU.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from . import twins
from .resources import kernel_source

THREADS = 256


@functools.lru_cache(maxsize=None)
def module(name: str) -> Any:
    """``cupy.RawModule`` of ``kernels/<name>``, compiled once per process (CuPy also caches the
    binary on disk)."""
    import cupy

    return cupy.RawModule(code=kernel_source(name), options=("--std=c++14",))


def _launch(source: str, kernel: str, total: int, args: tuple[Any, ...], threads: int = THREADS,
            shared_mem: int = 0, blocks: int | None = None) -> None:
    fn = module(source).get_function(kernel)
    if blocks is None:
        blocks = max(1, (total + threads - 1) // threads)
    fn((blocks,), (threads,), args, shared_mem=shared_mem)


def pack(images: Sequence[Any]) -> tuple[Any, np.ndarray, np.ndarray]:
    """Ragged HWC uint8 images -> (one flat device buffer, offsets int64, (N, 3) int32 shapes).

    Host images are concatenated on the host and copied once; device images are concatenated
    on the device."""
    import cupy

    shapes = np.asarray([img.shape[:2] + (img.shape[2] if img.ndim == 3 else 1,) for img in images], np.int32)
    sizes = shapes.prod(axis=1, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if all(isinstance(img, np.ndarray) for img in images):
        flat = cupy.asarray(np.concatenate([np.ascontiguousarray(img, np.uint8).ravel() for img in images]))
    else:
        flat = cupy.concatenate([cupy.asarray(img, dtype=cupy.uint8).ravel() for img in images])
    return flat, offsets, shapes


def resized_crop(images: Sequence[Any] | Any, boxes: np.ndarray, flips: np.ndarray | None,
                 size: tuple[int, int]) -> Any:
    """GPU ``twins.resized_crop``: ragged or NHWC uint8 -> (N, out_h, out_w, C) float32 CuPy."""
    import cupy

    n = len(images)
    out_h, out_w = size
    if isinstance(images, cupy.ndarray) and images.ndim == 4:   # dense batch: no packing copy
        flat = cupy.ascontiguousarray(images, dtype=cupy.uint8).ravel()
        shapes = np.tile(np.asarray(images.shape[1:], np.int32), (n, 1))
        offsets = np.arange(n, dtype=np.int64) * int(np.prod(images.shape[1:]))
    else:
        flat, offsets, shapes = pack(list(images))
    channels = twins.out_channels(shapes[:, 2].tolist())
    flips = np.zeros(n, np.uint8) if flips is None else np.asarray(flips, np.uint8)
    out = cupy.empty((n, out_h, out_w, channels), cupy.float32)
    if n == 0:
        return out
    args = (flat, cupy.asarray(offsets), cupy.asarray(np.ascontiguousarray(shapes[:, 0])),
            cupy.asarray(np.ascontiguousarray(shapes[:, 1])), cupy.asarray(np.ascontiguousarray(shapes[:, 2])),
            cupy.asarray(np.asarray(boxes, np.float32).reshape(n, 4)), cupy.asarray(flips), out,
            np.int32(n), np.int32(out_h), np.int32(out_w), np.int32(channels))
    _launch("resized_crop.cu", "resized_crop_bilinear", n * out_h * out_w, args)
    return out


def flip(batch: Any, flags: np.ndarray) -> Any:
    """GPU ``twins.flip`` (plain CuPy indexing; no kernel of its own)."""
    import cupy

    out = batch.copy()
    idx = cupy.asarray(np.nonzero(np.asarray(flags, bool))[0])
    if len(idx):
        out[idx] = batch[idx][:, :, ::-1]
    return out


def color_jitter(batch: Any, brightness: np.ndarray, contrast: np.ndarray) -> Any:
    """GPU ``twins.color_jitter`` on an NHWC float32 CuPy batch."""
    import cupy

    if batch.shape[-1] not in (1, 3):
        raise ValueError(f"color jitter takes 1- or 3-channel images; got {batch.shape[-1]} channels.")
    x = cupy.ascontiguousarray(batch, dtype=cupy.float32)
    n, hw, c = x.shape[0], x.shape[1] * x.shape[2], x.shape[3]
    out = cupy.empty_like(x)
    if n == 0:
        return out
    b = cupy.asarray(np.asarray(brightness, np.float32))
    k = cupy.asarray(np.asarray(contrast, np.float32))
    means = cupy.empty(n, cupy.float32)
    _launch("color_jitter.cu", "gray_mean", n, (x, b, means, np.int32(hw), np.int32(c)),
            shared_mem=THREADS * 8, blocks=n)
    _launch("color_jitter.cu", "brightness_contrast", x.size,
            (x, b, k, means, out, np.int32(n), np.int32(hw), np.int32(c)))
    return out


def normalize(batch: Any, mean: Sequence[float], std: Sequence[float]) -> Any:
    """GPU ``twins.normalize``: NHWC uint8/float32 CuPy -> NCHW float32 CuPy."""
    import cupy

    kernel = "normalize_hwc_to_chw_u8" if batch.dtype == cupy.uint8 else "normalize_hwc_to_chw_f32"
    x = cupy.ascontiguousarray(batch, dtype=cupy.uint8 if batch.dtype == cupy.uint8 else cupy.float32)
    n, h, w, c = x.shape
    scale, shift = twins.normalize_coefficients(mean, std, c)
    out = cupy.empty((n, c, h, w), cupy.float32)
    if n:
        _launch("normalize.cu", kernel, out.size, (x, cupy.asarray(scale), cupy.asarray(shift), out,
                                                    np.int32(n), np.int32(h * w), np.int32(c)))
    return out
