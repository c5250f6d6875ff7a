"""Deep Lake v3's import paths: every name v3 code imports is there; the ones deeplake_nb has a
concept for behave like v3's (summary text, ShapeInterval, storage providers, like, dataset
names, complex htypes, diff helpers); the others raise UnsupportedFeatureError when used."""

from __future__ import annotations

import importlib
import pathlib

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import constants, errors

V3_NAMES = {
    "deeplake_nb.constants": ["KB", "MB", "FIRST_COMMIT_ID", "S3_OPT", "GCS_OPT", "AZURE_OPT", "GDRIVE_OPT",
                              "DELETE_SAFETY_SIZE", "_ENABLE_RANDOM_ASSIGNMENT"],
    "deeplake_nb.util.exceptions": [
        "IncompatibleHtypeError", "BadRequestException", "InvalidTokenException", "TokenPermissionError",
        "UserNotLoggedInException", "InvalidDatasetNameException", "UnsupportedParameterException",
        "DatasetCorruptError", "ManagedCredentialsNotFoundError", "MissingCredsError", "UnableToReadFromUrlError",
        "LoaderOptionError", "EmptyTensorError", "ViewNotFoundError", "DatasetTooLargeToDelete"],
    "deeplake_nb.util.testing": ["assert_array_equal", "compare_version_info"],
    "deeplake_nb.util.path": ["convert_string_to_pathlib_if_needed", "verify_dataset_name"],
    "deeplake_nb.util.pretty_print": ["summary_dataset", "summary_tensor"],
    "deeplake_nb.util.shape_interval": ["ShapeInterval"],
    "deeplake_nb.util.htype": ["parse_complex_htype"],
    "deeplake_nb.util.keys": ["get_commit_info_key"],
    "deeplake_nb.util.diff": ["get_all_changes_string", "get_lowest_common_ancestor", "sanitize_commit"],
    "deeplake_nb.util.version_control": ["integrity_check", "rebuild_version_info"],
    "deeplake_nb.util.remove_cache": ["get_base_storage"],
    "deeplake_nb.util.merge": ["_get_required_chunks_for_range"],
    "deeplake_nb.core.storage": ["GCSProvider", "LocalProvider", "MemoryProvider", "S3Provider", "StorageProvider"],
    "deeplake_nb.core.storage.memory": ["MemoryProvider"],
    "deeplake_nb.core.storage.s3": ["S3Provider"],
    "deeplake_nb.core.storage.gcs": ["GCSProvider"],
    "deeplake_nb.core.storage.azure": ["AzureProvider"],
    "deeplake_nb.core.index.index": ["IndexEntry"],
    "deeplake_nb.core.link_creds": ["LinkCreds"],
    "deeplake_nb.core.meta.encode.creds": ["CredsEncoder"],
    "deeplake_nb.client.client": ["DeepLakeBackendClient"],
    "deeplake_nb.api.info": ["Info"],
}


@pytest.mark.parametrize("module", sorted(V3_NAMES))
def test_every_v3_name_imports(module):
    imported = importlib.import_module(module)
    missing = [name for name in V3_NAMES[module] if not hasattr(imported, name)]
    assert not missing


def test_core_index_is_still_the_index_module():
    from deeplake_nb.core import index as _index

    assert _index.compose(None, slice(1, 3), 5)[0].tolist() == [1, 2]
    from deeplake_nb.core.index.index import IndexEntry

    assert list(IndexEntry(slice(None, 8, 2)).indices(10)) == [0, 2, 4, 6]
    assert list(IndexEntry([3, -1, 3]).indices(5)) == [3, 4, 3]
    assert list(IndexEntry(7).indices(10)) == [7] and IndexEntry(7).length(10) == 1
    assert IndexEntry().is_trivial() and not IndexEntry(slice(1, None)).is_trivial()
    assert IndexEntry(slice(5, 100)).length(50) == 45 and not IndexEntry(2).subscriptable()
    with pytest.raises(IndexError):
        IndexEntry(12).validate(10)


