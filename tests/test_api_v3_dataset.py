"""Deep Lake v3's dataset-level API: the keyword arguments of empty/load/dataset/exists/delete/
copy/deepcopy/like (creds, token, org_id, access_method, check_integrity ...), dataset names,
and copies of one row."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr

import deeplake_nb as dl
from deeplake_nb.core import open_options
from deeplake_nb.errors import (CorruptDatasetError, DatasetNotFoundError, DatasetOptionError, StorageError,
                                UnsupportedFeatureError, ViewOperationError)


def _filled(path, n=10):
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images/a")
        ds.create_tensor("label")
        ds.create_tensor("other")
        for i in range(n):
            ds.images.a.append(np.full((4, 4, 3), i, dtype=np.uint8))
            ds.label.append(np.array([i, i + 1]))
            ds.other.append(i)
    return ds


# -- dl.copy of one row ---------------------------------------------------------------------------
def test_copy_of_one_row_opens_as_that_row(tmp_path):
    ds = _filled(str(tmp_path / "src"))
    dest = str(tmp_path / "dest")
    copied = dl.copy(ds[7], dest, tensors=["images", "label"])
    for target in (copied, dl.load(dest), dl.load(dest, read_only=True), dl.dataset(dest)):
        assert set(target.tensors) == {"images/a", "label"}
        for name in target.tensors:
            np.testing.assert_array_equal(target[name].numpy(), ds[name][7].numpy())
        assert target.images.a.numpy().shape == (4, 4, 3)
    doc = zarr.open_group(store=dl.load(dest).zarr_store(), mode="r").attrs["deeplake_nb"]
    assert doc["single_row"] is True


def test_copy_of_slices_and_whole_datasets_stays_a_dataset(tmp_path):
    ds = _filled(str(tmp_path / "src"))
    for i, index in enumerate([slice(7, 8), [7], slice(None)]):
        dest = str(tmp_path / f"dest{i}")
        dl.copy(ds[index], dest)
        loaded = dl.load(dest)
        np.testing.assert_array_equal(loaded.label.numpy(), ds.label[index].numpy())
        assert loaded.index is None
        doc = zarr.open_group(store=loaded.zarr_store(), mode="r").attrs["deeplake_nb"]
        assert "single_row" not in doc


# -- v3 keyword arguments -------------------------------------------------------------------------
V3_OPEN = dict(token="hub-token", verbose=False, lock_timeout=5, lock_enabled=False, memory_cache_size=64,
               local_cache_size=0, index_params={"threshold": 1}, org_id="my-org")


def test_v3_keywords_are_taken_for_local_paths(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path, public=True, runtime=None, **V3_OPEN)
    ds.create_tensor("x")
    ds.x.append(1)
    assert dl.exists(path, token="t", creds={"aws_access_key_id": "unused"}, org_id="o")
    loaded = dl.load(path, access_method="stream", check_integrity=False, indra=False, unlink=False, **V3_OPEN)
    assert loaded.x.numpy().tolist() == [[1]]
    again = dl.dataset(path, public=False, creds="ENV", **V3_OPEN)
    assert again.x.numpy().tolist() == [[1]]
    dl.like(str(tmp_path / "shape"), path, token="t", public=True, verbose=False, creds={}, org_id="o")
    dl.copy(path, str(tmp_path / "copy"), token="t", num_workers=2, scheduler="threaded", src_creds={},
            dest_creds="ENV", public=False, verbose=False)
    dl.deepcopy(path, str(tmp_path / "deep"), token="t", num_workers=2, scheduler="serial", verbose=False)
    dl.delete(path, token="t", verbose=True, creds={}, org_id="o")
    assert not dl.exists(path)


@pytest.mark.parametrize("call", [
    lambda p: dl.load(p, tokn="x"),
    lambda p: dl.empty(p, access_method="stream"),
    lambda p: dl.exists(p, verbose=True),
    lambda p: dl.delete(p, public=True),
])
def test_a_keyword_the_function_does_not_take_is_a_type_error(tmp_path, call):
    path = str(tmp_path / "ds")
    dl.empty(path)
    with pytest.raises(TypeError, match="unexpected keyword"):
        call(path)
    assert dl.exists(path)


def test_org_id_applies_to_local_datasets_only():
    for call in (dl.empty, dl.load, dl.dataset, dl.exists, dl.delete):
        with pytest.raises(DatasetOptionError, match="org_id") as info:
            call("s3://bucket/orgs", org_id="org")
        assert isinstance(info.value, ValueError)
    assert len(dl.empty("mem://orgs", org_id="org")) == 0  # v3 counts mem:// as local


def test_hub_paths_are_refused_before_their_token_or_org_id(tmp_path):
    for call in (dl.empty, dl.load, dl.dataset):
        with pytest.raises(StorageError):
            call("hub://org/name", token="invalid token")
        with pytest.raises(StorageError):
            call("hub://org/name", org_id="org")
    with pytest.raises(ValueError):  # v3's like checks org_id first
        dl.like("hub://org/name", str(tmp_path / "missing"), org_id="org")


def test_tensor_db_runtime_is_refused(tmp_path):
    with pytest.raises(UnsupportedFeatureError, match="Tensor Database"):
        dl.empty(str(tmp_path / "ds"), runtime={"tensor_db": True})
    assert not os.path.exists(tmp_path / "ds")


def test_creds_become_storage_options_for_s3_only():
    creds = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "aws_session_token": None,
             "endpoint_url": "http://127.0.0.1:9000", "aws_region": "eu-west-1", "expiration": 12}
    options = open_options.merge_creds("s3://b/ds", creds, {"region": "us-east-1"})
    assert options == {"aws_access_key_id": "k", "aws_secret_access_key": "s", "endpoint_url": "http://127.0.0.1:9000",
                       "aws_region": "eu-west-1", "region": "us-east-1"}
    assert open_options.merge_creds("s3://b/ds", "ENV", {"region": "x"}) == {"region": "x"}
    assert open_options.merge_creds("/local/ds", creds, None) is None
    with pytest.raises(UnsupportedFeatureError, match="managed"):
        open_options.merge_creds("s3://b/ds", {"creds_key": "k"}, None)
    with pytest.raises(UnsupportedFeatureError, match="profile"):
        open_options.merge_creds("s3://b/ds", {"profile_name": "p"}, None)
    with pytest.raises(DatasetOptionError):
        open_options.merge_creds("s3://b/ds", "MY_CREDS", None)


def test_v3_creds_open_an_s3_dataset(moto_s3):
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": moto_s3.endpoint,
             "aws_region": "us-east-1"}
    ds = dl.empty("s3://bucket/v3-creds", overwrite=True, creds=creds)
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    assert dl.exists("s3://bucket/v3-creds", creds=creds)
    assert dl.load("s3://bucket/v3-creds", creds=creds, read_only=True).x.numpy().tolist() == [[1], [2]]
    dl.delete("s3://bucket/v3-creds", creds=creds)
    assert not dl.exists("s3://bucket/v3-creds", creds=creds)


# -- access methods -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["streaming", "stream:2", "download:1:2", "download:a:b", 3])
def test_unknown_access_methods_are_refused(tmp_path, value):
    path = str(tmp_path / "ds")
    dl.empty(path)
    with pytest.raises(DatasetOptionError, match="access_method"):
        dl.load(path, access_method=value)


def test_download_needs_its_directory(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    dl.empty(path)
    monkeypatch.delenv(open_options.DOWNLOAD_PATH_ENV, raising=False)
    with pytest.raises(DatasetOptionError, match="DEEPLAKE_DOWNLOAD_PATH"):
        dl.load(path, access_method="download")
    with pytest.raises(DatasetOptionError, match="unlink"):
        dl.load(path, unlink=True)
    monkeypatch.setenv(open_options.DOWNLOAD_PATH_ENV, str(tmp_path / "downloads"))
    with pytest.raises(UnsupportedFeatureError, match="unlink"):
        dl.load(path, access_method="download", unlink=True)
    with pytest.raises(DatasetOptionError, match="overwrite"):
        dl.dataset(path, access_method="download", overwrite=True)
    with pytest.raises(DatasetNotFoundError):
        dl.load(str(tmp_path / "missing"), access_method="download")


def test_download_and_local_open_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv(open_options.DOWNLOAD_PATH_ENV, str(tmp_path / "downloads"))
    src = str(tmp_path / "src")
    ds = dl.empty(src)
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    first = ds.commit("two")
    copy = dl.load(src, access_method="download:2")
    assert copy.path == os.path.join(str(tmp_path / "downloads"), src.replace("/", "_"))
    assert copy.x.numpy().tolist() == [[1], [2]] and copy.commit_id == first
    copy.x.append(9)  # the copy is a dataset of its own
    assert len(dl.load(src).x) == 2
    ds.x.append(3)
    assert len(dl.load(src, access_method="local").x) == 3  # the existing copy, not downloaded again
    assert len(dl.load(src, access_method="download:threaded:2").x) == 3  # downloaded again: the source's 3
    assert len(dl.dataset(src, access_method="local", read_only=True).x) == 3


# -- check_integrity ------------------------------------------------------------------------------
def test_check_integrity_finds_rows_without_data(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3])
    assert len(dl.load(path, check_integrity=True).x) == 3
    store = ds.zarr_store()
    zarr.open_group(store=store)["x/data"].resize((1, 1))  # damage: rows listed, data gone
    store.publish()
    assert len(dl.load(path).x) == 3  # not checked unless asked for
    with pytest.raises(CorruptDatasetError, match="'x'"):
        dl.load(path, check_integrity=True)


# -- deepcopy -------------------------------------------------------------------------------------
def test_deepcopy_refuses_v3_tokens_views_groups_and_subsets(tmp_path):
    ds = _filled(str(tmp_path / "src"))
    dest = str(tmp_path / "dest")
    for name in ("src_token", "dest_token"):
        with pytest.raises(UnsupportedFeatureError, match=name):
            dl.deepcopy(ds.path, dest, **{name: "t"})
        with pytest.raises(UnsupportedFeatureError, match=name):
            dl.copy(ds.path, dest, **{name: "t"})
    for part in (ds[1:3], ds["images"], ds[["label"]]):
        with pytest.raises(ViewOperationError, match="dl.copy"):
            dl.deepcopy(part, dest)
    with pytest.raises(UnsupportedFeatureError, match="every tensor"):
        dl.deepcopy(ds, dest, tensors=["label"])
    assert not os.path.exists(dest)
    with pytest.raises(StorageError, match="name"):
        dl.deepcopy(ds, str(tmp_path / "bad name?"))
    assert dl.deepcopy(ds, dest, token="t").label.numpy().tolist() == ds.label.numpy().tolist()


# -- dataset names --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dataset name *", "a?b", "x:y", "café"])
def test_new_datasets_need_v3_names(tmp_path, name):
    path = str(tmp_path / "folder" / name)
    for create in (dl.empty, dl.dataset):
        with pytest.raises(StorageError, match="Invalid dataset name"):
            create(path)
    with pytest.raises(StorageError, match="Invalid dataset name"):
        dl.copy(_filled(str(tmp_path / "src")), path)
    assert not os.path.exists(path)


def test_remote_names_allow_fewer_characters(tmp_path):
    from deeplake_nb.util.path import verify_dataset_name

    with pytest.raises(StorageError, match="remote"):
        dl.empty("s3://bucket/my.dataset")
    dl.empty(str(tmp_path / "my data-set_1.v2"))  # spaces and dots are fine locally
    dl.empty("mem://a b.c")
    verify_dataset_name("s3://bucket/ds/views/my.view")  # saved views' copies are exempt, as v3's /queries/
    verify_dataset_name("s3://bucket/ds/queries/my.view")


def test_a_one_row_copy_pickles_as_that_row(tmp_path):
    import pickle

    ds = _filled(str(tmp_path / "src"))
    dl.copy(ds[3], str(tmp_path / "one"))
    row = pickle.loads(pickle.dumps(dl.load(str(tmp_path / "one"))))
    assert row.label.numpy().tolist() == [3, 4]


def test_a_dataset_document_without_single_row_reads_as_before():
    from deeplake_nb.format.meta import DatasetMeta

    doc = DatasetMeta().to_json()
    assert "single_row" not in doc
    assert DatasetMeta.from_json(json.loads(json.dumps(doc))).single_row is False
    assert DatasetMeta.from_json({**doc, "single_row": True}).single_row is True
