"""Deep Lake v3 Dataset and Tensor calls: clear_cache, max_view and uneven tensors, iteration
rows, views that refuse structural changes, read_only switching, create_tensor_like,
pickling, and sequence samples' tobytes / shapes."""

from __future__ import annotations

import pickle
import uuid

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.util.exceptions import InvalidOperationError


def _uneven(ds: dl.Dataset) -> dl.Dataset:
    """abc: 4 samples, xyz: 3, txt: 2 (text)."""
    ds.create_tensor("abc")
    ds.create_tensor("xyz")
    ds.create_tensor("txt", htype="text")
    ds.abc.extend([1, 2, 3, 4])
    ds.xyz.extend([10, 20, 30])
    ds.txt.extend(["a", "b"])
    return ds


# -- clear_cache --------------------------------------------------------------------------------
def test_clear_cache_writes_buffered_samples_and_reads_them_back(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.extend(np.arange(6).reshape(3, 2))
    ds.clear_cache()
    assert ds.x.numpy().tolist() == [[0, 1], [2, 3], [4, 5]]
    with ds:
        ds.x.append([6, 7])
        ds.clear_cache()  # inside the block: written, published when the block ends
        assert ds.x.numpy()[-1].tolist() == [6, 7]
        assert len(dl.load(ds_path, read_only=True).x) == 3
    assert dl.load(ds_path, read_only=True).x.numpy()[-1].tolist() == [6, 7]


# -- uneven tensors: row views, max_view ---------------------------------------------------------
def test_row_view_past_a_short_tensor_reads_the_long_one_and_refuses_the_short_one(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.extend(list(range(10)))
    ds.y.extend(list(range(5)))
    view = ds[list(range(0, 10, 2))]
    assert len(view) == 5
    assert view.x.numpy().ravel().tolist() == [0, 2, 4, 6, 8]
    with pytest.raises(errors.SampleIndexError, match="past the end"):
        view.y.numpy()
    with pytest.raises(IndexError):
        view.y.shapes()
    assert ds[7].x.numpy().tolist() == [7]
    with pytest.raises(IndexError):
        ds[7].y.numpy()
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(IndexError):
        ds[[0, 10]]
    assert len(ds[:]) == 5  # slices run over len(ds), the shortest tensor


def test_copy_query_and_loader_refuse_rows_past_a_short_tensor(ds_path, tmp_path):
    """No reader returns stored fill values as samples for rows a tensor does not have."""
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.extend(list(range(10)))
    ds.y.extend(list(range(5)))
    view = ds[[0, 8]]
    with pytest.raises(errors.SampleIndexError):
        dl.copy(view, str(tmp_path / "copy"), progressbar=False)
    assert view.query("select * where x > 0").x.numpy().ravel().tolist() == [8]
    with pytest.raises(IndexError):
        view.query("select * where x > 0").y.numpy()
    with pytest.raises(errors.DeepLakeNBError, match="past the end"):
        view.query("select * where y > 0")
    assert dl.copy(view[["x"]], str(tmp_path / "x_only"), progressbar=False).x.numpy().ravel().tolist() == [0, 8]
    pytest.importorskip("torch")
    with pytest.raises(errors.SampleIndexError):
        list(view.pytorch(batch_size=2, num_workers=0))


def test_max_view_pads_shorter_tensors_with_empty_samples(mem_url):
    ds = _uneven(dl.empty(mem_url))
    view = ds.max_view
    assert len(view) == 4 and len(ds.min_view) == 2
    assert view.abc.numpy().ravel().tolist() == [1, 2, 3, 4]
    xyz = view.xyz.numpy(aslist=True)
    assert [v.tolist() for v in xyz] == [[10], [20], [30], []]
    assert view.txt.data()["value"] == ["a", "b", "", ""]
    assert view.xyz.shapes().tolist() == [[1], [1], [1], [0]]
    rows = [(r.abc.numpy().tolist(), r.xyz.numpy().tolist()) for r in view]
    assert rows == [([1], [10]), ([2], [20]), ([3], [30]), ([4], [])]
    assert view[3].txt.data()["value"] == "" and view[1:].xyz.numpy(aslist=True)[-1].size == 0
    with pytest.raises(errors.SampleIndexError):
        view.xyz[3] = 40  # a padded row is no sample to write
    assert len(ds.xyz) == 3


def test_max_view_of_a_row_view_and_of_an_even_dataset(mem_url):
    ds = _uneven(dl.empty(mem_url))
    assert ds[[1, 3]].max_view.xyz.numpy(aslist=True)[1].size == 0
    even = dl.empty(mem_url + "-even")
    even.create_tensor("a")
    even.a.extend([1, 2])
    assert even.max_view.a.numpy().ravel().tolist() == [1, 2]


# -- rows from iteration ------------------------------------------------------------------------
def test_rows_from_iteration_say_so_down_to_their_tensors(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("x/y/z")
    ds["x/y/z"].extend(list(range(3)))
    rows = list(ds)
    assert all(r.is_iteration for r in rows)
    assert all(r["x/y"].z.is_iteration and r["x/y/z"].is_iteration for r in rows)
    assert not ds[0].is_iteration and not ds[0]["x/y/z"].is_iteration and not ds.is_iteration
    assert all(row.x.is_iteration for row in ds[1:])


# -- views refuse structural changes -------------------------------------------------------------
def test_row_and_column_views_refuse_structural_changes(ds_path, unchanged):
    ds = dl.empty(ds_path)
    ds.create_tensor("a")
    ds.a.extend([0, 1, 2, 3])
    ds.create_tensor("c/d")
    ds["c/d"].append([7, 8, 9])
    check = unchanged(ds)
    for view in (ds[:2], ds[1], ds[["a"]]):
        for change in (lambda v: v.create_tensor("new"), lambda v: v.create_tensor_like("new", ds.a),
                       lambda v: v.create_group("g"), lambda v: v.delete_tensor("a"),
                       lambda v: v.rename_tensor("a", "b"), lambda v: v.delete_group("c"),
                       lambda v: v.rename_group("c", "e")):
            with pytest.raises(errors.ViewOperationError, match="view"):
                change(view)
        with pytest.raises(errors.ViewOperationError):
            view.read_only = True
    check()
    assert isinstance(errors.ViewOperationError("x"), InvalidOperationError)
    ds["c"].create_tensor("e")  # a group is not a view
    assert "c/e" in ds.tensors


# -- read_only switching ---------------------------------------------------------------------------
def test_read_only_can_be_switched_on_an_open_dataset(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    with ds:
        ds.x.append(1)
        ds.read_only = True  # buffered writes land first
    assert ds.read_only and ds[0:1].read_only
    with pytest.raises(errors.ReadOnlyError):
        ds.x.append(2)
    assert dl.load(ds_path, read_only=True).x.numpy().ravel().tolist() == [1]
    ds.read_only = False
    ds.x.append(2)
    assert dl.load(ds_path).x.numpy().ravel().tolist() == [1, 2]
    reader = dl.load(ds_path, read_only=True)
    reader.read_only = False
    reader.x.append(3)
    assert ds.x.numpy().ravel().tolist()[-1] == 2  # an open dataset keeps the state it read
    assert dl.load(ds_path).x.numpy().ravel().tolist() == [1, 2, 3]


def test_read_only_switches_keep_a_checked_out_commit_checked_out(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.append(1)
    first = ds.commit("one")
    ds.x.append(2)
    ds.commit("two")
    ds.checkout(first)
    assert not ds.read_only  # a write here would go to a new branch (v3's auto checkout)
    ds.read_only = True
    assert ds.read_only and ds.commit_id == first
    with pytest.raises(errors.ReadOnlyError):
        ds.x.append(3)
    ds.read_only = False
    assert not ds.read_only and ds.commit_id == first and ds.branches == ["main"]
    with pytest.warns(errors.AutoBranchWarning):
        ds.x.append(3)
    assert ds.x.numpy().ravel().tolist() == [1, 3] and ds.branch.startswith("auto_")


# -- create_tensor_like -----------------------------------------------------------------------------
def test_create_tensor_like_copies_the_definition_not_the_samples(ds_path, mem_url):
    src = dl.empty(mem_url)
    src.create_tensor("labels", htype="class_label", class_names=["cat", "dog"], chunk_compression="lz4")
    src.labels.extend([0, 1, 1])
    src.create_tensor("pics", htype="link[image]", sample_compression="jpeg")
    ds = dl.empty(ds_path)
    made = ds.create_tensor_like("g/labels", src.labels)
    assert made.key == "g/labels" and len(made) == 0
    assert made.htype == "class_label" and made.chunk_compression == "lz4"
    assert list(made.info.class_names) == ["cat", "dog"]
    made.append("dog")
    assert made.numpy().ravel().tolist() == [1] and len(src.labels) == 3
    assert ds.create_tensor_like("pics", src.pics).is_link
    plain = ds.create_tensor_like("pixels", src.pics, unlink=True)
    assert not plain.is_link and plain.htype == "image" and plain.sample_compression == "jpeg"
    with pytest.raises(errors.TensorExistsError):
        ds.create_tensor_like("pixels", src.pics)


# -- pickling ---------------------------------------------------------------------------------------
def test_pickled_dataset_reopens_the_same_version_and_selection(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("g/x")
    ds.create_tensor("y")
    ds.extend({"g/x": [1, 2, 3], "y": [4, 5, 6]})
    first = ds.commit("three")
    with ds:
        ds["g/x"].append(9)
        ds.y.append(9)
        copy = pickle.loads(pickle.dumps(ds))  # buffered writes land before pickling
    assert copy.path == ds.path and not copy.read_only and copy.branch == "main"
    assert copy["g/x"].numpy().ravel().tolist() == [1, 2, 3, 9]
    copy.y.append(10)  # a writable copy writes the same dataset
    assert dl.load(ds_path).y.numpy().ravel().tolist() == [4, 5, 6, 9, 10]

    view = pickle.loads(pickle.dumps(ds[[2, 0]]["g"]))
    assert view.x.numpy().ravel().tolist() == [3, 1]
    columns = pickle.loads(pickle.dumps(ds[["y"]]))
    assert list(columns.tensors) == ["y"]
    single = pickle.loads(pickle.dumps(ds[1]))
    assert single.y.numpy().tolist() == [5]

    ds.checkout(first)
    old = pickle.loads(pickle.dumps(ds))
    assert old.commit_id == first and not old.read_only and old.branches == ds.branches and len(old.y) == 3
    reader = pickle.loads(pickle.dumps(dl.load(ds_path, read_only=True)))
    assert reader.read_only and len(reader.y) == 5
    with pytest.raises(errors.ReadOnlyError):
        reader.y.append(1)
    assert pickle.loads(pickle.dumps(ds.max_view)).max_view is not None


def test_tensors_pickle_with_their_dataset(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3])
    tensor = pickle.loads(pickle.dumps(ds.x[1:]))
    assert tensor.numpy().ravel().tolist() == [2, 3]


def test_in_memory_datasets_refuse_pickling(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("x")
    with pytest.raises(errors.DatasetPickleError, match="memory") as info:
        pickle.dumps(ds)
    assert isinstance(info.value, TypeError)


@pytest.fixture
def s3_options(moto_s3):
    return moto_s3.options


def test_pickled_s3_dataset_keeps_its_storage_options(s3_options):
    url = f"s3://bucket/ds-{uuid.uuid4().hex}"
    ds = dl.empty(url, storage_options=s3_options)
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    copy = pickle.loads(pickle.dumps(ds))
    copy.x.append(3)
    assert dl.load(url, storage_options=s3_options).x.numpy().ravel().tolist() == [1, 2, 3]


# -- sequence samples: tobytes, shapes --------------------------------------------------------------
def test_tobytes_of_a_sequence_sample_joins_its_items(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("abc", htype="sequence")
    ds.abc.extend([[1, 2, 3], [4, 5, 6, 7], []])
    assert ds.abc[0].tobytes() == np.array([1, 2, 3]).tobytes()
    assert ds.abc[1].tobytes() == np.array([4, 5, 6, 7]).tobytes()
    assert ds.abc[2].tobytes() == b""
    with pytest.raises(ValueError):
        ds.abc[:2].tobytes()
    with pytest.raises(ValueError):
        ds.abc[0, 1].tobytes()


def test_sequence_shapes_are_item_shapes_per_sample(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("abc", htype="sequence")
    assert ds.abc.shapes().shape == (0, 0) and ds.abc.shape == (0, 0)
    ds.abc.append([np.ones((3, 4)), np.ones((4, 5))])
    ds.abc.append([np.ones((2, 3)), np.ones((3, 4))])
    ds.abc.append([None, None])
    assert ds.abc.shapes().tolist() == [[[3, 4], [4, 5]], [[2, 3], [3, 4]], [[0, 0], [0, 0]]]
    ds.abc.append([np.ones((2, 3)), np.ones((3, 4)), None])
    shapes = ds.abc.shapes()
    assert isinstance(shapes, list) and [s.tolist() for s in shapes] == [
        [[3, 4], [4, 5]], [[2, 3], [3, 4]], [[0, 0], [0, 0]], [[2, 3], [3, 4], [0, 0]]]
    assert ds.abc[0].shapes().tolist() == [[[3, 4], [4, 5]]]
    assert ds.abc[1:3].shapes().tolist() == [[[2, 3], [3, 4]], [[0, 0], [0, 0]]]
    assert ds.abc.shape == (4, None, None, None) and ds.abc[0].shape == (2, None, None)
    ds.abc.clear()
    assert ds.abc.shape == (0, 0)


# -- num_samples, no_view_dataset, is_head_node, size_approx -------------------------------------
def test_num_samples_and_no_view_dataset_ignore_the_view(ds_path):
    ds = _uneven(dl.empty(ds_path))
    view = ds[1:2][["abc"]]
    assert (ds.num_samples, view.num_samples, len(view)) == (2, 2, 1)
    whole = view.no_view_dataset
    assert len(whole) == 2 and sorted(whole.tensors) == ["abc", "txt", "xyz"] and not whole.is_view
    ds.create_group("g")
    ds.g.create_tensor("y")
    ds.g.y.extend([5, 6, 7])
    assert ds.g[1:].no_view_dataset.y.numpy().ravel().tolist() == [5, 6, 7]


def test_is_head_node_is_false_on_a_past_commit(ds_path):
    ds = _uneven(dl.empty(ds_path))
    first = ds.commit("first")
    assert ds.is_head_node
    ds.checkout(first)
    assert not ds.is_head_node
    ds.checkout("main")
    assert ds.is_head_node


def test_size_approx_counts_the_stored_chunks_of_the_tensors_shown(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("small")
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.small.append(1)
    noise = np.random.default_rng(0).integers(0, 255, (5, 128, 128, 3), dtype=np.uint8)  # PNG keeps noise
    ds.images.extend(noise)
    ds.commit("data")
    images = ds[["images"]].size_approx()
    assert noise.nbytes <= images < 2 * noise.nbytes + (6 << 20)  # (heap and table chunks are stored whole)
    assert ds.size_approx() == images + ds[["small"]].size_approx() and ds[["small"]].size_approx() > 0


# -- root, sample_indices, allow_delete --------------------------------------------------------
def test_root_and_sample_indices(ds_path):
    ds = _uneven(dl.empty(ds_path))
    ds.create_group("g")
    ds.g.create_tensor("y")
    ds.g.y.extend([5, 6, 7])
    assert sorted(ds.g.root.tensors) == ["abc", "g/y", "txt", "xyz"]
    assert ds[[1, 0]].g.root.abc.numpy().ravel().tolist() == [2, 1]
    assert ds.sample_indices.tolist() == [0, 1] and ds[[1, 0]].sample_indices.tolist() == [1, 0]
    assert ds.abc.sample_indices.tolist() == [0, 1, 2, 3] and ds.abc[1:3].sample_indices.tolist() == [1, 2]


def test_allow_delete_guards_every_way_of_deleting(ds_path):
    ds = _uneven(dl.empty(ds_path))
    assert ds.allow_delete
    ds.allow_delete = False
    ds.commit("protected")
    assert not dl.load(ds_path).allow_delete
    for delete in (lambda: ds.delete(), lambda: dl.delete(ds_path), lambda: dl.empty(ds_path, overwrite=True)):
        with pytest.raises(errors.DatasetError, match="protected from deletion"):
            delete()
    assert dl.load(ds_path).abc.numpy().ravel().tolist() == [1, 2, 3, 4]
    with pytest.raises(errors.DatasetOptionError):
        ds.allow_delete = "no"
    with pytest.raises(errors.ReadOnlyError):
        dl.load(ds_path, read_only=True).allow_delete = True
    ds.allow_delete = True
    dl.delete(ds_path)
    assert not dl.exists(ds_path)


# -- tiled, and what needs Activeloop's platform ---------------------------------------------------
def test_a_tiled_sample_is_appended_empty_and_filled_by_region(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("image", htype="image", sample_compression="png")
    ds.image.append(dl.tiled(sample_shape=(1003, 1103, 3), tile_shape=(10, 10, 3)))
    patch = np.random.default_rng(0).integers(0, 256, (217, 212, 2), dtype=np.uint8)
    ds.image[0][-217:, :212, 1:] = patch
    image = dl.load(ds_path).image[0].numpy()
    assert image.shape == (1003, 1103, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[-217:, :212, 1:], patch)
    assert not image[:-217].any() and not image[-217:, :212, 0].any()
    assert dl.tiled((4, 5), dtype="float32").dtype == np.float32
    for bad in (dict(sample_shape=(0, 3)), dict(sample_shape="big"), dict(sample_shape=(4, 4), tile_shape=(2,)),
                dict(sample_shape=(4, 4), dtype="pixels")):
        with pytest.raises(errors.DatasetOptionError):
            dl.tiled(**bad)


def test_what_needs_activeloops_platform_says_so(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.add_creds_key("k")
    ds.change_creds_management("k", False)
    for call in (lambda: dl.connect("s3://bucket/ds", creds_key="k", org_id="org"), lambda: ds.connect(org_id="o"),
                 lambda: dl.list("org"), lambda: dl.link_tiled(np.array([["a.png"]])),
                 lambda: ds.change_creds_management("k", True)):
        with pytest.raises(errors.UnsupportedFeatureError):
            call()
    with pytest.raises(errors.MissingCredsError):
        ds.change_creds_management("unknown", False)
    assert list(range(2)) == [0, 1]  # dl.list is v3's; the builtin is untouched
