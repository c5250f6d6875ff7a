"""Version control storage: VersionedStore (a zarr Store at one version) and Repository.

Covers zarr round trips, time travel, branch isolation, the working area, read-only checkouts,
copy-on-write costs, put-if-absent races between processes, crash safety under SIGKILL, gc and
reset.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore, WrapperStore

from deeplake_nb.errors import (BranchExistsError, BranchNotFoundError, CommitNotFoundError, DetachedHeadError,
                                FormatVersionError, InvalidRefNameError, ReadOnlyError, TagExistsError,
                                VersionConflictError, VersionError)
from deeplake_nb.storage import ByteStore
from deeplake_nb.version import Repository, VersionedStore, documents

PROTO = default_buffer_prototype()


def buf(data: bytes) -> Buffer:
    return PROTO.buffer.from_bytes(data)


def read(store: VersionedStore, key: str) -> bytes | None:
    got = store.get_sync(key)
    return None if got is None else got.to_bytes()


def contents(store: VersionedStore) -> dict[str, bytes]:
    async def keys() -> list[str]:
        return [key async for key in store.list()]

    return {key: read(store, key) for key in sync(keys())}


@pytest.fixture(params=["memory", "local", "async-only"])
def physical(request, tmp_path):
    """The physical store: MemoryStore, LocalStore, or a wrapper without zarr's sync methods."""
    if request.param == "local":
        return LocalStore(tmp_path / "repo")
    return MemoryStore() if request.param == "memory" else WrapperStore(MemoryStore())


@pytest.fixture
def repo(physical) -> Repository:
    repository = Repository(physical)
    repository.init()
    return repository


# -- zarr through the overlay ---------------------------------------------------------------------
def test_zarr_round_trip_and_time_travel(physical):
    repo = Repository(physical)
    root = repo.init()
    store = repo.open("main")
    group = zarr.open_group(store=store, mode="w")
    plain = group.create_array("labels", shape=(100,), chunks=(16,), dtype="int32")
    sharded = group.create_array("images/pixels", shape=(64, 8, 8), chunks=(4, 8, 8), shards=(16, 8, 8),
                                 dtype="uint8")
    plain[:] = np.arange(100)
    pixels = np.random.default_rng(0).integers(0, 255, (64, 8, 8), dtype=np.uint8)
    sharded[:] = pixels
    first = store.commit("first", author="tester", changes={"labels": {"appended": [0, 100]}})

    plain[10:20] = -1
    sharded[5] = 0
    second = store.commit("second")
    plain[0] = 7
    store.publish()

    reopened = Repository(physical)  # a new process would see the same
    assert reopened.branches == {"main": second}
    assert reopened.log("main")[0].id == second
    assert [c.id for c in reopened.log("main")] == [second, first, root]
    at_first = zarr.open_group(store=reopened.open(first), mode="r")
    np.testing.assert_array_equal(at_first["labels"][:], np.arange(100))
    np.testing.assert_array_equal(at_first["images/pixels"][:], pixels)
    np.testing.assert_array_equal(at_first["images/pixels"][3:7, 2], pixels[3:7, 2])  # partial shard reads
    at_second = zarr.open_group(store=reopened.open(second), mode="r")
    expected = np.arange(100)
    expected[10:20] = -1
    np.testing.assert_array_equal(at_second["labels"][:], expected)
    assert not at_second["images/pixels"][5].any()
    working = zarr.open_group(store=reopened.open("main", read_only=True), mode="r")
    assert working["labels"][0] == 7
    assert reopened.commit_doc(first).changes == {"labels": {"appended": [0, 100]}}
    assert reopened.commit_doc(first).author == "tester"
    assert sorted(working.store.manifest_diff(first)) == ["images/pixels/c/0/0/0", "labels/c/0", "labels/c/1"]


def test_uninitialised_store_says_so(physical):
    repo = Repository(physical)
    assert not repo.is_initialized and repo.branches == {}
    with pytest.raises(VersionError, match="init"):
        repo.open("main")
    repo.init()
    assert repo.is_initialized


def test_root_commit_is_empty(repo):
    store = repo.open("main")
    assert contents(store) == {}
    assert sync(store.is_empty(""))
    assert repo.log("main")[0].parents == ()
    with pytest.raises(VersionError, match="already"):
        repo.init()


