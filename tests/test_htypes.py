"""Each htype: what it accepts, how it stores and reads back, and how it rejects wrong dtype/ndim."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format import htypes


# -- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("image", ("image", False, False)),
    ("sequence[image]", ("image", True, False)),
    ("link[image]", ("image", False, True)),
    ("sequence[link[image]]", ("image", True, True)),
    (" sequence[ class_label ] ", ("class_label", True, False)),
])
def test_parse_htype(text, expected):
    assert htypes.parse(text) == expected


@pytest.mark.parametrize("text", ["imagez", "link[sequence[image]]", "sequence[]", "sequence[foo]", ""])
def test_parse_unknown_htype(text):
    with pytest.raises(errors.UnknownHtypeError, match="Known htypes"):
        htypes.parse(text)


# -- generic --------------------------------------------------------------------------------------
def test_generic_takes_dtype_of_first_sample_and_keeps_it(ds, mem_url):
    ds.create_tensor("x")
    assert ds.x.dtype is None
    ds.x.append(np.array([1, 2, 3], np.int16))
    ds.x.append([4, 5])
    assert ds.x.dtype == np.int16
    assert [a.dtype for a in ds.x.numpy(aslist=True)] == [np.int16, np.int16]
    with pytest.raises(errors.DtypeMismatchError):
        ds.x.append([1.5])
    with pytest.raises(errors.ShapeMismatchError, match="1 dimensions"):
        ds.x.append(np.zeros((2, 2), np.int16))
    assert dl.load(ds.path).x.dtype == np.int16


def test_generic_dtype_is_fixed_by_the_first_committed_sample(ds):
    ds.create_tensor("x")
    with pytest.raises(errors.DtypeMismatchError, match="sample 1 of the batch"):
        ds.x.extend([np.zeros(2, np.int8), "text"])
    assert ds.x.dtype is None and ds.x.meta.ndim is None  # the failed batch fixed nothing
    with ds:
        ds.x.append(np.zeros(2, np.float16))
        ds.x.append([1.5, 2])
    assert ds.x.numpy().dtype == np.float16
    assert ds.x.numpy().tolist() == [[0, 0], [1.5, 2]]


def test_generic_explicit_dtype_casts_lossless_values_only(ds):
    ds.create_tensor("x", dtype="float32")
    ds.x.append([1, 2])  # ints fit float32
    assert ds.x[0].numpy().dtype == np.float32
    ds.create_tensor("i", dtype="uint8")
    ds.i.append([1, 255])
    with pytest.raises(errors.DtypeMismatchError, match="do not fit dtype uint8"):
        ds.i.append([256])
    with pytest.raises(errors.DtypeMismatchError, match="float array"):
        ds.i.append(np.array([1.0]))
    with pytest.raises(errors.DtypeMismatchError):
        ds.i.append("12")


def test_generic_scalars_are_stored_as_length_one_samples(ds):
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    assert ds.x.numpy().tolist() == [[1], [2], [3]]
    assert ds.x.shape == (3, 1)


# -- images ---------------------------------------------------------------------------------------
def test_image_2d_becomes_hw1(ds, image):
    ds.create_tensor("img", htype="image", sample_compression="png")
    gray = image(6, 7, 1)[..., 0]
    ds.img.append(gray)
    assert ds.img[0].shape == (6, 7, 1)
    np.testing.assert_array_equal(ds.img[0].numpy(), gray[..., None])


@pytest.mark.parametrize("htype, good, bad", [
    ("image", [(5, 6, 3), (5, 6, 1), (5, 6, 4), (5, 6), (5, 6, 2)], [(5,), (2, 5, 6, 3)]),  # v3: any C uncompressed
    ("image.rgb", [(5, 6, 3)], [(5, 6), (5, 6, 1), (5, 6, 4)]),
    ("image.gray", [(5, 6), (5, 6, 1)], [(5, 6, 3), (5, 6, 4)]),
])
def test_image_channels_and_ndim(ds, htype, good, bad):
    ds.create_tensor("img", htype=htype)
    for shape in good:
        ds.img.append(np.zeros(shape, np.uint8))
    for shape in bad:
        with pytest.raises(errors.ShapeMismatchError, match="image sample must be"):
            ds.img.append(np.zeros(shape, np.uint8))
    assert len(ds.img) == len(good)
    assert all(len(s) == 3 for s in ds.img.shapes())


def test_image_dtype(ds):
    with pytest.raises(errors.DtypeMismatchError, match="stores uint8"):
        ds.create_tensor("rgb", htype="image.rgb", dtype="float32")
    assert ds.create_tensor("jpegs", htype="image", sample_compression="jpeg").dtype == np.uint8
    assert ds.create_tensor("floats", htype="image", dtype="float32").dtype == np.float32
    ds.create_tensor("img", htype="image")  # as in Deep Lake v3, the first sample gives the dtype
    assert ds.img.dtype is None
    ds.img.append(np.full((2, 2, 3), 7, np.uint8))
    ds.img.append(np.full((2, 2, 3), 7, np.int64))  # whole numbers in range are accepted
    assert ds.img[1].numpy().dtype == np.uint8
    with pytest.raises(errors.DtypeMismatchError):
        ds.img.append(np.full((2, 2, 3), 300))
    with pytest.raises(errors.DtypeMismatchError, match="float array"):
        ds.img.append(np.zeros((2, 2, 3), np.float32))


# -- class_label ----------------------------------------------------------------------------------
def test_class_label_text_maps_to_ids_and_new_names_are_appended(ds):
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    ds.labels.extend(["dog", "cat", "bird", 1, ["cat", "bird"]])
    assert ds.labels.info.class_names == ["cat", "dog", "bird"]
    values = ds.labels.numpy(aslist=True)
    assert [v.tolist() for v in values] == [[1], [0], [2], [1], [0, 2]]
    assert ds.labels.dtype == np.uint32
    one = ds.labels[2].data()
    assert one["value"].tolist() == [2] and one["text"] == ["bird"]
    data = ds.labels.data(aslist=True)
    assert data["text"] == [["dog"], ["cat"], ["bird"], ["dog"], ["cat", "bird"]]
    assert dl.load(ds.path).labels.info.class_names == ["cat", "dog", "bird"]


def test_class_label_names_from_one_batch_are_numbered_once(ds):
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(["a", "b", "a", "c", "b"])
    assert ds.labels.info.class_names == ["a", "b", "c"]
    assert ds.labels.numpy()[:, 0].tolist() == [0, 1, 0, 2, 1]


def test_fixed_class_names_reject_unknown_names_and_ids(ds):
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"], fixed_class_names=True)
    ds.labels.append("dog")
    with pytest.raises(errors.ClassLabelError, match="'bird' is not in the tensor's fixed class list"):
        ds.labels.append("bird")
    with pytest.raises(errors.ClassLabelError, match="0..1"):
        ds.labels.append(2)
    assert ds.labels.info.class_names == ["cat", "dog"]
    assert ds.labels.numpy().tolist() == [[1]]


def test_class_label_rejects_labels_nested_three_deep(ds):
    ds.create_tensor("labels", htype="class_label")
    ds.labels.append([[1, 2], [3, 4]])  # a 2-D sample of labels is fine
    with pytest.raises(errors.ShapeMismatchError, match="one label, a list of labels"):
        ds.labels.append([[[1, 2], [3, 4]]])


# -- bbox -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("coords", [
    {"type": "pixel", "mode": "LTRB"}, {"type": "fractional", "mode": "LTWH"}, {"mode": "CCWH"},
    {"type": "LTRB", "mode": "pixel"}, {"type": 0, "mode": 2}])
def test_bbox_coords_are_stored_in_info(ds_path, coords):
    ds = dl.empty(ds_path)
    ds.create_tensor("boxes", htype="bbox", coords=coords)
    assert ds.boxes.info.coords == coords
    assert dl.load(ds_path).boxes.info.coords == coords


def test_bbox_default_coords_and_shapes(ds):
    ds.create_tensor("boxes", htype="bbox")
    assert ds.boxes.info.coords == {}  # v3: no coords given, none stored (read as LTRB pixels)
    assert htypes.bbox_layout(ds.boxes.info.coords) == ("LTRB", False)
    boxes = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    ds.boxes.append(boxes)
    ds.boxes.append([1, 2, 3, 4])           # one box -> (1, 4)
    ds.boxes.append(np.zeros((0, 4)))       # no boxes
    assert ds.boxes.shapes().tolist() == [[2, 4], [1, 4], [0, 4]]
    assert ds.boxes.shape == (3, None, 4)
    np.testing.assert_array_equal(ds.boxes[0].numpy(), boxes)
    assert ds.boxes.dtype == np.float32


@pytest.mark.parametrize("bad", [np.zeros((2, 3), np.float32), np.zeros((2, 5), np.float32),
                                 np.zeros((1, 2, 4), np.float32), np.zeros(3, np.float32)])
def test_bbox_must_be_k_by_4(ds, bad):
    ds.create_tensor("boxes", htype="bbox")
    with pytest.raises(errors.ShapeMismatchError, match=r"\(K, 4\)"):
        ds.boxes.append(bad)
    assert len(ds.boxes) == 0


@pytest.mark.parametrize("coords,builtin", [({"type": "XYXY"}, TypeError), ({"mode": "percent"}, TypeError),
                                            ({"type": "LTRB", "other": 1}, KeyError), ("LTRB", TypeError)])
def test_bbox_bad_coords(ds, coords, builtin):
    with pytest.raises((errors.TensorError, builtin), match="coords"):
        ds.create_tensor("boxes", htype="bbox", coords=coords)
    assert "boxes" not in ds.tensors


@pytest.mark.parametrize("coords,layout", [
    ({"type": "pixel", "mode": "LTWH"}, ("LTWH", False)), ({"type": "fractional", "mode": "CCWH"}, ("CCWH", True)),
    ({"type": "LTWH", "mode": "fraction"}, ("LTWH", True)), ({"type": 1, "mode": 1}, ("LTWH", True)), (None, ("LTRB", False))])
def test_bbox_layout_reads_every_spelling(coords, layout):
    assert htypes.bbox_layout(coords) == layout


# -- masks ----------------------------------------------------------------------------------------
def test_binary_mask(ds):
    ds.create_tensor("mask", htype="binary_mask")
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    ds.mask.append(mask)
    ds.mask.append(np.ones((4, 5, 2), bool))
    assert ds.mask.dtype == np.bool_
    assert ds.mask.shapes().tolist() == [[4, 5, 1], [4, 5, 2]]
    np.testing.assert_array_equal(ds.mask[0].numpy()[..., 0], mask)
    with pytest.raises(errors.DtypeMismatchError):
        ds.mask.append(np.full((4, 5), 0.5))
    with pytest.raises(errors.ShapeMismatchError, match="binary_mask"):
        ds.mask.append(np.ones(5, bool))


def test_segment_mask(ds):
    ds.create_tensor("seg", htype="segment_mask", class_names=["bg", "cat"])
    ds.seg.append(np.array([[0, 1], [1, 0]]))
    ds.seg.append(np.ones((3, 3, 1), np.uint32))  # a trailing 1 is squeezed
    assert ds.seg.dtype == np.uint32
    assert ds.seg.shapes().tolist() == [[2, 2], [3, 3]]
    assert ds.seg.info.class_names == ["bg", "cat"]
    with pytest.raises(errors.ShapeMismatchError, match="segment_mask"):
        ds.seg.append(np.ones((3, 3, 2), np.uint32))


# -- text, json, list -----------------------------------------------------------------------------
def test_text(ds):
    ds.create_tensor("caption", htype="text")
    ds.caption.extend(["a cat", "", "ünïcode ✓"])
    assert ds.caption.data() == {"value": ["a cat", "", "ünïcode ✓"]}
    assert ds.caption[2].data() == {"value": "ünïcode ✓"}
    assert ds.caption[0].text() == "a cat"
    assert ds.caption.numpy().tolist() == [["a cat"], [""], ["ünïcode ✓"]]
    assert ds.caption.dtype is None and ds.caption.htype == "text"
    with pytest.raises(errors.DtypeMismatchError, match="must be a str"):
        ds.caption.append(5)
    with pytest.raises(errors.DtypeMismatchError):
        ds.create_tensor("t2", htype="text", dtype="int32")


def test_json(ds):
    ds.create_tensor("meta", htype="json")
    docs = [{"a": 1, "b": [1, 2]}, [1, "x"], {"nested": {"k": None}}]
    ds.meta.extend(docs)
    ds.meta.append({"n": np.int64(3), "arr": np.arange(2)})  # numpy values become JSON
    assert ds.meta.data()["value"] == docs + [{"n": 3, "arr": [0, 1]}]
    assert ds.meta[0].dict() == docs[0]
    with pytest.raises(errors.DtypeMismatchError, match="JSON-serialisable"):
        ds.meta.append({"x": object()})
    with pytest.raises(errors.DtypeMismatchError, match="JSON-serialisable"):
        ds.meta.append({"x": float("nan")})


def test_list(ds):
    ds.create_tensor("tags", htype="list")
    ds.tags.extend([["a", "b"], [], ("c",)])
    assert ds.tags.data()["value"] == [["a", "b"], [], ["c"]]
    assert ds.tags[0].numpy().tolist() == ["a", "b"]
    assert ds.tags.shapes().tolist() == [[2], [0], [1]]
    with pytest.raises(errors.DtypeMismatchError, match="must be a list"):
        ds.tags.append("abc")


# -- embedding, point, polygon --------------------------------------------------------------------
def test_embedding(ds):
    ds.create_tensor("emb", htype="embedding")
    vectors = np.random.default_rng(0).random((4, 16)).astype(np.float32)
    ds.emb.extend(vectors)
    ds.emb.append(list(range(16)))
    assert ds.emb.shape == (5, 16)
    np.testing.assert_array_equal(ds.emb.numpy()[:4], vectors)
    assert ds.emb.numpy().dtype == np.float32
    with pytest.raises(errors.ShapeMismatchError, match="1-D"):
        ds.emb.append(np.zeros((4, 4), np.float32))
    with pytest.raises(errors.DtypeMismatchError, match="float32"):
        ds.emb.append(["a"] * 16)


def test_point(ds):
    ds.create_tensor("kp", htype="point")
    ds.kp.append([[1, 2], [3, 4]])
    ds.kp.append([5, 6, 7])
    assert ds.kp.dtype == np.int32
    assert ds.kp.shapes().tolist() == [[2, 2], [1, 3]]
    with pytest.raises(errors.ShapeMismatchError, match="point"):
        ds.kp.append([[1, 2, 3, 4]])


def test_polygon(ds):
    ds.create_tensor("poly", htype="polygon")
    polys = [np.array([[0, 0], [1, 0], [1, 1]], np.float32), np.arange(10, dtype=np.float32).reshape(5, 2)]
    ds.poly.append(polys)
    ds.poly.append([np.zeros((4, 3))])
    out = ds.poly[0].numpy()
    assert len(out) == 2
    for got, want in zip(out, polys):
        np.testing.assert_array_equal(got, want)
    assert ds.poly.shapes().tolist() == [[2, 5, 2], [1, 4, 3]]
    with pytest.raises(errors.ShapeMismatchError, match="polygon"):
        ds.poly.append([np.zeros((3, 2)), np.zeros((3, 3))])
    with pytest.raises(errors.ShapeMismatchError, match="polygon"):
        ds.poly.append("not a polygon")


# -- sequence -------------------------------------------------------------------------------------
def test_sequence_of_images(ds, image):
    ds.create_tensor("frames", htype="sequence[image]", sample_compression="png")
    clip_a = [image(4, 5, seed=1), image(6, 5, seed=2)]
    clip_b = [image(4, 5, seed=3)]
    ds.frames.extend([clip_a, clip_b])
    assert ds.frames.is_sequence and ds.frames.base_htype == "image"
    assert [s.tolist() for s in ds.frames.shapes()] == [[[4, 5, 3], [6, 5, 3]], [[4, 5, 3]]]
    assert ds.frames.shape == (2, None, None, 5, 3)
    got = ds.frames.numpy(aslist=True)
    assert [len(x) for x in got] == [2, 1]
    for g, w in zip(got[0], clip_a):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(ds.frames[1].numpy(), np.stack(clip_b))
    with pytest.raises(errors.SampleError, match="list of items"):
        ds.frames.append("frame.png")
    with pytest.raises(errors.ShapeMismatchError):
        ds.frames.append([np.zeros((4, 5, 2), np.uint8)])


def test_sequence_with_empty_samples(ds):
    ds.create_tensor("clips", htype="sequence[generic]")
    assert ds.clips.shape == (0, 0)  # no samples, no items (v3)
    ds.clips.append([])
    ds.clips.append([np.zeros(2, np.int8), np.ones(3, np.int8)])
    ds.clips.append([[1, 2]])
    assert ds.clips.dtype == np.int8
    assert [s.tolist() for s in ds.clips.shapes()] == [[], [[2], [3]], [[2]]]
    assert ds.clips.shape == (3, None, None)
    assert ds.clips[0].shape == (0, None) and ds.clips[2].shape == (1, 2)
    got = dl.load(ds.path).clips.numpy(aslist=True)
    assert got[0] == [] and [a.tolist() for a in got[1]] == [[0, 0], [1, 1, 1]]
    assert ds.clips[1].tobytes() == np.zeros(2, np.int8).tobytes() + np.ones(3, np.int8).tobytes()  # items, joined (v3)


def test_sequence_of_class_labels(ds):
    ds.create_tensor("track", htype="sequence[class_label]")
    ds.track.append(["walk", "run", "walk"])
    assert ds.track.info.class_names == ["walk", "run"]
    assert ds.track[0].numpy()[:, 0].tolist() == [0, 1, 0]
    assert ds.track.data()["text"] == [["walk", "run", "walk"]]


# -- link -----------------------------------------------------------------------------------------
def test_link_image_stores_path_and_reads_file(ds, jpeg_file):
    path, data, pixels = jpeg_file("a.jpg", 12, 16)
    other, _, other_pixels = jpeg_file("b.jpg", 8, 10, seed=3)
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    ds.img.append(dl.link(path))
    ds.img.append(other)  # a plain str is a link too
    assert ds.img.is_link
    assert ds.img.shapes().tolist() == [[12, 16, 3], [8, 10, 3]]
    np.testing.assert_array_equal(ds.img[0].numpy(), pixels)
    np.testing.assert_array_equal(ds.img[1].numpy(), other_pixels)
    assert ds.img[0].tobytes() == data
    stored = ds._state.tensor_store("img").read(0)[0]
    assert bytes(stored).decode() == path  # the dataset keeps the path, not the pixels


def test_link_reads_the_file_at_access_time(ds, tmp_path):
    target = tmp_path / "note.txt"
    target.write_text("first")
    ds.create_tensor("note", htype="link[text]")
    ds.note.append(dl.link(target))
    assert ds.note[0].text() == "first"
    target.write_text("second")
    assert ds.note[0].text() == "second"
    target.unlink()
    with pytest.raises(errors.LinkError, match="note.txt"):
        ds.note[0].text()


def test_link_rejects_missing_files_and_arrays(ds, tmp_path):
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    with pytest.raises(errors.LinkError, match="does not exist"):
        ds.img.append(dl.link(tmp_path / "missing.jpg"))
    with pytest.raises(errors.SampleError, match="dl.link"):
        ds.img.append(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(errors.LinkError):
        dl.link("")
    assert len(ds.img) == 0


def test_link_value_into_a_data_tensor_is_refused(ds, jpeg_file):
    path, _, _ = jpeg_file()
    ds.create_tensor("img", htype="image", sample_compression="jpeg")
    with pytest.raises(errors.SampleError, match="link"):
        ds.img.append(dl.link(path))


def test_int_label_batches_match_the_per_sample_path(ds):
    ds.create_tensor("fast", htype="class_label", class_names=["a", "b", "c"], fixed_class_names=True)
    ds.create_tensor("slow", htype="class_label", class_names=["a", "b", "c"], fixed_class_names=True)
    ds.fast.extend([0, 2, 1, 2])
    ds.slow.extend(["a", "c", "b", np.uint8(2)])
    np.testing.assert_array_equal(ds.fast.numpy(), ds.slow.numpy())
    assert ds.fast.numpy().dtype == ds.slow.numpy().dtype and ds.fast.shape == (4, 1)
    with pytest.raises(errors.ClassLabelError, match="sample 1 of the batch"):
        ds.fast.extend([1, 3])
    with pytest.raises(errors.ClassLabelError, match="sample 1 of the batch"):
        ds.fast.extend([0, -1])
    assert len(ds.fast) == 4
