"""NumPy twins of the CUDA kernels in ``kernels/``: same inputs, same parameters, same results
(within float32 rounding). They run wherever there is no GPU and are the reference the GPU tests
compare against.

Layouts: images are HWC (``C`` in 1 or 3; a 1-channel image is broadcast when others have 3),
batches are NHWC; ``normalize`` is the step that turns NHWC into NCHW float32.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

GRAY_WEIGHTS = (0.299, 0.587, 0.114)   # ITU-R 601 luma, as torchvision's rgb_to_grayscale


def out_channels(channels: Sequence[int]) -> int:
    """The channel count of a batch built from images with ``channels``: 1-channel images are
    broadcast to the others' count; any other mix is an error."""
    distinct = set(int(c) for c in channels) - {1}
    if len(distinct) > 1 or (distinct and distinct.pop() not in (3, 4)):
        raise ValueError(f"images in one batch must have 1 or one common 3/4 channel count; got {sorted(set(channels))}.")
    return max(int(c) for c in channels) if len(channels) else 3


def source_coords(start: float, extent: float, out: int, limit: int, flip: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling of ``out`` pixels over ``[start, start + extent)`` of an axis of length
    ``limit``: pixel centres map as ``start + (o + 0.5) * extent / out - 0.5``, clamped to the
    image (edge pixels repeat). Returns (low index, high index, weight of high), float32 maths as
    in the kernel; ``flip`` mirrors the output."""
    o = np.arange(out, dtype=np.float32)
    if flip:
        o = o[::-1]
    step = np.float32(extent) / np.float32(out)
    s = np.float32(start) + (o + np.float32(0.5)) * step - np.float32(0.5)
    s = np.clip(s, np.float32(0), np.float32(limit - 1))
    low = np.floor(s).astype(np.int64)
    high = np.minimum(low + 1, limit - 1)
    return low, high, (s - low.astype(np.float32)).astype(np.float32)


def resized_crop(images: Sequence[np.ndarray] | np.ndarray, boxes: np.ndarray, flips: np.ndarray | None,
                 size: tuple[int, int]) -> np.ndarray:
    """Twin of ``resized_crop_bilinear`` (kernels/resized_crop.cu).

    Crops box ``[top, left, height, width]`` of each uint8 HWC image, resizes it bilinearly to
    ``size`` (no antialiasing, pixel-centre aligned), mirrors it when ``flips[i]``; returns
    (N, out_h, out_w, C) float32 in [0, 255], unrounded.
    """
    n = len(images)
    out_h, out_w = size
    flips = np.zeros(n, bool) if flips is None else np.asarray(flips, bool)
    boxes = np.asarray(boxes, np.float32).reshape(n, 4)
    channels = out_channels([img.shape[2] for img in images])
    out = np.empty((n, out_h, out_w, channels), np.float32)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        top, left, box_h, box_w = boxes[i]
        y0, y1, wy = source_coords(top, box_h, out_h, h)
        x0, x1, wx = source_coords(left, box_w, out_w, w, bool(flips[i]))
        # horizontal pass over the rows the box touches, then the vertical pass: the kernel's
        # order of operations, so both round alike
        first, last = int(y0.min()), int(y1.max()) + 1
        c = img.shape[2]
        rows = np.ascontiguousarray(img[first:last]).reshape(last - first, w * c)
        lanes = np.arange(c)
        left_px = rows[:, (x0[:, None] * c + lanes).ravel()].reshape(last - first, out_w, c)
        right_px = rows[:, (x1[:, None] * c + lanes).ravel()].reshape(last - first, out_w, c)
        wx = wx[None, :, None]
        across = np.multiply(left_px, np.float32(1) - wx, dtype=np.float32)   # in-place from here on:
        across += np.multiply(right_px, wx, dtype=np.float32)                 # same rounding, fewer copies
        wy = wy[:, None, None]
        upper = across[y0 - first]
        upper *= np.float32(1) - wy
        lower = across[y1 - first]
        lower *= wy
        upper += lower
        out[i] = upper                                                        # broadcasts 1 channel
    return out


def flip(batch: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Mirror left-right the NHWC images whose flag is set (a new array)."""
    out = batch.copy()
    flags = np.asarray(flags, bool)
    out[flags] = batch[flags][:, :, ::-1]
    return out


def gray_means(batch: np.ndarray) -> np.ndarray:
    """Per-image mean luma of an NHWC float32 batch (C in 1 or 3), accumulated in float64,
    returned as float32 (twin of ``gray_mean`` in kernels/color_jitter.cu)."""
    if batch.shape[-1] == 1:
        gray = batch[..., 0]
    else:
        r, g, b = (np.float32(w) for w in GRAY_WEIGHTS)
        gray = batch[..., 0] * r + batch[..., 1] * g + batch[..., 2] * b
    return gray.reshape(len(batch), -1).mean(axis=1, dtype=np.float64).astype(np.float32)


def color_jitter(batch: np.ndarray, brightness: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """Twin of ``brightness_contrast`` (kernels/color_jitter.cu), on NHWC float32 in [0, 255]:

    ``y = clip(x * b, 0, 255)``; ``out = clip(c * y + (1 - c) * mean_luma(y), 0, 255)``
    with one (b, c) per image; brightness first, then contrast (torchvision's formulas, fixed order).
    """
    if batch.shape[-1] not in (1, 3):
        raise ValueError(f"color jitter takes 1- or 3-channel images; got {batch.shape[-1]} channels.")
    x = np.asarray(batch, np.float32)
    b = np.asarray(brightness, np.float32)[:, None, None, None]
    c = np.asarray(contrast, np.float32)[:, None, None, None]
    y = np.clip(x * b, np.float32(0), np.float32(255))
    m = gray_means(y)[:, None, None, None]
    return np.clip(c * y + (np.float32(1) - c) * m, np.float32(0), np.float32(255))


def normalize_coefficients(mean: Sequence[float], std: Sequence[float], channels: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) with ``out = x * scale + shift == (x / 255 - mean) / std``."""
    mean_a = np.broadcast_to(np.asarray(mean, np.float64), (channels,))
    std_a = np.broadcast_to(np.asarray(std, np.float64), (channels,))
    if (std_a <= 0).any():
        raise ValueError("std must be positive.")
    return (1.0 / (255.0 * std_a)).astype(np.float32), (-mean_a / std_a).astype(np.float32)


def normalize(batch: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Twin of ``normalize_hwc_to_chw`` (kernels/normalize.cu): NHWC uint8 or float32 in
    [0, 255] -> NCHW float32 ``(x / 255 - mean[c]) / std[c]``."""
    scale, shift = normalize_coefficients(mean, std, batch.shape[-1])
    x = np.asarray(batch)
    n, h, w, c = x.shape
    out = np.empty((n, c, h, w), np.float32)
    np.multiply(x.transpose(0, 3, 1, 2), scale[:, None, None], out=out, casting="unsafe")
    out += shift[:, None, None]
    return out
