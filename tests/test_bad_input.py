"""Bad input raises a specific error with a helpful message and leaves the dataset exactly as it
was: same lengths, data, ids, metadata and class names, in memory and after reopening."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from version_support import root_document
from deeplake_nb import errors


@pytest.fixture(scope="module")
def full_template(tmp_path_factory, image) -> str:
    """A dataset with one row in every tensor, including a fixed class list (built once)."""
    root = tmp_path_factory.mktemp("template")
    jpeg = root / "first.jpg"
    jpeg.write_bytes(simplejpeg.encode_jpeg(image(24, 32)))
    ds = dl.empty(root / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.create_tensor("fixed", htype="class_label", class_names=["yes", "no"], fixed_class_names=True)
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("caption", htype="text")
    ds.create_tensor("group/score", dtype="float32")
    ds.append({"images": dl.read(jpeg), "labels": "dog", "fixed": "no",
               "boxes": np.array([[1, 2, 3, 4]], np.float32), "emb": np.ones(8, np.float32),
               "caption": "first", "group/score": [0.5]})
    ds.info.description = "fixture"
    return ds.path


@pytest.fixture
def full(full_template, ds_path) -> dl.Dataset:
    """A private copy of the template dataset."""
    shutil.copytree(full_template, ds_path)
    return dl.load(ds_path)


def good_row(image) -> dict:
    return {"images": image(16, 16), "labels": "cat", "fixed": "yes", "boxes": np.zeros((2, 4), np.float32),
            "emb": np.zeros(8, np.float32), "caption": "fine", "group/score": [1.0]}


# -- one tensor, one bad sample -------------------------------------------------------------------
BAD_SAMPLES = [
    ("images", np.zeros((8, 8, 3), np.float32), errors.DtypeMismatchError, "stores uint8"),
    ("images", np.full((8, 8, 3), 256), errors.DtypeMismatchError, "do not fit dtype uint8"),
    ("images", np.zeros((8, 8, 3, 1), np.uint8), errors.ShapeMismatchError, "image sample must be"),
    ("images", np.zeros(8, np.uint8), errors.ShapeMismatchError, "image sample must be"),
    ("images", np.zeros((8, 8, 4), np.uint8), errors.UnsupportedCompressionError, "sample_compression='png'"),
    ("emb", ["a", "b", "c", "d", "e", "f", "g", "h"], errors.DtypeMismatchError, "stores float32"),
    ("emb", np.zeros((2, 8), np.float32), errors.ShapeMismatchError, "1-D"),
    ("boxes", np.zeros((2, 3), np.float32), errors.ShapeMismatchError, r"\(K, 4\)"),
    ("boxes", np.zeros((1, 1, 4), np.float32), errors.ShapeMismatchError, r"\(K, 4\)"),
    ("fixed", "maybe", errors.ClassLabelError, "fixed class list"),
    ("fixed", 7, errors.ClassLabelError, "0..1"),
    ("labels", [[1, 2]], errors.ShapeMismatchError, "1 dimensions"),  # 2-D labels, in a tensor of 1-D ones
    ("caption", 42, errors.DtypeMismatchError, "must be a str"),
    ("group/score", [[1.0, 2.0]], errors.ShapeMismatchError, "1 dimensions"),
    ("group/score", "high", errors.DtypeMismatchError, "float32"),
]


def test_bad_sample_changes_nothing(full, unchanged, subtests):
    check = unchanged(full)
    for tensor, value, error, message in BAD_SAMPLES:
        with subtests.test(tensor=tensor, error=error.__name__, message=message):
            with pytest.raises(error, match=message) as info:
                full[tensor].append(value)
            assert repr(tensor) in str(info.value)  # the message names the tensor
            good = full[tensor][0].numpy() if tensor != "caption" else "ok"
            with pytest.raises(error, match=message):
                full[tensor].extend([good, value])
            check(reload=False)
    check()


def test_bad_sample_in_the_middle_of_a_batch_is_located(full, unchanged):
    check = unchanged(full)
    with pytest.raises(errors.ShapeMismatchError, match="sample 2 of the batch"):
        full.emb.extend([np.zeros(8, np.float32), np.zeros(8, np.float32), np.zeros((8, 1), np.float32), np.zeros(8, np.float32)])
    check()


def test_new_class_names_of_a_failed_batch_are_not_kept(full, unchanged):
    check = unchanged(full)
    with pytest.raises(errors.DtypeMismatchError):
        full.labels.extend(["bird", "fish", 1.5])
    assert full.labels.info.class_names == ["cat", "dog"]
    check()


def test_bad_update_changes_nothing(full, unchanged, image):
    full.append(good_row(image))
    check = unchanged(full)
    with pytest.raises(errors.DtypeMismatchError):
        full.images[0] = np.zeros((4, 4, 3), np.float64)
    with pytest.raises(errors.ClassLabelError):
        full.fixed[1] = "perhaps"
    with pytest.raises(errors.ShapeMismatchError):
        full.boxes[0:2] = [np.zeros((1, 4), np.float32), np.zeros((1, 5), np.float32)]
    with pytest.raises(errors.SampleIndexError):
        full.emb[-5] = np.zeros(8, np.float32)  # (past the end pads with empty samples, as in Deep Lake)
    check()


# -- corrupt media --------------------------------------------------------------------------------
def test_truncated_jpeg_is_refused(full, unchanged, jpeg_file, tmp_path):
    _, data, _ = jpeg_file("whole.jpg", 40, 40)
    half = tmp_path / "half.jpg"
    half.write_bytes(data[: len(data) // 2])
    check = unchanged(full)
    with pytest.raises(errors.CorruptSampleError, match="truncated") as info:
        full.images.append(dl.read(half))
    assert "half.jpg" in str(info.value)
    check()
    with pytest.raises(errors.CorruptSampleError, match="truncated"):
        dl.read(half, verify=True)


@pytest.mark.parametrize("corrupt", [
    lambda data: data[:4] + b"\x00" * 200 + data[204:],   # header destroyed, end marker intact
    lambda data: b"GIF89a" + data[6:],                    # not a JPEG at all
    lambda data: b"",                                     # empty file
])
def test_corrupt_jpeg_is_refused(full, unchanged, jpeg_file, tmp_path, corrupt):
    _, data, _ = jpeg_file("whole.jpg", 40, 40)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(corrupt(data))
    check = unchanged(full)
    with pytest.raises(errors.CorruptSampleError, match="re-export|not a JPEG"):
        full.images.append(dl.read(bad))
    check()


def test_corrupt_jpeg_into_png_tensor_is_refused(ds, unchanged, jpeg_file, tmp_path):
    _, data, _ = jpeg_file("whole.jpg", 40, 40)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(data[:100] + b"\x00" * 200)
    ds.create_tensor("images", htype="image", sample_compression="png")
    check = unchanged(ds)
    with pytest.raises(errors.CorruptSampleError):
        ds.images.append(dl.read(bad))
    check()


def test_missing_file_is_refused(full, unchanged, tmp_path):
    check = unchanged(full)
    with pytest.raises(errors.LinkError, match="no-such.jpg"):
        full.images.append(dl.read(tmp_path / "no-such.jpg"))
    check()


# -- multi-tensor rows: all or nothing ------------------------------------------------------------
BAD_ROW_VALUES = [
    ("emb", ["x"] * 8, errors.DtypeMismatchError),
    ("boxes", np.zeros((1, 3), np.float32), errors.ShapeMismatchError),
    ("fixed", "maybe", errors.ClassLabelError),
    ("images", np.zeros((5, 5, 3), np.float32), errors.DtypeMismatchError),
    ("group/score", "x", errors.DtypeMismatchError),
]


def test_bad_value_in_a_row_appends_nothing(full, unchanged, image, subtests):
    check = unchanged(full)
    for tensor, value, error in BAD_ROW_VALUES:
        with subtests.test(tensor=tensor, error=error.__name__):
            row = good_row(image)
            row["labels"] = "a brand new class"  # would be appended to class_names if the row landed
            row[tensor] = value
            with pytest.raises(error, match=repr(tensor)):
                full.append(row)
            assert full.labels.info.class_names == ["cat", "dog"]
            rows = {k: [good_row(image)[k], v] for k, v in row.items()}
            with pytest.raises(error, match="sample 1 of the batch"):
                full.extend(rows)
            check(reload=False)
    check()


def test_malformed_rows_append_nothing(full, unchanged, image):
    check = unchanged(full)
    row = good_row(image)
    with pytest.raises(errors.SampleError, match="skip_ok=True"):
        full.append({"images": row["images"], "labels": "cat"})
    with pytest.raises(errors.TensorNotFoundError, match="create them first"):
        full.append({**row, "unknown": 1})
    with pytest.raises(errors.SampleError, match="same number of samples"):
        full.extend({k: [v, v] if k != "emb" else [v] for k, v in row.items()})
    with pytest.raises(errors.SampleError, match="not to a view"):
        full[0:1].append(row)
    with pytest.raises(errors.SampleError, match="not to a slice"):
        full.emb[0:1].append(np.zeros(8))
    check()


# -- tensor creation ------------------------------------------------------------------------------
BAD_TENSOR_OPTIONS = [
    ({"htype": "imagee"}, errors.UnknownHtypeError, "Known htypes"),
    ({"htype": "sequence[nope]"}, errors.UnknownHtypeError, "Known htypes"),
    ({"htype": "image", "sample_compression": "gif"}, errors.UnsupportedCompressionError, "jpeg, png, webp"),
    ({"chunk_compression": "snappy"}, errors.UnsupportedCompressionError, "zstd, lz4"),
    ({"htype": "text", "sample_compression": "png"}, errors.UnsupportedCompressionError, "lz4 or None"),
    ({"htype": "image.rgb", "dtype": "float32"}, errors.DtypeMismatchError, "stores uint8"),
    ({"htype": "bbox", "coords": {"type": "XYWH"}}, errors.DeepLakeNBError, "LTWH"),
]


def test_bad_tensor_options_create_nothing(full, unchanged, subtests):
    check = unchanged(full)
    for kwargs, error, message in BAD_TENSOR_OPTIONS:
        with subtests.test(**kwargs):
            with pytest.raises(error, match=message):
                full.create_tensor("new", **kwargs)
            assert "new" not in full.tensors
            check(reload=False)
    check()


INVALID_NAMES = [
    ("", "non-empty"),
    ("..", r"'\.\.'"),
    (".", r"'\.'"),
    ("a/../b", r"'\.\.'"),
    ("/", "non-empty"),
    ("_hidden", "reserved"),
    ("a/_id", "reserved"),
    ("bad:name", "letters, digits"),
    ("tab\tname", "letters, digits"),
    ("images/inside", "is a tensor"),
    (None, "non-empty string"),
]


def test_invalid_tensor_names(full, unchanged, subtests):
    check = unchanged(full)
    for name, message in INVALID_NAMES:
        with subtests.test(name=name):
            with pytest.raises(errors.InvalidNameError, match=message):
                full.create_tensor(name)
            with pytest.raises(errors.InvalidNameError):
                full.create_group(name)
            check(reload=False)
    check()


def test_names_clash_with_existing_tensors_and_groups(full, unchanged):
    check = unchanged(full)
    for name in ["images", "labels", "group", "group/score"]:
        with pytest.raises(errors.TensorExistsError, match=f"{name!r} already exists"):
            full.create_tensor(name)
    with pytest.raises(errors.TensorExistsError):
        full.group.create_tensor("score")
    with pytest.raises(errors.TensorExistsError, match="already exists"):
        full.create_group("images")
    check()


# -- opening and creating datasets ----------------------------------------------------------------
def test_load_of_paths_that_are_not_datasets(tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    (junk / "zarr.json").write_text("not json at all")
    with pytest.raises(errors.DatasetNotFoundError, match="no such directory"):
        dl.load(tmp_path / "missing")
    for path in (empty_dir, junk):
        with pytest.raises(errors.DatasetNotFoundError, match="dl.empty"):
            dl.load(path)
        assert not dl.exists(path)
    assert not (tmp_path / "missing").exists()  # load did not create it
    assert sorted(os.listdir(junk)) == ["notes.txt", "zarr.json"]


def test_load_of_a_plain_zarr_group_is_refused(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "plain"), mode="w", attributes={"x": 1})
    with pytest.raises(errors.DatasetNotFoundError, match="not a deeplake_nb dataset"):
        dl.load(tmp_path / "plain")
    with pytest.raises(errors.DatasetExistsError, match="not empty"):
        dl.empty(tmp_path / "plain")


def test_empty_over_existing_dataset_needs_overwrite(full, unchanged):
    check = unchanged(full)
    with pytest.raises(errors.DatasetExistsError, match="overwrite=True"):
        dl.empty(full.path)
    check()


def test_empty_over_non_dataset_directory_deletes_nothing(tmp_path):
    target = tmp_path / "photos"
    (target / "sub").mkdir(parents=True)
    (target / "a.jpg").write_bytes(b"precious")
    (target / "sub" / "b.txt").write_text("also precious")
    for overwrite in (False, True):
        with pytest.raises(errors.DatasetExistsError, match="not a deeplake_nb dataset"):
            dl.empty(target, overwrite=overwrite)
    with pytest.raises(errors.DatasetNotFoundError):
        dl.delete(target)
    assert (target / "a.jpg").read_bytes() == b"precious"
    assert (target / "sub" / "b.txt").read_text() == "also precious"
    assert sorted(os.listdir(target)) == ["a.jpg", "sub"]


def test_bad_storage_urls():
    with pytest.raises(errors.StorageError, match="empty"):
        dl.empty("")
    with pytest.raises(errors.StorageError, match="gcs"):
        dl.load("gcs://bucket/x")


def test_damaged_metadata_is_reported(ds_path):
    import json

    dl.empty(ds_path)
    doc = root_document(ds_path)
    doc["attributes"]["deeplake_nb"]["tensors"] = {"x": {"htype": "generic"}}
    root_document(ds_path, doc)
    with pytest.raises(errors.DatasetError, match="damaged"):
        dl.load(ds_path)


# -- read-only datasets ---------------------------------------------------------------------------
def test_read_only_dataset_refuses_every_write(full, unchanged, image):
    ro = dl.load(full.path, read_only=True)
    check = unchanged(ro)
    writes = [
        lambda: ro.append(good_row(image)),
        lambda: ro.extend({k: [v] for k, v in good_row(image).items()}),
        lambda: ro.emb.append(np.zeros(8, np.float32)),
        lambda: ro.emb.extend([np.zeros(8, np.float32)]),
        lambda: ro.emb.__setitem__(0, np.zeros(8, np.float32)),
        lambda: ro.pop(),
        lambda: ro.caption.pop(),
        lambda: ro.create_tensor("new"),
        lambda: ro.create_group("newgroup"),
        lambda: ro.delete_tensor("emb"),
        lambda: setattr(ro.info, "description", "changed"),
        lambda: ro.info.update(x=1),
        lambda: ro.info.__delitem__("description"),
        lambda: ro.labels.info.__setitem__("class_names", []),
        lambda: ro.group.score.append([1.0]),
    ]
    for write in writes:
        with pytest.raises(errors.ReadOnlyError, match="read_only=False"):
            write()
    assert ro.info.description == "fixture"
    check()
    assert ro.emb.numpy().tolist() == [[1.0] * 8]


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\x00garbage", bytearray(b"\x89PNG"), memoryview(b"abc")])
def test_read_of_bytes_says_to_pass_a_path(data):
    with pytest.raises(errors.SampleError, match="not bytes"):
        dl.read(data)
