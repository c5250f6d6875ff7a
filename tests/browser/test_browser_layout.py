"""Grid layout in a real JupyterLab (Chromium): the grid scrolls inside its default height, the
thumbnail-size control redraws the tiles at the size picked, GROUP BY results get a header per
group, and the detail panel says a bool mask is bool."""

from __future__ import annotations

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("lay", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("masks", htype="binary_mask")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    for i in range(48):
        mask = np.zeros((32, 32, 1), bool)
        mask[:16] = True
        ds.append({"images": np.full((32, 32, 3), 5 * i, np.uint8), "masks": mask, "labels": i % 3})
print("BUILT", len(ds))"""
CELLS = [BUILD, "w = ds.visualize()\nw", "q = dl.ui.QueryWidget(ds, 'SELECT * GROUP BY labels', page_size=12)\nq"]
READY = "s => { const r = document.querySelector(s); return !!r && r.dataset.state === 'ready'; }"


def test_height_thumb_size_group_headers_and_dtype(tmp_path):
    with lab.notebook_in_lab(tmp_path, "layout.ipynb", CELLS) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 48")
        nb.run_cell(1)
        page.wait_for_function(READY, arg=".dlnb-dataset-browser", timeout=30_000)
        browser = page.locator(".dlnb-dataset-browser")
        grid_el = browser.locator(".dlnb-grid")
        box = grid_el.evaluate("g => [g.clientHeight, g.scrollHeight, getComputedStyle(g).overflowY]")
        assert box[0] <= 640 and box[1] > box[0] and box[2] == "auto"   # 48 tiles scroll inside 640 px

        before = browser.locator(".dlnb-tile .dlnb-thumb").first.evaluate("t => t.clientHeight")
        browser.locator(".dlnb-thumb-size").select_option("320")
        page.wait_for_function("() => document.querySelector('.dlnb-dataset-browser .dlnb-thumb').clientHeight === 320",
                               timeout=15_000)
        page.wait_for_function(READY, arg=".dlnb-dataset-browser", timeout=15_000)
        assert before == 160
        img = browser.locator(".dlnb-tile img").first.evaluate("i => [i.naturalWidth, i.clientWidth]")
        assert img[1] == 320

        browser.locator(".dlnb-tile[data-position='0']").click()
        page.wait_for_function("() => document.querySelector('.dlnb-detail').dataset.state === 'ready'",
                               timeout=15_000)
        meta = browser.locator(".dlnb-field[data-tensor='masks'] .dlnb-meta").inner_text()
        assert "binary_mask · bool" in meta
        nb.screenshot("layout-01-browser.png")

        nb.run_cell(2)
        page.wait_for_function(READY, arg=".dlnb-query-grid", timeout=30_000)
        heads = page.locator(".dlnb-query-grid .dlnb-group-head").all_inner_texts()
        assert heads == ["Group 1 · 16 samples"]      # the first page (12) lies in the first group
        page.locator(".dlnb-query-grid .dlnb-next").click()
        page.wait_for_function("() => document.querySelector('.dlnb-query-grid').dataset.page === '1' && "
                               "document.querySelector('.dlnb-query-grid').dataset.state === 'ready'", timeout=15_000)
        heads = page.locator(".dlnb-query-grid .dlnb-group-head").all_inner_texts()
        assert heads == ["Group 1 · 16 samples (continued)", "Group 2 · 16 samples"]
        head = page.locator(".dlnb-query-grid .dlnb-group-head").nth(1)
        assert head.evaluate("h => h.nextElementSibling.dataset.position") == "16"
        nb.screenshot("layout-02-groups.png")
        assert not errors, errors
