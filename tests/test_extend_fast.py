"""``extend`` of a list of same-shape small arrays (boxes, points, labels) takes the one-array path
(``format.uniform_batch``); it stores exactly what the per-sample path stores and refuses exactly
what it refuses, with the same message naming the same sample."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import ClassLabelError, DtypeMismatchError, SampleError, ShapeMismatchError
from deeplake_nb.format import uniform_batch

from batch_spy import count_batches


@pytest.fixture
def used(monkeypatch):
    """The number of batches the one-array path encoded."""
    return count_batches(monkeypatch, uniform_batch)


def per_sample(monkeypatch):
    monkeypatch.setattr(uniform_batch, "MIN_BATCH", 10**9)


def stored(ds: dl.Dataset, name: str) -> tuple:
    """Every sample's values and dtype, the shapes, and the tensor's meta (dtype, ndim, layout)."""
    t = ds[name]
    values = t.numpy(aslist=True)
    meta = t.meta
    return ([np.asarray(v).tolist() for v in values], [str(np.asarray(v).dtype) for v in values],
            np.asarray(t.shapes()).tolist(), (meta.dtype, meta.ndim, meta.layout))


def build(path, name: str, batches: list, **kwargs) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    ds.create_tensor(name, **kwargs)
    with ds:
        for batch in batches:
            ds[name].extend(batch)
    return dl.load(path, read_only=True)


CASES = {
    "boxes (1, 4) float32": ({"htype": "bbox"}, lambda rng: [rng.random((1, 4), np.float32) * 100 for _ in range(50)]),
    "boxes (3, 4) int into float32": ({"htype": "bbox"}, lambda rng: [rng.integers(0, 500, (3, 4)) for _ in range(20)]),
    "points (2, 2) int32": ({"htype": "point"}, lambda rng: [rng.integers(-9, 9, (2, 2)).astype(np.int32)
                                                             for _ in range(30)]),
    "labels (1,) uint32": ({"htype": "class_label"}, lambda rng: [np.array([k % 4], np.uint32) for k in range(40)]),
    "embeddings (8,) float32": ({"htype": "embedding"}, lambda rng: [rng.random(8, np.float32) for _ in range(25)]),
    "generic uint8 (2, 3)": ({"dtype": "uint8"}, lambda rng: [rng.integers(0, 255, (2, 3), np.uint8)
                                                              for _ in range(30)]),
    "bool masks": ({"htype": "binary_mask"}, lambda rng: [rng.random((4, 5, 1)) > 0.5 for _ in range(10)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_stores_what_the_per_sample_path_stores(tmp_path, monkeypatch, used, case):
    kwargs, make = CASES[case]
    values = make(np.random.default_rng(3))
    batches = [values[: len(values) // 2], values[len(values) // 2:]]
    fast = build(tmp_path / "fast", "x", batches, **kwargs)
    assert used() == 2
    per_sample(monkeypatch)
    slow = build(tmp_path / "slow", "x", batches, **kwargs)
    assert used() == 2  # no more
    assert stored(fast, "x") == stored(slow, "x")
    np.testing.assert_array_equal(fast.x.numpy(), slow.x.numpy())
    assert fast.x.shape == slow.x.shape and fast.x.dtype == slow.x.dtype


def test_dataset_extend_with_boxes_and_labels(tmp_path, used):
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    boxes = [np.array([[i, i + 1, 10, 20]], np.float32) for i in range(100)]
    with ds:
        ds.extend({"labels": [i % 2 for i in range(100)], "boxes": boxes})
    assert used() == 1
    assert ds.boxes.shape == (100, 1, 4)
    np.testing.assert_array_equal(dl.load(ds.path, read_only=True).boxes.numpy(), np.stack(boxes))
    boxes[0][0, 0] = 99  # the stored rows are a copy of the caller's arrays
    assert ds.boxes[0].numpy()[0, 0] == 0


def errors(tmp_path, monkeypatch, values, first=None, **kwargs) -> tuple[str, str]:
    """(the fast path's error, the per-sample path's error) for extending with ``values`` (after
    a ``first`` sample, which fixes the tensor's dimensions)."""
    messages = []
    for k in range(2):
        if k:
            per_sample(monkeypatch)
        ds = dl.empty(tmp_path / f"e{k}", overwrite=True)
        ds.create_tensor("x", **kwargs)
        if first is not None:
            ds.x.append(first)
        with pytest.raises(SampleError) as info:
            ds.x.extend(values)
        assert len(ds.x) == (first is not None)  # nothing of the batch was written
        messages.append(f"{type(info.value).__name__}: {info.value}")
    return messages[0], messages[1]


@pytest.mark.parametrize("kwargs,values,error,where", [
    ({"htype": "bbox"}, [np.zeros((1, 4)) for _ in range(5)], DtypeMismatchError, "sample 0"),  # float64: rounded
    ({"dtype": "uint8"}, [np.array([1, 2])] * 3 + [np.array([1, 300])], DtypeMismatchError, "sample 3"),
    ({"htype": "bbox"}, [np.zeros((1, 4), np.float32)] * 2 + [np.zeros((1, 5), np.float32)] * 2,
     ShapeMismatchError, "sample 2"),
    ({"htype": "bbox"}, [np.zeros((1, 5), np.float32)] * 4, ShapeMismatchError, "sample 0"),  # one shape, refused
    ({"htype": "class_label", "class_names": ["a", "b"], "fixed_class_names": True},
     [np.array([1], np.uint32)] * 3 + [np.array([2], np.uint32)], ClassLabelError, "sample 3"),
])
def test_refuses_what_the_per_sample_path_refuses(tmp_path, monkeypatch, used, kwargs, values, error, where):
    fast, slow = errors(tmp_path, monkeypatch, values, **kwargs)
    assert fast == slow
    assert fast.startswith(error.__name__) and where in fast


def test_samples_of_other_dimensions_are_refused(tmp_path, monkeypatch):
    fast, slow = errors(tmp_path, monkeypatch, [np.zeros(3, np.uint8)] * 4, first=np.zeros((2, 3), np.uint8),
                        dtype="uint8")
    assert fast == slow and "sample 0" in fast and "dimensions" in fast


def test_single_float64_values_into_float32_pass_as_before(tmp_path, used):
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="float32")
    ds.x.extend([np.array([0.5]), np.array([1.5]), np.array([2.5])])  # one value each: checked by range only
    np.testing.assert_array_equal(ds.x.numpy().ravel(), [0.5, 1.5, 2.5])
    assert ds.x.dtype == np.float32


