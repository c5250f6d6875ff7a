"""``ds.rename`` / ``dl.rename`` (Deep Lake v3): a dataset moves to a new name in its folder or
bucket with its whole history, the open object follows it, and every refusal leaves it as it was."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.storage import ByteStore
from deeplake_nb.util.exceptions import PathNotEmptyException, RenameError


def _fill(ds: dl.Dataset) -> dict[str, str]:
    """Two commits on main, one on branch "dev", a saved view; the commit ids."""
    ds.create_tensor("x")
    ds.create_tensor("label", htype="class_label", class_names=["a", "b"])
    ds.x.extend(np.arange(6).reshape(3, 2))
    ds.label.extend([0, 1, 0])
    first = ds.commit("first")
    ds.checkout("dev", create=True)
    ds.x.append([10, 11])
    ds.label.append(1)
    dev = ds.commit("on dev")
    ds.checkout("main")
    ds.x[0] = [7, 7]
    second = ds.commit("second")
    ds.filter("label == 1").save_view(id="ones")
    return {"first": first, "dev": dev, "second": second}


def _check(ds: dl.Dataset, commits: dict[str, str]) -> None:
    assert ds.branch == "main"
    np.testing.assert_array_equal(ds.x.numpy(), [[7, 7], [2, 3], [4, 5]])
    ids = [c["commit"] for c in ds.commits]
    assert ids.index(commits["second"]) < ids.index(commits["first"])
    assert sorted(ds.branches) == ["dev", "main"]
    ds.checkout("dev")
    np.testing.assert_array_equal(ds.x.numpy()[-1], [10, 11])
    ds.checkout("main")
    assert ds.load_view("ones").label.numpy().ravel().tolist() == [1]


def test_a_local_dataset_moves_with_its_history_and_the_open_object_follows(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    ds = dl.empty(old)
    commits = _fill(ds)
    ds.append({"x": [8, 9], "label": 1})  # not committed: moves as the branch's uncommitted state
    view = ds[1:]
    ds.rename(new)
    assert ds.path == str(new) and not old.exists() and not dl.exists(old)
    assert view.x.numpy().tolist() == [[2, 3], [4, 5], [8, 9]]
    ds.append({"x": [1, 1], "label": 0})  # writes go to the new place
    ds.commit("after the rename")
    again = dl.load(new)
    np.testing.assert_array_equal(again.x.numpy()[-2:], [[8, 9], [1, 1]])
    assert again.commits[0]["message"] == "after the rename"
    ds.pop()
    ds.pop()
    ds.commit("undo")
    _check(dl.load(new), commits)


def test_dl_rename_returns_the_dataset_at_its_new_path(tmp_path):
    commits = _fill(dl.empty(tmp_path / "a"))
    ds = dl.rename(tmp_path / "a", tmp_path / "b")
    assert ds.path == str(tmp_path / "b")
    _check(ds, commits)


def test_a_rename_that_is_refused_moves_nothing(tmp_path):
    ds = dl.empty(tmp_path / "ds")
    commits = _fill(ds)
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    with pytest.raises(RenameError, match="within its folder"):  # v3's name for it
        ds.rename(elsewhere / "ds")
    with pytest.raises(errors.DatasetRenameError):
        ds.rename("mem://ds")
    with pytest.raises(PathNotEmptyException):  # v3: renaming to its own path
        ds.rename(ds.path)
    dl.empty(tmp_path / "taken")
    (tmp_path / "not-a-dataset").mkdir()
    (tmp_path / "not-a-dataset" / "notes.txt").write_text("keep me")
    for taken in ("taken", "not-a-dataset"):
        with pytest.raises(errors.DatasetExistsError, match="something is there already"):
            ds.rename(tmp_path / taken)
    assert (tmp_path / "not-a-dataset" / "notes.txt").read_text() == "keep me"
    with pytest.raises(errors.ViewOperationError):
        ds[1:].rename(tmp_path / "view")
    with pytest.raises(errors.ReadOnlyError):
        dl.load(tmp_path / "ds", read_only=True).rename(tmp_path / "ro")
    with pytest.raises(errors.DatasetNotFoundError):
        dl.rename(tmp_path / "nothing", tmp_path / "something")
    assert sorted(os.listdir(tmp_path)) == ["ds", "not-a-dataset", "sub", "taken"]
    assert ds.path == str(tmp_path / "ds")
    _check(dl.load(tmp_path / "ds"), commits)


def test_an_in_memory_dataset_changes_its_name():
    name = f"mem://rename-{uuid.uuid4().hex[:8]}"
    ds = dl.empty(name)
    commits = _fill(ds)
    ds.rename(name + "-new")
    assert ds.path == name + "-new" and not dl.exists(name)
    _check(dl.load(name + "-new"), commits)


def test_a_dataset_on_an_object_store_is_copied_then_removed(weed_s3):
    base = f"s3://bucket/rename-{uuid.uuid4().hex[:8]}"
    ds = dl.empty(base + "/a", storage_options=weed_s3.options)
    commits = _fill(ds)
    moved = dl.rename(base + "/a", base + "/b", storage_options=weed_s3.options)
    assert moved.path == base + "/b"
    assert not dl.exists(base + "/a", storage_options=weed_s3.options)
    prefix = base.split("/", 3)[3]
    left = weed_s3.client.list_objects_v2(Bucket="bucket", Prefix=prefix + "/a/").get("Contents", [])
    assert left == []
    _check(moved, commits)
    _check(dl.load(base + "/b", storage_options=weed_s3.options), commits)
    with pytest.raises(RenameError):
        moved.rename("s3://another-bucket/b")


def test_a_copy_that_fails_part_way_leaves_the_dataset_where_it_was(weed_s3, monkeypatch):
    base = f"s3://bucket/rename-{uuid.uuid4().hex[:8]}"
    ds = dl.empty(base + "/a", storage_options=weed_s3.options)
    commits = _fill(ds)
    real_set, calls = ByteStore.set, []

    def failing_set(self, key, data, **kwargs):
        calls.append(key)
        if len(calls) == 5:
            raise errors.StorageError("the store went away")
        return real_set(self, key, data, **kwargs)
    monkeypatch.setattr(ByteStore, "set", failing_set)
    with pytest.raises(errors.StorageError, match="went away"):
        ds.rename(base + "/b")
    monkeypatch.undo()
    assert ds.path == base + "/a"
    prefix = base.split("/", 3)[3]
    assert weed_s3.client.list_objects_v2(Bucket="bucket", Prefix=prefix + "/b/").get("Contents", []) == []
    _check(dl.load(base + "/a", storage_options=weed_s3.options), commits)