def test_v3_constants_and_exception_bindings():
    from deeplake_nb.util import exceptions as v3

    assert constants.FIRST_COMMIT_ID == "firstdbf9474d461a19e9333c2fd19b46115348f"
    assert (constants.S3_OPT, constants.GCS_OPT, constants.AZURE_OPT, constants.GDRIVE_OPT) == (
        "--s3", "--gcs", "--azure", "--gdrive")
    assert v3.DatasetCorruptError is errors.DeepLakeNBError
    for name in ("BadRequestException", "InvalidTokenException", "TokenPermissionError", "UserNotLoggedInException",
                 "ManagedCredentialsNotFoundError", "InvalidDatasetNameException"):
        assert issubclass(getattr(v3, name), errors.StorageError)
    assert v3.EmptyTensorError is errors.EmptyTensorError and v3.MissingCredsError is errors.LinkError


def test_incompatible_htype_change_raises_the_v3_class(ds):
    from deeplake_nb.util.exceptions import IncompatibleHtypeError

    ds.create_tensor("images")
    ds.images.extend(np.zeros((2, 5, 5, 5, 5)))
    with pytest.raises(IncompatibleHtypeError):
        ds.images.htype = "image"
    ds.create_tensor("boxes")
    ds.boxes.extend(np.zeros((2, 5, 5, 2)))
    with pytest.raises(IncompatibleHtypeError):
        ds.boxes.htype = "bbox"
    ds.create_tensor("text", htype="text")
    with pytest.raises(NotImplementedError):
        ds.text.htype = "image"  # only generic and image tensors change htype (v3: NotImplementedError)
    assert ds.images.htype == ds.boxes.htype == "generic"


def test_summary_text_is_v3s(capsys):
    from deeplake_nb.util.pretty_print import summary_dataset, summary_tensor

    ds = dl.empty("mem://")
    ds.create_tensor("abc")
    ds.abc.extend(np.ones((4, 4)))
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    assert summary_dataset(ds) == (
        "\n tensor    htype    shape    dtype  compression\n -------  -------  -------  -------  ------- "
        "\n   abc    generic  (4, 4)   float64   None   \n images    image    (0,)     uint8    jpeg   ")
    assert summary_tensor(ds.abc) == (
        "\n  htype    shape    dtype  compression\n -------  -------  -------  ------- \n generic  (4, 4)   float64   None   ")
    ds.delete_tensor("images")
    ds[1:2].summary()
    assert capsys.readouterr().out == (
        f"Dataset(path='{ds.path}', index=Index([slice(1, 2, None)]), tensors=['abc'])\n\n"
        " tensor    htype    shape    dtype  compression\n -------  -------  -------  -------  ------- \n"
        "   abc    generic  (1, 4)   float64   None   \n")
    ds[1:2].abc.summary()
    assert capsys.readouterr().out == (
        "Tensor(key='abc', index=Index([slice(1, 2, None)]))\n\n  htype    shape    dtype  compression\n"
        " -------  -------  -------  ------- \n generic  (1, 4)   float64   None   \n")


