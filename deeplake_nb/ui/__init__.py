"""The Python side of the notebook widgets (anywidget); the browser side is ``widgets/``.

``install(Dataset)`` attaches ``Dataset.visualize``. Importing this package imports neither
anywidget nor ipywidgets: ``visualize`` imports them when called.

Modules: ``source`` (pages and samples read for the browser), ``thumbnails`` (pictures and mask
label maps), ``overlays`` (tensor roles, box geometry), ``values`` (bounded JSON values for the
detail panel), ``protocol`` (requests and replies over custom messages), ``summary`` (the text/HTML
fallback), ``assets`` (finding ``widgets/``), ``grid`` (``SampleGridWidget``, the Python side shared
by widgets that show samples), ``browser`` (``DatasetBrowser``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import WidgetDependencyError

if TYPE_CHECKING:
    from .browser import DatasetBrowser

_WIDGET_PACKAGES = {"anywidget", "ipywidgets", "traitlets", "comm", "IPython"}


def visualize(self: Any, width: int | str | None = None, height: int | str | None = None, *,
              image_tensor: str | None = None, overlays: list[str] | None = None, page_size: int = 48,
              thumb_size: int = 160) -> DatasetBrowser:
    """A widget that pages through this dataset (or view) as a grid of thumbnails.

    - ``image_tensor``: the tensor shown as pictures (default: the first image tensor);
    - ``overlays``: tensors drawn over them — class labels, boxes, masks, text (default: all);
    - ``page_size``: samples per page; ``thumb_size``: longer side of a thumbnail in pixels;
    - ``width``/``height``: of the grid area, in pixels (int) or any CSS size (str).

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
                          thumb_size=thumb_size, width=width, height=height)


def install(dataset_cls: type) -> None:
    """Attach ``visualize`` to a dataset class (``Dataset``; later also query views)."""
    dataset_cls.visualize = visualize


def __getattr__(name: str) -> Any:
    if name == "DatasetBrowser":
        from .browser import DatasetBrowser
        return DatasetBrowser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DatasetBrowser", "install", "visualize"]