def test_store_key_semantics(repo):
    store = repo.open("main")
    store.set_sync("a/zarr.json", buf(b"{}"))
    store.set_sync("a/c/0", buf(bytes(range(100))))
    store.set_sync("a/c/1", buf(b"one"))
    store.set_sync("b", buf(b"bee"))
    assert sync(store.exists("a/c/0")) and not sync(store.exists("a/c"))
    assert read(store, "missing") is None
    assert store.get_sync("a/c/0", byte_range=RangeByteRequest(10, 20)).to_bytes() == bytes(range(10, 20))
    assert sync(store.get("a/c/0", PROTO, OffsetByteRequest(95))).to_bytes() == bytes(range(95, 100))
    assert sync(store.get("a/c/0", PROTO, SuffixByteRequest(3))).to_bytes() == bytes([97, 98, 99])
    assert ByteStore(store).get("a/c/0", 1, 4) == bytes([1, 2, 3])  # the format layer's hot path
    got = sync(store.get_partial_values(PROTO, [("a/c/1", None), ("nope", None), ("a/c/0", RangeByteRequest(0, 2))]))
    assert [None if g is None else g.to_bytes() for g in got] == [b"one", None, b"\x00\x01"]
    assert sync(store.getsize("a/c/0")) == 100

    async def listing(method, *args) -> list[str]:
        return sorted([key async for key in getattr(store, method)(*args)])

    assert sync(listing("list_dir", "")) == ["a", "b"]
    assert sync(listing("list_dir", "a")) == ["c", "zarr.json"]
    assert sync(listing("list_dir", "a/")) == ["c", "zarr.json"]
    assert sync(listing("list_prefix", "a/c/")) == ["a/c/0", "a/c/1"]
    assert sync(listing("list")) == ["a/c/0", "a/c/1", "a/zarr.json", "b"]
    sync(store.set_if_not_exists("b", buf(b"other")))
    assert read(store, "b") == b"bee"
    sync(store.delete_dir("a/c"))
    assert sync(listing("list")) == ["a/zarr.json", "b"]
    store.delete_sync("b")
    sync(store.delete("never-there"))
    assert sync(listing("list")) == ["a/zarr.json"]
    sync(store.clear())
    assert sync(store.is_empty(""))


def test_private_objects_are_rewritten_in_place_until_published(repo, physical):
    store = repo.open("main")
    objects = lambda: {k for k in ByteStore(physical).list_prefix("objects/") if "partial" not in k}  # noqa: E731
    for i in range(5):
        store.set_sync("chunk", buf(b"v%d" % i))
    assert len(objects()) == 1
    store.publish()
    store.set_sync("chunk", buf(b"after publish"))
    assert len(objects()) == 2  # the published object is immutable
    store.delete_sync("chunk")
    assert len(objects()) == 1  # the private one is dropped at once
    assert read(repo.open("main"), "chunk") == b"v4"


# -- branches, working area, read-only checkouts ----------------------------------------------------
def test_branches_are_isolated(repo):
    main = repo.open("main")
    main.set_sync("shared", buf(b"base"))
    base = main.commit("base")
    assert repo.create_branch("dev", "main") == base
    dev = repo.open("dev")
    dev.set_sync("shared", buf(b"dev"))
    dev.set_sync("dev-only", buf(b"x"))
    dev_commit = dev.commit("on dev")
    main.set_sync("main-only", buf(b"y"))
    main_commit = main.commit("on main")
    assert contents(repo.open("main")) == {"shared": b"base", "main-only": b"y"}
    assert contents(repo.open("dev")) == {"shared": b"dev", "dev-only": b"x"}
    assert repo.branches == {"main": main_commit, "dev": dev_commit}
    assert repo.common_ancestor("main", "dev") == base
    assert repo.open("dev").manifest_diff("main") == {"shared", "dev-only", "main-only"}


def test_uncommitted_changes_survive_reopen_and_stay_on_their_branch(physical):
    repo = Repository(physical)
    repo.init()
    repo.create_branch("other", "main")
    store = repo.open("main")
    store.set_sync("k", buf(b"published"))
    assert store.has_changes and not repo.has_changes("main")  # pending, not yet published
    assert read(Repository(physical).open("main"), "k") is None
    store.publish()
    store.set_sync("unpublished", buf(b"lost on reopen"))
    again = Repository(physical)
    assert again.has_changes("main") and not again.has_changes("other")
    reopened = again.open("main")
    assert reopened.has_changes
    assert contents(reopened) == {"k": b"published"}
    assert contents(again.open("other")) == {}
    assert again.log("main")[0].id == again.log("other")[0].id  # nothing committed
    commit = reopened.commit("landed")
    assert not Repository(physical).has_changes("main")
    assert contents(Repository(physical).open(commit)) == {"k": b"published"}


