"""The commit graph widget, kernel side: the ``graph`` trait after commits, branches, tags and a
merge (rows, lanes, merge parents, HEAD, uncommitted changes); the layout on its own (forks,
deleted branches, column reuse, truncation); ``refresh`` and the ``poll`` message; the commit, diff,
checkout and branch requests acting on the dataset; the text/HTML fallback; the browser module's
pure helpers under Node.js when it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import deeplake_nb as dl

pytest.importorskip("anywidget")

from deeplake_nb.ui import commit_graph as cgm  # noqa: E402
from deeplake_nb.ui.commit_graph import CommitGraphWidget, layout, short_id, summarize_diff  # noqa: E402

WIDGETS = Path(__file__).resolve().parents[1] / "widgets"


def make_history(path):
    """root - first - fix - merge (main, tag v1 on fix) with branch feat (one commit) merged in."""
    ds = dl.empty(str(path))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("x", htype="generic", dtype="int32")
    ds.extend({"labels": [0, 1, 0, 1], "x": np.arange(4, dtype=np.int32)})
    ids = {"root": ds.commit_id, "first": ds.commit("four samples")}  # the empty root commit
    ds.checkout("feat", create=True)
    ds.append({"labels": 1, "x": np.int32(9)})
    ids["feat"] = ds.commit("feat: one more")
    ds.checkout("main")
    ds.labels[0] = 1
    ids["fix"] = ds.commit("relabel 0\n\nlonger explanation")
    ds.tag("v1")
    ids["merge"] = ds.merge("feat")
    return ds, ids


@pytest.fixture
def history(tmp_path):
    return make_history(tmp_path / "ds")


def rows_of(graph):
    return {c["id"]: c for c in graph["commits"]}


# -- the graph trait -------------------------------------------------------------------------------
def test_graph_after_commits_branch_tag_and_merge(history):
    ds, ids = history
    g = ds.commit_graph()
    assert dl.ui.CommitGraphWidget is CommitGraphWidget and isinstance(g, CommitGraphWidget)
    graph = g.graph
    by = rows_of(graph)
    assert set(by) == set(ids.values()) and graph["total"] == 5 and not graph["truncated"]
    assert graph["head"] == ids["merge"] == ds.commit_id and graph["branch"] == "main"
    assert graph["branches"] == {"feat": ids["feat"], "main": ids["merge"]} and graph["tags"] == {"v1": ids["fix"]}
    assert graph["dirty"] is False and graph["working"] is None
    assert by[ids["merge"]]["parents"] == [ids["fix"], ids["feat"]]
    # children above parents; main in lane 0, feat in its own lane
    for c in graph["commits"]:
        assert all(by[p]["row"] > c["row"] for p in c["parents"])
    assert [c["row"] for c in graph["commits"]] == list(range(5))
    assert {by[ids[k]]["lane"] for k in ("root", "first", "fix", "merge")} == {0}
    assert by[ids["feat"]]["lane"] == 1 and graph["columns"] == 2
    assert [(lane["name"], lane["kind"], lane["lane"]) for lane in graph["lanes"]] == [("main", "branch", 0),
                                                                                       ("feat", "branch", 1)]
    assert by[ids["fix"]]["message"] == "relabel 0" and by[ids["fix"]]["short"] == short_id(ids["fix"])
    assert len({c["short"] for c in graph["commits"]}) == 5
    assert len(json.dumps(graph)) < 4096


def test_uncommitted_changes_get_a_node_above_head(history):
    ds, ids = history
    ds.x[0] = 7
    g = ds.commit_graph()
    graph = g.graph
    assert graph["dirty"] and graph["working"] == {"row": 0, "lane": 0}
    assert min(c["row"] for c in graph["commits"]) == 1 and graph["rows"] == 6
    assert "(uncommitted changes)" in g.summary_text()


def test_detached_head_and_truncation(history):
    ds, ids = history
    ds.checkout(ids["first"])
    g = CommitGraphWidget(ds, max_commits=3)
    graph = g.graph
    assert graph["branch"] is None and graph["head"] == ids["first"] and not graph["dirty"]
    assert graph["truncated"] and len(graph["commits"]) == 3 and graph["total"] >= 4
    # the newest three: every branch head and the tag are in; what is left out is older
    assert {ids["merge"], ids["feat"], ids["fix"]} == set(rows_of(graph))
    assert "older commits not shown" in g.summary_text()


# -- layout on its own ---------------------------------------------------------------------------------
def fake(parents: dict[str, tuple[str, ...]]) -> dict[str, SimpleNamespace]:
    """Commits named in time order (the dict's order is oldest first)."""
    return {cid: SimpleNamespace(parents=ps, time=float(k)) for k, (cid, ps) in enumerate(parents.items())}


def test_layout_deleted_branch_and_column_reuse():
    commits = fake({"r": (), "a1": ("r",), "m1": ("r",), "mergeA": ("m1", "a1"), "b1": ("mergeA",),
                    "m2": ("mergeA",), "mergeB": ("m2", "b1"), "c1": ("mergeB",)})
    out = layout(commits, {"main": "mergeB", "c": "c1"}, {}, "mergeB", "main", dirty=False)
    lane = {c["id"]: c["lane"] for c in out["order"]}
    row = {c["id"]: c["row"] for c in out["order"]}
    assert [c["id"] for c in out["order"]][0] == "c1" and row["r"] == len(commits) - 1
    assert lane["r"] == lane["m1"] == lane["mergeA"] == lane["m2"] == lane["mergeB"] == 0
    # a1 and b1 belong to deleted branches: each gets a lane; they never overlap, so share a column
    assert lane["a1"] == lane["b1"] == 1
    kinds = [(x["name"], x["kind"]) for x in out["lanes"]]
    assert kinds[0] == ("main", "branch") and ("c", "branch") in kinds and kinds.count(("", "other")) == 2
    assert lane["c1"] == 1 and out["columns"] == 2  # branch c starts above mergeB: column 1 is free there


def test_layout_overlapping_branches_get_their_own_columns():
    commits = fake({"r": (), "x1": ("r",), "y1": ("r",), "x2": ("x1",), "y2": ("y1",), "m": ("r",)})
    out = layout(commits, {"main": "m", "x": "x2", "y": "y2"}, {"t": "x1"}, "y2", "y", dirty=True)
    lane = {c["id"]: c["lane"] for c in out["order"]}
    assert lane["m"] == lane["r"] == 0
    assert len({lane["m"], lane["x2"], lane["y2"]}) == 3 and lane["x1"] == lane["x2"] and lane["y1"] == lane["y2"]
    assert out["working"] == {"row": 0, "lane": lane["y2"]} and out["rows"] == 7
    assert [x["name"] for x in out["lanes"]] == ["main", "y", "x"]  # main, then the checked-out branch


def test_summarize_diff_counts_and_statuses():
    changes = {
        "x": {"created": False, "deleted": False, "renamed_from": None, "added": [1, 2], "updated": [3],
              "deleted_samples": [], "added_indices": list(range(30)), "updated_indices": [0], "deleted_indices": []},
        "same": {"created": False, "deleted": False, "renamed_from": None, "added": [], "updated": [],
                 "deleted_samples": []},
        "new": {"created": True, "deleted": False, "renamed_from": None, "added": [], "updated": [],
                "deleted_samples": []},
        "gone": {"created": False, "deleted": True, "renamed_from": None, "added": [], "updated": [],
                 "deleted_samples": [5]},
        "moved": {"created": False, "deleted": False, "renamed_from": "old", "added": [], "updated": [],
                  "deleted_samples": []},
    }
    rows = {r["tensor"]: r for r in summarize_diff(changes)}
    assert set(rows) == {"x", "new", "gone", "moved"}
    assert (rows["x"]["status"], rows["x"]["added"], rows["x"]["updated"], rows["x"]["deleted"]) == ("changed", 2, 1, 0)
    assert rows["x"]["added_indices"] == list(range(10))
    assert rows["new"]["status"] == "created" and rows["gone"]["status"] == "deleted" and rows["gone"]["deleted"] == 1
    assert rows["moved"]["status"] == "renamed" and rows["moved"]["renamed_from"] == "old"


# -- staying current ----------------------------------------------------------------------------------
def test_refresh_and_poll_pick_up_changes_made_in_python(history, monkeypatch):
    ds, ids = history
    g = ds.commit_graph()
    g.selected = [ids["feat"], ids["first"]]
    assert g.refresh() is False
    (reply, buffers), = g.handle_request({"type": "poll", "id": "p1"})
    assert reply == {"type": "poll", "id": "p1", "changed": False} and buffers == []
    rebuilt, real = [], cgm.graph_data
    monkeypatch.setattr(cgm, "graph_data", lambda *a, **k: rebuilt.append(1) or real(*a, **k))
    ds.x[1] = 5                       # uncommitted change: dirty
    assert g.handle_request({"type": "poll", "id": "p2"})[0][0]["changed"] is True and g.graph["dirty"]
    new = ds.commit("from python")
    assert g.handle_request({"type": "poll", "id": "p3"})[0][0]["changed"] is True
    assert g.graph["head"] == new and not g.graph["dirty"] and rows_of(g.graph)[new]["parents"] == [ids["merge"]]
    ds.tag("v2")
    assert g.refresh() and g.graph["tags"]["v2"] == new
    assert len(rebuilt) == 3 and g.refresh() is False and len(rebuilt) == 3  # unchanged: no rebuild
    assert g.selected == [ids["feat"], ids["first"]]



def test_selection_of_vanished_commits_is_dropped(history):
    ds, ids = history
    ds.checkout("feat")
    ds.append({"labels": 0, "x": np.int32(1)})
    gone = ds.commit("soon gone")
    ds.checkout("main")
    g = ds.commit_graph()
    g.selected = [gone]
    ds.delete_branch("feat")
    g.refresh()
    assert gone not in rows_of(g.graph) and g.selected == []


# -- requests that act on the dataset -----------------------------------------------------------------------
def test_commit_request_gives_message_author_time_and_diff(history):
    ds, ids = history
    g = ds.commit_graph()
    (reply, _), = g.handle_request({"type": "commit", "id": "c", "commit": ids["feat"]})
    info = reply["info"]
    assert reply["type"] == "commit" and info["id"] == ids["feat"] and info["message"] == "feat: one more"
    assert info["author"] and info["time"] > 0 and info["parents"] == [ids["first"]]
    assert info["branches"] == ["feat"] and info["tags"] == [] and not info["is_head"]
    assert info["diff_base"] == ids["first"]
    assert [(d["tensor"], d["added"], d["updated"], d["added_indices"]) for d in info["diff"]] == [
        ("labels", 1, 0, [4]), ("x", 1, 0, [4])]
    fix = g.commit_info(ids["fix"])
    assert fix["message"].startswith("relabel 0\n\nlonger") and fix["tags"] == ["v1"]
    assert [(d["tensor"], d["updated"]) for d in fix["diff"]] == [("labels", 1)]
    first = g.commit_info(ids["first"])  # its parent is the empty root commit: everything is new
    assert [(d["tensor"], d["status"], d["added"], d["added_indices"]) for d in first["diff"]] == [
        ("labels", "created", 4, [0, 1, 2, 3]), ("x", "created", 4, [0, 1, 2, 3])]
    root = g.commit_info(ids["root"])
    assert root["parents"] == [] and root["diff_base"] is None and root["diff"] == []
    merge = g.commit_info("main")  # refs resolve too
    assert merge["id"] == ids["merge"] and merge["is_head"] and merge["parents"] == [ids["fix"], ids["feat"]]


def test_diff_request_between_two_commits(history):
    ds, ids = history
    g = ds.commit_graph()
    (reply, _), = g.handle_request({"type": "diff", "id": "d", "a": ids["root"], "b": ids["merge"]})
    assert reply["type"] == "diff" and (reply["a"], reply["b"]) == (ids["root"], ids["merge"])
    assert {(d["tensor"], d["status"], d["added"]) for d in reply["tensors"]} == {("labels", "created", 5),
                                                                                   ("x", "created", 5)}


def test_checkout_request_moves_the_dataset(history):
    ds, ids = history
    g = ds.commit_graph()
    (reply, _), = g.handle_request({"type": "checkout", "id": "k", "ref": "feat"})
    assert reply == {"type": "checkout", "id": "k", "branch": "feat", "commit": ids["feat"]}
    assert ds.branch == "feat" and ds.commit_id == ids["feat"] and len(ds) == 5
    assert g.graph["branch"] == "feat" and g.graph["head"] == ids["feat"]
    (reply, _), = g.handle_request({"type": "checkout", "id": "k2", "ref": ids["first"]})
    assert reply["branch"] is None and ds.branch is None and ds.commit_id == ids["first"] and len(ds) == 4
    assert g.graph["branch"] is None and g.graph["head"] == ids["first"]
    (reply, _), = g.handle_request({"type": "checkout", "id": "k3", "ref": "no-such-ref"})
    assert reply["type"] == "error" and reply["id"] == "k3" and "not a branch, tag or commit" in reply["message"]
    assert ds.commit_id == ids["first"]


def test_branch_request_creates_a_branch_there_and_checks_it_out(history):
    ds, ids = history
    ds.x[0] = 100                     # uncommitted change on main: stays on main, not auto-committed
    g = ds.commit_graph()
    (reply, _), = g.handle_request({"type": "branch", "id": "b", "name": "fix-2", "commit": ids["first"]})
    assert reply == {"type": "branch", "id": "b", "branch": "fix-2", "commit": ids["first"]}
    assert ds.branch == "fix-2" and ds.commit_id == ids["first"] and ds.x[0].numpy() == 0
    assert g.graph["branches"]["fix-2"] == ids["first"] and g.graph["branch"] == "fix-2"
    ds.checkout("main")
    assert ds.commit_id == ids["merge"] and ds.has_head_changes and ds.x[0].numpy() == 100
    for name, message in (("feat", "already exists"), ("v1", "already exists"), ("a/b", "slash"), ("", "non-empty")):
        (reply, _), = g.handle_request({"type": "branch", "id": "e", "name": name, "commit": ids["fix"]})
        assert reply["type"] == "error" and message in reply["message"], (name, reply)
        assert ds.branch == "main" and ds.commit_id == ids["merge"]


def test_on_msg_sends_replies_and_ignores_foreign_messages(history, monkeypatch):
    ds, ids = history
    g = ds.commit_graph()
    sent = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: sent.append((content, buffers)))
    g._on_msg(g, {"kind": "anywidget-command"}, [])
    g._on_msg(g, {"type": "page", "id": "x"}, [])
    assert sent == []
    g._on_msg(g, {"type": "poll", "id": "p"}, [])
    assert sent[-1] == ({"type": "poll", "id": "p", "changed": False}, [])
    g._on_msg(g, {"type": "commit", "id": "c"}, [])
    assert sent[-1][0]["type"] == "error" and "'commit'" in sent[-1][0]["message"]
    monkeypatch.setattr(g, "commit_info", lambda ref: 1 / 0)
    g._on_msg(g, {"type": "commit", "id": "z", "commit": ids["root"]}, [])
    assert sent[-1][0] == {"type": "error", "id": "z", "message": "ZeroDivisionError: division by zero"}


