"""``ds.pytorch()`` in one process: batch contents and types, order and coverage, decode methods,
transforms and their errors, corrupt samples, views, the builder, the map-style dataset, and
coalesced reads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.loader import CropNormalize, stream_epoch_images_per_s
from deeplake_nb.loader.fetch import rows_per_chunk as fetch_rows_per_chunk
from deeplake_nb.storage import ByteStore
from test_loader_support import N, build, check_batch, epoch, jpeg


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("loader") / "ds"))


@pytest.fixture(scope="module")
def corrupt_ds(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("loader") / "corrupt"), n=40, corrupt=(5, 17))


def test_importing_deeplake_nb_does_not_import_torch():
    code = "import sys, deeplake_nb; assert hasattr(deeplake_nb.Dataset, 'pytorch'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_batch_types_and_shapes(ds):
    batch = next(iter(ds.pytorch(batch_size=8)))
    assert list(batch.keys()) == ["images", "labels", "boxes", "captions", "vec", "index"]
    assert list(batch) == list(batch.values())  # iterating a batch gives its values, as in Deep Lake v3
    assert batch["index"][:, 0].tolist() == list(range(8)) and batch["index"].dtype == torch.int64
    assert batch["labels"].shape == (8, 1) and batch["labels"].dtype == torch.int64  # uint32 widened
    assert batch["vec"].shape == (8, 4) and batch["vec"].dtype == torch.float32
    assert isinstance(batch["images"], list) and batch["images"][0].dtype == torch.uint8  # ragged
    assert batch["images"][0].shape == (16, 20, 3) and batch["images"][1].shape == (20, 24, 3)
    assert isinstance(batch["boxes"], list) and batch["boxes"][2].shape == (3, 4)
    assert batch["captions"][:2] == ["sample 0", "sample 1"]
    np.testing.assert_array_equal(batch["images"][3].numpy(), ds.images[3].numpy())


@pytest.mark.parametrize("shuffle", [False, True, "chunks"])
@pytest.mark.parametrize("batch_size,drop_last", [(10, False), (10, True), (1, False), (200, False)])
def test_every_sample_exactly_once_per_epoch(ds, shuffle, batch_size, drop_last):
    loader = ds.pytorch(tensors=["vec", "labels"], batch_size=batch_size, shuffle=shuffle, seed=1,
                        drop_last=drop_last, shuffle_block=8)
    for _ in range(2):
        batches = epoch(loader)
        seen = [i for b in batches for i in b]
        assert len(batches) == len(loader)
        assert all(len(b) == batch_size for b in batches[:-1])
        if drop_last:
            assert len(seen) == (N // batch_size) * batch_size and len(set(seen)) == len(seen)
        else:
            assert sorted(seen) == list(range(N))
        assert (seen == sorted(seen)) == (not shuffle)


def test_shuffle_is_seeded_and_new_every_epoch(ds):
    a = ds.pytorch(tensors=["vec"], batch_size=16, shuffle=True, seed=3)
    b = ds.pytorch(tensors=["vec"], batch_size=16, shuffle=True, seed=3)
    first, second = epoch(a), epoch(a)
    assert first == epoch(b) and second == epoch(b)
    assert first != second
    assert [i for x in first for i in x] == a.epoch_indices(0).tolist()
    unseeded = ds.pytorch(tensors=["vec"], batch_size=16, shuffle=True)
    assert epoch(unseeded) != first  # a random seed is drawn


def test_chunk_shuffle_reads_blocks(ds):
    loader = ds.pytorch(tensors=["vec"], batch_size=8, shuffle="chunks", seed=0, shuffle_block=16, shuffle_window=1)
    for batch in epoch(loader):
        assert len({i // 16 for i in batch}) == 1  # window=1: every batch comes from one block


def test_decode_methods(ds):
    batch = next(iter(ds.pytorch(tensors=["images", "vec"], batch_size=4,
                                 decode_method={"images": "pil", "vec": "tobytes"})))
    assert all(isinstance(im, Image.Image) for im in batch["images"])
    np.testing.assert_array_equal(np.asarray(batch["images"][1]), ds.images[1].numpy())
    assert batch["vec"][2] == (np.arange(1, 5, dtype=np.float32) * 2).tobytes()
    raw = next(iter(ds.pytorch(tensors=["images"], batch_size=3, decode_method={"images": "tobytes"})))
    assert raw["images"] == [jpeg(0), jpeg(1), jpeg(2)]
    with pytest.raises(errors.LoaderError, match="pil"):
        next(iter(ds.pytorch(tensors=["vec"], decode_method={"vec": "pil"})))


def test_per_tensor_and_whole_sample_transforms(ds):
    tfm = CropNormalize(12)
    loader = ds.pytorch(batch_size=5, transform={"images": tfm, "labels": None, "index": None})
    batch = next(iter(loader))
    assert list(batch.keys()) == ["images", "labels", "index"]  # a dict transform picks what samples keep
    assert batch["images"].shape == (5, 3, 12, 12) and batch["images"].dtype == torch.float32
    np.testing.assert_allclose(batch["images"][4].numpy(), tfm(ds.images[4].numpy()), rtol=1e-6)

    def whole(sample):
        return sample["vec"] * 2, int(sample["labels"][0])
    pairs = next(iter(ds.pytorch(tensors=["vec", "labels"], batch_size=4, transform=whole)))
    assert isinstance(pairs, tuple) and pairs[0][:, 0].tolist() == [0, 2, 4, 6] and pairs[1].tolist() == [0, 1, 2, 3]


def test_transform_error_names_the_sample(ds):
    def fails_on_7(x):
        if x[0] == 7:
            raise ValueError("boom")
        return x
    loader = ds.pytorch(tensors=["vec"], batch_size=4, transform={"vec": fails_on_7, "index": None})
    with pytest.raises(errors.TransformError, match="sample index 7") as info:
        epoch(loader)
    assert info.value.index == 7 and isinstance(info.value.__cause__, ValueError)


def test_corrupt_samples_raise_or_are_skipped(corrupt_ds):
    with pytest.raises(errors.CorruptSampleError, match="sample index 5"):
        epoch(corrupt_ds.pytorch(tensors=["images", "vec"], batch_size=8))
    loader = corrupt_ds.pytorch(tensors=["images", "vec"], batch_size=8, shuffle=True, seed=0, ignore_errors=True)
    seen = [i for b in epoch(loader) for i in b]
    assert sorted(seen) == sorted(set(range(40)) - {5, 17})
    assert sorted(loader.skipped) == [5, 17]


def test_views_and_groups(ds):
    view = ds[10:30]
    seen = [i for b in epoch(view.pytorch(tensors=["vec", "captions"], batch_size=6, shuffle=True, seed=2)) for i in b]
    assert sorted(seen) == list(range(10, 30))
    picked = ds[[5, 3, 90]]
    assert [i for b in epoch(picked.pytorch(tensors=["vec"], batch_size=2)) for i in b] == [5, 3, 90]
    with pytest.raises(errors.TensorNotFoundError, match="nope"):
        ds.pytorch(tensors=["nope"])


def test_builder_api(ds):
    builder = ds.dataloader().transform({"vec": lambda v: v + 1, "index": None}).batch(7, drop_last=True).shuffle(seed=4)
    loader = builder.pytorch(tensors=["vec"])
    batches = list(loader)
    assert len(batches) == N // 7 and all(len(b["index"]) == 7 for b in batches)
    for b in batches:
        assert (b["vec"][:, 0] - 1).tolist() == b["index"][:, 0].float().tolist()
    assert [b["index"].tolist() for b in batches] == \
        [b["index"].tolist() for b in ds.pytorch(tensors=["vec"], batch_size=7, drop_last=True, shuffle=True, seed=4)]
    arrays = next(iter(ds.dataloader().batch(3).numpy(tensors=["vec", "captions"])))
    assert isinstance(arrays["vec"], np.ndarray) and arrays["captions"] == ["sample 0", "sample 1", "sample 2"]


def test_collate_fn_and_pin_memory(ds):
    loader = ds.pytorch(tensors=["vec"], batch_size=4, collate_fn=lambda samples: [int(s["index"][0]) for s in samples],
                        pin_memory=True)
    assert next(iter(loader)) == [0, 1, 2, 3]
    assert next(iter(ds.pytorch(tensors=["vec"], batch_size=4, pin_memory=True)))["vec"].shape == (4, 4)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_torch_dataset_in_a_plain_dataloader(ds, num_workers):
    tds = ds.torch_dataset(tensors=["images", "vec", "labels"], transform={"images": CropNormalize(12), "index": None})
    assert len(tds) == N and tds[3]["index"].tolist() == [3] and tds[-1]["index"].tolist() == [N - 1]
    loader = torch.utils.data.DataLoader(tds, batch_size=10, shuffle=True, num_workers=num_workers,
                                         generator=torch.Generator().manual_seed(0))
    seen = []
    for batch in loader:
        assert batch["images"].shape[1:] == (3, 12, 12)
        seen += check_batch(batch)
    assert sorted(seen) == list(range(N))


def test_random_order_reads_as_few_ranges_as_sequential(ds, monkeypatch):
    reads = []
    original = ByteStore.get

    def counting(self, key, start=None, end=None):
        if start is not None:
            reads.append(key)
        return original(self, key, start, end)
    monkeypatch.setattr(ByteStore, "get", counting)
    grouped = ByteStore.get_ranges

    def counting_ranges(self, key, ranges, **options):
        if not key.startswith("objects/"):  # the dataset's key (a version reads its object through another ByteStore)
            reads.extend(key for _ in ranges)
        return grouped(self, key, ranges, **options)
    monkeypatch.setattr(ByteStore, "get_ranges", counting_ranges)

    def count(**options) -> int:
        reads.clear()
        loader = dl.load(ds.path, read_only=True).pytorch(tensors=["images"], batch_size=16, seed=0,
                                                          fetch_batches=3, **options)
        assert sorted(i for b in loader for i in b["index"][:, 0].tolist()) == list(range(N))
        return len(reads)
    windows = 1 + -(-(N - 16) // 48)  # the first window holds one batch, the others fetch_batches=3
    # merging gaps up to 1 MiB: one ranged read per read-ahead window, in random order as in sequence
    assert count(shuffle=True, max_gap=1 << 20) == count(shuffle=False, max_gap=1 << 20) == windows
    # merging only touching samples: a chunk-aware shuffle needs far fewer reads than a global one
    chunky = count(shuffle="chunks", shuffle_block=16, shuffle_window=1, max_gap=0)
    assert chunky <= 3 * windows < count(shuffle=True, max_gap=0) / 3


def test_the_first_batch_waits_only_for_its_own_reads(ds, monkeypatch):
    calls = []
    grouped = ByteStore.get_ranges

    def recording(self, key, ranges, **options):
        if not key.startswith("objects/"):
            calls.append(len(ranges))
        return grouped(self, key, ranges, **options)
    monkeypatch.setattr(ByteStore, "get_ranges", recording)
    loader = dl.load(ds.path, read_only=True).pytorch(tensors=["images"], batch_size=16, shuffle=True, seed=0,
                                                      fetch_batches=3, max_gap=0)
    first = next(iter(loader))
    assert len(first["index"]) == 16
    # the first window: the first batch's 16 samples (touching ones merged, max_gap=0); the
    # read-ahead window behind it: the next 3 batches, 48 samples
    assert calls[0] <= 16 < calls[1]


def test_stream_epoch_images_per_s(ds, capsys):
    rate = stream_epoch_images_per_s(ds, "images", batch_size=16, num_workers=0, transform=CropNormalize(12),
                                     progress=False)
    assert rate > 0 and "images/s" in capsys.readouterr().out


def test_writable_dataset_pending_rows_are_loaded(tmp_path):
    ds = dl.empty(str(tmp_path / "w"))
    ds.create_tensor("x", dtype="int64")
    with ds:
        ds.x.extend(np.arange(10))
        got = [i for b in ds.pytorch(batch_size=4) for i in b["x"].ravel().tolist()]
    assert got == list(range(10))


def test_chunk_shuffle_blocks_follow_the_tensor_with_the_smallest_chunks(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("big", dtype="float32")          # 64 KiB rows: a few rows per chunk
        ds.create_tensor("labels", htype="class_label")   # a whole column in one chunk
        ds.extend({"big": np.zeros((96, 64, 64, 4), np.float32), "labels": np.arange(96) % 7})
    block = min(fetch_rows_per_chunk(ds["big"]._store), fetch_rows_per_chunk(ds["labels"]._store))
    assert 1 < block < 96
    loader = ds.pytorch(tensors=["big", "labels"], batch_size=block // 2, shuffle="chunks", seed=0, shuffle_window=1)
    assert loader.shuffle_block == block
    batches = epoch(loader)
    assert sorted(i for b in batches for i in b) == list(range(96))
    for rows in batches:
        assert len({i // block for i in rows}) == 1   # not one block spanning the whole dataset


def test_run_ahead_keeps_order_works_one_item_ahead_and_raises_when_due():
    import threading

    from deeplake_nb.loader.stage import run_ahead

    started: list[int] = []
    second_started = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            second_started.set()
        if i == 3:
            raise ValueError("item 3")
        return i * 10

    out = run_ahead(iter(range(5)), work, depth=1)
    assert next(out) == 0
    assert second_started.wait(5)                  # item 1 was submitted before item 0 was handed over
    assert next(out) == 10 and next(out) == 20
    with pytest.raises(ValueError, match="item 3"):
        next(out)
    assert started[:4] == [0, 1, 2, 3]

    closed = run_ahead(iter(range(100)), lambda i: i, depth=2)
    assert next(closed) == 0
    closed.close()                                 # no thread left behind, the rest dropped
    assert not [t for t in threading.enumerate() if t.name.startswith("deeplake_nb-stage")]


def test_run_ahead_overlaps_producer_stage_and_consumer():
    """The engine (items), the stage (work) and the training step (consumer) each take STEP per
    batch and release the GIL: an epoch takes about n * STEP, not the 2-3 * n * STEP of running
    any two of them one after the other."""
    import time

    from deeplake_nb.loader.stage import run_ahead

    n, step = 12, 0.04

    def engine():
        for i in range(n):
            time.sleep(step)
            yield i

    def stage(i: int) -> int:
        time.sleep(step)
        return i

    start = time.perf_counter()
    got = []
    for item in run_ahead(engine(), stage):
        time.sleep(step)
        got.append(item)
    elapsed = time.perf_counter() - start
    assert got == list(range(n))
    assert elapsed < 1.6 * n * step, f"{elapsed:.2f} s: the three parts did not overlap"


def test_run_ahead_closes_its_items_on_its_own_thread_and_raises_their_errors():
    import threading

    from deeplake_nb.loader.stage import run_ahead

    closed = threading.Event()

    def items():
        try:
            yield 1
            raise OSError("the store went away")
        finally:
            closed.set()

    out = run_ahead(items(), lambda i: i * 2)
    assert next(out) == 2
    with pytest.raises(OSError, match="went away"):
        next(out)
    assert closed.is_set()
    out.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("deeplake_nb-stage")]


@pytest.mark.parametrize("output", ["torch", "numpy"])
def test_put_columns_collates_as_put_does(output):
    """Writing a group of samples by column gives the batch that writing them one by one gives:
    dense arrays, ragged arrays (a list), bytes, text, numbers, and a key that turns ragged
    in a later group."""
    from deeplake_nb.loader.collate import BatchBuffer

    rng = np.random.default_rng(0)
    n = 12
    samples = [{"img": rng.integers(0, 255, (4, 5, 3), dtype=np.uint8),
                "ragged": np.arange(1 + i % 3, dtype=np.int16),
                "later": np.zeros((2,) if i < 8 else (3,), np.float32) + i,
                "raw": bytes([i]) * 3,
                "text": np.array([f"t{i}"]),
                "label": np.array([i], np.uint32),
                "num": float(i)} for i in range(n)]
    one, many = BatchBuffer(n, output, singles={"text": True}), BatchBuffer(n, output, singles={"text": True})
    for slot, sample in enumerate(samples):
        one.put(slot, sample)
    for lo, hi in ((8, 12), (0, 4), (4, 8)):
        many.put_columns(range(lo, hi), {k: [s[k] for s in samples[lo:hi]] for k in samples[0]})
    a, b = one.finish(), many.finish()
    assert list(a) and list(a.keys()) != [] and set(a.keys()) == set(b.keys())
    for key in a.keys():
        x, y = a[key], b[key]
        assert type(x) is type(y), key
        if isinstance(x, list):
            assert len(x) == len(y) and all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(x, y)), key
        else:
            assert x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y)), key


@pytest.mark.parametrize("workers", [0, 2])
def test_a_loader_abandoned_at_exit_closes_quietly(tmp_path, workers):
    """An iterator left mid-epoch is closed while the interpreter shuts down, after module
    globals are cleared: nothing may be printed."""
    script = ("import sys, numpy as np, deeplake_nb as dl\n"
              "ds = dl.empty(sys.argv[1])\n"
              "ds.create_tensor('x', dtype='int32')\n"
              "ds.x.extend(np.arange(100, dtype=np.int32).reshape(100, 1))\n"
              "it = iter(ds.pytorch(batch_size=4, num_workers=int(sys.argv[2])))\n"
              "assert next(it)['x'].shape == (4, 1)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "d"), str(workers)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr


def test_an_in_process_run_gives_its_freed_memory_back_when_it_ends(ds, monkeypatch):
    """A run in the calling process (num_workers=0, or the batches a loader makes while its workers
    start from a fork server) leaves its threads' malloc arenas holding the freed buffers of its
    batches (~35 MB after a 5,000-JPEG bridge): they are given back when the run ends, finished or
    abandoned, as a worker gives them back between batches."""
    from deeplake_nb.loader import engine

    calls = []
    monkeypatch.setattr(engine, "freed_memory_releaser", lambda: lambda: calls.append(1))
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=8, num_workers=0)
    for _ in loader:
        pass
    assert calls == [1]
    for _ in loader:  # abandoned after one batch
        break
    assert calls == [1, 1]


def test_a_local_loader_reads_a_window_of_one_batch_by_default(ds, monkeypatch):
    """On local disk a window of one batch reads as fast as one of four and holds a fourth of the
    fetched bytes per worker (``engine.LOCAL_FETCH_BATCHES``); ``fetch_batches`` still sets it."""
    from deeplake_nb.loader import engine, fetch

    windows = []
    real = fetch.HeapRangeFetcher.start
    monkeypatch.setattr(fetch.HeapRangeFetcher, "start", lambda self, rows, io: windows.append(len(rows)) or
                        real(self, rows, io))
    for batch in ds.pytorch(tensors=["images"], batch_size=16, num_workers=0):
        assert len(batch["index"]) == 16
    assert engine.LOCAL_FETCH_BATCHES == 1 and windows == [16] * (N // 16)
    windows.clear()
    for _ in ds.pytorch(tensors=["images"], batch_size=16, num_workers=0, fetch_batches=2):
        pass
    assert windows == [16, 32, 32, 16]  # the first window holds one batch
    with pytest.raises(errors.LoaderOptionError, match="fetch_batches"):
        ds.pytorch(tensors=["images"], fetch_batches=0)
