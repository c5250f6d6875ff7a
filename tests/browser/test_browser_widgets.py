"""The dataset browser in a real JupyterLab, driven in Chromium: thumbnails render as <img> with
data: or blob: URLs, paging works, clicking a sample opens the detail panel, the keyboard moves and selects,
and the selection reaches the kernel (a later cell prints it). Screenshots go to test-artifacts/.

One test function on purpose: the steps share one JupyterLab server, page and kernel, and must run
in order (and in one pytest-xdist worker)."""

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
BUILD = """\
import numpy as np
import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES, generate

ds = dl.empty("ds", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.create_tensor("masks", htype="binary_mask")
    ds.create_tensor("captions", htype="text")
    ds.create_tensor("meta", htype="json")
    for i, s in enumerate(generate(30, min_size=64, max_size=96)):
        mask = np.zeros(s.shape[:2] + (1,), bool)
        left, top, width, height = s.boxes[0].astype(int)
        mask[top:top + height, left:left + width] = True
        ds.append({"images": dl.Sample(buffer=s.jpeg), "labels": CLASS_NAMES[s.label], "boxes": s.boxes,
                   "masks": mask, "captions": s.caption, "meta": {"i": i, "shapes": len(s.boxes)}})
print("BUILT", len(ds))"""
CELLS = [BUILD,
         f"w = ds.visualize(page_size={PAGE}, thumb_size=96)\nw",
         "print('SELECTED', w.selected_indices, 'PAGE', w.page)",
         "w.selected_indices = [0, 1]\nw.page = 0"]

IMAGES_READY = """([n, page]) => {
    const root = document.querySelector('.dlnb-root');
    if (!root || root.dataset.state !== 'ready' || root.dataset.page !== String(page)) return false;
    const imgs = [...root.querySelectorAll('.dlnb-tile img')];
    return imgs.length === n && imgs.every((img) => /^(blob|data):/.test(img.src) && img.complete && img.naturalWidth > 0);
}"""


