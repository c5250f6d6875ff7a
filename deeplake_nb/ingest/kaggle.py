"""``dl.ingest_kaggle``: download a Kaggle dataset (with the ``kaggle`` package) into a folder, then
``ingest_classification`` it, as Deep Lake v3 does."""

from __future__ import annotations

import os
from typing import Any

from ..core.dataset import Dataset
from ..errors import IngestionDependencyError, IngestionError
from . import extras
from .classification import ingest_classification


def ingest_kaggle(tag: str, src: str | os.PathLike[str], dest: Any, exist_ok: bool = False,
                  images_compression: str = "auto", dest_creds: Any = None,
                  kaggle_credentials: dict[str, str] | None = None, progressbar: bool = True,
                  summary: bool = True, shuffle: bool = True, **dataset_kwargs: Any) -> Dataset:
    """Download Kaggle dataset ``tag`` (``"owner/name"``) into folder ``src`` and ingest it as an
    ImageFolder tree into ``dest``. A non-empty ``src`` is an error unless ``exist_ok=True``, which
    ingests what is there without downloading. ``kaggle_credentials``: ``{"username", "key"}``
    (else the ``kaggle`` package's own: ``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME`` /
    ``KAGGLE_KEY``). ``images_compression`` ``"auto"``: the images' most common format."""
    folder = os.fspath(src)
    if isinstance(dest, (str, os.PathLike)) and os.path.isdir(folder) and os.path.isdir(dest) \
            and os.path.samefile(folder, dest):
        raise IngestionError(f"dest {os.fspath(dest)!r} is the download folder itself; write the dataset elsewhere.")
    if os.path.isdir(folder) and os.listdir(folder):
        if not exist_ok:
            raise IngestionError(f"{folder!r} is not empty (already downloaded?); pass exist_ok=True to ingest "
                                 "what is there, or pick an empty folder.")
    else:
        _download(tag, folder, kaggle_credentials)
    return ingest_classification(folder, dest, image_params={"sample_compression": images_compression},
                                 dest_creds=dest_creds,
                                 progressbar=progressbar, summary=summary, shuffle=shuffle, **dataset_kwargs)


def _download(tag: str, folder: str, credentials: dict[str, str] | None) -> None:
    if credentials:
        os.environ["KAGGLE_USERNAME"] = credentials["username"]
        os.environ["KAGGLE_KEY"] = credentials["key"]
    try:
        kaggle = extras.require("kaggle", "Downloading a Kaggle dataset")  # authenticates on import
        os.makedirs(folder, exist_ok=True)
        kaggle.api.dataset_download_files(tag, path=folder, unzip=True, quiet=True)
    except IngestionDependencyError:
        raise
    except Exception as exc:
        raise IngestionError(f"Could not download Kaggle dataset {tag!r} into {folder!r}: {exc}. Check the tag and "
                             "your Kaggle credentials.") from exc
