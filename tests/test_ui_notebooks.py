"""The widget tutorials as files: nbval markers are cell tags (not comments in the code), the
quickstart shows ds.visualize(), 06_widgets stays on the public API, and both were saved after a
Run All (every code cell run once, in order, so their outputs are those of their code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TUTORIALS = ["01_quickstart.ipynb", "06_widgets.ipynb"]


def code_cells(name):
    nb = json.loads((NOTEBOOKS / name).read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", TUTORIALS)
def test_nbval_markers_are_tags(name):
    cells = code_cells(name)
    assert not [c for c in cells if "NBVAL_" in "".join(c["source"])]
    assert any("nbval-check-output" in c["metadata"].get("tags", []) for c in cells)


@pytest.mark.parametrize("name", TUTORIALS)
def test_saved_after_run_all(name):
    cells = code_cells(name)
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    for c in cells:
        if "".join(c["source"]).rstrip().split("\n")[-1].startswith("print("):
            assert c["outputs"], "".join(c["source"])


def test_quickstart_shows_the_browser():
    cells = code_cells("01_quickstart.ipynb")
    shown = [c for c in cells if "".join(c["source"]).startswith("ds.visualize(")]
    assert shown and "application/vnd.jupyter.widget-view+json" in shown[0]["outputs"][0]["data"]
    assert "text/html" in shown[0]["outputs"][0]["data"]


def test_widgets_tutorial_stays_on_the_public_api():
    text = "".join("".join(c["source"]) for c in code_cells("06_widgets.ipynb"))
    for internal in ("handle_request", "_repr_mimebundle_", "\"type\": \"page\""):
        assert internal not in text
    assert "shape_masks(" in text   # masks of the shapes themselves, not their boxes


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_no_notebook_keeps_nbval_markers_in_its_code(name):
    """Every tutorial marks the cells nbval checks with the ``nbval-check-output`` tag, so the
    code a reader copies carries no test markers."""
    assert not [c for c in code_cells(name) if "NBVAL_" in "".join(c["source"])]
