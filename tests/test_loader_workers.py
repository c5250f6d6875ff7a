"""``ds.pytorch(num_workers=...)``: the same batches for any number of workers, and no hang or
leaked process with persistent workers, ``break``, KeyboardInterrupt, errors in workers and
several loaders at once."""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time

import pytest
import torch

from deeplake_nb import errors
from deeplake_nb.loader import CropNormalize, slots
from test_loader_support import N, build, check_batch, epoch, wait_no_children


pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("workers") / "ds"))


@pytest.fixture(autouse=True)
def no_leftover_workers():
    yield
    assert wait_no_children() == []


def _loader(ds, **kw):
    options = dict(tensors=["images", "vec", "labels", "captions"], batch_size=10, shuffle=True, seed=5,
                   transform={"images": CropNormalize(8), "index": None})
    return ds.pytorch(**{**options, **kw})


def test_same_batches_for_any_number_of_workers(ds):
    reference = None
    for workers in range(5):
        loader = _loader(ds, num_workers=workers)
        batches = list(loader)
        indices = [check_batch(b) for b in batches]
        assert sorted(i for b in indices for i in b) == list(range(N))
        images = torch.cat([b["images"] for b in batches])
        if reference is None:
            reference = (indices, images)
        else:
            assert indices == reference[0], f"num_workers={workers} changed the order"
            assert torch.equal(images, reference[1])


def test_persistent_workers_follow_epochs_and_resume(ds):
    loader = _loader(ds, num_workers=2, persistent_workers=True)
    fresh = _loader(ds, num_workers=0)
    first, second = epoch(loader), epoch(loader)
    assert first == epoch(fresh) and second == epoch(fresh) and first != second
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    it = iter(loader)  # epoch 2: stop after 3 batches, then resume there with the same workers
    head = [check_batch(next(it)) for _ in range(3)]
    state = loader.state_dict()
    del it
    loader.load_state_dict(state)
    rest = epoch(loader)
    assert head + rest == epoch(fresh)
    assert sorted(p.pid for p in multiprocessing.active_children()) == sorted(p.pid for p in workers)
    loader.close()


@pytest.mark.parametrize("persistent", [False, True])
def test_break_out_of_the_loop(ds, persistent):
    loader = _loader(ds, num_workers=3, persistent_workers=persistent, prefetch_factor=4)
    for i, batch in enumerate(loader):
        if i == 1:
            break
    again = epoch(loader)  # breaking ends that epoch; the next iteration is a full new epoch
    assert sorted(i for b in again for i in b) == list(range(N))
    del batch
    loader.close()


def test_keyboard_interrupt_in_the_loop_body_stops_workers(ds):
    loader = _loader(ds, num_workers=2)
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(loader):
            if i == 2:
                raise KeyboardInterrupt
    assert wait_no_children() == []


def test_several_loaders_at_once(ds):
    a = _loader(ds, num_workers=2, seed=1)
    b = _loader(ds, num_workers=1, seed=1)
    c = _loader(ds, num_workers=0, seed=2)
    for x, y, z in zip(a, b, c):
        assert check_batch(x) == check_batch(y)
        check_batch(z)


def test_transform_error_in_a_worker_reaches_the_main_process(ds):
    def explode(x):
        if int(x[0]) == 42:
            raise RuntimeError("bad sample")
        return x
    loader = _loader(ds, tensors=["vec"], transform={"vec": explode, "index": None}, num_workers=2)
    with pytest.raises(errors.TransformError, match="sample index 42") as info:
        epoch(loader)
    assert info.value.index == 42 and "bad sample" in str(info.value)


def test_corrupt_samples_skipped_in_workers(tmp_path):
    ds = build(str(tmp_path / "c"), n=30, corrupt=(3, 22))
    loader = ds.pytorch(tensors=["images", "vec"], batch_size=4, shuffle=True, seed=0, num_workers=2,
                        ignore_errors=True)
    seen = [i for b in epoch(loader) for i in b]
    assert sorted(seen) == sorted(set(range(30)) - {3, 22}) and sorted(loader.skipped) == [3, 22]
    with pytest.raises(errors.CorruptSampleError, match="sample index 3"):
        epoch(ds.pytorch(tensors=["images"], batch_size=4, num_workers=2))