def test_mixed_batches_take_the_per_sample_path(tmp_path, used):
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("boxes", htype="bbox")
    ds.boxes.extend([np.zeros((1, 4), np.float32), np.ones((2, 4), np.float32), None, [[1, 2, 3, 4]]])
    assert used() == 0
    assert [tuple(ds.boxes[i].numpy().shape) for i in range(4)] == [(1, 4), (2, 4), (0, 4), (1, 4)]


def test_ignore_errors_skips_the_bad_sample_only(tmp_path):
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="uint8")
    ds.x.extend([np.array([1, 2]), np.array([3, 400]), np.array([5, 6])], ignore_errors=True)
    np.testing.assert_array_equal(ds.x.numpy(), [[1, 2], [5, 6]])


def test_images_links_and_compressed_tensors_keep_their_path(tmp_path, used):
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("raw", htype="image", dtype="uint8")
    ds.create_tensor("packed", dtype="float32", sample_compression="lz4")
    ds.images.extend([np.zeros((4, 4, 3), np.uint8)] * 2)
    ds.raw.extend([np.zeros((4, 4), np.uint8)] * 2)
    ds.packed.extend([np.zeros(3, np.float32)] * 2)
    assert used() == 0


@pytest.mark.parametrize("values", [np.array([0, 2, 1, 2], dtype=np.uint32), [np.int64(0), np.uint8(2), 1, 2],
                                    np.array([0, 2, 1, 2], dtype=np.int16)])
