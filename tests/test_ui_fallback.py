"""Where no widget front end runs, the browser shows its text/HTML summary: a notebook executed
headless (nbclient, as nbval and CI do) and exported with nbconvert shows the summary table.

The notebook is executed without storing widget state, like a notebook saved from JupyterLab with
its default settings; where the state is stored, nbconvert embeds the widget view instead (and
its script from a CDN): our bundle cannot change that choice. The summary carries a strip of the
first pictures as inline data: URIs."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

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


# -- a widget output whose model is gone (JupyterLab, Notebook 7) -------------------------------------
LABEXTENSION = Path(__file__).resolve().parents[1] / "widgets" / "labextension"


def test_bundle_marks_its_summary_as_the_fallback(tmp_path):
    from deeplake_nb.ui.summary import FALLBACK_MARK

    ds = dl.empty(str(tmp_path / "mark"))
    ds.create_tensor("labels", htype="class_label", class_names=["a"])
    ds.append({"labels": 0})
    for widget in (ds.visualize(), ds.commit_graph()):
        data, metadata = widget._repr_mimebundle_()
        assert metadata[FALLBACK_MARK] == {"fallback": "text/html"} and "dlnb-summary" in data["text/html"]


def test_labextension_is_packaged_where_jupyterlab_looks():
    import tomllib

    package = json.loads((LABEXTENSION / "package.json").read_text())
    assert (LABEXTENSION / package["jupyterlab"]["_build"]["load"]).is_file()
    assert package["jupyterlab"]["_build"]["extension"] == "./extension"
    project = tomllib.loads((LABEXTENSION.parents[1] / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["widgets/labextension"] == f"share/jupyter/labextensions/{package['name']}"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (the browser test covers it)")
def test_labextension_replaces_model_not_found_in_marked_outputs_only():
    """The container under Node.js with a stand-in share scope, notebook tracker and DOM: the plugin
    asks for INotebookTracker from the shared @jupyterlab/notebook (newest version), and in a
    notebook's outputs it swaps ipywidgets' "model not found" for the sanitized text/html of outputs
    marked by deeplake_nb, leaving other outputs and live widgets alone."""
    entry = LABEXTENSION / "static" / "remoteEntry.js"
    script = """
const fs = require("fs");
globalThis.window = globalThis;
const observers = [];
globalThis.MutationObserver = class { constructor(f) { this.f = f; observers.push(this); } observe() {} disconnect() {} };
eval(fs.readFileSync(process.argv[1], "utf8"));
const Tracker = { name: "INotebookTracker" }, Old = { name: "old" };
const container = window._JUPYTERLAB["deeplake-nb"];
container.init({ "@jupyterlab/notebook": {
  "4.10.1": { get: async () => () => ({ INotebookTracker: Tracker }) },
  "4.9.7": { get: async () => () => ({ INotebookTracker: Old }) } } });
const node = (text) => { const n = { textContent: text, innerHTML: "", title: "", classes: [],
  classList: { add: (c) => n.classes.push(c) } }; return n; };
const child = (nodes) => ({ node: { querySelectorAll: () => nodes } });
const MISSING = "Error displaying widget: model not found";
const ours = node(MISSING), theirs = node(MISSING), live = node("a live widget");
const mark = { deeplake_nb: { fallback: "text/html" } };
const outputs = [{ data: { "text/html": ["<div class='dlnb-summary'>", "S</div>"] }, metadata: mark },
                 { data: { "text/html": "<b>other</b>" }, metadata: {} },
                 { data: { "text/html": "<div>live</div>" }, metadata: mark }];
const cell = { model: { type: "code", outputs: { length: 3, get: (i) => outputs[i] } },
               outputArea: { widgets: [child([ours]), child([theirs]), child([live])] } };
const panel = { node: {}, disposed: { connect() {} },
  content: { widgets: [cell, { model: { type: "markdown" } }],
             rendermime: { sanitizer: { sanitize: (html) => "clean:" + html } } } };
(async () => {
  const factory = await container.get("./extension");
  const [plugin] = factory().default;
  const added = [];
  plugin.activate({}, { forEach: (f) => f(panel), widgetAdded: { connect: (f) => added.push(f) } });
  ours.textContent = MISSING;   // a renderer that shows the error again later is mended again
  ours.innerHTML = "";
  observers[0].f([]);
  await new Promise((r) => setTimeout(r, 10));
  let missing = "no error";
  try { await container.get("./other"); } catch (e) { missing = e.message; }
  console.log(JSON.stringify({ requires: plugin.requires.map((t) => t.name), autoStart: plugin.autoStart,
    ours: ours.innerHTML, classes: ours.classes, theirs: theirs.innerHTML, live: live.innerHTML,
    listeners: added.length, missing }));
})();
"""
    out = subprocess.run([shutil.which("node"), "-e", script, str(entry)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["requires"] == ["INotebookTracker"] and result["autoStart"] is True
    assert result["ours"] == "clean:<div class='dlnb-summary'>S</div>"
    assert "dlnb-fallback" in result["classes"]
    assert result["theirs"] == "" and result["live"] == ""
    assert result["listeners"] == 1 and "no module ./other" in result["missing"]


def test_saved_widget_state_carries_the_summary(tmp_path):
    """nbclient's default (``store_widget_state``) saves each model's state in the notebook: ours holds
    the summary (``_summary_html``) that the widget shows when no kernel answers it."""
    ds = dl.empty(str(tmp_path / "state"))
    ds.create_tensor("labels", htype="class_label", class_names=["left", "right"])
    ds.extend({"labels": ["left", "right"]})
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import deeplake_nb as dl\nds = dl.load({ds.path!r}, read_only=True)"),
                nbformat.v4.new_code_cell("ds.visualize()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    model_id = nb.cells[1].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"][model_id]["state"]
    assert "dlnb-summary" in state["_summary_html"] and "right" in state["_summary_html"]
    assert state["_summary_html"] == nb.cells[1].outputs[0]["data"]["text/html"]
