"""Reads of one open dataset from many threads (threaded transforms, the query thread pool)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import deeplake_nb as dl
from deeplake_nb.format import arrays


def test_chunk_cache_is_safe_for_concurrent_readers(tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "_CACHED_CHUNKS", 1)  # constant eviction: the race window at its widest
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="float32")
    ds.x.extend(np.arange(300_000, dtype=np.float32).reshape(-1, 4))  # several 1 MiB chunks
    ds.commit("data")
    ro = dl.load(ds.path, read_only=True)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(ro), size=(8, 150))

    def read(rows: np.ndarray) -> bool:
        return all(ro.x[int(i)].numpy()[0] == 4 * i for i in rows)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(read, picks))
