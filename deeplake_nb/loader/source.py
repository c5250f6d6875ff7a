"""``DatasetSource``: what a loader reads (a dataset, group or row view, and some of its tensors).

Contracts:
- ``rows`` maps loader positions ``0..len-1`` to dataset rows (the view's index, or all rows);
- every tensor named must exist (``"index"`` is not a tensor: the indices come with each batch)
  and hold samples (``EmptyTensorError`` otherwise, when the loader is made);
- in the process that made it, the source uses the caller's open ``Dataset``; forked worker
  processes inherit it; pickled copies (spawn/forkserver workers) reopen the dataset read-only
  from its URL, with the storage options (credentials, endpoint) it was opened with and the
  cache chain it is read through (``local_cache``), on first use. ``mem://``
  datasets therefore need fork or ``num_workers=0``; forked workers of a dataset on an object
  store read through this process's client (``storage.relay``: obstore does not survive fork);
- ``prefetch(ds, tensors)`` starts filling the dataset's cache chain with the tensors' objects.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import zarr

from ..core import internal
from ..errors import (DatasetNotFoundError, DeepLakeNBError, EmptyTensorError, LoaderError, LoaderOptionError,
                      TensorNotFoundError)
from ..format.meta import TensorMeta
from ..format.tensor_store import TensorStore
from ..storage.remote import options_of

if TYPE_CHECKING:
    from ..core.dataset import Dataset


class DatasetSource:
    def __init__(self, ds: Dataset, tensors: Sequence[str] | None) -> None:
        names = list(tensors) if tensors is not None else list(ds.tensors)
        if not names:
            raise LoaderError(f"{ds!r} has no tensors to load.")
        self.names: tuple[str, ...] = tuple(names)
        self.keys: dict[str, str] = {name: tensor_key(ds, name) for name in names}
        empty = [name for name in names if not len(internal.tensor_store(ds, self.keys[name]))]
        if empty:
            rest = [name for name in names if name not in empty]
            raise EmptyTensorError(f"Tensors {empty} have no samples, so there is nothing to load; fill them, "
                                   f"or leave them out: tensors={rest}.")
        self.url = ds.path
        repository = ds.zarr_store().repository
        self.storage_options = options_of(repository.store)
        self.cache = repository.cache
        self.group = ds.group_index
        self.version = _version_of(ds)
        length = min(len(ds[name]) for name in names) if ds.index is None else len(ds)
        self.rows: np.ndarray = (np.arange(length, dtype=np.int64) if ds.index is None
                                 else np.asarray(ds.index, np.int64))
        self._ds: Dataset | None = ds

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    @property
    def dataset(self) -> Dataset:
        if self._ds is None:
            from ..core.api import load

            try:
                options: dict[str, Any] = {"version": self.version} if self.version else {}
                ds = load(self.url, read_only=True, storage_options=self.storage_options, **options)
            except DatasetNotFoundError as exc:
                raise LoaderError(f"A loader worker could not reopen {self.url!r} ({exc}). In-memory datasets "
                                  "can only be read by forked workers: use num_workers=0, the 'fork' start "
                                  "method, or a dataset on disk.") from exc
            self._ds = ds if self.cache is None else internal.read_through(ds, self.cache)
        return self._ds

    def flush(self) -> None:
        """Make pending appends visible to worker processes (they read storage, not buffers)."""
        if self._ds is not None and not self._ds.read_only:
            self._ds.flush()

    def meta(self, name: str) -> TensorMeta:
        return internal.tensor_meta(self.dataset, self.keys[name])

    def store(self, name: str) -> TensorStore:
        return internal.tensor_store(self.dataset, self.keys[name])


FIRST_READ = ("index", "shape")
"""The arrays of a stored tensor that a loader reads before its samples' bytes (see ``prefetch``)."""


PREFETCH_MIN_SHARE = 0.5
"""A view is prefetched only when its rows lie in at least this share of each tensor's chunks."""


def prefetch(ds: Dataset, tensors: Sequence[str] | None) -> threading.Thread | None:
    """Start filling ``ds``'s cache chain with the objects of ``tensors`` (all when None), in the
    background (``VersionedStore.prefetch``: only on an object store, with a cache), so that a
    loader's first epoch finds its chunks arriving while it starts (a loader calls this before it
    imports torch); the thread that fills it, or None. Every object of the tensors is fetched, so
    a view whose rows lie in fewer than :data:`PREFETCH_MIN_SHARE` of a tensor's chunks (about:
    ``fetch.rows_per_chunk``) is not prefetched (``ds[:100]`` of a large dataset): its reads fill
    the cache with the chunks they touch. Names that are not tensors are left to the loader to
    report."""
    try:
        names = list(tensors) if tensors is not None else list(ds.tensors)
        keys = [tensor_key(ds, name) for name in names if name != "index"]
        if ds.index is not None and not _touches_most_chunks(ds, keys, np.asarray(ds.index, np.int64)):
            return None
        sizes = {key: stored_nbytes(ds, key) for key in keys}
    except DeepLakeNBError:  # (a store that cannot be read: the loader's reads say so)
        return None
    # what every batch's first reads need first (row index, shapes), then the tensors smallest
    # first: a batch needs a row of each, and the small ones arrive in a round trip or two
    return ds.zarr_store().prefetch([f"{key}/{part}/" for key in keys for part in FIRST_READ]
                                    + [key + "/" for key in sorted(keys, key=sizes.__getitem__)], sum(sizes.values()))


def stored_nbytes(ds: Dataset, key: str) -> int:
    """At most the bytes the arrays of tensor ``key`` hold, uncompressed (from their zarr
    metadata: nothing is read)."""
    group = internal.tensor_store(ds, key).group
    return sum(member.nbytes for _, member in group.members(max_depth=None) if isinstance(member, zarr.Array))


def _touches_most_chunks(ds: Dataset, keys: Sequence[str], rows: np.ndarray) -> bool:
    """Whether ``rows`` lie in at least :data:`PREFETCH_MIN_SHARE` of the chunks of each tensor
    of ``keys`` (estimated from its rows per chunk)."""
    from .fetch import rows_per_chunk

    for key in keys:
        store = internal.tensor_store(ds, key)
        per = rows_per_chunk(store)
        chunks = -(-len(store) // per)
        if len(np.unique(rows // per)) < PREFETCH_MIN_SHARE * chunks:
            return False
    return True


def tensor_key(ds: Dataset, name: str) -> str:
    """The key of tensor ``name`` of ``ds``; ``TensorNotFoundError`` when there is none by that name,
    ``LoaderOptionError`` for ``"index"`` (not a tensor there) and ``LoaderError`` for a group."""
    from ..core.tensor import Tensor

    try:
        item = ds[name]
    except TensorNotFoundError:
        if name == "index":
            raise LoaderOptionError("'index' is not a tensor: every batch has the sample indices under \"index\" "
                                    "(return_index=True, the default); leave it out of tensors=[...].") from None
        raise TensorNotFoundError(f"No tensor {name!r} to load; tensors: {sorted(ds.tensors)}.") from None
    if not isinstance(item, Tensor):
        raise LoaderError(f"{name!r} is a group, not a tensor; name its tensors, e.g. {name!r}/...")
    return item.key


def _version_of(ds: Dataset) -> str | None:
    """What ``load(version=...)`` needs to see the same data as ``ds``."""
    try:
        branch = ds.branch
        return branch if branch is not None and ds.has_head_changes else ds.commit_id
    except (AttributeError, DeepLakeNBError):  # a dataset without version control
        return None
