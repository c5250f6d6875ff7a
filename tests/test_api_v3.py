"""Deep Lake v3 Dataset-level API: regression tests for data-loss bugs and the v3 calls users rely on."""

from __future__ import annotations

import os

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import SampleIndexError, StorageError


def test_reset_on_never_committed_dataset_leaves_an_empty_valid_dataset(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x")
    ds.x.extend(np.arange(10))
    ds.reset()
    assert dl.exists(path)
    assert len(ds) == 0 and list(ds.tensors) == []
    reopened = dl.load(path)
    assert list(reopened.tensors) == []
    # still a working dataset: write, commit, read back
    ds.create_tensor("y")
    ds.y.extend([1, 2, 3])
    ds.commit("after reset")
    assert dl.load(path).y.numpy().ravel().tolist() == [1, 2, 3]
    with pytest.raises(dl.errors.DatasetExistsError):
        dl.empty(path)


def test_reset_after_commit_keeps_the_commit(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    ds.commit("two")
    ds.x.extend([3])
    ds.reset()
    assert ds.x.numpy().ravel().tolist() == [1, 2]


def test_dataset_pop_removes_every_listed_row(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": np.arange(10), "t": [str(i) for i in range(10)]})
    ds.pop([0, 2, 4, 6, 8])
    assert ds.x.numpy().ravel().tolist() == [1, 3, 5, 7, 9]
    assert ds.t.data()["value"] == ["1", "3", "5", "7", "9"]
    ds.pop()
    assert len(ds) == 4
    ds.pop(3)
    assert ds.x.numpy().ravel().tolist() == [1, 3, 5]
    with pytest.raises(SampleIndexError):
        ds.pop([0, 7])
    assert len(ds) == 3  # a bad index changes nothing


def test_bare_memory_scheme_is_a_fresh_in_memory_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = dl.empty("mem://")
    b = dl.empty("mem://")
    assert a.path.startswith("mem://") and a.path != b.path
    assert os.listdir(tmp_path) == []  # never a local directory named 'mem:'
    a.create_tensor("x")
    a.x.append(1)
    assert len(dl.load(a.path)) == 1
    with pytest.raises(StorageError):
        dl.load("mem://")
    with pytest.raises(StorageError):
        dl.empty("s3://")


def test_v3_exception_names_catch_what_we_raise(tmp_path):
    from deeplake_nb.constants import KB, MB
    from deeplake_nb.util import exceptions as v3

    assert (KB, MB) == (1024, 1024 * 1024)
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    with pytest.raises(v3.TensorAlreadyExistsError):
        ds.create_tensor("x")
    with pytest.raises(v3.TensorDoesNotExistError):
        ds["nope"]
    with pytest.raises(v3.TensorDoesNotExistError):
        ds.nope
    assert not hasattr(ds, "nope")
    with pytest.raises(v3.DatasetHandlerError):
        dl.load(str(tmp_path / "missing"))
    with pytest.raises(v3.DatasetHandlerError):
        dl.empty(str(tmp_path / "ds"))
    assert all(issubclass(getattr(v3, name), dl.errors.DeepLakeNBError) for name in v3.__all__)


def _labelled(path, n=10):
    ds = dl.empty(path)
    ds.create_tensor("x")
    ds.create_tensor("t", htype="text")
    ds.create_tensor("c", htype="class_label", class_names=["cat", "dog"])
    ds.extend({"x": np.arange(n) * 10, "t": [f"s{i}" for i in range(n)], "c": [i % 2 for i in range(n)]})
    return ds


def test_update_changes_all_tensors_of_a_row_or_none(tmp_path):
    ds = _labelled(str(tmp_path / "ds"))
    ids = ds.x.sample_ids.copy()
    ds[3].update({"x": 7, "t": "seven", "c": "dog"})
    assert ds.x[3].numpy().tolist() == [7] and ds.t[3].text() == "seven" and ds.c[3].data()["text"] == ["dog"]
    assert (ds.x.sample_ids == ids).all()
    with pytest.raises(dl.errors.SampleError):
        ds[4].update({"t": "changed", "x": [[1, 2], [3]]})  # a ragged nested list is no sample
    assert ds.t[4].text() == "s4"  # nothing changed: the bad value was caught first
    ds[0:2].update({"x": [100, 101], "t": ["a", "b"]})
    assert ds.x[0:2].numpy().ravel().tolist() == [100, 101] and ds.t[0:2].text() == ["a", "b"]
    with pytest.raises(dl.errors.TensorNotFoundError):
        ds[0].update({"nope": 1})


def test_random_split_partitions_rows(tmp_path):
    ds = _labelled(str(tmp_path / "ds"), n=10)
    np.random.seed(0)
    a, b, c = ds.random_split([0.5, 0.3, 0.2])
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    rows = sorted(a.x.numpy().ravel().tolist() + b.x.numpy().ravel().tolist() + c.x.numpy().ravel().tolist())
    assert rows == list(range(0, 100, 10))
    x, y = ds.random_split([7, 3])
    assert (len(x), len(y)) == (7, 3)
    with pytest.raises(dl.errors.SampleError):
        ds.random_split([4, 4])


def test_groups_delete_and_rename(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("g/a")
    ds.create_tensor("g/sub/b", htype="text")
    ds.create_tensor("top")
    ds.g.a.extend([1, 2])
    ds.g.sub.b.extend(["u", "v"])
    ds.rename_group("g", "h")
    assert "g" not in ds.groups and ds.h.a.numpy().ravel().tolist() == [1, 2]
    assert ds["h/sub/b"].text() == ["u", "v"]
    ds.commit("renamed")
    reopened = dl.load(ds.path)
    assert sorted(reopened.tensors) == ["h/a", "h/sub/b", "top"]
    ds.delete_group("h")
    assert list(ds.tensors) == ["top"] and not ds.groups
    with pytest.raises(dl.errors.TensorNotFoundError):
        ds.delete_group("h")


def test_copy_and_deepcopy(tmp_path):
    src = _labelled(str(tmp_path / "src"))
    src.commit("first")
    src.checkout("alt", create=True)
    src.x[0] = 5
    src.commit("on alt")
    src.checkout("main")
    view = src[2:6]
    shallow = dl.copy(view, str(tmp_path / "copy"), progressbar=False)
    assert shallow.x.numpy().ravel().tolist() == [20, 30, 40, 50]
    assert shallow.c.data()["text"] == [["cat"], ["dog"], ["cat"], ["dog"]]
    assert shallow.branches == ["main"] and len(shallow.commits) <= 1
    deep = dl.deepcopy(str(tmp_path / "src"), str(tmp_path / "deep"), progressbar=False)
    assert sorted(deep.branches) == ["alt", "main"]
    deep.checkout("alt")
    assert deep.x[0].numpy().tolist() == [5]
    with pytest.raises(dl.errors.DatasetExistsError):
        dl.copy(src, str(tmp_path / "deep"), progressbar=False)


def test_append_rows_and_samples_of_other_datasets(tmp_path):
    a = _labelled(str(tmp_path / "a"), n=3)
    b = dl.empty(str(tmp_path / "b"))
    b.create_tensor("x")
    b.create_tensor("t", htype="text")
    b.create_tensor("c", htype="class_label", class_names=["dog", "cat"])
    b.append(a[1])
    assert b.x.numpy().ravel().tolist() == [10] and b.t[0].text() == "s1" and b.c.data()["text"] == [["dog"]]
    b.x.append(a.x[2])
    assert b.x.numpy().ravel().tolist() == [10, 20]
    with pytest.raises(dl.errors.SampleError):
        b.append([1, 2, 3])


def test_delete_force(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "f.txt").write_text("x")
    with pytest.raises(dl.errors.DatasetNotFoundError):
        dl.delete(str(folder))
    assert folder.exists()
    dl.delete(str(folder), force=True)
    assert not folder.exists()


def test_min_view(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("a")
    ds.create_tensor("b")
    ds.a.extend([1, 2, 3])
    ds.b.extend([1, 2])
    assert len(ds.min_view) == 2 and ds.min_view.a.numpy().ravel().tolist() == [1, 2]


def test_create_tensor_takes_v3_arguments(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    t = ds.create_tensor("image", max_chunk_size=2 * 1024 * 1024, tiling_threshold=-1, create_shape_tensor=False,
                         create_id_tensor=False, create_sample_info_tensor=False, verbose=False)
    assert list(t.info) == []
    seq = ds.create_tensor("frames", htype="image", sample_compression="png", is_sequence=True)
    assert seq.htype == "sequence[image]"
    link = ds.create_tensor("files", htype="image", sample_compression="jpeg", is_link=True, verify=False)
    assert link.htype == "link[image]"


def test_dataset_item_assignment_by_tensor_name(tmp_path):
    ds = _labelled(str(tmp_path / "ds"), n=4)
    ds[1]["x"] = 11
    ds[2:4]["t"] = ["c", "d"]
    assert ds.x.numpy().ravel().tolist() == [0, 11, 20, 30] and ds.t.text() == ["s0", "s1", "c", "d"]
    with pytest.raises(dl.errors.SampleError):
        ds[0] = {"x": 1}


def test_image_codec_as_chunk_compression_is_applied_per_sample():
    ds = dl.empty("mem://")
    t = ds.create_tensor("x", dtype="uint8", chunk_compression="png")
    sample = np.arange(75, dtype=np.uint8).reshape(5, 5, 3)
    t.extend([sample, None])
    assert t.sample_compression == "png" and t.chunk_compression is None
    np.testing.assert_array_equal(t[0].numpy(), sample)
    assert t[1].numpy().size == 0
    with pytest.raises(dl.errors.UnsupportedCompressionError):
        ds.create_tensor("y", chunk_compression="mp3")


def test_info_popitem_is_last_in_first_out(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.info["a"] = 1
    ds.info["b"] = 2
    ds.info.setdefault("c", 3)
    assert ds.info.popitem() == ("c", 3)
    assert dict(dl.load(ds.path).info) == {"a": 1, "b": 2}


def test_info_can_be_replaced_whole(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.info = {"a": "b"}
    ds.x.info = {"x": "y", "z": "w"}
    reopened = dl.load(ds.path)
    assert dict(reopened.info) == {"a": "b"} and dict(reopened.x.info) == {"x": "y", "z": "w"}
    with pytest.raises(TypeError):
        ds.info = ["abc"]
    with pytest.raises(dl.errors.DeepLakeNBError):
        ds.x.info = ["abc"]
    assert dict(ds.x.info) == {"x": "y", "z": "w"}


@pytest.mark.parametrize("chunk_compression", [None, "lz4"])
def test_tag_htype(chunk_compression):
    ds = dl.empty("mem://")
    ds.create_tensor("abc", htype="tag", chunk_compression=chunk_compression)
    ds.abc.append("a")
    ds.abc.append(["a", "b"])
    ds.abc.extend(["a", ["b", "c"]])
    assert ds.abc.shapes().tolist() == [[1], [2], [1], [2]]
    assert ds.abc.data()["value"] == [["a"], ["a", "b"], ["a"], ["b", "c"]]
    with pytest.raises(dl.errors.DtypeMismatchError):
        ds.abc.append([1, 2])
    assert len(ds.abc) == 4


def test_dataset_append_infers_text_and_json_htypes():
    ds = dl.empty("mem://")
    ds.create_tensor("t")
    ds.create_tensor("j")
    ds.append({"t": "hello", "j": {"a": 1}})
    assert (ds.t.htype, ds.j.htype) == ("text", "json")
    assert ds.t[0].text() == "hello" and ds.j[0].dict() == {"a": 1}


def test_row_writes_skip_ok_append_empty_and_alignment():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.create_tensor("y", dtype="uint8")
    ds.append({"x": np.ones(2), "y": [1, 2, 3]})
    ds.create_tensor("z")
    with pytest.raises(KeyError):
        ds.append({"x": np.ones(2), "y": [4, 5, 6, 7]})
    ds.append({"x": np.ones(3), "y": [8, 9, 10]}, skip_ok=True)
    with pytest.raises(ValueError):  # x, y have 2 samples, z none: a row would not line up
        ds.append({"x": np.ones(2), "y": [4, 5], "z": np.ones(4)})
    assert (len(ds.x), len(ds.y), len(ds.z), len(ds)) == (2, 2, 0, 0)
    for _ in range(2):
        ds.append({"z": np.zeros(2)}, skip_ok=True)
    ds.append({"x": np.ones(3), "y": [1, 2, 3]}, append_empty=True)
    assert (len(ds.x), len(ds.y), len(ds.z), len(ds)) == (3, 3, 3, 3)
    assert ds.z[2].numpy().size == 0


def test_path_accepts_its_own_location_only(tmp_path):
    import pathlib
    ds = dl.empty(str(tmp_path / "ds"))
    ds.path = pathlib.Path(ds.path)
    mem = dl.empty("mem://somewhere/deep")
    mem.path = pathlib.Path(mem.path)  # pathlib turns mem:// into mem:/
    assert mem.path == "mem://somewhere/deep"
    with pytest.raises(dl.errors.DatasetError):
        ds.path = str(tmp_path / "elsewhere")


def test_copy_takes_group_names(tmp_path):
    ds = dl.empty("mem://")
    for name in ("images/image1", "images/image2", "label", "nocopy"):
        ds.create_tensor(name)
        ds[name].extend(np.arange(10))
    out = dl.copy(ds[2:8:2], str(tmp_path / "out"), tensors=["images", "label"], progressbar=False)
    assert sorted(out.tensors) == ["images/image1", "images/image2", "label"]
    assert out["images/image2"].numpy().ravel().tolist() == [2, 4, 6]
    with pytest.raises(dl.errors.TensorNotFoundError):
        dl.copy(ds, str(tmp_path / "out2"), tensors=["nope"], progressbar=False)
    assert not (tmp_path / "out2").exists()
