"""The Python side of the notebook widgets (anywidget); the browser side is ``widgets/``.

``install()`` provides ``Dataset.visualize`` and ``Dataset.commit_graph`` (declared in
``core.extensions``); ``QueryWidget``
(``dl.ui.QueryWidget(ds)``) is the TQL editor. Importing this package imports neither anywidget nor
ipywidgets: they load when a widget is first made.

Modules: ``source`` (pages and samples read for the browser), ``thumbnails`` (pictures and mask
label maps), ``overlays`` (tensor roles, box geometry), ``classes`` (class names of boxes and
masks, one colour per class), ``values`` (bounded JSON values for the
detail panel), ``protocol`` (requests and replies over custom messages), ``summary`` (the text/HTML
fallback), ``kernel_comm`` (widget comms that headless executors do not record), ``assets``
(finding ``widgets/``), ``grid`` (``SampleGridWidget``, the Python side shared by widgets that show
samples), ``browser`` (``DatasetBrowser``), ``query_widget`` (``QueryWidget``),
``commit_graph`` (``CommitGraphWidget``), ``facets`` (the query widget's filter panel and chart counts),
``curate`` (find similar, tag, save as a view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.extensions import provide
from ..errors import WidgetDependencyError

if TYPE_CHECKING:
    from .browser import DatasetBrowser
    from .commit_graph import CommitGraphWidget

_WIDGET_PACKAGES = {"anywidget", "ipywidgets", "traitlets", "comm", "IPython"}


def _visualize(ds: Any, **options: Any) -> DatasetBrowser:
    """``ds.visualize(...)`` (its options: ``core.extensions.Extensions.visualize``)."""
    return _load("browser", "ds.visualize()").DatasetBrowser(ds, **options)


def _commit_graph(ds: Any, **options: Any) -> CommitGraphWidget:
    """``ds.commit_graph(...)`` (its options: ``core.extensions.Extensions.commit_graph``)."""
    return _load("commit_graph", "ds.commit_graph()").CommitGraphWidget(ds, **options)


def _load(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _WIDGET_PACKAGES:
            raise
        raise WidgetDependencyError(f"{what} needs the notebook extras ({exc}); install them with "
                                    "pip install 'deeplake_nb[notebook]'.") from exc


def install() -> None:
    """Provide ``Dataset.visualize`` and ``Dataset.commit_graph`` (declared in ``core.extensions``)."""
    provide(visualize=_visualize, commit_graph=_commit_graph)


_LAZY = {"DatasetBrowser": ("browser", "DatasetBrowser"), "QueryWidget": ("query_widget", "dl.ui.QueryWidget"),
         "CommitGraphWidget": ("commit_graph", "ds.commit_graph()")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, what = _LAZY[name]
        return getattr(_load(module, what), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CommitGraphWidget", "DatasetBrowser", "QueryWidget", "install"]
