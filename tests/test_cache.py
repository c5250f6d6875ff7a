"""The cache chain (``memory_cache_size`` / ``local_cache_size``): objects that never change are
kept in memory and on local disk, so later reads and re-opens make no store request for them;
the disk cache keeps its size bound, detects damaged files and refetches them, is safe for
several processes, and never holds refs or other keys that change."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import shutil
import time
from collections import Counter

import numpy as np
import pytest
from zarr.core.buffer import default_buffer_prototype

import deeplake_nb as dl
from deeplake_nb.core import api
from deeplake_nb.errors import DatasetOptionError
from deeplake_nb.storage import cache as cache_module
from deeplake_nb.storage import open_store
from deeplake_nb.storage.cache import CacheChain, CacheSettings, DiskCache, MemoryCache
from deeplake_nb.version import Repository
from deeplake_nb.version.repository import immutable

buffer = default_buffer_prototype().buffer.from_bytes

from test_open_requests import CountingStore


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(cache_module.CACHE_ENV, str(root))
    return root


def _files(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _folder_bytes(folder) -> int:
    return sum(os.path.getsize(os.path.join(folder, name)) for name in _files(folder))


# -- the disk cache on its own ----------------------------------------------------------------------
def test_disk_cache_round_trip_and_a_damaged_file_is_refetched(tmp_path):
    folder = str(tmp_path / "c")
    chain = CacheChain(CacheSettings(0, 1 << 20, folder), holds=lambda key: True)
    fetched = Counter()

    def fetch(key, data):
        def go():
            fetched[key] += 1
            return data
        return go

    assert chain.read("objects/a", fetch("objects/a", b"abc" * 100)) == b"abc" * 100
    assert chain.read("objects/a", fetch("objects/a", b"other")) == b"abc" * 100  # a hit: no fetch
    assert fetched["objects/a"] == 1
    (name,) = _files(folder)
    path = os.path.join(folder, name)
    for damage in (lambda b: b[:-1], lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:], lambda b: b""):
        with open(path, "rb") as f:
            blob = f.read()
        with open(path, "wb") as f:
            f.write(damage(blob))
        assert chain.read("objects/a", fetch("objects/a", b"abc" * 100)) == b"abc" * 100  # detected, refetched
    assert fetched["objects/a"] == 4
    assert DiskCache(folder, 1 << 20).get("objects/a") == b"abc" * 100  # the refetched copy is whole again
    assert chain.read("objects/absent", fetch("objects/absent", None)) is None
    assert chain.read("objects/absent", fetch("objects/absent", b"now")) == b"now"  # absence is not kept


def test_eviction_keeps_the_size_bound_and_drops_the_least_recently_used(tmp_path):
    folder = str(tmp_path / "c")
    bound = 100_000
    disk = DiskCache(folder, bound)
    blob = bytes(9_000)
    for i in range(40):
        disk.put(f"objects/{i}", blob)
        if i >= 5:
            os.utime(disk._path("objects/0"), (1e10, 1e10))  # object 0 is used all the time
        assert _folder_bytes(folder) <= bound
    assert disk.get("objects/0") == blob  # recently used: kept
    assert disk.get("objects/1") is None  # least recently used: evicted
    assert disk.get("objects/39") == blob
    disk.put("objects/huge", bytes(bound))  # larger than the whole cache: not kept
    assert disk.get("objects/huge") is None and _folder_bytes(folder) <= bound


def test_memory_cache_is_an_lru_bounded_by_size():
    memory = MemoryCache(1000)
    for i in range(12):
        memory.put(str(i), bytes(120))
        memory.get("0")
    assert memory.used <= 1000
    assert memory.get("0") is not None and memory.get("1") is None and memory.get("11") is not None
    memory.put("big", bytes(126))  # over LARGE_FRACTION of the bound: not kept, nothing evicted
    assert memory.get("big") is None and memory.get("11") is not None


def test_ranged_disk_reads_check_the_file_once_then_read_only_their_range(tmp_path, monkeypatch):
    folder = str(tmp_path / "c")
    data = bytes(range(256)) * 64
    DiskCache(folder, 1 << 20).put("objects/a", data)
    disk = DiskCache(folder, 1 << 20)
    crcs = []
    real = cache_module.google_crc32c.value
    monkeypatch.setattr(cache_module.google_crc32c, "value", lambda b: crcs.append(len(b)) or real(b))
    assert disk.get("objects/a", 100, 300) == data[100:300]  # the first read checks the whole file
    assert disk.get("objects/a", 5000, 5010) == data[5000:5010]
    assert disk.get("objects/a", len(data) - 3, len(data) + 50) == data[-3:]  # clamped, as a store does
    assert disk.get("objects/a", 10, None) == data[10:]
    assert crcs == [len(data)]  # checked once, in this process
    path = disk._path("objects/a")
    with open(path, "r+b") as f:  # cut short: the size changed, so it is checked again, found damaged
        f.truncate(os.path.getsize(path) - 1)
    assert disk.get("objects/a", 0, 10) is None and not os.path.exists(path)


def test_a_cold_ranged_read_is_a_ranged_read_and_the_whole_object_fills_the_cache_behind_it(tmp_path):
    chain = CacheChain(CacheSettings(0, 1 << 20, str(tmp_path / "c")), holds=lambda key: True)
    data = os.urandom(10_000)
    fetched = Counter()

    def whole():
        fetched["whole"] += 1
        return data

    def ranged(lo, hi):
        def go():
            fetched["range"] += 1
            return data[lo:hi]
        return go
    assert chain.read("objects/a", whole, 0, 10, fetch_range=ranged(0, 10)) == data[:10]
    assert chain.idle(10)
    for lo, hi in ((500, 9_000), (9_990, 10_000)):
        assert chain.read("objects/a", whole, lo, hi, fetch_range=ranged(lo, hi)) == data[lo:hi]
    assert fetched == Counter(whole=1, range=1)  # the later ranges came from the disk file
    assert chain.read("objects/b", lambda: b"whole", 1, 3) == b"ho"  # no ranged fetch given: the whole object


def test_cold_ranged_reads_do_not_wait_for_the_fill_and_share_one(tmp_path):
    """The fill is slow (a whole 4 MiB chunk object): every ranged read before it lands is
    answered by its own ranged read at once, and the object is fetched whole only once."""
    from concurrent.futures import ThreadPoolExecutor

    chain, data, release, fetched, whole = _slow_fill(tmp_path)

    def ranged(lo, hi):
        def go():
            fetched["range"] += 1
            return data[lo:hi]
        return go
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(chain.read, "objects/a", whole, i * 1000, i * 1000 + 10, ranged(i * 1000, i * 1000 + 10))
                   for i in range(32)]
        assert [f.result(timeout=5) for f in futures] == [data[i * 1000: i * 1000 + 10] for i in range(32)]
    assert not chain.idle(0.05)  # the fill still waits for its store read
    release.set()
    assert chain.idle(10)
    assert fetched == Counter(whole=1, range=32)
    assert chain.read("objects/a", whole, 7, 9, fetch_range=ranged(7, 9)) == data[7:9]
    assert fetched == Counter(whole=1, range=32)


def test_a_failed_fill_leaves_the_cache_cold_and_the_next_miss_fills_it(tmp_path):
    folder = str(tmp_path / "c")
    chain = CacheChain(CacheSettings(0, 1 << 20, folder), holds=lambda key: True)
    data = os.urandom(5_000)

    def failing():
        raise OSError("store gone")
    assert chain.read("objects/a", failing, 0, 4, fetch_range=lambda: data[:4]) == data[:4]
    assert chain.idle(10) and _files(folder) == []
    assert chain.read("objects/a", lambda: data, 4, 8, fetch_range=lambda: data[4:8]) == data[4:8]
    assert chain.idle(10) and DiskCache(folder, 1 << 20).get("objects/a") == data


def test_ranges_of_one_object_come_from_a_cache_or_together_from_the_store(tmp_path):
    """``read_ranges``: every range from the memory or disk copy when there is one; cold (or a
    damaged file), the ranges from the store in one call while the whole object fills the caches."""
    folder = str(tmp_path / "c")
    chain = CacheChain(CacheSettings(0, 1 << 20, folder), holds=lambda key: True)
    data = os.urandom(10_000)
    ranges = [(0, 10), (500, 9_000), (9_990, 10_050)]
    expected = [data[lo:hi] for lo, hi in ranges]
    fetched = Counter()

    def whole():
        fetched["whole"] += 1
        return data

    def together():
        fetched["ranges"] += 1
        return [data[lo:hi] for lo, hi in ranges]
    assert chain.read_ranges("objects/a", ranges, whole, together) == expected
    assert chain.idle(10)
    assert chain.read_ranges("objects/a", ranges, whole, together) == expected  # from the disk file
    assert fetched == Counter(whole=1, ranges=1)
    (name,) = _files(folder)
    with open(os.path.join(folder, name), "r+b") as f:  # damaged: found, deleted, read from the store again
        f.truncate(100)
    fresh = CacheChain(CacheSettings(0, 1 << 20, folder), holds=lambda key: True)
    assert fresh.read_ranges("objects/a", ranges, whole, together) == expected
    assert fresh.idle(10) and fetched == Counter(whole=2, ranges=2)
    memory = CacheChain(CacheSettings(1 << 20, 0, folder), holds=lambda key: True)
    memory.memory.put("objects/a", data)
    assert memory.read_ranges("objects/a", ranges, whole, together) == expected and fetched["ranges"] == 2


def test_objects_too_large_for_every_cache_are_then_read_by_ranges(tmp_path):
    """An object over LARGE_FRACTION of the caches is fetched whole once behind its first ranged
    read (its size is unknown before), then each range is a ranged store read: never the whole
    object again."""
    folder = str(tmp_path / "c")
    chain = CacheChain(CacheSettings(1 << 16, 1 << 16, folder), holds=lambda key: True)
    data = os.urandom(20_000)  # > 1/8 of 64 KiB
    fetched = Counter()

    def whole():
        fetched["whole"] += 1
        return data

    def ranged(lo, hi):
        def go():
            fetched["range"] += 1
            return data[lo:hi]
        return go
    for lo, hi in ((0, 10), (100, 200), (300, 400)):
        assert chain.read("objects/big", whole, lo, hi, fetch_range=ranged(lo, hi)) == data[lo:hi]
        assert chain.idle(10)
    assert fetched == Counter(whole=1, range=3)
    assert _files(folder) == [] and chain.memory.used == 0
    assert chain.read("objects/big", whole) == data  # a whole read is still whole


def test_the_chain_remembers_a_bounded_number_of_objects_too_large_to_keep(tmp_path, monkeypatch):
    """The keys known to fit in no cache are bounded (``LARGE_KEYS``, least recently seen
    forgotten first): a forgotten one is fetched whole once more behind a ranged read, and again
    not kept."""
    monkeypatch.setattr(cache_module, "LARGE_KEYS", 3)
    chain = CacheChain(CacheSettings(0, 1 << 16, str(tmp_path / "c")), holds=lambda key: True)
    data = os.urandom(20_000)  # > 1/8 of 64 KiB
    fetched = Counter()

    def whole(key):
        def go():
            fetched[key] += 1
            return data
        return go
    for i in range(5):
        chain.read(f"objects/{i}", whole(i), 0, 10, fetch_range=lambda: data[:10])
        assert chain.idle(10)
    assert list(chain._large) == ["objects/2", "objects/3", "objects/4"]
    chain.read("objects/2", whole(2), 0, 10, fetch_range=lambda: data[:10])  # seen again: kept longest
    chain.read("objects/0", whole(0), 0, 10, fetch_range=lambda: data[:10])  # forgotten: fetched whole again
    assert chain.idle(10)
    assert fetched == Counter({0: 2, 1: 1, 2: 1, 3: 1, 4: 1})
    assert list(chain._large) == ["objects/4", "objects/2", "objects/0"]


def test_a_fill_another_holder_of_the_folder_has_claimed_is_left_to_it(tmp_path):
    """Two chains over one folder (two processes, or two opens in one): while one fetches an
    object into the folder, the other's fill of it is dropped (its ranged reads go to the store)
    and, once the object is there, its reads come from the folder: the object is fetched whole
    once."""
    chain, data, release, fetched, whole = _slow_fill(tmp_path)
    other = CacheChain(chain.settings, holds=lambda key: True)
    ranges = [(0, 10), (1000, 1010)]
    expected = [data[lo:hi] for lo, hi in ranges]

    def together():
        fetched["ranges"] += 1
        return [data[lo:hi] for lo, hi in ranges]
    assert chain.read_ranges("objects/a", ranges, whole, together) == expected
    deadline = time.monotonic() + 10
    while not fetched["whole"] and time.monotonic() < deadline:  # the first chain's fill holds the claim
        time.sleep(0.005)
    assert other.read_ranges("objects/a", ranges, whole, together) == expected
    assert other.idle(10)  # its fill found the claim held and was dropped, not waiting
    assert fetched == Counter(whole=1, ranges=2)
    release.set()
    assert chain.idle(10)
    assert other.read_ranges("objects/a", ranges, whole, together) == expected  # from the folder
    assert fetched == Counter(whole=1, ranges=2)
    assert _files(chain.settings.folder) == [os.path.basename(chain.disk._path("objects/a"))]  # no lock left


def test_a_folder_without_file_locks_still_fills(tmp_path, monkeypatch):
    """Where ``flock`` fails for another reason than a holder (ENOLCK on some network file
    systems), a fill goes ahead: the cache fills, at worst twice, never not at all."""
    import errno

    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(cache_module.fcntl, "flock", no_locks)
    chain = CacheChain(CacheSettings(0, 1 << 20, str(tmp_path / "c")), holds=lambda key: True)
    data = os.urandom(5_000)
    assert chain.read_ranges("objects/a", [(0, 4)], lambda: data, lambda: [data[:4]]) == [data[:4]]
    assert chain.idle(10) and chain.disk.get("objects/a") == data


def _fill_in_process(folder: str, log: str, keys: int, rounds: int) -> None:
    chain = CacheChain(CacheSettings(0, 1 << 24, folder), holds=lambda key: True)
    for r in range(rounds):
        for k in range(keys):
            key = f"objects/{(k + r) % keys}"

            def whole(key=key):
                with open(log, "a") as f:  # O_APPEND: one line per whole fetch, from any process
                    f.write(key + "\n")
                time.sleep(0.05)
                return key.encode() * 1000

            got = chain.read_ranges(key, [(0, 4)], whole, lambda key=key: [key.encode()[:4]])
            assert got == [key.encode()[:4]]
        time.sleep(0.02)
    assert chain.idle(30)


def test_processes_sharing_a_disk_cache_fetch_each_object_whole_once(tmp_path):
    """Three processes reading ranges of the same cold objects at the same time (loader workers):
    each object is fetched whole by one of them, the others' fills of it are dropped."""
    folder, log = str(tmp_path / "c"), str(tmp_path / "fetches.log")
    context = mp.get_context("fork")
    workers = [context.Process(target=_fill_in_process, args=(folder, log, 6, 8)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with open(log) as f:
        fetches = Counter(f.read().split())
    assert fetches == Counter({f"objects/{k}": 1 for k in range(6)})
    disk = DiskCache(folder, 1 << 24)
    assert all(disk.get(f"objects/{k}") == f"objects/{k}".encode() * 1000 for k in range(6))


def _read_in_fork(chain: CacheChain, out) -> None:
    out.put(chain.read("objects/a", lambda: b"child's", 0, 5))


def test_a_forked_child_does_not_wait_for_its_parents_fill(tmp_path):
    """A fill in flight when the process forks does not run in the child: the child's read of that
    object fetches it itself instead of waiting forever for the parent's fetch."""
    import threading

    chain = CacheChain(CacheSettings(1 << 20, 0, str(tmp_path / "c")), holds=lambda key: True)
    release = threading.Event()

    def whole():
        release.wait(30)
        return b"parent's"
    assert chain.read("objects/a", whole, 0, 2, fetch_range=lambda: b"pa") == b"pa"
    out = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_read_in_fork, args=(chain, out))
    child.start()
    try:
        assert out.get(timeout=20) == b"child"
    finally:
        release.set()
        child.join(10)
        if child.is_alive():
            child.kill()
    assert chain.idle(10) and chain.read("objects/a", lambda: b"never") == b"parent's"


def test_a_temporary_file_left_by_an_ended_process_is_removed_by_a_scan(tmp_path):
    folder = str(tmp_path / "c")
    disk = DiskCache(folder, 1 << 20)
    disk.put("objects/a", b"x" * 100)
    stale, fresh = os.path.join(folder, "abc.1.dead.tmp"), os.path.join(folder, "abd.2.live.tmp")
    for path in (stale, fresh):
        with open(path, "wb") as f:
            f.write(b"partial")
    old = os.path.getmtime(stale) - cache_module.STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    assert [path for _, _, path in disk._files()] == [disk._path("objects/a")]
    assert not os.path.exists(stale) and os.path.exists(fresh)  # another process's write in progress stays


def test_concurrent_misses_of_one_key_make_one_store_read(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    chain, data, release, fetched, whole = _slow_fill(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(chain.read, "objects/a", whole, i * 1000, i * 1000 + 10) for i in range(16)]
        release.set()
        assert [f.result() for f in futures] == [data[i * 1000: i * 1000 + 10] for i in range(16)]
    assert fetched["whole"] == 1

    def failing():
        release.wait(10)
        raise OSError("store gone")
    release.clear()
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(chain.read, "objects/b", failing) for _ in range(4)]
        release.set()
        for future in futures:  # every waiter sees the failure; nothing is kept
            with pytest.raises(OSError, match="store gone"):
                future.result()
    assert chain.read("objects/b", lambda: b"back") == b"back"


def _writer(folder: str, worker: int, rounds: int) -> None:
    disk = DiskCache(folder, 1 << 30)
    for r in range(rounds):
        key = f"objects/{r % 7}"
        disk.put(key, (key * 1000).encode())
        data = disk.get(f"objects/{(r + worker) % 7}")
        assert data is None or data == (f"objects/{(r + worker) % 7}" * 1000).encode()


def test_processes_sharing_a_folder_see_whole_files_only(tmp_path):
    folder = str(tmp_path / "c")
    context = mp.get_context("spawn")
    workers = [context.Process(target=_writer, args=(folder, w, 200)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    disk = DiskCache(folder, 1 << 30)
    assert all(disk.get(f"objects/{k}") == (f"objects/{k}" * 1000).encode() for k in range(7))
    assert len(_files(folder)) == 7  # no temporary files left


def test_only_keys_that_never_change_are_cacheable():
    name = "01a23ea0b6fa10251e7c8982cd1f2e16"
    for key in (f"objects/{name}", f"manifests/{name}", f"metadata/{name}", f"commits/{name}"):
        assert immutable(key)
    for key in ("repo.json", "refs/branches/main/00000000000000000001", "refs/branches/main/latest",
                "refs/tags/v1/00000000000000000001", f"objects/{name}/x", "objects/../repo.json", "link_creds.json",
                "zarr.json", f".queries/{name}"):
        assert not immutable(key), key


def test_sizes_must_be_numbers_of_mb(tmp_path):
    with pytest.raises(DatasetOptionError, match="local_cache_size"):
        dl.empty(str(tmp_path / "ds"), local_cache_size="big")
    with pytest.raises(DatasetOptionError, match="memory_cache_size"):
        dl.empty(str(tmp_path / "ds"), memory_cache_size=-1)
    for size in (float("inf"), float("nan")):  # not an OverflowError or ValueError from int()
        with pytest.raises(DatasetOptionError, match="local_cache_size"):
            dl.empty(str(tmp_path / "ds"), local_cache_size=size)


# -- a dataset read through the cache ------------------------------------------------------------
def _build(path: str) -> None:
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("labels", htype="class_label")
        ds.extend({"images": [np.full((8, 8, 3), i, np.uint8) for i in range(20)], "labels": np.arange(20) % 3})
    ds.commit("import")


def _read_all(ds: dl.Dataset) -> tuple[list, list]:
    return [image.tolist() for image in ds.images.numpy(aslist=True)], ds.labels.numpy().ravel().tolist()


class RecordingStore(CountingStore):
    """A CountingStore that also records the keys it was asked for (``calls["keys"]``)."""

    def get_sync(self, key, **kw):
        self.calls.setdefault("keys", []).append(key)
        return super().get_sync(key, **kw)


def _counted_load(path: str, **options) -> tuple[Counter, list[str], dl.Dataset]:
    """``dl.load`` over a RecordingStore: (request counts, the keys read, the dataset)."""
    calls: Counter = Counter()
    calls["keys"] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "open_store", lambda *a, **k: RecordingStore(open_store(*a, **k), calls))
        ds = dl.load(path, **options)
    return calls, calls["keys"], ds


def _requests(calls: Counter) -> int:
    return sum(count for kind, count in calls.items() if kind != "keys")


def test_a_reopened_dataset_reads_its_objects_from_the_disk_cache(tmp_path, monkeypatch, cache_root):
    path = str(tmp_path / "ds")
    _build(path)
    expected = _read_all(dl.load(path))
    _, first_keys, ds = _counted_load(path, local_cache_size=64)
    assert _read_all(ds) == expected
    assert ds.zarr_store().repository.physical.cache.idle(30)  # the fills behind ranged reads landed
    assert any(key.startswith("objects/") for key in first_keys)  # the first reads fill the cache
    (folder,) = os.listdir(cache_root)
    assert len(_files(cache_root / folder)) > 0
    calls, keys, again = _counted_load(path, local_cache_size=64)
    assert _read_all(again) == expected
    assert [key for key in keys if not key.startswith("refs/")] == []  # hits make no store request
    assert _requests(calls) <= 2  # the hint and the next entry's absence: refs are never cached
    # every cached file holds a key that never changes
    cached = []
    real_put = DiskCache.put
    monkeypatch.setattr(DiskCache, "put", lambda self, key, data: cached.append(key) or real_put(self, key, data))
    ds = dl.load(path, local_cache_size=64, memory_cache_size=16)
    ds.labels[0] = 2
    ds.commit("change")
    assert _read_all(dl.load(path, local_cache_size=64))[1][0] == 2
    assert cached and all(immutable(key) for key in cached)


def test_objects_a_writer_may_still_rewrite_are_never_cached(tmp_path):
    """An object written since the last publish is rewritten in place by its writer: reads of it
    bypass the cache, so they always see the newest bytes; once published it is cached."""
    settings = CacheSettings(1 << 20, 1 << 20, str(tmp_path / "c"))
    repo = Repository(open_store(str(tmp_path / "repo")), settings)
    repo.init()
    version = repo.open("main")
    for i in range(3):
        version.set_sync("k", buffer(b"value %d" % i))  # the same private object each time
        assert version.get_sync("k").to_bytes() == b"value %d" % i
        assert version.get_ranges_sync("k", [(0, 5), (6, 7)]) == [b"value", b"%d" % i]  # ranges too
        assert repo.physical.cache.idle(10)
    assert _files(tmp_path / "c") == []
    version.publish()
    assert version.get_sync("k").to_bytes() == b"value 2"
    assert len(_files(tmp_path / "c")) >= 1  # published: now cached


def test_writes_through_a_cached_dataset_read_back_their_own_values(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path, local_cache_size=64, memory_cache_size=64)
    ds.create_tensor("x", dtype="int64")
    for i in range(20):
        ds.x.append(i)  # each append rewrites the tail chunk's object
        assert ds.x.numpy().ravel().tolist() == list(range(i + 1))
    with ds:
        for i in range(20, 50):
            ds.x.append(i)
            ds.flush()
            assert ds.x.numpy().ravel().tolist() == list(range(i + 1))
    ds.x[3] = 100
    assert dl.load(path, local_cache_size=64).x.numpy().ravel().tolist() == [0, 1, 2, 100, *range(4, 50)]


def test_memory_cache_alone_serves_repeated_reads(tmp_path, cache_root):
    path = str(tmp_path / "ds")
    _build(path)
    calls, _, ds = _counted_load(path, memory_cache_size=64)
    expected = _read_all(ds)
    assert ds.zarr_store().repository.physical.cache.idle(30)
    ds.clear_cache()  # forget the decoded chunks: reads go to the store's objects again
    before = calls["get"]
    assert _read_all(ds) == expected
    assert calls["get"] == before
    assert not cache_root.exists()  # nothing on disk


def test_a_pickled_dataset_keeps_its_cache(tmp_path):
    path = str(tmp_path / "ds")
    _build(path)
    ds = dl.load(path, read_only=True, local_cache_size=32)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.zarr_store().repository.cache == ds.zarr_store().repository.cache is not None
    assert _read_all(copy) == _read_all(ds)


def test_a_reopened_s3_dataset_reads_its_objects_locally(moto_s3):
    url = f"s3://bucket/cache-{os.urandom(4).hex()}"
    options = moto_s3.options
    ds = dl.empty(url, storage_options=options)
    with ds:
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.extend({"labels": np.arange(30) % 4, "images": [np.full((6, 6, 3), i, np.uint8) for i in range(30)]})
    expected = _read_all(dl.load(url, storage_options=options))
    _, _, first = _counted_load(url, storage_options=options, local_cache_size=64)
    assert _read_all(first) == expected  # fills the cache (ranged reads: behind them, in the background)
    assert first.zarr_store().repository.physical.cache.idle(30)
    calls, keys, again = _counted_load(url, storage_options=options, local_cache_size=64)
    assert _read_all(again) == expected
    assert _requests(calls) <= 2 and not [key for key in keys if not key.startswith("refs/")]


def test_loader_workers_that_reopen_the_dataset_keep_its_cache(tmp_path, cache_root):
    """Spawned loader workers reopen the dataset from its URL (as they do for every dataset on an
    object store): with the cache chain it was opened with, so their reads fill the disk cache."""
    path = str(tmp_path / "ds")
    _build(path)
    ds = dl.load(path, read_only=True, local_cache_size=64)
    folder = cache_root / os.listdir(cache_root)[0] if cache_root.exists() else None
    before = set(_files(folder)) if folder is not None else set()
    loader = ds.pytorch(tensors=["labels"], batch_size=8, num_workers=1, multiprocessing_context="spawn")
    assert sum(len(batch["labels"]) for batch in loader) == len(ds)
    (folder,) = [cache_root / name for name in os.listdir(cache_root)]
    assert set(_files(folder)) - before  # the worker's chunk reads were kept


def test_in_memory_datasets_get_no_cache(cache_root):
    """A mem:// dataset's objects are in this process already: the sizes are taken and unused."""
    ds = dl.empty(f"mem://cache-{os.urandom(4).hex()}", local_cache_size=16, memory_cache_size=16)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5))
    ds.commit("five")
    assert dl.load(ds.path, local_cache_size=16).x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
    assert ds.zarr_store().repository.cache is None and not cache_root.exists()


