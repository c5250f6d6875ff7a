"""The query widget and the commit graph in a real JupyterLab, driven in Chromium.

Query widget: a malformed query shows its error with a caret under the right column and keeps the
text; a good one shows the count, the class chart and thumbnails (data: or blob: URLs); the View reaches the kernel.
Commit graph: lanes, merge edge, tags and HEAD drawn; clicking a commit shows its diff against its
parent; "Check out" moves the kernel's dataset (a later cell prints ds.branch / ds.commit_id); a
commit made in a later cell shows in the displayed graph without re-running its cell.
Screenshots go to test-artifacts/.

One test function on purpose: the steps share one JupyterLab server, page and kernel."""

from __future__ import annotations

import json
import re
import time

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_MISSING = lab.missing_prerequisite()
if _MISSING:
    pytest.skip(f"browser tests skipped: {_MISSING}", allow_module_level=True)

PAGE = 12
BAD = "SELECT * WHERE labels == = 'circle'"
GOOD = "SELECT * WHERE labels == 'circle'"
BUILD = """\
import json
import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES, generate

ds = dl.empty("ds", overwrite=True)
samples = list(generate(31, min_size=48, max_size=64))
with ds:
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
    for s in samples[:30]:
        ds.append({"images": dl.Sample(buffer=s.jpeg), "labels": CLASS_NAMES[s.label]})
first = ds.commit("thirty shapes")
ds.checkout("feat", create=True)
ds.append({"images": dl.Sample(buffer=samples[30].jpeg), "labels": "square"})
feat = ds.commit("feat work")
ds.checkout("main")
ds.labels[0] = "triangle"
fix = ds.commit("relabel sample 0")
ds.tag("v1")
merge = ds.merge("feat")
circles = int((ds.labels.numpy().ravel() == CLASS_NAMES.index("circle")).sum())
print("BUILT", json.dumps({"first": first, "feat": feat, "fix": fix, "merge": merge, "circles": circles}))"""
CELLS = [BUILD,
         f"w = dl.ui.QueryWidget(ds, page_size={PAGE}, thumb_size=64)\nw",
         "g = ds.commit_graph(poll_seconds=1)\ng",
         "print('VIEW', len(w.view), repr(w.query), 'ERR', bool(w.error), 'HIST', len(w.history))",
         "print('KERNEL', ds.branch, ds.commit_id)",
         "ds.checkout('main')\nds.labels[1] = 'circle'\nprint('COMMITTED', ds.commit('from python'))"]

GRID_READY = """n => {
    const root = document.querySelector('.dlnb-query .dlnb-root');
    if (!root || root.dataset.state !== 'ready') return false;
    const imgs = [...root.querySelectorAll('.dlnb-tile img')];
    return imgs.length === n && imgs.every((img) => /^(blob|data):/.test(img.src) && img.complete && img.naturalWidth > 0);
}"""


