"""Version control on a Dataset (Deep Lake v3 API): commit, checkout, branches, tags, log, reset,
time travel, copy-on-write, diff, merge, rename_tensor and gc.

Concurrency and crash safety: test_versioning_concurrency.py; the model-based test:
test_versioning_model.py; zarr's store suite and zarr reads of old versions: test_version_zarr_suite.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.core import diff as diff_module
from deeplake_nb.version import patches


def _filled(path: str, n: int = 6) -> dl.Dataset:
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.create_tensor("caption", htype="text")
    ds.extend({"x": np.arange(n), "labels": [i % 2 for i in range(n)], "caption": [f"c{i}" for i in range(n)]})
    return ds


def _rows(ds: dl.Dataset) -> list[tuple]:
    xs, labels, captions = ds.x.numpy().ravel().tolist(), ds.labels.numpy().ravel().tolist(), ds.caption.text()
    assert len(xs) == len(labels) == len(captions)
    return list(zip(xs, labels, captions))


def _ids(ds: dl.Dataset, tensor: str = "x") -> list[int]:
    return ds[tensor].sample_ids.tolist()


def _disk(path: str) -> tuple[int, set[str]]:
    files = [p for p in Path(path).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), {str(p.relative_to(path)) for p in files}


# -- commits, branches, log ---------------------------------------------------------------------------
def test_commit_log_branches_and_head_changes(ds_path, capsys):
    ds = _filled(ds_path)
    assert ds.branch == "main" and ds.branches == ["main"] and ds.has_head_changes
    root = ds.commit_id
    c1 = ds.commit("initial import")
    assert c1 == ds.commit_id != root and not ds.has_head_changes
    assert [c["commit"] for c in ds.commits] == [c1]  # the empty root commit is left out, as v3 has none
    assert ds.commits[0]["message"] == "initial import" and ds.commits[0]["parents"] == [root]
    assert {"author", "time"} <= set(ds.commits[0])
    with pytest.raises(errors.VersionError, match="Nothing to commit"):
        ds.commit("empty")
    empty = ds.commit("empty on purpose", allow_empty=True)
    assert ds.commits[0]["commit"] == empty and ds.commits[0]["parents"] == [c1]
    ds.x[0] = 100
    assert ds.has_head_changes
    ds.log()
    out = capsys.readouterr().out
    assert "** There are uncommitted changes on this branch." in out and "Current Branch: main" in out
    assert "initial import" in out and "empty on purpose" in out
    assert out.index("empty on purpose") < out.index("initial import")  # newest first
    assert ds.checkout("relabel", create=True) != c1  # auto commit of the uncommitted change
    assert ds.commits[0]["message"].startswith("auto commit") and ds.branch == "relabel"
    assert ds.branches == ["main", "relabel"] and not ds.has_head_changes
    assert ds.x[0].numpy().item() == 100
    ds.checkout("main")
    assert ds.x[0].numpy().item() == 100  # the auto commit was made on main before branching
    with pytest.raises(errors.BranchExistsError):
        ds.checkout("relabel", create=True)
    with pytest.raises(errors.CommitNotFoundError, match="not a branch, tag or commit"):
        ds.checkout("nope")
    with pytest.raises(errors.InvalidRefNameError):
        ds.checkout("bad/name", create=True)


def test_uncommitted_changes_survive_reopen_and_stay_on_their_branch(ds_path):
    ds = _filled(ds_path)
    ds.commit("base")
    ds.checkout("work", create=True)
    ds.append({"x": 6, "labels": "dog", "caption": "new"})
    ds.x[0] = -1
    ds.pop(1)
    expected = _rows(ds)
    del ds  # "close": everything published is durable

    on_work = dl.load(ds_path, version="work")
    assert on_work.has_head_changes and _rows(on_work) == expected
    main = dl.load(ds_path)
    assert not main.has_head_changes and len(main) == 6 and main.x[0].numpy().item() == 0
    main.checkout("work")
    assert _rows(main) == expected and main.has_head_changes
    main.checkout("main")
    assert len(main) == 6
    # buffered appends inside `with ds:` are published when the block ends
    with on_work:
        on_work.append({"x": 7, "labels": "cat", "caption": "batched"})
    assert len(dl.load(ds_path, version="work")) == len(expected) + 1


def test_writes_on_commit_and_tag_checkouts_go_to_new_auto_branches(ds_path):
    ds = _filled(ds_path)
    c1 = ds.commit("first")
    ds.tag("v1.0")
    ds.x[0] = 42
    c2 = ds.commit("second")
    writes = [lambda d: d.x.append(1), lambda d: d.append({"x": 1, "labels": 0, "caption": ""}),
              lambda d: d.x.__setitem__(0, 5), lambda d: d.pop(), lambda d: d.create_tensor("y"),
              lambda d: d.delete_tensor("x"), lambda d: d.commit("empty", allow_empty=True),
              lambda d: d.merge("main"), lambda d: d.rename_tensor("x", "y")]
    made = set()
    for version in (c1, "v1.0"):
        for write in writes:
            ds.checkout(version)
            assert ds.branch in {None} | made and not ds.read_only and ds.commit_id == c1
            assert ds.x[0].numpy().item() == 0
            with pytest.warns(errors.AutoBranchWarning, match="auto_"):
                write(ds)
            assert ds.branch.startswith("auto_") and len(ds.branch) == 45 and ds.branch not in made
            made.add(ds.branch)
    assert set(ds.branches) == {"main"} | made
    # what fails or changes nothing makes no branch
    ds.checkout(c1)
    with pytest.raises(errors.VersionError, match="Nothing to commit"):
        ds.commit("nothing")
    ds.reset()
    with pytest.raises(errors.DetachedInfoError, match="Check out a branch"):
        ds.info.update(a=1)
    with pytest.raises(errors.DetachedInfoError):
        ds.x.info["a"] = 1
    assert set(ds.branches) == {"main"} | made and ds.commit_id == c1
    old = dl.load(ds_path, version=c1)
    assert not old.read_only and old.commit_id == c1 and len(old) == 6
    with pytest.warns(errors.AutoBranchWarning):
        old.x.append(1)
    assert old.branch.startswith("auto_") and len(old) == 6 and len(old.x) == 7
    ro = dl.load(ds_path, version="v1.0", read_only=True)
    assert ro.read_only
    with pytest.raises(errors.ReadOnlyError, match="read_only=False"):
        ro.x.append(1)
    assert ro.branches == old.branches and len(ro.x) == 6
    ds.checkout("main")
    assert ds.commit_id == c2 and ds.x[0].numpy().item() == 42 and len(ds) == 6
    assert not ds.read_only


def test_time_travel_by_commit_branch_and_tag(ds_path):
    ds = _filled(ds_path, n=3)
    states, ids = [], []
    for step in range(4):
        ds.append({"x": 10 + step, "labels": step % 2, "caption": f"s{step}"})
        ids.append(ds.commit(f"step {step}"))
        states.append(_rows(ds))
        ds.tag(f"v{step}")
    ds.checkout("side", create=True)
    ds.x[0] = -5
    side = ds.commit("side change")
    assert ds.version_tags == {f"v{i}": ids[i] for i in range(4)}
    for i in range(4):
        for version in (ids[i], f"v{i}"):
            assert _rows(dl.load(ds_path, version=version)) == states[i]
    assert _rows(dl.load(ds_path, version="main")) == states[-1]
    assert dl.load(ds_path, version="side").commit_id == side
    assert _rows(dl.load(ds_path, version=side))[0] == (-5, 0, "c0")
    with pytest.raises(errors.TagExistsError):
        ds.tag("v0")  # tags never move
    with pytest.raises(errors.CommitNotFoundError):
        dl.load(ds_path, version="0" * 32)


def test_reset_drops_uncommitted_changes(ds_path):
    ds = _filled(ds_path)
    ds.commit("base")
    before = _rows(ds)
    ds.x[2] = 99
    ds.info.update(note="temp")
    with ds:
        ds.append({"x": 1, "labels": 0, "caption": "buffered"})  # still buffered in memory
        ds.create_tensor("extra")
        ds.reset()
    assert _rows(ds) == before and "extra" not in ds.tensors and "note" not in ds.info
    assert not ds.has_head_changes and not dl.load(ds_path).has_head_changes
    assert _rows(dl.load(ds_path)) == before
    ds.reset()  # nothing to drop: a no-op


def test_delete_branch_and_gc(ds_path):
    ds = _filled(ds_path)
    c1 = ds.commit("base")
    ds.checkout("scratch", create=True)
    ds.extend({"x": np.arange(100, 400), "labels": [0] * 300, "caption": ["bulk"] * 300})
    ds.commit("big scratch work")
    ds.x[0] = -1  # and an uncommitted change
    with pytest.raises(errors.VersionError, match="checked out"):
        ds.delete_branch("scratch")
    with pytest.raises(errors.VersionError, match="cannot be deleted"):
        ds.delete_branch("main")
    ds.checkout("main")
    with pytest.raises(errors.BranchNotFoundError):
        ds.delete_branch("nope")
    size_before, _ = _disk(ds_path)
    nothing = {"objects": 0, "manifests": 0, "metadata": 0, "commits": 0, "ref_entries": 0}
    assert dl.gc(ds_path) == nothing  # grace period
    ds.delete_branch("scratch")
    assert ds.branches == ["main"]
    assert dl.gc(ds_path) == nothing
    removed = dl.gc(ds_path, grace_seconds=0)
    assert removed["objects"] > 0 and removed["commits"] == 1  # the commit only "scratch" reached
    assert _disk(ds_path)[0] < size_before
    assert _rows(dl.load(ds_path)) == _rows(dl.load(ds_path, version=c1)) == _rows(ds)
    ds.checkout("scratch", create=True)  # the name can be used again
    assert len(ds) == 6
    assert not [p for p in Path(ds_path).rglob("*") if "lock" in p.name.lower()]


# -- copy-on-write --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jpeg_pool() -> list[bytes]:
    rng = np.random.default_rng(0)
    return [simplejpeg.encode_jpeg(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), quality=90)
            for _ in range(16)]


def _grow(ds: dl.Dataset, pool: list[bytes], n: int) -> None:
    start = len(ds)
    with ds:
        for i in range(start, start + n):
            ds.append({"images": dl.Sample(buffer=pool[i % len(pool)]), "labels": i % 3})
    ds.commit(f"grow to {start + n}")


def test_commit_writes_only_touched_chunks_not_the_dataset(tmp_path, jpeg_pool):
    path = str(tmp_path / "cow")
    ds = dl.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    written = {}
    for target in (1000, 5000):
        _grow(ds, jpeg_pool, target - len(ds))
        head = ds.commit_id
        size, files = _disk(path)
        with ds:  # update 3 samples of both tensors, then commit
            for i, row in enumerate((7, target // 2, target - 3)):
                ds.images[row] = dl.Sample(buffer=jpeg_pool[(row + 5) % len(jpeg_pool)])
                ds.labels[row] = (row + 1) % 3
        ds.commit("update 3 samples")
        after, new_files = _disk(path)
        written[target] = after - size
        assert files <= new_files  # nothing rewritten or removed in place
        changed = ds._state.zarr_store.manifest_diff(head)
        assert len(changed) <= 12, sorted(changed)  # chunks the 3 samples touch, plus array metadata
        assert all(key.startswith(("images/", "labels/")) for key in changed)
        new_objects = {f for f in new_files - files if f.startswith("objects")}
        # each changed key's newest object is new (the patches of one publish share one pack)
        newest = {"objects/" + patches.parts(ds._state.zarr_store.object_of(key))[-1] for key in changed}
        assert newest == new_objects and len(new_objects) < len(changed)
        # the updated samples read back; the others still read their original bytes
        assert ds.images[target // 2].tobytes() == jpeg_pool[(target // 2 + 5) % len(jpeg_pool)]
        assert ds.images[target // 2 + 1].tobytes() == jpeg_pool[(target // 2 + 1) % len(jpeg_pool)]
        assert dl.load(path, version=head).images[target // 2].tobytes() == jpeg_pool[(target // 2) % len(jpeg_pool)]
        new_jpegs = sum(len(jpeg_pool[(row + 5) % len(jpeg_pool)]) for row in (7, target // 2, target - 3))
        # the 3 new JPEGs (appended to the heap as a patch of its tail chunk), small patches of the
        # index, shape and label chunks, a manifest delta, a commit and two ref entries
        assert written[target] <= new_jpegs + 40_000, (written, new_jpegs)
    assert _disk(path)[0] > 30e6  # the 5,000 JPEGs dominate
    assert written[5000] <= 1.1 * written[1000] + 20_000, written  # does not grow with the dataset

    # labels only: one dense chunk (plus metadata), whatever the size
    size, files = _disk(path)
    for row in (1, 2500, 4999):
        ds.labels[row] = 0
    ds.commit("labels only")
    assert _disk(path)[0] - size < 3.5e6

    # diff reads only the samples held by changed objects: here the 3 updated rows, and the rows
    # whose bytes lie in the heap's last chunk (rewritten by the update): far fewer than 5,000
    with ds:
        for row in (10, 2000, 4000):
            ds.images[row] = dl.Sample(buffer=jpeg_pool[1])
    ds.commit("3 images")
    digested = []
    real = diff_module.payload_digests
    diff_module.payload_digests = lambda t, rows: digested.append(len(rows)) or real(t, rows)
    try:
        changes = ds.diff(ds.commits[1]["commit"], as_dict=True)["tensor"]
    finally:
        diff_module.payload_digests = real
    step = changes[0][1]  # the current state's side: its (empty) uncommitted changes, then "3 images"
    assert changes[1] == [] and step["images"]["data_updated"] == {10, 2000, 4000}
    assert step["labels"]["data_updated"] == set()
    assert sum(digested) < 1000, digested


# -- diff -----------------------------------------------------------------------------------------------
def test_diff_samples_by_index_and_id(ds_path, capsys):
    ds = _filled(ds_path)
    c1 = ds.commit("base")
    ids = _ids(ds)
    ds.checkout("edit", create=True)
    ds.append({"x": 6, "labels": "dog", "caption": "c6"})
    ds.x[2] = 20
    ds.caption[4] = "changed"
    ds.pop(0)
    pending = ds.pending_commit_id
    d = ds.diff(as_dict=True)  # uncommitted changes against the head: one entry, under the pending id
    (t,), (meta,) = d["tensor"], d["dataset"]
    assert t["commit_id"] == meta["commit_id"] == pending and meta["author"] is None
    assert t["x"]["data_added"] == [5, 6] and t["x"]["data_updated"] == {1} and t["x"]["data_deleted"] == {0}
    assert t["caption"]["data_updated"] == {3} and t["labels"]["data_updated"] == set()
    assert t["labels"]["data_deleted"] == {0} and not t["x"]["created"] and not t["x"]["cleared"]
    assert meta["renamed"] == {} and meta["deleted"] == [] and not meta["info_updated"]
    # the same changes by hidden sample id (what the commit graph shows)
    by_id = ds._sample_changes(c1, "edit")
    assert by_id["x"]["added"] == [_ids(ds)[5]] and by_id["x"]["updated"] == [ids[2]]
    assert by_id["x"]["deleted_samples"] == [ids[0]] and by_id["caption"]["updated"] == [ids[4]]
    c2 = ds.commit("edits")
    assert c2 == pending  # the commit got the pending id
    ds.tag("edited")
    expected = {**t, "commit_id": c2}
    for a, b in [(c1, c2), (c1, "edited")]:
        assert ds.diff(a, b, as_dict=True)["tensor"] == ([], [expected])
    main_side, edit_side = ds.diff("main", "edited", as_dict=True)["tensor"]  # "main": its uncommitted state
    assert [e["commit_id"] for e in main_side] == [dl.load(ds_path).pending_commit_id] and edit_side == [expected]
    sides = ds.diff(c1, "edit", as_dict=True)["tensor"]  # a branch: its (empty) uncommitted state first
    assert sides[0] == [] and [e["commit_id"] for e in sides[1]] == [ds.pending_commit_id, c2]
    assert sides[1][1] == expected
    assert ds.diff(c1, as_dict=True)["tensor"] == ([sides[1][0], expected], [])  # the current state vs c1
    assert ds.diff(c2, c1, as_dict=True)["tensor"] == ([expected], [])
    ds.diff(c1, "edit")
    out = capsys.readouterr().out
    assert f"most recent common ancestor ({c1}) of the two commits passed" in out
    assert f"Diff in {c1} (target id 1):" in out and "Diff in edit (target id 2):" in out
    assert "x\n* Added 1 sample: [5-5]\n* Updated 1 sample: [1]\n* Deleted 1 sample: [0]\n" in out
    assert f"commit {c2}" in out and "Message: edits" in out
    ds.diff()
    assert "Diff in HEAD relative to the previous commit:" in capsys.readouterr().out
    # an update that writes the same value back is no change
    ds.x[0] = ds.x[0].numpy().item()
    assert ds.diff(as_dict=True)["tensor"][0]["x"]["data_updated"] == set()


def test_diff_tensors_created_deleted_and_renamed(ds_path, capsys):
    ds = _filled(ds_path)
    c1 = ds.commit("base")
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.boxes.extend([np.zeros((1, 4), np.float32)] * 6)
    ds.delete_tensor("caption")
    ds.rename_tensor("labels", "meta/label")
    d = ds.diff(c1, as_dict=True)
    (t,), (meta,) = d["tensor"][0], d["dataset"][0]
    assert set(t) == {"commit_id", "x", "boxes", "meta/label"}
    assert t["boxes"]["created"] and t["boxes"]["data_added"] == [0, 6]
    assert not t["meta/label"]["created"] and t["meta/label"]["data_added"] == [0, 0]
    assert meta["deleted"] == ["caption"] and meta["renamed"] == {"labels": "meta/label"}
    ds.diff(c1)
    out = capsys.readouterr().out
    assert "- Renamed:\tlabels -> meta/label" in out and "- Deleted:\tcaption" in out
    assert "boxes\n* Created tensor\n* Added 6 samples: [0-5]\n" in out
    by_id = ds._sample_changes(c1, "main")
    assert by_id["meta/label"]["renamed_from"] == "labels" and by_id["caption"]["deleted"]
    ds["meta/label"][0] = "dog"
    ds.commit("renamed and relabelled")
    (step,) = ds.diff(c1, "main", as_dict=True)["tensor"][1][1:]
    assert step["meta/label"]["data_updated"] == {0}
    back = ds._sample_changes("main", c1)
    assert back["labels"]["renamed_from"] == "meta/label" and back["boxes"]["deleted"]


def test_rename_tensor_copies_no_data_and_keeps_ids(ds_path):
    ds = _filled(ds_path, n=200)
    ds.commit("base")
    ids, rows = _ids(ds, "caption"), ds.caption.text()
    size, files = _disk(ds_path)
    renamed = ds.rename_tensor("caption", "text/caption")
    assert renamed.key == "text/caption" and "caption" not in ds.tensors
    assert ds["text/caption"].text() == rows and ds["text/caption"].sample_ids.tolist() == ids
    assert "text" in ds.groups and list(ds.tensors) == ["x", "labels", "text/caption"]
    new_objects = [Path(ds_path, f) for f in _disk(ds_path)[1] - files if f.startswith("objects")]
    assert sum(p.stat().st_size for p in new_objects) < 20_000  # metadata documents, no sample data
    reopened = dl.load(ds_path)
    assert reopened["text/caption"].text() == rows and "caption" not in reopened.tensors
    ds["text/caption"].append("more")
    assert ds["text/caption"].text()[-1] == "more"
    with pytest.raises(errors.TensorNotFoundError):
        ds.rename_tensor("caption", "other")
    with pytest.raises(errors.TensorExistsError):
        ds.rename_tensor("x", "labels")
    with pytest.raises(errors.InvalidNameError):
        ds.rename_tensor("x", "_hidden")
    assert len(dl.load(ds_path, version=ds.commit_id).caption) == 200  # history is untouched
    with ds:  # buffered appends move with the tensor
        ds.x.append(5)
        ds.rename_tensor("x", "y")
    assert ds.y.numpy()[-1] == 5 and len(dl.load(ds_path).y) == 201


# -- merge ----------------------------------------------------------------------------------------------
@pytest.fixture
def forked(ds_path) -> tuple[dl.Dataset, str]:
    """Main with 6 committed rows, and branch "other" at the same commit; main checked out."""
    ds = _filled(ds_path)
    base = ds.commit("base")
    ds.checkout("other", create=True)
    ds.checkout("main")
    return ds, base


def _on(ds: dl.Dataset, branch: str, change) -> str:
    ds.checkout(branch)
    change(ds)
    commit = ds.commit(f"change on {branch}")
    ds.checkout("main")
    return commit


def test_merge_appends_and_updates_from_both_sides_land(forked):
    ds, base = forked
    ids = _ids(ds)
    theirs = _on(ds, "other", lambda d: (d.append({"x": 100, "labels": "dog", "caption": "theirs"}),
                                         d.x.__setitem__(1, 11), d.caption.__setitem__(5, "their caption")))
    _on(ds, "main", lambda d: (d.append({"x": 200, "labels": "cat", "caption": "ours"}), d.x.__setitem__(2, 22)))
    ours = ds.commit_id
    merged = ds.merge("other")
    assert merged == ds.commit_id and ds.commits[0]["parents"] == [ours, theirs]
    assert "Merge other into main" in ds.commits[0]["message"]
    rows = _rows(ds)
    assert rows[:6] == [(0, 0, "c0"), (11, 1, "c1"), (22, 0, "c2"), (3, 1, "c3"), (4, 0, "c4"), (5, 1, "their caption")]
    assert rows[6:] == [(200, 0, "ours"), (100, 1, "theirs")]  # ours first, then theirs
    assert _ids(ds)[:6] == ids and len(set(_ids(ds))) == 8
    for tensor in ("x", "labels", "caption"):
        assert _ids(ds, tensor) == _ids(ds)  # rows stay whole: one id per row in every tensor
    assert not ds.has_head_changes
    assert _rows(dl.load(ds.path, version=merged)) == rows
    assert ds.merge("other") is None and ds.commit_id == merged  # already merged: a no-op (v3)
    # the other side can merge back: same rows (their own append first there)
    ds.checkout("other")
    ds.merge("main")
    assert _rows(ds)[:6] == rows[:6] and _rows(ds)[6:] == rows[6:][::-1]


def test_merge_conflict_names_tensor_and_samples(forked, capsys):
    ds, base = forked
    ids = _ids(ds)
    _on(ds, "other", lambda d: (d.x.__setitem__(1, 11), d.x.__setitem__(3, 33)))
    _on(ds, "main", lambda d: (d.x.__setitem__(1, 1000), d.caption.__setitem__(3, "ours")))
    head, before = ds.commit_id, _rows(ds)
    with pytest.raises(errors.MergeConflictError, match="x: ids") as info:
        ds.merge("other")
    assert info.value.conflicts == {"x": [ids[1]]}
    assert str(ids[1]) in str(info.value) and "conflict_resolution" in str(info.value)
    assert ds.commit_id == head and _rows(ds) == before and not ds.has_head_changes  # nothing changed
    assert _rows(dl.load(ds.path)) == before

    ds.merge("other", conflict_resolution="ours")
    assert [r[0] for r in _rows(ds)][:4] == [0, 1000, 2, 33] and _rows(ds)[3][2] == "ours"


def test_merge_conflict_resolved_with_theirs(forked):
    ds, base = forked
    _on(ds, "other", lambda d: d.x.__setitem__(1, 11))
    _on(ds, "main", lambda d: d.x.__setitem__(1, 1000))
    with pytest.raises(errors.VersionError, match="conflict_resolution must be"):
        ds.merge("other", conflict_resolution="mine")
    ds.merge("other", conflict_resolution="theirs")
    assert ds.x[1].numpy().item() == 11


def test_same_change_on_both_sides_is_no_conflict(forked):
    ds, base = forked
    _on(ds, "other", lambda d: d.x.__setitem__(1, 7))
    _on(ds, "main", lambda d: d.x.__setitem__(1, 7))
    ds.merge("other")
    assert ds.x[1].numpy().item() == 7


def test_their_deletions_stay_out_and_rows_they_updated_come_back(forked):
    """v3: a merge brings samples in and updates them, it removes none; a row we deleted that
    they updated comes back whole, after the rows they added, in their order."""
    ds, base = forked
    ids = _ids(ds)
    # they update row 1's x, delete row 4 and add a row; we delete row 1 and update row 4's caption
    _on(ds, "other", lambda d: (d.x.__setitem__(1, 11), d.pop(4), d.append({"x": 7, "labels": 0, "caption": "c7"})))
    _on(ds, "main", lambda d: (d.caption.__setitem__(4, "ours"), d.pop(1)))
    ds.merge("other")
    assert _rows(ds) == [(0, 0, "c0"), (2, 0, "c2"), (3, 1, "c3"), (4, 0, "ours"), (5, 1, "c5"), (11, 1, "c1"),
                         (7, 0, "c7")]
    for tensor in ("x", "labels", "caption"):
        assert _ids(ds, tensor) == _ids(ds)
    assert _ids(ds)[5] == ids[1]
    # a tensor cleared there keeps its samples here
    _on(ds, "other", lambda d: d.caption.clear())
    ds.merge("other")
    assert len(ds.caption) == 7


@pytest.mark.parametrize("resolution", ["ours", "theirs"])
def test_update_against_delete_keeps_rows_whole(forked, resolution):
    ds, base = forked
    ids = _ids(ds)
    # they update row 1's x, we delete row 1; they delete row 4, we update row 4's caption
    _on(ds, "other", lambda d: (d.x.__setitem__(1, 11), d.pop(4)))
    _on(ds, "main", lambda d: (d.caption.__setitem__(4, "ours"), d.pop(1)))
    with pytest.raises(errors.MergeConflictError) as info:
        ds.merge("other", delete_removed_samples=True)
    assert sorted(info.value.conflicts["x"]) == sorted([ids[1]]) and info.value.conflicts["caption"] == [ids[4]]
    ds.merge("other", conflict_resolution=resolution, delete_removed_samples=True)
    rows = _rows(ds)
    for tensor in ("x", "labels", "caption"):
        assert _ids(ds, tensor) == _ids(ds)
    if resolution == "ours":  # row 1 stays deleted, row 4 stays with our caption
        assert rows == [(0, 0, "c0"), (2, 0, "c2"), (3, 1, "c3"), (4, 0, "ours"), (5, 1, "c5")]
    else:  # row 1 comes back (at the end) with their update, row 4 goes
        assert rows == [(0, 0, "c0"), (2, 0, "c2"), (3, 1, "c3"), (5, 1, "c5"), (11, 1, "c1")]
        assert _ids(ds)[-1] == ids[1]


def test_merge_deletions_and_tensors_created_or_deleted(forked):
    ds, base = forked
    ids = _ids(ds)

    def theirs(d):
        d.pop(0)
        d.create_tensor("score", dtype="float32")
        d.score.extend(np.linspace(0, 1, 5, dtype=np.float32))
        d.create_tensor("extra/tags", htype="text")
        d.delete_tensor("caption")
    _on(ds, "other", theirs)
    _on(ds, "main", lambda d: d.x.__setitem__(2, 9))
    ds.merge("other", delete_removed_samples=True)
    # v3: a tensor they deleted is kept (unless delete_removed_tensors=True)
    assert list(ds.tensors) == ["x", "labels", "caption", "score", "extra/tags"]
    assert ds.x.numpy().ravel().tolist() == [1, 9, 3, 4, 5] and len(ds.caption) == 6
    np.testing.assert_allclose(ds.score.numpy().ravel(), np.linspace(0, 1, 5))
    assert _ids(ds) == ids[1:] and len(ds["extra/tags"]) == 0
    # merging it again with delete_removed_tensors=True deletes what they deleted since the fork
    merged = ds.commit_id
    assert ds.merge("other") is None and ds.commit_id == merged  # already merged: nothing to do
    ds.merge("other", delete_removed_tensors=True)
    assert "caption" not in ds.tensors and ds.commit_id != merged and not ds.has_head_changes
    # they deleted a tensor we changed: no conflict; kept, or deleted with delete_removed_tensors
    _on(ds, "other", lambda d: d.delete_tensor("labels"))
    _on(ds, "main", lambda d: d.labels.__setitem__(0, "cat"))
    ds.merge("other", delete_removed_tensors=True)
    assert "labels" not in ds.tensors
    # we deleted a tensor they changed: it comes back, as theirs
    _on(ds, "main", lambda d: d.delete_tensor("score"))
    _on(ds, "other", lambda d: d.score.__setitem__(0, 5.0))
    ds.merge("other")
    assert ds.score.numpy().ravel()[0] == 5.0 and len(ds.score) == 5
    # we deleted a tensor they did not change: it stays deleted
    _on(ds, "main", lambda d: d.delete_tensor("extra/tags"))
    _on(ds, "other", lambda d: d.x.__setitem__(0, 7))
    ds.merge("other")
    assert "extra/tags" not in ds.tensors and ds.x.numpy().ravel().tolist() == [7, 9, 3, 4, 5]


def test_merge_reconciles_class_names_by_name(forked):
    ds, base = forked
    _on(ds, "other", lambda d: d.extend({"x": [10, 11, 12], "labels": ["bird", "fish", "cat"],
                                        "caption": ["t"] * 3}))
    _on(ds, "main", lambda d: (d.extend({"x": [20, 21], "labels": ["fish", "dog"], "caption": ["o"] * 2}),
                              d.labels.__setitem__(0, "fish")))
    assert ds.labels.info.class_names == ["cat", "dog", "fish"]
    ds.merge("other")
    names = ds.labels.info.class_names
    assert names == ["cat", "dog", "fish", "bird"]
    text = [t[0] for t in ds.labels.data()["text"]]
    assert text == ["fish", "dog", "cat", "dog", "cat", "dog", "fish", "dog", "bird", "fish", "cat"]
    # their rows hold other class ids here (bird and fish swapped places): diff compares names
    d = ds._sample_changes("other", "main")["labels"]
    assert d["updated_indices"] == [0] and d["added_indices"] == [6, 7]
    # the same class name set on one sample by both sides (different ids on each side) is no conflict
    _on(ds, "other", lambda d: d.labels.__setitem__(1, "eel"))
    _on(ds, "main", lambda d: (d.labels.__setitem__(2, "ray"), d.labels.__setitem__(1, "eel")))
    ds.merge("other")
    assert [t[0] for t in ds.labels[1:3].data()["text"]] == ["eel", "ray"]
    # different names on both sides are a conflict even when the ids agree
    _on(ds, "other", lambda d: d.labels.__setitem__(3, "owl"))
    _on(ds, "main", lambda d: d.labels.__setitem__(3, "yak"))
    with pytest.raises(errors.MergeConflictError):
        ds.merge("other")


def test_merge_follows_renames(forked):
    ds, base = forked
    _on(ds, "other", lambda d: (d.rename_tensor("caption", "text"), d.text.__setitem__(0, "theirs")))
    _on(ds, "main", lambda d: d.append({"x": 6, "labels": 0, "caption": "ours"}))
    ds.merge("other")
    assert "caption" not in ds.tensors and ds.text.text() == ["theirs", "c1", "c2", "c3", "c4", "c5", "ours"]
    # we renamed, they changed: their change lands in our renamed tensor
    _on(ds, "other", lambda d: d.x.__setitem__(1, 11))
    _on(ds, "main", lambda d: d.rename_tensor("x", "value"))
    ds.merge("other")
    assert "x" not in ds.tensors and ds.value.numpy().ravel()[:2].tolist() == [0, 11]
    # renamed differently on both sides: a conflict that only force settles (v3): their tensor
    # comes over as a new tensor under their name, ours stays
    ds.checkout("other")
    ds.merge("main")
    ds.checkout("main")
    _on(ds, "other", lambda d: d.rename_tensor("value", "v_theirs"))
    _on(ds, "main", lambda d: d.rename_tensor("value", "v_ours"))
    for resolution in (None, "theirs"):
        with pytest.raises(errors.MergeConflictError, match="v_ours.*force=True") as info:
            ds.merge("other", conflict_resolution=resolution)
        assert info.value.conflicts == {"v_theirs": []}
    ds.merge("other", force=True)
    assert ds.v_theirs.numpy().ravel().tolist() == ds.v_ours.numpy().ravel().tolist() and len(ds.v_theirs) == 7


def test_merge_by_tag_and_commit_id_and_uncommitted_changes(forked):
    ds, base = forked
    c = _on(ds, "other", lambda d: d.x.__setitem__(0, 50))
    ds.tag("release")  # tags main's head
    ds.checkout("other")
    ds.tag("other-v1")
    ds.checkout("main")
    ds.x[5] = 55  # uncommitted: the merge commit includes it
    ds.merge("other-v1")
    assert ds.x.numpy().ravel()[[0, 5]].tolist() == [50, 55] and not ds.has_head_changes
    ds.checkout("again", create=True)
    _on(ds, "other", lambda d: d.x.__setitem__(1, 51))
    ds.checkout("again")
    newer = dl.load(ds.path, version="other").commit_id
    ds.merge(newer)
    assert ds.x.numpy().ravel()[:2].tolist() == [50, 51]
    assert ds.commits[0]["parents"][1] == newer and c in ds.commits[1]["parents"]


def test_the_root_commit_reads_as_an_empty_dataset(tmp_path):
    ds = dl.empty(tmp_path / "rooted")
    root = ds.commit_id
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    later = ds.commit("two samples")
    assert ds.diff(root, later, as_dict=True)["tensor"][1][0]["x"]["created"]
    old = dl.load(tmp_path / "rooted", version=root)
    assert len(old) == 0 and old.tensors == {} and old.commit_id == root
    with pytest.warns(errors.AutoBranchWarning):
        old.create_tensor("y")  # a write there goes to a new branch made at the root commit
    old.y.append(3)
    assert old.branch.startswith("auto_") and list(old.tensors) == ["y"] and old.y.numpy().tolist() == [[3]]
    assert dl.load(tmp_path / "rooted").x.numpy().tolist() == [[1], [2]]
