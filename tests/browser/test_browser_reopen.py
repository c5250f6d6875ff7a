"""A notebook saved while its widgets ran, reopened on a fresh kernel in a real JupyterLab
(Chromium): each widget output shows its text/html summary (tensors, first samples, the inline
thumbnail strip) instead of ipywidgets' "Error displaying widget: model not found", and nothing is
fetched from outside 127.0.0.1. The summary is put in place by the deeplake-nb JupyterLab extension
(``widgets/labextension``), which the test server loads from the checkout. A screenshot goes to
test-artifacts/."""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
from typing import Iterator
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


def _hosts(requests: list[str]) -> set:
    """The hosts among the page's requested URLs."""
    return {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")}


def _save_and_reopen(tmp_path, name: str) -> Iterator[tuple[lab.NotebookPage, list[str], set]]:
    """Run the widget cells in JupyterLab, check their outputs, save the notebook, shut its kernel
    down and reopen it in a new page load (a fresh kernel); yields the page, its uncaught errors and
    the hosts it asked."""
    requests: list[str] = []

    def listen(page):
        page.on("request", lambda req: requests.append(req.url))

    with lab.notebook_in_lab(tmp_path, name, CELLS, on_page=listen) as (nb, errors):
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
        # live widgets are left alone
        assert page.locator(".dlnb-fallback").count() == 0 and page.locator(".dlnb-no-kernel:not([hidden])").count() == 0
        page.evaluate("""async () => { const nb = window.jupyterapp.shell.currentWidget;
                                       await nb.context.save();
                                       await nb.sessionContext.shutdown(); }""")
        nb.open()
        yield nb, errors, functools.partial(_hosts, requests)


def _check_summaries(summaries) -> None:
    assert summaries.count() == len(WIDGET_CELLS)
    browser = summaries.nth(0)
    assert "Dataset browser:" in browser.inner_text() and "class_label" in browser.inner_text()
    assert "dog" in browser.inner_text()
    # the thumbnail strip survives and its pictures decode
    strip = browser.locator(".dlnb-strip img")
    assert strip.count() == 6
    assert strip.evaluate_all("imgs => imgs.every((i) => i.src.startsWith('data:image/') && i.complete "
                              "&& i.naturalWidth > 0)")
    assert "Commit graph:" in summaries.nth(1).inner_text() and "six" in summaries.nth(1).inner_text()
    assert "Query results:" in summaries.nth(2).inner_text()


def test_reopened_notebook_shows_summaries_not_model_not_found(tmp_path):
    """JupyterLab's default: no widget state saved; the extension shows each output's summary."""
    with contextlib.contextmanager(_save_and_reopen)(tmp_path, "reopen.ipynb") as (nb, errors, hosts):
        page = nb.page
        page.wait_for_function(MENDED, arg=len(WIDGET_CELLS), timeout=30_000)
        page.wait_for_timeout(1_000)        # let a late re-render of the ipywidgets renderer happen
        assert "model not found" not in page.locator(".jp-Notebook").inner_text()
        _check_summaries(page.locator(".dlnb-fallback .dlnb-summary"))
        nb.screenshot("reopen-01-summaries.png")
        assert hosts() <= {"127.0.0.1"}, hosts()
        assert not errors, errors


def test_reopened_notebook_with_saved_widget_state_shows_summaries(tmp_path):
    """"Save Widget State Automatically" on: the models come back from the notebook without a kernel
    behind them; each widget, its requests unanswered, shows the summary kept in its state."""
    settings = tmp_path / "jupyter-home" / "settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    with contextlib.contextmanager(_save_and_reopen)(tmp_path, "state.ipynb") as (nb, errors, hosts):
        page = nb.page
        saved = json.loads((tmp_path / "root" / "state.ipynb").read_text())
        assert len(saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]) >= 3
        page.wait_for_function("n => document.querySelectorAll('.dlnb-no-kernel:not([hidden]) .dlnb-summary').length === n",
                               arg=len(WIDGET_CELLS), timeout=30_000)
        assert "model not found" not in page.locator(".jp-Notebook").inner_text()
        assert page.locator(".dlnb-fallback").count() == 0
        _check_summaries(page.locator(".dlnb-no-kernel .dlnb-summary"))
        widgets = page.locator(".dlnb-dataset-browser, .dlnb-commit-graph, .dlnb-query")
        assert widgets.count() == len(WIDGET_CELLS)
        assert not any(widgets.nth(i).is_visible() for i in range(len(WIDGET_CELLS)))
        nb.screenshot("reopen-02-saved-state.png")
        assert hosts() <= {"127.0.0.1"}, hosts()
        assert not errors, errors


def test_notebook_executed_by_nbconvert_opens_with_summaries(tmp_path):
    """``jupyter nbconvert --execute --to notebook`` with its defaults (which store widget state):
    our models are not recorded, so the notebook opened in JupyterLab on a fresh kernel shows each
    output's summary: as the notebook's sanitized text/html while it is not trusted, and put in
    place of "model not found" by the extension once it is (``jupyter trust``)."""
    requests: list[str] = []
    with lab.notebook_in_lab(tmp_path, "blank.ipynb", ["1"],
                             on_page=lambda page: page.on("request", lambda req: requests.append(req.url))) as (nb, errors):
        root = tmp_path / "root"
        lab.write_notebook(root, "executed.ipynb", CELLS)
        out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook",
                              "--inplace", "executed.ipynb"], cwd=root, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        saved = json.loads((root / "executed.ipynb").read_text())
        assert "widgets" not in saved["metadata"]
        for i in WIDGET_CELLS:
            (output,) = saved["cells"][i]["outputs"]
            assert "application/vnd.jupyter.widget-view+json" in output["data"]
        executed = lab.NotebookPage(nb.page, nb.server, "executed.ipynb").open()
        page = executed.page
        page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .dlnb-summary').length === n",
                               arg=len(WIDGET_CELLS), timeout=30_000)
        assert "model not found" not in page.locator("body").inner_text()
        _check_summaries(page.locator(".jp-Notebook .dlnb-summary"))
        executed.screenshot("reopen-03-nbconvert-untrusted.png")
        out = subprocess.run([sys.executable, "-m", "jupyter", "trust", "executed.ipynb"], cwd=root,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-3000:]
        executed.open()
        page.wait_for_function(MENDED, arg=len(WIDGET_CELLS), timeout=30_000)
        page.wait_for_timeout(1_000)        # let a late re-render of the ipywidgets renderer happen
        assert "model not found" not in page.locator("body").inner_text()
        _check_summaries(page.locator(".dlnb-fallback .dlnb-summary"))
        executed.screenshot("reopen-04-nbconvert-trusted.png")
        assert _hosts(requests) <= {"127.0.0.1"}, _hosts(requests)
        assert not errors, errors
