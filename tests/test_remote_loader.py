"""Reading from an object store one round trip away (SeaweedFS behind ``s3_proxy`` with added
latency): a random decoded read is one request, a loader window's reads are in flight together,
and the coalescing planner's remote default reads about the bytes a shuffled epoch needs; linked
files on object stores are read with the credentials rule datasets there use."""

from __future__ import annotations

import os
import threading
import time
import uuid

import numpy as np
import pytest
from s3_proxy import S3Proxy
from zarr.core.sync import sync

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.loader.fetch import REMOTE_MAX_GAP, coalesce
from deeplake_nb.storage import links

pytest.importorskip("obstore")
pytest.importorskip("torch")


def _images(server, image, n: int, size: int = 16) -> str:
    url = f"s3://bucket/loader-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=server.options)
    ds.create_tensor("images", htype="image", sample_compression="png")
    with ds:
        ds.images.extend([image(size, size, seed=i) for i in range(n)])
    ds.commit("images")
    return url


def test_shuffled_window_reads_about_the_bytes_it_needs():
    """Photo-like sizes (15-35 KB) in 4 MiB heap chunks, windows of 256 rows of a shuffled epoch:
    the remote gap keeps the bytes read within 1.3x of the samples' bytes."""
    rng = np.random.default_rng(0)
    n, chunk = 5000, 4 << 20
    lengths = rng.integers(15_000, 35_000, n)
    offsets = np.zeros(n, np.int64)
    at = 0
    for i, length in enumerate(lengths.tolist()):  # samples never straddle a chunk, as in a heap
        if at % chunk + length > chunk:
            at += chunk - at % chunk
        offsets[i], at = at, at + length
    order = rng.permutation(n)
    read = 0
    for first in range(0, n, 256):
        rows = order[first:first + 256]
        plan = coalesce(offsets[rows], lengths[rows], chunk, REMOTE_MAX_GAP, 16 << 20)
        read += sum(r.hi - r.lo for r in plan.reads)
    assert read <= 1.3 * lengths.sum()


def test_random_decoded_read_is_one_request(weed_s3, image):
    url = _images(weed_s3, image, 30)
    with S3Proxy(weed_s3.endpoint, latency=0.01) as proxy:
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        ds.images[0].numpy()  # the tensor's index, loaded once
        for i in (17, 4, 29, 11):
            before = len(proxy.requests)
            assert np.array_equal(ds.images[i].numpy(), image(16, 16, seed=i))
            assert len(proxy.requests) - before == 1, proxy.requests[before:]


def test_a_remote_sample_read_makes_no_zarr_buffer(weed_s3, image, monkeypatch):
    """A sample's bytes come up from the object store as ``bytes`` (``RemoteStore.read_bytes`` ->
    ``VersionedStore.read_bytes`` -> ``ByteStore``): no zarr Buffer is made around them, whose
    NumPy calls cost ~0.07 ms of a read right after its round trip (benchmarks/RESULTS.md)."""
    from zarr.core.buffer import cpu

    url = _images(weed_s3, image, 30)
    ds = dl.load(url, read_only=True, storage_options=weed_s3.options)
    ds.images[0].numpy()  # the tensor's index, loaded once
    made = []
    real = cpu.Buffer.from_bytes.__func__
    monkeypatch.setattr(cpu.Buffer, "from_bytes", classmethod(lambda cls, data: made.append(1) or real(cls, data)))
    for i in (17, 4, 29):
        assert np.array_equal(ds.images[i].numpy(), image(16, 16, seed=i))
    assert made == []


def test_loader_window_reads_are_in_flight_together(weed_s3):
    """Every other row of 96 samples of ~70 KB (gaps wider than ``REMOTE_MAX_GAP``: one read
    each), 50 ms per request: one after the other they would take 2.4 s; the window's overlap."""
    n, latency = 48, 0.05
    url = f"s3://bucket/loader-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=weed_s3.options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    rng = np.random.default_rng(0)
    with ds:
        ds.blobs.extend([rng.integers(0, 255, REMOTE_MAX_GAP + 5000 + i, dtype=np.uint8) for i in range(2 * n)])
    ds.commit("blobs")
    with S3Proxy(weed_s3.endpoint, latency=latency) as proxy:
        view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))[::2]
        view.blobs[0].numpy()  # the index arrays, loaded before the timing
        loader = view.pytorch(batch_size=8, fetch_batches=6, num_workers=0, return_index=False,
                              use_local_cache=False)  # ranged reads from the store, nothing kept
        before = len(proxy.requests)
        start = time.perf_counter()
        got = [b["blobs"] for b in loader]
        elapsed = time.perf_counter() - start
        assert len(proxy.requests) - before >= n
    assert sum(len(b) for b in got) == n
    assert elapsed < n * latency / 2, elapsed  # (one after the other: n * latency; in flight: a few latencies)


def test_a_loader_on_an_object_store_reads_windows_of_four_batches_by_default(weed_s3, monkeypatch):
    """A window's reads overlap their round trips, so on an object store four batches' samples are
    asked for together (``engine.REMOTE_FETCH_BATCHES``; one batch on local disk)."""
    from deeplake_nb.loader import engine, fetch

    url = f"s3://bucket/windows-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=weed_s3.options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    with ds:
        ds.blobs.extend([np.full(100 + i, i % 256, np.uint8) for i in range(72)])
    windows = []
    real = fetch.HeapRangeFetcher.start
    monkeypatch.setattr(fetch.HeapRangeFetcher, "start", lambda self, rows, io: windows.append(len(rows)) or
                        real(self, rows, io))
    loader = dl.load(url, read_only=True, storage_options=weed_s3.options).pytorch(batch_size=8, num_workers=0)
    assert sum(len(b["index"]) for b in loader) == 72
    assert engine.REMOTE_FETCH_BATCHES == 4 and windows == [8, 32, 32]