def test_missing_widget_packages_give_a_clear_error(history, monkeypatch):
    import sys

    from deeplake_nb.errors import WidgetDependencyError

    ds, _ = history
    for name in [m for m in sys.modules if m.startswith("deeplake_nb.ui.") and
                 m.split(".")[-1] in ("commit_graph", "query_widget", "grid")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "anywidget", None)
    with pytest.raises(WidgetDependencyError, match=r"deeplake_nb\[notebook\]"):
        ds.commit_graph()
    with pytest.raises(WidgetDependencyError, match=r"dl.ui.QueryWidget"):
        dl.ui.QueryWidget  # noqa: B018


# -- display ---------------------------------------------------------------------------------------------
def test_fallback_summary_is_a_text_graph(history):
    ds, ids = history
    g = ds.commit_graph()
    data, _ = g._repr_mimebundle_()
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(data)
    text = data["text/plain"]
    lines = text.splitlines()
    assert lines[0].startswith("Commit graph:") and "branch 'main'" in lines[0]
    assert f"{short_id(ids['merge'])} (HEAD -> main) [merge] Merge feat into main" in text
    assert f"{short_id(ids['fix'])} (tag: v1) relabel 0" in text and "(feat) feat: one more" in text
    assert any(line.strip().startswith("| *") for line in lines)  # feat's commit in the second lane
    assert "<pre>" in data["text/html"] and "HEAD -&gt; main" in data["text/html"]
    assert repr(g).startswith("CommitGraphWidget(") and "\n" not in repr(g)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (the browser tests cover the JS)")
