"""Deep Lake v3's import path ``deeplake.util.path``: dataset path helpers."""

from __future__ import annotations

import os
import pathlib
from typing import Any

from ..core.api import verify_dataset_name  # noqa: F401 - v3's name; the rule lives with dl.empty


def convert_string_to_pathlib_if_needed(path: Any, convert_to_pathlib: bool = False) -> Any:
    """``pathlib.Path(path)`` when ``convert_to_pathlib`` and ``path`` is not a URL (has no "//");
    else ``path`` unchanged."""
    if convert_to_pathlib and "//" not in os.fspath(path):
        return pathlib.Path(path)
    return path


def convert_pathlib_to_string_if_needed(path: Any) -> Any:
    """``str(path)`` for a ``pathlib.Path``; anything else unchanged."""
    return str(path) if isinstance(path, pathlib.PurePath) else path