def test_commit_and_tag_checkouts_are_read_only(repo):
    store = repo.open("main")
    store.set_sync("k", buf(b"v"))
    commit = store.commit("c")
    assert repo.tag("v1", commit) == commit
    assert repo.tag("v1", "main") == commit  # same commit again: a no-op
    for ref in (commit, "v1"):
        checkout = repo.open(ref, read_only=False)
        assert checkout.read_only and checkout.branch is None and checkout.head == commit
        with pytest.raises(DetachedHeadError, match="create a branch"):
            checkout.set_sync("k", buf(b"w"))
        with pytest.raises(DetachedHeadError):
            sync(checkout.set("k", buf(b"w")))
        with pytest.raises(ReadOnlyError):  # DetachedHeadError is a ReadOnlyError
            checkout.commit("nope")
        with pytest.raises(DetachedHeadError):
            checkout.with_read_only(False)
        with pytest.raises(ValueError):
            zarr.open_group(store=checkout, mode="a")
        assert read(checkout, "k") == b"v"
    readonly_branch = repo.open("main", read_only=True)
    with pytest.raises(ReadOnlyError, match="read-only"):
        readonly_branch.delete_sync("k")
    writable = readonly_branch.with_read_only(False)
    writable.set_sync("k", buf(b"w"))
    assert read(readonly_branch, "k") == b"w"  # views share the checkout
    assert writable == writable.with_read_only(False) and writable != readonly_branch
    store.set_sync("more", buf(b"x"))
    newer = store.commit("newer")
    with pytest.raises(TagExistsError):
        repo.tag("v1", newer)
    assert repo.tags == {"v1": commit}


def test_zarr_mode_r_on_writable_store_uses_a_read_only_view(repo):
    store = repo.open("main")
    zarr.open_group(store=store, mode="w").create_array("a", shape=(4,), dtype="int8")[:] = 3
    group = zarr.open_group(store=store, mode="r")
    assert group.store.read_only and group["a"][:].tolist() == [3, 3, 3, 3]


def test_read_only_physical_store(tmp_path):
    repo = Repository(LocalStore(tmp_path))
    repo.init()
    store = repo.open("main")
    store.set_sync("k", buf(b"v"))
    store.commit("c")
    frozen = Repository(LocalStore(tmp_path, read_only=True)).open("main")
    assert frozen.read_only and read(frozen, "k") == b"v"


def test_ref_names_and_errors(repo):
    for bad in ["", "a/b", "..", "a..b", ".hidden", "sp ace", "x" * 201, "0" * 32, None]:
        with pytest.raises(InvalidRefNameError):
            repo.create_branch(bad, "main")
    for good in ["dev", "feature-1", "v1.0", "_x", "A_b-c.d"]:
        repo.create_branch(good, "main")
    with pytest.raises(BranchExistsError):
        repo.create_branch("dev", "main")
    with pytest.raises(BranchExistsError):
        repo.tag("dev", "main")
    repo.tag("release", "main")
    with pytest.raises(BranchExistsError):
        repo.create_branch("release", "main")
    with pytest.raises(CommitNotFoundError, match="branches: .*'dev'.*tags: .*'release'"):
        repo.resolve("nope")
    for unknown in ("f" * 32, "..", "a/b", "refs", ""):
        with pytest.raises(CommitNotFoundError):
            repo.open(unknown)
    with pytest.raises(VersionError, match="cannot be deleted"):
        repo.delete_branch("main")
    with pytest.raises(BranchNotFoundError, match="branches"):
        repo.delete_branch("ghost")
    repo.delete_branch("dev")
    assert "dev" not in repo.branches
    with pytest.raises(CommitNotFoundError):
        repo.resolve("dev")
    repo.create_branch("dev", "release")  # a deleted name can be reused
    assert repo.branches["dev"] == repo.tags["release"]
    with pytest.raises(VersionError, match="JSON"):
        repo.open("main").commit("bad", changes={"x": object()})


def _forked(repo, first: bytes):
    """(main's store, its first commit "base" of key "a" = ``first``, branch "dev" there, opened)."""
    store = repo.open("main")
    store.set_sync("a", buf(first))
    base = store.commit("base")
    repo.create_branch("dev", base)
    return store, base, repo.open("dev")


def test_log_and_merge_base_with_merge_commits(repo):
    store, base, dev = _forked(repo, b"1")
    dev.set_sync("b", buf(b"2"))
    d1 = dev.commit("d1")
    store.set_sync("c", buf(b"3"))
    m1 = store.commit("m1")
    assert repo.common_ancestor("main", "dev") == base
    store.set_sync("b", buf(b"2"))
    merge = store.commit("merge dev", extra_parents=[d1])
    assert repo.commit_doc(merge).parents == (m1, d1)
    assert [c.id for c in repo.log("main")][:3] == [merge, m1, base]  # first parents only
    assert repo.common_ancestor("main", "dev") == d1  # dev is already merged
    dev.set_sync("d", buf(b"4"))
    d2 = dev.commit("d2")
    assert repo.common_ancestor(merge, d2) == d1
    assert repo.common_ancestor(d2, base) == base
    with pytest.raises(CommitNotFoundError):
        store.commit("bad merge", extra_parents=["0" * 32])


