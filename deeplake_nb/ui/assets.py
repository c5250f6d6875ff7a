"""Where the browser side of the widgets lives, from a checkout and from an installed wheel.

In a checkout the ES modules and CSS sit in ``widgets/`` next to the package; the wheel installs
that folder as ``deeplake_nb/_widgets`` (hatchling ``force-include``). The installed copy wins.
"""

from __future__ import annotations

import pathlib

from ..errors import WidgetError

_PACKAGE = pathlib.Path(__file__).resolve().parents[1]
_CANDIDATES = (_PACKAGE / "_widgets", _PACKAGE.parent / "widgets")
_MARKER = "grid.js"


def widgets_dir() -> pathlib.Path:
    """The folder holding ``grid.js``, ``dataset_browser.js`` ... (WidgetError if none is found)."""
    for folder in _CANDIDATES:
        if (folder / _MARKER).is_file():
            return folder
    raise WidgetError("The widget files (widgets/*.js) are missing from this installation; "
                      "reinstall deeplake_nb.")


def path(name: str) -> pathlib.Path:
    """The path of one widget file, e.g. ``path("dataset_browser.js")``."""
    found = widgets_dir() / name
    if not found.is_file():
        raise WidgetError(f"The widget file {name!r} is missing from {found.parent}; reinstall deeplake_nb.")
    return found


def text(*names: str) -> str:
    """The contents of widget files, concatenated in order (used for shared CSS and the shared module)."""
    return "\n".join(path(name).read_text(encoding="utf-8") for name in names)
