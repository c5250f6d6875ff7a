"""Updates, pops and dtype checks as Deep Lake v3 users meet them: negative pop indices refused,
float arrays never silently narrowed, integers never silently rounded, and the shape bounds and
sequence updates where this library deliberately differs (see docs/COMPATIBILITY.md)."""

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors


@pytest.fixture
def ds(tmp_path):
    return dl.empty(str(tmp_path / "ds"))


# -- pop ------------------------------------------------------------------------------------------
def test_tensor_pop_refuses_negative_indices_and_changes_nothing(ds):
    ds.create_tensor("abc")
    ds.abc.extend(np.arange(10))
    for bad in (-1, [2, -3], -10):
        with pytest.raises(IndexError, match="refuses negative"):
            ds.abc.pop(bad)
    assert ds.abc.numpy().ravel().tolist() == list(range(10))
    with pytest.raises(errors.SampleIndexError, match="out of range"):
        ds.abc.pop(10)
    ds.abc.pop()
    ds.abc.pop([0, 8])
    assert ds.abc.numpy().ravel().tolist() == [1, 2, 3, 4, 5, 6, 7]


def test_dataset_pop_refuses_negative_indices_with_tensors_of_unequal_length(ds):
    with ds:
        ds.create_tensor("images")
        ds.create_tensor("labels")
        ds.images.extend(np.arange(8))
        ds.labels.extend(np.arange(4))
    with pytest.raises(IndexError, match=r"pop\(\) to remove the last sample, or pop\(7\)"):
        ds.pop(-5)  # counted from which tensor's end? refused, as in v3
    assert len(ds.images) == 8 and len(ds.labels) == 4
    ds.pop(5)  # only the longest tensor has row 5
    assert ds.images.numpy().ravel().tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 2, 3]
    ds.pop()
    assert len(ds.images) == 6 and len(ds.labels) == 4


# -- dtype checks ---------------------------------------------------------------------------------
def test_a_wider_float_array_is_refused_by_a_float32_tensor(ds):
    inferred = ds.create_tensor("inferred")  # its dtype comes from its first sample
    inferred.append(np.ones((10, 10), np.float32))
    explicit = ds.create_tensor("explicit", dtype="float32")
    for tensor in (inferred, explicit):
        with pytest.raises(errors.DtypeMismatchError, match="np.asarray\\(x, dtype='float32'\\)") as caught:
            tensor.append(np.ones((10, 10), np.float64))
        assert isinstance(caught.value, (ValueError, TypeError))
        with pytest.raises(errors.SampleError):
            tensor.extend(np.random.rand(3, 10, 10))  # every sample is a float64 array
    with pytest.raises(errors.SampleError):
        inferred[0:1] = [np.zeros((10, 10))]  # an update too
    assert len(inferred) == 1 and len(explicit) == 0
    assert inferred.dtype == np.float32 and inferred.numpy().sum() == 100


def test_single_values_and_python_lists_are_checked_by_range_only(ds):
    t = ds.create_tensor("t", dtype="float32")
    t.append(np.array([1.0]))          # one element: a number, as v3 reads it
    t.append(np.float64(0.1))          # a NumPy scalar, e.g. a computed mean
    t.append([0.1, 0.2, 0.3])          # Python floats carry no dtype
    t.append(np.ones(3, np.float16))   # narrower floats widen
    t.append(np.arange(3))             # small integers are exact in float32
    assert [s.dtype for s in t.numpy(aslist=True)] == [np.float32] * 5
    np.testing.assert_allclose(t[2].numpy(), [0.1, 0.2, 0.3], rtol=1e-7)
    with pytest.raises(errors.DtypeMismatchError, match="overflow dtype float32"):
        t.append(np.array([1.0, 1e300]))  # overflow is named before narrowing


def test_writing_part_of_a_sample_rounds_floats_as_numpy_assignment_does(ds):
    t = ds.create_tensor("t", dtype="float32")
    t.append(np.zeros((2, 3), np.float32))
    t[0, 1] = np.array([0.5, 1.5, 2.5])  # float64 values into part of a float32 sample
    assert t[0].numpy().dtype == np.float32
    assert t[0].numpy()[1].tolist() == [0.5, 1.5, 2.5]


def test_integers_without_an_exact_float_value_are_refused(ds):
    t = ds.create_tensor("t", dtype="float32")
    t.append(np.array([2 ** 24, 3, -(2 ** 24)]))  # exact
    with pytest.raises(errors.DtypeMismatchError, match="16777217 .* no exact float32 value") as caught:
        t.append(np.array([1, 2 ** 24 + 1]))
    assert "16777216" in str(caught.value)  # what it would have become
    with pytest.raises(errors.DtypeMismatchError):
        t.append(2 ** 62 + 1)
    t.append(2 ** 62)  # a power of two is exact
    assert len(t) == 2 and t[1].numpy().item() == 2.0 ** 62
    wide = ds.create_tensor("wide", dtype="float64")
    with pytest.raises(errors.DtypeMismatchError):
        wide.append(np.array([2 ** 53 + 1], np.int64))
    wide.append(np.array([2 ** 53], np.int64))
    assert len(wide) == 1


