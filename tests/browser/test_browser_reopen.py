"""A notebook saved while its widgets ran, reopened on a fresh kernel in a real JupyterLab
(Chromium): each widget output shows its text/html summary (tensors, first samples, the inline
thumbnail strip) instead of ipywidgets' "Error displaying widget: model not found", and nothing is
fetched from outside 127.0.0.1. The summary is put in place by the deeplake-nb JupyterLab extension
(``widgets/labextension``), which the test server loads from the checkout. A screenshot goes to
test-artifacts/."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("reopen", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    for i in range(6):
        ds.append({"images": np.full((24, 24, 3), 40 * i, np.uint8), "labels": i % 2})
ds.commit("six")
print("BUILT", len(ds))"""
CELLS = [BUILD, "ds.visualize(page_size=12, thumb_size=64)", "ds.commit_graph()",
         "dl.ui.QueryWidget(ds, \"SELECT * WHERE labels == 'dog'\")"]
WIDGET_CELLS = (1, 2, 3)

LIVE = """() => { const r = document.querySelector('.dlnb-dataset-browser');
                  return !!r && r.dataset.state === 'ready' && !!document.querySelector('.dlnb-cg-canvas')
                         && !!document.querySelector('.dlnb-query-grid'); }"""
MENDED = """n => document.querySelectorAll('.dlnb-fallback .dlnb-summary').length === n"""


def test_reopened_notebook_shows_summaries_not_model_not_found(tmp_path):
    requests: list[str] = []

    def listen(page):
        page.on("request", lambda req: requests.append(req.url))

    with lab.notebook_in_lab(tmp_path, "reopen.ipynb", CELLS, on_page=listen) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 6")
        for i in WIDGET_CELLS:
            nb.run_cell(i)
            nb.wait_idle(i)
        page.wait_for_function(LIVE, timeout=30_000)
        # the outputs carry the widget view, its summary and the mark the extension reads
        for i in WIDGET_CELLS:
            (out,) = nb.outputs(i)
            assert "application/vnd.jupyter.widget-view+json" in out["data"], out["data"].keys()
            assert "dlnb-summary" in "".join(out["data"]["text/html"])
            assert out["metadata"]["deeplake_nb"] == {"fallback": "text/html"}
        assert page.locator(".dlnb-fallback").count() == 0     # live widgets are left alone
        page.evaluate("""async () => { const nb = window.jupyterapp.shell.currentWidget;
                                       await nb.context.save();
                                       await nb.sessionContext.shutdown(); }""")

        # reopen in a new page load: a fresh kernel, no widget model anywhere
        nb.open()
        page.wait_for_function(MENDED, arg=len(WIDGET_CELLS), timeout=30_000)
        page.wait_for_timeout(1_000)        # let a late re-render of the ipywidgets renderer happen
        body = page.locator(".jp-Notebook").inner_text()
        assert "model not found" not in body
        summaries = page.locator(".dlnb-fallback .dlnb-summary")
        assert summaries.count() == len(WIDGET_CELLS)
        browser = summaries.nth(0)
        assert "Dataset browser:" in browser.inner_text() and "class_label" in browser.inner_text()
        assert "dog" in browser.inner_text()
        # the thumbnail strip survives the sanitizer and its pictures decode
        strip = browser.locator(".dlnb-strip img")
        assert strip.count() == 6
        assert strip.evaluate_all("imgs => imgs.every((i) => i.src.startsWith('data:image/') && i.complete "
                                  "&& i.naturalWidth > 0)")
        assert "Commit graph" in summaries.nth(1).inner_text() or "six" in summaries.nth(1).inner_text()
        assert "Query results" in summaries.nth(2).inner_text()
        nb.screenshot("reopen-01-summaries.png")
        hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")}
        assert hosts <= {"127.0.0.1"}, hosts
        assert not errors, errors
