"""Two Deep Lake v3 behaviours: ``dl.copy`` / ``ds.copy`` into an open empty dataset (v3's
"a Dataset instance ... expected to be empty"), and polygon batches of a ``batch_size=1`` loader in
v3's layout (torch's ``default_collate`` of one sample: one (1, points, dims) tensor per polygon)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors


@pytest.fixture
def polygons(tmp_path) -> tuple[dl.Dataset, list[list[np.ndarray]]]:
    rng = np.random.default_rng(0)
    samples = [[rng.integers(0, 100, (int(rng.integers(3, 9)), 2)) for _ in range(int(rng.integers(1, 6)))]
               for _ in range(6)]
    ds = dl.empty(str(tmp_path / "poly"))
    ds.create_tensor("polygons", htype="polygon")
    ds.create_tensor("labels", htype="class_label")
    ds.polygons.extend(samples)
    ds.labels.extend(list(range(6)))
    ds.flush()
    return ds, samples


@pytest.mark.parametrize("num_workers", [0, 2])
def test_polygon_batches_of_one_come_one_tensor_per_polygon(polygons, num_workers):
    ds, samples = polygons
    seen = 0
    for i, batch in enumerate(ds.pytorch(num_workers=num_workers)):
        got = batch["polygons"]
        assert isinstance(got, list) and len(got) == len(samples[i])
        for want, tensor in zip(samples[i], got):
            assert tuple(tensor.shape) == (1, *want.shape)
            np.testing.assert_array_equal(tensor[0].numpy(), want)
        assert batch["labels"].tolist() == [[i]]
        seen += 1
    assert seen == len(samples)


def test_polygon_batches_of_several_samples_list_each_samples_polygons(polygons):
    ds, samples = polygons
    batches = list(ds.pytorch(batch_size=4, output="numpy"))
    got = [sample for batch in batches for sample in batch["polygons"]]
    assert len(got) == len(samples)
    for want, sample in zip(samples, got):
        assert len(sample) == len(want)
        for p, q in zip(want, sample):
            np.testing.assert_array_equal(p, q)


def test_copy_into_an_open_empty_dataset(polygons):
    ds, samples = polygons
    target = dl.empty("mem://")
    out = dl.copy(ds[[4, 1, 1]], target, progressbar=False)
    assert out is target
    assert list(target.tensors) == ["polygons", "labels"]
    assert target.labels.numpy().reshape(-1).tolist() == [4, 1, 1]
    for want, got in zip([samples[4], samples[1], samples[1]], target.polygons.numpy()):
        assert len(want) == len(got)
    single = ds[2].copy(dl.empty("mem://"), progressbar=False)  # the method, one row: v3's one-row copy
    assert single.labels.numpy().reshape(-1).tolist() == [2]


def test_copy_into_a_dataset_that_holds_tensors_or_is_read_only_is_refused(polygons, tmp_path):
    ds, _ = polygons
    busy = dl.empty(str(tmp_path / "busy"))
    busy.create_tensor("x")
    busy.x.append(1)
    with pytest.raises(errors.DatasetExistsError, match="empty"):
        dl.copy(ds, busy, progressbar=False)
    assert list(busy.tensors) == ["x"] and busy.x.numpy().reshape(-1).tolist() == [1]
    dl.empty(str(tmp_path / "ro")).flush()
    read_only = dl.load(str(tmp_path / "ro"), read_only=True)
    with pytest.raises(errors.ReadOnlyError):
        dl.copy(ds, read_only, progressbar=False)
    assert list(dl.load(str(tmp_path / "ro")).tensors) == []


def test_copy_into_an_open_dataset_checks_the_v3_options_as_into_a_path(polygons):
    ds, _ = polygons
    target = dl.empty("mem://")
    with pytest.raises(TypeError, match="unexpected keyword"):
        dl.copy(ds, target, progressbar=False, no_such_option=1)
    with pytest.raises(errors.UnsupportedFeatureError):
        dl.copy(ds, target, progressbar=False, runtime={"tensor_db": True})
    assert list(target.tensors) == []
