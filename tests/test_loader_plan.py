"""The loader's planning units: epoch order, chunk-aware shuffle, DDP shards, resume state, and
the coalescing of byte ranges. Pure functions, no dataset needed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplake_nb.errors import LoaderError, LoaderStateError
from deeplake_nb.loader.config import LoaderConfig
from deeplake_nb.loader.fetch import coalesce
from deeplake_nb.loader.sampler import EpochPlan, ResumeState, Sampler, epoch_order, shard


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 500), seed=st.integers(0, 2**63 - 1), epoch=st.integers(0, 50))
def test_global_shuffle_is_a_seeded_permutation_per_epoch(n, seed, epoch):
    order = epoch_order(n, shuffle=True, seed=seed, epoch=epoch)
    assert sorted(order.tolist()) == list(range(n))
    assert np.array_equal(order, epoch_order(n, shuffle=True, seed=seed, epoch=epoch))
    if n >= 20:
        assert not np.array_equal(order, epoch_order(n, shuffle=True, seed=seed, epoch=epoch + 1))
        assert not np.array_equal(order, np.arange(n))


def test_no_shuffle_is_sequential():
    assert epoch_order(7, shuffle=False, seed=1, epoch=3).tolist() == list(range(7))


def test_global_shuffle_is_uniform_enough():
    # position of row 0 over many epochs: every position is about equally likely
    firsts = np.array([epoch_order(10, shuffle=True, seed=5, epoch=e)[0] for e in range(2000)])
    counts = np.bincount(firsts, minlength=10)
    assert counts.min() > 140 and counts.max() < 260


@settings(max_examples=30, deadline=None)
@given(nblocks=st.integers(1, 30), block=st.integers(2, 40), window=st.integers(1, 5), seed=st.integers(0, 1000),
       tail=st.integers(0, 39))
def test_chunk_shuffle_mixes_window_blocks_at_a_time(nblocks, block, window, seed, tail):
    extra = tail % block
    n = nblocks * block + extra
    order = epoch_order(n, shuffle="chunks", seed=seed, epoch=0, block=block, window=window)
    assert sorted(order.tolist()) == list(range(n))
    if extra:
        return  # a short last block shifts the groups; the whole-order check above still holds
    span = block * window
    for start in range(0, n, span):
        blocks = set((order[start:start + span] // block).tolist())
        assert len(blocks) <= window  # a run of `window` blocks' rows touches only those blocks


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), world=st.integers(1, 6))
def test_shards_are_equal_disjoint_and_cover(n, world):
    order = epoch_order(n, shuffle=True, seed=3, epoch=1)
    shares = [shard(order, r, world) for r in range(world)]
    assert {len(s) for s in shares} == {n // world}
    together = np.concatenate(shares).tolist()
    assert together == order[:len(together)].tolist()  # contiguous, in order, disjoint
    assert len(together) == (n // world) * world  # the last n % world rows are left out (Deep Lake v3)


def test_epoch_plan_batches_and_worker_split():
    plan = EpochPlan(0, np.arange(10), batch_size=4, drop_last=False)
    assert len(plan) == 3 and plan.batch(2).tolist() == [8, 9]
    assert len(EpochPlan(0, np.arange(10), 4, drop_last=True)) == 2
    assert list(plan.batch_ids(0, 0, 2)) == [0, 2] and list(plan.batch_ids(0, 1, 2)) == [1]
    assert list(plan.batch_ids(1, 0, 2)) == [1] and list(plan.batch_ids(1, 1, 2)) == [2]


@pytest.mark.parametrize("n,bs,world,drop", [(10, 3, 1, False), (10, 3, 1, True), (11, 2, 3, False),
                                             (11, 2, 3, True), (0, 4, 2, False)])
def test_batches_per_epoch_matches_plan(n, bs, world, drop):
    for rank in range(world):
        s = Sampler(n, bs, True, seed=1, drop_last=drop, rank=rank, world_size=world)
        assert s.batches_per_epoch() == len(s.plan(0))


def test_resume_state_round_trips_through_json_and_checks_the_plan():
    s = Sampler(100, 8, True, seed=42)
    state = json.loads(json.dumps(ResumeState(3, 5, s).to_dict()))
    back = ResumeState.from_dict(state, s, adopt_seed=False)
    assert (back.epoch, back.batch, back.sampler) == (3, 5, s)
    adopted = ResumeState.from_dict(state, Sampler(100, 8, True, seed=7), adopt_seed=True)
    assert adopted.sampler.seed == 42
    with pytest.raises(LoaderStateError, match="seed"):
        ResumeState.from_dict(state, Sampler(100, 8, True, seed=7), adopt_seed=False)
    with pytest.raises(LoaderStateError, match="batch_size"):
        ResumeState.from_dict(state, Sampler(100, 16, True, seed=42), adopt_seed=True)
    with pytest.raises(LoaderStateError):
        ResumeState.from_dict({"hello": 1}, s, adopt_seed=True)


@settings(max_examples=60, deadline=None)
@given(spans=st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 700)), min_size=0, max_size=40),
       chunk=st.integers(64, 2048), gap=st.integers(0, 600), max_range=st.integers(1, 3000))
def test_coalesce_reconstructs_every_span(spans, chunk, gap, max_range):
    heap = np.random.default_rng(0).integers(0, 256, 6000, dtype=np.uint8).tobytes()
    offsets = np.array([o for o, _ in spans], np.int64)
    lengths = np.array([n for _, n in spans], np.int64)
    plan = coalesce(offsets, lengths, chunk, gap, max_range)
    longest = max([min(n, chunk) for n in lengths.tolist()] + [0])
    reads = []
    for r in plan.reads:
        assert 0 <= r.lo < r.hi <= chunk  # a read never crosses a chunk object
        assert r.hi - r.lo <= max(max_range, longest)
        reads.append(heap[r.chunk * chunk + r.lo: r.chunk * chunk + r.hi])
    for (off, n), pieces in zip(spans, plan.pieces):
        assert b"".join(reads[r][a:b] for r, a, b in pieces) == heap[off:off + n]


def test_coalesce_merges_neighbours_and_sorts_random_requests():
    offsets = np.array([900, 0, 300, 600], np.int64)  # asked in random order
    lengths = np.array([100, 100, 100, 100], np.int64)
    assert len(coalesce(offsets, lengths, 4096, max_gap=200, max_range=1 << 20).reads) == 1
    assert len(coalesce(offsets, lengths, 4096, max_gap=100, max_range=1 << 20).reads) == 4
    assert len(coalesce(offsets, lengths, 4096, max_gap=200, max_range=400).reads) == 2
    assert len(coalesce(offsets, lengths, 4096, max_gap=200, max_range=399).reads) == 4
    assert len(coalesce(offsets, lengths, 500, max_gap=10_000, max_range=1 << 20).reads) == 2  # chunk edge


def test_config_rejects_bad_options():
    with pytest.raises(LoaderError, match="batch_size"):
        LoaderConfig(tensors=("a",), batch_size=0)
    with pytest.raises(LoaderError, match="shuffle"):
        LoaderConfig(tensors=("a",), shuffle="yes")
    with pytest.raises(LoaderError, match="decode_method"):
        LoaderConfig(tensors=("a",), decode_method={"a": "jpeg"})
    with pytest.raises(LoaderError, match="not loaded"):
        LoaderConfig(tensors=("a",), transform={"b": None})
    with pytest.raises(LoaderError, match="transform"):
        LoaderConfig(tensors=("a",), transform=3)


@pytest.mark.parametrize("compression, fetcher", [(None, "HeapRangeFetcher"), ("lz4", "HeapChunkFetcher")])
def test_checksummed_heaps_keep_the_direct_fetchers(tmp_path, compression, fetcher):
    """Chunks ending with a crc32c checksum are still read by ranged GETs (uncompressed) or once
    per chunk (compressed), not through the generic per-sample path."""
    import deeplake_nb as dl
    from deeplake_nb.loader.fetch import fetcher_for

    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("t", htype="text", chunk_compression=compression)
    ds.t.extend([f"sample {i}" for i in range(50)])
    store = ds._state.tensor_store("t")
    assert store.column.impl.heap.checksum
    assert type(fetcher_for(store, max_gap=1 << 16, max_range=1 << 22)).__name__ == fetcher
    assert [s.data()["value"] for s in ds.t[[3, 49]]] == ["sample 3", "sample 49"]


@pytest.mark.parametrize("chunk_bytes", [4096, 1 << 20])
def test_grouped_fetch_reads_each_chunk_object_once_per_window(tmp_path, chunk_bytes):
    """On a local dataset a window's ranges of one chunk object are one ``get_ranges`` call (one
    open of the file), and every row comes out exactly as ``TensorStore.take`` gives it, for
    samples inside a chunk and samples split over two."""
    from concurrent.futures import ThreadPoolExecutor

    import deeplake_nb as dl
    from deeplake_nb.core import internal
    from deeplake_nb.loader.fetch import HeapRangeFetcher, fetcher_for
    from deeplake_nb.storage import ByteStore

    rng = np.random.default_rng(0)
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("b", htype="generic", dtype="uint8", max_chunk_size=chunk_bytes)
    ds.b.extend([rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8) for _ in range(200)])
    ds.flush()
    store = internal.tensor_store(ds, ds.b.key)
    rows = rng.permutation(200)[:120]
    expected = [(bytes(p), tuple(s)) for p, s in store.take(rows)]
    calls: list[tuple[str, int]] = []
    original = ByteStore.get_ranges

    def counting(self, key, ranges, **options):
        calls.append((key, len(ranges)))
        return original(self, key, ranges, **options)

    with ThreadPoolExecutor(2) as io:
        for grouped in (True, False):
            fetcher = fetcher_for(store, max_gap=0, max_range=1 << 22, grouped=grouped)
            assert isinstance(fetcher, HeapRangeFetcher)
            calls.clear()
            ByteStore.get_ranges = counting
            try:
                got = fetcher.start(rows, io)()
            finally:
                ByteStore.get_ranges = original
            assert [(bytes(p), tuple(s)) for p, s in got] == expected
            mine = [key for key, _ in calls if not key.startswith("objects/")]
            if grouped:
                size = fetcher.heap.rows_per_chunk
                touched = {fetcher.heap.chunk_key(k) for off, n in fetcher.column.index.take(rows).tolist()
                           for k in range(off // size, (off + max(n, 1) - 1) // size + 1)}
                assert sorted(mine) == sorted(touched)  # one call per chunk object touched
            else:
                assert not mine


def test_get_ranges_matches_get_on_a_local_store(tmp_path):
    from zarr.storage import LocalStore

    from deeplake_nb.errors import StorageError
    from deeplake_nb.storage import ByteStore

    local = ByteStore(LocalStore(str(tmp_path / "raw")))
    data = bytes(range(256)) * 40
    local.set("a/b", data)
    ranges = [(0, 10), (5, 300), (10_000, 10_300), (300, 300), (10_230, 20_000)]
    assert local.get_ranges("a/b", ranges) == [local.get("a/b", lo, hi) for lo, hi in ranges] \
        == [data[lo:hi] for lo, hi in ranges]
    assert local.get_ranges("a/missing", ranges) is None
    (tmp_path / "raw" / "a" / "dir").mkdir()
    with pytest.raises(StorageError, match="a/dir"):  # our error, not a raw OSError
        local.get_ranges("a/dir", [(0, 1)])
