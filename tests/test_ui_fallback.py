"""Where no widget front end runs, the browser shows its text/HTML summary: a notebook executed
headless (nbclient, as nbval and CI do) and exported with nbconvert shows the summary table.

The notebook is executed without storing widget state, like a notebook saved from JupyterLab with
its default settings; where the state is stored, nbconvert embeds the widget view instead (and
its script from a CDN): our bundle cannot change that choice. The summary carries a strip of the
first pictures as inline data: URIs."""

from __future__ import annotations

import base64
import re

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
    # the thumbnail strip: the first pictures inline, and no widget script fetched from outside
    strip = re.search(r"<div class=[\"']dlnb-strip[\"']>(.*?)</div>", html).group(1)
    uris = re.findall(r"src=[\"']data:image/(?:jpeg|png|webp);base64,([A-Za-z0-9+/=]+)", strip)
    assert len(uris) == 3 and all(base64.b64decode(u)[:3] == b"\xff\xd8\xff" for u in uris)
    assert not re.search(r"unpkg|jsdelivr|html-manager|embed-amd", html)


def test_thumbnail_strip_is_small_and_skips_unreadable_pictures(tmp_path, monkeypatch):
    from deeplake_nb.errors import DeepLakeNBError
    from deeplake_nb.ui import summary
    from deeplake_nb.ui.source import SampleSource

    ds = dl.empty(str(tmp_path / "strip"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("raw", htype="image")
    ds.create_tensor("x")
    rng = np.random.default_rng(0)
    for i in range(12):
        ds.append({"images": rng.integers(0, 255, (300, 200, 3), dtype=np.uint8),
                   "raw": np.full((10, 20, 3), i, np.uint8), "x": i})
    src = SampleSource(ds)
    strip = summary.thumbnail_strip(src, "images")
    sizes = re.findall(r"width='(\d+)' height='(\d+)'", strip)
    assert len(sizes) == summary.STRIP_COUNT and all(max(int(w), int(h)) <= summary.STRIP_SIDE for w, h in sizes)
    for uri in re.findall(r"base64,([A-Za-z0-9+/=]+)", strip):
        assert len(base64.b64decode(uri)) <= summary.STRIP_BYTES
    assert len(re.findall("<img", summary.thumbnail_strip(src, "raw", count=3))) == 3
    assert summary.thumbnail_strip(src, "x") == "" and summary.thumbnail_strip(src, "") == ""
    read = summary.read_picture

    def unreadable_second(tensor):
        if int(tensor.numpy()[0, 0, 0]) == 1:
            raise DeepLakeNBError("chunk missing")
        return read(tensor)

    monkeypatch.setattr(summary, "read_picture", unreadable_second)
    alts = re.findall(r"alt='sample (\d+)'", summary.thumbnail_strip(src, "raw", count=3))
    assert alts == ["0", "2"]
    monkeypatch.undo()
    assert "dlnb-strip" in ds.visualize()._repr_mimebundle_()[0]["text/html"]
    assert "dlnb-strip" not in ds.visualize(image_tensor="")._repr_mimebundle_()[0]["text/html"]
