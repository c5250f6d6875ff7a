"""The detail view in a real JupyterLab (Chromium): zoom (buttons and wheel) and pan (drag), the
list of the sample's objects with a checkbox each that hides its box and a highlight while the
pointer is on its row, every tensor's value, and next/previous."""

from __future__ import annotations

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("det", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.create_tensor("labels", htype="class_label", class_names=["dog", "bicycle"])
    ds.create_tensor("score", dtype="float32")
    ds.create_tensor("caption", htype="text")
    for i in range(3):
        ds.append({"images": np.full((120, 160, 3), 200, np.uint8),
                   "boxes": np.asarray([[5, 5, 60, 50], [80, 10, 60, 45], [90, 65, 50, 40]], np.float32),
                   "labels": np.asarray([0, 1, 1], np.uint32), "score": np.float32(i / 2), "caption": f"photo {i}"})
print("BUILT", len(ds))"""
CELLS = [BUILD, "w = ds.visualize(thumb_size=96)\nw"]
DETAIL_AT = """p => { const d = document.querySelector('.dlnb-detail');
                      return !d.hidden && d.dataset.position === String(p) && d.dataset.state === 'ready'; }"""


def test_detail_zoom_pan_objects_values_and_paging(tmp_path):
    with lab.notebook_in_lab(tmp_path, "detail.ipynb", CELLS) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 3")
        nb.run_cell(1)
        page.wait_for_function("() => document.querySelector('.dlnb-dataset-browser')?.dataset.state === 'ready'",
                               timeout=30_000)
        page.locator(".dlnb-tile[data-position='1']").click()
        page.wait_for_function(DETAIL_AT, arg=1, timeout=15_000)
        detail = page.locator(".dlnb-detail")
        # every tensor's value
        fields = detail.locator(".dlnb-field").evaluate_all("fs => fs.map((f) => f.dataset.tensor)")
        assert set(fields) == {"images", "boxes", "labels", "score", "caption"}
        assert "bicycle" in detail.locator(".dlnb-field[data-tensor='labels']").inner_text()
        assert "0.5" in detail.locator(".dlnb-field[data-tensor='score']").inner_text()
        assert "photo 1" in detail.locator(".dlnb-field[data-tensor='caption']").inner_text()

        # zoom with the button and the wheel, then pan by dragging
        port = detail.locator(".dlnb-zoom")
        frame = port.locator(".dlnb-frame")
        detail.locator(".dlnb-zoom-in").click()
        assert port.get_attribute("data-scale") == "1.5"
        box = port.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, -100)
        page.wait_for_function("() => document.querySelector('.dlnb-zoom').dataset.scale === '1.88'", timeout=5_000)
        before = frame.evaluate("f => f.style.transform")
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 20, steps=4)
        page.mouse.up()
        after = frame.evaluate("f => f.style.transform")
        assert after != before and "scale(1.875)" in after
        nb.screenshot("detail-01-zoomed.png")
        detail.locator(".dlnb-zoom-fit").click()
        assert port.get_attribute("data-scale") == "1"

        # the objects: one row per box, hover highlights, the checkbox hides it
        rows = detail.locator(".dlnb-object-row")
        assert [t.strip() for t in rows.all_inner_texts()] == ["dog · boxes[0]", "bicycle · boxes[1]", "bicycle · boxes[2]"]
        target = frame.locator(".dlnb-box[data-k='1']")
        rows.nth(1).hover()
        assert "dlnb-highlight" in target.get_attribute("class")
        rows.nth(1).locator("input").uncheck()
        assert target.is_hidden() and frame.locator(".dlnb-box[data-k='0']").is_visible()
        rows.nth(1).locator("input").check()
        assert target.is_visible()

        # next / previous
        detail.locator("button[title='next sample']").click()
        page.wait_for_function(DETAIL_AT, arg=2, timeout=15_000)
        detail.locator("button[title='previous sample']").click()
        page.wait_for_function(DETAIL_AT, arg=1, timeout=15_000)
        assert not errors, errors
