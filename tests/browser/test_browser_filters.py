"""The query widget's filter panel and chart in a real JupyterLab (Chromium): ticking a class of a
multi-label tensor writes a valid contains() query into the editor and shows its results, a range
slider and the caption search add their terms, and a chart bar of a multi-label tensor writes a
query that runs, with shares of samples never above 100%. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("flt", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["dog", "bicycle", "cat"])
    ds.create_tensor("score", dtype="float32")
    ds.create_tensor("caption", htype="text")
    for i, ids in enumerate([[0, 1, 1], [1], [2], [0], [1, 2], [2]]):
        ds.append({"images": np.full((32, 32, 3), 40 * i, np.uint8), "labels": np.asarray(ids, np.uint32),
                   "score": np.float32(i), "caption": f"photo {i}"})
print("BUILT", len(ds))"""
CELLS = [BUILD, "q = dl.ui.QueryWidget(ds)\nq", "print('QUERY', q.query, 'LEN', q.length)"]

SETTLED = """n => { const r = document.querySelector('.dlnb-query');
                    const s = document.querySelector('.dlnb-q-stats');
                    const g = document.querySelector('.dlnb-query-grid');
                    return !!r && r.dataset.state === 'ok' && s.dataset.count === String(n) && g.dataset.state === 'ready'; }"""


def _text(frame) -> str:
    return (frame if isinstance(frame, str) else frame.decode("latin-1", "replace")).replace(" ", "")


def test_filter_panel_and_chart_write_valid_queries(tmp_path):
    frames: list[tuple[str, str]] = []     # ("sent" | "received", text), in order

    def listen(page):
        def socket(ws):
            ws.on("framesent", lambda f: frames.append(("sent", _text(f))))
            ws.on("framereceived", lambda f: frames.append(("received", _text(f))))
        page.on("websocket", socket)

    with lab.notebook_in_lab(tmp_path, "filters.ipynb", CELLS, on_page=listen) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 6")
        nb.run_cell(1)
        page.wait_for_selector(".dlnb-q-facet[data-tensor='labels']", timeout=30_000)
        editor = page.locator(".dlnb-q-editor")
        facet = page.locator(".dlnb-q-facet[data-tensor='labels']")
        assert "multi-label" in facet.locator("summary").inner_text()
        counts = facet.locator(".dlnb-q-facet-row").evaluate_all(
            "rows => rows.map((r) => [r.querySelector('input').dataset.cls, r.querySelector('.dlnb-q-facet-count').textContent, r.title])")
        assert [c[:2] for c in counts] == [["bicycle", "3"], ["cat", "3"], ["dog", "2"]]
        assert all(float(re.search(r"\(([\d.]+)%\)", c[2]).group(1)) <= 100 for c in counts)

        # tick a class of the multi-label tensor: a contains() query, run, in the editor; the
        # result's first page was asked for right behind the query, and no second time
        frames.clear()
        facet.locator("input[data-cls='bicycle']").check()
        page.wait_for_function(SETTLED, arg=3, timeout=15_000)
        assert editor.input_value() == "SELECT * WHERE contains(labels, 'bicycle')"
        assert page.locator(".dlnb-query-grid .dlnb-tile img").count() == 3
        pages = [i for i, (way, f) in enumerate(frames) if way == "sent" and '"type":"page"' in f]
        update = next(i for i, (way, f) in enumerate(frames) if way == "received" and '"_reload"' in f)
        assert len(pages) == 1 and pages[0] < update, (pages, update)
        assert page.locator(".dlnb-q-error").is_hidden()
        facet.locator("input[data-cls='dog']").check()
        page.wait_for_function(SETTLED, arg=4, timeout=15_000)
        assert editor.input_value() == "SELECT * WHERE (contains(labels, 'bicycle') OR contains(labels, 'dog'))"

        # the caption search and a range slider add their terms
        search = page.locator(".dlnb-q-facet[data-tensor='caption'] input")
        search.fill("photo 4")
        search.press("Enter")
        page.wait_for_function(SETTLED, arg=1, timeout=15_000)
        assert editor.input_value().endswith(" AND contains(caption, 'photo 4')")
        page.locator(".dlnb-q-clear").click()
        page.wait_for_function(SETTLED, arg=6, timeout=15_000)
        assert editor.input_value() == "SELECT *"
        low = page.locator(".dlnb-q-facet[data-expr='score'] .dlnb-q-range-min")
        low.evaluate("(el) => { el.value = '2'; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }")
        page.wait_for_function(SETTLED, arg=4, timeout=15_000)
        assert editor.input_value() == "SELECT * WHERE score BETWEEN 2 AND 5"
        nb.screenshot("filters-01-panel.png")

        # a chart bar of the multi-label tensor writes contains(), and it runs
        page.locator(".dlnb-q-clear").click()
        page.wait_for_function(SETTLED, arg=6, timeout=15_000)
        bar = page.locator(".dlnb-q-bar-row[data-label='cat']")
        assert "50.0% of samples" in bar.locator("title").text_content()
        bar.locator("rect").click()
        assert editor.input_value() == "SELECT * WHERE contains(labels, 'cat')"
        editor.press("Enter")
        page.wait_for_function(SETTLED, arg=3, timeout=15_000)
        nb.run_cell(2)
        assert "QUERY SELECT * WHERE contains(labels, 'cat') LEN 3" in nb.wait_output(2, "QUERY")
        nb.screenshot("filters-02-chart.png")
        assert not errors, errors