def test_a_cold_disk_cache_answers_a_loaders_reads_without_waiting_for_whole_objects(weed_s3):
    """A store whose responses take ``len / bandwidth`` seconds: a whole 4 MiB heap chunk ~2 s, a
    sample's range ~50 ms. With an empty disk cache the loader's first batch comes from ranged
    reads (not after the whole chunk); the chunk fills the cache behind them, and once it has, a
    second epoch reads nothing of the heap from the store."""
    n, bandwidth = 40, 2e6
    url = f"s3://bucket/loader-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=weed_s3.options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 255, 100_000 + i, dtype=np.uint8) for i in range(n)]  # ragged: a byte heap
    with ds:
        ds.blobs.extend(rows)
    ds.commit("blobs")
    with S3Proxy(weed_s3.endpoint, latency=0.005, bandwidth=bandwidth) as proxy:
        view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options), local_cache_size=64)
        loader = view.pytorch(batch_size=4, fetch_batches=1, shuffle=True, num_workers=0, return_index=True)
        before = len(proxy.requests)
        start = time.perf_counter()  # the first batch reads the index arrays (small objects), then its samples
        batches = iter(loader)
        first = next(batches)
        elapsed = time.perf_counter() - start
        got = [first, *batches]
        assert elapsed < 4e6 / bandwidth / 2, elapsed
        ranged = [r for r in proxy.range_headers[before:] if r is not None]
        assert len(ranged) >= 2  # the first batch's samples: ranged reads
        for batch in got:
            for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                assert np.array_equal(np.asarray(blob), rows[i])
        assert view.zarr_store().repository.physical.cache.idle(30)
        before = len(proxy.requests)
        assert sum(len(b["blobs"]) for b in loader) == n
        assert [r for r in proxy.requests[before:] if r[0] == "GET" and "/objects/" in r[1]] == []


def test_loader_processes_fetch_each_heap_chunk_whole_once(weed_s3, monkeypatch):
    """Two workers (spawned: both start at once, no batches made here first) read the same cold
    heap chunks at the same time, through one disk cache: each chunk object is fetched whole by
    one process only (the other's fill is dropped while it holds the chunk's lock in the cache
    folder); the epoch still has every row. (The loader's own prefetch is off here: it would
    fetch the chunks before the workers ask.)"""
    from deeplake_nb.storage import cache

    monkeypatch.setattr(cache, "PREFETCH_FRACTION", 0.0)
    n, bandwidth = 100, 4e6  # ~10 MB of ragged rows: 3 heap chunks, each ~1 s to fetch whole
    url = f"s3://bucket/loader-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=weed_s3.options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, 255, 100_000 + i, dtype=np.uint8) for i in range(n)]
    with ds:
        ds.blobs.extend(rows)
    ds.commit("blobs")
    with S3Proxy(weed_s3.endpoint, latency=0.005, bandwidth=bandwidth) as proxy:
        view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options), local_cache_size=64)
        loader = view.pytorch(batch_size=4, fetch_batches=1, shuffle=True, num_workers=2, return_index=True,
                              multiprocessing_context="spawn")
        before = len(proxy.requests)
        seen = []
        for batch in loader:
            for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                assert np.array_equal(np.asarray(blob), rows[i])
                seen.append(i)
        assert sorted(seen) == list(range(n))
        assert view.zarr_store().repository.physical.cache.idle(30)
        gets = [(path, byte_range) for (method, path), byte_range in zip(proxy.requests[before:],
                                                                         proxy.range_headers[before:])
                if method == "GET" and "/objects/" in path]
        chunks = {path for path, byte_range in gets if byte_range is not None}  # heap chunks: read by ranges
        whole = {path: sum(1 for p, r in gets if p == path and r is None) for path in chunks}
        assert len(chunks) >= 3 and set(whole.values()) == {1}, whole  # then filled once, by one process


def test_forked_workers_leave_whole_objects_to_the_prefetch(weed_s3, scratch_root, monkeypatch):
    """Forked workers reading chunks the loader's prefetch has not reached yet answer their rows
    with ranged reads and queue no fill of their own: the prefetch brings each object into the
    shared disk cache once, not also through a worker's relay (4 MiB pickled to the child)."""
    from deeplake_nb.storage import cache, remote

    monkeypatch.setattr(cache, "PREFETCH_THREADS", 1)  # one chunk at a time: the workers ask for the others first
    url = f"s3://bucket/coming-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 100, 100_000)  # ~10 MB: 3 heap chunks
    relayed = []  # (object key, whole?) of the workers' reads, made here
    real_read, real_ranges = remote.RemoteStore.read_bytes, remote.RemoteStore.get_ranges_sync

    def for_a_worker() -> bool:
        return threading.current_thread().name.startswith("deeplake_nb-relay")

    def read_bytes(self, key, byte_range=None):
        if for_a_worker():
            relayed.append((key, byte_range is None))
        return real_read(self, key, byte_range)

    def get_ranges_sync(self, key, ranges):
        if for_a_worker():
            relayed.append((key, False))
        return real_ranges(self, key, ranges)
    monkeypatch.setattr(remote.RemoteStore, "read_bytes", read_bytes)
    monkeypatch.setattr(remote.RemoteStore, "get_ranges_sync", get_ranges_sync)
    with S3Proxy(weed_s3.endpoint, latency=0.005, bandwidth=4e6) as proxy:  # a chunk takes ~1 s whole
        view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        loader = view.pytorch(tensors=["blobs"], batch_size=4, shuffle=True, num_workers=2, return_index=True,
                              multiprocessing_context="fork")
        seen = []
        for batch in loader:
            for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                assert np.array_equal(np.asarray(blob), rows[i])
                seen.append(i)
        assert sorted(seen) == list(range(100))
        for thread in threading.enumerate():  # the prefetch ends here, not in a later test
            if thread.name.startswith("deeplake_nb-cache-prefetch"):
                thread.join(60)
        store = view.zarr_store()

        async def heap_objects() -> set[str]:
            return {"objects/" + store.object_of(key) async for key in store.list_prefix("blobs/bytes/c/")}
        heap = sync(heap_objects())
    assert len(heap) >= 3 and {key for key, _ in relayed} & heap  # the workers read heap chunks early ...
    assert not [key for key, whole in relayed if whole and key in heap], relayed  # ... by ranges only