def test_workers_reuse_batch_memory_but_never_under_the_user(ds):
    # 24 batches, 12 per worker, 2-3 slots per worker: slots must come back for the later batches
    loader = _loader(ds, tensors=["vec", "images"], num_workers=2, batch_size=4)
    reference = [(b["vec"].clone(), b["images"].clone()) for b in _loader(ds, tensors=["vec", "images"], batch_size=4)]
    kept = []
    for i, batch in enumerate(loader):
        check_batch(batch)
        if i % 5 == 0:  # keep only a view of some batches; the batch itself is dropped
            kept.append((i, batch["vec"][1:3], batch["images"][1].view(-1)))
    ring = loader._stream.ring
    assert ring is not None and max(ring.lease) > 1  # slots were reused...
    for i, vec, image in kept:  # ...but not while a view of their memory was alive
        assert torch.equal(vec, reference[i][0][1:3]) and torch.equal(image, reference[i][1][1].view(-1))
    held = list(loader)  # holding every batch: workers fall back to fresh memory, nothing is overwritten
    second = _loader(ds, tensors=["vec", "images"], batch_size=4)
    second.set_epoch(1)
    assert len(held) == len(second) == 24
    assert all(torch.equal(a["vec"], b["vec"]) and torch.equal(a["images"], b["images"]) for a, b in zip(held, second))


def test_a_worker_waits_for_the_user_instead_of_running_ahead_in_fresh_memory(ds):
    # a slow consumer: each worker keeps at most its 2 slots' batches (prefetch_factor 2, one
    # decode thread), the one the user holds included; every batch is made in a slot
    loader = _loader(ds, tensors=["vec", "images"], num_workers=2, batch_size=4, num_threads=1)
    batches = 0
    for batch in loader:
        check_batch(batch)
        batches += 1
        time.sleep(0.03)
    ring = loader._stream.ring
    assert batches == 24 and ring.per_worker == 2
    assert sum(ring.lease) == batches  # a lease per batch: none in fresh memory
    assert sum(1 for lease in ring.lease if lease) == 4  # 2 slots per worker, never a third


@pytest.mark.parametrize("workers,threads", [(1, 1), (1, 2), (2, 1), (3, 2)])
@pytest.mark.parametrize("keep", [2, None])
def test_a_user_holding_batches_is_never_waited_for(ds, monkeypatch, workers, threads, keep):
    # the user holds the batch before too (keep=2), or every batch (list(loader)), while asking for
    # the next one: a worker waiting for those slots would stall until its patience ran out
    monkeypatch.setattr(slots, "PATIENCE", 60.0)  # inherited by the forked workers
    loader = _loader(ds, tensors=["vec", "images"], num_workers=workers, batch_size=4, num_threads=threads)
    start, held = time.perf_counter(), collections.deque(maxlen=keep)
    for batch in loader:
        check_batch(batch)
        held.append(batch)
    assert len(held) == (keep or 24) and time.perf_counter() - start < 20


def test_the_epoch_ends_at_once_while_a_worker_waits_for_a_batch_the_user_keeps(ds):
    loader = _loader(ds, tensors=["vec", "images"], num_workers=2, batch_size=4, num_threads=1)
    for batch in loader:
        time.sleep(0.5)  # both workers fill their slots and wait for this batch
        start = time.perf_counter()
        break
    assert time.perf_counter() - start < slots.PATIENCE / 2  # the workers stopped waiting and were shut down
    assert check_batch(batch)
    held = [b for b in loader]  # the user keeps every batch: no worker waits for them
    assert len(held) == 24


def test_slot_waits():
    ring = slots.SlotRing(1, 2)
    a, b = ring.acquire(0, 0), ring.acquire(0, 1)
    assert a is not None and b is not None and ring.acquire(0, 2) is None  # both taken: no wait asked
    ring.finished(a, sent=True)
    ring.finished(b, sent=True)
    ring.held.value, ring.due.value = 1, 1  # the user holds batch 0 (a's) and asks for batch 1 (b's, queued)

    def timed(batch: int) -> tuple[slots.Lease | None, float]:
        start = time.perf_counter()
        lease = ring.acquire(0, batch, wait=True)
        return lease, time.perf_counter() - start

    threading.Timer(0.1, lambda: ring.state.__setitem__(a.slot, slots.FREE)).start()  # the user lets a go
    lease, waited = timed(2)
    assert lease is not None and lease.slot == a.slot and 0.05 < waited < 2
    assert timed(1) == (None, pytest.approx(0, abs=0.05))  # the batch the user waits for: no wait
    ring.held.value = slots.HELD + 1  # the user keeps batches
    assert timed(3) == (None, pytest.approx(0, abs=0.05))
    ring.held.value = 1
    threading.Timer(0.1, ring.stop_waiting).start()
    lease, waited = timed(3)
    assert lease is None and waited < 1  # the epoch ended
