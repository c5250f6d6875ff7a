"""Copying datasets: one version's samples into a new dataset (``dl.copy``, materialised views),
or every stored object with the whole history (``dl.deepcopy``).

Samples move as their stored encodings (JPEG bytes, raw arrays, UTF-8): nothing is decoded or
re-encoded, and the hidden sample ids go along, so a copy diffs and merges like its source.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..errors import TensorNotFoundError
from ..format.meta import TensorMeta
from ..storage import ByteStore, open_store
from . import creds as _creds

if TYPE_CHECKING:
    from .dataset import Dataset

COPY_BATCH = 1024  # rows per read/append step


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="batch", disable=not enabled or not total)


def create_tensor_like(dest: Dataset, name: str, meta: TensorMeta, keep_ndim: bool = False) -> str:
    """Create tensor ``name`` in ``dest`` with ``meta``'s htype, dtype, compressions, flags and
    info (copied), and no samples; returns its key. The layout is chosen again by the first
    write; ``keep_ndim`` keeps the number of dimensions too (for samples copied next)."""
    dest.create_tensor(name)  # checks the name and makes the groups; its meta is replaced below
    key = dest[name].key
    state = dest._state
    fresh = replace(_copy.deepcopy(meta), layout=None, items_layout=None)
    state.meta.tensors[key] = fresh if keep_ndim else replace(fresh, ndim=None)
    state.drop_store(key)
    state.save_meta()
    return key


def copy_tensor(source: Dataset, src_key: str, dest: Dataset, name: str, rows: np.ndarray,
                ids: np.ndarray | None = None, on_batch: Callable[[], None] = lambda: None) -> None:
    """Create tensor ``name`` in ``dest`` like ``source``'s tensor ``src_key`` (a full key) and
    append its samples at ``rows`` as stored, with ``ids`` (default: the source's hidden ids).
    ``on_batch`` is called after each batch of ``COPY_BATCH`` rows (progress bars)."""
    src_state, state = source._state, dest._state
    key = create_tensor_like(dest, name, src_state.meta.tensors[src_key], keep_ndim=True)
    if src_state.meta.tensors[src_key].link:  # stored links name their creds keys by number
        _creds.carry(src_state, state)
    src_store = src_state.tensor_store(src_key)
    if src_store.has_pending:
        src_store.flush()
    target = state.tensor_store(key)
    for start in range(0, len(rows), COPY_BATCH):
        part = rows[start:start + COPY_BATCH]
        batch_ids = src_store.sample_ids(part) if ids is None else ids[start:start + COPY_BATCH]
        if target.append(src_store.take(part), batch_ids):
            target.flush()
        on_batch()


def copy_tensors(source: Dataset, dest: Dataset, tensors: Sequence[str] | None = None,
                 progressbar: bool = True) -> None:
    """Append the selected rows of ``source``'s tensors (all visible ones, or ``tensors``, names
    relative to ``source``; a group name stands for every tensor in it) to new tensors of the
    same names, htypes and metadata in ``dest``, with their hidden ids. ``dest`` must not have
    those tensors yet; writes inside one batch."""
    names = tensors_to_copy(source, tensors)
    rows = np.arange(len(source), dtype=np.int64) if source.index is None else np.asarray(source.index)
    batches = len(range(0, len(rows), COPY_BATCH))
    with _progress(len(names) * batches, f"copying -> {dest.path}", progressbar) as bar, dest:
        for name in names:
            copy_tensor(source, source[name].key, dest, name, rows, on_batch=lambda: bar.update(1))


def tensors_to_copy(source: Dataset, names: Sequence[str] | None) -> list[str]:
    """The tensors of ``source`` that ``names`` select (all when None; a group name stands for
    every tensor in it), in dataset order; TensorNotFoundError for a name that matches none."""
    return pick_names(list(source.tensors), names, "copy")


def pick_names(available: list[str], names: Sequence[str] | None, purpose: str) -> list[str]:
    """The names of ``available`` that ``names`` select (all when None; a group name stands for
    every name under it), in their order; TensorNotFoundError, saying ``purpose``, for a name
    that matches none."""
    if names is None:
        return available
    chosen = [t for t in available if any(t == n or t.startswith(n.rstrip("/") + "/") for n in names)]
    missing = [n for n in names if not any(t == n or t.startswith(n.rstrip("/") + "/") for t in available)]
    if missing:
        raise TensorNotFoundError(f"No tensors or groups {missing} to {purpose}; tensors: {available}.")
    return chosen


def move_objects(src_url: str, dest_url: str, options: dict[str, Any] | None = None, progressbar: bool = True) -> None:
    """Move every stored object from ``src_url`` to ``dest_url`` (an empty location of the same
    kind, in the same folder or bucket). A local folder is renamed (one atomic step) and an
    in-memory dataset changes its name; on an object store, which cannot rename, the objects are
    copied (:func:`copy_objects`: the refs last, so an interrupted copy is not a dataset, and it is
    removed again when the copy fails), then deleted at the source, the refs first, so an
    interrupted deletion leaves no half dataset there."""
    from tqdm.auto import tqdm

    from ..storage import delete_location, is_remote, rename_location

    if not is_remote(src_url):
        rename_location(src_url, dest_url)
        return
    try:
        copy_objects(src_url, dest_url, options, options, progressbar)
    except BaseException:
        delete_location(dest_url, options)
        raise
    src = ByteStore(open_store(src_url, storage_options=options))
    keys = sorted(src.list_prefix(""), key=lambda key: (not key.startswith("refs/"), key))
    for key in tqdm(keys, desc=f"removing {src_url}", unit="object", disable=not progressbar):
        src.delete(key)


def copy_objects(src_url: str, dest_url: str, src_options: dict[str, Any] | None = None,
                 dest_options: dict[str, Any] | None = None, progressbar: bool = True) -> int:
    """Copy every stored object (all versions, branches, tags and saved views) from one location to
    another; the version-control refs are copied last, so an interrupted copy is not a dataset.
    Returns the number of objects copied."""
    src = ByteStore(open_store(src_url, read_only=True, storage_options=src_options))
    dest = ByteStore(open_store(dest_url, storage_options=dest_options))
    keys = sorted(src.list_prefix(""), key=lambda k: (k.startswith("refs/"), k))
    from tqdm.auto import tqdm
    for key in tqdm(keys, desc=f"deep copy -> {dest_url}", unit="object", disable=not progressbar):
        data = src.get(key)
        if data is not None:
            dest.set(key, data)
    return len(keys)
