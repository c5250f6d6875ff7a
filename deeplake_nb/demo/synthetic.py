"""Photo-like synthetic images with labels, boxes, captions and embeddings, for demos, tests and benchmarks.

Each image is a smooth two-colour gradient with sensor-like noise and one to three filled shapes
(circle, square, triangle); the label is the largest shape's class, boxes are the shapes'
extents (LTWH, pixels), the caption describes them, and the embedding is a colour/shape
signature (similar images have similar embeddings). Deterministic for a given seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import simplejpeg

CLASS_NAMES = ["circle", "square", "triangle"]
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 70), "blue": (40, 80, 220), "yellow": (230, 210, 40),
           "purple": (150, 60, 190), "orange": (240, 140, 30), "white": (240, 240, 240), "black": (20, 20, 20)}
EMBEDDING_DIM = 64


@dataclass
class SyntheticSample:
    jpeg: bytes
    label: int
    boxes: np.ndarray       # (K, 4) float32, LTWH pixels
    caption: str
    embedding: np.ndarray   # (EMBEDDING_DIM,) float32, unit length
    shape: tuple[int, int, int]


def _shape_mask(kind: int, h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.ogrid[:h, :w]
    if kind == 0:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 1:
        return (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
    return (yy >= cy - r) & (yy <= cy + r) & (np.abs(xx - cx) <= (yy - (cy - r)) / 2)


def make_sample(rng: np.random.Generator, min_size: int = 200, max_size: int = 300,
                quality: int = 90) -> SyntheticSample:
    h, w = (int(x) for x in rng.integers(min_size, max_size + 1, 2))
    names = list(COLOURS)
    bg1, bg2 = (np.asarray(COLOURS[names[i]], np.float32) for i in rng.choice(len(names), 2, replace=False))
    t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None] * 0.6 + np.linspace(0, 1, h, dtype=np.float32)[:, None, None] * 0.4
    img = bg1 * (1 - t) + bg2 * t
    boxes, areas, kinds, colours = [], [], [], []
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 3))
        r = float(rng.uniform(0.08, 0.25) * min(h, w))
        cy, cx = float(rng.uniform(r, h - r)), float(rng.uniform(r, w - r))
        colour = names[int(rng.integers(len(names)))]
        mask = _shape_mask(kind, h, w, cy, cx, r)
        img[mask] = np.asarray(COLOURS[colour], np.float32) * rng.uniform(0.85, 1.0)
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
        areas.append(mask.sum())
        kinds.append(kind)
        colours.append(colour)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    pixels = np.clip(img, 0, 255).astype(np.uint8)
    main = int(np.argmax(areas))
    caption = f"a {colours[main]} {CLASS_NAMES[kinds[main]]}" + (
        f" and {len(kinds) - 1} more shape{'s' if len(kinds) > 2 else ''}" if len(kinds) > 1 else "")
    small = pixels[::max(1, h // 4), ::max(1, w // 4)][:4, :4].reshape(-1, 3).astype(np.float32) / 255
    signature = np.concatenate([small.ravel(), np.bincount(kinds, minlength=3) / 3.0,
                                rng.normal(0, 0.05, EMBEDDING_DIM - 48 - 3)]).astype(np.float32)
    embedding = signature / np.linalg.norm(signature)
    return SyntheticSample(simplejpeg.encode_jpeg(pixels, quality=quality), kinds[main],
                           np.asarray(boxes, np.float32), caption, embedding, pixels.shape)


def generate(n: int, seed: int = 0, **kwargs: Any) -> Iterator[SyntheticSample]:
    """``n`` samples, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield make_sample(rng, **kwargs)


def write_jpeg_folder(folder: str | os.PathLike[str], n: int, seed: int = 0, progress: bool = True
                      ) -> list[SyntheticSample]:
    """Write ``n`` JPEGs as ``folder/00000.jpg`` ...; returns the samples (with their annotations).
    Files that already exist with the same content are kept."""
    from tqdm.auto import tqdm

    os.makedirs(folder, exist_ok=True)
    samples = []
    for i, sample in enumerate(tqdm(generate(n, seed), total=n, desc="generating JPEGs", disable=not progress)):
        path = os.path.join(folder, f"{i:05d}.jpg")
        if not (os.path.exists(path) and os.path.getsize(path) == len(sample.jpeg)):
            with open(path, "wb") as f:
                f.write(sample.jpeg)
        samples.append(sample)
    return samples
