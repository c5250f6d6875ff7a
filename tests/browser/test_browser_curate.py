"""Curation in a real JupyterLab (Chromium): "Find similar" in the query widget's detail panel
writes and runs the cosine-similarity query, "Tag selection" adds a tag to the selected samples,
and "Save as view" saves them (dl.load opens the address it shows)."""

from __future__ import annotations

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("cur", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("ids", dtype="int64")
    angles = np.linspace(0, 3, 8)
    for i, a in enumerate(angles):
        ds.append({"images": np.full((32, 32, 3), 30 * i, np.uint8),
                   "emb": np.asarray([np.cos(a), np.sin(a)], np.float32), "ids": i})
ds.commit("built")
print("BUILT", len(ds))"""
CELLS = [BUILD, "q = dl.ui.QueryWidget(ds)\nq",
         "print('TAGS', [[str(x) for x in t] for t in ds.tags.numpy(aslist=True)])\nds.commit('tagged')\nprint('COMMITTED')",
         "print('SAVED', dl.load(q.save_selection()).ids.numpy().ravel().tolist())"]

SETTLED = """n => { const r = document.querySelector('.dlnb-query');
                    const s = document.querySelector('.dlnb-q-stats');
                    const g = document.querySelector('.dlnb-query-grid');
                    return !!r && r.dataset.state === 'ok' && s.dataset.count === String(n) && g.dataset.state === 'ready'; }"""


def test_find_similar_tag_and_save_view(tmp_path):
    with lab.notebook_in_lab(tmp_path, "curate.ipynb", CELLS) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 8")
        nb.run_cell(1)
        page.wait_for_function("() => document.querySelectorAll('.dlnb-query-grid .dlnb-tile').length === 8",
                               timeout=30_000)
        # find similar from sample 2: its neighbours on the circle, itself first
        page.locator(".dlnb-tile[data-position='2']").click()
        page.wait_for_function("() => document.querySelector('.dlnb-detail').dataset.state === 'ready'",
                               timeout=15_000)
        page.locator(".dlnb-detail .dlnb-similar").click()
        page.wait_for_function(SETTLED, arg=8, timeout=15_000)
        editor = page.locator(".dlnb-q-editor").input_value()
        assert editor.startswith("SELECT * ORDER BY cosine_similarity(emb, ARRAY[") and editor.endswith("DESC LIMIT 24")
        page.wait_for_function("() => document.querySelectorAll('.dlnb-query-grid .dlnb-tile').length === 8",
                               timeout=15_000)
        order = page.locator(".dlnb-query-grid .dlnb-tile").evaluate_all("ts => ts.map((t) => t.querySelector('img').alt)")
        assert order[:3] == ["sample 2", "sample 1", "sample 3"] or order[:3] == ["sample 2", "sample 3", "sample 1"]
        nb.screenshot("curate-01-similar.png")

        # tag the first two results
        page.locator(".dlnb-detail .dlnb-close").click()
        page.locator(".dlnb-query-grid .dlnb-tile[data-position='0']").click()
        page.locator(".dlnb-query-grid .dlnb-tile[data-position='1']").click(modifiers=["Shift"])
        page.locator(".dlnb-tag-input").fill("keep")
        page.locator(".dlnb-tag").click()
        page.wait_for_function("() => document.querySelector('.dlnb-action-note').textContent.startsWith('tagged')",
                               timeout=15_000)
        assert page.locator(".dlnb-action-note").inner_text() == "tagged 2 of 2 samples 'keep' (tensor tags)"
        nb.run_cell(2)
        text = nb.wait_output(2, "COMMITTED")
        tags = eval(text.split("TAGS ", 1)[1].split("\n", 1)[0])  # noqa: S307 - our own printed list
        assert sorted(i for i, t in enumerate(tags) if t == ["keep"]) == sorted(int(a.split()[1]) for a in order[:2])

        # save the selection as a view; the note shows where, and it loads
        page.locator(".dlnb-save-view").click()
        page.wait_for_function("() => document.querySelector('.dlnb-action-note').textContent.startsWith('saved: ')",
                               timeout=15_000)
        assert "/.queries/" in page.locator(".dlnb-action-note").inner_text()
        nb.run_cell(3)
        assert "SAVED [" in nb.wait_output(3, "SAVED")
        nb.screenshot("curate-02-tagged.png")
        assert not errors, errors