def test_merge_base_walks_only_the_commits_since_the_fork(repo, monkeypatch):
    store = repo.open("main")
    for i in range(150):  # a long history before the fork
        store.set_sync("k", buf(str(i).encode()))
        fork = store.commit(f"c{i}")
    repo.create_branch("dev", fork)
    dev = repo.open("dev")
    for i in range(3):
        dev.set_sync("d", buf(str(i).encode()))
        dev_head = dev.commit(f"d{i}")
        store.set_sync("k", buf(str(-i).encode()))
        main_head = store.commit(f"m{i}")
    visited: list[str] = []
    real = type(repo.commits).summary
    monkeypatch.setattr(type(repo.commits), "summary", lambda self, cid: visited.append(cid) or real(self, cid))
    assert repo.commits.merge_base(main_head, dev_head) == fork
    assert len(set(visited)) <= 10  # the three commits on each side, the fork and its parent
    assert repo.commits.merge_base(dev_head, fork) == fork and repo.commits.merge_base(fork, fork) == fork


def test_merge_base_of_criss_crossed_or_skewed_history_compares_whole_ancestries(repo, monkeypatch):
    store, base, dev = _forked(repo, b"0")
    store.set_sync("a", buf(b"1"))
    m1 = store.commit("m1")
    dev.set_sync("b", buf(b"1"))
    d1 = dev.commit("d1")
    store.set_sync("b", buf(b"1"))
    m2 = store.commit("merge d1", extra_parents=[d1])  # criss-cross: each side merges the other's first commit
    dev.set_sync("a", buf(b"1"))
    d2 = dev.commit("merge m1", extra_parents=[m1])
    assert repo.commits.merge_base(m2, d2) in (m1, d1)  # two best ancestors: the newer one
    assert repo.commits.merge_base(m2, d2) == max((m1, d1), key=lambda c: (repo.commit_doc(c).time, c))
    commits = repo.commits
    times = {cid: commits.summary(cid).time for cid in (base, m1, d1, m2, d2)}
    real = type(commits).summary
    skewed = {d1: times[base] - 100}  # a commit stamped before its parent (another machine's clock)
    monkeypatch.setattr(type(commits), "summary",
                        lambda self, cid: replace(real(self, cid), time=skewed.get(cid, real(self, cid).time)))
    assert commits.merge_base(m1, d1) == base and commits.merge_base(m2, d1) == d1


# -- conflicts ---------------------------------------------------------------------------------------
def test_conflicting_writers_land_nothing(repo):
    first, second = repo.open("main"), repo.open("main")
    first.set_sync("k", buf(b"first"))
    winner = first.commit("first")
    second.set_sync("k", buf(b"second"))
    with pytest.raises(VersionConflictError, match="Reopen it and retry"):
        second.commit("second")
    with pytest.raises(VersionConflictError):
        second.publish()
    assert repo.branches["main"] == winner
    assert not repo.has_changes("main")
    assert read(repo.open("main"), "k") == b"first"
    third = repo.open("main")
    repo.reset("main")  # no published changes: nothing moves, so no conflict
    third.set_sync("x", buf(b"x"))
    third.publish()
    repo.reset("main")
    third.set_sync("y", buf(b"y"))
    with pytest.raises(VersionConflictError):
        third.publish()


# -- reset ---------------------------------------------------------------------------------------------
def test_reset_drops_changes(repo):
    store = repo.open("main")
    store.set_sync("kept", buf(b"committed"))
    store.commit("c")
    store.set_sync("kept", buf(b"changed"))
    store.set_sync("new", buf(b"new"))
    store.publish()
    store.set_sync("pending", buf(b"pending"))
    store.reset()
    assert not store.has_changes and contents(store) == {"kept": b"committed"}
    assert contents(repo.open("main")) == {"kept": b"committed"} and not repo.has_changes("main")
    store.set_sync("again", buf(b"x"))
    store.publish()
    assert repo.has_changes("main")
    repo.reset("main")
    assert not repo.has_changes("main")
    assert contents(repo.open("main")) == {"kept": b"committed"}


# -- copy-on-write cost ----------------------------------------------------------------------------------
class CountingStore(MemoryStore):
    """A MemoryStore that counts the bytes written to it."""

    written = 0

    def set_sync(self, key: str, value: Buffer) -> None:
        self.written += len(value)
        super().set_sync(key, value)

    async def set(self, key: str, value: Buffer, byte_range: tuple[int, int] | None = None) -> None:
        self.written += len(value)
        await super().set(key, value, byte_range)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self.written += len(value)
        await super().set_if_not_exists(key, value)


