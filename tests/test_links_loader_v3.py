"""Deep Lake v3 forms around linked files and the loader: ``Dataset(storage=provider)``, the v3
``LinkCreds`` of ``deeplake.core.link_creds`` (its storage providers) and a linked sample's
stored reference (``tensor[i]._linked_sample()``)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.core.storage import LocalProvider, MemoryProvider
from deeplake_nb.errors import DatasetError, DatasetNotFoundError, ReadOnlyError


def _filled(path: str) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images")
        ds.create_tensor("labels")
        ds.images.extend(np.arange(10 * 4 * 4, dtype=np.float32).reshape(10, 4, 4))
        ds.labels.extend(np.arange(10))
    return ds


# -- Dataset(storage=...) -----------------------------------------------------------------------
def test_dataset_over_storage_reads_the_stored_dataset(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, verbose=False)
    assert opened.path == ds.path
    assert not opened.read_only
    np.testing.assert_array_equal(opened.images.numpy(), ds.images.numpy())
    opened.labels.append(10)  # writable: the provider is
    assert len(dl.load(ds.path).labels) == 11


def test_dataset_over_storage_read_only(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    assert opened.read_only
    with pytest.raises(ReadOnlyError):
        opened.labels.append(1)
    assert len(dl.load(ds.path).labels) == 10


def test_dataset_over_read_only_provider_is_read_only(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    provider = LocalProvider(ds.path)
    provider.enable_readonly()
    opened = dl.Dataset(storage=provider)  # read_only=None follows the provider
    assert opened.read_only
    with pytest.raises(ReadOnlyError):
        opened.labels.append(1)


def test_dataset_over_memory_provider():
    ds = _filled("mem://storage_form")
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    np.testing.assert_array_equal(opened.labels.numpy().reshape(-1), np.arange(10))


def test_dataset_over_storage_without_dataset(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        dl.Dataset(storage=LocalProvider(str(tmp_path / "nothing")))
    with pytest.raises(DatasetNotFoundError):
        dl.Dataset(storage=MemoryProvider("mem://no_dataset_here"))


def test_dataset_refuses_what_is_not_a_provider(tmp_path):
    with pytest.raises(DatasetError):
        dl.Dataset(storage=str(tmp_path))
    with pytest.raises(DatasetError):
        dl.Dataset()


def test_loader_with_two_workers_over_read_only_storage_form(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    labels = sorted(int(batch["labels"].reshape(-1)[0]) for batch in opened.pytorch(num_workers=2))
    assert labels == list(range(10))
