"""Random augmentation parameters, drawn on the host by one function per transform.

Every backend (the CuPy kernels, their NumPy twins, the DALI pipeline) takes its parameters
from here, so the same generator state gives the same crop boxes, flips and jitter factors on a
GPU and on a CPU. Boxes are ``(N, 4)`` float32 rows ``[top, left, height, width]`` in source
pixels; a box may be fractional and is sampled bilinearly (see ``twins.resized_crop``).
"""

from __future__ import annotations

import math

import numpy as np


def as_shapes(shapes: np.ndarray | list[tuple[int, ...]]) -> np.ndarray:
    """``(N, 2)`` int64 array of (height, width) from image shapes ``(H, W[, C])``."""
    arr = np.asarray([tuple(s)[:2] for s in shapes], dtype=np.int64).reshape(-1, 2)
    if (arr <= 0).any():
        raise ValueError("every image needs a positive height and width.")
    return arr


def resized_crop_boxes(shapes: np.ndarray, rng: np.random.Generator,
                       scale: tuple[float, float] = (0.08, 1.0),
                       ratio: tuple[float, float] = (3 / 4, 4 / 3), attempts: int = 10) -> np.ndarray:
    """Boxes of torchvision's ``RandomResizedCrop``: an area fraction uniform in ``scale`` and a
    log-uniform aspect ratio in ``ratio``, rounded to whole pixels; the first of ``attempts``
    draws that fits the image is used, else a central crop with the ratio clamped to ``ratio``.

    Draws a fixed number of values per image (``attempts * 4``), so the generator advances the
    same way whatever the image sizes are.
    """
    hw = as_shapes(shapes)
    n = len(hw)
    h_img, w_img = hw[:, 0:1].astype(np.float64), hw[:, 1:2].astype(np.float64)
    area = h_img * w_img * rng.uniform(scale[0], scale[1], (n, attempts))
    log_ratio = rng.uniform(math.log(ratio[0]), math.log(ratio[1]), (n, attempts))
    aspect = np.exp(log_ratio)
    w = np.rint(np.sqrt(area * aspect))
    h = np.rint(np.sqrt(area / aspect))
    fits = (w > 0) & (h > 0) & (w <= w_img) & (h <= h_img)
    u_top, u_left = rng.random((n, attempts)), rng.random((n, attempts))
    top = np.floor(u_top * (h_img - h + 1))
    left = np.floor(u_left * (w_img - w + 1))
    # fallback: the largest central crop whose aspect ratio is clamped into `ratio`
    in_ratio = w_img[:, 0] / h_img[:, 0]
    fb_w = np.where(in_ratio < ratio[0], w_img[:, 0], np.where(in_ratio > ratio[1], np.rint(h_img[:, 0] * ratio[1]), w_img[:, 0]))
    fb_h = np.where(in_ratio < ratio[0], np.rint(w_img[:, 0] / ratio[0]), h_img[:, 0])
    fb_h = np.minimum(fb_h, h_img[:, 0])
    fb_w = np.minimum(fb_w, w_img[:, 0])
    boxes = np.stack([(h_img[:, 0] - fb_h) // 2, (w_img[:, 0] - fb_w) // 2, fb_h, fb_w], axis=1)
    any_fit = fits.any(axis=1)
    first = np.argmax(fits, axis=1)
    rows = np.nonzero(any_fit)[0]
    cols = first[rows]
    boxes[rows] = np.stack([top[rows, cols], left[rows, cols], h[rows, cols], w[rows, cols]], axis=1)
    return boxes.astype(np.float32)


def center_crop_boxes(shapes: np.ndarray, size: tuple[int, int], resize: int | None = None) -> np.ndarray:
    """Boxes of ``Resize(resize)`` (shorter side) then ``CenterCrop(size)``, in source pixels:
    the centred region that those two steps keep. ``resize`` defaults to ``round(max(size) / 0.875)``
    (256 for 224). Deterministic: no generator."""
    hw = as_shapes(shapes).astype(np.float64)
    out_h, out_w = size
    resize = int(round(max(size) / 0.875)) if resize is None else int(resize)
    step = hw.min(axis=1) / resize          # source pixels per resized pixel
    box_h = np.minimum(out_h * step, hw[:, 0])
    box_w = np.minimum(out_w * step, hw[:, 1])
    return np.stack([(hw[:, 0] - box_h) / 2, (hw[:, 1] - box_w) / 2, box_h, box_w], axis=1).astype(np.float32)


def full_boxes(shapes: np.ndarray) -> np.ndarray:
    """Boxes covering whole images (a plain resize)."""
    hw = as_shapes(shapes).astype(np.float32)
    return np.concatenate([np.zeros_like(hw), hw], axis=1)


def flip_flags(n: int, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """``(n,)`` bool: which images are mirrored left-right."""
    return rng.random(n) < p


def jitter_factors(n: int, rng: np.random.Generator, brightness: float = 0.0,
                   contrast: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` float32 brightness and contrast factors, uniform in ``[max(0, 1 - x), 1 + x]``
    (torchvision's ``ColorJitter`` ranges); always draws both, so the stream does not depend on
    which are zero."""
    b = rng.uniform(max(0.0, 1 - brightness), 1 + brightness, n).astype(np.float32)
    c = rng.uniform(max(0.0, 1 - contrast), 1 + contrast, n).astype(np.float32)
    return b, c
