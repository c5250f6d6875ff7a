"""A sample with a million boxes in a real JupyterLab (Chromium): every websocket frame the kernel
sends stays under the Jupyter server's 10 MiB limit, the thumbnail draws its first boxes with a
"+N" badge for the rest, and the detail view's "load more" button fetches the next ones."""

from __future__ import annotations

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

HUGE = 1_000_000
BUILD = f"""\
import numpy as np
import deeplake_nb as dl

ds = dl.empty("crowded", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("boxes", htype="bbox", coords={{"type": "LTWH", "mode": "pixel"}})
    ds.create_tensor("labels", htype="class_label", class_names=["car", "person"])
    rng = np.random.default_rng(0)
    for k in (3, {HUGE}):
        xy = rng.integers(0, 150, (k, 2))
        ds.append({{"images": np.full((160, 160, 3), 235, np.uint8),
                   "boxes": np.column_stack([xy, np.full((k, 2), 8)]).astype(np.float32),
                   "labels": (np.arange(k) % 2).astype(np.uint32)}})
print("BUILT", len(ds))"""
CELLS = [BUILD, "w = ds.visualize(thumb_size=160)\nw"]
SERVER_LIMIT = 10 << 20


def test_million_boxes_page_in_small_frames(tmp_path):
    frames: list[int] = []

    def record_frames(page) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))

    with lab.notebook_in_lab(tmp_path, "crowded.ipynb", CELLS, on_page=record_frames) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        nb.wait_output(0, "BUILT 2", timeout_ms=120_000)
        nb.run_cell(1)
        page.wait_for_function("() => document.querySelectorAll('.dlnb-tile[data-position=\"1\"] .dlnb-box').length > 0",
                               timeout=60_000)
        tile = page.locator(".dlnb-tile[data-position='1']")
        shown = tile.locator(".dlnb-box").count()
        assert 0 < shown < 1000
        assert tile.locator(".dlnb-more").inner_text() == f"+{HUGE - shown:,}"
        assert page.locator(".dlnb-tile[data-position='0'] .dlnb-more").count() == 0

        tile.click()
        ready = "() => document.querySelector('.dlnb-detail').dataset.state === 'ready'"
        page.wait_for_function(ready, timeout=60_000)
        detail = page.locator(".dlnb-detail")
        first = detail.locator(".dlnb-detail-picture .dlnb-box").count()
        more = detail.locator(".dlnb-more-objects[data-tensor='boxes']")
        assert more.inner_text().startswith(f"boxes: {first:,} of {HUGE:,} objects")
        more.click()
        page.wait_for_function(f"() => document.querySelectorAll('.dlnb-detail-picture .dlnb-box').length > {first}",
                               timeout=60_000)
        page.wait_for_function(ready, timeout=60_000)
        assert detail.locator(".dlnb-detail-picture .dlnb-box").count() == 2 * first
        labels = detail.locator(".dlnb-detail-picture .dlnb-box-label")
        assert labels.nth(2 * first - 1).inner_text() == ("car", "person")[(2 * first - 1) % 2]
        nb.screenshot("limits-01-detail.png")
        assert frames and max(frames) < SERVER_LIMIT, max(frames)
        assert not errors, errors
