"""Where no widget front end runs, the browser shows its text/HTML summary: a notebook executed
headless and exported with ``jupyter nbconvert --execute --to html`` (its default settings, which
store widget state) shows the summary of every widget, loads no widget manager and adds no request
to anything outside the page. Our widgets open their comms so that nbclient records no state for
them (``deeplake_nb.ui.kernel_comm``); other widgets in the same notebook are stored as before. The
summary carries a strip of the first pictures as inline data: URIs."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")
pytest.importorskip("anywidget")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _three_pictures(path) -> dl.Dataset:
    ds = dl.empty(str(path))
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["left", "right"])
    ds.extend({"images": [dl.Sample(buffer=simplejpeg.encode_jpeg(np.full((8, 8, 3), i * 40, np.uint8)))
                          for i in range(3)],
               "labels": ["left", "right", "left"]})
    ds.commit("three")
    return ds


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _nbconvert(notebook: Path, *args: str) -> None:
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", *args, str(notebook)],
                         capture_output=True, text=True, timeout=300, cwd=notebook.parent)
    assert out.returncode == 0, out.stderr[-3000:]


def _external_urls(html: str) -> set[str]:
    """What a page would fetch from outside: script sources and module imports with a host."""
    return set(re.findall(r"""(?:src=|import\()\s*["'](https?://[^"']+)""", html))


@pytest.mark.slow
def test_nbconvert_execute_to_html_with_default_settings_shows_the_summaries(tmp_path):
    """``jupyter nbconvert --execute --to html`` as a user types it: every widget cell shows its
    summary (with the thumbnail strip), no widget manager is loaded from a CDN, and the page asks
    for nothing that the same export of a notebook without widgets does not ask for."""
    ds = _three_pictures(tmp_path / "ds")
    nb = _notebook(tmp_path / "widgets.ipynb", [
        f"import deeplake_nb as dl\nds = dl.load({ds.path!r})",
        "ds.visualize()",
        "ds.commit_graph()",
        "w = dl.ui.QueryWidget(ds, \"SELECT * WHERE labels == 'right'\")\nw",
        # traits changed in a later cell (state updates) are not recorded either
        "w.query = \"SELECT * WHERE labels == 'left'\"\nprint(w.query)"])
    _nbconvert(nb, "--to", "html")
    html = (tmp_path / "widgets.html").read_text()
    assert len(re.findall(r"class=[\"']dlnb-summary[\"']", html)) == 3
    assert "Dataset browser:" in html and "Commit graph:" in html and "Query results:" in html
    assert "class_label" in html and "right" in html and "model not found" not in html
    strip = re.search(r"<div class=[\"']dlnb-strip[\"']>(.*?)</div>", html).group(1)
    uris = re.findall(r"src=[\"']data:image/(?:jpeg|png|webp);base64,([A-Za-z0-9+/=]+)", strip)
    assert len(uris) == 3 and all(base64.b64decode(u)[:3] == b"\xff\xd8\xff" for u in uris)
    # no widget view, no saved state, no widget manager from unpkg/jsdelivr
    assert WIDGET_VIEW not in html and WIDGET_STATE not in html
    assert not re.search(r"unpkg|jsdelivr|html-manager|embed-amd", html)
    # nbconvert's page template links its own scripts (require.js, MathJax) for any notebook; the
    # widgets add nothing to them
    plain = _notebook(tmp_path / "plain.ipynb", ["print(1)"])
    _nbconvert(plain, "--to", "html")
    assert _external_urls(html) == _external_urls((tmp_path / "plain.html").read_text())
    # the executed notebook keeps the widget views (a live front end shows the widgets) and no state
    _nbconvert(nb, "--to", "notebook", "--output", "executed")
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    assert "widgets" not in executed.metadata
    for cell in executed.cells[1:4]:
        (out,) = cell.outputs
        assert {WIDGET_VIEW, "text/html", "text/plain"} <= set(out["data"])
    assert executed.cells[4].outputs[0]["text"].strip() == "SELECT * WHERE labels == 'left'"


def test_nbclient_stores_other_widgets_but_not_ours(tmp_path):
    """In one notebook with an ipywidgets slider beside ours, nbclient's default saves the slider's
    state and not our model's; our model still holds its summary (``_summary_html``) for a state
    saved by a front end; and nbconvert renders our output as its summary, the slider as a widget."""
    ds = _three_pictures(tmp_path / "ds")
    nb = nbformat.read(_notebook(tmp_path / "mixed.ipynb", [
        f"import deeplake_nb as dl, ipywidgets\nds = dl.load({ds.path!r}, read_only=True)",
        "b = ds.visualize()\nb",
        "s = ipywidgets.IntSlider(3)\ns",
        "print(b._summary_html == b._repr_mimebundle_()[0]['text/html'], 'dlnb-summary' in b._summary_html)"]),
        as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    ours = nb.cells[1].outputs[0]["data"][WIDGET_VIEW]["model_id"]
    slider = nb.cells[2].outputs[0]["data"][WIDGET_VIEW]["model_id"]
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    assert slider in state and state[slider]["model_name"] == "IntSliderModel"
    assert ours not in state and not any(s["model_module"] == "anywidget" for s in state.values())
    assert nb.cells[3].outputs[0]["text"].split() == ["True", "True"]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert len(re.findall(r"class=[\"']dlnb-summary[\"']", html)) == 1 and f'"model_id": "{slider}"' in html
    assert f'"model_id": "{ours}"' not in html


def test_comms_outside_a_kernel_are_left_alone():
    """Outside an IPython kernel ``unrecorded()`` changes nothing, and only state-carrying comm
    messages are published without a parent."""
    import comm

    from deeplake_nb.ui import kernel_comm

    before = comm.create_comm
    with kernel_comm.unrecorded():
        assert comm.create_comm is before
    assert kernel_comm.records_state("comm_open", {"state": {}, "buffer_paths": []})
    assert kernel_comm.records_state("comm_msg", {"method": "update", "state": {"x": 1}})
    assert not kernel_comm.records_state("comm_msg", {"method": "custom", "content": {}})
    assert not kernel_comm.records_state("comm_close", {})


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
