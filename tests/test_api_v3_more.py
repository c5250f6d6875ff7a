"""Deep Lake v3 behaviours: names and groups, row writes that skip bad rows, the loop hint,
htype inference from tensor values, linked samples and their credentials."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import constants, errors


@pytest.fixture
def ds(tmp_path):
    return dl.empty(str(tmp_path / "ds"))


# -- names and groups -------------------------------------------------------------------------------
def test_empty_name_parts_do_not_count(ds):
    ds.create_tensor("/t")
    ds.create_tensor("/y/z//a/b////d/e/").append(np.ones((4, 3)))
    assert set(ds.tensors) == {"t", "y/z/a/b/d/e"}
    assert ds["/t"].key == "t" and ds["y//z/"].group_index == "y/z"
    np.testing.assert_array_equal(ds.y.z.a.b.d.e[0].numpy(), np.ones((4, 3)))
    with pytest.raises(errors.TensorNotFoundError):
        ds["/ttt"]
    for empty in ("", "/", "//"):
        with pytest.raises(errors.InvalidNameError, match="non-empty"):
            ds.create_tensor(empty)


def test_a_tensor_is_not_a_group(ds):
    ds.create_tensor("x")
    with pytest.raises(errors.TensorExistsError, match="'x' is a tensor"):
        ds.create_tensor("x/y")
    ds.create_tensor("y/x")
    with pytest.raises(errors.TensorExistsError):
        ds.create_tensor("y")
    assert set(ds.tensors) == {"x", "y/x"}


def test_group_index_and_parent(ds):
    ds.create_tensor("a/b/c")
    ds.create_tensor("a/d")
    assert ds.group_index == "" and ds.a.group_index == "a" and ds.a.b.group_index == "a/b"
    assert ds.a.b.parent.group_index == "a" and ds.a.parent.group_index == ""
    view = ds["a"][["b/c", "d"]]
    assert view.group_index == "a" and list(view.tensors) == ["b/c", "d"]
    assert list(ds[1:3].a.b.parent.tensors) == ["b/c", "d"]


def test_groups_have_no_info(ds):
    ds.create_tensor("g/t")
    ds.info["k"] = 1
    with pytest.raises(errors.GroupInfoError):
        ds.g.info["a"] = 1
    with pytest.raises(errors.TensorError):
        ds.g.info
    assert dict(ds.info) == {"k": 1} and dict(ds.g.t.info) == {}


# -- extending: skipping bad rows, hints, progress ---------------------------------------------------
def test_dataset_extend_ignore_errors_leaves_out_whole_rows(ds):
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": [1, 2, "bad", 4], "t": ["a", "b", "c", 5]}, ignore_errors=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2]
    assert ds.t.data()["value"] == ["a", "b"]
    np.testing.assert_array_equal(ds.x.sample_ids, ds.t.sample_ids)  # the rows stay whole
    ds.extend({"x": ["bad"], "t": ["z"]}, ignore_errors=True)  # every row refused: nothing written
    assert len(ds) == 2
    ds.commit("after skipped rows")


def test_extend_errors_say_how_to_skip_bad_samples(ds):
    ds.create_tensor("abc")
    with pytest.raises(errors.SampleError, match="ignore_errors=True"):
        ds.extend({"abc": [1, 2, 3, 4, "abcd", 5]})
    with pytest.raises(errors.SampleError, match="ignore_errors=True"):
        ds.abc.extend([1, "abcd"])
    ds.create_tensor("n", dtype="int64")
    with pytest.raises(errors.SampleError) as single:
        ds.n.append("abcd")
    assert "ignore_errors" not in str(single.value)  # one sample: nothing to skip
    assert len(ds.abc) == len(ds.n) == 0


def test_extend_with_progressbar(ds, capsys):
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3, 4], progressbar=True)
    ds.extend({"x": [5, 6]}, progressbar=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2, 3, 4, 5, 6]
    assert "extending" in capsys.readouterr().err


def test_htype_inferred_from_a_tensor_value(ds):
    ds.create_tensor("e")
    ds.create_tensor("f")
    ds.e.append(["a", 1, {"x": "y"}, "b"])
    ds.f.append(ds.e[0])
    assert ds.e.htype == ds.f.htype == "json"
    assert ds.f[0].data()["value"] == ["a", 1, {"x": "y"}, "b"]


# -- the loop hint ----------------------------------------------------------------------------------
def test_indexing_in_a_loop_warns_once_a_run_is_seen(ds):
    ds.create_tensor("abc")
    ds.abc.extend(list(range(30)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(10):
            ds[i], ds.abc[i]
        for row in ds:  # iterating is what the hint recommends: never warns
            pass
        ds[3], ds[3], ds[0], ds.abc[5]  # no fixed step
    for i in range(10):
        ds[i]
    with pytest.warns(UserWarning, match="iterate"):
        ds[10]
    for i in range(0, 20, 2):
        ds.abc[i]
    with pytest.warns(UserWarning, match="ds.abc"):
        ds.abc[20]


def test_loop_hint_can_be_silenced(ds, monkeypatch):
    monkeypatch.setattr(constants, "SHOW_ITERATION_WARNING", False)
    ds.create_tensor("abc")
    ds.abc.extend(list(range(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(20):
            ds[i], ds.abc[i]


# -- copy and delete as dataset methods -----------------------------------------------------------
def test_dataset_copy_method(ds, tmp_path, capsys):
    ds.create_tensor("abc", htype="class_label", class_names=["a", "b"])
    ds.abc.extend([0, 1, 1, 0])
    copy = ds[1:3].copy(str(tmp_path / "copy"), overwrite=True, progressbar=False, num_workers=2)
    assert capsys.readouterr().out == ""
    assert copy.abc.numpy().ravel().tolist() == [1, 1] and copy.abc.info.class_names == ["a", "b"]
    assert dl.load(str(tmp_path / "copy")).abc.data()["text"] == [["b"], ["b"]]


def test_dataset_delete_method(ds, tmp_path, monkeypatch):
    ds.create_tensor("x")
    ds.x.extend(np.zeros((100, 200)))
    ds.commit("one")
    with pytest.raises(errors.ViewOperationError):
        ds[1:3].delete()
    with pytest.raises(errors.ReadOnlyError):
        dl.load(ds.path, read_only=True).delete()
    monkeypatch.setattr(constants, "DELETE_SAFETY_SIZE", 1000)
    with pytest.raises(errors.DatasetTooLargeError):
        ds.delete()
    assert dl.exists(ds.path)
    ds.delete(large_ok=True)
    assert not dl.exists(ds.path) and not (tmp_path / "ds").exists()
    monkeypatch.undo()
    mem = dl.empty("mem://to-delete")
    mem.create_tensor("x")
    mem.delete()
    assert not dl.exists("mem://to-delete")
