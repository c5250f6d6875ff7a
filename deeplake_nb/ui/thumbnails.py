"""Pictures for the browser: stored image bytes when they are small enough, else a re-encoded JPEG;
masks as small label maps (typed arrays the browser colours).

Contracts:
- ``picture`` never returns more than ``max_bytes`` of stored bytes and never an image whose longer
  side exceeds ``passthrough_side``; anything larger is decoded (JPEG at a reduced DCT scale, which
  is much faster than a full decode) and re-encoded as a JPEG with its longer side <= ``max_side``.
- ``submit`` runs ``picture`` on a small thread pool (simplejpeg and Pillow release the GIL), so a
  page of large images is re-encoded on all cores while the caller reads the next samples.
- ``label_map`` turns a binary mask (H, W, K) into uint8 labels (k + 1 where channel k is set, 0
  elsewhere) and a segment mask (H, W) into uint8 or uint16 class ids, shrunk by nearest neighbour.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import simplejpeg
from PIL import Image

from ..format import compression

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class Picture:
    """Encoded image bytes for an ``<img>``, their MIME type and pixel size; ``stored`` is True when
    they are the dataset's own bytes (not re-encoded)."""

    data: bytes
    mime: str
    width: int
    height: int
    stored: bool


def picture(stored: bytes | None, pixels: Callable[[], np.ndarray] | None, max_side: int, max_bytes: int,
            passthrough_side: int | None = None) -> Picture:
    """A picture of one image sample from its stored bytes (sample-compressed or linked tensors) or,
    when there are none, from ``pixels()`` (raw tensors)."""
    passthrough_side = passthrough_side or max_side
    if stored is not None:
        fmt = compression.sniff(stored)
        if fmt is None:
            raise ValueError("The stored bytes are not a JPEG, PNG or WebP image.")
        height, width, _ = compression.header_shape(stored, fmt)
        if len(stored) <= max_bytes and max(height, width) <= passthrough_side:
            return Picture(bytes(stored), MIME[fmt], width, height, True)
        arr = _decode_reduced(stored, fmt, height, width, max_side)
    else:
        assert pixels is not None
        arr = pixels()
    return encode(shrink(as_rgb(arr), max_side))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def submit(stored: bytes | None, pixels: np.ndarray | None, max_side: int, max_bytes: int,
           passthrough_side: int | None = None) -> Future[Picture]:
    """``picture`` of stored bytes or of already-read pixels, computed on the thumbnail pool."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="deeplake_nb-thumbs")
    return _POOL.submit(picture, stored, None if pixels is None else (lambda: pixels), max_side, max_bytes,
                        passthrough_side)


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _decode_reduced(data: bytes, fmt: str, height: int, width: int, max_side: int) -> np.ndarray:
    if fmt != "jpeg":
        return compression.decode(data, fmt)
    scale = max(height, width) / max_side
    gray = simplejpeg.decode_jpeg_header(data)[2] == "Gray"
    # libjpeg-turbo scales by n/8 while decoding: ask for the smallest size still >= max_side
    return simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB", fastdct=True,
                                  min_height=int(height / scale) if scale > 1 else 0,
                                  min_width=int(width / scale) if scale > 1 else 0)


def as_rgb(arr: np.ndarray) -> np.ndarray:
    """An (H, W, 3) or (H, W, 1) uint8 array for any image-like array: alpha dropped, other dtypes
    stretched to 0..255 (min to max)."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"Cannot show an array of shape {arr.shape} as an image.")
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.shape[-1] not in (1, 3):
        arr = arr[..., :1]
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
        lo, hi = float(np.nanmin(arr)) if arr.size else 0.0, float(np.nanmax(arr)) if arr.size else 1.0
        arr = np.nan_to_num((arr - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)).astype(np.uint8)
    return np.ascontiguousarray(arr)


def shrink(arr: np.ndarray, max_side: int) -> np.ndarray:
    """Resize so the longer side is at most ``max_side`` (bilinear with box pre-reduction)."""
    height, width = arr.shape[:2]
    if max(height, width) <= max_side:
        return arr
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    out = np.asarray(img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
    return out[..., None] if out.ndim == 2 else out


def encode(arr: np.ndarray) -> Picture:
    gray = arr.shape[-1] == 1
    data = simplejpeg.encode_jpeg(np.ascontiguousarray(arr), quality=THUMBNAIL_QUALITY,
                                  colorspace="GRAY" if gray else "RGB")
    return Picture(data, MIME["jpeg"], int(arr.shape[1]), int(arr.shape[0]), False)


def label_map(arr: np.ndarray, binary: bool, max_side: int) -> np.ndarray:
    """A 2-D uint8/uint16 label map of a mask sample, at most ``max_side`` on its longer side."""
    arr = np.asarray(arr)
    if binary:
        if arr.ndim == 2:
            arr = arr[..., None]
        arr = _nearest(arr, max_side)
        labels = np.zeros(arr.shape[:2], np.uint8)
        for k in range(min(arr.shape[-1], 255)):
            labels[arr[..., k].astype(bool)] = k + 1
        return labels
    if arr.ndim == 3:
        arr = arr[..., 0]
    arr = _nearest(arr, max_side)
    top = int(arr.max()) if arr.size else 0
    return np.ascontiguousarray(np.clip(arr, 0, 65535).astype(np.uint8 if top < 256 else np.uint16))


def _nearest(arr: np.ndarray, max_side: int) -> np.ndarray:
    height, width = arr.shape[:2]
    if max(height, width) <= max_side:
        return arr
    scale = max_side / max(height, width)
    ys = (np.arange(max(1, round(height * scale))) / scale).astype(np.int64)
    xs = (np.arange(max(1, round(width * scale))) / scale).astype(np.int64)
    return arr[ys][:, xs]


MAX_ANCHORS = 64


def label_anchors(labels: np.ndarray, limit: int = MAX_ANCHORS) -> list[tuple[int, float, float, int]]:
    """``(value, x, y, pixels)`` for each non-zero value of a label map (the ``limit`` largest):
    where to write its name, as fractions of the map's width and height — the value's pixel
    nearest its centroid, so the point lies on the object even when the object is not convex."""
    flat = np.asarray(labels).reshape(-1)
    if not flat.size:
        return []
    height, width = labels.shape[:2]
    counts = np.bincount(flat.astype(np.int64))
    values = np.nonzero(counts)[0]
    values = values[values > 0]
    values = values[np.argsort(-counts[values], kind="stable")][:limit]
    out = []
    for v in values.tolist():
        ys, xs = np.nonzero(labels == v)
        cy, cx = ys.mean(), xs.mean()
        k = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
        out.append((int(v), (xs[k] + 0.5) / width, (ys[k] + 0.5) / height, int(counts[v])))
    return out