def test_dataset_browser_in_jupyterlab(tmp_path):
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    root = tmp_path / "root"
    root.mkdir()
    lab.write_notebook(root, "browser.ipynb", CELLS)
    server = lab.LabServer(root, tmp_path / "lab.log").start()
    timings["server_started_s"] = time.monotonic() - t0
    errors: list[str] = []
    try:
        with lab.chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            nb = lab.NotebookPage(page, server, "browser.ipynb").open()
            timings["notebook_open_s"] = time.monotonic() - t0

            # run the build and display cells; the first page renders as data:/blob: images
            nb.run_cell(0)
            nb.wait_output(0, "BUILT 30")
            shown = time.monotonic()
            nb.run_cell(1)
            page.wait_for_function(IMAGES_READY, arg=[PAGE, 0], timeout=30_000)
            timings["display_to_thumbnails_s"] = time.monotonic() - shown
            root_el = page.locator(".dlnb-root")
            assert root_el.locator(".dlnb-tile").count() == PAGE
            # class names: on the box where the label names it (one box), else as a badge
            assert root_el.locator(".dlnb-badge, .dlnb-box-label").count() >= PAGE
            assert root_el.locator(".dlnb-box").count() >= PAGE              # boxes
            assert root_el.locator("canvas.dlnb-mask").count() == PAGE       # masks
            assert root_el.locator(".dlnb-caption").count() == PAGE          # text
            label = root_el.locator(".dlnb-badge, .dlnb-box-label").first.inner_text()
            assert label in ("circle", "square", "triangle")
            assert "Samples 0–11 of 30" in root_el.locator(".dlnb-status").inner_text()
            first_srcs = root_el.locator(".dlnb-tile img").evaluate_all("imgs => imgs.map((i) => i.src)")
            nb.screenshot("browser-01-first-page.png")

            # paging: the next page asks the kernel for samples 12..23 only
            root_el.locator(".dlnb-next").click()
            page.wait_for_function(IMAGES_READY, arg=[PAGE, 1], timeout=15_000)
            assert root_el.locator(".dlnb-tile").first.get_attribute("data-position") == "12"
            assert not set(first_srcs) & set(root_el.locator(".dlnb-tile img").evaluate_all("i => i.map((x) => x.src)"))

            # click a sample: detail panel with every tensor of that sample
            root_el.locator(".dlnb-tile[data-position='14']").click()
            detail = root_el.locator(".dlnb-detail")
            page.wait_for_function("() => document.querySelector('.dlnb-detail').dataset.state === 'ready'",
                                   timeout=15_000)
            assert detail.is_visible() and detail.get_attribute("data-position") == "14"
            kinds = detail.locator(".dlnb-field").evaluate_all("fs => fs.map((f) => [f.dataset.tensor, f.dataset.kind])")
            assert dict(kinds) == {"images": "image", "labels": "label", "boxes": "array", "masks": "mask",
                                   "captions": "text", "meta": "json"}
            assert detail.locator(".dlnb-detail-picture img").get_attribute("src").startswith(("blob:", "data:image/"))
            meta = json.loads(detail.locator(".dlnb-field[data-tensor='meta'] pre").inner_text())
            assert meta["i"] == 14
            assert "Sample 14" in detail.locator(".dlnb-detail-title").inner_text()
            nb.screenshot("browser-02-detail.png")

            # keyboard: arrows move (the panel follows), Escape closes, Enter opens, Space toggles,
            # PageDown pages; JupyterLab's own shortcuts (ArrowDown = next cell, Enter = edit) stay out
            detail_at = """p => { const d = document.querySelector('.dlnb-detail');
                                  return !d.hidden && d.dataset.position === String(p) && d.dataset.state === 'ready'; }"""
            cursor = "() => Number(document.querySelector('.dlnb-tile.dlnb-cursor').dataset.position)"
            active_cell = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"
            cell_before = page.evaluate(active_cell)
            page.keyboard.press("ArrowRight")
            page.wait_for_function(detail_at, arg=15, timeout=15_000)
            page.keyboard.press("Escape")
            assert detail.is_hidden()
            columns = page.evaluate("""() => { const ts = [...document.querySelectorAll('.dlnb-tile')];
                                               return ts.filter((t) => t.offsetTop === ts[0].offsetTop).length; }""")
            page.keyboard.press("ArrowDown")
            assert page.evaluate(cursor) == 15 + columns
            page.keyboard.press("ArrowUp")
            assert page.evaluate(cursor) == 15
            page.keyboard.press("Enter")
            page.wait_for_function(detail_at, arg=15, timeout=15_000)
            page.keyboard.press("Escape")
            assert page.evaluate(active_cell) == cell_before
            assert page.locator(".jp-mod-editMode").count() == 0
            page.keyboard.press("ArrowLeft")
            page.keyboard.press(" ")
            root_el.locator(".dlnb-tile[data-position='17']").click(modifiers=["Control"])
            assert root_el.locator(".dlnb-tile.dlnb-selected").evaluate_all(
                "ts => ts.map((t) => Number(t.dataset.position))") == [14, 15, 17]
            page.keyboard.press("PageDown")
            page.wait_for_function(IMAGES_READY, arg=[30 - 2 * PAGE, 2], timeout=15_000)

            # the selection and page reached the kernel
            nb.run_cell(2)
            out = nb.wait_output(2, "SELECTED")
            assert re.search(r"SELECTED \[14, 15, 17\] PAGE 2", out), out
            # ... and Python drives the browser
            nb.run_cell(3)
            page.wait_for_function(IMAGES_READY, arg=[PAGE, 0], timeout=15_000)
            page.wait_for_function("() => document.querySelectorAll('.dlnb-tile.dlnb-selected').length === 2",
                                   timeout=15_000)
            nb.screenshot("browser-03-final.png")
            assert not errors, errors
    finally:
        server.stop()
        lab.copy_log(server, "browser-lab.log")
        timings["total_s"] = time.monotonic() - t0
        lab.ARTIFACTS.mkdir(exist_ok=True)
        (lab.ARTIFACTS / "browser-timings.json").write_text(json.dumps(timings, indent=1))