def test_summary_of_a_big_view_needs_force(capsys):
    ds = dl.empty("mem://")
    with ds:
        ds.create_tensor("abc")
        ds.abc.extend(np.ones((2500, 10, 5, 3), np.uint8))
        ds.abc.extend(np.ones((5000, 5, 5, 3), np.uint8))
        ds.abc.extend(np.ones((5000, 5, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        ds[2500:].summary()
    with pytest.raises(errors.ViewTooLargeError):
        ds[2500:].summary()
    ds[2500:].summary(force=True)
    assert "   abc    generic  (10000, 5, 5:10, 3)   uint8    None   " in capsys.readouterr().out
    ds.summary()  # the whole dataset needs no force
    assert "(12500, 5:10, 5:10, 3)" in capsys.readouterr().out


def test_repr_is_v3s(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("g/x")
    ds.g.x.extend([1, 2, 3])
    assert repr(ds) == f"Dataset(path='{ds_path}', tensors=['g/x'])"
    assert repr(ds.g) == f"Dataset(path='{ds_path}', group_index='g', tensors=['x'])"
    view = dl.load(ds_path, read_only=True)[[0, 2]]
    assert repr(view) == f"Dataset(path='{ds_path}', read_only=True, index=Index([(0, 2)]), tensors=['g/x'])"
    assert repr(ds.g.x[2]) == "Tensor(key='g/x', index=Index([2]))"


def test_shape_interval_is_v3_like(ds):
    from deeplake_nb.util.shape_interval import ShapeInterval

    ds.create_tensor("abc")
    ds.abc.extend([np.ones((1, 2, 5)), np.ones((5, 6, 2)), np.ones((3, 4, 3))])
    interval = ds.abc.shape_interval
    assert isinstance(interval, ShapeInterval)
    assert interval == ShapeInterval((3, 1, 2, 2), (3, 5, 6, 5))
    assert interval.lower == (3, 1, 2, 2) and interval.upper == (3, 5, 6, 5)
    assert interval.astuple() == (3, None, None, None) and interval.is_dynamic
    assert str(interval) == repr(interval) == "(3, 1:5, 2:6, 2:5)"
    fixed = ds.abc[1].shape_interval
    assert fixed == ShapeInterval((5, 6, 2)) and not fixed.is_dynamic and fixed.astuple() == (5, 6, 2)
    assert str(ShapeInterval((0,))) == "(0,)"
    low, high = interval  # still the (lower, upper) pair
    assert low == interval.lower
    with pytest.raises(ValueError):
        ShapeInterval((1, 2), (1,))
    with pytest.raises(ValueError):
        ShapeInterval((3,), (2,))


def test_memory_provider_is_a_mapping_of_bytes(mem_url):
    from deeplake_nb.core.storage import MemoryProvider

    provider = MemoryProvider(mem_url)
    provider["a"] = b"1"
    provider["b/c"] = bytearray(b"22")
    assert dict(provider) == {"a": b"1", "b/c": b"22"} and len(provider) == 2 and "a" in provider
    assert provider.get_bytes("b/c", 1, 2) == b"2"
    del provider["a"]
    assert list(provider) == ["b/c"] and MemoryProvider(mem_url)["b/c"] == b"22"
    with pytest.raises(KeyError):
        provider["a"]
    with pytest.raises(errors.ObjectNotFoundError):
        del provider["a"]
    provider.enable_readonly()
    with pytest.raises(errors.ReadOnlyError):
        provider["x"] = b""
    provider.disable_readonly()
    provider.clear()
    assert len(provider) == 0


def test_local_provider_and_base_storage(tmp_path):
    from deeplake_nb.core.storage import LocalProvider
    from deeplake_nb.util.remove_cache import get_base_storage

    provider = LocalProvider(tmp_path / "store")
    provider["dir/file.bin"] = b"\x00\x01"
    assert (tmp_path / "store" / "dir" / "file.bin").read_bytes() == b"\x00\x01"
    assert get_base_storage(provider) is provider
    with pytest.raises(errors.StorageError):
        LocalProvider("mem://x")


def test_dataset_storage_is_its_location(ds_path, mem_url):
    from deeplake_nb.core.storage import LocalProvider, MemoryProvider

    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.append(1)
    assert isinstance(ds.storage, LocalProvider) and ds.storage.root == ds_path
    assert set(ds.storage) and all(ds.storage[k] == (pathlib.Path(ds_path) / k).read_bytes() for k in ds.storage)
    assert isinstance(dl.empty(mem_url).storage, MemoryProvider)
    with pytest.raises(errors.ReadOnlyError):
        dl.load(ds_path, read_only=True).storage["junk"] = b"x"


def test_storage_autoflush_follows_with_blocks(ds_path, mem_url):
    from deeplake_nb.core.storage import MemoryProvider

    ds = dl.empty(ds_path)
    storage = ds.storage
    assert storage.autoflush is True  # outside `with ds:` each write is published at once
    with ds:
        ds.create_tensor("x")
        assert storage.autoflush is False and ds.storage.autoflush is False
        with ds:
            assert ds.storage.autoflush is False
        assert ds.storage.autoflush is False  # the outer block still holds the writes
        ds.storage.autoflush = False  # its present value: accepted
    assert storage.autoflush is True and "x" in dl.load(ds_path).tensors
    with pytest.raises(errors.UnsupportedFeatureError, match="with ds:"):
        ds.storage.autoflush = False
    assert ds.storage.autoflush is True
    assert dl.load(ds_path, read_only=True).storage.autoflush is True
    assert MemoryProvider(mem_url).autoflush is True  # its own writes go to storage at once


def test_s3_provider_checks_its_url():
    from deeplake_nb.core.storage import S3Provider

    with pytest.raises(errors.StorageError):
        S3Provider("/not/s3")
    with pytest.raises(errors.UnsupportedFeatureError):
        S3Provider("s3://bucket/p", profile_name="dev")


def test_like_copies_the_schema_without_samples(tmp_path):
    src = dl.dataset(tmp_path / "src")
    src.info.update(key=0)
    src.create_tensor("a", htype="image", sample_compression="png")
    src.create_tensor("b", htype="class_label", class_names=["cat", "dog"])
    src.create_tensor("g/c")
    src.create_tensor("d", dtype=bool)
    src.d.info.update(key=1)
    src.g.c.extend(np.ones((3, 2, 2)))
    dest = dl.like(tmp_path / "dest", src)
    assert list(dest.tensors) == ["a", "b", "g/c", "d"] and len(dest) == 0
    assert (dest.a.htype, dest.a.sample_compression, dest.b.info.class_names) == ("image", "png", ["cat", "dog"])
    assert dest.d.dtype == bool and dest.info.key == 0 and dest.d.info.key == 1
    dest.g.c.append(np.ones(5))  # a fresh tensor: any number of dimensions
    assert len(src.g.c) == 3
    only = dl.like(tmp_path / "only", src, tensors=["g", "d"])
    assert list(only.tensors) == ["g/c", "d"]
    with pytest.raises(errors.TensorExistsError):
        dl.like(src, src)
    emptied = dl.like(str(tmp_path / "src"), str(tmp_path / "src"), overwrite=True)
    assert len(emptied.g.c) == 0 and emptied.b.info.class_names == ["cat", "dog"]


def test_delete_guards_large_datasets(tmp_path, monkeypatch):
    path = str(tmp_path / "big")
    ds = dl.empty(path)
    ds.create_tensor("data")
    ds.data.extend(np.zeros((100, 2000)))
    monkeypatch.setattr(constants, "DELETE_SAFETY_SIZE", 1 << 20)
    with pytest.raises(errors.DatasetTooLargeError):
        dl.delete(path)
    assert dl.exists(path)
    dl.delete(path, large_ok=True)
    assert not dl.exists(path)


def test_dataset_names_and_paths():
    from deeplake_nb.util.path import convert_string_to_pathlib_if_needed, verify_dataset_name

    verify_dataset_name("folders/datasets/dataset name")
    verify_dataset_name("s3://bucket/data-set_123")
    for bad in ("folder/datasets/dataset name *", "s3://bucket/Mnist 123", "hub://org/mnist$train"):
        with pytest.raises(errors.StorageError):
            verify_dataset_name(bad)
    assert convert_string_to_pathlib_if_needed("a/b", True) == pathlib.Path("a/b")
    assert convert_string_to_pathlib_if_needed("mem://a", True) == "mem://a"
    assert convert_string_to_pathlib_if_needed("a/b") == "a/b"


def test_parse_complex_htype_in_v3s_order():
    from deeplake_nb.util.htype import parse_complex_htype

    assert parse_complex_htype("sequence") == (True, False, None)
    assert parse_complex_htype("sequence[image]") == (True, False, "image")
    assert parse_complex_htype("link[image]") == (False, True, "image")
    assert parse_complex_htype("link[sequence[image]]") == parse_complex_htype("sequence[link[image]]") == (
        True, True, "image")
    for bad in ("link", "sequence[link]", "random[image]", "link(image)", "sequence[link[image[uint8]]]"):
        with pytest.raises(ValueError):
            parse_complex_htype(bad)


def test_testing_helpers(ds):
    from deeplake_nb.util.testing import assert_array_equal, compare_version_info

    ds.create_tensor("x")
    ds.x.extend([np.ones(2), np.ones(3)])
    assert_array_equal(ds.x, [np.ones(2), np.ones(3)])
    with pytest.raises(AssertionError):
        assert_array_equal(ds.x, [np.ones(2), np.zeros(3)])
    info = {"commits": {"a": {"children": ["b", "c"], "parent": None}}, "branches": ["main"]}
    compare_version_info(info, {"commits": {"a": {"children": ["c", "b"], "parent": None}}, "branches": ["main"]})
    with pytest.raises(AssertionError):
        compare_version_info(info, {"commits": {"a": {"children": ["b"], "parent": None}}, "branches": ["main"]})


def test_diff_helpers(ds):
    from deeplake_nb.util.diff import get_all_changes_string, get_lowest_common_ancestor, sanitize_commit

    ds.create_tensor("x")
    ds.x.append(1)
    base = ds.commit("base")
    ds.checkout("alt", create=True)
    ds.x.append(2)
    alt = ds.commit("alt")
    ds.checkout("main")
    ds.x.append(3)
    head = ds.commit("main")
    assert sanitize_commit("alt", ds) == alt and sanitize_commit(alt[12:24], ds) == alt
    assert get_lowest_common_ancestor(ds, alt) == get_lowest_common_ancestor(ds, alt, head) == base
    assert get_lowest_common_ancestor(ds, head, head) == head
    with pytest.raises(errors.UnsupportedFeatureError):
        get_lowest_common_ancestor(object(), object())
    changes = ds.diff(alt, as_dict=True)
    text = get_all_changes_string(changes["dataset"][0], changes["dataset"][1], changes["tensor"][0],
                                  changes["tensor"][1], "title", "Diff in HEAD:\n", f"Diff in {alt} (target id):\n")
    ds.diff(alt)
    assert "title" in text and "Diff in HEAD:" in text and "* Added 1 sample: [1-1]" in text


def test_standalone_info_round_trips():
    info = dl.api.info.Info()
    info["x"] = np.arange(6).reshape(2, 3)
    info.name = "n"
    again = dl.api.info.Info.frombuffer(info.tobytes())
    np.testing.assert_array_equal(again["x"], info["x"])
    assert again.name == "n" and len(again) == 2


@pytest.mark.parametrize("use", [
    lambda: __import__("deeplake_nb.util.keys", fromlist=["x"]).get_commit_info_key("abc"),
    lambda: __import__("deeplake_nb.util.version_control", fromlist=["x"]).integrity_check(None),
    lambda: __import__("deeplake_nb.util.version_control", fromlist=["x"]).rebuild_version_info(None),
    lambda: __import__("deeplake_nb.util.merge", fromlist=["x"])._get_required_chunks_for_range(None, 0, 1),
    lambda: __import__("deeplake_nb.core.storage", fromlist=["x"]).GCSProvider("gcs://b/p"),
    lambda: __import__("deeplake_nb.core.storage.azure", fromlist=["x"]).AzureProvider("az://b/p"),
    lambda: __import__("deeplake_nb.core.link_creds", fromlist=["x"]).LinkCreds().add_creds_key("k", managed=True),
    lambda: __import__("deeplake_nb.core.meta.encode.creds", fromlist=["x"]).CredsEncoder(),
    lambda: __import__("deeplake_nb.client.client", fromlist=["x"]).DeepLakeBackendClient(),
])
def test_unsupported_v3_features_raise_one_clear_error(use):
    with pytest.raises(errors.UnsupportedFeatureError, match="Deep Lake v3 feature") as info:
        use()
    assert isinstance(info.value, NotImplementedError) and ";" in str(info.value)  # says what to do instead
