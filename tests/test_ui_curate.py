"""Curation from the widgets, kernel side: "find similar" writes and runs the cosine-similarity
top-k query, tagging adds to a ``tag`` tensor (made when missing), the selection is saved as a
view that ``dl.load`` opens; bad requests get error replies and leave the dataset as it was."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import WidgetRequestError
from deeplake_nb.ui import curate

pytest.importorskip("anywidget")

N = 20


def make(path) -> dl.Dataset:
    ds = dl.empty(str(path))
    rng = np.random.default_rng(1)
    with ds:
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("features", dtype="float32")
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("ids", dtype="int64")
        ds.extend({"emb": rng.normal(size=(N, 6)).astype(np.float32),
                   "features": rng.normal(size=(N, 3)).astype(np.float32),
                   "labels": ["a", "b"] * (N // 2), "ids": np.arange(N)})
    ds.commit("first")
    return ds


@pytest.fixture
def ds(tmp_path):
    return make(tmp_path / "ds")


def reply(w, content):
    """What the widget sends back for one browser message (errors included)."""
    sent = []
    w.send = lambda msg, buffers=None: sent.append(msg)
    w._on_msg(w, content, [])
    (msg,) = sent
    return msg


def cosine_order(ds, i):
    e = ds.emb.numpy().astype(np.float64)
    sims = e @ e[i] / np.linalg.norm(e, axis=1) / np.linalg.norm(e[i])
    return sorted(range(N), key=lambda j: -sims[j])


def test_vector_tensors_are_found(ds):
    assert curate.embedding_tensors(ds) == ["emb", "features"]


def test_find_similar_writes_and_runs_the_top_k_query(ds):
    w = dl.ui.QueryWidget(ds)
    assert w.similar_tensors == ["emb", "features"]
    view = w.find_similar(4, k=5)
    assert w.query.startswith("SELECT * ORDER BY cosine_similarity(emb, ARRAY[") and w.query.endswith("DESC LIMIT 5")
    assert list(view.sample_indices) == cosine_order(ds, 4)[:5] and view.sample_indices[0] == 4
    assert w.length == 5 and w.history[0]["query"] == w.query
    # from the grid's result: position 1 of the result is dataset row cosine_order(ds, 4)[1]
    second = cosine_order(ds, 4)[1]
    msg = reply(w, {"type": "similar", "id": "s", "position": 1, "k": 3})
    assert msg["ok"] and msg["count"] == 3 and msg["query"] == w.query
    assert list(w.view.sample_indices) == cosine_order(ds, second)[:3]


@pytest.mark.parametrize("args, message", [
    ((0, "labels", 5), "holds no vector"),
    ((0, ["emb"], 5), "holds no vector"),
    ((0, "nope", 5), "holds no vector"),
    ((N, "emb", 5), "out of range"),
    (("1", "emb", 5), "is an integer"),
    ((True, "emb", 5), "is an integer"),
    ((0, "emb", 0), "1..1000"),
])
def test_bad_similar_requests(ds, args, message):
    with pytest.raises(WidgetRequestError, match=message):
        curate.similar_query(ds, *args)


def test_all_zero_vector_cannot_be_compared(tmp_path):
    ds = dl.empty(str(tmp_path / "z"))
    ds.create_tensor("emb", htype="embedding")
    ds.emb.extend(np.zeros((2, 4), np.float32))
    with pytest.raises(WidgetRequestError, match="pick another sample"):
        curate.similar_query(ds, 0, "emb", 2)


def test_tag_selection_makes_the_tag_tensor_and_adds_once(ds):
    w = ds.visualize()
    w.select([2, 5])
    assert w.tag_selection("good") == 2
    assert ds.tags.htype == "tag" and len(ds.tags) == N and len(ds) == N
    tags = [list(t) for t in ds.tags.numpy(aslist=True)]
    assert tags[2] == ["good"] and tags[5] == ["good"] and tags[0] == []
    w.select([5, 6])
    assert reply(w, {"type": "tag", "id": "t", "tag": "good"}) == {"type": "tagged", "id": "t", "count": 1,
                                                                   "tensor": "tags"}
    w.handle_message({"type": "tag", "id": "t", "tag": "blurry"})
    assert [list(t) for t in ds.tags.numpy(aslist=True)][5] == ["good", "blurry"]
    assert "tags" in [t["name"] for t in w.tensors]  # the widget shows the new tensor


def test_tag_in_query_results_tags_dataset_rows(ds):
    w = dl.ui.QueryWidget(ds, "SELECT * WHERE labels == 'b'")
    w.select([0, 2])  # rows 1 and 5
    w.tag_selection("odd", tensor="marks")
    assert [i for i, t in enumerate(ds.marks.numpy(aslist=True)) if list(t) == ["odd"]] == [1, 5]


def test_bad_tags_leave_the_dataset_as_it_was(ds):
    w = ds.visualize()
    w.select([1])
    for bad, message in [("", "non-empty"), ("x" * 201, "at most 200"), (3, "non-empty")]:
        msg = reply(w, {"type": "tag", "id": "b", "tag": bad})
        assert msg["type"] == "error" and msg["id"] == "b" and message in msg["message"]
    with pytest.raises(WidgetRequestError, match="not a tag tensor"):
        w.tag_selection("x", tensor="labels")
    assert "tags" not in ds.tensors and ds.labels.numpy().ravel().tolist() == [0, 1] * (N // 2)
    w.select([])
    assert w.tag_selection("nothing selected") == 0 and "tags" not in ds.tensors


def test_tagging_a_view_needs_the_tensor_first(ds):
    w = ds[3:8].visualize()
    w.select([0])
    with pytest.raises(WidgetRequestError, match="create_tensor"):
        w.tag_selection("x")
    ds.create_tensor("tags", htype="tag")
    ds.tags.extend([[] for _ in range(N)])
    assert w.tag_selection("x") == 1 and list(ds.tags[3].numpy()) == ["x"]


def test_tagging_a_read_only_dataset_fails_and_says_so(ds):
    ro = dl.load(ds.path, read_only=True)
    w = ro.visualize()
    w.select([0])
    msg = reply(w, {"type": "tag", "id": "r", "tag": "x"})
    assert msg["type"] == "error" and "read" in msg["message"].lower()
    assert "tags" not in dl.load(ds.path, read_only=True).tensors


def test_save_selection_as_a_view(ds):
    w = dl.ui.QueryWidget(ds, "SELECT * WHERE labels == 'a'")
    w.select([1, 3])  # rows 2 and 6
    msg = reply(w, {"type": "save_view", "id": "v", "message": "two a's"})
    assert msg["type"] == "saved"
    saved = dl.load(msg["address"])
    assert saved.ids.numpy().ravel().tolist() == [2, 6]
    w.select([])
    everything = dl.load(w.save_selection())
    assert everything.ids.numpy().ravel().tolist() == list(range(0, N, 2))


def test_save_view_with_uncommitted_changes_says_what_to_do(ds):
    w = ds.visualize()
    w.select([0])
    w.tag_selection("x")
    msg = reply(w, {"type": "save_view", "id": "v"})
    assert msg["type"] == "error" and "commit" in msg["message"].lower()