def _commit_cost(n_keys: int) -> tuple[int, int]:
    """(bytes written by one commit changing 2 of n_keys keys, mean over 100 such commits)."""
    physical = CountingStore()
    repo = Repository(physical)
    repo.init()
    store = repo.open("main")
    for i in range(n_keys):
        store.set_sync(f"images/bytes/c/{i}", buf(b"x" * 10))
    store.commit("bulk")
    before = physical.written
    store.set_sync("images/bytes/c/3", buf(b"y" * 10))
    store.set_sync("images/bytes/zarr.json", buf(b"z" * 10))
    store.commit("two keys")
    one = physical.written - before
    before = physical.written
    rng = random.Random(0)
    for round_ in range(100):
        for _ in range(2):
            store.set_sync(f"images/bytes/c/{rng.randrange(n_keys)}", buf(b"w" * 10))
        store.commit(f"round {round_}")
    assert len(store._co.stack) <= 12
    assert contents(Repository(physical).open("main")) == contents(store)
    return one, (physical.written - before) // 100


def test_commit_writes_only_changes_not_the_manifest():
    small_one, small_mean = _commit_cost(5_000)
    large_one, large_mean = _commit_cost(20_000)
    print(f"bytes per 2-key commit: 5k keys {small_one} (mean of 100: {small_mean}); "
          f"20k keys {large_one} (mean {large_mean})")
    assert small_one < 20_000 and small_mean < 20_000
    assert large_one < small_one + 200  # independent of the number of unchanged keys
    assert large_mean < 20_000