def _slow_fill(tmp_path):
    """(chain, the object's bytes, the event that lets its whole fetch return, fetch counts,
    the whole fetch) for tests of reads made while a fill is in flight."""
    import threading

    chain = CacheChain(CacheSettings(0, 1 << 20, str(tmp_path / "c")), holds=lambda key: True)
    data = os.urandom(50_000)
    release = threading.Event()
    fetched = Counter()

    def whole():
        fetched["whole"] += 1
        release.wait(10)
        return data

    return chain, data, release, fetched, whole


def test_the_first_ranged_read_of_a_large_file_checks_it_through_a_map_without_reading_it(tmp_path, monkeypatch):
    """A loader worker's first ranged read of each 4 MiB chunk file read the file whole (two 4 MiB
    copies into fresh memory); the CRC is now taken over a memory map and only the range is read."""
    folder = str(tmp_path / "c")
    data = np.random.default_rng(5).bytes(cache_module.MAP_FROM_BYTES * 2 + 17)
    DiskCache(folder, 1 << 30).put("objects/big", data)
    disk = DiskCache(folder, 1 << 30)
    read = []
    real_pread = os.pread
    monkeypatch.setattr(cache_module.os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at))
    crcs = []
    real_crc = cache_module.google_crc32c.value
    monkeypatch.setattr(cache_module.google_crc32c, "value", lambda b: crcs.append(len(b)) or real_crc(b))
    assert disk.get("objects/big", 1000, 26_000) == data[1000:26_000]
    assert crcs == [len(data)] and sum(read) < 26_000  # the whole file checked, only header and range read
    path = disk._path("objects/big")
    with open(path, "r+b") as f:  # one byte flipped in the middle, same size: a fresh process finds it
        f.seek(len(data) // 2)
        byte = f.read(1)
        f.seek(len(data) // 2)
        f.write(bytes([byte[0] ^ 0x40]))
    assert DiskCache(folder, 1 << 30).get("objects/big", 0, 10) is None and not os.path.exists(path)
    DiskCache(folder, 1 << 30).put("objects/big", data)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 1)  # cut short: the header's length no longer matches
    assert DiskCache(folder, 1 << 30).get("objects/big", 0, 10) is None and not os.path.exists(path)


def test_a_hit_refreshes_the_files_time_only_when_it_is_older_than_the_refresh_interval(tmp_path):
    folder = str(tmp_path / "c")
    disk = DiskCache(folder, 1 << 20)
    disk.put("objects/a", b"x" * 1000)
    path = disk._path("objects/a")
    now = time.time()
    os.utime(path, (now - 2, now - 2))  # recent: left as it is (a refresh is a metadata write)
    assert disk.get("objects/a", 0, 10) == b"x" * 10 and abs(os.path.getmtime(path) - (now - 2)) < 0.01
    old = now - 2 * cache_module.REFRESH_SECONDS
    os.utime(path, (old, old))  # older than the interval: refreshed, so eviction keeps it
    assert disk.get("objects/a") == b"x" * 1000 and os.path.getmtime(path) >= now - 1


def test_ranges_of_a_cached_file_are_read_with_one_open_and_one_check(tmp_path, monkeypatch):
    """A loader's window asks for several samples of one chunk object at once: the cache file is
    opened, looked up and checked once for them (each range on its own cost an open, a stat and a
    hash of the key: a cached epoch of 5,000 JPEGs took 470 ms of CPU to read against 160 ms from
    local disk)."""
    folder = str(tmp_path / "c")
    data = bytes(range(256)) * 4096  # 1 MiB: checked through a map
    DiskCache(folder, 1 << 30).put("objects/a", data)
    disk = DiskCache(folder, 1 << 30)
    opens = []
    real_open = os.open
    monkeypatch.setattr(cache_module.os, "open", lambda *a, **k: opens.append(a[0]) or real_open(*a, **k))
    ranges = [(0, 10), (5000, 5100), (len(data) - 5, len(data) + 10), (7, 7)]
    assert disk.get_ranges("objects/a", ranges) == [data[0:10], data[5000:5100], data[-5:], b""]
    assert len(opens) == 1
    chain = CacheChain(CacheSettings(0, 1 << 30, folder), holds=lambda key: True)
    assert chain.read_ranges("objects/a", ranges, lambda: None, lambda: None) == [data[0:10], data[5000:5100],
                                                                              data[-5:], b""]
    assert len(opens) == 2
    assert disk.get_ranges("objects/absent", ranges) is None


def test_a_loaders_cached_window_reads_are_made_in_its_own_thread(tmp_path, monkeypatch, cache_root):
    """Once a chunk object is in the cache, a loader reads a window's samples of it in the thread
    that plans the window (a few ``pread`` calls) instead of handing each chunk's reads to one of
    the 64 I/O threads of a remote loader, whose hand-offs and GIL passes took more CPU than the
    reads (a cached 5,000-JPEG epoch's reads: 252 -> 73 ms CPU). A patched object (a chain) or one
    no cache holds still goes to the I/O threads; every batch is the same either way."""
    from deeplake_nb.storage import ByteStore

    path = str(tmp_path / "ds")
    _build(path)
    expected = _read_all(dl.load(path))

    def batches(ds):
        return [(b["index"].ravel().tolist(), [x.tolist() for x in b["images"]])
                for b in ds.pytorch(tensors=["images"], batch_size=4, shuffle=True, seed=3, num_workers=0,
                                    collate_fn=lambda samples: {"index": np.stack([s["index"] for s in samples]),
                                                                "images": [s["images"] for s in samples]})]
    plain = batches(dl.load(path, read_only=True))
    warm = dl.load(path, read_only=True, local_cache_size=64)
    assert _read_all(warm) == expected
    assert warm.zarr_store().repository.physical.cache.idle(30)
    handed = []
    real = ByteStore.get_ranges
    monkeypatch.setattr(ByteStore, "get_ranges", lambda self, key, ranges, **kw: handed.append(key) or
                        real(self, key, ranges, **kw))
    assert batches(dl.load(path, read_only=True, local_cache_size=64)) == plain
    assert handed == []  # every window read from the cache in the loader's own thread
    cold = dl.load(path, read_only=True)  # no cache chain: the I/O threads read the store
    assert batches(cold) == plain and handed


def test_a_scratch_folder_removed_by_its_owner_is_not_made_again(tmp_path):
    """A scratch cache's folder is its owner's: once removed, a put (a fill finishing late) leaves
    the object uncached instead of making the folder again."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    chain = CacheChain(CacheSettings(0, 1 << 20, str(folder), scratch=True), holds=lambda key: True)
    chain.put("objects/a", b"a" * 100)
    assert chain.get("objects/a") == b"a" * 100
    shutil.rmtree(folder)
    chain.put("objects/b", b"b" * 100)
    assert not folder.exists() and chain.get("objects/b") is None
    ordinary = CacheChain(CacheSettings(0, 1 << 20, str(folder)), holds=lambda key: True)
    ordinary.put("objects/b", b"b" * 100)
    assert ordinary.get("objects/b") == b"b" * 100  # a dataset's own cache folder is made when missing


def test_a_cached_view_of_an_open_dataset_reads_nothing_to_open(tmp_path, cache_root):
    """``core.internal.read_through``: the same selection of the same open version, read through
    another cache chain. Making it and opening its tensors make no request (the checkout, its
    documents and the parsed commits are shared): its reads are of objects only. (Its cache hits
    are checked on an object store, in test_remote_loader.py.)"""
    from deeplake_nb.core import internal

    path = str(tmp_path / "ds")
    _build(path)
    calls, keys, ds = _counted_load(path)
    view = ds[2:17]
    expected = _read_all(view)
    before = _requests(calls)
    cached = internal.read_through(view, CacheSettings(0, 1 << 20, str(cache_root / "view")))
    assert _requests(calls) == before and cached.read_only and len(cached) == 15
    del keys[:]
    assert _read_all(cached) == expected
    assert keys and all(key.startswith("objects/") for key in keys), keys
    assert internal.repository(cached).cache.folder == str(cache_root / "view")
    assert internal.repository(ds).cache is None  # ds itself reads as before
