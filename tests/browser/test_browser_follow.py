"""The dataset browser follows its dataset in a real JupyterLab (Chromium): it shows
``branch@commit``, and after appends made in another cell, a commit, and a checkout clicked in the
commit graph widget it shows the new length, version and samples without re-running its cell.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json

import pytest

import lab_driver as lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

lab.skip_module_without_browser()

BUILD = """\
import json
import numpy as np
import deeplake_nb as dl
from deeplake_nb.ui.commit_graph import short_id

ds = dl.empty("fol", overwrite=True)
with ds:
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    for i in range(10):
        ds.append({"images": np.full((16, 16, 3), 20 * i, np.uint8), "labels": i % 2})
first = ds.commit("ten")
print("BUILT", json.dumps({"first": first, "short": short_id(first)}))"""
APPEND = """\
for i in range(5):
    ds.append({"images": np.full((16, 16, 3), 250, np.uint8), "labels": 1})
print("APPENDED", len(ds))"""
CELLS = [BUILD, "w = ds.visualize(page_size=48, thumb_size=48, poll_seconds=0.5)\nw",
         "g = ds.commit_graph(poll_seconds=0.5)\ng", APPEND,
         "second = ds.commit('fifteen')\nprint('COMMITTED', short_id(second))"]

STATUS = """text => { const s = document.querySelector('.dlnb-dataset-browser .dlnb-status');
                      const r = document.querySelector('.dlnb-dataset-browser');
                      return !!s && r.dataset.state === 'ready' && s.textContent.includes(text); }"""
VERSION = """text => { const v = document.querySelector('.dlnb-dataset-browser .dlnb-version');
                       return !!v && v.textContent === text; }"""


def test_browser_follows_appends_commits_and_checkouts(tmp_path):
    with lab.notebook_in_lab(tmp_path, "follow.ipynb", CELLS) as (nb, errors):
        page = nb.page
        nb.run_cell(0)
        ids = json.loads(nb.wait_output(0, "BUILT").split("BUILT", 1)[1].strip().splitlines()[0])
        nb.run_cell(1)
        page.wait_for_function(STATUS, arg="of 10", timeout=30_000)
        page.wait_for_function(VERSION, arg=f"main@{ids['short']}", timeout=15_000)
        nb.run_cell(2)
        page.wait_for_selector(f".dlnb-cg-row[data-commit='{ids['first']}']", timeout=30_000)

        # appends in another cell: the grid shows 15 samples and the uncommitted mark
        nb.run_cell(3)
        nb.wait_output(3, "APPENDED 15")
        page.wait_for_function(STATUS, arg="Samples 0–14 of 15", timeout=15_000)
        page.wait_for_function(VERSION, arg=f"main@{ids['short']} *", timeout=15_000)
        assert page.locator(".dlnb-dataset-browser .dlnb-tile img").count() == 15
        # a commit: the new head id
        nb.run_cell(4)
        second = nb.wait_output(4, "COMMITTED").split("COMMITTED", 1)[1].split()[0]
        page.wait_for_function(VERSION, arg=f"main@{second}", timeout=15_000)
        nb.screenshot("follow-01-appended.png")

        # a checkout clicked in the commit graph: the browser shows that commit's 10 samples
        cg = page.locator(".dlnb-commit-graph")
        cg.locator(f".dlnb-cg-row[data-commit='{ids['first']}']").click()
        page.wait_for_function(
            "id => { const d = document.querySelector('.dlnb-cg-detail'); return d.dataset.state === 'ready' && d.dataset.commit === id; }",
            arg=ids["first"], timeout=15_000)
        cg.locator(".dlnb-cg-detail select.dlnb-cg-ref").select_option(ids["first"])
        cg.locator(".dlnb-cg-detail .dlnb-cg-checkout").click()
        page.wait_for_function(VERSION, arg=f"{ids['short']} (read-only)", timeout=15_000)
        page.wait_for_function(STATUS, arg="Samples 0–9 of 10", timeout=15_000)
        nb.screenshot("follow-02-checkout.png")
        assert not errors, errors