def _ragged(url: str, options: dict, n: int, size: int) -> list[np.ndarray]:
    ds = dl.empty(url, storage_options=options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    ds.create_tensor("labels", htype="class_label")
    rng = np.random.default_rng(2)
    rows = [rng.integers(0, 255, size + i, dtype=np.uint8) for i in range(n)]
    with ds:
        ds.blobs.extend(rows)
        ds.labels.extend(np.arange(n))
    ds.commit("blobs")
    return rows


def test_a_loader_prefetches_its_tensors_into_the_disk_cache(weed_s3):
    """A loader on an object store with a disk cache starts fetching its tensors' objects whole
    when it is made: its epoch (forked workers) then reads no object from the store, and each
    object was fetched once. With every object cached, or without a cache chain, nothing is
    prefetched."""
    from deeplake_nb.loader import source

    url = f"s3://bucket/prefetch-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 60, 150_000)  # ~9 MB: 3 heap chunks
    with S3Proxy(weed_s3.endpoint) as proxy:
        view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options), local_cache_size=64)
        before = len(proxy.requests)
        loader = view.pytorch(tensors=["blobs"], batch_size=4, shuffle=True, num_workers=2, return_index=True)
        filling = [t for t in threading.enumerate() if t.name == "deeplake_nb-cache-prefetch"]
        assert filling
        for thread in filling:
            thread.join(60)
        fetched = [path for method, path in proxy.requests[before:] if method == "GET" and "/objects/" in path]
        assert len(fetched) == len(set(fetched)) >= 5  # index, shape, 3 heap chunks: each once
        at = len(proxy.requests)
        for batch in loader:
            for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                assert np.array_equal(np.asarray(blob), rows[i])
        assert [r for r in proxy.requests[at:] if "/objects/" in r[1]] == []
        assert source.prefetch(view, ["blobs"]) is None  # all cached: nothing to do
    assert source.prefetch(dl.load(url, read_only=True, storage_options=weed_s3.options), None) is None


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """The folder of loaders' scratch caches, under a cache root (``$DEEPLAKE_NB_CACHE``) of this test."""
    from deeplake_nb.loader.local_cache import SCRATCH_FOLDER
    from deeplake_nb.storage.cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / SCRATCH_FOLDER


def _scratch_folders(root) -> list[str]:
    from deeplake_nb.loader.local_cache import SCRATCH_PREFIX

    return sorted(p.name for p in root.iterdir() if p.name.startswith(SCRATCH_PREFIX)) if root.exists() else []


def _object_gets(proxy, since: int) -> list[tuple[str, str | None]]:
    """(path, Range header) of the GETs of objects the proxy saw after request ``since``."""
    return [(path, byte_range) for (method, path), byte_range in zip(proxy.requests[since:], proxy.range_headers[since:])
            if method == "GET" and "/objects/" in path]


def _check_epoch(loader, rows) -> None:
    seen = []
    for batch in loader:
        for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
            assert np.array_equal(np.asarray(blob), rows[i])
            seen.append(i)
    assert sorted(seen) == list(range(len(rows)))


def _prefetched() -> None:
    for thread in [t for t in threading.enumerate() if t.name == "deeplake_nb-cache-prefetch"]:
        thread.join(60)


def test_a_loader_reads_a_remote_dataset_through_a_scratch_cache_by_default(weed_s3, scratch_root):
    """With no cache options, a loader on an object store reads through a scratch disk cache (under
    the cache root): each object is fetched whole, once; a second loader on the same dataset
    object (here with spawned workers, which reopen the dataset) reads nothing from the store;
    the folder goes when the dataset object does."""
    import gc

    url = f"s3://bucket/scratch-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 60, 150_000)  # ~9 MB: 3 heap chunks
    with S3Proxy(weed_s3.endpoint) as proxy:
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        before = len(proxy.requests)
        loader = ds.pytorch(tensors=["blobs"], batch_size=4, shuffle=True, num_workers=0, return_index=True)
        assert len(_scratch_folders(scratch_root)) == 1
        _prefetched()
        _check_epoch(loader, rows)
        gets = _object_gets(proxy, before)
        assert len(gets) >= 5 and all(byte_range is None for _, byte_range in gets), gets  # whole objects
        assert len({path for path, _ in gets}) == len(gets)  # each once
        at = len(proxy.requests)
        again = ds.pytorch(tensors=["blobs"], batch_size=8, num_workers=2, multiprocessing_context="spawn",
                           return_index=True)
        _check_epoch(again, rows)
        assert _object_gets(proxy, at) == [] and len(_scratch_folders(scratch_root)) == 1
        del loader, again, ds
        gc.collect()
        assert _scratch_folders(scratch_root) == []


def test_a_scratch_cache_lasts_while_a_loader_reads_through_it(weed_s3, scratch_root):
    """``dl.load(url).pytorch()``: the dataset object is gone at once, the loader still reads
    through the scratch folder (its epochs read no object from the store once prefetched); the
    folder goes with the loader."""
    import gc

    url = f"s3://bucket/oneliner-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 30, 100_000)
    with S3Proxy(weed_s3.endpoint) as proxy:
        loader = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options)).pytorch(
            tensors=["blobs"], batch_size=4, shuffle=True, return_index=True)
        gc.collect()
        _prefetched()
        assert len(_scratch_folders(scratch_root)) == 1
        at = len(proxy.requests)
        _check_epoch(loader, rows)
        assert _object_gets(proxy, at) == []
        del loader
        gc.collect()
        assert _scratch_folders(scratch_root) == []