class ReadCountingStore(MemoryStore):
    """A MemoryStore that counts reads per key."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Buffer | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        return await super().get(key, prototype, byte_range)


def test_versions_opened_together_read_each_manifest_delta_once():
    physical = ReadCountingStore()
    repo = Repository(physical)
    repo.init()
    store = repo.open("main")
    for i in range(300):
        store.set_sync(f"t/c/{i}", buf(b"%d" % i))
    base = store.commit("base")
    repo.create_branch("side", "main")
    side = repo.open("side")
    side.set_sync("t/c/1", buf(b"side"))
    side.commit("side")
    store.set_sync("t/c/2", buf(b"main"))
    store.commit("main")
    physical.reads.clear()
    fresh = Repository(physical)
    views = [contents(fresh.open(ref)) for ref in ("main", "side", base)]  # a merge's three versions
    deltas = {key: n for key, n in physical.reads.items() if key.startswith("manifests/")}
    assert deltas and max(deltas.values()) == 1, deltas
    assert views[0]["t/c/2"] == b"main" and views[1]["t/c/1"] == b"side" and views[2]["t/c/1"] == b"1"
    assert views[0]["t/c/1"] == b"1" and views[1]["t/c/2"] == b"2" and len(views[2]) == 300


def test_the_delta_cache_keeps_at_most_its_capacity_in_entries():
    from deeplake_nb.version.manifest import DeltaCache

    cache = DeltaCache(capacity=10)
    for i in range(5):
        cache.put(f"d{i}", {f"k{j}": None for j in range(4)})
    assert cache.get("d4") is not None and cache.get("d3") is not None and cache.get("d0") is None
    cache.put("big", {f"k{j}": None for j in range(11)})  # over the capacity on its own: not kept
    assert cache.get("big") is None and cache.get("d4") is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["set", "set", "set", "delete", "publish", "commit", "reopen", "reset"]),
                          st.integers(0, 11)), max_size=60))
def test_random_operations_match_a_dict_model(ops):
    physical = MemoryStore()
    repo = Repository(physical)
    repo.init()
    store = repo.open("main")
    current: dict[str, bytes] = {}
    published: dict[str, bytes] = {}
    committed: dict[str, bytes] = {}
    history: list[tuple[str, dict[str, bytes]]] = []
    for step, (op, k) in enumerate(ops):
        key = f"g/c/{k}"
        if op == "set":
            current[key] = b"%d-%d" % (step, k)
            store.set_sync(key, buf(current[key]))
        elif op == "delete":
            current.pop(key, None)
            store.delete_sync(key)
        elif op == "publish":
            store.publish()
            published = dict(current)
        elif op == "commit":
            history.append((store.commit(str(step)), dict(current)))
            published = committed = dict(current)
        elif op == "reopen":
            store = Repository(physical).open("main")
            current = dict(published)
        else:
            store.reset()
            current, published = dict(committed), dict(committed)
        assert contents(store) == current
    for commit, state in history:
        assert contents(repo.open(commit)) == state


# -- gc ------------------------------------------------------------------------------------------------
def _physical_names(physical, prefix: str) -> set[str]:
    return set(ByteStore(physical).list_prefix(prefix))


def test_gc_respects_reachability_and_grace(repo, physical):
    store = repo.open("main")
    store.set_sync("a", buf(b"1"))
    store.set_sync("b", buf(b"2"))
    first = store.commit("first")
    store.set_sync("a", buf(b"3"))
    second = store.commit("second")  # the old "a" is still reachable from `first`
    repo.create_branch("doomed", second)
    doomed = repo.open("doomed")
    doomed.set_sync("c", buf(b"only on doomed"))
    doomed.commit("doomed")
    store.set_sync("orphan", buf(b"x"))  # written, never published
    store.set_sync("working", buf(b"published, not committed"))
    store.delete_sync("orphan")  # private object: deleted at once
    store.publish()
    store.set_sync("lost", buf(b"never published"))
    repo.delete_branch("doomed")

    def immutable() -> set[str]:
        return {key for prefix in ("objects/", "manifests/", "commits/") for key in _physical_names(physical, prefix)}

    before = immutable()
    assert repo.gc(grace_seconds=3600)["objects"] == 0  # all too young
    assert immutable() == before
    counts = repo.gc(grace_seconds=3600, now=time.time() + 7200)
    assert counts["objects"] == 2  # "c" on the deleted branch, and "lost"
    assert counts["commits"] == 1 and counts["manifests"] >= 1
    fresh = Repository(physical)
    assert contents(fresh.open(first)) == {"a": b"1", "b": b"2"}
    assert contents(fresh.open(second)) == {"a": b"3", "b": b"2"}
    assert contents(fresh.open("main")) == {"a": b"3", "b": b"2", "working": b"published, not committed"}
    assert repo.gc(grace_seconds=0)["objects"] == 0


def test_gc_prunes_only_ref_entries_superseded_before_the_grace_period(repo, physical):
    stale = repo.open("main")
    writer = repo.open("main")
    for i in range(5):
        writer.set_sync("k", buf(b"%d" % i))
        writer.publish()
    entries = lambda: sum(key.rsplit("/", 1)[-1].isdigit()  # noqa: E731  (the hint beside them is no entry)
                          for key in ByteStore(physical).list_prefix("refs/branches/main/"))
    assert entries() == 6
    assert repo.gc()["ref_entries"] == 0  # all within the grace period: a stale writer must still lose
    stale.set_sync("k", buf(b"stale"))
    with pytest.raises(VersionConflictError):
        stale.publish()
    assert repo.gc(now=time.time() + 7200)["ref_entries"] == 5
    assert entries() == 1
    assert read(Repository(physical).open("main"), "k") == b"4"
    writer.set_sync("k", buf(b"5"))
    writer.publish()  # the surviving entry number still orders writers
    assert read(Repository(physical).open("main"), "k") == b"5"


def test_missing_objects_raise_instead_of_reading_as_fill_value(repo, physical):
    store = repo.open("main")
    store.set_sync("k", buf(b"v"))
    commit = store.commit("c")
    ByteStore(physical).delete("objects/" + store._co.keys["k"])
    with pytest.raises(VersionError, match="missing"):
        read(repo.open(commit), "k")


def test_newer_format_version_is_refused(repo, physical):
    ByteStore(physical).set("repo.json", json.dumps({"format": "deeplake_nb.version", "version": 99}).encode())
    # the branch's entry says it was written in this library's format: it opens (reading no
    # repo.json), and any write into the newer repository is refused before it lands
    store = Repository(physical).open("main")
    store.set_sync("k", buf(b"v"))
    with pytest.raises(FormatVersionError):
        store.publish()
    with pytest.raises(FormatVersionError):
        Repository(physical).create_branch("b", "main")
    # an entry written in a newer format, or by writers that did not stamp one, is refused at open
    for entry in ({"format": 99}, {}):
        path = "refs/branches/main/latest"
        hint = documents.json_object(ByteStore(physical).get(path), path)
        hint["entry"].pop("format", None)
        hint["entry"].update(entry)
        ByteStore(physical).set(path, documents.encode(hint))
        with pytest.raises(FormatVersionError):
            Repository(physical).open("main")


# -- processes racing on put-if-absent refs --------------------------------------------------------------
def _race_worker(root: str, branch: str, tag: str, rounds: int, barrier: Any, results: Any) -> None:
    repo = Repository(LocalStore(root))
    barrier.wait()
    store = repo.open(branch)
    landed, conflicts = {}, 0
    for r in range(rounds):
        key = f"{tag}/{r}"
        store.set_sync(key, buf(key.encode()))
        try:
            landed[store.commit(key, changes={"key": key})] = key
        except VersionConflictError:
            conflicts += 1
            store = repo.open(branch)
    results.put((tag, landed, conflicts))


def _run_racers(root: str, branches: list[str], rounds: int) -> list[tuple[str, dict[str, str], int]]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(len(branches)), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(root, branch, f"p{i}", rounds, barrier, results))
             for i, branch in enumerate(branches)]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return out


def test_two_processes_racing_on_one_branch(tmp_path):
    root = str(tmp_path / "repo")
    repo = Repository(LocalStore(root))
    genesis = repo.init()
    results = _run_racers(root, ["main", "main"], 100)
    landed = {cid: key for _, ids, _ in results for cid, key in ids.items()}
    assert sum(len(ids) + conflicts for _, ids, conflicts in results) == 200
    fresh = Repository(LocalStore(root))
    log = fresh.log("main")
    assert all(len(c.parents) == 1 for c in log[:-1]) and log[-1].id == genesis
    assert {c.id for c in log[:-1]} == set(landed)  # every returned id landed; nothing else did
    assert contents(fresh.open("main")) == {key: key.encode() for key in landed.values()}
    for commit in log[:-1]:
        assert commit.changes == {"key": landed[commit.id]}


def test_processes_on_different_branches_never_conflict(tmp_path):
    root = str(tmp_path / "repo")
    repo = Repository(LocalStore(root))
    repo.init()
    repo.create_branch("a", "main")
    repo.create_branch("b", "main")
    results = _run_racers(root, ["a", "b"], 50)
    assert [conflicts for _, _, conflicts in results] == [0, 0]
    fresh = Repository(LocalStore(root))
    assert len(fresh.log("a")) == len(fresh.log("b")) == 51
    assert contents(fresh.open("a")) == {f"p0/{r}": f"p0/{r}".encode() for r in range(50)}


# -- crash safety ---------------------------------------------------------------------------------------
KEY_SPACE = 40


def _payload(trial: int, r: int) -> bytes:
    rng = random.Random(trial * 1_000_003 + r)
    return f"{trial}:{r}:".encode() + rng.randbytes(rng.randrange(10, 6000))


def _trial_state(start: dict[str, bytes], trial: int, r: int | None) -> dict[str, bytes]:
    """What the crash child's branch holds after landing round ``r`` (None: nothing landed)."""
    state = dict(start)
    for i in range(-1 if r is None else r + 1):
        state[f"k{i % KEY_SPACE}"] = _payload(trial, i)
        state["latest"] = _payload(trial, i)
        if i % 5 == 4:
            state.pop(f"k{(i - 2) % KEY_SPACE}", None)
    return state