def test_numpy_class_ids_take_the_one_array_path(tmp_path, monkeypatch, values):
    """Class ids as NumPy integers (what an ingest passes: an array of ids) are stored as one
    array, exactly as the per-sample path stores them."""
    from deeplake_nb.core.tensor import Tensor

    fast, prepare = [], Tensor._prepare_int_labels

    def spy(self, batch):
        result = prepare(self, batch)
        fast.append(result is not None)
        return result

    monkeypatch.setattr(Tensor, "_prepare_int_labels", spy)
    ds = dl.empty(str(tmp_path / "fast"))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    ds.labels.extend(values)
    assert fast == [True]
    monkeypatch.setattr(Tensor, "_prepare_int_labels", lambda self, batch: None)
    slow = dl.empty(str(tmp_path / "slow"))
    slow.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    slow.labels.extend(values)
    assert stored(ds, "labels") == stored(slow, "labels")


def test_class_ids_the_one_array_path_cannot_hold_go_per_sample(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label", class_names=["a"])
    with pytest.raises(DtypeMismatchError, match="sample 1 of the batch"):
        ds.labels.extend(np.array([0, -3]))
    # a Python int beside a uint64 past int64 makes NumPy pick float64: not taken as one array
    ds.create_tensor("wide", htype="class_label", dtype="uint64")
    ds.wide.extend([1, np.uint64(2**63 + 1)])
    assert ds.wide.numpy().ravel().tolist() == [1, 2**63 + 1]


def test_meta_document_written_once_per_extend_and_per_flush(tmp_path, monkeypatch):
    """Tensors that a batch fixes (ndim) and columns that pick their layout in a flush record it in
    one write of the meta document each (``DatasetState.meta_saved_once``), and it reads back."""
    from deeplake_nb.core import dataset as dataset_module

    ds = dl.empty(tmp_path / "ds")
    for name in ("a", "b", "c"):
        ds.create_tensor(name, dtype="float32")
    writes = []
    update = dataset_module.update_attributes  # the meta document's one writer
    monkeypatch.setattr(dataset_module, "update_attributes",
                        lambda store, group, attrs: writes.append(1) or update(store, group, attrs))
    with ds:
        ds.extend({"a": [np.zeros(3, np.float32)] * 4, "b": [np.zeros((2, 2), np.float32)] * 4,
                   "c": [np.zeros(k + 1, np.float32) for k in range(4)]})
        assert len(writes) == 1  # three tensors got their ndim
    assert len(writes) == 2  # three columns picked a layout in the flush
    back = dl.load(tmp_path / "ds", read_only=True)
    assert [back[n].meta.ndim for n in "abc"] == [1, 2, 1]
    assert [back[n].meta.layout for n in "abc"] == [ds[n].meta.layout for n in "abc"]
    assert back.c[3].numpy().shape == (4,)


def test_meta_is_saved_when_a_flush_fails(tmp_path, monkeypatch):
    from deeplake_nb.format.tensor_store import TensorStore

    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("a", dtype="float32")
    ds.a.meta.info["note"] = "x"  # in memory only
    state = ds._state  # noqa: SLF001 - the state the test drives
    monkeypatch.setattr(TensorStore, "flush", lambda self: state.save_meta() or (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        state.flush(publish=False)
    monkeypatch.undo()
    ds.flush()
    assert dl.load(tmp_path / "ds", read_only=True).a.meta.info["note"] == "x"


def test_progress_bars_off_import_nothing():
    from deeplake_nb.core.tensor import SilentBar, progress

    assert isinstance(progress(10, "x", False), SilentBar) and isinstance(progress(0, "x", True), SilentBar)
    with progress(5, "x", False) as bar:
        bar.update(3)
    from tqdm import tqdm

    shown = progress(None, "x", True)  # an unknown total is shown
    assert isinstance(shown, tqdm)
    shown.close()