def test_a_view_of_a_few_chunks_is_not_prefetched(weed_s3, scratch_root):
    """A loader of ``ds[:8]`` (one heap chunk of three) does not prefetch every object of the
    tensor: the epoch fetches the chunks its rows lie in. A view spread over every chunk is
    prefetched."""
    from deeplake_nb.loader import local_cache, source

    url = f"s3://bucket/fewchunks-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 60, 150_000)  # ~9 MB: 3 heap chunks
    with S3Proxy(weed_s3.endpoint) as proxy:
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        assert source.prefetch(local_cache.read_through(ds[:8], ["blobs"], None), ["blobs"]) is None
        spread = source.prefetch(local_cache.read_through(ds[::3], ["blobs"], None), ["blobs"])
        assert spread is not None
        spread.join(60)
        fresh = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        at = len(proxy.requests)
        _check_epoch(fresh[:8].pytorch(tensors=["blobs"], batch_size=4, return_index=True), rows[:8])
        big = {path for path, _ in _object_gets(proxy, at)}
        assert 1 <= len(big) <= 4, big  # the index, shape and the first heap chunk: not the other two


def test_use_local_cache_true_keeps_the_datasets_disk_cache_across_sessions(weed_s3, scratch_root):
    """Deep Lake v3's ``use_local_cache=True``: the dataset's own disk cache folder (under
    ``$DEEPLAKE_NB_CACHE``), which outlives the dataset object: a later session's loader reads
    nothing from the store. No scratch folder is made."""
    import gc

    from deeplake_nb.storage.cache import cache_folder

    url = f"s3://bucket/kept-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 30, 150_000)
    with S3Proxy(weed_s3.endpoint) as proxy:
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        loader = ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True, use_local_cache=True)
        _prefetched()
        _check_epoch(loader, rows)
        del loader, ds
        gc.collect()
        assert os.listdir(cache_folder(url))
        at = len(proxy.requests)
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True, use_local_cache=True), rows)
        assert _object_gets(proxy, at) == []
    assert _scratch_folders(scratch_root) == []


def test_a_loader_streams_without_a_disk_cache_when_asked_or_when_the_data_do_not_fit(weed_s3, scratch_root,
                                                                                      monkeypatch):
    """``use_local_cache=False``, and tensors larger than a scratch cache may be: ranged reads from
    the store, no folder made."""
    from deeplake_nb.loader import local_cache

    url = f"s3://bucket/stream-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 30, 150_000)
    with S3Proxy(weed_s3.endpoint) as proxy:
        ds = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options))
        for options in ({"use_local_cache": False}, {}):
            if not options:
                monkeypatch.setattr(local_cache, "SCRATCH_MAX_BYTES", 1 << 20)  # ~4.5 MB of blobs do not fit
            at = len(proxy.requests)
            _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, shuffle=True, return_index=True, **options), rows)
            gets = _object_gets(proxy, at)
            heap = {path for path, byte_range in gets if byte_range is not None}  # the chunks read by ranges
            assert len([r for _, r in gets if r is not None]) >= 4, options  # ranged reads of the samples (fewer
            assert heap and not {path for path, r in gets if r is None} & heap, gets  # when neighbours merge) only
            assert _scratch_folders(scratch_root) == []


def test_a_sharded_loader_makes_no_scratch_cache_unless_asked(weed_s3, scratch_root):
    """DDP ranks (``rank``/``world_size``) each reading a share: no scratch folder per process by
    default (each would fetch every object); ``use_local_cache=True`` reads through the dataset's
    one folder, which the ranks share."""
    from deeplake_nb.storage.cache import cache_folder

    url = f"s3://bucket/sharded-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 20, 1000)
    ds = dl.load(url, read_only=True, storage_options=weed_s3.options)
    seen = []
    for rank in (0, 1):
        for batch in ds.pytorch(tensors=["blobs"], batch_size=4, rank=rank, world_size=2, return_index=True):
            for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                assert np.array_equal(np.asarray(blob), rows[i])
                seen.append(i)
    assert sorted(seen) == list(range(20)) and _scratch_folders(scratch_root) == []
    assert not os.path.exists(cache_folder(url))
    _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, rank=0, world_size=1, return_index=True,
                            use_local_cache=True), rows)
    loader = ds.pytorch(tensors=["blobs"], batch_size=4, rank=1, world_size=2, use_local_cache=True)
    assert len(list(loader)) == 3 and os.listdir(cache_folder(url)) and _scratch_folders(scratch_root) == []


def test_a_loader_of_a_writable_remote_dataset_sees_its_buffered_appends(weed_s3, scratch_root):
    """The scratch cache reads the version the dataset shows: appends still buffered in the
    writable dataset object are flushed first, so the loader (spawned workers, which reopen the
    dataset) has every row."""
    url = f"s3://bucket/appends-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 10, 1000)
    ds = dl.load(url, storage_options=weed_s3.options)
    more = [np.full(500 + i, i, np.uint8) for i in range(5)]
    with ds:
        ds.blobs.extend(more)
        ds.labels.extend(np.arange(10, 15))
        loader = ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True, num_workers=2,
                            multiprocessing_context="spawn")
        assert len(_scratch_folders(scratch_root)) == 1
        _check_epoch(loader, rows + more)


def test_a_later_loader_of_a_writable_dataset_sees_rows_appended_since(weed_s3, scratch_root):
    """The loaders of one dataset object share its scratch cache; one made after more appends
    reads them too (published objects never change, so what the first one cached stays right)."""
    url = f"s3://bucket/later-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 10, 1000)
    ds = dl.load(url, storage_options=weed_s3.options)
    _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True), rows)
    more = [np.full(300 + i, 7, np.uint8) for i in range(6)]
    ds.blobs.extend(more)
    ds.labels.extend(np.arange(10, 16))
    _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True, shuffle=True), rows + more)
    ds.blobs[0] = np.full(5, 9, np.uint8)  # an update rewrites the row's bytes elsewhere
    _check_epoch(ds.pytorch(tensors=["blobs"], batch_size=4, return_index=True), [np.full(5, 9, np.uint8),
                                                                                   *rows[1:], *more])
    assert len(_scratch_folders(scratch_root)) == 1