def test_float32_largest_value_given_as_a_python_float_is_stored_exactly(ds):
    # v3 refuses it (NumPy 1's value-based casting compares with 3.4e38); it fits exactly here
    t = ds.create_tensor("t", dtype="float32")
    t.append(float(np.finfo(np.float32).max + 1))  # float32 arithmetic: max + 1 == max
    assert t[0].numpy().item() == float(np.finfo(np.float32).max)
    with pytest.raises(errors.DtypeMismatchError, match="overflow"):
        t.append(float(np.finfo(np.float32).max) * 2)


# -- deliberate differences ------------------------------------------------------------------------
def test_shape_interval_bounds_the_current_samples_after_shrinking_updates(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("images", htype="image", sample_compression=None)
    ds.images.extend(np.ones((10, 28, 28), np.uint8))  # a batch of 2-D images, as in v3
    ds.images[0] = np.ones((32, 32), np.uint8)
    assert ds.images.shape_interval.upper == (10, 32, 32)
    ds.images[0] = np.ones((28, 28), np.uint8)  # v3 would keep reporting 32, a size no sample has
    ds.images[9] = np.ones((28, 50), np.uint8)
    ds.images[8] = np.ones((0, 5), np.uint8)
    ds = dl.load(path)
    assert ds.images.shape_interval.lower == (10, 0, 5)
    assert ds.images.shape_interval.upper == (10, 28, 50)
    assert ds.images.meta.min_shape == [0, 5] and ds.images.meta.max_shape == [28, 50]
    ds.images[8] = ds.images[9] = np.ones((28, 28), np.uint8)
    assert ds.images.shape == (10, 28, 28) and not ds.images.is_dynamic


def test_ds_update_replaces_sequences_with_other_item_counts_or_changes_nothing(ds):
    with ds:
        ds.create_tensor("seq", htype="sequence")
        ds.create_tensor("seq_image", htype="sequence[image]", sample_compression="png")
        ds.seq.extend([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        ds.seq_image.extend([[np.zeros((4, 5, 3), np.uint8)] * 2] * 3)
    ones = np.ones((6, 7, 3), np.uint8)
    ds[1:].update({"seq": [[1, 2], [3]], "seq_image": [[ones], [ones, ones, ones]]})
    assert [len(s) for s in ds.seq.numpy(aslist=True)] == [3, 2, 1]
    assert ds.seq_image.shapes()[2].tolist() == [[6, 7, 3]] * 3
    assert ds.seq_image[1].shape == (1, 6, 7, 3)
    with pytest.raises(errors.SampleError):  # a bad item: neither tensor changes
        ds[:2].update({"seq": [[0], [0]], "seq_image": [[ones], [np.zeros((2, 2, 3), np.float32)]]})
    assert [item.item() for item in ds.seq.numpy(aslist=True)[0]] == [1, 2, 3]
    assert ds.seq_image[0].shape == (2, 4, 5, 3)


def test_sequence_of_png_images_updated_with_jpeg_files_item_by_item_and_whole(ds, tmp_path):
    from PIL import Image

    def jpeg(name, shape, seed):
        path = str(tmp_path / f"{name}.jpg")
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, np.uint8)).save(path)
        return dl.read(path)

    files = [jpeg("a", (10, 20, 3), 1), jpeg("b", (12, 30, 3), 2), jpeg("c", (9, 11), 3)]  # c: grayscale
    new = [jpeg("d", (6, 8, 3), 4), jpeg("e", (17, 13), 5), jpeg("f", (5, 25, 3), 6)]
    arrs = np.random.default_rng(0).integers(0, 256, (3, 13, 17, 3), np.uint8)
    with ds:
        ds.create_tensor("x", htype="sequence[image]", sample_compression="png")
        ds.x.extend([arrs, files, arrs])
    ds.x[0][1] = new[1]  # one item
    np.testing.assert_array_equal(ds.x[0][1].numpy().squeeze(), new[1].array.squeeze())
    ds.x[1] = new  # a whole sequence
    for item, file in zip(ds.x[1], new):
        np.testing.assert_array_equal(item.numpy().squeeze(), file.array.squeeze())
    np.testing.assert_array_equal(ds.x[2].numpy(), arrs)
    assert ds.x[1].shape == (3, None, None, None) and ds.x[0][1].shape == (17, 13, 1)