def _crash_child(root: str, trial: int, progress: str) -> None:
    """Write, publish and commit forever (until killed), logging 'B r'/'E r' around each landing."""
    store = Repository(LocalStore(root)).open("main")
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, b"R\n")
    r = 0
    while True:
        store.set_sync(f"k{r % KEY_SPACE}", buf(_payload(trial, r)))
        store.set_sync("latest", buf(_payload(trial, r)))
        if r % 5 == 4:
            store.delete_sync(f"k{(r - 2) % KEY_SPACE}")
        if r % 3:
            os.write(fd, b"B %d\n" % r)
            if r % 3 == 1:
                store.publish()
            else:
                store.commit(json.dumps({"trial": trial, "round": r}))
            os.write(fd, b"E %d\n" % r)
        r += 1


def test_sigkill_at_random_times_never_corrupts(tmp_path, monkeypatch):
    root = str(tmp_path / "repo")
    repo = Repository(LocalStore(root))
    repo.init()
    # Children fork from a server that has imported this module, so a trial starts in milliseconds.
    # (Python 3.11's forkserver ignores the parent's sys.path, hence PYTHONPATH.)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    rng = random.Random(1234)
    starts: dict[int, dict[str, bytes]] = {}
    verified: dict[str, dict[str, bytes]] = {}
    state: dict[str, bytes] = {}
    for trial in range(30):
        starts[trial] = state
        progress = tmp_path / f"progress-{trial}"
        proc = ctx.Process(target=_crash_child, args=(root, trial, str(progress)))
        proc.start()
        deadline = time.time() + 60
        while not (progress.exists() and progress.read_bytes().startswith(b"R")):
            assert time.time() < deadline and proc.is_alive()
            time.sleep(0.002)
        # let a random number of rounds land first (their speed depends on the disk's fsync), then
        # kill at a random moment of the next ones
        landed = rng.randint(0, 3)
        while progress.read_bytes().count(b"E") < landed:
            assert time.time() < deadline and proc.is_alive()
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        lines = progress.read_text().split()
        marks = [(lines[i], int(lines[i + 1])) for i in range(1, len(lines) - 1, 2)]
        ended = [r for mark, r in marks if mark == "E"]
        allowed = [_trial_state(state, trial, ended[-1] if ended else None)]
        if marks and marks[-1][0] == "B":
            allowed.append(_trial_state(state, trial, marks[-1][1]))

        fresh = Repository(LocalStore(root))
        if trial % 5 == 4:
            fresh.gc(grace_seconds=0)  # nothing is writing now: sweep the killed child's leftovers
        state = contents(fresh.open("main"))
        assert state in allowed, f"trial {trial}: working state is neither before nor after the last landing"
        log = fresh.log("main")
        assert set(verified) <= {c.id for c in log}
        for commit in log[:-1]:
            if commit.id not in verified:
                meta = json.loads(commit.message)
                expected = _trial_state(starts[meta["trial"]], meta["trial"], meta["round"])
                assert contents(fresh.open(commit.id)) == expected
                verified[commit.id] = expected
    fresh = Repository(LocalStore(root))
    for commit_id, expected in verified.items():
        assert contents(fresh.open(commit_id)) == expected
    assert len(verified) >= 10


