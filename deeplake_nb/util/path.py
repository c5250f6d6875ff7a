"""Deep Lake v3's import path ``deeplake.util.path``: dataset path helpers."""

from __future__ import annotations

import os
import pathlib
import re
from typing import Any

from ..errors import StorageError

_REMOTE = ("hub://", "http://", "https://", "gcs://", "gcp://", "gs://", "s3://", "gdrive://", "az://", "azure://")
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9_-]*$")
_LOCAL_NAME = re.compile(r"^[A-Za-z0-9_ .-]*$")


def convert_string_to_pathlib_if_needed(path: Any, convert_to_pathlib: bool = False) -> Any:
    """``pathlib.Path(path)`` when ``convert_to_pathlib`` and ``path`` is not a URL (has no "//");
    else ``path`` unchanged."""
    if convert_to_pathlib and "//" not in os.fspath(path):
        return pathlib.Path(path)
    return path


def convert_pathlib_to_string_if_needed(path: Any) -> Any:
    """``str(path)`` for a ``pathlib.Path``; anything else unchanged."""
    return str(path) if isinstance(path, pathlib.PurePath) else path


def verify_dataset_name(path: str | os.PathLike[str]) -> None:
    """Raise StorageError (v3's InvalidDatasetNameException) unless the last part of ``path``
    is a valid dataset name: letters, digits, '_' and '-' for remote paths (s3://, hub:// ...),
    also spaces and '.' for local ones (and mem://)."""
    text = os.fspath(path)
    name = os.path.split(text)[-1]
    remote = text.startswith(_REMOTE)
    if remote and "/queries/" in text:
        return
    if not (_REMOTE_NAME if remote else _LOCAL_NAME).match(name):
        allowed = "letters, digits, '_' and '-'" + ("" if remote else ", spaces and '.'")
        raise StorageError(f"Invalid dataset name {name!r} in {text!r}: a {'remote' if remote else 'local'} "
                           f"dataset name may use {allowed} only; rename it.")