def test_query_widget_and_commit_graph_in_jupyterlab(tmp_path):
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    root = tmp_path / "root"
    root.mkdir()
    lab.write_notebook(root, "query_graph.ipynb", CELLS)
    server = lab.LabServer(root, tmp_path / "lab.log").start()
    timings["server_started_s"] = time.monotonic() - t0
    errors: list[str] = []
    try:
        with lab.chromium_page(viewport=(1400, 1100)) as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            nb = lab.NotebookPage(page, server, "query_graph.ipynb").open()
            nb.run_cell(0)
            ids = json.loads(nb.wait_output(0, "BUILT").split("BUILT", 1)[1].strip().splitlines()[0])

            # -- the query widget: whole dataset first -----------------------------------------------
            nb.run_cell(1)
            page.wait_for_function(GRID_READY, arg=PAGE, timeout=30_000)
            qw = page.locator(".dlnb-query")
            editor = qw.locator("textarea.dlnb-q-editor")
            assert qw.locator(".dlnb-q-stats").get_attribute("data-count") == "31"

            # a malformed query: error with a caret under column 26, the text kept and the spot selected
            editor.click()
            editor.fill(BAD)
            editor.press("Enter")
            error = qw.locator(".dlnb-q-error")
            error.wait_for(state="visible", timeout=15_000)
            assert error.get_attribute("data-line") == "1" and error.get_attribute("data-column") == "26"
            assert qw.locator(".dlnb-q-src").inner_text() == BAD
            caret = qw.locator(".dlnb-q-caret").inner_text()
            assert caret.rstrip() == " " * 25 + "^", repr(caret)
            assert "Expected an expression" in error.inner_text()
            assert editor.input_value() == BAD
            assert page.evaluate("() => document.querySelector('.dlnb-q-editor').selectionStart") == 25
            assert qw.get_attribute("data-state") == "error"
            nb.screenshot("query-01-error.png")

            # a good query: count, time, chart and thumbnails
            editor.fill(GOOD)
            editor.press("Enter")
            circles = ids["circles"]
            page.wait_for_function(
                "n => document.querySelector('.dlnb-q-stats').dataset.count === String(n)", arg=circles, timeout=15_000)
            page.wait_for_function(GRID_READY, arg=min(PAGE, circles), timeout=30_000)
            assert error.is_hidden()
            assert editor.input_value() == GOOD
            stats = qw.locator(".dlnb-q-stats").inner_text()
            assert re.search(rf"{circles} results · [\d.,]+ ms", stats), stats
            bars = qw.locator(".dlnb-q-bar-row").evaluate_all(
                "gs => gs.map((g) => [g.dataset.label, Number(g.dataset.count)])")
            assert bars == [["circle", circles]]
            assert qw.locator(".dlnb-q-chart svg rect").count() == 1
            badges = set(qw.locator(".dlnb-tile .dlnb-badge").all_inner_texts())
            assert badges == {"circle"}
            history = qw.locator("select.dlnb-q-history option").all_inner_texts()
            assert len(history) == 3 and GOOD in history[1] and history[2].startswith("✗")
            nb.screenshot("query-02-results.png")
            nb.run_cell(3)
            out = nb.wait_output(3, "VIEW")
            assert f"VIEW {circles} {GOOD!r} ERR False HIST 2" in out, out

            # -- the commit graph ------------------------------------------------------------------------
            nb.run_cell(2)
            cg = page.locator(".dlnb-commit-graph")
            page.wait_for_function("() => document.querySelectorAll('.dlnb-cg-row[data-commit]').length === 5",
                                   timeout=30_000)
            assert cg.get_attribute("data-branch") == "main" and cg.get_attribute("data-head") == ids["merge"]
            assert cg.locator(".dlnb-cg-merge").count() == 1
            assert cg.locator(".dlnb-cg-headring").count() == 1
            head_row = cg.locator(f".dlnb-cg-row[data-commit='{ids['merge']}']")
            assert "HEAD → main" in head_row.inner_text()
            assert "v1" in cg.locator(f".dlnb-cg-row[data-commit='{ids['fix']}']").inner_text()
            feat_row = cg.locator(f".dlnb-cg-row[data-commit='{ids['feat']}']")
            assert "feat" in feat_row.inner_text()
            lanes = page.evaluate("""() => [...document.querySelectorAll('.dlnb-cg-dot')].map((d) => d.getAttribute('cx'))""")
            assert len(set(lanes)) == 2  # main and feat in two lanes

            # click a commit: message, author, time, diff against its parent
            feat_row.click()
            detail = cg.locator(".dlnb-cg-detail")
            page.wait_for_function(
                "id => { const d = document.querySelector('.dlnb-cg-detail'); return d.dataset.state === 'ready' && d.dataset.commit === id; }",
                arg=ids["feat"], timeout=15_000)
            assert detail.locator(".dlnb-cg-subject").inner_text() == "feat work"
            assert detail.locator(".dlnb-cg-fullid").inner_text() == ids["feat"]
            rows = detail.locator(".dlnb-cg-diff-table tbody tr").evaluate_all(
                "rs => rs.map((r) => [r.dataset.tensor, r.dataset.status, r.cells[2].textContent])")
            assert rows == [["images", "changed", "+1"], ["labels", "changed", "+1"]]
            detail.scroll_into_view_if_needed()
            nb.screenshot("graph-01-detail.png")

            # check out the branch there: the page and the kernel follow
            detail.locator("select.dlnb-cg-ref").select_option("feat")
            detail.locator(".dlnb-cg-checkout").click()
            page.wait_for_function("() => document.querySelector('.dlnb-commit-graph').dataset.branch === 'feat'",
                                   timeout=15_000)
            assert "Checked out branch feat" in cg.locator(".dlnb-cg-status").inner_text()
            assert "HEAD → feat" in feat_row.inner_text()
            nb.run_cell(4)
            out = nb.wait_output(4, "KERNEL")
            assert f"KERNEL feat {ids['feat']}" in out, out

            # diff two selected commits (Ctrl-click the second)
            cg.locator(f".dlnb-cg-row[data-commit='{ids['first']}']").click(modifiers=["Control"])
            diff_button = cg.locator(".dlnb-cg-diff")
            assert diff_button.is_enabled()
            diff_button.click()
            box = detail.locator(".dlnb-cg-diffbox")
            page.wait_for_function("() => { const b = document.querySelector('.dlnb-cg-diffbox'); return b && b.dataset.a; }",
                                   timeout=15_000)
            assert box.get_attribute("data-a") == ids["first"] and box.get_attribute("data-b") == ids["feat"]
            assert box.locator("tbody tr").count() == 2

            # a commit made in Python shows up without re-running the graph's cell
            nb.run_cell(5)
            new = nb.wait_output(5, "COMMITTED").split("COMMITTED", 1)[1].split()[0]
            page.wait_for_function(
                "id => !!document.querySelector(`.dlnb-cg-row[data-commit='${id}']`)", arg=new, timeout=20_000)
            assert cg.get_attribute("data-branch") == "main" and cg.get_attribute("data-head") == new
            assert "from python" in cg.locator(f".dlnb-cg-row[data-commit='{new}']").inner_text()
            cg.scroll_into_view_if_needed()
            nb.screenshot("graph-02-after-python-commit.png")
            assert not errors, errors
    finally:
        server.stop()
        lab.copy_log(server, "query-graph-lab.log")
        timings["total_s"] = time.monotonic() - t0
        lab.ARTIFACTS.mkdir(exist_ok=True)
        (lab.ARTIFACTS / "query-graph-timings.json").write_text(json.dumps(timings, indent=1))
