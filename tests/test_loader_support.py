"""Helpers for the loader tests (no tests here): a small dataset whose every tensor encodes the
row number, so a batch can be checked against its ``index`` without reading the dataset again."""

from __future__ import annotations

import gc
import multiprocessing
import time

import numpy as np
import simplejpeg

import deeplake_nb as dl

N = 96


def jpeg(i: int) -> bytes:
    """A small JPEG whose size depends on ``i`` (ragged) and whose top-left block encodes ``i``."""
    h, w = 16 + (i % 5) * 4, 20 + (i % 3) * 4
    rng = np.random.default_rng(i)
    img = np.clip(rng.normal(128, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    img[:16, :16] = i % 256
    return simplejpeg.encode_jpeg(img, quality=95)


def corrupt_jpeg(i: int) -> bytes:
    """A JPEG with an intact header and end marker whose entropy-coded data is garbage."""
    data = bytearray(jpeg(i))
    sos = data.index(b"\xff\xda")
    data[sos + 20:sos + 120] = b"\xff" * 100
    return bytes(data)


def build(path: str, n: int = N, corrupt: tuple[int, ...] = ()) -> dl.Dataset:
    """images (JPEG, ragged), labels (class_label), boxes (ragged bbox), captions (text),
    vec (dense float32: vec[i] == [i, 2i, 3i, 4i])."""
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=[f"c{k}" for k in range(7)])
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("vec", dtype="float32")
        ds.extend({
            "images": [dl.Sample(buffer=corrupt_jpeg(i) if i in corrupt else jpeg(i)) for i in range(n)],
            "labels": [i % 7 for i in range(n)],
            "boxes": [np.full((1 + i % 3, 4), i, np.float32) for i in range(n)],
            "captions": [f"sample {i}" for i in range(n)],
            "vec": [np.arange(1, 5, dtype=np.float32) * i for i in range(n)],
        })
    return dl.load(path, read_only=True)


def check_batch(batch: dict) -> list[int]:
    """Assert that every tensor of the batch belongs to the row in ``index`` ((N, 1), as in Deep
    Lake v3); return the indices."""
    assert batch["index"].shape[1:] == (1,)
    index = batch["index"][:, 0].tolist()
    if "vec" in batch:
        assert batch["vec"][:, 0].tolist() == [float(i) for i in index]
    if "labels" in batch:
        assert batch["labels"][:, 0].tolist() == [i % 7 for i in index]
    if "captions" in batch:
        assert batch["captions"] == [f"sample {i}" for i in index]
    if "boxes" in batch:
        assert [int(b[0, 0]) for b in batch["boxes"]] == index
    if "images" in batch and isinstance(batch["images"], list):
        assert [abs(int(im[4, 4, 0]) - i % 256) <= 3 for im, i in zip(batch["images"], index)] == [True] * len(index)
    return index


def epoch(loader) -> list[list[int]]:
    """The checked indices of every batch of one pass over ``loader``."""
    return [check_batch(b) for b in loader]


def wait_no_children(timeout: float = 10.0) -> list:
    """Collect garbage until no child process is left (or the timeout passes); return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        alive = multiprocessing.active_children()
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)
