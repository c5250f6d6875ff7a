"""Ready-made sample transforms (NumPy and Pillow only; picklable, thread-safe).

This module imports nothing from deeplake_nb, so benchmark peers in other environments can load
it by file path and apply the very same transform.
"""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CropNormalize:
    """(H, W, C) uint8 image -> (C, size, size) float32, normalised with ``mean``/``std``.

    Center crop to ``size`` x ``size``; an image smaller than that in a dimension is first
    resized (bilinear, Pillow) so that its shorter side is ``size``. Gray images become 3 channels.
    """

    def __init__(self, size: int = 224, mean: tuple[float, ...] = IMAGENET_MEAN,
                 std: tuple[float, ...] = IMAGENET_STD) -> None:
        self.size = size
        std_arr = np.asarray(std, np.float32)
        self.scale = (1.0 / (255.0 * std_arr))[:, None, None].astype(np.float32)
        self.bias = (-np.asarray(mean, np.float32) / std_arr)[:, None, None].astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.ndim == 2:
            image = image[..., None]
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        h, w = image.shape[:2]
        s = self.size
        if h < s or w < s:
            from PIL import Image

            k = s / min(h, w)
            h, w = max(s, round(h * k)), max(s, round(w * k))
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))
        top, left = (h - s) // 2, (w - s) // 2
        crop = image[top:top + s, left:left + s].transpose(2, 0, 1)
        out = np.empty((crop.shape[0], s, s), np.float32)
        np.multiply(crop, self.scale, out=out)
        out += self.bias
        return out

    def __repr__(self) -> str:
        return f"CropNormalize(size={self.size})"
