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
    ds.pop(-1)
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