def test_metadata_documents_are_small_and_older_ones_still_read():
    import zlib

    from deeplake_nb.errors import CorruptDatasetError
    from deeplake_nb.version import metadata

    group = b'{\n  "attributes": {},\n  "zarr_format": 3,\n  "node_type": "group"\n}'
    values = {"zarr.json": group, "t/zarr.json": group, "t/_id/zarr.json": group.replace(b"group", b"array")}
    stored = metadata.encode(values)
    assert metadata.decode(stored, "m") == values and len(stored) < 90  # the dictionary holds the boilerplate
    older = zlib.compress(json.dumps({"format": metadata.FORMAT, "documents": {k: v.decode() for k, v in values.items()}},
                                     separators=(",", ":")).encode())  # as written before format 3
    assert metadata.decode(older, "m") == values and len(older) > len(stored)
    with pytest.raises(CorruptDatasetError, match="'m'"):
        metadata.decode(stored[:-2], "m")


class MetadataReads(MemoryStore):
    """Counts reads of consolidated metadata documents."""

    reads = 0

    def _count(self, key: str) -> None:
        if key.startswith("metadata/"):
            self.reads += 1

    def get_sync(self, key: str, *args: Any, **kwargs: Any) -> Buffer | None:
        self._count(key)
        return super().get_sync(key, *args, **kwargs)

    async def get(self, key: str, *args: Any, **kwargs: Any) -> Buffer | None:
        self._count(key)
        return await super().get(key, *args, **kwargs)


def test_documents_a_repository_wrote_or_read_are_not_read_again():
    physical = MetadataReads()
    repo = Repository(physical)
    repo.init()
    store = repo.open("main")
    store.set_sync("zarr.json", buf(b'{"v": 1}'))
    store.set_sync("t/zarr.json", buf(b'{"t": 1}'))
    first = store.commit("one")
    before = physical.reads
    opened = repo.open(first, read_only=True)
    assert opened.get_sync("zarr.json").to_bytes() == b'{"v": 1}'
    assert physical.reads == before  # the document this repository wrote
    fresh = Repository(physical).open(first, read_only=True)
    assert fresh.get_sync("t/zarr.json").to_bytes() == b'{"t": 1}' and physical.reads == before + 1
    # a checkout changes its own copy only: the version's document stays as committed
    store.set_sync("zarr.json", buf(b'{"v": 2}'))
    assert store.get_sync("zarr.json").to_bytes() == b'{"v": 2}'
    assert repo.open(first, read_only=True).get_sync("zarr.json").to_bytes() == b'{"v": 1}'
    second = store.commit("two")
    assert repo.open(second, read_only=True).get_sync("zarr.json").to_bytes() == b'{"v": 2}'
    assert repo.open(first, read_only=True).get_sync("zarr.json").to_bytes() == b'{"v": 1}'


def test_a_local_versions_metadata_documents_are_read_without_the_event_loop(tmp_path, monkeypatch):
    """``_read_documents`` (a publish consolidating a version that has no document yet) reads a
    local store's objects one after another, not through zarr's event loop; the same bytes."""
    import deeplake_nb as dl
    from deeplake_nb.version import store as store_module

    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    vstore = ds.zarr_store()
    expected = {key: vstore.get_sync(key).to_bytes() for key in vstore._co.keys if key.endswith("zarr.json")}
    assert "zarr.json" in expected and "x/_id/zarr.json" in expected

    def no_loop(*args, **kwargs):
        raise AssertionError("went through zarr's event loop")

    monkeypatch.setattr(store_module, "sync", no_loop)
    assert vstore._read_documents() == expected
