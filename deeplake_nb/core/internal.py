"""The internal interface of a dataset for the higher packages (query, loader, ui, ingest, gpu).

Those packages need more than the public API: the state every view of an open dataset shares,
its tensor stores and metadata, the repository under it, the prepare-then-commit write protocol,
and datasets made over a state showing a given selection. They reach them through these
functions, never through ``Dataset``'s private attributes, so ``core`` may change how a dataset
keeps them. Nothing here is public API: users call ``Dataset`` methods.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from ..format.meta import TensorMeta
from ..format.tensor_store import TensorStore
from ..storage.cache import CacheSettings
from ..version import Repository, VersionedStore
from .dataset import Dataset, DatasetState, open_state
from .tensor import Prepared, Tensor

__all__ = ["Selection", "check_writable", "commit", "flush", "open_version", "over", "prepare", "read_through",
           "repository", "selection", "state", "tensor_meta", "tensor_store", "versioned_store", "whole"]


class Selection(NamedTuple):
    """What a ``Dataset`` object shows of its dataset: the group (``""``: the root), the rows
    (None: all), whether one row was picked by an integer (``ds[3]``), and the tensor keys of a
    column view (None: all)."""

    group: str = ""
    rows: np.ndarray | None = None
    single: bool = False
    columns: frozenset[str] | None = None


def state(ds: Dataset) -> DatasetState:
    """The state shared by every view and group of ``ds``'s open dataset (meta, stores, write
    protocol, read-only mode). It is a stable identity of the open version: a key for caches."""
    return ds._state


def versioned_store(ds: Dataset) -> VersionedStore:
    """The zarr store showing ``ds``'s version, as it is now: unlike ``ds.zarr_store()``,
    buffered writes are not flushed first."""
    return ds._state.zarr_store


def repository(ds: Dataset) -> Repository:
    """The repository (branches, tags, commits, physical storage) under ``ds``."""
    return ds._state.zarr_store.repository


def tensor_store(ds: Dataset, key: str) -> TensorStore:
    """The store of the tensor ``key`` (its full key from the root, e.g. ``"g/images"``)."""
    return ds._state.tensor_store(key)


def tensor_meta(ds: Dataset, key: str) -> TensorMeta:
    """The metadata of the tensor ``key`` (its full key from the root). KeyError if none."""
    return ds._state.meta.tensors[key]


def selection(ds: Dataset) -> Selection:
    """What ``ds`` shows of its dataset (``over(other_state, *selection(ds))`` shows the same)."""
    return Selection(ds._group, ds._rows, ds._single, ds._columns)


def over(state: DatasetState, group: str = "", rows: np.ndarray | None = None, single: bool = False,
         columns: frozenset[str] | None = None) -> Dataset:
    """A ``Dataset`` over ``state`` showing ``group``, ``rows``, ``columns`` (see ``Selection``)."""
    return Dataset(state, group, rows, single, columns)


def whole(ds: Dataset, group: str = "") -> Dataset:
    """``ds``'s dataset itself (or its ``group``): every row and tensor, at the version ``ds`` shows."""
    return Dataset(ds._state, group)


def open_version(ds: Dataset, ref: str) -> Dataset:
    """``ds``'s dataset at version ``ref`` (a branch, tag or commit id), opened only to be read:
    read-only, and no write there makes a branch."""
    return ds._open_version(ref)


def read_through(ds: Dataset, cache: CacheSettings) -> Dataset:
    """What ``ds`` shows (its group, rows and columns), read-only, with its published objects read
    through the cache chain ``cache`` (``storage.cache``) whatever ``ds`` reads through: a view of
    the same open version (``VersionedStore.through``), so opening it reads nothing."""
    store = ds._state.zarr_store.through(cache)
    return Dataset(open_state(ds._state.path, store, frozen=True), ds._group, ds._rows, ds._single, ds._columns)


def check_writable(ds: Dataset) -> None:
    """Call before a write to ``ds``, before anything is read for it (``DatasetState.check_writable``:
    ReadOnlyError, or a branch made first on a checked-out commit)."""
    ds._state.check_writable()


def prepare(ds: Dataset, batches: Sequence[tuple[Tensor, list[Any]]], ignore_errors: bool = False,
            on_sample: Callable[[], None] | None = None) -> list[Prepared]:
    """Validate and encode values for several tensors of ``ds``'s dataset, writing nothing
    (``DatasetState.prepare_all``); ``commit`` writes them."""
    return ds._state.prepare_all(batches, ignore_errors=ignore_errors, on_sample=on_sample)


def commit(ds: Dataset, prepared: list[Prepared], ids: np.ndarray | None = None) -> None:
    """Append what ``prepare`` made (with hidden ``ids``, or fresh ones per tensor when None)."""
    ds._state.commit_prepared(prepared, ids)


def flush(ds: Dataset, publish: bool = True) -> None:
    """Write ``ds``'s dataset's buffered appends; ``publish`` also makes them the branch's
    published state (``DatasetState.flush``)."""
    ds._state.flush(publish=publish)
