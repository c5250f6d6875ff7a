"""Deep Lake v3's ``ds.pytorch(...)`` options and output structure: batches that unpack into their
values, ``batch_size=None``, ``buffer_size``, ``"index"`` (never a tensor; a (1,) array per sample,
seen by transforms, kept by a dict transform only when named), ``decode_method`` ``"numpy"`` and
``"data"``, dict transforms, ``transform_kwargs``, ``tobytes``, ``collate_fn``, ``drop_last``,
views, ``loader.dataset``, in-memory datasets, ``EmptyTensorError`` / ``TensorNotFoundError``, and
the options accepted for compatibility."""

from __future__ import annotations

import pickle

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
    return [int(i) for batch in loader for i in batch["index"].numpy().reshape(-1)]


# -- output structure ----------------------------------------------------------------------------------
def test_batch_size_none_yields_single_samples(ds):
    batch = next(iter(ds.pytorch(tensors=["image2", "text", "label", "small"], batch_size=3)))
    assert list(batch.keys()) == ["image2", "text", "label", "small", "index"]  # return_index defaults to True
    assert batch["index"].tolist() == [[0], [1], [2]]  # (N, 1), as in Deep Lake v3
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
        assert sample["index"].tolist() == [i]  # (1,): v3's sample index without the batch dimension
    shuffled = ds.pytorch(tensors=["image2"], batch_size=None, shuffle=True, seed=3, drop_last=True)
    assert sorted(rows(shuffled)) == list(range(N))


def test_batch_size_none_applies_collate_fn_to_each_sample(ds):
    loader = ds.pytorch(tensors=["text"], batch_size=None, collate_fn=lambda sample: sample["text"][0].upper())
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
    assert batch["index"][:, 0].tolist() == [1000, 1001, 1002, 1003, 1004]
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
        assert sample["index"].tolist() == [i]


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
    got = [(int(s["index"][0]), s["text"]) for s in loader]
    assert got == [(i, f"hello {i}") for i in expected]
    for s in ds[index].pytorch(tensors=["image"], batch_size=None, shuffle=True):
        assert float(s["image"].max()) == int(s["index"][0]) and s["image"].shape[0] == int(s["index"][0]) + 1


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


# -- batch structure (Deep Lake v3: iterating a batch gives its values) ----------------------------------------
@pytest.mark.parametrize("num_workers", [0, 2])
def test_batches_unpack_into_their_values_in_tensor_order(ds, num_workers):
    loader = ds.pytorch(tensors=["small", "image2"], batch_size=4, return_index=False, num_workers=num_workers)
    for i, (small, image2) in enumerate(loader):
        assert small[:, 0].tolist() == list(range(4 * i, min(4 * i + 4, N)))
        assert image2[:, 0, 0].tolist() == [float(v) for v in small[:, 0].tolist()]
    batch = next(iter(loader))
    assert isinstance(batch, dl.loader.TensorDict) and isinstance(batch, dict)
    assert list(batch.keys()) == ["small", "image2"] and "small" in batch and "index" not in batch
    assert [k for k, _ in batch.items()] == ["small", "image2"] and list(dict(batch)) == ["small", "image2"]
    again = pickle.loads(pickle.dumps(batch))
    small, image2 = again
    assert type(again) is type(batch) and torch.equal(small, batch["small"])


def test_single_samples_and_pinned_batches_keep_the_batch_type(ds):
    sample = next(iter(ds.pytorch(tensors=["image2", "small"], batch_size=None, return_index=False)))
    image2, small = sample
    assert image2.shape == (4, 4) and small.tolist() == [0]
    pinned = next(iter(ds.pytorch(tensors=["image2", "small"], batch_size=2, pin_memory=True)))
    assert isinstance(pinned, dl.loader.TensorDict)


