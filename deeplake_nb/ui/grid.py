"""``SampleGridWidget``: the Python side shared by widgets that show samples in the grid of
``widgets/grid.js`` (the dataset browser; next the query widget and commit-graph sample diffs).

It owns the traits ``grid.js`` reads and writes — ``length``, ``tensors``, ``image_tensor``,
``overlays``, ``page``, ``page_size``, ``thumb_size``, ``width``, ``height``, ``selected_indices``,
``class_colours`` (class name -> colour number, ``classes``), ``_reload`` — and answers the page
and sample requests of ``protocol`` from a ``SampleSource``.
A subclass sets ``_esm`` (its own module, which imports ``grid.js`` from the ``_lib_esm`` trait)
and ``_css``, may swap the source with ``set_source`` (the query widget does, after each query),
and answers requests of its own types in ``handle_message``.

Importing this module imports anywidget.
"""

from __future__ import annotations

from typing import Any, Iterable

import anywidget
import traitlets as t

from . import assets, curate, protocol, summary
from .source import SampleSource

DEFAULT_PAGE_SIZE = 48
DEFAULT_THUMB = 160
DEFAULT_HEIGHT = "640px"   # the grid scrolls inside this; height="none" lets it grow with the page


def css_size(value: int | str | None) -> str:
    """``300`` -> ``"300px"``; strings are CSS sizes already; None -> ``""`` (automatic)."""
    if value is None:
        return ""
    return f"{value}px" if isinstance(value, (int, float)) else str(value)


