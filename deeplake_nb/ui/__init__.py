"""The Python side of the notebook widgets (anywidget); the browser side is ``widgets/``.

``install(Dataset)`` attaches ``Dataset.visualize`` and ``Dataset.commit_graph``; ``QueryWidget``
(``dl.ui.QueryWidget(ds)``) is the TQL editor. Importing this package imports neither anywidget nor
ipywidgets: they load when a widget is first made.

Modules: ``source`` (pages and samples read for the browser), ``thumbnails`` (pictures and mask
label maps), ``overlays`` (tensor roles, box geometry), ``classes`` (class names of boxes and
masks, one colour per class), ``values`` (bounded JSON values for the
detail panel), ``protocol`` (requests and replies over custom messages), ``summary`` (the text/HTML
fallback), ``assets`` (finding ``widgets/``), ``grid`` (``SampleGridWidget``, the Python side shared
by widgets that show samples), ``browser`` (``DatasetBrowser``), ``query_widget`` (``QueryWidget``),
``commit_graph`` (``CommitGraphWidget``), ``facets`` (the query widget's filter panel and chart counts),
``curate`` (find similar, tag, save as a view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import WidgetDependencyError

if TYPE_CHECKING:
    from .browser import DatasetBrowser
    from .commit_graph import CommitGraphWidget

_WIDGET_PACKAGES = {"anywidget", "ipywidgets", "traitlets", "comm", "IPython"}


def visualize(self: Any, width: int | str | None = None, height: int | str | None = None, *,
              image_tensor: str | None = None, overlays: list[str] | None = None, page_size: int = 48,
              thumb_size: int = 160, labels: dict[str, str] | None = None,
              poll_seconds: float = 3.0) -> DatasetBrowser:
    """A widget that pages through this dataset (or view) as a grid of thumbnails.

    - ``image_tensor``: the tensor shown as pictures (default: the first image tensor);
    - ``overlays``: tensors drawn over them — class labels, boxes, masks, text (default: all);
    - ``labels``: which class_label tensor names the objects of a box or binary-mask tensor, e.g.
      ``{"boxes": "categories"}`` (default: the class_label tensor in the same group, preferring
      one named ``labels``/``categories``); each box and mask is drawn with its class name, and
      a class has one colour everywhere;
    - ``page_size``: samples per page; ``thumb_size``: longer side of a thumbnail in pixels;
    - ``width``/``height``: of the grid area, in pixels (int) or any CSS size (str); the grid
      scrolls inside its height (default 640 px; ``height="none"``: no limit);
    - ``poll_seconds``: while displayed, how often the browser asks whether the dataset changed
      (appends, commits, a checkout: the grid, its length and ``branch@commit`` then follow; 0 =
      never); ``widget.refresh()`` re-reads it from Python.

    Display it (last expression of a cell); ``widget.selected_indices`` follows the selection made
    in the browser. Without a widget front end the widget shows a text/HTML summary instead.
    """
    try:
        from .browser import DatasetBrowser
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _WIDGET_PACKAGES:
            raise
        raise WidgetDependencyError(f"ds.visualize() needs the notebook extras ({exc}); install them with "
                                    "pip install 'deeplake_nb[notebook]'.") from exc
    return DatasetBrowser(self, image_tensor=image_tensor, overlays=overlays, page_size=page_size,
                          thumb_size=thumb_size, width=width, height=height, labels=labels,
                          poll_seconds=poll_seconds)


def _commit_graph(self: Any, *, max_commits: int = 300, poll_seconds: float = 3.0,
                 height: int | str | None = None) -> CommitGraphWidget:
    """A widget that draws this dataset's commit graph: branches in lanes, merges, tags, HEAD and
    uncommitted changes. Click a commit for its message, author, time and diff against its parent;
    the buttons check it out, create a branch there, or diff two selected commits (Ctrl-click the
    second) — on this dataset, in the kernel.

    - ``max_commits``: the newest commits drawn; ``height``: of the graph area (px or CSS size);
    - ``poll_seconds``: while displayed, how often the browser asks whether the history changed (a
      commit or checkout made in another cell then shows without re-running this one; 0 = never);
      ``widget.refresh()`` re-reads it from Python.
    """
    module = _load("commit_graph", "ds.commit_graph()")
    return module.CommitGraphWidget(self, max_commits=max_commits, poll_seconds=poll_seconds, height=height)


_commit_graph.__name__ = _commit_graph.__qualname__ = "commit_graph"  # the module of that name is the widget's


def _load(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _WIDGET_PACKAGES:
            raise
        raise WidgetDependencyError(f"{what} needs the notebook extras ({exc}); install them with "
                                    "pip install 'deeplake_nb[notebook]'.") from exc


def install(dataset_cls: type) -> None:
    """Attach ``visualize`` and ``commit_graph`` to a dataset class (``Dataset``)."""
    dataset_cls.visualize = visualize
    dataset_cls.commit_graph = _commit_graph


_LAZY = {"DatasetBrowser": ("browser", "DatasetBrowser"), "QueryWidget": ("query_widget", "dl.ui.QueryWidget"),
         "CommitGraphWidget": ("commit_graph", "ds.commit_graph()")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, what = _LAZY[name]
        return getattr(_load(module, what), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CommitGraphWidget", "DatasetBrowser", "QueryWidget", "install", "visualize"]
