"""``DatasetBrowser``: ``ds.visualize()``, a grid of thumbnails over a dataset, group or row view,
with a tensor picker. The browser side is ``widgets/dataset_browser.js`` (+ CSS) on top of the
shared ``widgets/grid.js``; the Python side is ``SampleGridWidget`` over a ``SampleSource``.

Following the dataset: it has no change hook, so while the widget is on screen the browser sends
``{"type": "poll", "id"}`` every ``poll_seconds`` (and when the pointer or focus enters it); the
kernel compares a cheap signature (branch, commit, uncommitted-changes flag, tensors, lengths) and,
when it changed, re-reads the dataset and redraws the page (``refresh``), replying
``{"type": "poll", "id", "changed": bool}``. ``version`` shows ``branch@<short commit id>`` (``*``
when there are uncommitted changes) or ``<short commit id> (read-only)`` on a checked-out commit.
"""

from __future__ import annotations

from typing import Any

import traitlets as t

from . import assets, protocol
from .commit_graph import checked_out, short_id
from .grid import DEFAULT_PAGE_SIZE, DEFAULT_THUMB, SampleGridWidget
from .source import READ_ERRORS, SampleSource


def version_label(dataset: Any) -> str:
    """``main@1a2b3c4d`` (``*`` appended with uncommitted changes), ``1a2b3c4d (read-only)`` on a
    commit or tag, '' where the object has no version (never raises)."""
    try:
        branch, commit = checked_out(dataset), short_id(str(dataset.commit_id))
        if branch is None:
            return f"{commit} (read-only)"
        return f"{branch}@{commit}" + (" *" if dataset.has_head_changes else "")
    except (AttributeError, *READ_ERRORS):
        return ""


def signature(dataset: Any) -> tuple:
    """What the grid depends on, cheap to read: the version label, the length and each tensor's length."""
    try:
        return version_label(dataset), len(dataset), tuple((n, len(t)) for n, t in dataset.tensors.items())
    except READ_ERRORS:
        return ("unreadable",)


class DatasetBrowser(SampleGridWidget):
    """A grid of thumbnails over a dataset, group or row view.

    Click a sample to select it and open its detail panel (every tensor of the sample);
    Ctrl/Cmd-click toggles a sample in the selection, Shift-click selects a range; arrow keys move,
    PageUp/PageDown change page, Enter opens, Space toggles, Escape closes the panel (or clears
    the selection). ``selected_indices`` are positions in the dataset or view shown. Appends,
    commits and checkouts made elsewhere show within ``poll_seconds`` (0: only on ``refresh()``).
    """

    _esm = assets.path("dataset_browser.js")
    _css = assets.text("grid.css", "dataset_browser.css")
    summary_title = "Dataset browser"

    version = t.Unicode("", read_only=True).tag(sync=True)
    poll_seconds = t.Float(3.0).tag(sync=True)

    def __init__(self, dataset: Any, *, image_tensor: str | None = None, overlays: list[str] | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE, thumb_size: int = DEFAULT_THUMB,
                 width: int | str | None = None, height: int | str | None = None,
                 labels: dict[str, str] | None = None, poll_seconds: float = 3.0) -> None:
        super().__init__(SampleSource(dataset, labels), image_tensor=image_tensor, overlays=overlays, page_size=page_size,
                         thumb_size=thumb_size, width=width, height=height)
        self.title = str(getattr(dataset, "path", "") or "")
        self.poll_seconds = max(0.0, float(poll_seconds))
        self._signature = signature(dataset)
        self.set_trait("version", version_label(dataset))

    @property
    def dataset(self) -> Any:
        return self.source.dataset

    def refresh(self) -> None:
        """Re-read the version, length, tensors and class names, and redraw the page."""
        self._signature = signature(self.dataset)
        self.set_trait("version", version_label(self.dataset))
        super().refresh()

    def follow(self) -> bool:
        """``refresh()`` when the dataset changed since the last look; returns whether it did."""
        if signature(self.dataset) == self._signature:
            return False
        self.refresh()
        return True

    def handle_message(self, content: dict[str, Any]) -> list[protocol.Message] | None:
        if content.get("type") != "poll":
            return super().handle_message(content)
        return [({"type": "poll", "id": content.get("id"), "changed": self.follow()}, [])]
