"""The Deep Lake v3-style API: opening datasets, tensors and groups, writing, reading, views,
batching, hidden sample ids, dynamic shapes and the recorded format version."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deeplake_nb as dl
from version_support import root_document
from deeplake_nb import errors
from deeplake_nb.format import tensor_store


def _filled(path: str, n: int = 10) -> dl.Dataset:
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("label", htype="class_label", class_names=["even", "odd"])
    ds.create_tensor("caption", htype="text")
    ds.extend({"x": np.arange(n, dtype=np.int32), "label": [i % 2 for i in range(n)],
               "caption": [f"sample {i}" for i in range(n)]})
    return ds


# -- opening, creating, deleting ------------------------------------------------------------------
def test_empty_load_exists_delete(ds_path):
    assert not dl.exists(ds_path)
    ds = dl.empty(ds_path)
    assert isinstance(ds, dl.Dataset) and len(ds) == 0 and ds.tensors == {}
    assert dl.exists(ds_path)
    ds.create_tensor("x")
    loaded = dl.load(ds_path)
    assert list(loaded.tensors) == ["x"] and not loaded.read_only
    assert dl.load(ds_path, read_only=True).read_only
    dl.delete(ds_path)
    assert not dl.exists(ds_path) and not os.path.exists(ds_path)
    with pytest.raises(errors.DatasetNotFoundError):
        dl.delete(ds_path)


def test_dataset_opens_or_creates(ds_path):
    first = dl.dataset(ds_path)
    first.create_tensor("x")
    first.x.append([1])
    again = dl.dataset(ds_path)
    assert again.x.numpy().tolist() == [[1]]
    fresh = dl.dataset(ds_path, overwrite=True)
    assert fresh.tensors == {} and dl.load(ds_path).tensors == {}


def test_empty_overwrite_replaces_a_dataset(ds_path):
    _filled(ds_path)
    ds = dl.empty(ds_path, overwrite=True)
    assert ds.tensors == {} and len(dl.load(ds_path)) == 0


def test_paths_accept_pathlike_and_file_urls(tmp_path):
    ds = dl.empty(tmp_path / "p")
    ds.create_tensor("x")
    assert dl.exists(f"file://{tmp_path / 'p'}")
    assert dl.load(tmp_path / "p").path == str(tmp_path / "p")


def test_mem_datasets_are_shared_in_process_by_name(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("x", htype="embedding")
    ds.x.append(np.ones(3, np.float32))
    other = dl.load(mem_url)
    np.testing.assert_array_equal(other.x.numpy(), np.ones((1, 3), np.float32))
    other.x.append(np.zeros(3, np.float32))
    assert len(dl.load(mem_url)) == 2
    assert not dl.exists(mem_url + "-other")
    dl.delete(mem_url)
    assert not dl.exists(mem_url)


# -- tensors and groups ---------------------------------------------------------------------------
def test_create_tensor_properties(ds):
    t = ds.create_tensor("images", htype="image", sample_compression="jpeg")
    assert isinstance(t, dl.Tensor)
    assert (t.htype, t.dtype, t.sample_compression, t.chunk_compression) == ("image", np.uint8, "jpeg", None)
    assert ds.images.key == "images" and ds["images"].name == "images"
    assert list(ds.tensors) == ["images"] and isinstance(ds.tensors["images"], dl.Tensor)
    assert ds.create_tensor("images", htype="image", exist_ok=True).key == "images"
    reloaded = dl.load(ds.path)
    assert (reloaded.images.htype, reloaded.images.sample_compression) == ("image", "jpeg")


def test_nested_tensors_and_groups(ds):
    ds.create_tensor("a/b", htype="class_label")
    group = ds.create_group("meta")
    group.create_tensor("score", dtype="float32")
    ds.create_tensor("meta/deep/er")
    assert sorted(ds.tensors) == ["a/b", "meta/deep/er", "meta/score"]
    assert isinstance(ds.a, dl.Dataset) and ds.a.b.key == "a/b"
    assert ds["a/b"].key == "a/b" and ds["a"]["b"].key == "a/b"
    assert list(ds.meta.tensors) == ["score", "deep/er"]
    assert sorted(ds.groups) == ["a", "meta"] and list(ds.meta.groups) == ["deep"]
    assert ds.meta.deep.er.key == "meta/deep/er"
    ds.append({"a/b": 1, "meta/score": 0.5, "meta/deep/er": [1, 2]})
    ds.meta.append({"score": 1.5, "deep/er": [3, 4]})
    assert ds.meta.score.numpy().tolist() == [[0.5], [1.5]]
    assert len(ds) == 1 and len(ds.meta) == 2
    reloaded = dl.load(ds.path)
    assert reloaded.meta.deep.er.numpy().tolist() == [[1, 2], [3, 4]]
    assert ds.create_group("meta", exist_ok=True).tensors.keys() == ds.meta.tensors.keys()


def test_missing_tensor_access(ds):
    ds.create_tensor("x")
    with pytest.raises(errors.TensorNotFoundError, match="nope"):
        ds["nope"]
    with pytest.raises(AttributeError, match="nope"):
        ds.nope


def test_delete_tensor(ds):
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.append([1])
    ds.delete_tensor("x")
    assert list(ds.tensors) == ["y"] and list(dl.load(ds.path).tensors) == ["y"]
    ds.create_tensor("x", htype="text")  # the name is free again
    assert ds.x.htype == "text" and len(ds.x) == 0



def test_lengths_of_unopened_tensors_come_from_their_id_arrays_and_follow_writes(tmp_path, monkeypatch):
    """``len(ds)``, ``min_len`` and ``max_len`` of a freshly opened dataset read each tensor's
    length from its ``_id`` array's document, without opening its store (which parses all its
    arrays: ~3 ms for 100 tensors); writes, deletes and checkouts move them."""
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    with ds:
        for i in range(4):
            ds.create_tensor(f"t{i}", dtype="int32")
        ds.extend({f"t{i}": np.arange(4, dtype=np.int32) for i in range(4)})
        ds.t3.append(9)
    ds.commit("four rows")
    opened: list[str] = []
    real = tensor_store.TensorStore.__init__
    monkeypatch.setattr(tensor_store.TensorStore, "__init__",
                        lambda self, group, *a, **k: opened.append(group.path) or real(self, group, *a, **k))
    again = dl.load(path)
    assert (len(again), again.min_len, again.max_len) == (4, 4, 5) and not opened
    assert len(dl.load(path, read_only=True)) == 4 and not opened
    again.t0.extend(np.array([1, 2], np.int32))
    assert (len(again), again.max_len) == (4, 6) and opened == ["t0"]
    again.checkout("more", create=True)
    with again:
        for i in range(4):
            again[f"t{i}"].extend(np.arange(3, dtype=np.int32))
    assert (len(again), again.min_len, again.max_len) == (7, 7, 9)
    again.checkout("main")
    assert (len(again), again.max_len) == (4, 6)
    again.delete_tensor("t0")
    assert (len(again), again.max_len) == (4, 5)
    again.t1.pop(0)
    assert (len(again), again.min_len) == (3, 3)


# -- append, extend, pop, update ------------------------------------------------------------------
def test_append_and_extend_on_dataset_and_tensor(ds_path):
    ds = _filled(ds_path, 4)
    ds.append({"x": 4, "label": "odd", "caption": "sample 4"})
    ds.x.append(5)
    ds.x.extend(np.array([6, 7], np.int32))
    assert ds.x.numpy()[:, 0].tolist() == list(range(8))
    assert len(ds) == 5 and ds.max_len == 8 and ds.min_len == 5
    assert ds.caption.data()["value"] == [f"sample {i}" for i in range(5)]
    ds.label.extend(["even", "odd", "even"])
    ds.caption.extend(["sample 5", "sample 6", "sample 7"])
    assert len(ds) == 8


def test_len_is_the_shortest_tensor(ds):
    ds.create_tensor("a")
    ds.create_tensor("b")
    ds.a.extend([[1], [2], [3]])
    ds.b.extend([[1]])
    assert len(ds) == 1 and len(ds.a) == 3 and len(ds.b) == 1
    ds.append({"a": [4]}, skip_ok=True)
    assert len(ds) == 1 and len(ds.a) == 4


def test_pop_dataset_and_tensor(ds_path):
    ds = _filled(ds_path, 6)
    ids = ds.x.sample_ids.tolist()
    ds.pop()
    assert len(ds) == 5 and ds.x.numpy()[:, 0].tolist() == [0, 1, 2, 3, 4]
    ds.pop(1)
    assert ds.x.numpy()[:, 0].tolist() == [0, 2, 3, 4]
    assert ds.caption.data()["value"] == ["sample 0", "sample 2", "sample 3", "sample 4"]
    assert ds.x.sample_ids.tolist() == [ids[0], ids[2], ids[3], ids[4]]
    ds.pop(3)
    assert len(ds) == 3
    ds.caption.pop(0)
    assert ds.caption.data()["value"] == ["sample 2", "sample 3"] and len(ds.x) == 3 and len(ds) == 2
    ds.x.pop([0, 2])
    assert ds.x.numpy()[:, 0].tolist() == [2]
    reloaded = dl.load(ds_path)
    assert reloaded.x.numpy()[:, 0].tolist() == [2] and reloaded.caption.data()["value"] == ["sample 2", "sample 3"]


def test_update_keeps_hidden_ids(ds_path, image):
    ds = dl.empty(ds_path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("label", htype="class_label", class_names=["a", "b"])
    arrays = [image(8, 8, seed=i) for i in range(5)]
    ds.extend({"images": arrays, "label": [0, 1, 0, 1, 0]})
    ids = ds.images.sample_ids.copy()
    new = image(12, 6, seed=99)
    ds.images[3] = new
    ds.label[1:3] = ["dog", "cat"]
    ds[4].label[0] = 1  # through a row view
    np.testing.assert_array_equal(ds.images[3].numpy(), new)
    np.testing.assert_array_equal(ds.images[2].numpy(), arrays[2])
    assert ds.label.numpy()[:, 0].tolist() == [0, 2, 3, 1, 1]
    assert ds.label.info.class_names == ["a", "b", "dog", "cat"]
    reloaded = dl.load(ds_path)
    np.testing.assert_array_equal(reloaded.images.sample_ids, ids)
    np.testing.assert_array_equal(reloaded.label.sample_ids, ids)
    np.testing.assert_array_equal(reloaded.images[3].numpy(), new)
    assert reloaded.images.shapes().tolist() == [[8, 8, 3]] * 3 + [[12, 6, 3], [8, 8, 3]]


def test_update_count_must_match(ds_path):
    ds = _filled(ds_path, 3)
    with pytest.raises(errors.SampleError, match="2 samples"):
        ds.x[0:2] = [1]


# -- reading --------------------------------------------------------------------------------------
def test_numpy_data_and_tobytes(ds_path):
    ds = _filled(ds_path, 3)
    assert ds.x.numpy().shape == (3, 1) and ds.x.numpy().dtype == np.int32
    assert [a.tolist() for a in ds.x.numpy(aslist=True)] == [[0], [1], [2]]
    assert ds.x[1].numpy().tolist() == [1]
    assert ds.label.data()["text"] == [["even"], ["odd"], ["even"]]
    assert ds.caption[1].data() == {"value": "sample 1"}
    assert ds.x[2].tobytes() == np.int32(2).tobytes()
    assert ds.caption[0].tobytes() == b"sample 0"
    with pytest.raises(errors.SampleError, match="one sample"):
        ds.x.tobytes()


def test_shape_none_for_varying_dims_and_shapes(ds):
    ds.create_tensor("x", dtype="uint8")
    assert ds.x.shape == (0,)
    ds.x.extend([np.zeros((2, 3), np.uint8), np.zeros((2, 5), np.uint8), np.zeros((2, 3), np.uint8)])
    assert ds.x.shape == (3, 2, None)
    assert ds.x.shapes().tolist() == [[2, 3], [2, 5], [2, 3]]
    assert ds.x[[0, 2]].shape == (2, 2, 3)
    assert ds.x[1].shape == (2, 5) and ds.x.ndim == 3


def test_info_persists(ds_path):
    ds = _filled(ds_path, 1)
    ds.info.description = "toy"
    ds.info.update(source="unit test", version=2)
    ds.x.info["unit"] = "px"
    del ds.info["version"]
    reloaded = dl.load(ds_path)
    assert dict(reloaded.info._data) == {"description": "toy", "source": "unit test"}
    assert reloaded.info.description == "toy" and "source" in reloaded.info and len(reloaded.info) == 2
    assert reloaded.x.info.unit == "px"
    assert reloaded.label.info.class_names == ["even", "odd"]
    with pytest.raises(AttributeError, match="nope"):
        reloaded.info.nope


def test_summary(ds_path, capsys, image):
    ds = dl.empty(ds_path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    ds.extend({"images": [image(10, 12), image(8, 12)], "labels": [0, 1]})
    ds.summary()
    out = capsys.readouterr().out.splitlines()  # Deep Lake v3's layout
    assert out[0] == f"Dataset(path={ds_path!r}, tensors=['images', 'labels'])"
    assert out[1] == ""
    assert out[2].split() == ["tensor", "htype", "shape", "dtype", "compression"]
    assert out[4].split() == ["images", "image", "(2,", "8:10,", "12,", "3)", "uint8", "jpeg"]
    assert out[5].split() == ["labels", "class_label", "(2,", "1)", "uint32", "None"]
    dl.load(ds_path, read_only=True)[1:].summary()
    assert capsys.readouterr().out.splitlines()[0] == (
        f"Dataset(path={ds_path!r}, read_only=True, index=Index([slice(1, 2, None)]), tensors=['images', 'labels'])")


# -- views ----------------------------------------------------------------------------------------
def test_views(ds_path):
    ds = _filled(ds_path, 10)
    view = ds[5:9]
    assert len(view) == 4 and view.x.numpy()[:, 0].tolist() == [5, 6, 7, 8]
    assert view.caption.data()["value"] == ["sample 5", "sample 6", "sample 7", "sample 8"]
    assert view[1].x.numpy().tolist() == [6] and view[-1].caption.data()["value"] == "sample 8"
    assert ds[[1, 3]].x.numpy()[:, 0].tolist() == [1, 3]
    assert ds[[3, 1, 3]].x.numpy()[:, 0].tolist() == [3, 1, 3]
    mask = np.arange(10) % 3 == 0
    assert ds[mask].x.numpy()[:, 0].tolist() == [0, 3, 6, 9]
    assert ds[-1].x.numpy().tolist() == [9] and ds.x[-2].numpy().tolist() == [8]
    assert ds[::4].x.numpy()[:, 0].tolist() == [0, 4, 8]
    assert ds[2:8][::2][[0, -1]].x.numpy()[:, 0].tolist() == [2, 6]
    assert view.index.tolist() == [5, 6, 7, 8] and ds.index is None
    assert [row.x.numpy()[0] for row in ds[7:]] == [7, 8, 9]
    assert ds.x[5:9].sample_ids.tolist() == ds.x.sample_ids[5:9].tolist()


def test_view_of_group(ds):
    ds.create_tensor("g/a")
    ds.create_tensor("g/b")
    ds.extend({"g/a": [[i] for i in range(4)], "g/b": [[10 * i] for i in range(4)]})
    assert ds[1:3].g.b.numpy()[:, 0].tolist() == [10, 20]
    assert ds.g[[3]].a.numpy().tolist() == [[3]]


# -- batching ---------------------------------------------------------------------------------------
def test_with_block_batches_writes(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    with ds:
        for i in range(50):
            ds.append({"x": i, "t": str(i)})
        assert len(ds) == 50 and ds.x[49].numpy().tolist() == [49]
        with ds:  # nested blocks flush at the outermost exit
            ds.x.append(50)
    assert ds.x.numpy()[:, 0].tolist() == list(range(51))
    reloaded = dl.load(ds_path)
    assert len(reloaded) == 50 and reloaded.t.data()["value"] == [str(i) for i in range(50)]
    assert reloaded.x.num_samples == 51


def test_with_block_on_read_only_dataset(ds_path):
    _filled(ds_path, 2)
    with dl.load(ds_path, read_only=True) as ds:
        assert ds.x.numpy()[:, 0].tolist() == [0, 1]


# -- hidden sample ids and format version ---------------------------------------------------------
def test_dataset_append_shares_one_id_per_row(ds_path):
    ds = _filled(ds_path, 5)
    ids = ds.x.sample_ids
    assert ids.dtype == np.uint64 and len(set(ids.tolist())) == 5 and (ids != 0).all()
    np.testing.assert_array_equal(ds.label.sample_ids, ids)
    np.testing.assert_array_equal(ds.caption.sample_ids, ids)
    ds.append({"x": 5, "label": 1, "caption": "five"})
    assert len({t.sample_ids[-1] for t in ds.tensors.values()}) == 1
    np.testing.assert_array_equal(dl.load(ds_path).caption.sample_ids[:5], ids)


def test_ids_are_not_reused_after_pop(ds_path):
    ds = _filled(ds_path, 3)
    before = set(ds.x.sample_ids.tolist())
    ds.pop()
    ds.append({"x": 9, "label": 0, "caption": "new"})
    assert ds.x.sample_ids[-1] not in before


def test_format_version_is_recorded_and_checked(ds_path):
    _filled(ds_path, 1)
    doc = root_document(ds_path)
    assert doc["attributes"]["deeplake_nb"]["format_version"] == dl.FORMAT_VERSION
    doc["attributes"]["deeplake_nb"]["format_version"] = dl.FORMAT_VERSION + 1
    root_document(ds_path, doc)
    with pytest.raises(errors.FormatVersionError, match="Upgrade deeplake_nb"):
        dl.load(ds_path)
    with pytest.raises(errors.FormatVersionError):
        dl.dataset(ds_path)
    assert dl.exists(ds_path)  # it is a dataset, only a newer one
    with pytest.raises(errors.DatasetExistsError):
        dl.empty(ds_path)


# -- dynamic shapes ---------------------------------------------------------------------------------
def test_dense_tensor_migrates_to_ragged(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="float32", chunk_compression="lz4")
    rng = np.random.default_rng(0)
    ds.x.append(rng.random((8, 16)).astype(np.float32))
    rows_per_chunk = zarr.open_group(store=ds.zarr_store(), mode="r")["x/data"].chunks[0]
    n = 2 * rows_per_chunk + 5  # the migration must copy several chunks and a partial one
    dense = np.concatenate([ds.x.numpy(), rng.random((n - 1, 8, 16)).astype(np.float32)])
    ds.x.extend(dense[1:])
    ids = ds.x.sample_ids.copy()
    assert ds.x.shape == (n, 8, 16)
    odd = np.ones((2, 5), np.float32)
    ds.x.append(odd)
    assert ds.x.shape == (n + 1, None, None)
    ds.x[0] = np.full((1, 1), 7, np.float32)
    reloaded = dl.load(ds_path)
    got = reloaded.x.numpy(aslist=True)
    np.testing.assert_array_equal(got[0], np.full((1, 1), 7, np.float32))
    np.testing.assert_array_equal(np.stack(got[1:n]), dense[1:])
    np.testing.assert_array_equal(got[n], odd)
    np.testing.assert_array_equal(reloaded.x.sample_ids[:n], ids)


def test_update_with_new_shape_migrates_to_ragged(ds):
    ds.create_tensor("emb", htype="embedding")
    ds.emb.extend(np.eye(3, dtype=np.float32))
    ds.emb[1] = np.arange(5, dtype=np.float32)
    assert ds.emb.shape == (3, None)
    assert ds.emb[1].numpy().tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(ds.emb[2].numpy(), np.eye(3, dtype=np.float32)[2])


_shapes = st.lists(st.tuples(st.integers(0, 4), st.integers(1, 3)), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=_shapes, split=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_any_mix_of_shapes_round_trips(mem_url, shapes, split, seed):
    """Appends of arbitrary shapes, in two batches, read back exactly (dense, ragged, migrated)."""
    rng = np.random.default_rng(seed)
    samples = [rng.integers(-1000, 1000, shape).astype(np.int16) for shape in shapes]
    ds = dl.empty(mem_url, overwrite=True)
    ds.create_tensor("x", dtype="int16")
    ds.x.extend(samples[:split])
    ds.x.extend(samples[split:])
    reloaded = dl.load(mem_url)
    assert reloaded.x.shapes().tolist() == [list(s) for s in shapes]
    for got, want in zip(reloaded.x.numpy(aslist=True), samples):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("htype", ["generic", "text", "json", "image", "sequence[image]", "class_label"])
def test_empty_tensors_read_as_empty(ds, htype):
    tensor = ds.create_tensor("t", htype=htype)
    assert len(tensor.numpy()) == 0 and tensor.numpy(aslist=True) == []
    assert tensor.shape[0] == 0 and tensor.data()["value"] == [] or len(tensor.data()["value"]) == 0


def count_writes(monkeypatch) -> "Counter[str]":
    """Count writes per key (``ByteStore.set`` of whole objects and ``ByteStore.set_ranges`` of
    parts of them) from now on (``monkeypatch.undo()`` stops it)."""
    from collections import Counter

    from deeplake_nb.storage import ByteStore

    writes: Counter = Counter()
    original, original_ranges = ByteStore.set, ByteStore.set_ranges

    def counting(self, key, data):
        writes[key] += 1
        return original(self, key, data)

    def counting_ranges(self, key, ranges):
        landed = original_ranges(self, key, ranges)
        writes[key] += landed
        return landed

    monkeypatch.setattr(ByteStore, "set", counting)
    monkeypatch.setattr(ByteStore, "set_ranges", counting_ranges)
    return writes


def test_assigning_many_rows_writes_each_chunk_once(ds_path, monkeypatch):
    ds = dl.empty(ds_path)
    with ds:
        ds.create_tensor("x", dtype="float32")
        ds.create_tensor("t", htype="text")
        ds.create_tensor("seq", htype="sequence[generic]", dtype="int32")
        ds.extend({"x": np.zeros((100, 4), np.float32), "t": [f"row {i}" for i in range(100)],
                   "seq": [np.arange(i % 3 + 1, dtype=np.int32) for i in range(100)]})
    writes = count_writes(monkeypatch)
    ds.x[[5, 50, 5, 90]] = np.arange(16, dtype=np.float32).reshape(4, 4)   # row 5 twice: the last value wins
    ds.t[[70, 3, 3, 41]] = ["p", "q", "r", "s"]
    ds.seq[[9, 2]] = [np.asarray([7, 7], np.int32), np.asarray([8], np.int32)]
    chunk_writes = {k: c for k, c in writes.items() if "/c/" in k}
    assert chunk_writes and max(chunk_writes.values()) == 1, chunk_writes
    monkeypatch.undo()
    for reread in (ds, dl.load(ds_path)):
        np.testing.assert_array_equal(reread.x[5].numpy(), [8, 9, 10, 11])
        np.testing.assert_array_equal(reread.x[50].numpy(), [4, 5, 6, 7])
        np.testing.assert_array_equal(reread.x[6].numpy(), [0, 0, 0, 0])
        assert reread.t.numpy()[[70, 3, 41, 4]].ravel().tolist() == ["p", "r", "s", "row 4"]
        assert [list(s) for s in reread.seq[[9, 2, 1]].numpy(aslist=True)] == [[7, 7], [8], [0, 1]]


def test_updates_inside_a_with_block_are_buffered_and_read_back(ds_path, monkeypatch):
    ds = dl.empty(ds_path)
    with ds:
        ds.create_tensor("x", dtype="float32")
        ds.create_tensor("t", htype="text")
        ds.extend({"x": np.zeros((50, 3), np.float32), "t": [f"row {i}" for i in range(50)]})
    writes = count_writes(monkeypatch)
    with ds:
        for row in (5, 6, 5, 40):                       # one sample at a time, row 5 twice
            ds.x[row] = np.full(3, row * 10 + writes.total(), np.float32)
            ds.t[row] = f"new {row}"
        assert not [k for k in writes if "/c/" in k]    # nothing written yet ...
        assert ds.x[5].numpy().tolist() == [50.0] * 3   # ... but reads see the buffered values
        assert ds.t[40].data()["value"] == "new 40"
        ds.append({"x": np.ones(3, np.float32), "t": "appended"})
        ds.x[50] = np.full(3, 7, np.float32)            # a row that was a pending append
        ds.pop(6)                                       # rows shift; the buffered 40 moves to 39
    monkeypatch.undo()
    for reread in (ds, dl.load(ds_path)):
        x = reread.x.numpy()
        assert len(x) == 50 and x[5].tolist() == [50.0] * 3 and x[6].tolist() == [0.0] * 3
        assert x[39].tolist() == [400.0] * 3 and x[49].tolist() == [7.0] * 3
        assert reread.t[39].data()["value"] == "new 40" and reread.t[5].data()["value"] == "new 5"

    ds.commit("updated")
    with ds:
        ds.x[0] = np.full(3, 9, np.float32)
        assert ds.has_head_changes
        ds.reset()                                      # buffered updates go with the other changes
    assert dl.load(ds_path).x[0].numpy().tolist() == [0.0] * 3
