"""Concurrent writers and crashes, through the Dataset API (the store-level versions of these
tests are in test_version_store.py).

- Two processes committing to one branch at once: each commit lands or raises
  VersionConflictError; history stays linear and complete, nothing landed is lost, the dataset
  always opens. Writers on different branches never conflict. No lock files.
  Rounds per writer: 40 in the default run, 200 with ``-m slow`` (a separate test, skipped otherwise).
- A writer killed with SIGKILL at random points of append and commit (100 trials): the dataset
  always opens, every commit reads back exactly, and the working state is from before or after
  the interrupted operation, never in between.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import VersionConflictError


def _no_lock_files(path: str) -> None:
    assert not [p for p in Path(path).rglob("*") if "lock" in p.name.lower()]


# -- racing writers -------------------------------------------------------------------------------------
def _race_worker(path: str, branch: str, writer: int, rounds: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    landed: dict[str, int] = {}
    conflicts = 0
    for r in range(rounds):
        try:
            ds = dl.load(path, version=branch)
            ds.append({"key": _key(writer, r)})
            landed[ds.commit(f"writer {writer} round {r}")] = _key(writer, r)
        except VersionConflictError:
            conflicts += 1
    results.put((writer, landed, conflicts))


def _key(writer: int, r: int) -> int:
    return writer * 1_000_000 + r


def _forkserver(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A forkserver context whose server has imported deeplake_nb and this module, so a child
    starts in milliseconds. (Python 3.11's forkserver ignores the parent's sys.path.)"""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["deeplake_nb", __name__])
    return ctx


def _race(ctx: Any, path: str, branches: list[str], rounds: int) -> dict[int, tuple[dict[str, int], int]]:
    barrier, results = ctx.Barrier(len(branches)), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(path, branch, i, rounds, barrier, results))
             for i, branch in enumerate(branches)]
    for proc in procs:
        proc.start()
    out = {}
    for _ in procs:
        writer, landed, conflicts = results.get(timeout=300)
        out[writer] = (landed, conflicts)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return out


def _racing_dataset(path: str) -> str:
    ds = dl.empty(path)
    ds.create_tensor("key", dtype="int64")  # writer * 1e6 + round
    return ds.commit("schema")


def test_two_processes_committing_to_one_branch_200_rounds(tmp_path, monkeypatch):
    _race_on_one_branch(str(tmp_path / "ds"), monkeypatch, rounds=200)


def _race_on_one_branch(path: str, monkeypatch: pytest.MonkeyPatch, rounds: int) -> None:
    schema = _racing_dataset(path)
    results = _race(_forkserver(monkeypatch), path, ["main", "main"], rounds)
    landed = {cid: key for ids, _ in results.values() for cid, key in ids.items()}
    assert sum(len(ids) + conflicts for ids, conflicts in results.values()) == 2 * rounds  # land or raise
    assert landed

    ds = dl.load(path)  # opens
    log = ds.commits  # newest first, without the empty root commit
    assert log[-1]["commit"] == schema
    assert all(len(c["parents"]) == 1 for c in log)  # linear
    assert {c["commit"] for c in log[:-1]} == set(landed)  # complete: exactly the commits that returned ids
    head = dl.load(path, version=ds.commit_id)
    rows = head.key.numpy().ravel().tolist()
    assert len(rows) == len(set(rows))  # nothing twice
    assert set(landed.values()) <= set(rows)  # nothing landed is lost
    # A round whose commit lost the race may still have published its row, which the winner's
    # commit then includes (uncommitted changes belong to the branch): only such rows are extra.
    failed = {_key(writer, r) for writer in results for r in range(rounds)} - set(landed.values())
    assert set(rows) - set(landed.values()) <= failed
    for cid, row in landed.items():  # each landed commit reads back, its own row last
        version = dl.load(path, version=cid)
        assert version.key[-1].numpy().item() == row
    _no_lock_files(path)


