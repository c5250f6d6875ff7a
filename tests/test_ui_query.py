"""The query widget, kernel side: state after good and bad queries (view, count, time, error with
line/column/caret width, text kept, history), the class-label chart data, the run message and the
grid's page requests over the result, views and groups, the text/HTML fallback; and the browser
module's pure helpers under Node.js when it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from deeplake_nb.errors import QueryError, WidgetRequestError

pytest.importorskip("anywidget")

from deeplake_nb.ui.query_widget import QueryWidget, error_info, label_counts  # noqa: E402

CLASSES = ["cat", "dog", "bird"]
LABELS = [i % 3 if i % 5 else 0 for i in range(24)]   # cats are the most frequent
N_CAT, N_DOG, N_BIRD = (LABELS.count(k) for k in range(3))  # 11, 7, 6
WIDGETS = Path(__file__).resolve().parents[1] / "widgets"


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    ds = dl.empty(str(tmp_path_factory.mktemp("uiq") / "ds"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=CLASSES)
        ds.create_tensor("tags", htype="class_label", class_names=["a", "b", "c", "d"])
        ds.create_tensor("score", htype="generic", dtype="float32")
        for i, label in enumerate(LABELS):
            pixels = np.full((12, 16, 3), (i * 10) % 256, np.uint8)
            ds.append({"images": dl.Sample(buffer=simplejpeg.encode_jpeg(pixels)), "labels": CLASSES[label],
                       "tags": [] if i % 4 == 0 else list(range(i % 4)), "score": np.float32(i)})
    return dl.load(ds.path, read_only=True)


@pytest.fixture
def widget(ds):
    return QueryWidget(ds, page_size=8, thumb_size=64)


def expected(ds, query):
    return ds.query(query).sample_indices.tolist()


# -- construction --------------------------------------------------------------------------------
def test_attached_lazily_and_exported():
    code = ("import sys, deeplake_nb as dl; assert hasattr(dl.Dataset, 'commit_graph'); "
            "assert dl.Dataset.commit_graph.__name__ == 'commit_graph'; "
            "print(sorted(m for m in ('anywidget', 'ipywidgets', 'traitlets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert dl.ui.QueryWidget is QueryWidget


def test_initial_state_shows_the_whole_dataset(ds, widget):
    assert widget.view is None and widget.query == "" and widget.error == {} and widget.result == {}
    assert widget.length == len(ds) and widget.image_tensor == "images" and widget.history == []
    assert widget.chart_tensor == "labels"
    assert widget.chart["total"] == len(ds)
    assert [(b["name"], b["count"]) for b in widget.chart["bars"]] == [("cat", N_CAT), ("dog", N_DOG), ("bird", N_BIRD)]
    assert "QueryWidget(" in repr(widget) and "\n" not in repr(widget)


# -- running queries -----------------------------------------------------------------------------
def test_good_query_sets_view_count_time_chart_and_grid(ds, widget):
    q = "SELECT * WHERE labels == 'dog' ORDER BY score DESC"
    view = widget.run(q)
    assert view is widget.view and view.sample_indices.tolist() == expected(ds, q)
    assert widget.query == q and widget.error == {}
    assert widget.length == N_DOG and widget.page == 0 and widget.selected_indices == []
    r = widget.result
    assert r["ok"] and r["count"] == N_DOG and r["samples"] == N_DOG and not r["grouped"] and r["ms"] >= 0
    assert r["columns"] == ["images", "labels", "tags", "score"]
    assert widget.chart["bars"] == [{"name": "dog", "id": 1, "count": N_DOG}] and widget.chart["total"] == N_DOG
    assert widget.history[0]["query"] == q and widget.history[0]["ok"] and widget.history[0]["count"] == N_DOG
    # the grid pages through the result rows, in result order, with the stored JPEG bytes
    (reply, buffers), = widget.handle_request({"type": "page", "id": "p", "start": 0, "count": 8, "image": "images",
                                               "overlays": ["labels"], "thumb": 64})
    assert [s["index"] for s in reply["samples"]] == expected(ds, q)
    assert [s["position"] for s in reply["samples"]] == list(range(N_DOG))
    assert all(bytes(b[:3]) == b"\xff\xd8\xff" for b in buffers) and len(buffers) == N_DOG
    assert {s["overlays"][0]["names"][0] for s in reply["samples"]} == {"dog"}
    widget.selected_indices = [1, 2]
    assert widget.selected_view.index.tolist() == expected(ds, q)[1:3]
    assert widget.results.index.tolist() == expected(ds, q)


def test_bad_query_keeps_text_and_previous_result(widget):
    widget.run("SELECT * WHERE labels == 'cat'")
    bad = "SELECT *\nWHERE labels == = 'cat'"
    assert widget.run(bad) is None
    e = widget.error
    assert e["kind"] == "QueryError" and e["query"] == bad and widget.query == bad
    assert (e["line"], e["column"], e["position"], e["width"]) == (2, 17, 25, 1)
    assert bad[e["position"]] == "="
    assert "Expected an expression" in e["message"] and "line 2" not in e["message"]
    assert widget.result["query"] == "SELECT * WHERE labels == 'cat'" and widget.length == N_CAT  # previous result
    assert widget.view is not None and len(widget.view) == N_CAT
    assert widget.history[0] == {**widget.history[0], "query": bad, "ok": False, "count": None}
    assert widget.history[0]["error"].startswith("Expected an expression")
    widget.run("SELECT * WHERE labels == 'bird'")
    assert widget.error == {} and widget.length == N_BIRD


def test_error_width_covers_the_bad_name(widget):
    widget.run("SELECT * WHERE nope == 1")
    e = widget.error
    assert (e["line"], e["column"], e["position"], e["width"]) == (1, 16, 15, 4)
    assert "Unknown tensor 'nope'" in e["message"]


def test_error_info_without_a_position():
    info = error_info(ValueError("boom"), "SELECT 1")
    assert info == {"message": "boom", "kind": "ValueError", "query": "SELECT 1", "line": None, "column": None,
                    "position": None, "width": 1}
    err = QueryError("bad", query="abc", start=1, end=3)
    assert error_info(err, "abc")["width"] == 2


def test_history_is_newest_first_distinct_and_bounded(ds):
    w = QueryWidget(ds, history_size=3)
    for q in ["SELECT * LIMIT 1", "SELECT * LIMIT 2", "SELECT * LIMIT 1", "SELECT * LIMIT 3", "SELECT * LIMIT 4"]:
        w.run(q)
    assert [h["query"] for h in w.history] == ["SELECT * LIMIT 4", "SELECT * LIMIT 3", "SELECT * LIMIT 1"]
    assert [h["count"] for h in w.history] == [4, 3, 1]
    w.clear_history()
    assert w.history == []


def test_initial_query_runs_at_construction(ds):
    w = QueryWidget(ds, "SELECT * WHERE labels == 'cat' LIMIT 5")
    assert w.length == 5 and len(w.view) == 5 and w.result["count"] == 5
    bad = QueryWidget(ds, "SELECT FROM WHERE")
    assert bad.error["kind"] == "QueryError" and bad.view is None and bad.length == len(ds)


def test_group_by_shows_every_member(ds, widget):
    view = widget.run("SELECT * GROUP BY labels")
    assert widget.result["grouped"] and widget.result["count"] == 3 and widget.result["samples"] == len(ds)
    assert widget.length == len(ds) and view.is_grouped
    assert widget.results.index.tolist() == view.sample_indices.tolist()


def test_query_on_a_view_and_a_row_view(ds):
    base = ds.query("SELECT * WHERE labels != 'cat'")
    w = QueryWidget(base)
    assert w.length == len(base) == N_DOG + N_BIRD and w.title == ds.path
    view = w.run("SELECT * WHERE labels == 'dog'")
    assert view.sample_indices.tolist() == [i for i, lab in enumerate(LABELS) if lab == 1]
    rows = ds[0:10]
    w2 = QueryWidget(rows, "SELECT * WHERE labels == 'bird'")
    assert w2.view.sample_indices.tolist() == [i for i in range(10) if LABELS[i] == 2]


# -- the chart -------------------------------------------------------------------------------------
def test_chart_of_multi_label_tensor_with_unlabeled_samples(ds, widget):
    widget.chart_tensor = "tags"
    c = widget.chart
    tags = [[] if i % 4 == 0 else list(range(i % 4)) for i in range(len(ds))]
    flat = [t for ts in tags for t in ts]
    assert c["tensor"] == "tags" and c["total"] == len(ds)
    assert c["unlabeled"] == sum(1 for ts in tags if not ts)
    assert {b["name"]: b["count"] for b in c["bars"]} == {"a": flat.count(0), "b": flat.count(1), "c": flat.count(2)}
    assert [b["count"] for b in c["bars"]] == sorted((b["count"] for b in c["bars"]), reverse=True)
    with pytest.raises(WidgetRequestError, match="class-label tensors"):
        widget.chart_tensor = "score"
    widget.run("SELECT * WHERE labels == 'cat'")
    assert widget.chart["tensor"] == "tags" and widget.chart["total"] == N_CAT


def test_chart_bars_are_capped_with_an_other_count(ds):
    chart = label_counts(ds, "labels", max_bars=2)
    assert [b["name"] for b in chart["bars"]] == ["cat", "dog"]
    assert chart["other"] == N_BIRD and chart["unlabeled"] == 0
    tie = label_counts(ds[[1, 2]], "labels", max_bars=1)  # one dog, one bird: ties go to the lower id
    assert tie["bars"] == [{"name": "dog", "id": 1, "count": 1}] and tie["other"] == 1
    empty = label_counts(ds[[]], "labels")
    assert empty == {"tensor": "labels", "total": 0, "bars": [], "other": 0, "unlabeled": 0, "multi": False}


def test_no_class_labels_no_chart(tmp_path):
    ds = dl.empty(str(tmp_path / "plain"))
    ds.create_tensor("x", htype="generic", dtype="int32")
    ds.extend({"x": np.arange(5, dtype=np.int32)})
    w = QueryWidget(ds, "SELECT * WHERE x > 2")
    assert w.chart == {} and w.chart_tensor == "" and w.length == 2


# -- messages ------------------------------------------------------------------------------------------
def test_run_message_updates_state_and_replies(ds, widget, monkeypatch):
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    widget._on_msg(widget, {"type": "run", "id": "r1", "query": "SELECT * WHERE labels == 'bird'"}, [])
    (reply, buffers), = sent
    assert reply["type"] == "result" and reply["id"] == "r1" and reply["ok"] and reply["count"] == N_BIRD
    assert buffers == [] and widget.length == N_BIRD
    widget._on_msg(widget, {"type": "run", "id": "r2", "query": "SELECT * WHERE"}, [])
    reply = sent[-1][0]
    assert reply["type"] == "result" and not reply["ok"] and reply["error"]["kind"] == "QueryError"
    assert widget.query == "SELECT * WHERE" and widget.length == N_BIRD
    widget._on_msg(widget, {"type": "run", "id": "r3", "query": 42}, [])
    assert sent[-1][0]["type"] == "error" and sent[-1][0]["id"] == "r3" and "'query'" in sent[-1][0]["message"]
    n = len(sent)
    widget._on_msg(widget, {"kind": "anywidget-command"}, [])
    widget._on_msg(widget, "not a dict", [])
    assert len(sent) == n
    widget._on_msg(widget, {"type": "page", "id": "p", "start": 0, "count": 8, "image": "", "overlays": [],
                            "thumb": 64}, [])
    assert sent[-1][0]["type"] == "page" and sent[-1][0]["total"] == N_BIRD


def test_synced_state_stays_small(ds, widget):
    for k in range(60):
        widget.run(f"SELECT * WHERE score >= {k} LIMIT {k + 1}")
    state = {name: getattr(widget, name) for name in ("result", "error", "history", "chart", "query")}
    assert len(json.dumps(state)) < 16 << 10
    assert len(widget.history) == 50


def test_fallback_summary_names_the_query_and_result(ds, widget):
    widget.run("SELECT * WHERE labels == 'dog'")
    data, _ = widget._repr_mimebundle_()
    text, html = data["text/plain"], data["text/html"]
    assert text.startswith("Query results:") and "query: SELECT * WHERE labels == 'dog'" in text
    assert f"{N_DOG} results in" in text and f"labels: dog={N_DOG}" in text and f"a view of {N_DOG} rows" in text
    assert "SELECT * WHERE labels == &#x27;dog&#x27;" in html and "<table>" in html
    widget.run("SELECT * WHERE labels ==")
    assert "error: " in widget._repr_mimebundle_()[0]["text/plain"]


# -- the browser module ----------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (the browser tests cover the JS)")
def test_js_caret_and_chart_helpers():
    module = (WIDGETS / "query_widget.js").as_uri()
    script = f"""
        const q = await import({json.dumps(module)});
        console.log(JSON.stringify({{
            render: typeof q.default.render,
            caret: q.caretLines("SELECT *\\nWHERE\\tx == = 1", {{ line: 2, column: 12, width: 1 }}),
            wide: q.caretLines("SELECT * WHERE nope == 1", {{ line: 1, column: 16, width: 4 }}),
            clipped: q.caretLines("ab", {{ line: 1, column: 3, width: 9 }}),
            bars: q.chartBars({{ bars: [{{ name: "a", id: 0, count: 10 }}, {{ name: "b", id: 1, count: 5 }}],
                                 other: 2, unlabeled: 0, total: 17 }}, 360),
        }}));
    """
    out = subprocess.run([shutil.which("node"), "--input-type=module", "-e", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["render"] == "function"
    assert result["caret"] == {"source": "WHERE x == = 1", "caret": " " * 11 + "^"}
    assert result["wide"]["caret"] == " " * 15 + "^^^^"
    assert result["clipped"]["caret"] == "  ^"
    bars = result["bars"]
    assert [b["name"] for b in bars] == ["a", "b", "(other classes)"] and bars[2]["kind"] == "other"
    assert bars[0]["width"] == 2 * bars[1]["width"] and bars[1]["y"] > bars[0]["y"]
