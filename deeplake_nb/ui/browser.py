"""``DatasetBrowser``: ``ds.visualize()``, a grid of thumbnails over a dataset, group or row view,
with a tensor picker. The browser side is ``widgets/dataset_browser.js`` (+ CSS) on top of the
shared ``widgets/grid.js``; the Python side is ``SampleGridWidget`` over a ``SampleSource``.
"""

from __future__ import annotations

from typing import Any

from . import assets
from .grid import DEFAULT_PAGE_SIZE, DEFAULT_THUMB, SampleGridWidget
from .source import SampleSource


class DatasetBrowser(SampleGridWidget):
    """A grid of thumbnails over a dataset, group or row view.

    Click a sample to select it and open its detail panel (every tensor of the sample);
    Ctrl/Cmd-click toggles a sample in the selection, Shift-click selects a range; arrow keys move,
    PageUp/PageDown change page, Enter opens, Space toggles, Escape closes the panel (or clears
    the selection). ``selected_indices`` are positions in the dataset or view shown.
    """

    _esm = assets.path("dataset_browser.js")
    _css = assets.text("grid.css", "dataset_browser.css")
    summary_title = "Dataset browser"

    def __init__(self, dataset: Any, *, image_tensor: str | None = None, overlays: list[str] | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE, thumb_size: int = DEFAULT_THUMB,
                 width: int | str | None = None, height: int | str | None = None,
                 labels: dict[str, str] | None = None) -> None:
        super().__init__(SampleSource(dataset, labels), image_tensor=image_tensor, overlays=overlays, page_size=page_size,
                         thumb_size=thumb_size, width=width, height=height)
        self.title = str(getattr(dataset, "path", "") or "")

    @property
    def dataset(self) -> Any:
        return self.source.dataset