def test_writers_on_different_branches_never_conflict(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    _racing_dataset(path)
    ds = dl.load(path)
    ds.checkout("a", create=True)
    ds.checkout("b", create=True)
    results = _race(_forkserver(monkeypatch), path, ["a", "b"], 20)
    assert [conflicts for _, conflicts in results.values()] == [0, 0]
    for branch, writer in (("a", 0), ("b", 1)):
        version = dl.load(path, version=branch)
        assert version.key.numpy().ravel().tolist() == [_key(writer, r) for r in range(20)]
        assert len(version.commits) == 20 + 1  # and "schema"
    assert len(dl.load(path)) == 0
    _no_lock_files(path)


# -- crash safety ---------------------------------------------------------------------------------------
def _row(v: int) -> dict[str, Any]:
    """Row number ``v``: the same value in every tensor (a dense and a ragged one)."""
    return {"x": v, "t": f"row {v}" + "!" * (v % 7)}


def _check_rows(ds: dl.Dataset, n: int) -> None:
    """``ds`` holds exactly rows 0..n-1, whole and in order."""
    lengths = {key: len(ds[key]) for key in ("x", "t")}
    assert set(lengths.values()) == {n}, lengths
    if n:
        assert ds.x.numpy().ravel().tolist() == list(range(n))
        assert ds.t.text() == [_row(v)["t"] for v in range(n)]
        assert len(set(ds.x.sample_ids.tolist())) == n
        np.testing.assert_array_equal(ds.t.sample_ids, ds.x.sample_ids)  # one id per row, in every tensor


def _crash_child(path: str, trial: int, progress: str, commits: str) -> None:
    """Append rows and commit forever (until killed), logging 'A n k' / 'a' around an append of k
    rows at row n, 'C n' / 'c' around a commit, and writing 'commit-id n' to ``commits`` only after
    a commit returns."""
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    ds = dl.load(path)
    n = len(ds)
    dirty = ds.has_head_changes
    os.write(fd, b"R %d\n" % n)
    rng = random.Random(trial)
    while True:
        if dirty and rng.random() < 0.3:
            os.write(fd, b"C %d\n" % n)
            cid = ds.commit(f"trial {trial} rows {n}")
            with open(commits, "a") as f:
                f.write(f"{cid} {n}\n")
            os.write(fd, b"c\n")
            dirty = False
        else:
            k = rng.choice([1, 1, 1, 3])
            os.write(fd, b"A %d %d\n" % (n, k))
            if k == 1:
                ds.append(_row(n))
            else:
                with ds:  # several rows, published together
                    for v in range(n, n + k):
                        ds.append(_row(v))
            os.write(fd, b"a\n")
            n += k
            dirty = True


def test_sigkill_during_append_and_commit(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text", chunk_compression="lz4")  # ragged: heap, index, shape
    ds.commit("schema")
    commits_file = tmp_path / "commits"
    commits_file.touch()
    ctx = _forkserver(monkeypatch)
    rng = random.Random(20240611)
    verified: dict[str, int] = {}
    interrupted = {"append": 0, "commit": 0, "commit landed": 0}
    n = 0
    for trial in range(100):
        progress = tmp_path / f"progress-{trial}"
        proc = ctx.Process(target=_crash_child, args=(path, trial, str(progress), str(commits_file)))
        proc.start()
        deadline = time.time() + 60
        while not (progress.exists() and progress.read_bytes().startswith(b"R")):
            assert time.time() < deadline and proc.is_alive(), f"trial {trial}: the writer did not start"
            time.sleep(0.002)
        if trial % 3 == 2:  # aim at a commit (they take milliseconds, appends far longer)
            while not progress.read_bytes().rstrip().rsplit(b"\n", 1)[-1].startswith(b"C"):
                assert time.time() < deadline and proc.is_alive()
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.004))
        else:  # a random number of finished steps (their speed depends on the disk's fsync), then a random moment
            steps = rng.randint(0, 4)
            while len(re.findall(rb"^[ac]$", progress.read_bytes(), re.M)) < steps:
                assert time.time() < deadline and proc.is_alive()
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.06))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()

        lines = progress.read_text().splitlines()
        assert int(lines[0].split()[1]) == n  # the child saw the state this test last verified
        allowed = {n}
        for line in lines[1:]:
            parts = line.split()
            if parts[0] == "A":
                allowed = {int(parts[1]), int(parts[1]) + int(parts[2])}
            elif parts[0] == "a":
                allowed = {max(allowed)}
        if lines[-1].startswith("A"):
            interrupted["append"] += 1
        elif lines[-1].startswith("C"):
            interrupted["commit"] += 1

        if trial % 20 == 19:
            assert dl.gc(path, grace_seconds=0)["objects"] >= 0  # nothing writes now: sweep the leftovers
        ds = dl.load(path)  # always opens
        n = len(ds.x)
        assert n in allowed, f"trial {trial}: {n} rows, expected one of {sorted(allowed)}"
        _check_rows(ds, n)
        # every commit reads back exactly; those the child confirmed hold the rows it had then
        confirmed = dict(line.split() for line in commits_file.read_text().splitlines())
        log = ds.commits
        assert all(len(c["parents"]) == 1 for c in log[:-1])
        assert set(confirmed) <= {c["commit"] for c in log}
        for c in log[:-2]:  # all but "schema" and the root
            if c["commit"] not in verified:
                version = dl.load(path, version=c["commit"])
                rows = len(version.x)
                if c["commit"] in confirmed:
                    assert rows == int(confirmed[c["commit"]])
                else:  # only the commit interrupted after landing may be unconfirmed
                    assert c["commit"] == log[0]["commit"] and lines[-1].startswith("C")
                    interrupted["commit landed"] += 1
                _check_rows(version, rows)
                verified[c["commit"]] = rows
    assert n > 50 and len(verified) >= 20 and interrupted["append"] >= 10 and interrupted["commit"] >= 3, (
        n, len(verified), interrupted)
    for commit_id, rows in list(verified.items())[::7]:  # earlier commits still read back after gc
        _check_rows(dl.load(path, version=commit_id), rows)
    _no_lock_files(path)
