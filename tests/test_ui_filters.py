"""The query widget's filter panel and chart, kernel side: facets (per-class sample counts, numeric
and len() ranges, text search), the TQL a selection makes (multi-label tensors get contains(),
names and strings quoted), the ``filter`` message writing that query into ``query`` and running it,
true percentages (a class counted once per sample), and the chart-click query under Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import WidgetRequestError
from deeplake_nb.ui import facets

pytest.importorskip("anywidget")

from deeplake_nb.ui.query_widget import QueryWidget  # noqa: E402

WIDGETS = Path(__file__).resolve().parents[1] / "widgets"
LABELS = [[0, 1, 1], [1], [2], [0], []]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    ds = dl.empty(str(tmp_path_factory.mktemp("filters") / "ds"))
    with ds:
        ds.create_tensor("labels", htype="class_label", class_names=["dog", "bicycle", "it's"])
        ds.create_tensor("scene", htype="class_label", class_names=["indoor", "outdoor"])
        ds.create_tensor("ann/boxes", htype="bbox")
        ds.create_tensor("score", dtype="float32")
        ds.create_tensor("embedding", htype="embedding")
        ds.create_tensor("caption", htype="text")
        for i, ids in enumerate(LABELS):
            ds.append({"labels": np.asarray(ids, np.uint32), "scene": i % 2,
                       "ann/boxes": np.zeros((len(ids), 4), np.float32), "score": np.float32(i / 4),
                       "embedding": np.zeros(4, np.float32), "caption": f"a photo of thing {i}"})
    return ds


def by_tensor(found):
    return {(f["kind"], f["tensor"]): f for f in found}


def test_facets_of_every_kind(ds):
    found = by_tensor(facets.facets(ds))
    assert set(found) == {("class", "labels"), ("class", "scene"), ("range", "ann/boxes"), ("range", "score"),
                          ("text", "caption")}  # no facet for a fixed-length embedding
    labels = found["class", "labels"]
    assert labels["multi"] and labels["total"] == 5
    assert [(c["name"], c["count"]) for c in labels["classes"]] == [("dog", 2), ("bicycle", 2), ("it's", 1)]  # ties: lower id first
    assert not found["class", "scene"]["multi"]
    assert found["range", "ann/boxes"] == {"kind": "range", "tensor": "ann/boxes", "expr": 'len("ann/boxes")',
                                           "min": 0, "max": 3, "integer": True}
    score = found["range", "score"]
    assert score["expr"] == "score" and score["min"] == 0 and score["max"] == 1 and not score["integer"]


def test_percentages_count_each_sample_once(ds):
    chart = facets.label_counts(ds, "labels")
    assert chart["multi"] and chart["unlabeled"] == 1
    assert all(b["count"] <= chart["total"] for b in chart["bars"])
    assert {b["name"]: b["count"] for b in chart["bars"]} == {"dog": 2, "bicycle": 2, "it's": 1}
    assert not facets.label_counts(ds, "scene")["multi"]


def test_filter_query_quotes_and_combines(ds):
    found = facets.facets(ds)
    assert facets.filter_query(found, {}) == "SELECT *"
    q = facets.filter_query(found, {"classes": {"labels": ["dog", "it's"], "scene": ["outdoor"]},
                                    "ranges": {'len("ann/boxes")': [1, 2], "score": [0, 1]},
                                    "text": {"caption": "thing 3"}})
    assert q == ("SELECT * WHERE (contains(labels, 'dog') OR contains(labels, 'it''s')) AND scene == 'outdoor' "
                 "AND len(\"ann/boxes\") BETWEEN 1 AND 2 AND contains(caption, 'thing 3')")  # full score range: no term
    assert list(ds.query(q).sample_indices) == [3]
    assert len(ds.query(facets.filter_query(found, {"ranges": {"score": [0.2, 0.6]}}))) == 2
    for bad in [{"classes": {"nope": ["dog"]}}, {"ranges": {"score": [1, 0]}}, {"ranges": {"score": [0, "1"]}},
                {"text": {"labels": "x"}}, ["not", "a", "mapping"], {"classes": ["dog"]}, {"ranges": [0, 1]},
                {"text": "thing"}]:
        with pytest.raises(WidgetRequestError):
            facets.filter_query(found, bad)


def test_keyword_tensor_names_are_quoted(tmp_path):
    kw = dl.empty(str(tmp_path / "kw"))
    with kw:
        kw.create_tensor("order", htype="class_label", class_names=["a", "b"])
        kw.create_tensor("limit", dtype="int32")
        kw.extend({"order": [0, 1, 0], "limit": [1, 2, 3]})
    assert facets.tql_name("limit") == '"limit"' and facets.tql_name("Select") == '"Select"'
    found = facets.facets(kw)
    q = facets.filter_query(found, {"classes": {"order": ["a"]}, "ranges": {'"limit"': [1, 2]}})
    assert q == 'SELECT * WHERE "order" == \'a\' AND "limit" BETWEEN 1 AND 2'
    assert list(kw.query(q).sample_indices) == [0]
    assert QueryWidget(kw).chart["tql"] == '"order"'  # what a bar click writes in the browser


def test_filter_message_writes_the_query_and_runs_it(ds):
    w = QueryWidget(ds)
    assert w.facets == facets.facets(ds)
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._on_msg(w, {"type": "filter", "id": "f1", "selection": {"classes": {"labels": ["bicycle"]}}}, [])
    assert sent[-1] == {"type": "result", "id": "f1", "ok": True, "count": 2, "ms": sent[-1]["ms"],
                        "query": "SELECT * WHERE contains(labels, 'bicycle')"}
    assert w.query == "SELECT * WHERE contains(labels, 'bicycle')" and w.length == 2
    assert w.chart["multi"] and {b["name"]: b["count"] for b in w.chart["bars"]} == {"bicycle": 2, "dog": 1}
    w._on_msg(w, {"type": "filter", "id": "f2", "selection": {"classes": {"labels": "dog"}}}, [])
    assert sent[-1]["type"] == "error" and sent[-1]["id"] == "f2" and w.length == 2  # the result stays
    assert w.filter({"text": {"caption": "thing 4"}}) is not None and w.length == 1
    with ds:
        ds.append({"labels": np.asarray([2], np.uint32), "scene": 0, "ann/boxes": np.zeros((9, 4), np.float32),
                   "score": np.float32(3), "embedding": np.zeros(4, np.float32), "caption": "new"})
    try:
        w.refresh()
        assert by_tensor(w.facets)["range", "score"]["max"] == 3
    finally:
        ds.pop()


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_chart_click_query_and_shares_in_query_widget_js():
    module = json.dumps((WIDGETS / "query_widget.js").as_uri())
    script = f"""
        const q = await import({module});
        console.log(JSON.stringify({{ multi: q.classQuery("labels", "it's", true), single: q.classQuery("a/b", "dog", false),
          share: q.share(2, 5), none: q.share(1, 0), keyword: q.classQuery("order", "a", false, '"order"') }}));
    """
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"multi": "SELECT * WHERE contains(labels, 'it''s')", "single": 'SELECT * WHERE "a/b" == \'dog\'',
                      "share": "40.0%", "none": "", "keyword": 'SELECT * WHERE "order" == \'a\''}


def test_constant_and_unreadable_columns_have_no_facet(tmp_path):
    ds = dl.empty(str(tmp_path / "const"))
    ds.create_tensor("same", dtype="int32")
    ds.create_tensor("meta", htype="json")
    ds.create_tensor("labels", htype="class_label")
    ds.extend({"same": np.full(3, 7, np.int32), "meta": [{"a": 1}] * 3, "labels": np.zeros(3, np.uint32)})
    found = facets.facets(ds)
    assert [(f["kind"], f["tensor"]) for f in found] == [("class", "labels")]
    assert found[0]["classes"] == [{"name": "0", "id": 0, "count": 3}]  # no class_names: the id as text


def test_counts_of_samples_with_the_same_number_of_labels(tmp_path):
    """Every sample holds two ids (the dense path): a sample holding one class twice counts once."""
    ds = dl.empty(str(tmp_path / "dense"))
    ds.create_tensor("labels", htype="class_label", class_names=["dog", "bicycle", "cat"])
    ds.extend({"labels": [[1, 1], [0, 1], [2, 2], [1, 0]]})
    chart = facets.label_counts(ds, "labels")
    assert chart["multi"] and chart["unlabeled"] == 0 and chart["total"] == 4
    assert {b["name"]: b["count"] for b in chart["bars"]} == {"bicycle": 3, "dog": 2, "cat": 1}


def test_pictures_of_different_sizes_get_height_and_width_ranges(tmp_path):
    ds = dl.empty(str(tmp_path / "sizes"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("same", htype="image", sample_compression="png")
    for side in (10, 20, 30):
        ds.append({"images": np.zeros((side, 16, 3), np.uint8), "same": np.zeros((8, 8, 3), np.uint8)})
    ranges = [f for f in facets.facets(ds) if f["kind"] == "range"]
    assert ranges == [{"kind": "range", "tensor": "images", "expr": "shape(images)[0]", "label": "images height",
                       "min": 10, "max": 30, "integer": True}]    # widths agree, and so does every size of 'same'
    query = facets.filter_query(ranges, {"ranges": {"shape(images)[0]": [15, 30]}})
    assert query == "SELECT * WHERE shape(images)[0] BETWEEN 15 AND 30"
    assert len(ds.query(query)) == 2
