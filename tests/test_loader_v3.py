"""Deep Lake v3's ``ds.pytorch(...)`` options and output structure: ``batch_size=None``,
``buffer_size``, ``"index"`` (never a tensor, always in the batch), ``decode_method`` ``"data"``,
dict transforms, ``transform_kwargs``, ``tobytes``, ``collate_fn``, ``drop_last``, views,
``EmptyTensorError``, and the options accepted for compatibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deeplake_nb as dl
from deeplake_nb import errors

N = 10
ANIMALS = ["cat", "dog", "bird", "fish", "horse", "cow", "pig", "sheep", "goat", "hen"]


def identity(x):
    return x


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    """image[i] (i+1, i+1) float64 filled with i; image2[i] (4, 4) with i; text, json, class
    label, uint16 per row; a 10x10 PNG per row whose pixels are i."""
    path = str(tmp_path_factory.mktemp("loader_v3") / "ds")
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("image")
        ds.create_tensor("image2")
        ds.create_tensor("text", htype="text")
        ds.create_tensor("json", htype="json")
        ds.create_tensor("label", htype="class_label", class_names=ANIMALS)
        ds.create_tensor("small", dtype="uint16")
        ds.create_tensor("png", htype="image", sample_compression="png")
        ds.extend({
            "image": [i * np.ones((i + 1, i + 1)) for i in range(N)],
            "image2": [i * np.ones((4, 4)) for i in range(N)],
            "text": [f"hello {i}" for i in range(N)],
            "json": [{"x": i} for i in range(N)],
            "label": ANIMALS,
            "small": np.arange(N, dtype=np.uint16),
            "png": [np.full((10, 10, 3), i, np.uint8) for i in range(N)],
        })
    ds.commit("data")
    return ds


def rows(loader) -> list[int]:
    return [int(i) for batch in loader for i in np.atleast_1d(batch["index"].numpy())]


# -- output structure ----------------------------------------------------------------------------------
def test_batch_size_none_yields_single_samples(ds):
    batch = next(iter(ds.pytorch(tensors=["image2", "text", "label", "small"], batch_size=3)))
    assert list(batch.keys()) == ["image2", "text", "label", "small", "index"]  # return_index defaults to True
    assert batch["text"] == ["hello 0", "hello 1", "hello 2"]  # batched text: a list of str
    assert batch["label"].shape == (3, 1) and batch["label"].dtype == torch.int64  # uint32 widened
    assert batch["small"].dtype == torch.int32 and batch["index"].dtype == torch.int64  # uint16 widened
    loader = ds.pytorch(tensors=["image", "text", "label"], batch_size=None)
    samples = list(loader)
    assert len(loader) == len(samples) == N
    for i, sample in enumerate(samples):
        assert sample["text"] == f"hello {i}"  # a str, not a list of one
        assert sample["image"].shape == (i + 1, i + 1) and float(sample["image"].max()) == i
        assert sample["label"].shape == (1,) and int(sample["label"][0]) == i
        assert sample["index"].ndim == 0 and int(sample["index"]) == i
    shuffled = ds.pytorch(tensors=["image2"], batch_size=None, shuffle=True, seed=3, drop_last=True)
    assert sorted(rows(shuffled)) == list(range(N))


def test_batch_size_none_applies_collate_fn_to_each_sample(ds):
    loader = ds.pytorch(tensors=["text"], batch_size=None, collate_fn=lambda sample: sample["text"].upper())
    assert list(loader) == [f"HELLO {i}" for i in range(N)]


def test_batch_size_none_with_worker_processes(ds):
    loader = ds.pytorch(tensors=["image2", "text"], batch_size=None, num_workers=2)
    samples = list(loader)
    assert [s["text"] for s in samples] == [f"hello {i}" for i in range(N)]
    assert all(s["image2"].shape == (4, 4) for s in samples)


def test_buffer_size_is_accepted_and_changes_nothing(ds):
    orders = [rows(ds.pytorch(tensors=["image2"], shuffle=True, seed=5, buffer_size=size)) for size in (0, 10, 2048)]
    assert orders[0] == orders[1] == orders[2] and sorted(orders[0]) == list(range(N))
    for bad in (-1, 1.5, "big", True):
        with pytest.raises(ValueError, match="buffer_size"):
            ds.pytorch(tensors=["image2"], buffer_size=bad)


def test_compatibility_options_are_accepted(ds, capsys):
    loader = ds.pytorch(tensors=["image2"], batch_size=5, use_local_cache=True, use_progress_bar=True)
    assert rows(loader) == list(range(N))
    assert "2/2" in capsys.readouterr().err  # a tqdm bar over the batches
    with pytest.raises(errors.LoaderOptionError, match="use_local_cache"):
        ds.pytorch(tensors=["image2"], use_local_cache="yes")


# -- "index" -------------------------------------------------------------------------------------------
def test_index_is_not_a_tensor_unless_one_is_named_so(ds, tmp_path):
    with pytest.raises(ValueError, match="return_index"):
        ds.pytorch(tensors=["image2", "index"])
    ds = dl.empty(str(tmp_path / "idx"))
    ds.create_tensor("index", dtype="int64")
    ds["index"].extend(np.arange(5) * 7)
    batch = next(iter(ds.pytorch(tensors=["index"], batch_size=5)))
    assert batch["index"].reshape(-1).tolist() == [0, 7, 14, 21, 28]  # the tensor, not the row numbers


def test_index_in_a_dict_transform(ds):
    loader = ds.pytorch(transform={"image2": lambda x: x * 2, "index": lambda i: i + 1000}, batch_size=5)
    batch = next(iter(loader))
    assert list(batch.keys()) == ["image2", "index"]
    assert batch["index"].tolist() == [1000, 1001, 1002, 1003, 1004]
    assert batch["image2"][:, 0, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


# -- decode methods --------------------------------------------------------------------------------------
def test_decode_method_data_gives_what_tensor_data_gives(ds):
    methods = {name: "data" for name in ds.tensors}
    loader = ds.pytorch(batch_size=1, decode_method=methods, collate_fn=identity)
    for i, batch in enumerate(loader):
        sample = batch[0]
        assert sample["text"] == {"value": f"hello {i}"}
        assert sample["json"] == {"value": {"x": i}}
        assert sample["label"]["value"].tolist() == [i] and sample["label"]["text"] == [ANIMALS[i]]
        assert sample["label"]["text"] == ds.label[i].data()["text"]
        assert sample["png"]["value"].shape == (10, 10, 3) and int(sample["png"]["value"].max()) == i
        assert sample["image"]["value"].shape == (i + 1, i + 1)
        assert int(sample["index"]) == i


def test_tobytes_option_and_decode_methods(ds):
    batch = next(iter(ds.pytorch(tensors=["png", "image2"], tobytes=["png"], batch_size=2)))
    assert batch["png"][0] == ds.png[0].tobytes() and isinstance(batch["image2"], torch.Tensor)
    everything = next(iter(ds.pytorch(tensors=["png", "image2"], tobytes=True, batch_size=2)))
    assert everything["image2"][1] == np.ones((4, 4)).tobytes()
    pil = next(iter(ds.pytorch(tensors=["png"], decode_method={"png": "pil"}, collate_fn=identity)))
    assert np.asarray(pil[0]["png"]).max() == 0
    with pytest.raises(errors.LoaderOptionError, match="tobytes"):
        ds.pytorch(tensors=["png"], tobytes=["image2"])


# -- transforms, collate, drop_last ----------------------------------------------------------------------
def to_tuple(sample, t1, t2):
    return sample[t1], sample[t2]


def test_transform_kwargs_and_tuple_batches(ds):
    loader = ds.pytorch(tensors=["image2", "small"], transform=to_tuple, batch_size=4,
                        transform_kwargs={"t1": "small", "t2": "image2"})
    small, image2 = next(iter(loader))
    assert small.tolist() == [[0], [1], [2], [3]] and image2.shape == (4, 4, 4)
    with pytest.raises(errors.LoaderOptionError, match="transform_kwargs"):
        ds.pytorch(transform={"small": None}, transform_kwargs={"a": 1})


# -- views ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [slice(2, 7), slice(3, 10, 2), slice(None, None, -1), slice(None, None, -2),
                                   [2, 3, 4], [4, 3, 2, 1], [2, 2, 4, 4, 9, 9, 9]])
def test_single_samples_over_a_view(ds, index):
    expected = np.arange(N)[index].tolist()
    loader = ds[index].pytorch(tensors=["image", "text"], batch_size=None)
    got = [(int(s["index"]), s["text"]) for s in loader]
    assert got == [(i, f"hello {i}") for i in expected]
    for s in ds[index].pytorch(tensors=["image"], batch_size=None, shuffle=True):
        assert float(s["image"].max()) == int(s["index"]) and s["image"].shape[0] == int(s["index"]) + 1


def test_loader_over_a_column_view_loads_its_tensors(ds):
    batch = next(iter(ds[["text", "small"]][0:4].pytorch(batch_size=4)))
    assert list(batch.keys()) == ["text", "small", "index"]


# -- empty tensors ---------------------------------------------------------------------------------------------
def test_empty_tensor_raises_when_the_loader_is_made(tmp_path):
    ds = dl.empty(str(tmp_path / "e"))
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.extend(list(range(5)))
    with pytest.raises(errors.EmptyTensorError, match="'y'"):
        ds.pytorch()
    with pytest.raises(ValueError):
        ds.pytorch(tensors=["x", "y"])
    with pytest.raises(errors.TensorError):
        ds.dataloader().pytorch()
    assert [int(b["x"][0, 0]) for b in ds.pytorch(tensors=["x"])] == [0, 1, 2, 3, 4]
    assert list(ds[0:0].pytorch(tensors=["x"])) == []  # an empty view of a filled tensor is fine