class SampleGridWidget(summary.SummaryRepr, anywidget.AnyWidget):
    """Selection and paging state of a sample grid, and the kernel end of its message protocol.

    The grid is at most ``height`` high (``DEFAULT_HEIGHT`` unless given; ``"none"``: no limit) and
    scrolls inside it; the pager has a thumbnail-size control (``thumb_size``).

    ``selected_indices`` holds positions in the object shown (``obj[w.selected_indices]``, or
    ``w.selected_view``); ``page`` is 0-based.
    """

    _lib_esm = t.Unicode(assets.text("grid.js")).tag(sync=True)
    summary_title = "Samples"

    title = t.Unicode("").tag(sync=True)
    length = t.Int(0, read_only=True).tag(sync=True)
    tensors = t.List(t.Dict(), read_only=True).tag(sync=True)
    image_tensor = t.Unicode("").tag(sync=True)
    overlays = t.List(t.Unicode()).tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(DEFAULT_PAGE_SIZE).tag(sync=True)
    thumb_size = t.Int(DEFAULT_THUMB).tag(sync=True)
    width = t.Unicode("").tag(sync=True)
    height = t.Unicode("").tag(sync=True)
    selected_indices = t.List(t.Int()).tag(sync=True)
    class_colours = t.Dict(read_only=True).tag(sync=True)
    _reload = t.Int(0).tag(sync=True)

    def __init__(self, source: SampleSource, *, image_tensor: str | None = None, overlays: list[str] | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE, thumb_size: int = DEFAULT_THUMB,
                 width: int | str | None = None, height: int | str | None = None, **kwargs: Any) -> None:
        self._source = source
        super().__init__(**kwargs)
        self._sync_source()
        self.image_tensor = source.default_image() if image_tensor is None else image_tensor
        self.overlays = source.default_overlays() if overlays is None else list(overlays)
        self.page_size, self.thumb_size = page_size, thumb_size
        self.width = css_size(width)
        self.height = DEFAULT_HEIGHT if height is None else css_size(height)
        self.on_msg(self._on_msg)

    # -- Python API -------------------------------------------------------------------------------
    @property
    def source(self) -> SampleSource:
        return self._source

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.length // self.page_size))

    @property
    def selected_view(self) -> Any:
        """The selected samples as a view of the object shown."""
        return self._source.dataset[list(self.selected_indices)]

    def select(self, positions: Any) -> None:
        self.selected_indices = [int(p) for p in positions]

    def refresh(self) -> None:
        """Re-read the length, tensor list and class-name pairing (after appends, pops or new tensors),
        keep the page in range, and redraw."""
        self._source.pairs = self._source.pairs_now()
        self._sync_source()
        self.page = min(self.page, self.num_pages - 1)
        self._reload += 1

    def set_source(self, source: SampleSource) -> None:
        """Show other samples (a new query result ...): selection cleared, first page, redraw."""
        self._source = source
        self.selected_indices = []
        self._sync_source()
        if self.image_tensor and self.image_tensor not in source.names("image"):
            self.image_tensor = source.default_image()
        self.overlays = [name for name in self.overlays if name in source.default_overlays()]
        self.page = 0
        self._reload += 1

    def tag_selection(self, tag: str, tensor: str = curate.DEFAULT_TAG_TENSOR) -> int:
        """Add ``tag`` to the selected samples in the ``tag`` tensor ``tensor`` (made when missing);
        returns how many samples got it. See ``curate.tag``."""
        added = curate.tag(self._tag_home(), self._source.dataset, list(self.selected_indices), tag, tensor)
        self.refresh()
        return added

    def save_selection(self, message: str | None = None) -> str:
        """Save the selected samples (all samples shown when none is selected) as a view of the
        dataset (``save_view``); returns its address, which ``dl.load`` opens."""
        return curate.save(self.selected_view if self.selected_indices else self._source.dataset, message)

    def handle_request(self, content: dict[str, Any]) -> list[protocol.Message]:
        """The replies to one browser request as ``(content, buffers)`` pairs (what is sent)."""
        return list(protocol.handle(self._source, content))

    def _tag_home(self) -> Any:
        """The dataset a new tag tensor is made on (the object shown; the query widget's dataset)."""
        return self._source.dataset

    # -- traits -----------------------------------------------------------------------------------
    def _sync_source(self) -> None:
        self.set_trait("length", len(self._source))
        self.set_trait("tensors", self._source.tensors())
        self.set_trait("class_colours", self._source.colour_numbers())

    @t.validate("image_tensor")
    def _check_image(self, proposal: dict[str, Any]) -> str:
        self._source.check(proposal["value"], [])
        return proposal["value"]

    @t.validate("overlays")
    def _check_overlays(self, proposal: dict[str, Any]) -> list[str]:
        self._source.check("", list(proposal["value"]))
        return list(dict.fromkeys(proposal["value"]))

    @t.validate("page_size")
    def _check_page_size(self, proposal: dict[str, Any]) -> int:
        return min(max(1, int(proposal["value"])), protocol.MAX_PAGE)

    @t.validate("thumb_size")
    def _check_thumb(self, proposal: dict[str, Any]) -> int:
        return min(max(protocol.THUMB_SIDES[0], int(proposal["value"])), protocol.THUMB_SIDES[1])

    @t.validate("page")
    def _check_page(self, proposal: dict[str, Any]) -> int:
        return min(max(0, int(proposal["value"])), self.num_pages - 1)

    @t.validate("selected_indices")
    def _check_selection(self, proposal: dict[str, Any]) -> list[int]:
        n = self.length
        return sorted({int(i) for i in proposal["value"] if 0 <= int(i) < n})

    # -- messages and display ---------------------------------------------------------------------
    def handle_message(self, content: dict[str, Any]) -> list[protocol.Message] | None:
        """Replies to a request of a subclass's own types (None: not one of them); the query widget
        answers ``run`` here, a subclass passes other types on to this one. Here: ``{"type": "tag",
        "id", "tag", "tensor"}`` -> ``{"type": "tagged", "id", "count", "tensor"}`` and ``{"type":
        "save_view", "id", "message"}`` -> ``{"type": "saved", "id", "address"}``. Exceptions
        become an ``error`` reply."""
        kind, rid = content.get("type"), content.get("id")
        if kind == "tag":
            tensor = content.get("tensor") or curate.DEFAULT_TAG_TENSOR
            count = self.tag_selection(content.get("tag", ""), tensor)  # curate.tag checks it
            return [({"type": "tagged", "id": rid, "count": count, "tensor": tensor}, [])]
        if kind == "save_view":
            return [({"type": "saved", "id": rid, "address": self.save_selection(content.get("message"))}, [])]
        return None

    def _on_msg(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        try:
            replies: Iterable[tuple[dict[str, Any], list[bytes]]] | None
            if protocol.is_request(content):
                replies = protocol.handle(self._source, content)
            else:
                replies = self.handle_message(content)
                if replies is None:
                    return  # e.g. anywidget's own command messages
            for reply, buffers in replies:
                self.send(reply, buffers)
        except Exception as exc:  # a bug must not leave the browser waiting forever
            self.log.exception("deeplake_nb widget request failed")
            self.send({"type": "error", "id": content.get("id"), "message": f"{type(exc).__name__}: {exc}"})

    def _summary_parts(self) -> tuple[str, str]:
        return (summary.summary_text(self._source, self.summary_title),
                summary.summary_html(self._source, self.summary_title, self.image_tensor))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(path={self.title!r}, samples={self.length}, image_tensor={self.image_tensor!r}, "
                f"page={self.page + 1}/{self.num_pages}, selected={len(self.selected_indices)})")
