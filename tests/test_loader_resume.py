"""Exact mid-epoch resume: stop after k batches, save ``state_dict()`` as JSON, restore it in a new
process; the remaining batches (and the next epoch) equal those of an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from deeplake_nb import errors
from test_loader_support import build, check_batch, epoch

OPTIONS = dict(tensors=["images", "vec", "labels"], batch_size=7, shuffle=True)

RESUME = textwrap.dedent("""
    import json, sys
    import deeplake_nb as dl
    results = []
    for path, options, state in json.loads(sys.stdin.read()):
        loader = dl.load(path, read_only=True).pytorch(**options)
        loader.load_state_dict(state)
        out = []
        for _ in range(2):  # the rest of this epoch, then the whole next one
            out.append([[b["index"].tolist(), float(b["vec"].sum()), [int(im.sum()) for im in b["images"]]]
                        for b in loader])
        results.append(out)
    print(json.dumps(results))
""")


def _summary(batch):
    return [batch["index"].tolist(), float(batch["vec"].sum()), [int(im.sum()) for im in batch["images"]]]


def test_resume_in_a_new_process(tmp_path):
    ds = build(str(tmp_path / "ds"), n=60)
    jobs, expected = [], []
    for workers_before, workers_after, seeded in [(2, 0, False), (0, 1, True)]:
        seed = {"seed": 11} if seeded else {}
        loader = ds.pytorch(**OPTIONS, **seed, num_workers=workers_before)
        epoch(loader)  # the state is taken in epoch 1, so the epoch counter must be restored too
        it = iter(loader)
        head = [_summary(next(it)) for _ in range(3)]
        state = json.loads(json.dumps(loader.state_dict()))
        assert state["epoch"] == 1 and state["batch"] == 3
        del it

        reference = ds.pytorch(**OPTIONS, seed=loader.seed)  # an uninterrupted run with the same seed
        list(reference)
        full = [_summary(b) for b in reference]
        following = [_summary(b) for b in reference]
        assert head == full[:3]
        jobs.append([ds.path, {**OPTIONS, **seed, "num_workers": workers_after}, state])
        expected.append([full[3:], following])

    run = subprocess.run([sys.executable, "-c", RESUME], input=json.dumps(jobs), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == expected


def test_state_after_a_finished_epoch_starts_the_next(tmp_path):
    ds = build(str(tmp_path / "ds"), n=20)
    loader = ds.pytorch(tensors=["vec"], batch_size=6, shuffle=True, seed=0)
    first = epoch(loader)
    state = loader.state_dict()
    assert (state["epoch"], state["batch"]) == (1, 0)
    again = ds.pytorch(tensors=["vec"], batch_size=6, shuffle=True, seed=0)
    again.load_state_dict(state)
    second = epoch(again)
    assert second != first and second == [check_batch(b) for b in _epoch_n(ds, 1)]


def _epoch_n(ds, n):
    loader = ds.pytorch(tensors=["vec"], batch_size=6, shuffle=True, seed=0)
    loader.set_epoch(n)
    return list(loader)


def test_state_from_another_plan_is_refused(tmp_path):
    ds = build(str(tmp_path / "ds"), n=20)
    state = ds.pytorch(tensors=["vec"], batch_size=6, shuffle=True, seed=0).state_dict()
    with pytest.raises(errors.LoaderStateError, match="batch_size"):
        ds.pytorch(tensors=["vec"], batch_size=5, shuffle=True, seed=0).load_state_dict(state)
    with pytest.raises(errors.LoaderStateError, match="num_samples"):
        ds[:10].pytorch(tensors=["vec"], batch_size=6, shuffle=True, seed=0).load_state_dict(state)
