"""Importing the optional packages an ingest needs (the extra ``ingest``; ``kaggle`` apart), only when it runs."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ..errors import IngestionDependencyError

PIP_NAMES = {"pycocotools": "pycocotools", "pandas": "pandas", "datasets": "datasets", "kaggle": "kaggle"}


def require(module: str, purpose: str) -> Any:
    """The imported ``module``; IngestionDependencyError naming the pip command when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise IngestionDependencyError(f"{purpose} needs {module}, which is not installed: pip install "
                                       f"{PIP_NAMES.get(module.split('.')[0], module)} (or pip install "
                                       "'deeplake_nb[ingest]').") from exc


def loaded(module: str) -> Any:
    """``module`` if something already imported it, else None (a value of its types cannot exist)."""
    return sys.modules.get(module)