def test_js_geometry_helpers():
    module = (WIDGETS / "commit_graph.js").as_uri()
    script = f"""
        const c = await import({json.dumps(module)});
        const graph = {{ head: "h", branch: null, branches: {{ main: "m", dev: "h" }}, tags: {{ v1: "h" }} }};
        console.log(JSON.stringify({{
            render: typeof c.default.render,
            straight: c.edgePath(12, 13, 12, 91, false),
            fork: c.edgePath(28, 13, 12, 91, false),
            merge: c.edgePath(12, 13, 28, 91, true),
            near: c.edgePath(12, 13, 28, 39, true),
            refs: Object.fromEntries(c.refsByCommit(graph)),
            x: [c.laneX(0), c.laneX(2)], y: [c.rowY(0), c.rowY(3)],
        }}));
    """
    out = subprocess.run([shutil.which("node"), "--input-type=module", "-e", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["render"] == "function" and r["x"] == [12, 44] and r["y"] == [13, 91]
    assert r["straight"] == "M 12 13 L 12 91"
    assert r["fork"].startswith("M 28 13 L 28 65 C") and r["fork"].endswith("12 91")   # down its lane, then bends
    assert r["merge"].startswith("M 12 13 C") and r["merge"].endswith("L 28 91")       # bends first, then down
    assert "L" not in r["near"]
    assert [x["name"] for x in r["refs"]["h"]] == ["HEAD", "dev", "v1"] and r["refs"]["m"][0]["kind"] == "branch"


def test_every_short_id_the_graph_shows_is_accepted_by_checkout_load_and_diff(history, tmp_path):
    ds, ids = history
    graph = ds.commit_graph().graph
    path = ds.path
    for c in graph["commits"]:
        short = c["short"]
        assert len(short) >= 8 and short in ds.commit_graph()._summary_parts()[0]
        assert dl.load(f"{path}@{short}").commit_id == c["id"]
        assert dl.load(path, version=short).commit_id == c["id"]
        assert ds.get_commit_details(short)["commit"] == c["id"]
    first, fix = rows_of(graph)[ids["first"]]["short"], rows_of(graph)[ids["fix"]]["short"]
    assert ds.diff(first, fix, as_dict=True) == ds.diff(ids["first"], ids["fix"], as_dict=True)
    assert ds.checkout(rows_of(graph)[ids["feat"]]["short"]) == ids["feat"]
    ds.checkout("main")
