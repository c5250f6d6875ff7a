"""Arrow both ways: ``View.to_arrow()`` / ``to_pandas()`` give every column in its Arrow form
(encoded media as the stored bytes), and ``tensor.extend`` / ``ds.extend`` take pyarrow arrays,
chunked arrays and tables (encoded files stored as they are when the compression matches)."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pytest
from images import png_bytes, smooth_image
from PIL import Image

import deeplake_nb as dl
from deeplake_nb import errors


def jpeg_bytes(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="JPEG", quality=90)
    return out.getvalue()


N = 6


@pytest.fixture
def full(ds):
    """One tensor of each kind, N rows."""
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("tags", htype="tag")
        ds.create_tensor("emb", htype="embedding", dtype="float32")
        ds.create_tensor("grid", dtype="int16")
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("frames", htype="sequence[generic]", dtype="uint8")
        ds.create_tensor("poly", htype="polygon")
        ds.extend({
            "images": [dl.Sample(buffer=jpeg_bytes(smooth_image(8 + i, 10, seed=i))) for i in range(N)],
            "labels": [i % 2 for i in range(N)],
            "captions": [f"caption {i}" for i in range(N)],
            "meta": [{"id": i, "ok": i % 3 == 0} for i in range(N)],
            "tags": [["a"] * (i % 3) for i in range(N)],
            "emb": [np.full(4, i, np.float32) for i in range(N)],
            "grid": [np.arange(6, dtype=np.int16).reshape(2, 3) + i for i in range(N)],
            "boxes": [np.full((i % 3, 4), i, np.float32) for i in range(N)],
            "frames": [[np.full((2, 2), i, np.uint8)] * (1 + i % 2) for i in range(N)],
            "poly": [[np.full((3, 2), i, np.float32)] for i in range(N)],
        })
    return ds


def test_every_column_has_an_arrow_form(full):
    v = full.query("SELECT * WHERE labels == 'dog'")
    rows = [1, 3, 5]
    t = v.to_arrow()
    assert t.column_names == ["sample_index", *full.tensors]
    assert t.column("sample_index").to_pylist() == rows
    images = t.column("images")
    assert images.type == pa.large_binary()
    assert images.to_pylist() == [full.images[i].tobytes() for i in rows]  # the stored JPEGs, as written
    assert images[0].as_py()[:2] == b"\xff\xd8"
    assert t.column("labels").type == pa.dictionary(pa.int32(), pa.string())
    assert t.column("labels").to_pylist() == ["dog"] * 3
    assert t.column("captions").to_pylist() == [f"caption {i}" for i in rows]
    assert isinstance(t.column("meta").type, pa.JsonType)
    assert [json.loads(x) for x in t.column("meta").to_pylist()] == [{"id": i, "ok": i % 3 == 0} for i in rows]
    assert t.column("tags").to_pylist() == [["a"] * (i % 3) for i in rows]
    assert t.column("emb").type == pa.list_(pa.float32(), 4)
    grid = t.column("grid").combine_chunks()
    assert isinstance(grid.type, pa.FixedShapeTensorType) and grid.type.shape == [2, 3]
    np.testing.assert_array_equal(grid.to_numpy_ndarray(), full.grid.numpy()[rows])
    assert t.column("boxes").type == pa.list_(pa.list_(pa.float32(), 4))
    assert t.column("boxes").to_pylist() == [full.boxes[i].numpy().tolist() for i in rows]
    frames = t.column("frames").to_pylist()
    assert [len(f) for f in frames] == [2, 2, 2] and t.column("frames").type.value_type.shape == [2, 2]
    assert t.column("poly").to_pylist()[0] == [[[1.0, 1.0]] * 3]


def test_named_columns_grouped_views_and_an_empty_view(full):
    v = full.query("SELECT * WHERE labels == 'dog'")
    assert v.to_arrow(columns=["images"]).column_names == ["sample_index", "images"]
    with pytest.raises(errors.TensorNotFoundError):
        v.to_arrow(columns=["nope"])
    grouped = full.query("SELECT images, labels GROUP BY labels").to_arrow()
    assert grouped.column("images").type == pa.list_(pa.large_binary())
    assert [len(g) for g in grouped.column("images").to_pylist()] == [3, 3]
    empty = full.query("SELECT * WHERE captions == 'x'").to_arrow()
    assert empty.num_rows == 0 and empty.column("grid").type.shape == [2, 3]


def test_to_pandas(full):
    frame = full.query("SELECT * WHERE labels == 'cat'").to_pandas()
    assert list(frame.columns) == ["sample_index", *full.tensors]
    assert str(frame["labels"].dtype) == "category" and list(frame["labels"]) == ["cat"] * 3
    assert frame["images"][1] == full.images[2].tobytes()
    assert frame["grid"][2].shape == (2, 3) and frame["grid"][2].tolist() == full.grid[4].numpy().tolist()
    assert frame["captions"].tolist() == ["caption 0", "caption 2", "caption 4"]


def test_round_trip_through_arrow(full, tmp_path):
    t = full.query("SELECT *").to_arrow()
    copy = dl.empty(str(tmp_path / "copy"))
    with copy:
        for name in full.tensors:
            tensor = full[name]
            copy.create_tensor(name, htype=tensor.meta.htype, dtype=tensor.dtype,
                               sample_compression=tensor.meta.sample_compression, **(
                                   {"class_names": ["cat", "dog"]} if name == "labels" else {}))
    copy.extend(t.drop_columns(["sample_index", "frames", "poly"]), skip_ok=True)
    assert len(copy.images) == N
    for i in range(N):
        assert copy.images[i].tobytes() == full.images[i].tobytes()  # not decoded, not re-encoded
        for name in ("labels", "captions", "tags", "emb", "grid", "boxes"):
            np.testing.assert_array_equal(copy[name][i].numpy(), full[name][i].numpy())
        assert copy.meta[i].dict() == full.meta[i].dict()


def test_tensor_extend_takes_arrays_and_chunked_arrays(ds):
    with ds:
        ds.create_tensor("x", dtype="float32")
        ds.create_tensor("vec", dtype="float32")
        ds.create_tensor("words", htype="text")
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("raw", dtype="uint8")
    ds.x.extend(pa.chunked_array([[1.0, None], [3.0]]))
    assert ds.x.numpy().ravel()[[0, 2]].tolist() == [1.0, 3.0] and np.isnan(ds.x[1].numpy()).all()
    nested = pa.FixedSizeListArray.from_arrays(
        pa.FixedSizeListArray.from_arrays(pa.array(np.arange(12, dtype=np.float32)), 2), 3)
    ds.vec.extend(nested)
    assert ds.vec.numpy().shape == (2, 3, 2) and ds.vec[1].numpy()[2].tolist() == [10.0, 11.0]
    ds.words.extend(pa.array(["a", None, "c"], pa.large_string()))
    assert ds.words.numpy(aslist=True)[2].tolist() == ["c"]
    ds.labels.extend(pa.array(["cat", "dog", "cat"]).dictionary_encode())
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 0] and ds.labels.info.class_names == ["cat", "dog"]
    boxes = pa.array([[[1, 2, 3, 4], [5, 6, 7, 8]], None, []], pa.large_list(pa.list_(pa.float32(), 4)))
    ds.boxes.extend(boxes)
    assert ds.boxes[0].numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]] and ds.boxes[1].numpy().shape == (0, 4)
    jpeg, png = jpeg_bytes(smooth_image(12, 16, seed=3)), png_bytes(smooth_image(12, 16, seed=4))
    ds.images.extend(pa.array([jpeg, png, None], pa.binary()))
    assert ds.images[0].tobytes() == jpeg  # the same format: stored as it came
    assert ds.images[1].tobytes()[:2] == b"\xff\xd8"  # a PNG into a JPEG tensor: re-encoded
    assert np.abs(ds.images[1].numpy().astype(int) - smooth_image(12, 16, seed=4)).mean() < 6
    assert ds.images[2].numpy().size == 0
    ds.raw.extend(pa.array([b"\x01\x02", b"\x03"]))
    assert ds.raw[0].numpy().tolist() == [1, 2]
    tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(np.ones((2, 3, 2), np.float32))
    ds.vec.extend(tensor)
    assert len(ds.vec) == 4 and ds.vec[3].numpy().tolist() == [[1.0, 1.0]] * 3


def test_dataset_extend_takes_tables_and_dicts_of_arrays(ds):
    with ds:
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("score", dtype="float64")
    ds.extend(pa.table({"labels": ["b", "a"], "captions": ["x", "y"], "score": [0.5, 1.5]}))
    ds.extend(pa.record_batch({"labels": ["a"], "captions": ["z"], "score": [2.5]}))
    ds.extend({"labels": pa.array(["b"]), "captions": ["w"], "score": pa.chunked_array([[3.5]])})
    assert len(ds) == 4 and ds.labels.info.class_names == ["b", "a"]
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 1, 0]
    assert ds.score.numpy().ravel().tolist() == [0.5, 1.5, 2.5, 3.5]
    assert [c.tolist() for c in ds.captions.numpy(aslist=True)] == [["x"], ["y"], ["z"], ["w"]]


def test_refused_columns_change_nothing(ds, unchanged):
    with ds:
        ds.create_tensor("score", dtype="float32")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.extend({"score": [1.0], "captions": ["a"], "images": [dl.Sample(buffer=png_bytes(smooth_image(4, 4)))]})
    check = unchanged(ds)
    with pytest.raises(errors.DtypeMismatchError, match="'score'.*Arrow column of type struct"):
        ds.score.extend(pa.array([{"a": 1}]))
    with pytest.raises(errors.DtypeMismatchError, match="'score'.*decimal"):
        ds.extend(pa.table({"score": pa.array([1], pa.decimal128(5, 2)), "captions": ["b"],
                            "images": [png_bytes(smooth_image(4, 4))]}))
    with pytest.raises(errors.CorruptSampleError):
        ds.extend(pa.table({"score": [2.0], "captions": ["b"], "images": [b"not an image"]}))
    with pytest.raises(errors.TensorNotFoundError):
        ds.extend(pa.table({"score": [1.0], "nope": [1]}), skip_ok=True)
    with pytest.raises(errors.SampleError, match=r"table.column\('score'\)"):
        ds.score.extend(pa.table({"score": [2.0]}))
    with pytest.raises(errors.DtypeMismatchError, match="null numbers"):
        ds.score.extend(pa.array([[1.0, None]], pa.list_(pa.float32())))
    check()


def test_values_without_a_common_arrow_type_raise_our_error(ds):
    with ds:
        ds.create_tensor("steps", htype="sequence[json]")
        ds.steps.extend([[{"a": 1}], [[1, "b"]]])
        ds.create_tensor("score", dtype="float32")
        ds.score.extend([1.0, 2.0])
    with pytest.raises(errors.ExportError, match="no common Arrow type"):
        ds.query("select *").to_arrow()
    assert ds.query("select *").to_arrow(columns=["score"]).column("score").to_pylist() == [1.0, 2.0]


def test_datasets_and_row_views_convert_too(full):
    table = full.to_arrow(columns=["labels", "captions"])
    assert table.column_names == ["sample_index", "labels", "captions"] and table.num_rows == N
    rows = full[2:4].to_arrow(columns=["images"])
    assert rows.column("sample_index").to_pylist() == [2, 3]
    assert rows.column("images").to_pylist() == [full.images[2].tobytes(), full.images[3].tobytes()]
    frame = full[["labels", "emb"]].to_pandas()
    assert list(frame.columns) == ["sample_index", "labels", "emb"] and len(frame) == N
