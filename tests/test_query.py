"""TQL end to end on a small hand-made dataset: every clause, function and View feature, the
error messages, and the promises about what a query reads (only the tensors it needs, shapes
without decoding)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import DynamicShapeError, QueryError, TensorNotFoundError
from deeplake_nb.query import ComputedTensor, View, ViewTensor
from deeplake_nb.query import evaluate as evaluate_module

N = 12
LABELS = ["cat", "dog", "bird", "cat", "dog", "cat", "bird", "cat", "dog", "cat", "bird", "dog"]
CAPTIONS = ["a red cat", "a blue dog", "red bird", "big cat", "small dog", "red red cat", "blue bird",
            "cat", "dog on red", "the cat", "bird", "Red dog"]


def height(i: int) -> int:
    return 20 + 10 * (i % 4)


def boxes(i: int) -> np.ndarray:
    return np.asarray([[k * 10, i, 5 + k * 30, 20 + i] for k in range(i % 4)], np.float32).reshape(-1, 4)


def emb(i: int) -> np.ndarray:
    return np.random.default_rng(i).standard_normal(8).astype(np.float32)


def multi(i: int) -> list[str]:
    return [[], ["cat"], ["cat", "dog"]][i % 3]


def build(path: str) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    rng = np.random.default_rng(0)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird"])
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("score", htype="generic", dtype="float32")
        ds.create_tensor("multi", htype="class_label", class_names=["dog", "cat"])
        for i in range(N):
            pixels = rng.integers(0, 255, (height(i), 30 + 5 * i, 3), dtype=np.uint8)
            ds.append({"images": pixels, "labels": LABELS[i], "boxes": boxes(i), "captions": CAPTIONS[i], "emb": emb(i),
                       "meta": {"id": i, "tags": ["even" if i % 2 == 0 else "odd"]}, "score": np.float32(i * 0.5),
                       "multi": multi(i)})
    return ds


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> dl.Dataset:
    return build(str(tmp_path_factory.mktemp("query") / "ds"))


def rows(view: View) -> list[int]:
    return view.sample_indices.tolist()


def where(ds: dl.Dataset, cond: str) -> list[int]:
    return rows(ds.query(f"SELECT * WHERE {cond}"))


# -- basics ---------------------------------------------------------------------------------------
def test_where_class_names_compare_as_ids(ds):
    assert where(ds, "labels == 'cat'") == [i for i in range(N) if LABELS[i] == "cat"]
    assert where(ds, "labels == 0") == where(ds, "labels == 'cat'")
    assert where(ds, "labels != 'cat'") == [i for i in range(N) if LABELS[i] != "cat"]
    assert where(ds, "labels IN ('dog', 'bird')") == [i for i in range(N) if LABELS[i] in ("dog", "bird")]
    assert where(ds, "labels NOT IN ('dog', 'bird')") == where(ds, "labels == 'cat'")
    assert where(ds, "contains(multi, 'dog')") == [i for i in range(N) if "dog" in multi(i)]
    assert where(ds, "'cat' == labels") == where(ds, "labels == 'cat'")


def test_unknown_class_name_suggests(ds):
    with pytest.raises(QueryError, match="No class 'cta'; did you mean 'cat'") as info:
        ds.query("SELECT * WHERE labels == 'cta'")
    assert info.value.column == 26  # the caret points at the string literal


def test_order_limit_offset(ds):
    assert rows(ds.query("SELECT * ORDER BY score DESC LIMIT 3")) == [11, 10, 9]
    assert rows(ds.query("SELECT * ORDER BY score DESC LIMIT 3 OFFSET 2")) == [9, 8, 7]
    assert rows(ds.query("SELECT * ORDER BY score OFFSET 10")) == [10, 11]
    assert rows(ds.query("SELECT * LIMIT 0")) == []
    # several keys: class id ascending, then score descending
    expected = sorted(range(N), key=lambda i: (["cat", "dog", "bird"].index(LABELS[i]), -i))
    assert rows(ds.query("SELECT * ORDER BY labels ASC, score DESC")) == expected
    assert rows(ds.query("SELECT * ORDER BY captions LIMIT 3")) == sorted(range(N), key=lambda i: CAPTIONS[i])[:3]


def test_issue_examples(ds):
    v = ds.query("SELECT * WHERE labels == 'cat' AND shape(images)[0] > 30 ORDER BY random() LIMIT 100", seed=3)
    assert sorted(rows(v)) == [i for i in range(N) if LABELS[i] == "cat" and height(i) > 30]
    v = ds.query("SELECT images[0:16, 0:16, :] AS crop, labels WHERE any(boxes[:, 2] > 50)")
    assert rows(v) == [i for i in range(N) if i % 4 == 3]
    assert list(v.tensors) == ["crop", "labels"]
    assert v.crop.numpy().shape == (len(v), 16, 16, 3)
    np.testing.assert_array_equal(v.crop.numpy()[0], ds.images[3].numpy()[:16, :16, :])
    np.testing.assert_array_equal(v.labels.numpy(), ds.labels.numpy()[v.sample_indices])
    q = emb(5)
    array = "ARRAY[" + ", ".join(repr(float(x)) for x in q) + "]"
    v = ds.query(f"SELECT * ORDER BY cosine_similarity(emb, {array}) DESC LIMIT 3")
    sims = [float(np.dot(emb(i), q) / np.linalg.norm(emb(i)) / np.linalg.norm(q)) for i in range(N)]
    assert rows(v) == sorted(range(N), key=lambda i: -sims[i])[:3]
    assert rows(v)[0] == 5
    v = ds.query("SELECT * SAMPLE BY max_weight(labels == 'cat': 3, labels == 'dog': 1) replace True LIMIT 1000",
                 seed=0)
    counts = np.bincount(v.labels.numpy().ravel(), minlength=3)
    assert len(v) == 1000 and counts[2] == 0
    assert 0.55 < counts[0] / 1000 < 0.80  # 5 cats * 3 / (5 * 3 + 4 dogs * 1) = 0.79 ... 0.79 expected
    w = v.query("SELECT * WHERE contains(captions, 'red')")
    assert all("red" in CAPTIONS[i] for i in rows(w))
    table = w.to_arrow()
    assert isinstance(table, pa.Table) and table.column("sample_index").to_pylist() == rows(w)
    f = ds.filter(lambda s: s.labels.numpy()[0] == 0)
    assert isinstance(f, View) and rows(f) == where(ds, "labels == 'cat'")


def test_shape_and_len_read_no_pixels(ds, monkeypatch):
    from deeplake_nb.format import compression, sample_codec

    def boom(*args, **kwargs):
        raise AssertionError("an image was decoded")
    monkeypatch.setattr(compression, "decode", boom)
    monkeypatch.setattr(sample_codec.SampleCodec, "decode", boom)
    monkeypatch.setattr(sample_codec.SampleCodec, "decode_item", boom)
    assert where(ds, "shape(images)[0] > 30") == [i for i in range(N) if height(i) > 30]
    assert where(ds, "shape(images)[1] == 35") == [1]
    assert where(ds, "len(images) == 20") == [i for i in range(N) if height(i) == 20]
    assert rows(ds.query("SELECT * ORDER BY shape(images)[1] DESC LIMIT 2")) == [11, 10]
    v = ds.query("SELECT * WHERE shape(images)[2] == 3")
    assert len(v) == N and isinstance(v.images, ViewTensor)  # selecting images does not read them
    with pytest.raises(AssertionError, match="decoded"):
        ds.query("SELECT * WHERE mean(images) > 0")


def test_reads_only_the_tensors_it_needs(tmp_path, monkeypatch):
    build(str(tmp_path / "ds"))
    store_type = type(dl.load(str(tmp_path / "ds"), read_only=True)._state.zarr_store)
    seen: list[str] = []

    def spy(original):
        def read(self, key, *args, **kwargs):
            seen.append(key)
            return original(self, key, *args, **kwargs)
        return read
    for method in ("get_sync", "get_buffer_sync"):  # bytes read, and chunks kept as read (maps)
        monkeypatch.setattr(store_type, method, spy(getattr(store_type, method)))
    fresh = dl.load(str(tmp_path / "ds"), read_only=True)  # opened after the spy: every read goes through it
    seen.clear()
    v = fresh.query("SELECT * WHERE labels == 'cat' AND score > 1 ORDER BY captions")
    assert len(v) == 4
    # chunk data only: opening a dataset's tensors reads every array's metadata document (which a
    # version serves from memory), whatever the query
    touched = {key.split("/")[0] for key in seen if "/" in key and not key.endswith("zarr.json")}
    assert touched == {"labels", "score", "captions"}, touched
    seen.clear()
    fresh.query("SELECT * WHERE shape(images)[0] > 30")
    assert {key.rsplit("/c/", 1)[0] for key in seen if "/c/" in key} == {"images/shape"}, seen


def test_text_and_json(ds):
    assert where(ds, "captions == 'cat'") == [7]
    assert where(ds, "contains(captions, 'red')") == [i for i in range(N) if "red" in CAPTIONS[i]]
    assert where(ds, "contains(captions, 'Red')") == [11]  # case-sensitive, like SQL LIKE
    assert where(ds, "len(captions) <= 4") == [i for i in range(N) if len(CAPTIONS[i]) <= 4]
    assert where(ds, "captions > 'r'") == [i for i in range(N) if CAPTIONS[i] > "r"]
    assert where(ds, "captions IN ('bird', 'cat')") == [7, 10]
    assert where(ds, "meta['id'] >= 10") == [10, 11]
    assert where(ds, "contains(meta['tags'], 'even')") == list(range(0, N, 2))
    assert where(ds, "meta['missing'] == 1") == []
    with pytest.raises(QueryError, match="text is not one"):
        ds.query("SELECT * WHERE captions")
    with pytest.raises(QueryError, match="Cannot compare text with numbers"):
        ds.query("SELECT * WHERE captions == 3")
    with pytest.raises(QueryError, match="does not apply to text"):
        ds.query("SELECT * WHERE captions + 1 > 0")


def test_contains_on_large_text_uses_both_paths(tmp_path):
    big = dl.empty(str(tmp_path / "big"))
    big.create_tensor("t", htype="text")
    words = ["alpha", "beta", "gamma", "xylophone", "", "ééé", "box box"]
    values = [words[i % len(words)] + ("!" if i % 5 == 0 else "") for i in range(3000)]
    big.extend({"t": values})
    for needle in ["x", "box", "a", "é", "!", "e", "alpha!", "zzz", "ab"]:
        assert where(big, f"contains(t, '{needle}')") == [i for i, s in enumerate(values) if needle in s], needle


def test_numeric_functions(ds):
    assert where(ds, "sum(boxes[:, 2]) == 40") == [i for i in range(N) if i % 4 == 2]  # 5 + 35
    assert where(ds, "max(boxes[:, 2]) == 65") == [i for i in range(N) if i % 4 == 3]
    assert where(ds, "min(boxes[:, 2]) == 5") == [i for i in range(N) if i % 4 != 0]
    assert where(ds, "mean(boxes[:, 2]) == 35") == [i for i in range(N) if i % 4 == 3]
    assert where(ds, "all(boxes[:, 2] > 0)") == list(range(N))  # empty samples: True
    assert where(ds, "all_strict(boxes[:, 2] > 0)") == [i for i in range(N) if i % 4]
    assert where(ds, "any(boxes[:, 2] > 30)") == [i for i in range(N) if i % 4 >= 2]
    norms = {i: float(np.linalg.norm(emb(i))) for i in range(N)}
    assert rows(ds.query("SELECT * ORDER BY l2_norm(emb) DESC LIMIT 1")) == [max(norms, key=norms.get)]
    v = ds.query("SELECT l2_norm(emb) AS l2, l1_norm(emb) AS l1, linf_norm(emb) AS linf, "
                 "abs(score - 3) AS dist, sqrt(score) AS root, score * 2 + 1 AS lin, score % 2 AS mod")
    np.testing.assert_allclose(v.l2.numpy(), [norms[i] for i in range(N)], rtol=1e-5)
    np.testing.assert_allclose(v.l1.numpy(), [np.abs(emb(i)).sum() for i in range(N)], rtol=1e-5)
    np.testing.assert_allclose(v.linf.numpy(), [np.abs(emb(i)).max() for i in range(N)], rtol=1e-5)
    assert v.dist.numpy().shape == (N, 1)  # scalar samples are stored with shape (1,)
    np.testing.assert_allclose(v.dist.numpy().ravel(), [abs(i * 0.5 - 3) for i in range(N)])
    np.testing.assert_allclose(v.root.numpy().ravel(), [np.sqrt(i * 0.5) for i in range(N)], rtol=1e-6)
    np.testing.assert_allclose(v.lin.numpy().ravel(), [i + 1 for i in range(N)])
    np.testing.assert_allclose(v.mod.numpy().ravel(), [(i * 0.5) % 2 for i in range(N)])
    assert rows(ds.query("SELECT * ORDER BY l2_norm(emb - data(emb, 4)) LIMIT 1")) == [4]
    assert where(ds, "row_number() BETWEEN 2 AND 4") == [2, 3, 4]
    assert where(ds, "score NOT BETWEEN 1 AND 5") == [0, 1, 11]
    assert where(ds, "-score < -5") == [11]


def test_integer_arithmetic_does_not_wrap(ds):
    assert where(ds, "labels - 1 < 0") == where(ds, "labels == 'cat'")  # uint32 class ids


def test_indexing_ragged_past_the_end_is_empty(ds):
    # samples with fewer than 2 boxes have no boxes[1]: false, never an error
    assert where(ds, "boxes[1, 2] == 35") == [i for i in range(N) if i % 4 >= 2]
    assert where(ds, "multi[1] == 'dog'") == [i for i in range(N) if i % 3 == 2]
    assert where(ds, "shape(images)[0] > 30") == [i for i in range(N) if height(i) > 30]
    # past a dimension that every sample has at one length, the query is wrong
    with pytest.raises(QueryError, match="out of range"):
        ds.query("SELECT * WHERE shape(images)[5] > 1")  # every sample is 3-D: no 6th dimension
    with pytest.raises(QueryError, match="out of range"):
        ds.query("SELECT * ORDER BY emb[9], score DESC LIMIT 2")  # every embedding has 8 elements
    with pytest.raises(QueryError, match="Too many indices"):
        ds.query("SELECT * WHERE score[0, 0] > 1")


def test_where_needs_one_value_per_sample(ds):
    with pytest.raises(QueryError, match="one value per sample.*any\\(\\) or all\\(\\)"):
        ds.query("SELECT * WHERE emb > 0")
    with pytest.raises(QueryError, match="ORDER BY needs one value per sample"):
        ds.query("SELECT * ORDER BY emb")


# -- random and sampling ----------------------------------------------------------------------
def test_random_is_seeded(ds):
    a = rows(ds.query("SELECT * ORDER BY random()", seed=7))
    assert sorted(a) == list(range(N))
    assert a == rows(ds.query("SELECT * ORDER BY random()", seed=7))
    assert any(rows(ds.query("SELECT * ORDER BY random()", seed=s)) != a for s in range(3))
    v = ds.query("SELECT random() AS r, random() AS s", seed=1)
    r, s = v.r.numpy(), v.s.numpy()
    assert ((0 <= r) & (r < 1)).all() and not np.array_equal(r, s)


def test_sample_by(ds):
    v = ds.query("SELECT * SAMPLE BY max_weight(labels == 'bird': 1) LIMIT 50", seed=1)
    assert len(v) == 50 and set(rows(v)) <= {2, 6, 10}
    v = ds.query("SELECT * SAMPLE BY max_weight(labels == 'bird': 1, score > 0: 0.001) REPLACE FALSE", seed=1)
    assert sorted(rows(v)) == list(range(1, N))  # row 0 has weight 0
    assert len(ds.query("SELECT * SAMPLE BY sum_weight(labels == 'bird': 0)")) == 0
    v = ds.query("SELECT * WHERE labels == 'cat' SAMPLE BY sum_weight(score > 2: 1, score > 4: 1) LIMIT 4000 "
                 "ORDER BY score", seed=2)
    counts = np.bincount(v.sample_indices, minlength=N)
    assert counts[[0, 3]].sum() == 0 and counts[9] > 1.5 * counts[5] > 0  # weight 2 vs weight 1
    assert np.all(np.diff(v.score.numpy()) >= 0)
    with pytest.raises(QueryError, match=">= 0"):
        ds.query("SELECT * SAMPLE BY max_weight(score > 1: -1)")


# -- grouping ---------------------------------------------------------------------------------
def test_group_by(ds):
    v = ds.query("SELECT * GROUP BY labels")
    assert v.is_grouped and len(v) == 3
    assert [g.tolist() for g in v.groups] == [[i for i in range(N) if LABELS[i] == c] for c in ("cat", "dog", "bird")]
    assert v.labels.numpy(aslist=True)[1].ravel().tolist() == [1, 1, 1, 1]
    group = v[2]
    assert isinstance(group, View) and not group.is_grouped and rows(group) == [2, 6, 10]
    ordered = ds.query("SELECT * GROUP BY labels ORDER BY len(labels) DESC, labels[0] DESC LIMIT 2")
    assert [g.tolist()[0] for g in ordered.groups] == [0, 1]  # 5 cats, then 4 dogs
    top = ds.query("SELECT * WHERE score > 1 GROUP BY labels ORDER BY sum(score) DESC LIMIT 1 UNGROUP BY")
    assert not top.is_grouped and rows(top) == [3, 5, 7, 9]
    table = ds.query("SELECT labels, captions GROUP BY labels").to_arrow()
    assert table.column("captions").type == pa.list_(pa.large_string())
    assert table.column("sample_index").to_pylist()[2] == [2, 6, 10]
    two = ds.query("SELECT * GROUP BY labels, score > 2")
    assert sum(len(g) for g in two.groups) == N and len(two) == 6
    by_text = ds.query("SELECT * WHERE contains(captions, 'cat') GROUP BY captions")
    assert len(by_text) == 5
    with pytest.raises(QueryError, match="already grouped"):
        v.query("SELECT * GROUP BY labels")
    assert rows(v.query("SELECT * UNGROUP BY")) == [g for grp in v.groups for g in grp.tolist()]
    assert len(ds.query("SELECT * WHERE score < 0 GROUP BY labels")) == 0


# -- set operations ---------------------------------------------------------------------------
def test_set_operations(ds):
    cats, low = "(SELECT * WHERE labels == 'cat')", "(SELECT * WHERE score < 2)"
    assert rows(ds.query(f"{cats} UNION {low}")) == [0, 3, 5, 7, 9, 1, 2]
    assert rows(ds.query(f"{cats} INTERSECT {low}")) == [0, 3]
    assert rows(ds.query(f"{cats} EXCEPT {low}")) == [5, 7, 9]
    assert rows(ds.query(f"{low} UNION ALL {low}")) == [0, 1, 2, 3] * 2
    assert rows(ds.query(f"{cats} UNION {low} ORDER BY score DESC LIMIT 2")) == [9, 7]
    top_two = "(SELECT * WHERE score < 2 ORDER BY score DESC LIMIT 2)"
    assert rows(ds.query(f"{top_two} UNION (SELECT * LIMIT 1)")) == [3, 2, 0]
    birds = "(SELECT * WHERE labels == 'bird')"
    twice = f"({birds} UNION ALL {birds})"
    assert rows(ds.query(f"{twice} INTERSECT ALL (SELECT * WHERE score < 4)")) == [2, 6]
    assert rows(ds.query(f"{twice} EXCEPT ALL (SELECT * WHERE score < 4)")) == [10, 2, 6, 10]
    assert rows(ds.query(f"{twice} INTERSECT (SELECT * WHERE score < 4)")) == [2, 6]
    with pytest.raises(QueryError, match="same columns"):
        ds.query("(SELECT labels) UNION (SELECT score)")


# -- views ------------------------------------------------------------------------------------
def test_view_reads_like_a_dataset(ds):
    v = ds.query("SELECT * WHERE labels == 'dog' ORDER BY score DESC")
    expected = [11, 8, 4, 1]
    assert len(v) == 4 and rows(v) == expected and list(v.tensors) == list(ds.tensors)
    np.testing.assert_array_equal(v.emb.numpy(), ds.emb.numpy()[expected])
    np.testing.assert_array_equal(v.score.numpy().ravel(), np.asarray([i * 0.5 for i in expected], np.float32))
    assert v.captions.data()["value"] == [CAPTIONS[i] for i in expected]
    assert v.captions.numpy().tolist() == [[CAPTIONS[i]] for i in expected]
    assert v.meta.data()["value"][0] == {"id": 11, "tags": ["odd"]}
    assert [b.shape for b in v.boxes.numpy(aslist=True)] == [boxes(i).shape for i in expected]
    assert v.images.numpy(aslist=True)[0].shape == ds.images[11].numpy().shape
    assert v.labels.data()["text"] == [["dog"]] * 4
    one = v[1]
    assert one.emb.numpy().shape == (8,) and one.captions.text() == CAPTIONS[8]
    assert rows(v[1:3]) == [8, 4] and rows(v[[3, 0]]) == [1, 11]
    assert rows(v[np.array([True, False, True, False])]) == [11, 4]
    assert [rows(r)[0] for r in v] == expected
    assert v.emb[2].numpy().shape == (8,) and v.emb[1:3].numpy().shape == (2, 8)
    assert v["labels"].name == "labels"
    with pytest.raises(TensorNotFoundError, match="did you mean 'labels'"):
        v["lables"]
    with pytest.raises(AttributeError):
        getattr(v, "nothing")
    assert "View(4 rows" in repr(v) and "labels" in v._summary_text()
    assert v.dataset.path == ds.path and v.query_string.startswith("SELECT")


def test_chained_queries_see_computed_columns(ds):
    v = ds.query("SELECT score * 2 AS double, labels, captions WHERE score >= 1")
    w = v.query("SELECT * WHERE double > 8 ORDER BY double DESC")
    assert rows(w) == [11, 10, 9] and list(w.tensors) == ["double", "labels", "captions"]
    np.testing.assert_allclose(w.double.numpy().ravel(), [11, 10, 9])
    assert isinstance(w.double, ComputedTensor) and isinstance(w.labels, ViewTensor)
    with pytest.raises(QueryError, match="Unknown tensor 'score'"):
        v.query("SELECT * WHERE score > 1")  # not selected, so not visible
    sub = ds[4:10]
    assert rows(sub.query("SELECT * WHERE labels == 'cat'")) == [5, 7, 9]  # source indices
    assert rows(sub.query("SELECT * WHERE row_number() == 0")) == [4]
    assert rows(v.filter(lambda row: row.double.numpy()[0] > 10)) == [11]
    assert rows(v.filter("double > 10")) == [11]
    assert rows(ds.filter("labels == 'bird'")) == [2, 6, 10]
    assert rows(ds.query("SELECT * WHERE score > 2").query("SELECT * WHERE score < 4")) == [5, 6, 7]


def test_aliases_in_where_and_order_by(ds):
    v = ds.query("SELECT score * -1 AS neg WHERE neg < -4 ORDER BY neg LIMIT 2")
    assert rows(v) == [11, 10]
    shadow = ds.query("SELECT score * -1 AS score WHERE score > 4 ORDER BY score")
    assert rows(shadow) == [11, 10, 9]  # WHERE reads the tensor, ORDER BY the alias
    with pytest.raises(QueryError, match="selected twice"):
        ds.query("SELECT labels, score AS labels")


def test_computed_columns(ds):
    v = ds.query("SELECT boxes[:, 2] AS widths, shape(images) AS shp, 'x' AS const WHERE labels == 'dog'")
    dogs = (1, 4, 8, 11)
    assert [w.tolist() for w in v.widths.numpy(aslist=True)] == [boxes(i)[:, 2].tolist() for i in dogs]
    with pytest.raises(DynamicShapeError):
        v.widths.numpy()
    assert v.shp.numpy().tolist() == [[height(i), 30 + 5 * i, 3] for i in dogs]
    assert v.shp.shape == (4, 3) and v.widths.shape == (4, None)
    assert v.widths[0].numpy().tolist() == [5] and v.shp[1:].numpy().shape == (3, 3)
    assert v.const.data()["value"] == ["x"] * 4
    assert "widths" in repr(v.widths)


def test_to_arrow(ds):
    v = ds.query("SELECT * WHERE score >= 4")
    table = v.to_arrow()
    assert table.column_names == ["sample_index", "images", "labels", "boxes", "captions", "emb", "meta", "score",
                                  "multi"]
    assert table.column("images").type == pa.large_binary()  # the stored files (see test_arrow.py)
    assert table.column("labels").type == pa.dictionary(pa.int32(), pa.string())
    assert table.column("labels").to_pylist() == [LABELS[i] for i in range(8, N)]
    assert table.column("emb").type == pa.list_(pa.float32(), 8)
    assert table.column("multi").to_pylist()[0] == [1, 0]  # multi-label rows become lists of ids
    assert table.column("meta").to_pylist()[0] == '{"id":8,"tags":["even"]}'
    assert table.column("score").to_pylist() == [4.0, 4.5, 5.0, 5.5]
    picked = v.to_arrow(columns=["captions"])
    assert picked.column_names == ["sample_index", "captions"]
    assert v.to_arrow(columns=["images"]).column_names == ["sample_index", "images"]
    with pytest.raises(TensorNotFoundError):
        v.to_arrow(columns=["nope"])
    computed = ds.query("SELECT score * 2 AS d, shape(images)[0] AS h LIMIT 2").to_arrow()
    assert computed.column("d").to_pylist() == [0.0, 1.0] and computed.column("h").to_pylist() == [20, 30]


def test_commit_id_is_recorded(ds, monkeypatch):
    assert ds.query("SELECT *").commit_id == getattr(ds, "commit_id", None)
    monkeypatch.setattr(type(ds), "commit_id", property(lambda self: "c0ffee"), raising=False)
    v = ds.query("SELECT * WHERE labels == 'cat'")
    assert v.commit_id == "c0ffee" and v.query("SELECT * LIMIT 1").commit_id == "c0ffee"
    assert v[0:2].commit_id == "c0ffee" and ds.filter(lambda s: True).commit_id == "c0ffee"


# -- errors -----------------------------------------------------------------------------------
def test_unknown_names_suggest_the_nearest(ds):
    with pytest.raises(QueryError, match="Unknown tensor 'lables'; did you mean 'labels'") as info:
        ds.query("SELECT *\nWHERE lables == 'cat'")
    assert (info.value.line, info.value.column) == (2, 7)
    assert str(info.value).splitlines()[-1] == "          ^^^^^^"
    with pytest.raises(QueryError, match="Unknown function l2norm\\(\\); did you mean l2_norm\\(\\)"):
        ds.query("SELECT * ORDER BY l2norm(emb)")
    with pytest.raises(QueryError, match="takes 2 arguments, got 1"):
        ds.query("SELECT * WHERE cosine_similarity(emb) > 0")
    with pytest.raises(QueryError, match="vectors of one length"):
        ds.query("SELECT * WHERE cosine_similarity(emb, ARRAY[1, 2]) > 0")
    with pytest.raises(QueryError, match="needs numbers"):
        ds.query("SELECT * WHERE sum(captions) > 0")
    with pytest.raises(QueryError, match="Unknown tensor 'nope'"):
        ds.query("SELECT nope")
    with pytest.raises(QueryError, match="data\\(\\) takes a tensor name first"):
        ds.query("SELECT * WHERE data(1, 2) > 0")
    with pytest.raises(QueryError, match="out of range"):
        ds.query("SELECT * ORDER BY l2_norm(emb - data(emb, 99))")


def test_errors_in_computed_columns_show_at_query_time(ds):
    with pytest.raises(QueryError, match="does not apply to text"):
        ds.query("SELECT captions * 2 AS bad")


# -- edge cases and scale ---------------------------------------------------------------------
def test_empty_and_group_datasets(tmp_path):
    empty = dl.empty(str(tmp_path / "e"))
    empty.create_tensor("x", htype="generic", dtype="int64")
    empty.create_tensor("t", htype="text")
    v = empty.query("SELECT * WHERE x > 1 AND contains(t, 'a') ORDER BY x")
    assert len(v) == 0 and v.x.numpy().shape[0] == 0
    assert empty.query("SELECT * GROUP BY x").groups == []
    g = dl.empty(str(tmp_path / "g"))
    g.create_tensor("grp/x", htype="generic", dtype="int64")
    g.extend({"grp/x": [3, 1, 2]})
    assert rows(g.query('SELECT * ORDER BY "grp/x"')) == [1, 2, 0]
    assert rows(g["grp"].query("SELECT * WHERE x >= 2")) == [0, 2]


def test_batches_and_threads_give_the_same_answer(tmp_path, monkeypatch):
    big = dl.empty(str(tmp_path / "big"))
    rng = np.random.default_rng(1)
    n = 20_000
    labels = rng.integers(0, 10, n).astype(np.int32)
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    text = [f"item {i} {'x' if i % 7 == 0 else 'y'}" for i in range(n)]
    with big:
        big.create_tensor("labels", htype="generic", dtype="int32")
        big.create_tensor("vec", htype="embedding")
        big.create_tensor("text", htype="text")
        big.extend({"labels": labels, "vec": vectors, "text": text})
    q = vectors[123]
    array = "ARRAY[" + ", ".join(repr(float(x)) for x in q) + "]"
    query = (f"SELECT * WHERE labels >= 3 AND contains(text, 'x') "
             f"ORDER BY cosine_similarity(vec, {array}) DESC LIMIT 50")
    sims = vectors @ q / np.linalg.norm(vectors, axis=1) / np.linalg.norm(q)
    mask = (labels >= 3) & (np.arange(n) % 7 == 0)
    expected = np.flatnonzero(mask)[np.argsort(-sims[mask], kind="stable")][:50]
    results = []
    monkeypatch.setattr(evaluate_module, "PARALLEL_MIN_BYTES", 0)  # threads even for this small table
    monkeypatch.setattr(evaluate_module, "WORKERS", 3)
    for parallel, batch in [(False, 2 << 20), (True, 4096), (False, 4096), (True, 2 << 20)]:  # last: shares
        monkeypatch.setattr(evaluate_module, "PARALLEL", parallel)
        monkeypatch.setattr(evaluate_module, "BATCH_BYTES", batch)
        results.append(rows(big.query(query)))
    assert results[0] == results[1] == results[2] == results[3]
    assert results[0][:10] == expected[:10].tolist() and set(results[0]) == set(expected.tolist())
    v = big.query("SELECT vec WHERE labels == 3")
    np.testing.assert_array_equal(v.vec.numpy(), vectors[labels == 3])
    shuffled = v.query("SELECT * ORDER BY random()", seed=0)
    np.testing.assert_array_equal(shuffled.vec.numpy(), vectors[shuffled.sample_indices])
    assert big.query("SELECT * WHERE contains(text, 'x')").text.data()["value"][:2] == ["item 0 x", "item 7 x"]


def test_writable_dataset_sees_pending_appends(tmp_path):
    live = dl.empty(str(tmp_path / "live"))
    live.create_tensor("x", htype="generic", dtype="int64")
    live.create_tensor("t", htype="text")
    with live:
        live.extend({"x": [1, 2, 3], "t": ["a", "b", "c"]})
        assert rows(live.query("SELECT * WHERE x >= 2 AND t != 'c'")) == [1]
    live.append({"x": 9, "t": "z"})
    assert rows(live.query("SELECT * WHERE x > 5")) == [3]


def test_text_dictionary_is_built_at_the_second_whole_read(ds, monkeypatch):
    """The first query after opening searches the text as stored (building the dictionary costs
    several plain searches); the next one builds it; both answer alike."""
    from deeplake_nb.query import scan

    monkeypatch.setattr(scan, "DICTIONARY_RATIO", 1.0)
    ro = dl.load(ds.path, read_only=True)
    cache = scan.cache_for(ro)
    query = "SELECT * WHERE contains(captions, 'a')"
    first = rows(ro.query(query))
    assert cache.get(("dictionary", "captions", N)) is None
    second = rows(ro.query(query))
    assert cache.get(("dictionary", "captions", N))[0].to_pylist() == list(dict.fromkeys(CAPTIONS))
    assert first == second == rows(ro.query(query)) == rows(ds.query(query))


def test_read_only_datasets_cache_chunks_and_encode_text(ds, monkeypatch):
    from deeplake_nb.query import scan

    monkeypatch.setattr(scan, "DICTIONARY_RATIO", 1.0)  # dictionary-encode even 12 distinct captions
    ro = dl.load(ds.path, read_only=True)
    queries = ["SELECT * WHERE contains(captions, 'red')", "SELECT * WHERE captions == 'cat'",
               "SELECT * WHERE captions IN ('bird', 'cat') OR len(captions) > 9",
               "SELECT * ORDER BY captions DESC, score", "SELECT * GROUP BY captions",
               "SELECT * WHERE captions > 'c' AND labels == 'cat' ORDER BY emb[0]",
               "SELECT * ORDER BY captions LIMIT 2",
               "SELECT * SAMPLE BY max_weight(contains(captions, 'dog'): 1) REPLACE FALSE"]
    for query in queries:
        mine, theirs = ro.query(query, seed=5), ds.query(query, seed=5)
        assert rows(mine) == rows(theirs), query
        assert mine.groups is None or [g.tolist() for g in mine.groups] == [g.tolist() for g in theirs.groups]
    cache = scan.cache_for(ro)
    assert cache is not None and cache.nbytes > 0 and scan.cache_for(ds) is None
    assert cache.get(("dictionary", "captions", N))[0].to_pylist() == list(dict.fromkeys(CAPTIONS))
    assert ro.query("SELECT captions WHERE labels == 'dog'").to_arrow().column("captions").to_pylist() == \
        [CAPTIONS[i] for i in (1, 4, 8, 11)]
    with pytest.raises(QueryError, match="must be a number"):
        ro.query("SELECT * SAMPLE BY max_weight(score > 1: captions)")
    store_type = type(ro._state.zarr_store)
    calls: list[str] = []
    original = store_type.get_sync

    def spy(self, key, *args, **kwargs):
        calls.append(key)
        return original(self, key, *args, **kwargs)
    monkeypatch.setattr(store_type, "get_sync", spy)
    ro.query("SELECT * WHERE contains(captions, 'red') AND score > 1")
    assert calls == []  # everything came from memory
    monkeypatch.setattr(scan, "CACHE_BYTES", 0)
    assert scan.cache_for(ro) is None


def test_cache_follows_checkout(tmp_path):
    path = str(tmp_path / "v")
    ds = dl.empty(path)
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": [1, 2, 3], "t": ["a", "b", "a"]})
    if not hasattr(ds, "commit"):
        pytest.skip("no version control in this build")
    first = ds.commit("first")
    ds.x[0] = 10
    ds.t[1] = "a"
    ds.commit("second")
    ro = dl.load(path, read_only=True)
    assert rows(ro.query("SELECT * WHERE x > 5 OR t == 'b'")) == [0]
    ro.checkout(first)
    assert rows(ro.query("SELECT * WHERE x > 5 OR t == 'b'")) == [1]
    v = ro.query("SELECT * WHERE t == 'a'")
    assert v.commit_id == first


def test_arrays_handed_out_are_writable(ds):
    ro = dl.load(ds.path, read_only=True)
    for _ in range(2):  # the second time the chunks come from the cache
        v = ro.query("SELECT emb, score * 1 AS s WHERE labels == 'cat'")
        emb, s = v.emb.numpy(), v.s.numpy()
        emb[0, 0] = 123.0
        s[0] = 7
        assert ro.emb[0].numpy()[0] != 123.0


def test_union_all_with_repeated_rows_sorts_by_the_right_values(tmp_path):
    ds = dl.empty(tmp_path / "repeats")
    ds.create_tensor("a", dtype="int32")
    ds.a.extend([4, -2, -3, 0, 2, 1, -4])
    view = ds.query("(SELECT * LIMIT 4) UNION ALL (SELECT * WHERE a == -3 OR a == 1)")
    assert view.sample_indices.tolist() == [0, 1, 2, 3, 2, 5]
    ordered = view.query("SELECT * ORDER BY a DESC")
    assert ordered.sample_indices.tolist() == [0, 5, 3, 1, 2, 2]


def test_sample_index_names_each_rows_source_index(ds):
    view = ds.query("SELECT * WHERE labels != 'bird' ORDER BY score DESC")
    source = rows(view)
    assert rows(view.query("SELECT * ORDER BY sample_index")) == sorted(source)
    assert rows(view.query("SELECT * ORDER BY sample_index DESC LIMIT 2")) == sorted(source)[::-1][:2]
    assert rows(view.query("SELECT * ORDER BY sample_index() LIMIT 3")) == sorted(source)[:3]
    assert where(ds, "sample_index % 3 == 0") == [0, 3, 6, 9]
    table = ds.query("SELECT score, sample_index AS i WHERE labels == 'dog'").to_arrow()
    assert table.column("i").to_pylist() == table.column("sample_index").to_pylist() == [1, 4, 8, 11]
    grouped = ds.query("SELECT sample_index AS members GROUP BY labels")
    assert [m.tolist() for m in grouped.members.numpy(aslist=True)] == [g.tolist() for g in grouped.groups]
    shadow = dl.empty("mem://sample-index-shadow")
    shadow.create_tensor("sample_index", dtype="int32")
    shadow.sample_index.extend([5, 3, 9])
    assert rows(shadow.query("SELECT * ORDER BY sample_index")) == [1, 0, 2]  # a tensor of that name wins
    assert rows(shadow.query("SELECT * ORDER BY sample_index() DESC")) == [2, 1, 0]
