"""``data_in`` as a transform's workers read it.

A list or any sequence is read as it is (a process worker gets a copy of its share). A deeplake_nb
``Dataset`` (or group, or view of one) is read by each worker thread through a reader of its own
(``ThreadReaders``: one ``DatasetState`` per thread over the same store, so threads never share
tensor stores or chunk caches), and by each worker process through a ``DatasetRef`` that it opens
read-only at the same version.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import internal
from ..core.dataset import Dataset, DatasetState
from ..errors import TransformArgumentError
from ..storage import is_memory
from ..storage.remote import options_of


def check_data_in(data_in: Any) -> None:
    if not (hasattr(data_in, "__getitem__") and hasattr(data_in, "__len__")):
        raise TransformArgumentError(f"data_in must support len() and indexing (a list, a dataset or a view of one); "
                                     f"got {type(data_in).__name__}. Wrap an iterator in list(...).")


def prepare_reads(data_in: Any, publish: bool) -> None:
    """Write ``data_in``'s buffered appends to its store so that other readers of the store see
    them; ``publish`` also makes them the branch's published state (a reopen sees them)."""
    if isinstance(data_in, Dataset) and not data_in.read_only:
        internal.flush(data_in, publish=publish)


def reader(ds: Dataset) -> Dataset:
    """The same selection of ``ds`` read through a ``DatasetState`` of its own on the same store."""
    state = internal.state(ds)
    own = DatasetState(state.path, state.zarr_store, copy.deepcopy(state.meta))
    return internal.over(own, *internal.selection(ds))


class ThreadReaders:
    """``data_in[i]`` for worker threads: each thread indexes a ``reader`` of its own."""

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, i: int) -> Any:
        own = getattr(self._local, "ds", None)
        if own is None:
            own = self._local.ds = reader(self._ds)
        return own[i]


@dataclass(frozen=True)
class DatasetRef:
    """A picklable stand-in for a dataset selection: worker processes open it read-only, with
    the storage options (credentials, endpoint) it was opened with."""

    url: str
    version: str
    group: str
    rows: tuple[int, ...] | None
    columns: tuple[str, ...] | None
    storage_options: dict[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, ds: Dataset) -> DatasetRef:
        if is_memory(ds.path):
            raise TransformArgumentError(f"data_in lives in memory ({ds.path}), which worker processes cannot open; "
                                         "use scheduler='threaded' (or 'serial'), or store it on disk.")
        store = internal.versioned_store(ds)
        version = store.branch if store.branch is not None else store.head
        shown = internal.selection(ds)
        rows = None if shown.rows is None else tuple(int(r) for r in shown.rows)
        columns = None if shown.columns is None else tuple(sorted(shown.columns))
        return cls(ds.path, version, shown.group, rows, columns, options_of(store.repository.store))

    def __getitem__(self, i: int) -> Any:
        return _opened(self)[i]


_OPENED: dict[DatasetRef, Dataset] = {}  # per worker process


def _opened(ref: DatasetRef) -> Dataset:
    view = _OPENED.get(ref)
    if view is None:
        from ..core.api import load

        ds = load(ref.url, read_only=True, version=ref.version, storage_options=ref.storage_options)
        rows = None if ref.rows is None else np.asarray(ref.rows, np.int64)
        columns = None if ref.columns is None else frozenset(ref.columns)
        view = _OPENED[ref] = internal.over(internal.state(ds), ref.group, rows, False, columns)
    return view

