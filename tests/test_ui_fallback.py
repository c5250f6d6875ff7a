"""Where no widget front end runs, the browser shows its text/HTML summary: a notebook executed
headless (nbclient, as nbval and CI do) and exported with nbconvert shows the summary table.

The notebook is executed without storing widget state, like a notebook saved from JupyterLab with
its default settings; where the state is stored, nbconvert embeds the widget view instead."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")
pytest.importorskip("anywidget")


def test_nbconvert_export_shows_the_summary(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["left", "right"])
    ds.extend({"images": [dl.Sample(buffer=simplejpeg.encode_jpeg(np.full((8, 8, 3), i * 40, np.uint8)))
                          for i in range(3)],
               "labels": ["left", "right", "left"]})
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import deeplake_nb as dl\nds = dl.load({ds.path!r}, read_only=True)"),
                nbformat.v4.new_code_cell("w = ds.visualize()\nw")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    data = nb.cells[1].outputs[0]["data"]
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(data)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert "Dataset browser:" in html and "class_label" in html and "right" in html
    assert "dlnb-summary" in html