# -- "index" -----------------------------------------------------------------------------------------------
def index_and_twice(sample):
    return sample["index"], sample["image2"] * 2


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_callable_transform_sees_the_index(ds, num_workers):
    loader = ds.pytorch(tensors=["image2"], batch_size=4, shuffle=True, seed=1, num_workers=num_workers,
                        transform=index_and_twice)
    seen = []
    for index, image2 in loader:  # the transform's tuple, nothing added after it
        assert index.shape == (len(image2), 1)
        assert image2[:, 0, 0].tolist() == [2.0 * i for i in index[:, 0].tolist()]
        seen += index[:, 0].tolist()
    assert sorted(seen) == list(range(N))
    with pytest.raises(errors.TransformError, match="KeyError"):  # no "index" without return_index
        next(iter(ds.pytorch(tensors=["image2"], transform=index_and_twice, return_index=False)))


def test_a_dict_transform_keeps_the_index_only_when_it_names_it(ds):
    twice = {"image2": lambda x: x * 2}
    assert list(next(iter(ds.pytorch(transform=twice, batch_size=2))).keys()) == ["image2"]
    named = next(iter(ds.pytorch(transform={**twice, "index": None}, batch_size=2)))
    assert list(named.keys()) == ["image2", "index"] and named["index"].tolist() == [[0], [1]]
    with pytest.raises(errors.LoaderOptionError, match="return_index"):
        ds.pytorch(transform={**twice, "index": None}, return_index=False)


def test_a_dict_transform_with_a_gpu_compose_keeps_the_index_only_when_named(ds):
    compose = dl.gpu.Compose([dl.gpu.Normalize(mean=(0.0,) * 3, std=(1.0,) * 3)], device="cpu")
    plain = next(iter(ds.pytorch(tensors=["png", "small"], batch_size=4, transform={"png": compose, "small": None})))
    assert list(plain.keys()) == ["png", "small"] and isinstance(plain, dl.loader.TensorDict)
    named = next(iter(ds.pytorch(tensors=["png", "small"], batch_size=4,
                                 transform={"png": compose, "small": None, "index": None})))
    assert list(named.keys()) == ["png", "small", "index"] and named["index"][:, 0].tolist() == [0, 1, 2, 3]
    assert named["png"].shape == (4, 3, 10, 10)


# -- decode methods (Deep Lake v3: "numpy" is what tensor[i].numpy() gives) --------------------------------
@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    ds = dl.empty(str(tmp_path_factory.mktemp("loader_v3") / "objects"))
    with ds:
        ds.create_tensor("text", htype="text")
        ds.create_tensor("json", htype="json")
        ds.create_tensor("list", htype="list")
        ds.create_tensor("tag", htype="tag")
        ds.extend({"text": [f"t{i}" for i in range(4)], "json": [{"x": i} for i in range(4)],
                   "list": [[i, i + 1] for i in range(4)], "tag": [["a", f"b{i}"] for i in range(4)]})
    return ds


def test_numpy_decoding_gives_what_tensor_numpy_gives(objects):
    seen = {}

    def keep(name):
        def fn(value):
            seen.setdefault(name, []).append(value)
            return value
        return fn
    loader = objects.pytorch(transform={name: keep(name) for name in objects.tensors}, batch_size=4)
    batch = next(iter(loader))
    for name in objects.tensors:
        for i, value in enumerate(seen[name]):
            want = objects[name][i].numpy()
            assert type(value) is type(want) and value.dtype == want.dtype and value.tolist() == want.tolist()
    assert batch["text"] == ["t0", "t1", "t2", "t3"]  # batched text: a list of str
    assert batch["tag"] == [["a", "b0"], ["a", "b1"], ["a", "b2"], ["a", "b3"]]
    assert batch["json"] == [{"x": i} for i in range(4)] and batch["list"] == [[i, i + 1] for i in range(4)]
    json_x = next(iter(objects.pytorch(transform={"json": lambda s: s[0]["x"]}, batch_size=4)))
    assert json_x["json"].tolist() == [0, 1, 2, 3]
    single = next(iter(objects.pytorch(batch_size=None)))
    assert single["text"] == "t0" and single["json"] == {"x": 0} and single["tag"] == ["a", "b0"]


