"""History that does not slow the present: a log reads a few commit documents, not one per commit
(commit documents carry summaries of their nearest first-parent ancestors), older documents
without them still log, and damaged summaries are refused."""

from __future__ import annotations

import contextlib
import io
import json
import time

import pytest
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import LocalStore, MemoryStore

import deeplake_nb as dl
from deeplake_nb.errors import CorruptDatasetError
from deeplake_nb.version import Commit, Repository, documents
from deeplake_nb.version.commits import COMMITS, LOG_SPAN, carried

P = default_buffer_prototype()


def _commits(repo: Repository, n: int, branch: str = "main") -> list[str]:
    store = repo.open(branch)
    ids = []
    for i in range(n):
        store.set_sync("k", P.buffer.from_bytes(str(i).encode()))
        ids.append(store.commit(f"c{i}", author="me"))
    return ids


def _counting_gets(repo: Repository) -> list[str]:
    """Record the commit documents ``repo`` reads from now on."""
    seen: list[str] = []
    original = repo.physical.get

    def get(key, *args, **kwargs):
        if key.startswith(COMMITS):
            seen.append(key)
        return original(key, *args, **kwargs)

    repo.physical.get = get
    return seen


def test_carried_counts_follow_the_lowest_set_bit_and_stop_at_the_span():
    assert [carried(d) for d in range(9)] == [0, 0, 1, 0, 3, 0, 1, 0, 7]
    assert carried(LOG_SPAN) == carried(4 * LOG_SPAN) == LOG_SPAN - 1


def test_a_log_of_300_commits_reads_a_few_documents(tmp_path):
    repo = Repository(LocalStore(str(tmp_path)))
    root = repo.init()
    ids = _commits(repo, 300)
    fresh = Repository(LocalStore(str(tmp_path)))
    reads = _counting_gets(fresh)
    log = fresh.history("main")
    assert [c.id for c in log] == [*reversed(ids), root]
    assert [c.message for c in log[:2]] == ["c299", "c298"] and log[0].author == "me"
    assert len(reads) <= 10, reads  # 300 = 0b100101100: 4 runs, plus the root
    assert [c.id for c in fresh.log("main")] == [c.id for c in log]  # full documents agree


def test_documents_stay_small_on_average(tmp_path):
    repo = Repository(LocalStore(str(tmp_path)))
    repo.init()
    _commits(repo, 200)
    sizes = [len(documents.json_object((tmp_path / "commits" / name).read_bytes(), name.name).get("ancestry", []))
             for name in (tmp_path / "commits").iterdir() if name.is_file()]
    assert max(sizes) <= LOG_SPAN - 1
    assert sum(sizes) / len(sizes) < 8


def test_commits_on_documents_without_ancestry_still_log():
    memory = MemoryStore()
    repo = Repository(memory)
    root = repo.init()
    old = _commits(repo, 5)
    for cid in [root, *old]:  # rewrite them as documents from before depths existed
        data = documents.json_object(repo.physical.get(COMMITS + cid), cid)
        data.pop("depth"), data.pop("ancestry")
        repo.physical.set(COMMITS + cid, json.dumps(data).encode())
    fresh = Repository(memory)
    new = _commits(fresh, 6)
    again = Repository(memory)
    assert [c.id for c in again.history("main")] == [*reversed(new), *reversed(old), root]
    assert again.commits.get(new[0]).depth == 1


def test_a_branch_and_a_merge_keep_their_logs(tmp_path):
    repo = Repository(LocalStore(str(tmp_path)))
    root = repo.init()
    base = _commits(repo, 3)
    repo.create_branch("side", "main")
    side = _commits(repo, 5, "side")
    main = _commits(repo, 2)
    store = repo.open("main")
    merge = store.commit("merge", extra_parents=[side[-1]])
    fresh = Repository(LocalStore(str(tmp_path)))
    assert [c.id for c in fresh.history("main")] == [merge, *reversed(main), *reversed(base), root]
    assert fresh.history("main")[0].parents == (main[-1], side[-1])
    assert [c.id for c in fresh.history("side")] == [*reversed(side), *reversed(base), root]
    assert fresh.common_ancestor("side", main[-1]) == base[-1]


def test_a_broken_ancestry_chain_is_a_corrupt_dataset_error():
    memory = MemoryStore()
    repo = Repository(memory)
    repo.init()
    ids = _commits(repo, 4)  # depth 4 carries 3 ancestors
    data = documents.json_object(repo.physical.get(COMMITS + ids[-1]), ids[-1])
    assert len(data["ancestry"]) == 3
    data["ancestry"][1][0] = ids[0]  # not the first parent of the entry before it
    repo.physical.set(COMMITS + ids[-1], json.dumps(data).encode())
    with pytest.raises(CorruptDatasetError, match=ids[-1]):
        Repository(memory).history("main")
    data["ancestry"][1] = ["x"]
    repo.physical.set(COMMITS + ids[-1], json.dumps(data).encode())
    with pytest.raises(CorruptDatasetError, match="ancestor summary"):
        Repository(memory).history("main")


def test_commit_documents_written_directly_get_their_ancestry():
    repo = Repository(MemoryStore())
    root = repo.init()
    head = _commits(repo, 1)[0]
    extra = Commit(id="0" * 12 + "a" * 20, parents=(head,), message="m", author="", time=time.time(), manifest=())
    repo.commits.write(extra)
    assert repo.commits.get(extra.id).depth == 2
    assert [c.id for c in repo.commits.get(extra.id).ancestry] == [head]
    assert [c.id for c in repo.commits.first_parent_log(extra.id)] == [extra.id, head, root]


def test_dataset_log_and_commits_use_the_summaries(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    for i in range(40):
        ds.x.append(i)
        ds.commit(f"add {i}")
    again = dl.load(str(tmp_path / "ds"))
    reads = _counting_gets(again._repo)
    assert [c["message"] for c in again.commits][:3] == ["add 39", "add 38", "add 37"]
    assert len(again.commits) == 40
    with contextlib.redirect_stdout(io.StringIO()) as out:
        again.log()
    assert out.getvalue().count("Commit : ") == 40
    assert len(set(reads)) <= 4


def test_a_dropped_version_is_freed_at_once_not_by_a_later_collection(tmp_path):
    """A version a merge or diff opens is freed when dropped: no reference cycle waits for the
    garbage collector (which would charge its freeing to whatever runs next)."""
    import gc
    import weakref

    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    first = ds.commit("first")
    ds.x[1] = 5
    ds.commit("second")
    gc.collect()
    gc.disable()
    try:
        for open_it, values in ((lambda: dl.load(str(tmp_path / "ds"), read_only=True), [1, 5, 3]),
                                (lambda: ds._open_version(first), [1, 2, 3])):
            version = open_it()
            assert version.x.numpy().ravel().tolist() == values
            state = weakref.ref(version._state)
            del version
            assert state() is None
    finally:
        gc.enable()
