"""Deep Lake v3 sample semantics: empty samples (None) in every htype, indexing inside samples
(reads, shapes, assignment, in-place arithmetic), padding past the end, and the htype / tensor
API details (bare sequence, lz4 and image sample compression, polygons, 2-D class labels, htype
inference and change, clear, info, shape_interval, ignore_errors)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors

COMPRESSIONS = [{}, {"sample_compression": "png"}, {"sample_compression": "lz4"}, {"chunk_compression": "lz4"}]


# -- empty samples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", COMPRESSIONS)
@pytest.mark.parametrize("empty", [None, []])
def test_empty_generic_samples_take_the_dimensions_of_later_ones(ds, args, empty):
    ds.create_tensor("x", **args)
    ds.x.append(empty)
    ds.x.append(empty)
    ds.x.append(np.ones((10, 12, 3), np.uint8))
    for i in range(2):
        assert ds.x[i].numpy().shape == (0, 0, 0) and ds.x[i].shape == (0, 0, 0)
        assert ds.x[i].numpy().dtype == np.uint8
    np.testing.assert_array_equal(ds.x[2].numpy(), np.ones((10, 12, 3), np.uint8))
    assert len(ds.x) == 3 and ds.x.shape == (3, None, None, None)  # empty samples differ in every dim
    reloaded = dl.load(ds.path)
    assert reloaded.x.shapes().tolist() == [[0, 0, 0], [0, 0, 0], [10, 12, 3]]


@pytest.mark.parametrize("args", COMPRESSIONS)
def test_only_empty_samples_have_no_shape_yet(ds, args):
    ds.create_tensor("x", **args)
    ds.x.extend([None] * 3)
    assert len(ds.x) == 3 and ds.x[0].shape == () and ds.x.shape == (3,)
    with pytest.raises(errors.EmptyTensorError, match="only empty samples"):
        ds.x[0].numpy()
    ds.x.append(np.array([[1, 2]], np.uint8))  # the first real sample fixes ndim 2 for the empty ones too
    assert [a.tolist() for a in ds.x.numpy(aslist=True)] == [[], [], [], [[1, 2]]]
    assert ds.x.shapes().tolist() == [[0, 0], [0, 0], [0, 0], [1, 2]]


@pytest.mark.parametrize("args", COMPRESSIONS)
def test_a_none_update_turns_a_dense_tensor_ragged(ds, args):
    ds.create_tensor("x", **args)
    ds.x.extend(np.ones((3, 6, 5, 3), np.uint8))
    ds.x[1] = None
    assert [ds.x[i].shape for i in range(3)] == [(6, 5, 3), (0, 0, 0), (6, 5, 3)]
    np.testing.assert_array_equal(dl.load(ds.path).x[2].numpy(), np.ones((6, 5, 3), np.uint8))


def test_none_mixed_with_arrays_in_one_batch(ds):
    ds.create_tensor("abc")
    ds.create_tensor("xyz", dtype="int64")
    batch = [None, np.array([80, 22, 1]), None, np.array([0, 565, 234])]
    ds.abc.extend(batch)
    ds.xyz.extend(np.array(batch, dtype=object))
    for name in ("abc", "xyz"):
        got = ds[name].numpy(aslist=True)
        assert [g.tolist() for g in got] == [[], [80, 22, 1], [], [0, 565, 234]]
        assert ds[name].dtype == np.int64 and ds[name].htype == "generic"


@pytest.mark.parametrize("htype, shape", [("image", (0, 0, 0)), ("bbox", (0, 4)), ("class_label", (0,)),
                                          ("embedding", (0,)), ("binary_mask", (0, 0, 0)), ("point", (0, 2))])
def test_none_in_array_htypes_reads_as_an_empty_array(ds, htype, shape):
    ds.create_tensor("t", htype=htype)
    ds.t.append(None)
    assert ds.t[0].numpy().shape == shape and ds.t[0].shape == shape
    assert ds.t[0].numpy().dtype == ds.t.dtype


def test_none_in_text_json_list_and_polygon(ds):
    for name in ("text", "json", "list", "polygon"):
        ds.create_tensor(name, htype=name)
    ds.text.extend([None, "hello"])
    ds.json.extend([None, {"a": 1}])
    ds.list.extend([None, ["x", "y"]])
    ds.polygon.extend([None, [np.zeros((3, 2))]])
    assert ds.text.data()["value"] == ["", "hello"] and ds.text[0].numpy().shape == (1,)
    assert ds.text[0].numpy()[0] == "" and ds.text.shape == (2, 1)
    assert ds.json.data()["value"] == [{}, {"a": 1}] and ds.json[0].numpy()[0] == {}
    assert ds.list.data()["value"] == [[], ["x", "y"]] and ds.list[0].numpy().shape == (0,)
    assert ds.list[0].shape == (0,)
    assert ds.polygon[0].numpy() == [] and len(ds.polygon.numpy()[1]) == 1


def test_none_in_links_and_sequences(ds, jpeg_file):
    path, data, pixels = jpeg_file("a.jpg", 12, 16)
    ds.create_tensor("img", htype="link[image]", sample_compression="jpeg")
    ds.img.extend([dl.link(path), None])
    assert len(ds.img) == 2 and ds.img[1].size == 0 and ds.img[1].numpy().size == 0
    assert ds.img[1].shape == (0, 0, 0) and ds.img[1].tobytes() == b""
    np.testing.assert_array_equal(ds.img[0].numpy(), pixels)
    ds.create_tensor("img2", htype="link[image]", sample_compression="jpeg")
    ds.img2.extend(ds.img)  # links copy as links, the empty one as empty
    assert ds.img2[0].tobytes() == data and ds.img2[1].tobytes() == b""
    ds.create_tensor("seq", htype="sequence")
    ds.seq.append([None, None])
    ds.seq.append([np.ones((2, 3)), np.ones((3, 4)), None])
    ds.seq.append(None)
    shapes = ds.seq.shapes()  # each sample's item shapes (v3), a list as the item counts differ
    assert [s.tolist() for s in shapes] == [[[0, 0], [0, 0]], [[2, 3], [3, 4], [0, 0]], []]
    assert ds.seq[2].numpy(aslist=True) == []


def test_empty_samples_survive_commit_query_merge_and_loader(ds):
    ds.create_tensor("x")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": [np.ones(3, np.float32), None, np.zeros(2, np.float32)], "t": ["a", None, "c"]})
    first = ds.commit("with empties")
    ds.checkout("alt", create=True)
    ds.x[0] = None
    ds.commit("another empty")
    ds.checkout("main")
    assert ds.x[1].shape == (0,) and ds.x[0].shape == (3,)
    ds.merge("alt")
    assert ds.x[0].shape == (0,) and ds.x[1].shape == (0,)
    view = ds.query("SELECT * WHERE t == ''")
    assert len(view) == 1 and view.t.data()["value"] == [""]
    torch = pytest.importorskip("torch")
    batch = next(iter(ds.pytorch(tensors=["x", "t"], batch_size=3)))
    assert [len(b) for b in batch["x"]] == [0, 0, 2] and batch["t"] == ["a", "", "c"]
    assert ds.commit_id != first and isinstance(batch["x"][0], torch.Tensor)


def test_empty_and_lz4_samples_in_the_loader_and_queries(ds):
    torch = pytest.importorskip("torch")
    ds.create_tensor("img", htype="image", sample_compression="jpeg")
    ds.create_tensor("g", sample_compression="lz4")
    ds.create_tensor("t", htype="text", sample_compression="lz4")
    ds.extend({"img": [np.zeros((8, 8, 3), np.uint8), None], "g": [np.arange(3), None], "t": ["abc", "xyz"]})
    batch = next(iter(ds.pytorch(batch_size=2)))
    assert batch["img"][1].shape == (0, 0, 0) and batch["img"][0].shape == (8, 8, 3)
    assert batch["g"][0].tolist() == [0, 1, 2] and batch["g"][1].numel() == 0
    assert batch["t"] == ["abc", "xyz"] and isinstance(batch["g"][0], torch.Tensor)
    assert len(ds.query("SELECT * WHERE t == 'xyz'")) == 1


# -- indexing inside samples ----------------------------------------------------------------------
def test_index_inside_one_sample(ds):
    t = ds.create_tensor("abc")
    t.append([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]])
    np.testing.assert_array_equal(t[0, 1].numpy(), [4, 5, 6])
    np.testing.assert_array_equal(t[0, 0:2].numpy(), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(t[0, 0::2].numpy(), [[1, 2, 3], [7, 8, 9]])
    np.testing.assert_array_equal(t[0][1:3, ::-1].numpy(), [[6, 5, 4], [9, 8, 7]])
    assert t[0, 1:3].shape == (2, 3) and t[0][-1, -1].numpy() == 12


@pytest.mark.parametrize("ragged", [False, True])
def test_indices_inside_samples_match_numpy(ds, ragged):
    data = np.arange(6 * 8 * 10 * 3).reshape(6, 8, 10, 3)
    ds.create_tensor("x")
    ds.x.extend(data)
    if ragged:  # same samples in a ragged column: one extra sample of another shape
        ds.x.append(np.zeros((2, 2, 3), data.dtype))
    idxs = [(3, 3), (slice(1, 4), slice(3, 7)), (16 % 6, 4, 5, slice(1, 3)), (slice(0, 5), slice(None), slice(2, 6), 1),
            (slice(None, 6, 2), Ellipsis, 1), (slice(1, 3), [2, 7, 0], [-2, 3, 9]), (slice(None, 6), slice(None, None, -2)),
            ([0, 5, 2], 0), (4, slice(None), -1)]
    for idx in idxs:
        got = ds.x[idx].numpy()
        np.testing.assert_array_equal(got, data[idx], err_msg=str(idx))
        assert ds.x[idx].shape == data[idx].shape, idx
    chained = ds.x[:6][1:4][0][2:5, 1]
    np.testing.assert_array_equal(chained.numpy(), data[:6][1:4][0][2:5, 1])
    np.testing.assert_array_equal(ds.x[:6, 0][0:2].numpy(), data[:, 0][0:2])
    np.testing.assert_array_equal(ds.x[:6][-2, :, -1].numpy(), data[-2, :, -1])
    np.testing.assert_array_equal(ds[(0, 1, 5), :].x.numpy(), data[(0, 1, 5), :])  # rows of a dataset view
    np.testing.assert_array_equal(ds.x[:6][:, 1:][0][(0, 1, 2), 0].numpy(), data[:, 1:][0][(0, 1, 2), 0])


def test_shapes_of_inner_indexed_selections(ds):
    ds.create_tensor("x")
    ds.x.extend(np.ones((5, 9, 2)))
    assert ds.x[1:4, 3:7].shape == (3, 4, 2)
    ds.x.extend(np.ones((5, 9, 3)))
    assert ds.x[3:8].shape == (5, 9, None)
    assert ds.x[3:7, 2:4, :1].shape == (4, 2, 1) and ds.x[3:7, 2:4, :3].shape == (4, 2, None)
    assert ds.x[5:, :, 1].shape == (5, 9)
    with pytest.raises(errors.SampleIndexError):
        ds.x[0, 20].numpy()


def test_row_view_and_data_with_inner_index(ds, image):
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.create_tensor("label", htype="class_label", class_names=["a", "b", "c"])
    pixels = image(120, 40, seed=3)
    ds.extend({"img": [pixels], "label": [[2, 0, 1]]})
    row = ds[0]
    np.testing.assert_array_equal(row.img[73:117, 9:17].numpy(), pixels[73:117, 9:17])
    assert row.img[73:117, 9:17].shape == (44, 8, 3)
    part = ds.label[0, 1:].data()
    assert part["value"].tolist() == [0, 1] and part["text"] == ["a", "b"]
    with pytest.raises(errors.SampleIndexError, match="cannot be indexed inside"):
        ds.create_tensor("t", htype="text").append("hello") or ds.t[0, 1].numpy()


def test_assign_inside_samples(ds):
    ds.create_tensor("x", dtype="int32")
    ds.x.extend(np.zeros((3, 4, 5), np.int32))
    ds.x[0, 1] = 5
    ds.x[1][1:3] = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    ds.x[2][0:2, 0:3] = np.full((2, 3), 9)
    expect = np.zeros((3, 4, 5), np.int32)
    expect[0, 1] = 5
    expect[1][1:3] = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    expect[2][0:2, 0:3] = 9
    np.testing.assert_array_equal(dl.load(ds.path).x.numpy(), expect)
    ds.x[:, 3] = 7  # parts of several samples, broadcast
    expect[:, 3] = 7
    np.testing.assert_array_equal(ds.x.numpy(), expect)
    with pytest.raises(errors.DtypeMismatchError):
        ds.x[0, 0] = 2.5
    with pytest.raises(errors.ShapeMismatchError):
        ds.x[0, 0:2] = np.ones((3, 5), np.int32)
    np.testing.assert_array_equal(ds.x.numpy(), expect)


@pytest.mark.parametrize("args", [{}, {"sample_compression": "png"}, {"sample_compression": "lz4"}])
def test_in_place_arithmetic(ds, args):
    ds.create_tensor("x", **args)
    ds.x.extend(np.zeros((5, 8, 8, 3), "uint8"))
    x = ds.x
    x += 1
    np.testing.assert_array_equal(ds.x.numpy(), np.ones((5, 8, 8, 3)))
    x += ds.x
    np.testing.assert_array_equal(ds.x.numpy(), np.full((5, 8, 8, 3), 2))
    x *= np.zeros(3, "uint8")
    x += 6
    x //= 2
    np.testing.assert_array_equal(ds.x.numpy(), np.full((5, 8, 8, 3), 3))
    ds.x[:3] *= 0
    ds.x.append(np.zeros((10, 5, 3), "uint8"))
    ds.x[5] += 1
    ds.x[5][1] *= 4
    ds.x[0][0:2, 0:3, :1] -= np.zeros((2, 3, 1), "uint8")
    expect5 = np.ones((10, 5, 3))
    expect5[1] *= 4
    np.testing.assert_array_equal(ds.x[5].numpy(), expect5)
    np.testing.assert_array_equal(ds.x[:5].numpy(), np.concatenate([np.zeros((3, 8, 8, 3)), np.full((2, 8, 8, 3), 3)]))
    ds.x[:5] -= 0  # ragged selection of equal shapes, then whole ragged tensor
    x -= 0
    with pytest.raises(errors.DtypeMismatchError):
        ds.x[0] /= 2  # uint8 cannot hold the float result
    np.testing.assert_array_equal(dl.load(ds.path).x[5].numpy(), expect5)


def test_in_place_arithmetic_on_sequences(ds):
    arr = np.arange(2 * 7 * 9).reshape(2, 7, 9)
    ds.create_tensor("x", htype="sequence")
    for _ in range(5):
        ds.x.append([arr] * 3)
    expected = np.broadcast_to(arr, (5, 3, 2, 7, 9)).copy()
    ds.x += 3
    expected += 3
    ds.x[:3] *= 2
    expected[:3] *= 2
    ds.x[0][2][1] *= 7
    expected[0][2][1] *= 7
    ds.x[1][:2][0] = np.full((2, 7, 9), 13)
    expected[1][:2][0] = 13
    ds.x[:, 1:] = np.full((2, 2, 7, 9), -9)
    expected[:, 1:] = -9
    np.testing.assert_array_equal(ds.x.numpy(), expected)
    assert ds.x.shape == (5, 3, 2, 7, 9)


def test_assigning_past_the_end_pads_with_empty_samples(ds):
    ds.create_tensor("abc")
    ds.abc.append([1, 2, 3])
    ds.abc[10] = [4, 5]
    assert len(ds.abc) == 11
    assert [s.tolist() for s in ds.abc.numpy(aslist=True)] == [[1, 2, 3]] + [[]] * 9 + [[4, 5]]
    ds.create_tensor("labels", htype="class_label")
    ds.labels[2] = ["l1", "l2"]
    assert ds.labels.numpy(aslist=True)[2].tolist() == [0, 1] and ds.labels[0].shape == (0,)
    with pytest.raises(errors.SampleIndexError):
        ds.abc[-12] = [1]


# -- htypes and compressions ----------------------------------------------------------------------
def test_bare_sequence_is_a_sequence_of_generic(ds):
    ds.create_tensor("s", htype="sequence")
    ds.s.extend([[1, 2, 3], [4, 5, 6, 7]])
    assert ds.s.is_sequence and ds.s.base_htype == "generic"
    assert ds.s[0].shape == (3, 1) and np.asarray(ds.s.numpy(aslist=True)[1]).tolist() == [[4], [5], [6], [7]]
    assert ds.s.shape_interval == ((2, 3, 1), (2, 4, 1))


@pytest.mark.parametrize("htype, values", [
    ("generic", [np.arange(12, dtype=np.int16).reshape(3, 4), np.zeros((2, 2), np.int16)]),
    ("text", ["hello", "wörld"]),
    ("json", [{"a": [1, 2]}, {"b": None}]),
    ("list", [["a", 1], []]),
    ("binary_mask", [np.eye(4, dtype=bool), np.zeros((2, 3), bool)]),
])
def test_lz4_sample_compression(ds, htype, values):
    ds.create_tensor("t", htype=htype, sample_compression="lz4")
    ds.t.extend(values)
    reloaded = dl.load(ds.path).t
    assert reloaded.sample_compression == "lz4"
    if htype in ("text", "json", "list"):
        assert reloaded.data()["value"] == values
    else:
        for got, want in zip(reloaded.numpy(aslist=True), values):
            np.testing.assert_array_equal(got.reshape(want.shape) if htype == "binary_mask" else got, want)


def test_lz4_polygons_and_polygon_numpy(ds):
    ds.create_tensor("p", htype="polygon", sample_compression="lz4")
    first = np.random.default_rng(0).integers(0, 10, (5, 7, 2))
    ragged = [np.zeros((3, 2)), np.ones((6, 2))]
    ds.p.append(first)
    ds.p.append(ragged)
    out = ds.p.numpy()
    assert isinstance(out, list) and isinstance(out[1], list) and len(out[1]) == 2
    np.testing.assert_array_equal(np.asarray(out[0]), first)
    np.testing.assert_array_equal(out[1][1], ragged[1])
    np.testing.assert_array_equal(ds.p[0], first)  # np.asarray of one polygon sample
    np.testing.assert_array_equal(ds.p[1][1].numpy(), ragged[1])
    assert ds.p[0].shape == (5, 7, 2)


def test_generic_with_image_sample_compression(ds, image):
    ds.create_tensor("g", sample_compression="png")
    gray = image(9, 7, 1, seed=1)[..., 0]
    rgb = image(5, 6, seed=2)
    ds.g.append(rgb)
    with pytest.raises(errors.ShapeMismatchError):
        ds.g.append(np.zeros((2, 2, 2, 2), np.uint8))
    ds.create_tensor("g2", sample_compression="png")
    ds.g2.append(gray)
    np.testing.assert_array_equal(ds.g[0].numpy(), rgb)
    np.testing.assert_array_equal(ds.g2[0].numpy(), gray)
    assert ds.g2[0].shape == (9, 7)


def test_two_dimensional_class_labels(ds):
    ds.create_tensor("nested", htype="class_label")
    ds.nested.append([[0, 1, 2], [1, 2, 3]])
    ds.nested.info.class_names = ["airplane", "boat", "car"]
    ds.nested.extend([[["person", 2], ["airplane", "bus"]], [[0, 1], ["car", 3]]])
    assert ds.nested.info.class_names == ["airplane", "boat", "car", "person", "bus"]
    data = ds.nested.data(aslist=True)
    np.testing.assert_array_equal(data["value"][1], [[3, 2], [0, 4]])
    assert data["text"][0] == [["airplane", "boat", "car"], ["boat", "car", "person"]]
    ds.create_tensor("plain", htype="class_label")
    ds.plain.extend([0, 1])
    assert set(ds.plain.data()) == {"value"}  # no names, no "text"


def test_htype_is_inferred_from_the_first_value(ds):
    for name in "abcde":
        ds.create_tensor(name)
    ds.a.append("hello")
    ds.b.append({"a": [1, 2]})
    ds.c.append([1, 2, 3])
    ds.d.append(["a", 1, {"x": "y"}, "b"])
    ds.e.extend([None, "late"])
    assert [ds[n].htype for n in "abcde"] == ["text", "json", "generic", "json", "text"]
    assert ds.a[0].text() == "hello" and ds.b[0].dict() == {"a": [1, 2]} and ds.e.text() == ["", "late"]
    reloaded = dl.load(ds.path)
    assert reloaded.a.htype == "text" and reloaded.d.data()["value"] == [["a", 1, {"x": "y"}, "b"]]
    with pytest.raises(errors.DtypeMismatchError):
        ds.c.append("not a number")  # only an empty tensor takes its htype from a value


def test_clear(ds_path):
    ds = dl.empty(ds_path)
    a = ds.create_tensor("a")
    a.extend([1, 2, 3, 4])
    image = ds.create_tensor("image", htype="image", sample_compression="png")
    image.extend(np.ones((4, 6, 6, 3), "uint8"))
    a.clear()
    image.clear()
    assert len(a) == 0 and len(image) == 0 and len(ds) == 0
    assert image.htype == "image" and image.sample_compression == "png"
    image.extend(np.ones((2, 5, 5, 3), "uint8"))
    a.append([1, 2, 3])
    reloaded = dl.load(ds_path)
    assert len(reloaded.image) == 2 and reloaded.a.numpy().tolist() == [[1, 2, 3]]
    with pytest.raises(errors.SampleError, match="whole tensor"):
        ds.a[0:1].clear()


def test_change_htype_of_a_generic_tensor(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("images", sample_compression="jpeg")
    ds.images.extend(np.random.default_rng(0).integers(0, 256, (3, 10, 10, 3), dtype=np.uint8))
    ds.create_tensor("labels")
    ds.labels.extend([1, 2, 3])
    ds.create_tensor("boxes")
    ds.boxes.extend(np.zeros((3, 5, 4), np.float32))
    ds.create_tensor("bad")
    ds.bad.extend(np.zeros((2, 5, 5, 6), np.uint8))
    ds.images.htype = "image"
    ds.labels.htype = "class_label"
    ds.boxes.htype = "bbox"
    reloaded = dl.load(ds_path)
    assert (reloaded.images.htype, reloaded.labels.htype, reloaded.boxes.htype) == ("image", "class_label", "bbox")
    assert reloaded.labels.info.class_names == [] and reloaded.boxes.info.coords == {}
    with pytest.raises(errors.ShapeMismatchError):
        ds.bad.htype = "image"
    with pytest.raises(errors.TensorError):
        ds.bad.htype = "link[image]"
    with pytest.raises(errors.TensorError):
        ds.boxes.htype = "embedding"  # no longer generic
    ds.create_tensor("webp", sample_compression="webp")
    with pytest.raises(errors.UnsupportedCompressionError):
        ds.webp.htype = "class_label"
    assert dl.load(ds_path).bad.htype == "generic"


def test_info_is_a_persisted_mapping(ds_path):
    ds = dl.empty(ds_path)
    info = ds.create_tensor("x").info
    info.update(a=1, b=[1, 2])
    assert info.setdefault("c", 3) == 3 and info.setdefault("a", 9) == 1
    assert info.pop("b") == [1, 2] and info.pop("missing", None) is None
    del info["c"]
    info.d = "dee"
    assert dict(info) == {"a": 1, "d": "dee"} and info == {"a": 1, "d": "dee"}
    assert sorted(info.keys()) == ["a", "d"] and list(info.items()) == [("a", 1), ("d", "dee")]
    del info.d
    assert dict(dl.load(ds_path).x.info) == {"a": 1}
    with pytest.raises(KeyError):
        info.pop("nope")


def test_module_lists_of_htypes_and_compressions():
    assert "image" in dl.htypes and "text" in dl.htypes and dl.htypes == sorted(dl.htypes)
    assert dl.compressions[-1] is None and {"jpeg", "png", "lz4"} <= set(dl.compressions)


def test_extend_ignore_errors_skips_bad_samples(ds):
    ds.create_tensor("x", dtype="uint8")
    with pytest.raises(errors.DtypeMismatchError):
        ds.x.extend([1, 2, "abcd", 3])
    assert len(ds.x) == 0
    ds.x.extend([1, 2, "abcd", 300, 3], ignore_errors=True)
    assert ds.x.numpy().ravel().tolist() == [1, 2, 3]
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(["cat", 1.5, "dog"], ignore_errors=True)
    assert ds.labels.info.class_names == ["cat", "dog"]


def test_shape_interval_dynamic_and_size(ds):
    ds.create_tensor("image")
    ds.image.extend(np.ones((32, 28, 28)))
    ds.image.extend(np.ones((10, 36, 11)))
    ds.image.append(np.ones((29, 10)))
    assert ds.image.shape == (43, None, None) and ds.image.is_dynamic and ds.image.size is None
    assert ds.image.shape_interval.lower == (43, 28, 10) and ds.image.shape_interval.upper == (43, 36, 28)
    ds.create_tensor("fixed")
    ds.fixed.extend(np.ones((4, 2, 3)))
    assert not ds.fixed.is_dynamic and ds.fixed.size == 24 and ds.fixed.shape_interval == ((4, 2, 3), (4, 2, 3))
    assert ds.fixed[0].shape_interval == ((2, 3), (2, 3))
    assert ds.image.meta.dtype == "float64" and ds.image.meta.htype == "generic"
    assert ds.image.meta.sample_compression is None


def test_text_dict_list_readers_check_the_htype(ds):
    ds.create_tensor("j", htype="json")
    ds.create_tensor("l", htype="list")
    ds.j.append({"a": 1})
    ds.l.append([1, "b"])
    assert ds.j.dict() == [{"a": 1}] and ds.l.list() == [[1, "b"]] and ds.l[0].list() == [1, "b"]
    with pytest.raises(errors.TensorError, match="list tensors"):
        ds.j.list()
    with pytest.raises(errors.TensorError, match="text tensors"):
        ds.l.text()


def test_iterating_a_sequence_sample_gives_its_items(ds):
    ds.create_tensor("s", htype="sequence")
    ds.s.append([np.arange(3), np.arange(3) + 10])
    items = [t.numpy().tolist() for t in ds.s[0]]
    assert items == [[0, 1, 2], [10, 11, 12]]
    assert [t.numpy().tolist() for t in ds.s] == [[[0, 1, 2], [10, 11, 12]]]


# -- dl.read samples, JSON values and schemas ----------------------------------------------------
def test_read_sample_has_v3_array_property_and_compares_by_content(png_file):
    path, data, pixels = png_file()
    sample = dl.read(path)
    np.testing.assert_array_equal(sample.array, pixels)  # a property, as in v3 (not a method)
    assert sample.dtype == "uint8" and sample.shape == pixels.shape
    assert sample == dl.read(path) and sample == dl.core.api.Sample(buffer=data)
    assert sample != dl.core.api.Sample(buffer=data[:-1] + b"\0") and sample != data


@pytest.mark.parametrize("htype", ["json", "list"])
def test_json_samples_keep_bytes_and_read_images(ds, htype, png_file, jpeg_file):
    png, jpg = dl.read(png_file()[0]), dl.read(jpeg_file()[0])
    value = [{"x": [1, b"\x00\xffab"], "img": png}, [[jpg]], [None, 0.5]]
    ds.create_tensor("v", htype=htype)
    ds.v.append(value if htype == "list" else {"k": value})
    got = dl.load(ds.path).v[0].data()["value"]
    got = got if htype == "list" else got["k"]
    assert got == value
    assert isinstance(got[0]["x"][1], bytes) and isinstance(got[0]["img"], type(png))
    np.testing.assert_array_equal(got[1][0][0].array, jpg.array)


def test_json_sample_with_a_file_that_is_no_image_is_refused(ds, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not an image")
    ds.create_tensor("j", htype="json")
    with pytest.raises(errors.CorruptSampleError, match="not a JPEG, PNG or WebP"):
        ds.j.append({"img": dl.read(str(bad))})
    assert len(ds.j) == 0


def test_json_tensor_with_a_typing_schema(ds):
    from typing import Dict, List, Optional
    ds.create_tensor("j", htype="json", dtype=List[Dict[str, int]])
    assert ds.j.meta.dtype == "List[Dict[str, int]]" and ds.j.dtype is None
    ds.j.append([{"x": 1, "y": 2}])
    for bad in ({"x": 1}, [{"x": 1, "y": "2"}], [{"x": 1.5}], [True]):
        with pytest.raises(errors.DtypeMismatchError, match=r"List\[Dict\[str, int\]\]"):
            ds.j.append(bad)
    assert len(ds.j) == 1 and ds.j.numpy()[0, 0] == [{"x": 1, "y": 2}]
    ds.create_tensor("o", htype="json", dtype=Optional[List[Dict[str, int]]])
    ds.o.extend([[{"a": 1}], None])
    assert dl.load(ds.path).o.data()["value"] == [[{"a": 1}], {}]
    ds.create_tensor("t", htype="json", dtype="Union[int, List[str]]")
    ds.t.extend([3, ["a"]])
    with pytest.raises(errors.DtypeMismatchError):
        ds.t.append(["a", 1])
    for bad_schema in ("List[int", "Set[int]", "Dict[int, str]", "List[int, str]", int | set):
        with pytest.raises(errors.DtypeMismatchError):
            ds.create_tensor("bad", htype="json", dtype=bad_schema)
    assert "bad" not in ds.tensors


# -- v3's meta.min_shape / max_shape -------------------------------------------------------------
def test_meta_shape_bounds_follow_the_samples(ds):
    ds.create_tensor("t", htype="text")
    ds.create_tensor("l", htype="list")
    ds.create_tensor("g", sample_compression="png")
    ds.create_tensor("x")
    assert ds.t.meta.max_shape == [] and ds.t.meta.min_shape == []
    ds.t.extend([None, "a"])
    ds.l.extend([None, None])
    ds.g.extend([None, None])
    ds.x.append(None)
    assert ds.t.meta.max_shape == [1] and ds.l.meta.max_shape == [0]
    assert ds.g.meta.max_shape == [0, 0, 0] and ds.x.meta.max_shape == []  # an image codec implies (H, W, C)
    ds.l.append(["a", "b"])
    ds.g.append(np.ones((5, 7), np.uint8))
    ds.x.extend([np.ones((2, 9)), np.ones((4, 3))])
    assert ds.l.meta.max_shape == [2] and ds.l.meta.min_shape == [0]
    assert ds.g.meta.max_shape == [5, 7] and ds.g[0].shape == (0, 0)
    assert ds.x.meta.min_shape == [0, 0] and ds.x.meta.max_shape == [4, 9]
    assert ds.x[1:].meta.min_shape == [0, 0]  # the whole tensor's bounds, as in v3
    ds.x.meta.info["note"] = 1  # attributes of the meta are read and set through
    assert ds.x.info["note"] == 1 and ds.x.meta.htype == "generic"


# -- image dimensions as in v3 ---------------------------------------------------------------------
def test_image_batch_of_2d_arrays_stays_2d_and_later_samples_fit_it(ds):
    ds.create_tensor("img", htype="image", sample_compression=None)
    ds.img.extend(np.ones((4, 6, 7), np.uint8))  # v3 keeps a NumPy batch of (H, W) as it is
    assert ds.img.shape == (4, 6, 7)
    ds.img[0] = np.full((5, 5), 3, np.uint8)
    ds.img[1:3] = np.zeros((2, 30), np.uint8)  # one axis short: it becomes (30, 1)
    assert ds.img[0].shape == (5, 5) and ds.img[1].numpy().shape == (30, 1)
    for bad in (np.zeros((2, 5, 6), np.uint8), np.ones((3, 4, 1), np.uint8)):  # arrays are not squeezed
        with pytest.raises(errors.ShapeMismatchError):
            ds.img[3] = bad
    ds.create_tensor("one", htype="image", sample_compression=None)
    ds.one.append(np.ones((6, 7), np.uint8))  # a single sample gets its channel axis
    ds.create_tensor("png", htype="image", sample_compression="png")
    ds.png.extend(np.ones((2, 6, 7), np.uint8))
    assert ds.one[0].shape == (6, 7, 1) and ds.png.shape == (2, 6, 7, 1)
    reloaded = dl.load(ds.path)
    assert reloaded.img.shapes().tolist() == [[5, 5], [30, 1], [30, 1], [6, 7]]


def test_empty_images_before_a_2d_batch_take_its_dimensions(ds, jpeg_file):
    ds.create_tensor("img", htype="image", sample_compression=None)
    ds.img.append(None)
    ds.img.extend(np.ones((2, 6, 7), np.uint8))
    ds.img.append(dl.read(jpeg_file(gray=True)[0]))  # a grayscale file (H, W, 1) in a 2-D tensor
    assert ds.img.shapes().tolist() == [[0, 0], [6, 7], [6, 7], [24, 32]]
    assert ds.img[0].numpy().shape == (0, 0) and ds.img.meta.max_shape == [24, 32]


# -- assignment ----------------------------------------------------------------------------------------
def test_assignment_drops_leading_size_one_dimensions_like_numpy(ds):
    ds.create_tensor("s", htype="sequence")
    ds.s.extend([[np.ones((2, 3))] * 2] * 3)
    value = np.arange(3 * 2 * 2 * 3).reshape(3, 2, 2, 3)
    ds.s[:] = value[None, None]
    np.testing.assert_array_equal(ds.s.numpy(), value)
    with pytest.raises(errors.SampleError):
        ds.s[:] = value[None, :2]


def test_setting_a_tensor_attribute_of_a_dataset_assigns_its_samples(ds):
    ds.create_tensor("abc")
    ds.create_tensor("grp/t1")
    ds.abc.extend([1, 2, 3])
    ds.grp.t1.extend([1, 2, 3])
    ds[1].abc = 10
    ds.abc += 1
    ds.grp.t1 = [[7], [8], [9]]
    assert "abc" not in vars(ds)  # nothing left on the instance: ds.abc is the tensor
    assert dl.load(ds.path).abc.numpy().ravel().tolist() == [2, 11, 4]
    assert ds.grp.t1.numpy().ravel().tolist() == [7, 8, 9]
    for bad in (lambda: ds.__setitem__(1, 10), lambda: setattr(ds[1], "grp", 10),
                lambda: setattr(ds, "newname", np.zeros(3))):
        with pytest.raises(errors.ItemAssignmentError) as info:
            bad()
        assert isinstance(info.value, TypeError)
    ds.note = "an ordinary attribute"
    assert ds.note == "an ordinary attribute" and "note" not in ds.tensors
