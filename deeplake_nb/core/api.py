"""Opening and creating datasets: ``empty``, ``load``, ``dataset``, ``exists``, ``delete``, ``read``, ``link``."""

from __future__ import annotations

import os
from typing import Any

import zarr

from ..errors import DatasetExistsError, DatasetNotFoundError
from ..format.meta import ATTR_KEY, DatasetMeta
from ..format.sample import LinkedSample, Sample
from ..storage import delete_location, normalize, open_store
from .dataset import Dataset, DatasetState, open_state

PathLike = str | os.PathLike[str]


def exists(path: PathLike, storage_options: dict[str, Any] | None = None) -> bool:
    """True when ``path`` holds a deeplake_nb dataset."""
    url = normalize(path)
    if not url.startswith(("mem://", "s3://")) and not os.path.exists(os.path.join(url, "zarr.json")):
        return False
    try:
        open_state(url, open_store(url, read_only=True, storage_options=storage_options), True)
    except DatasetNotFoundError:
        return False
    return True


def _is_empty_location(url: str) -> bool:
    if url.startswith(("mem://", "s3://")):
        from ..storage import ByteStore
        return not ByteStore(open_store(url, read_only=True)).list_prefix("")
    return not os.path.exists(url) or (os.path.isdir(url) and not os.listdir(url))


def empty(path: PathLike, overwrite: bool = False, storage_options: dict[str, Any] | None = None) -> Dataset:
    """Create a new, empty dataset. An existing dataset is replaced only with ``overwrite=True``;
    a non-empty location that is not a dataset is never deleted."""
    url = normalize(path)
    if exists(url, storage_options):
        if not overwrite:
            raise DatasetExistsError(f"A dataset already exists at {url!r}; load it with dl.load(path) or pass "
                                     "overwrite=True to replace it.")
        delete_location(url)
    elif not _is_empty_location(url):
        raise DatasetExistsError(f"{url!r} is not empty and is not a deeplake_nb dataset; pick an empty "
                                 "or new location.")
    store = open_store(url, storage_options=storage_options)
    meta = DatasetMeta()
    zarr.open_group(store=store, mode="w", attributes={ATTR_KEY: meta.to_json()})
    return Dataset(DatasetState(url, store, meta, read_only=False))


def load(path: PathLike, read_only: bool = False, storage_options: dict[str, Any] | None = None) -> Dataset:
    """Open an existing dataset; DatasetNotFoundError if ``path`` holds none."""
    url = normalize(path)
    if not url.startswith(("mem://", "s3://")) and not os.path.isdir(url):
        raise DatasetNotFoundError(f"No dataset at {url!r} (no such directory); create one with dl.empty(path).")
    store = open_store(url, read_only=read_only, storage_options=storage_options)
    return Dataset(open_state(url, store, read_only))


def dataset(path: PathLike, read_only: bool = False, overwrite: bool = False,
            storage_options: dict[str, Any] | None = None) -> Dataset:
    """Open the dataset at ``path``, creating an empty one when there is none."""
    if not overwrite and exists(path, storage_options):
        return load(path, read_only=read_only, storage_options=storage_options)
    return empty(path, overwrite=overwrite, storage_options=storage_options)


def delete(path: PathLike) -> None:
    """Delete the dataset at ``path`` (refuses locations that are not datasets)."""
    url = normalize(path)
    if not exists(url):
        raise DatasetNotFoundError(f"No dataset at {url!r} to delete.")
    delete_location(url)


def read(path: PathLike, verify: bool = False) -> Sample:
    """A media file to append as is: stored byte-identical when its format matches the tensor's
    sample compression. ``verify=True`` decodes it once now to catch corruption early."""
    return Sample(path, verify=verify)


def link(url: PathLike) -> LinkedSample:
    """A reference to a file outside the dataset, for ``link[...]`` tensors."""
    return LinkedSample(url)