def test_scratch_folders_of_processes_that_died_are_removed(weed_s3, scratch_root):
    """A process that dies leaves its scratch folder; the next scratch cache made removes it (and
    not the folders of live processes)."""
    import subprocess
    import sys

    from deeplake_nb.loader.local_cache import SCRATCH_PREFIX

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    scratch_root.mkdir(parents=True)
    (scratch_root / f"{SCRATCH_PREFIX}{dead}-old").mkdir()
    (scratch_root / f"{SCRATCH_PREFIX}{os.getpid()}-live").mkdir()
    url = f"s3://bucket/orphans-{uuid.uuid4().hex[:12]}"
    _ragged(url, weed_s3.options, 4, 1000)
    ds = dl.load(url, read_only=True, storage_options=weed_s3.options)
    ds.pytorch(tensors=["blobs"], batch_size=4)
    folders = _scratch_folders(scratch_root)
    assert f"{SCRATCH_PREFIX}{dead}-old" not in folders and f"{SCRATCH_PREFIX}{os.getpid()}-live" in folders
    assert len(folders) == 2


@pytest.mark.parametrize("workers", [0, 2])
def test_a_remote_loader_abandoned_at_exit_closes_quietly(weed_s3, scratch_root, workers):
    """A loop broken out of with reads still in flight (an object store: many I/O threads, a
    window ahead; with forked workers, their reads relayed by this process while it prefetches),
    the iterator never closed: the interpreter exits without a traceback."""
    import json
    import subprocess
    import sys

    url = f"s3://bucket/abandoned-{uuid.uuid4().hex[:12]}"
    _ragged(url, weed_s3.options, 1600, 20_000)  # 32 MB: 8 heap chunks, still being prefetched at exit
    script = ("import json, sys, torch, deeplake_nb as dl\n"
              "ds = dl.load(sys.argv[1], read_only=True, storage_options=json.loads(sys.argv[2]))\n"
              "it = iter(ds.pytorch(tensors=['blobs'], batch_size=8, shuffle=True, num_workers=int(sys.argv[3])))\n"
              "assert len(next(it)['blobs']) == 8\n")
    with S3Proxy(weed_s3.endpoint, latency=0.02) as proxy:  # requests in flight at exit
        options = json.dumps(proxy.options(weed_s3.options))
        for _ in range(3):
            done = subprocess.run([sys.executable, "-c", script, url, options, str(workers)], capture_output=True,
                                  text=True, timeout=120, env=dict(os.environ))  # (the test's cache root)
            assert done.returncode == 0, done.stderr
            assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert _scratch_folders(scratch_root) == []  # removed at exit
    dl.delete(url, storage_options=weed_s3.options)


def test_the_builders_loaders_read_through_the_scratch_cache_too(weed_s3, scratch_root):
    """``ds.dataloader()...pytorch()`` / ``.numpy()`` make their loader as ``ds.pytorch()`` does."""
    url = f"s3://bucket/builder-{uuid.uuid4().hex[:12]}"
    rows = _ragged(url, weed_s3.options, 12, 1000)
    ds = dl.load(url, read_only=True, storage_options=weed_s3.options)
    _check_epoch(ds.dataloader().batch(4).pytorch(tensors=["blobs"], return_index=True), rows)
    batches = list(ds.dataloader().batch(4).numpy(tensors=["blobs"], use_local_cache=False))
    assert sum(len(b["blobs"]) for b in batches) == 12 and len(_scratch_folders(scratch_root)) == 1


def test_use_local_cache_takes_true_false_or_none(weed_s3):
    url = f"s3://bucket/option-{uuid.uuid4().hex[:12]}"
    _ragged(url, weed_s3.options, 4, 1000)
    ds = dl.load(url, read_only=True, storage_options=weed_s3.options)
    for bad in ("yes", 1):
        with pytest.raises(errors.LoaderOptionError, match="use_local_cache must be True, False or None"):
            ds.pytorch(tensors=["blobs"], use_local_cache=bad)


def test_a_prefetch_asks_for_the_index_and_shapes_first_and_stops_at_its_budget(weed_s3, monkeypatch):
    """The objects a loader's first reads need (row index, shapes) are asked for before the heap
    chunks, and a small tensor's (labels) before a large one's, whatever order the loader names
    them in; a prefetch stops once it fetched its share of the cache (``PREFETCH_FRACTION``)."""
    from deeplake_nb.loader import source
    from deeplake_nb.storage import cache

    url = f"s3://bucket/prefetch-{uuid.uuid4().hex[:12]}"
    _ragged(url, weed_s3.options, 60, 150_000)
    view = dl.load(url, read_only=True, storage_options=weed_s3.options, local_cache_size=64)
    asked = []
    monkeypatch.setattr(cache.CacheChain, "prefetch", lambda self, objects, expected: asked.extend(k for k, _ in objects))
    source.prefetch(view, ["blobs", "labels"])
    store = view.zarr_store()

    async def logical_keys() -> list[str]:
        return [key async for key in store.list_prefix("")]
    keys = sync(logical_keys())
    first = {store.object_of(key) for key in keys if key.startswith(("blobs/index/c/", "blobs/shape/c/"))}
    heap = {store.object_of(key) for key in keys if key.startswith("blobs/bytes/c/")}
    assert heap and first
    order = [key.split("/", 1)[1] for key in asked]
    assert max(order.index(name) for name in first & set(order)) < min(order.index(name) for name in heap)
    labels = {store.object_of(key) for key in keys if key.startswith("labels/") and "/c/" in key} & set(order)
    assert labels and max(order.index(name) for name in labels) < min(order.index(name) for name in heap)
    monkeypatch.undo()

    monkeypatch.setattr(cache, "PREFETCH_FRACTION", 4 / 64)  # 4 MB of a 64 MB cache: about one heap chunk
    view = dl.load(url, read_only=True, storage_options=weed_s3.options, local_cache_size=64)
    thread = source.prefetch(view, ["blobs"])
    thread.join(60)
    folder = view.zarr_store().repository.physical.cache.disk.folder
    stored = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert 4e6 <= stored <= 4e6 + cache.PREFETCH_THREADS * 4.3e6  # stops once past its budget


