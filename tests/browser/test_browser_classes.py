"""Class names on their objects, in a real JupyterLab (Chromium): each box is drawn with its class
name inside it (checked on a screenshot: the label's pixels are the class colour and text, within
the box), boxes of one class share one colour with the mask names, badges and the query chart, and
box tooltips give class and pixel coordinates. Screenshots go to test-artifacts/."""

from __future__ import annotations

import io

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("cls", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    ds.create_tensor("categories", htype="class_label", class_names=["dog", "bicycle"])
    ds.create_tensor("masks", htype="binary_mask")
    for i in range(4):
        mask = np.zeros((120, 160, 3), bool)
        mask[60:115, 5:75, 0] = True
        mask[10:50, 90:150, 1] = True
        mask[70:110, 95:145, 2] = True
        ds.append({"images": np.full((120, 160, 3), 235, np.uint8),
                   "boxes": np.asarray([[5, 5, 70, 50], [85, 10, 70, 45], [90, 65, 60, 50]], np.float32),
                   "categories": np.asarray([0, 1, 1], np.uint32), "masks": mask})
print("BUILT", len(ds))"""
CELLS = [BUILD, "w = ds.visualize(labels={'boxes': 'categories', 'masks': 'categories'}, thumb_size=320, "
                "overlays=['boxes', 'categories'])\nw",
         "w.overlays = ['masks', 'categories']",
         "q = dl.ui.QueryWidget(ds, 'SELECT * WHERE contains(categories, \\'dog\\')')\nq"]

READY = """n => { const r = document.querySelector('.dlnb-dataset-browser');
                  return !!r && r.dataset.state === 'ready' && r.querySelectorAll('.dlnb-tile img').length === n
                         && [...r.querySelectorAll('.dlnb-tile img')].every((i) => i.complete && i.naturalWidth > 0); }"""


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def test_class_names_drawn_on_boxes_and_masks(tmp_path):
    from PIL import Image

    with lab.notebook_in_lab(tmp_path, "classes.ipynb", CELLS) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 4")
        nb.run_cell(1)
        page.wait_for_function(READY, arg=4, timeout=30_000)
        tile = page.locator(".dlnb-tile[data-position='0']")
        boxes = tile.locator(".dlnb-box")
        assert boxes.count() == 3
        assert boxes.locator(".dlnb-box-label").all_inner_texts() == ["dog", "bicycle", "bicycle"]
        assert tile.locator(".dlnb-badge").count() == 0     # the names are on the boxes
        border = boxes.evaluate_all("bs => bs.map((b) => getComputedStyle(b).borderTopColor)")
        assert border[1] == border[2] != border[0]          # one colour per class
        label_bg = boxes.locator(".dlnb-box-label").evaluate_all(
            "ls => ls.map((l) => getComputedStyle(l).backgroundColor)")
        assert [_rgb(c) for c in label_bg] == [_rgb(c) for c in border]
        title = boxes.nth(0).get_attribute("title")
        assert title == "dog · boxes[0] · x 5, y 5, w 70, h 50 px"

        # the screenshot: the dog label is drawn inside its box, in the class colour, with text
        box = boxes.nth(0).bounding_box()
        label = boxes.nth(0).locator(".dlnb-box-label").bounding_box()
        assert label["width"] > 10 and label["height"] > 6
        assert box["x"] - 1 <= label["x"] and label["x"] + label["width"] <= box["x"] + box["width"] + 1
        assert box["y"] - 1 <= label["y"] and label["y"] + label["height"] <= box["y"] + box["height"] + 1
        shot = Image.open(io.BytesIO(page.screenshot(clip=label))).convert("RGB")
        colours = shot.getcolors(maxcolors=1 << 16)
        background = max(colours)[1]
        over_image = [0.85 * c + 0.15 * 235 for c in _rgb(label_bg[0])]             # 0.85 alpha over grey
        assert sum(abs(a - b) for a, b in zip(background, over_image)) < 40         # the class colour ...
        text_px = sum(n for n, c in colours if sum(abs(a - b) for a, b in zip(c, background)) > 120)
        assert text_px > 10                                                          # ... and text on it
        nb.screenshot("classes-01-boxes.png")

        # masks: the class name sits on the object, in the same class colour
        nb.run_cell(2)
        page.wait_for_function("() => document.querySelectorAll('.dlnb-dataset-browser .dlnb-mask-label').length === 12",
                               timeout=15_000)
        mask_labels = page.locator(".dlnb-tile[data-position='0'] .dlnb-mask-label")
        assert mask_labels.all_inner_texts() == ["dog", "bicycle", "bicycle"]  # largest object first
        mask_label = mask_labels.first
        assert mask_label.get_attribute("title").startswith("dog · masks channel 0 · around x ")
        assert _rgb(mask_label.evaluate("l => getComputedStyle(l).backgroundColor")) == _rgb(label_bg[0])
        nb.screenshot("classes-02-masks.png")

        # the query widget's chart draws the dog bar in the dog colour
        nb.run_cell(3)
        page.wait_for_function("() => !!document.querySelector(\".dlnb-q-bar-row[data-label='dog'] rect\")",
                               timeout=30_000)
        fill = page.locator(".dlnb-q-bar-row[data-label='dog'] rect").get_attribute("fill")
        assert _rgb(fill) == _rgb(label_bg[0])
        assert not errors, errors
