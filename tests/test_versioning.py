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
    assert [c["commit"] for c in ds.commits] == [c1, root]
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
    assert "(uncommitted changes)" in out and "initial import" in out and "empty on purpose" in out
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


def test_commit_and_tag_checkouts_are_read_only(ds_path):
    ds = _filled(ds_path)
    c1 = ds.commit("first")
    ds.tag("v1.0")
    ds.x[0] = 42
    c2 = ds.commit("second")
    for version in (c1, "v1.0"):
        ds.checkout(version)
        assert ds.branch is None and ds.read_only and ds.commit_id == c1
        assert ds.x[0].numpy().item() == 0
        writes = [lambda: ds.x.append(1), lambda: ds.append({"x": 1, "labels": 0, "caption": ""}),
                  lambda: ds.x.__setitem__(0, 5), lambda: ds.pop(), lambda: ds.create_tensor("y"),
                  lambda: ds.delete_tensor("x"), lambda: ds.commit("nope"), lambda: ds.reset(),
                  lambda: ds.info.update(a=1), lambda: ds.merge("main"), lambda: ds.rename_tensor("x", "y")]
        for write in writes:
            with pytest.raises(errors.DetachedHeadError, match="create a branch"):
                write()
        assert ds.commit_id == c1 and ds.x[0].numpy().item() == 0
    for version in (c1, "v1.0"):
        old = dl.load(ds_path, version=version)
        assert old.read_only and old.commit_id == c1 and len(old) == 6
        with pytest.raises(errors.ReadOnlyError, match="create a branch"):
            old.x.append(1)
    # a branch made at the old commit is writable
    ds.checkout("hotfix", create=True)
    assert ds.branch == "hotfix" and not ds.read_only and ds.commit_id == c1
    ds.x[0] = 7
    ds.commit("fix")
    ds.checkout("main")
    assert ds.commit_id == c2 and ds.x[0].numpy().item() == 42
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
    assert dl.gc(ds_path) == {"objects": 0, "manifests": 0, "commits": 0, "ref_entries": 0}  # grace period
    ds.delete_branch("scratch")
    assert ds.branches == ["main"]
    assert dl.gc(ds_path) == {"objects": 0, "manifests": 0, "commits": 0, "ref_entries": 0}
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
        new_objects = [f for f in new_files - files if f.startswith("objects")]
        assert len(new_objects) == len(changed)
        # the updated samples read back; the others still read their original bytes
        assert ds.images[target // 2].tobytes() == jpeg_pool[(target // 2 + 5) % len(jpeg_pool)]
        assert ds.images[target // 2 + 1].tobytes() == jpeg_pool[(target // 2 + 1) % len(jpeg_pool)]
        assert dl.load(path, version=head).images[target // 2].tobytes() == jpeg_pool[(target // 2) % len(jpeg_pool)]
    assert _disk(path)[0] > 40e6  # the 5,000 JPEGs and their history dominate
    assert written[5000] < 0.15 * _disk(path)[0], written  # 4 MiB heap tail + lz4-compressed table chunks
    assert written[5000] <= 1.1 * written[1000] + 100_000, written  # does not grow with the dataset

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
        changes = ds.diff(ds.commits[1]["commit"], as_dict=True)
    finally:
        diff_module.payload_digests = real
    assert list(changes) == ["images"] and changes["images"]["updated_indices"] == [10, 2000, 4000]
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
    d = ds.diff(as_dict=True)  # uncommitted changes against the head
    assert d["x"]["added_indices"] == [5] and d["x"]["added"] == [_ids(ds)[5]]
    assert d["x"]["updated_indices"] == [1] and d["x"]["updated"] == [ids[2]]
    assert d["x"]["deleted_indices"] == [0] and d["x"]["deleted_samples"] == [ids[0]]
    assert d["caption"]["updated"] == [ids[4]] and d["caption"]["updated_indices"] == [3]
    assert d["labels"]["updated"] == [] and d["labels"]["deleted_samples"] == [ids[0]]
    assert not d["x"]["created"] and not d["x"]["deleted"] and d["x"]["renamed_from"] is None
    c2 = ds.commit("edits")
    ds.tag("edited")
    for a, b in [(c1, c2), (c1, "edit"), ("main", "edited"), (c1, "edited")]:
        assert ds.diff(a, b, as_dict=True) == d
    assert ds.diff(c1, as_dict=True) == d  # one id: from there to the current state
    assert ds.diff(as_dict=True) == {}
    back = ds.diff(c2, c1, as_dict=True)
    assert back["x"]["added"] == [ids[0]] and back["x"]["deleted_samples"] == [_ids(ds)[5]]
    ds.diff(c1, "edit")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"Diff {c1} -> edit"
    assert "  x: 1 added, 1 updated, 1 deleted" in out and "  caption: 1 added, 1 updated, 1 deleted" in out
    ds.diff()
    assert "no changes" in capsys.readouterr().out
    # an update that writes the same value back is no change
    ds.x[0] = ds.x[0].numpy().item()
    assert ds.diff(as_dict=True) == {}


def test_diff_tensors_created_deleted_and_renamed(ds_path, capsys):
    ds = _filled(ds_path)
    c1 = ds.commit("base")
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.boxes.extend([np.zeros((1, 4), np.float32)] * 6)
    ds.delete_tensor("caption")
    ds.rename_tensor("labels", "meta/label")
    d = ds.diff(c1, as_dict=True)
    assert set(d) == {"boxes", "caption", "meta/label"}
    assert d["boxes"]["created"] and len(d["boxes"]["added"]) == 6
    assert d["caption"]["deleted"] and len(d["caption"]["deleted_samples"]) == 6
    assert d["meta/label"]["renamed_from"] == "labels" and d["meta/label"]["added"] == []
    ds.diff(c1)
    out = capsys.readouterr().out
    assert "meta/label: renamed from 'labels', 0 added, 0 updated, 0 deleted" in out
    assert "caption: deleted" in out and "boxes: created, 6 added" in out
    ds["meta/label"][0] = "dog"
    ds.commit("renamed and relabelled")
    d = ds.diff(c1, "main", as_dict=True)
    assert d["meta/label"]["renamed_from"] == "labels" and d["meta/label"]["updated_indices"] == [0]
    back = ds.diff("main", c1, as_dict=True)
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
    with pytest.raises(errors.VersionError, match="already merged"):
        ds.merge("other")
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


@pytest.mark.parametrize("resolution", ["ours", "theirs"])
def test_update_against_delete_keeps_rows_whole(forked, resolution):
    ds, base = forked
    ids = _ids(ds)
    # they update row 1's x, we delete row 1; they delete row 4, we update row 4's caption
    _on(ds, "other", lambda d: (d.x.__setitem__(1, 11), d.pop(4)))
    _on(ds, "main", lambda d: (d.caption.__setitem__(4, "ours"), d.pop(1)))
    with pytest.raises(errors.MergeConflictError) as info:
        ds.merge("other")
    assert sorted(info.value.conflicts["x"]) == sorted([ids[1]]) and info.value.conflicts["caption"] == [ids[4]]
    ds.merge("other", conflict_resolution=resolution)
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
    ds.merge("other")
    assert list(ds.tensors) == ["x", "labels", "score", "extra/tags"]
    assert ds.x.numpy().ravel().tolist() == [1, 9, 3, 4, 5]
    np.testing.assert_allclose(ds.score.numpy().ravel(), np.linspace(0, 1, 5))
    assert _ids(ds) == ids[1:] and len(ds["extra/tags"]) == 0
    # they deleted a tensor we changed: a conflict
    _on(ds, "other", lambda d: d.delete_tensor("labels"))
    _on(ds, "main", lambda d: d.labels.__setitem__(0, "cat"))
    with pytest.raises(errors.MergeConflictError) as info:
        ds.merge("other")
    assert info.value.conflicts == {"labels": [ids[1]]}
    ds.merge("other", conflict_resolution="theirs")
    assert "labels" not in ds.tensors
    # a tensor deleted on one side and changed on the other is a conflict
    _on(ds, "other", lambda d: d.delete_tensor("score"))
    _on(ds, "main", lambda d: d.score.__setitem__(0, 5.0))
    with pytest.raises(errors.MergeConflictError) as info:
        ds.merge("other")
    assert list(info.value.conflicts) == ["score"]
    ds.merge("other", conflict_resolution="ours")
    assert "score" in ds.tensors


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
    d = ds.diff("other", "main", as_dict=True)["labels"]
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
    # renamed differently on both sides: a conflict; "theirs" takes their name
    ds.checkout("other")
    ds.merge("main")
    ds.checkout("main")
    _on(ds, "other", lambda d: d.rename_tensor("value", "v_theirs"))
    _on(ds, "main", lambda d: d.rename_tensor("value", "v_ours"))
    with pytest.raises(errors.MergeConflictError, match="v_ours"):
        ds.merge("other")
    ds.merge("other", conflict_resolution="theirs")
    assert "v_theirs" in ds.tensors and "v_ours" not in ds.tensors and len(ds.v_theirs) == 7


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
    assert ds.diff(root, later, as_dict=True)["x"]["created"]
    old = dl.load(tmp_path / "rooted", version=root)
    assert len(old) == 0 and old.tensors == {} and old.read_only