def test_get_ranges_on_an_object_store_are_in_flight_together(weed_s3):
    """``ByteStore.get_ranges`` without a cache (what a version asks of its store for one
    object's ranges): the ranges go out together, ranges closer than ``RANGE_COALESCE`` as one
    request; past the end shorter, empty ones empty, an absent key None, a failure StorageError."""
    from deeplake_nb.storage import ByteStore, open_store
    from deeplake_nb.storage.remote import RANGE_COALESCE

    prefix = f"ranges-{uuid.uuid4().hex[:12]}"
    blob = np.random.default_rng(1).integers(0, 255, 3_000_000, dtype=np.uint8).tobytes()
    weed_s3.client.put_object(Bucket="bucket", Key=f"{prefix}/objects/a", Body=blob)
    far = [(i * (RANGE_COALESCE + 40_000), i * (RANGE_COALESCE + 40_000) + 100) for i in range(24)]
    near = [(2_900_000, 2_900_010), (2_900_100, 2_900_200)]  # one request for both
    ranges = [*far, *near, (50, 50), (2_999_990, 3_000_100)]
    latency = 0.05
    with S3Proxy(weed_s3.endpoint, latency=latency) as proxy:
        store = ByteStore(open_store(f"s3://bucket/{prefix}", read_only=True,
                                     storage_options=proxy.options(weed_s3.options)))
        start = time.perf_counter()
        got = store.get_ranges("objects/a", ranges)
        elapsed = time.perf_counter() - start
        assert got == [blob[lo:hi] for lo, hi in ranges]
        assert elapsed < len(far) * latency / 3, elapsed
        assert len(proxy.requests) <= len(far) + 2, proxy.requests
        assert store.get_ranges("objects/absent", [(0, 10)]) is None
        assert store.get_ranges("objects/a", [(5, 5)]) == [b""]
        proxy.stop()
        with pytest.raises(errors.StorageError, match=r"Cannot read 'objects/a' at 's3://bucket/ranges-"):
            store.get_ranges("objects/a", far)


def test_a_loaders_reads_of_one_chunk_are_asked_for_together(weed_s3, monkeypatch):
    """A window's reads of one heap chunk are one ``get_ranges_sync`` call of the store (obstore
    keeps them in flight together): without a cache chain, and with a cold one (the chunk then
    fills the cache behind them, and a second epoch reads it from there)."""
    from deeplake_nb.storage.remote import RemoteStore

    n = 48
    url = f"s3://bucket/loader-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=weed_s3.options)
    ds.create_tensor("blobs", htype="generic", dtype="uint8")
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 255, REMOTE_MAX_GAP + 5000 + i, dtype=np.uint8) for i in range(2 * n)]
    with ds:
        ds.blobs.extend(rows)
    ds.commit("blobs")
    calls: list[int] = []
    real = RemoteStore.get_ranges_sync
    monkeypatch.setattr(RemoteStore, "get_ranges_sync", lambda self, key, ranges: calls.append(len(ranges))
                        or real(self, key, ranges))
    latency = 0.05
    with S3Proxy(weed_s3.endpoint, latency=latency) as proxy:
        for cache in ({}, {"local_cache_size": 256}):
            calls.clear()
            view = dl.load(url, read_only=True, storage_options=proxy.options(weed_s3.options), **cache)[::2]
            view.blobs[0].numpy()  # the index arrays, loaded before the timing
            # no scratch cache: the dataset's own chain (local_cache_size) or ranged reads only
            loader = view.pytorch(batch_size=8, fetch_batches=6, num_workers=0, return_index=True,
                                  use_local_cache=False)
            start = time.perf_counter()
            got = [b for b in loader]
            elapsed = time.perf_counter() - start
            for batch in got:
                for i, blob in zip(np.asarray(batch["index"]).ravel().tolist(), batch["blobs"]):
                    assert np.array_equal(np.asarray(blob), rows[i])  # the index is the dataset's
            assert elapsed < n * latency / 4, elapsed
            assert 0 < len(calls) <= 4 and min(calls) > 1, calls  # one call per cold chunk object, its reads
            if not cache:
                assert sum(calls) >= n - 1, calls
            else:  # the chunk of row 0 was filled behind its first read: its reads came from the disk file
                assert view.zarr_store().repository.physical.cache.idle(30)
                calls.clear()
                before = len(proxy.requests)
                assert sum(len(b["blobs"]) for b in loader) == n
                assert calls == [] and [r for r in proxy.requests[before:] if "/objects/" in r[1]] == []


def test_links_on_object_stores_take_dataset_creds(moto_s3):
    """s3:// with Deep Lake v3's names; gs:// and az:// go through the same translation (its
    refusals of bad GCS and Azure creds come back as LinkError naming the link)."""
    moto_s3.client.put_object(Bucket="bucket", Key="linked/blob.bin", Body=b"linked bytes")
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": moto_s3.endpoint,
             "aws_region": "us-east-1"}
    assert links.fetch("s3://bucket/linked/blob.bin", creds) == b"linked bytes"
    with pytest.raises(errors.LinkError, match="gs://b/k.jpg.*token"):
        links.fetch("gs://b/k.jpg", {"token": "no-such-key-file.json"})
    with pytest.raises(errors.LinkError, match="az://acct/c/k.jpg.*account"):
        links.fetch("az://acct/c/k.jpg", {"account_name": "other"})


def test_links_in_one_bucket_share_one_client(moto_s3, monkeypatch):
    """Links read one after another reuse their bucket's client (and its connections)."""
    from deeplake_nb.storage import remote

    for i in range(3):
        moto_s3.client.put_object(Bucket="bucket", Key=f"shared/{i}.bin", Body=b"%d" % i)
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": moto_s3.endpoint,
             "aws_region": "us-east-1", "client_options": {"timeout": "31s"}}  # a fresh creds key for this test
    built = []
    real_build = remote._build_client
    monkeypatch.setattr(remote, "_build_client", lambda *args: built.append(args) or real_build(*args))
    assert [links.fetch(f"s3://bucket/shared/{i}.bin", dict(creds)) for i in range(3)] == [b"0", b"1", b"2"]
    assert len(built) == 1