def test_torch_dataset_samples_batch_with_default_collate(objects):
    dataset = objects.torch_dataset(tensors=["text", "json", "list"])
    assert dataset[2]["text"] == "t2" and dataset[2]["json"] == {"x": 2} and dataset[2]["list"] == [2, 3]
    batch = next(iter(torch.utils.data.DataLoader(objects.torch_dataset(tensors=["text", "json"]), batch_size=3)))
    assert batch["text"] == ["t0", "t1", "t2"] and batch["json"]["x"].tolist() == [0, 1, 2]
    assert batch["index"].tolist() == [[0], [1], [2]]


def test_data_decoding_follows_deep_lake_v3s_loader(objects):
    methods = {name: "data" for name in objects.tensors}
    samples = next(iter(objects.pytorch(decode_method=methods, batch_size=4, collate_fn=identity)))
    for i, sample in enumerate(samples):
        assert sample["text"] == {"value": f"t{i}"} and sample["json"] == {"value": {"x": i}}
        assert isinstance(sample["list"]["value"], np.ndarray) and sample["list"]["value"].tolist() == [i, i + 1]
        assert sample["tag"]["value"].tolist() == ["a", f"b{i}"]


def test_unsupported_decode_methods_are_value_errors(ds):
    with pytest.raises(ValueError, match="pil"):
        ds.pytorch(tensors=["image2"], decode_method={"image2": "pil"})


# -- loader.dataset ------------------------------------------------------------------------------------------
def test_loader_dataset_is_the_map_style_view_of_its_samples(ds):
    loader = ds[2:8].pytorch(tensors=["image2", "text"], batch_size=4, shuffle=True,
                             transform={"image2": lambda x: x + 1, "index": None})
    assert len(loader.dataset) == 6 and isinstance(loader.dataset, torch.utils.data.Dataset)
    sample = loader.dataset[1]
    assert sample["index"].tolist() == [3] and float(sample["image2"][0, 0]) == 4.0
    assert sample["text"] == "hello 3"  # a str, as torch's default_collate batches it


# -- errors ----------------------------------------------------------------------------------------------------
def test_an_unknown_tensor_is_a_tensor_not_found_error(ds):
    with pytest.raises(errors.TensorNotFoundError, match="'nope'") as info:
        ds.pytorch(tensors=["image2", "nope"])
    assert isinstance(info.value, KeyError)


# -- in-memory datasets -----------------------------------------------------------------------------------------
def test_in_memory_datasets_load_in_threads_and_forked_workers():
    ds = dl.empty("mem://")
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(10))
    for options in ({}, {"num_workers": 2}, {"num_workers": 2, "multiprocessing_context": "fork"}):
        assert [b["x"][:, 0].tolist() for b in ds.pytorch(batch_size=5, **options)] == [[0, 1, 2, 3, 4],
                                                                                         [5, 6, 7, 8, 9]]
    for context in ("spawn", "forkserver"):  # a fresh process has no copy of this memory
        with pytest.raises(errors.LoaderError, match="num_workers=0"):
            ds.pytorch(num_workers=2, multiprocessing_context=context)


# -- dl.random (Deep Lake v3's deeplake.random) -------------------------------------------------------------
def test_the_global_seed_fixes_the_shuffle_of_loaders_made_without_one(ds):
    try:
        dl.random.seed(7)
        assert dl.random.get_seed() == 7 and dl.random is dl.core.seed.DeeplakeRandom()
        first, second = (ds.pytorch(tensors=["image2"], shuffle=True, batch_size=2) for _ in range(2))
        assert first.seed == second.seed == 7
        assert rows(first) == rows(second) == rows(ds.pytorch(tensors=["image2"], shuffle=True, seed=7, batch_size=2))
        assert ds.pytorch(tensors=["image2"], shuffle=True, seed=3).seed == 3  # an explicit seed wins
        with pytest.raises(TypeError, match="int or None"):
            dl.random.seed("7")
        assert dl.random.get_seed() == 7
    finally:
        dl.random.seed()
    assert dl.random.get_seed() is None
    assert len({ds.pytorch(tensors=["image2"], shuffle=True).seed for _ in range(3)}) == 3  # fresh seeds again
