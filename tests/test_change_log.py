"""Change logs in commit documents, and diff / merge through them (core.change_log).

Each scenario runs twice: with the logs, and with the logs ignored (the comparison of versions
that datasets written before logs take); both must give the same diff entries and the same
merged dataset.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.core import change_log, merge as merge_module


def _doc(ds, commit_id):
    return ds._repo.commit_doc(commit_id)


def _base(path, n=20):
    ds = dl.empty(str(path))
    with ds:
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("x", htype="generic", dtype="int32")
        ds.create_tensor("text", htype="text")
        ds.create_tensor("still", htype="generic", dtype="int64")
        ds.extend({"labels": [i % 2 for i in range(n)], "x": np.arange(n, dtype=np.int32).reshape(n, 1),
                   "text": [f"t{i}" for i in range(n)], "still": np.arange(n, dtype=np.int64)})
    ds.commit("base")
    return ds


def _snapshot(ds):
    """Values per tensor, and per tensor which rows hold the same sample as row i of 'x'
    (ids are random per dataset, so they are compared by where they are, not by value)."""
    anchor = {int(i): r for r, i in enumerate(ds.x.sample_ids.tolist())}
    return {k: ([np.asarray(v).tolist() for v in ds[k].numpy(aslist=True)],
                [anchor.get(int(i), -1) for i in ds[k].sample_ids.tolist()]) for k in sorted(ds.tensors)}


def _scenario(path):
    """main and 'other' diverge over several commits each; returns the dataset on main."""
    ds = _base(path)
    ds.checkout("other", create=True)
    ds.x[3] = np.array([-3], np.int32)
    ds.text[5] = "five"
    ds.commit("updates")
    ds.x.extend(np.array([[100], [101]], np.int32))
    ds.labels.extend([1, 0])
    ds.text.extend(["n1", "n2"])
    ds.still.extend(np.array([7, 8]))
    ds.commit("appends")
    ds.rename_tensor("text", "caption")
    ds.x[4] = np.array([-4], np.int32)
    ds.commit("rename")
    ds.checkout("main")
    ds.x[10] = np.array([-10], np.int32)
    ds.x.pop(1)
    ds.commit("main side")
    ds.labels[2] = 0
    return ds


def test_commit_records_ids_added_updated_deleted(tmp_path):
    ds = _base(tmp_path / "d")
    ids = ds.x.sample_ids
    ds.x[3] = np.array([-1], np.int32)
    ds.x.append(np.array([5], np.int32))
    ds.labels.pop(0)
    ds.create_tensor("fresh", htype="generic", dtype="int8")
    ds.fresh.extend(np.zeros((21, 1), np.int8))  # lengths line up again
    cid = ds.commit("c")
    log = _doc(ds, cid).changes
    assert change_log.has_log(log)
    x = log["tensors"]["x"]
    assert x["updated"]["ids"] == [int(ids[3])] and x["updated"]["rows"] == [3]
    assert x["added"]["n"] == 1 and x["added"]["rows"] == [20] and x["removed"]["n"] == 0
    assert log["tensors"]["labels"]["removed"]["rows"] == [0]
    assert log["tensors"]["fresh"]["created"] and log["tensors"]["fresh"]["added"]["n"] == 21
    assert "still" not in log["tensors"] and "text" not in log["tensors"]  # unchanged: not logged


def test_log_records_renames_deletions_clears_and_info(tmp_path):
    ds = _base(tmp_path / "d")
    ds.rename_tensor("x", "y")
    ds.delete_tensor("still")
    ds.text.clear()
    ds.labels.info["note"] = 1
    ds.info["about"] = "v2"
    log = _doc(ds, ds.commit("c")).changes
    assert log["renamed"] == [["x", "y"]] and log["deleted"] == ["still"] and log["info"] is True
    assert log["tensors"]["y"]["from"] == "x" and log["tensors"]["text"]["cleared"]
    assert log["tensors"]["labels"]["info"] and log["tensors"]["labels"]["added"]["n"] == 0


def test_diff_from_logs_matches_diff_from_versions(tmp_path, monkeypatch):
    ds = _scenario(tmp_path / "d")
    with_logs = ds.diff("other", as_dict=True), ds.diff(as_dict=True)
    monkeypatch.setattr(change_log, "has_log", lambda changes: False)
    assert (ds.diff("other", as_dict=True), ds.diff(as_dict=True)) == with_logs


def test_diff_of_a_logged_commit_reads_no_samples(tmp_path, monkeypatch):
    ds = _scenario(tmp_path / "d")
    ds.commit("the rest")  # uncommitted changes have no log: they are compared
    expected = ds.diff("other", as_dict=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a logged commit's diff read samples")
    monkeypatch.setattr("deeplake_nb.core.diff.tensor_diff", refuse)
    assert ds.diff("other", as_dict=True) == expected


@pytest.mark.parametrize("kwargs", [{"conflict_resolution": "theirs"}, {"conflict_resolution": "ours"},
                                    {"conflict_resolution": "theirs", "delete_removed_samples": True}])
def test_merge_through_logs_matches_merge_without_them(tmp_path, monkeypatch, kwargs):
    merged = []
    for name, use_logs in (("logs", True), ("plain", False)):
        if not use_logs:
            monkeypatch.setattr(change_log, "has_log", lambda changes: False)
        ds = _scenario(tmp_path / name)
        ds.merge("other", **kwargs)
        merged.append(_snapshot(ds))
    assert merged[0] == merged[1]
    assert merged[0]["caption"][0][5] == ["five"] and merged[0]["x"][0][-2:] == [[100], [101]]


def test_merge_skips_tensors_their_side_left_alone(tmp_path, monkeypatch):
    ds = _base(tmp_path / "d")
    ds.checkout("b", create=True)
    ds.x[3] = np.array([-3], np.int32)
    ds.commit("one")
    ds.checkout("main")
    ds.still[0] = 99
    ds.commit("ours")
    planned = []
    original = merge_module._plan_tensor
    monkeypatch.setattr(merge_module, "_plan_tensor", lambda o, t, *a, **k: planned.append(o.key) or original(o, t, *a, **k))
    ds.merge("b")
    assert planned == ["x"]
    assert ds.x[3].numpy().tolist() == [-3] and ds.still[0].numpy() == 99


def test_merge_conflicts_seen_through_logs(tmp_path):
    ds = _base(tmp_path / "d")
    ds.checkout("b", create=True)
    ds.x[3] = np.array([1], np.int32)
    ds.commit("theirs")
    ds.checkout("main")
    ds.x[3] = np.array([2], np.int32)
    ds.commit("ours")
    with pytest.raises(dl.errors.MergeConflictError):
        ds.merge("b")
    assert ds.x[3].numpy().tolist() == [2]
    ds.merge("b", conflict_resolution="theirs")
    assert ds.x[3].numpy().tolist() == [1]


def test_updated_then_deleted_and_deleted_then_revived_compose(tmp_path):
    ds = _base(tmp_path / "d")
    ids = ds.x.sample_ids
    ds.checkout("b", create=True)
    ds.x.append(np.array([50], np.int32))
    ds.x[2] = np.array([-2], np.int32)
    ds.commit("c1")
    ds.x.pop(20)  # the appended one
    ds.x.pop(2)   # the updated one
    ds.commit("c2")
    net = change_log.path_changes(ds._repo, ds._repo.resolve("main"), ds.commit_id)
    d = net.tensors["x"]
    assert d.added.tolist() == [] and d.updated.tolist() == [] and d.removed.tolist() == [int(ids[2])]


def test_big_changes_keep_counts_and_fall_back(tmp_path, monkeypatch):
    monkeypatch.setattr(change_log, "INLINE_IDS", 3)
    ds = _base(tmp_path / "d")
    ds.checkout("b", create=True)
    ds.x.extend(np.arange(5, dtype=np.int32).reshape(5, 1))
    cid = ds.commit("big")
    added = _doc(ds, cid).changes["tensors"]["x"]["added"]
    assert added == {"n": 5, "runs": [[20, 25]]}
    assert change_log.path_changes(ds._repo, ds._repo.resolve("main"), cid) is None
    ds.checkout("main")
    ds.merge("b")
    assert len(ds.x) == 25 and ds.x[24].numpy().tolist() == [4]
    ds.checkout(ds.commit_id)  # the merge commit's own changes, read from its log (rows as runs)
    assert ds.diff(as_dict=True)["tensor"][0]["x"]["data_added"] == [20, 25]


def test_commits_without_logs_still_merge(tmp_path, monkeypatch):
    monkeypatch.setattr(change_log, "record", lambda old, new: {})  # as before logs existed
    ds = _base(tmp_path / "d")
    ds.checkout("b", create=True)
    ds.x[1] = np.array([-1], np.int32)
    ds.commit("no log")
    ds.checkout("main")
    monkeypatch.undo()
    ds.x[2] = np.array([-2], np.int32)
    ds.commit("logged")
    assert change_log.path_changes(ds._repo, ds._repo.common_ancestor("main", "b"), ds._repo.resolve("b")) is None
    ds.merge("b")
    assert ds.x.numpy()[:3].ravel().tolist() == [0, -1, -2]


def test_patched_chunks_narrow_a_diff_to_the_patched_rows(tmp_path):
    """A small update is a patch; diff (and so the commit's change log) compares only the rows its
    patch covers, not every row of the chunk (131,072 rows of an int64 tensor)."""
    import numpy as np

    from deeplake_nb.core import diff

    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("labels", dtype="int64")
    ds.create_tensor("t", htype="text")
    ds.extend({"labels": np.arange(300_000), "t": ["x"] * 300_000})
    base = ds.commit("base")
    ds.labels[[5, 140_000, 299_999]] = [-1, -2, -3]
    ds.t[7] = "changed"
    head = ds.commit("three labels, one text")
    old, new = dl.load(path, version=base), dl.load(path, version=head)
    p, rows = diff._unsettled_rows(old.labels, new.labels)
    assert p == 300_000 and rows.tolist() == [5, 140_000, 299_999]
    p, rows = diff._unsettled_rows(old.t, new.t)
    assert rows.tolist() == [7]


def _sample_scenario(path, kind):
    """main and 'side' change samples only (no tensor created, deleted or renamed)."""
    ds = _base(path)
    ds.checkout("side", create=True)
    ds.x[3] = np.array([-3], np.int32)
    ds.text[5] = "five"
    ds.labels[7] = 0
    if kind in ("appends", "deletions", "clear"):
        ds.x.extend(np.array([[100], [101]], np.int32))
        ds.text.extend(["n1", "n2"])
        ds.labels.extend([1, 0])
        ds.still.extend(np.array([7, 8]))
    if kind == "deletions":
        for t in ("x", "text", "labels", "still"):
            ds[t].pop(12)
            ds[t].pop(2)
    if kind == "clear":
        ds.still.clear()
    if kind == "new class":
        ds.labels.info.class_names = ["a", "b", "c"]
        ds.labels[9] = 2
    ds.commit("side")
    ds.checkout("main")
    ds.x[10] = np.array([-10], np.int32)
    ds.text[5] = "FIVE"  # a conflict with the side's update
    if kind in ("revive", "deletions"):
        for t in ("x", "text", "labels", "still"):
            ds[t].pop(3)  # the side updated x[3]: the row comes back
    if kind == "agree":
        ds.labels[7] = 0
    ds.commit("main")
    return ds


@pytest.mark.parametrize("kind", ["updates", "appends", "revive", "deletions", "clear", "new class", "agree"])
@pytest.mark.parametrize("kwargs", [{"conflict_resolution": "theirs"}, {"conflict_resolution": "ours"},
                                    {"conflict_resolution": "theirs", "delete_removed_samples": True}])
def test_merge_commit_log_from_what_merge_wrote_matches_comparing_versions(tmp_path, kind, kwargs):
    """A merge that changes samples only logs what it wrote without reading the versions
    again; the log must be the one comparing the merge commit with its first parent gives."""
    ds = _sample_scenario(tmp_path / "d", kind)
    parent = ds.commit_id
    cid = ds.merge("side", **kwargs)
    logged = _doc(ds, cid).changes
    compared = change_log.record(ds._open_version(parent), ds._open_version(cid))
    assert logged == compared
    assert ds.diff(parent, cid, as_dict=True) == _diff_without_logs(ds, parent, cid)


def _diff_without_logs(ds, a, b):
    real = change_log.has_log
    change_log.has_log = lambda changes: False
    try:
        return ds.diff(a, b, as_dict=True)
    finally:
        change_log.has_log = real


def test_merge_with_uncommitted_changes_logs_them_too(tmp_path):
    ds = _sample_scenario(tmp_path / "d", "appends")
    parent = ds.commit_id
    ds.still[0] = 42  # uncommitted: lands in the merge commit
    cid = ds.merge("side", conflict_resolution="theirs")
    logged = _doc(ds, cid).changes
    assert logged == change_log.record(ds._open_version(parent), ds._open_version(cid))
    assert logged["tensors"]["still"]["updated"]["rows"] == [0]


def test_merge_commit_log_is_written_without_comparing_versions(tmp_path, monkeypatch):
    ds = _sample_scenario(tmp_path / "d", "appends")
    monkeypatch.setattr(change_log, "dataset_diff", lambda *a, **k: pytest.fail("the merge compared versions"))
    cid = ds.merge("side", conflict_resolution="theirs")
    assert _doc(ds, cid).changes["tensors"]["x"]["updated"]["n"] == 1


def test_a_second_diff_of_logged_commits_opens_no_version(tmp_path, monkeypatch):
    ds = _base(tmp_path / "d")
    first = ds.commit_id
    ds.x[1] = np.array([-1], np.int32)
    second = ds.commit("one")
    ds.x[2] = np.array([-2], np.int32)
    third = ds.commit("two")  # no metadata changed: all three commits share one metadata document
    expected = ds.diff(first, second, as_dict=True)
    monkeypatch.setattr(type(ds), "_open_version", lambda self, ref: pytest.fail(f"opened {ref}"))
    assert ds.diff(first, second, as_dict=True) == expected
    later = ds.diff(second, third, as_dict=True)
    assert later["tensor"][1][0]["x"]["data_updated"] == {2}
    assert sorted(k for k in later["tensor"][1][0] if k != "commit_id") == ["labels", "still", "text", "x"]


def test_a_diff_after_a_commit_or_merge_here_opens_no_version(tmp_path, monkeypatch):
    from deeplake_nb.core import versioning

    ds = _base(tmp_path / "d")
    first = ds.commit_id
    ds.create_tensor("fresh", dtype="int64")  # new metadata: a document no diff has listed yet
    ds.fresh.extend(np.arange(len(ds)))
    ds.create_tensor("secret", dtype="int64", hidden=True)
    second = ds.commit("fresh tensors")
    ds.checkout("side", create=True)
    ds.x[0] = np.array([7], np.int32)
    ds.checkout("main")
    merged = ds.merge("side")
    lru = type(versioning._VISIBLE)
    monkeypatch.setattr(versioning, "_VISIBLE", lru(1 << 20, lambda names: 1 + len(names)))  # as in a new process
    expected = ds.diff(first, second, as_dict=True), ds.diff(second, merged, as_dict=True)
    ds = dl.load(str(tmp_path / "d"))
    ds.x[1] = np.array([-1], np.int32)
    third = ds.commit("one")  # ... where this commit is the first thing done
    opened = []
    real = type(ds)._open_version
    monkeypatch.setattr(type(ds), "_open_version", lambda self, ref: opened.append(ref) or real(self, ref))
    listed = ds.diff(merged, third, as_dict=True)["tensor"][1][0]
    assert opened == [] and sorted(k for k in listed if k != "commit_id") == [
        "fresh", "labels", "still", "text", "x"] and listed["x"]["data_updated"] == {1}
    assert (ds.diff(first, second, as_dict=True), ds.diff(second, merged, as_dict=True)) == expected
