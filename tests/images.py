"""Synthetic test images: a photo-like array and its PNG encoding (imported by conftest and by
tests that need them at module level)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 image (gradients plus mild noise) that compresses like a real one."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    planes = [(yy * rng.uniform(0.5, 2) + xx * rng.uniform(0.5, 2) + rng.uniform(0, 255)) % 256
              for _ in range(channels)]
    img = np.stack(planes, axis=-1) + rng.normal(0, 4, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


def png_bytes(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr).save(out, format="PNG")
    return out.getvalue()