_FORKSERVER_CHECK = """
import json, sys, psutil
import deeplake_nb as dl
ds = dl.load(sys.argv[1], read_only=True, storage_options=json.loads(sys.argv[2]))
before = [p.cmdline() for p in psutil.Process().children()]
loader = ds.pytorch(batch_size=4, num_workers=1, multiprocessing_context="forkserver")
after = [p.cmdline() for p in psutil.Process().children()]
print(json.dumps([any("forkserver" in " ".join(c) for c in cmds) for cmds in (before, after)]))
"""


def test_the_fork_server_starts_with_the_loader_not_its_first_epoch(moto_s3, image):
    """Workers asked to come from a fork server (whose imports take seconds) on an object store:
    it is started when the loader is made, so that time overlaps the caller's until the first epoch."""
    import json
    import subprocess
    import sys

    url = _images(moto_s3, image, 4)
    run = subprocess.run([sys.executable, "-c", _FORKSERVER_CHECK, url, json.dumps(moto_s3.options)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [False, True]


_BRIDGE_CHECK = """
import json, multiprocessing, sys, time
import deeplake_nb as dl
ds = dl.load(sys.argv[1], read_only=True, storage_options=json.loads(sys.argv[2]))
options = dict(tensors=["labels"], batch_size=4, shuffle=True, seed=3, return_index=False)
loader = ds.pytorch(num_workers=2, multiprocessing_context="forkserver", **options)
epochs, made_here = [], []
for _ in range(2):
    epochs.append([b["labels"].numpy().ravel().tolist() for b in loader])
    made_here.append(loader.made_here)
    waiter = multiprocessing.get_context("forkserver").Process(target=print)  # returns once the server runs
    waiter.start()
    waiter.join()
    deadline = time.monotonic() + 60  # the loader's own probe of the server may land a moment later
    while loader._server_ready is not None and not loader._server_ready() and time.monotonic() < deadline:
        time.sleep(0.01)
alone = ds.pytorch(num_workers=0, **options)
print(json.dumps({"same": epochs == [[b["labels"].numpy().ravel().tolist() for b in alone] for _ in range(2)],
                  "made_here": made_here, "batches": len(loader)}))
"""


def test_batches_are_made_here_while_the_fork_server_starts(moto_s3):
    """In a fresh interpreter (a cold fork server): the first epoch's first batches are made in
    the main process until the workers can start, the rest by the workers; the order is the one
    num_workers=0 gives; in the second epoch (server ready) this process makes the batches the
    fresh workers start up in (``warmup.LEAD_PER_WORKER`` per worker), the workers the rest."""
    import json
    import subprocess
    import sys

    url = f"s3://bucket/bridge-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=moto_s3.options)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(np.arange(200))
    ds.commit("labels")
    run = subprocess.run([sys.executable, "-c", _BRIDGE_CHECK, url, json.dumps(moto_s3.options)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["same"] and result["batches"] == 50
    first, second = result["made_here"]
    assert first > 0 and second == first + 2 * 2, result  # epoch 2: the server is ready, 2 batches per worker


def test_the_workers_take_over_at_the_next_batch(moto_s3):
    """Once the server is ready, the workers start at the batch after the last one made here."""
    import itertools

    url = f"s3://bucket/bridge-{uuid.uuid4().hex[:12]}"
    ds = dl.empty(url, storage_options=moto_s3.options)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(np.arange(60))
    ds.commit("labels")
    options = dict(tensors=["labels"], batch_size=4, shuffle=True, seed=5, return_index=False)
    loader = ds.pytorch(num_workers=2, multiprocessing_context="forkserver", **options)
    asked = itertools.count()
    loader._server_ready = lambda: next(asked) >= 5  # "ready" after a few batches
    got = [b["labels"].numpy().ravel().tolist() for b in loader]
    assert 0 < loader.made_here < len(loader) == 15
    assert got == [b["labels"].numpy().ravel().tolist() for b in ds.pytorch(num_workers=0, **options)]


def test_a_bridged_stream_hands_over_once():
    from deeplake_nb.loader.warmup import BridgedStream

    items = [(b, f"batch {b}", [], None) for b in range(10)]
    closed, started = [], []

    def here():
        try:
            yield from items[2:]
        finally:
            closed.append(True)

    def workers(first):
        started.append(first)
        return iter(items[first:])
    ready = iter([False, False, False, True])
    stream = BridgedStream(here(), lambda: next(ready, True), 2, workers)
    assert [item[0] for item in stream] == list(range(2, 10))
    assert stream.made_here == 3 and started == [5] and closed == [True]
    never = BridgedStream(iter(items[8:]), lambda: False, 8, workers)  # the epoch ends before the server
    assert [item[0] for item in never] == [8, 9] and never.workers is None and started == [5]


def test_a_bridged_stream_starts_the_workers_lead_batches_ahead():
    """Once the server is ready the workers are started at once, ``lead`` batches ahead; the
    batches before theirs are made here meanwhile; a stream left early leaves them to the caller."""
    from deeplake_nb.loader.warmup import BridgedStream

    items = [(b, f"batch {b}", [], None) for b in range(10)]
    started, pulled = [], []

    def workers(first):
        started.append(first)
        return (pulled.append(item[0]) or item for item in items[first:])
    ready = iter([False, True])
    stream = BridgedStream((i for i in items), lambda: next(ready, True), 0, workers, lead=3)
    assert next(stream)[0] == 0 and started == []
    assert next(stream)[0] == 1 and started == [4]  # started while batches 1..3 are made here
    assert [item[0] for item in stream] == list(range(2, 10))
    assert stream.made_here == 4 and pulled == list(range(4, 10))
    at_once = BridgedStream((i for i in items), lambda: True, 0, workers, lead=2)
    assert [next(at_once)[0] for _ in range(2)] == [0, 1] and started == [4, 2] and at_once.workers is not None
    short = BridgedStream((i for i in items[8:]), lambda: True, 8, lambda first: iter(items[first:]), lead=4)
    assert [item[0] for item in short] == [8, 9] and short.made_here == 2  # the epoch ended before the workers' first


_EARLY_SERVER_CHECK = """
import json, sys
import deeplake_nb as dl
from deeplake_nb.loader import warmup
ds = dl.load(sys.argv[1], read_only=True, storage_options=json.loads(sys.argv[2]))
seen = []
real = warmup.start_server
warmup.start_server = lambda: seen.append("torch" in sys.modules) or real()  # start_early's call, then Loader's
loader = ds.pytorch(batch_size=4, num_workers=1, multiprocessing_context="forkserver")
print(json.dumps(seen))
"""


def test_the_fork_server_starts_early_only_for_workers_that_need_it(monkeypatch, tmp_path):
    from deeplake_nb.loader import warmup

    started = []
    monkeypatch.setattr(warmup, "start_server", lambda: started.append(True))
    for url, workers, context in [("mem://x", 2, "forkserver"), ("s3://b/p", 0, None), ("s3://b/p", "2", None),
                                  ("s3://b/p", 2, "spawn"), (str(tmp_path), 2, "fork"), ("s3://b/p", 2, "fork")]:
        warmup.start_early(url, workers, context)  # forked workers on an object store read through this process
    assert started == []
    warmup.start_early("s3://b/p", 2, "forkserver")
    warmup.start_early(str(tmp_path), 1, "forkserver")  # asked for
    assert started == [True, True]


def test_the_fork_server_starts_before_this_process_imports_torch(moto_s3, image):
    """``ds.pytorch`` with fork-server workers on an object store starts the server before it
    imports torch, so the server's imports (torch, deeplake_nb) run beside this process's."""
    import json
    import subprocess
    import sys

    url = _images(moto_s3, image, 4)
    run = subprocess.run([sys.executable, "-c", _EARLY_SERVER_CHECK, url, json.dumps(moto_s3.options)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])[0] is False


def test_a_one_thread_engine_keeps_one_batch_in_decode(tmp_path, image):
    """A worker with one decode thread (two workers on two cores) holds one batch buffer in
    decode, not ``decode_ahead``: the second would only wait, holding ~38 MB (a 64x3x224x224
    float32 batch); engines with more threads keep ``decode_ahead``. Same batches either way."""
    from deeplake_nb.loader.config import LoaderConfig
    from deeplake_nb.loader.engine import BatchEngine
    from deeplake_nb.loader.source import DatasetSource

    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(np.arange(40))
    source = DatasetSource(ds, ["labels"])
    batches = [(b, np.arange(b * 8, b * 8 + 8)) for b in range(5)]
    made = {}
    for threads in (1, 4):
        engine = BatchEngine(source, LoaderConfig(tensors=("labels",), batch_size=8, num_threads=threads), "numpy")
        assert engine.decode_ahead == min(threads, engine.config.decode_ahead)
        made[threads] = [batch["labels"].ravel().tolist() for _, batch, _, _ in engine.run(iter(batches))]
    assert made[1] == made[4] == [list(range(b * 8, b * 8 + 8)) for b in range(5)]


def test_without_lookahead_the_next_batch_starts_once_the_last_was_taken(tmp_path, image):
    """``BatchEngine.run(lookahead=False)`` (a DataLoader worker whose next task is already
    queued): the next batch is submitted only after the finished one was taken, so a worker holds
    one batch buffer (shared-memory slot) less; with ``lookahead`` the next is submitted before
    the finished one is handed on. The batches, and samples made ``FILL_STEP`` at a time, are
    the same."""
    from deeplake_nb.loader import engine as engine_module
    from deeplake_nb.loader.config import LoaderConfig
    from deeplake_nb.loader.engine import BatchEngine
    from deeplake_nb.loader.source import DatasetSource

    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.extend([image(8, 8, seed=i) for i in range(40)])
    source = DatasetSource(ds, ["images"])
    batches = [(b, np.arange(b * 20, b * 20 + 20)) for b in range(2)]
    made, submitted = {}, {}
    for lookahead in (True, False):
        engine = BatchEngine(source, LoaderConfig(tensors=("images",), batch_size=20, num_threads=1), "numpy")
        calls: list[int] = []
        submit = engine._submit

        def counted(*args, submit=submit, calls=calls):
            calls.append(1)
            return submit(*args)
        engine._submit = counted  # type: ignore[method-assign]
        run = engine.run(iter(batches), lookahead=lookahead)
        first = next(run)
        submitted[lookahead] = len(calls)  # batches submitted when the first is handed on
        made[lookahead] = [first[1]["images"].copy(), *(batch["images"].copy() for _, batch, _, _ in run)]
        assert len(calls) == len(batches)
    assert submitted == {True: 2, False: 1}
    expected = np.stack([image(8, 8, seed=i) for i in range(40)]).reshape(2, 20, 8, 8, 3)
    assert engine_module.FILL_STEP < 10  # a group (half a batch: 10 samples) made in steps
    for lookahead in (True, False):
        assert np.array_equal(np.stack(made[lookahead]), expected)


def test_a_fork_server_seen_ready_is_ready_at_once_for_the_next_loader(monkeypatch):
    """The first ``ServerReady`` probes the fork server (a process started through it); the next
    one (a new loader, a new epoch) for the same server is ready when made, so its first batch
    is not made here while a probe runs; a server with another pid (restarted) is probed again."""
    from deeplake_nb.loader import warmup

    monkeypatch.setattr(warmup, "_ready_server", None)
    first = warmup.ServerReady()
    deadline = time.monotonic() + 120
    while not first() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first() and warmup._ready_server == warmup._server_pid() is not None
    assert warmup.ServerReady()()  # at once: no probe
    monkeypatch.setattr(warmup, "_server_pid", lambda: -1)  # another server
    assert warmup._ready_server != -1
    again = warmup.ServerReady()
    deadline = time.monotonic() + 120
    while not again() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert again() and warmup._ready_server == -1
