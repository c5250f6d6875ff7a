"""Saved views: ``view.save_view(id=...)``, ``ds.get_views()``, ``ds.load_view(id)``, ``ds.delete_view(id)``.

A saved view is a small JSON record kept in the dataset's physical store *outside* the versioned
history, so saving or deleting one never makes a commit:

    views/<id>.json       {"id", "message", "query", "commit", "group", "length", "optimized",
                           "columns": {name: tensor key}, "rows": [...] | null, "offsets": ...}
    views/<id>.rows       sample indices as raw little-endian uint32/uint64 (when there are many)
    views/<id>.offsets    group offsets, the same way (grouped views with many groups)

A view is bound to the commit it was computed at: ``save_view`` needs a clean HEAD (commit
first) and ``load_view`` opens the dataset read-only at that commit, so later changes to the
branch do not change what a saved view holds.

``optimize=True`` also materialises the view: a separate dataset at ``<dataset path>/views/<id>``
(a sub-folder for local paths, a sub-prefix for s3://, its own ``mem://`` name for memory
datasets) holding the view's columns as tensors (same htype, compression, class names), samples
copied in view order with their stored payloads as is. It is a plain dataset beside the history
(not a branch: a branch would put view data into the source's commit graph and into ``diff``
and ``merge``). ``load_view`` then returns that copy's full view. The record is written last,
so a crash mid-copy leaves no record (and the next save of that id overwrites the copy).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import numpy as np

from ..errors import ReadOnlyError, ViewError
from ..version import gc as version_gc
from . import nodes as n
from .execute import tensor_columns

PREFIX = "views"
_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
INLINE_ROWS = 4096  # more indices than this go to a separate binary object
COPY_BATCH = 256    # rows per read/write batch when materialising


def _check_id(view_id: Any) -> str:
    if not isinstance(view_id, str) or not view_id:
        raise ViewError("A view id must be a non-empty string, e.g. save_view(id='cats').")
    if view_id in (".", "..") or not _ID.match(view_id):
        raise ViewError(f"Invalid view id {view_id!r}: use 1-128 letters, digits, '_', '-' or '.', "
                        "and not '.' or '..' (no '/').")
    return view_id


def _record_key(view_id: str) -> str:
    return f"{PREFIX}/{view_id}.json"


def _copy_path(path: str, view_id: str) -> str:
    return f"{path.rstrip('/')}/{PREFIX}/{view_id}"


def _root(ds: Any) -> Any:
    """The whole dataset (no group, no rows) behind ``ds``."""
    return type(ds)(ds._state)


def _physical(ds: Any) -> Any:
    return ds._repo.physical


# -- encoding indices -------------------------------------------------------------------------------
def _pack(store: Any, view_id: str, name: str, values: np.ndarray | None) -> Any:
    if values is None:
        return None
    values = np.asarray(values, np.int64)
    if len(values) <= INLINE_ROWS:
        return values.tolist()
    dtype = "<u4" if not len(values) or int(values.max()) < 2**32 else "<u8"
    store.set(f"{PREFIX}/{view_id}.{name}", values.astype(dtype).tobytes())
    return {"object": f"{PREFIX}/{view_id}.{name}", "dtype": dtype, "count": int(len(values))}


def _unpack(store: Any, packed: Any) -> np.ndarray | None:
    if packed is None:
        return None
    if isinstance(packed, list):
        return np.asarray(packed, np.int64)
    data = store.get(packed["object"])
    if data is None:
        raise ViewError(f"The saved view's index object {packed['object']!r} is missing; delete and re-save the view.")
    values = np.frombuffer(data, np.dtype(packed["dtype"])).astype(np.int64)
    if len(values) != packed["count"]:
        raise ViewError(f"The saved view's index object {packed['object']!r} is damaged; re-save the view.")
    return values


# -- records ------------------------------------------------------------------------------------------
def _read_record(ds: Any, view_id: str) -> dict[str, Any] | None:
    data = _physical(ds).get(_record_key(view_id))
    return None if data is None else json.loads(data)


def _ids(ds: Any) -> list[str]:
    try:
        names = _physical(ds).list_dir(PREFIX)
    except (FileNotFoundError, KeyError):
        return []
    return sorted(name[:-5] for name in names if name.endswith(".json") and _ID.match(name[:-5]))


def view_commits(store: Any) -> list[str]:
    """The commits saved views are bound to (gc roots: a saved view's commit is never collected)."""
    try:
        names = store.list_dir(PREFIX)
    except (FileNotFoundError, KeyError):
        return []
    keys = [f"{PREFIX}/{name}" for name in names if name.endswith(".json") and _ID.match(name[:-5])]
    out = []
    for data in store.get_many(keys):
        try:
            commit = json.loads(data)["commit"] if data is not None else None
        except (ValueError, KeyError, TypeError):  # a damaged record: its view cannot load anyway
            continue
        if isinstance(commit, str):
            out.append(commit)
    return out


version_gc.register_roots(view_commits)


def _unknown(ds: Any, view_id: str) -> ViewError:
    known = _ids(ds)
    listed = ", ".join(repr(k) for k in known) if known else "none saved"
    return ViewError(f"No saved view {view_id!r} in dataset {ds.path!r}; known views: {listed}.")


def _check_writable_store(ds: Any) -> None:
    if _physical(ds).read_only:
        raise ReadOnlyError(f"Dataset {ds.path!r} is open read-only; reopen it writable to save or delete views.")


def get_views(ds: Any) -> list[dict[str, Any]]:
    """The saved views of ``ds``: id, message, query, commit, length, optimized, time."""
    out = []
    for view_id in _ids(ds):
        record = _read_record(ds, view_id)
        if record is None:  # deleted meanwhile
            continue
        out.append({k: record.get(k) for k in ("id", "message", "query", "commit", "length", "optimized", "time")})
    return out


def save_view(view: Any, id: str | None = None, message: str | None = None, optimize: bool = False,  # noqa: A002
              progressbar: bool = True) -> str:
    """Save ``view`` under ``id`` (a fresh id when None); returns the id. See the module docstring."""
    if id is None:
        id = f"view-{time.strftime('%Y%m%d%H%M%S')}-{np.random.randint(1 << 30):08x}"  # noqa: A001
    view_id = _check_id(id)
    source = view.dataset
    root = _root(source)
    _check_writable_store(root)
    if root.branch is not None and root.has_head_changes:
        raise ViewError(f"Dataset {root.path!r} has uncommitted changes; a saved view is bound to a commit, so "
                        "commit first (ds.commit('...')), then run the query again and save it.")
    if view.commit_id is None or view.commit_id != root.commit_id:
        raise ViewError(f"This view was computed at {view.commit_id!r} but the dataset is now at "
                        f"{root.commit_id!r}; run the query again and save the new view.")
    store = _physical(root)
    if store.get(_record_key(view_id)) is not None:
        raise ViewError(f"A saved view {view_id!r} already exists; delete it first (ds.delete_view({view_id!r})) "
                        "or pick another id.")
    columns: dict[str, str] = {}
    computed = []
    for name, expr in view._columns.items():
        if isinstance(expr, n.TensorRef):
            columns[name] = expr.key
        else:
            computed.append(f"{name} = {expr.text}")
    if computed and not optimize:
        raise ViewError(f"The view has computed columns ({'; '.join(computed)}), which a saved view cannot "
                        "recompute; save it with optimize=True (stores their values) or select stored tensors only.")
    if optimize and view.is_grouped:
        raise ViewError("Grouped views (GROUP BY) cannot be saved with optimize=True yet; save with optimize=False.")
    if optimize:
        _materialise(view, _copy_path(root.path, view_id), progressbar)
    record = {
        "id": view_id, "message": message or "", "query": view.query_string, "commit": view.commit_id,
        "group": source._group, "length": len(view), "optimized": bool(optimize), "time": time.time(),
        "columns": columns,
        "rows": _pack(store, view_id, "rows", view.sample_indices),
        "offsets": _pack(store, view_id, "offsets", view._offsets),
    }
    if not store.put_if_absent(_record_key(view_id), json.dumps(record).encode()):
        raise ViewError(f"Another writer saved a view {view_id!r} at the same time; pick another id.")
    return view_id


def load_view(ds: Any, view_id: str) -> Any:
    """The saved view ``view_id``: a View bound to its commit (read-only), or, for optimized views,
    the full view of the materialised copy."""
    from ..core.api import load
    from .view import View
    root = _root(ds)
    record = _read_record(root, _check_id(view_id))
    if record is None:
        raise _unknown(root, view_id)
    if record.get("optimized"):
        copy = load(_copy_path(root.path, view_id), read_only=True)
        return View(copy, np.arange(len(copy), dtype=np.int64), None, tensor_columns(copy), copy.commit_id,
                    record.get("query"))
    at = root._open_version(record["commit"])
    group = record.get("group") or ""
    source = type(at)(at._state, group) if group else at
    meta = at._state.meta.tensors
    missing = [key for key in record["columns"].values() if key not in meta]
    if missing:
        raise ViewError(f"Saved view {view_id!r} names tensors {missing} that commit {record['commit']!r} lacks.")
    columns = {name: n.TensorRef(n.Span(name, 0, len(name)), key=key, name=name)
               for name, key in record["columns"].items()}
    store = _physical(root)
    return View(source, _unpack(store, record["rows"]), _unpack(store, record["offsets"]), columns,
                record["commit"], record.get("query"))


def delete_view(ds: Any, view_id: str) -> None:
    """Delete the saved view ``view_id`` (its record, index objects and materialised copy)."""
    from ..core.api import exists
    from ..storage import delete_location
    root = _root(ds)
    _check_writable_store(root)
    record = _read_record(root, _check_id(view_id))
    if record is None:
        raise _unknown(root, view_id)
    store = _physical(root)
    store.delete(_record_key(view_id))  # first: a half-deleted view is no longer listed
    for name in ("rows", "offsets"):
        store.delete(f"{PREFIX}/{view_id}.{name}")
    if record.get("optimized"):
        path = _copy_path(root.path, view_id)
        if exists(path):
            delete_location(path)


# -- materialising ------------------------------------------------------------------------------------
def _materialise(view: Any, path: str, progressbar: bool) -> None:
    from ..core.api import empty
    from ..core.dataset import new_ids
    from .view import ViewTensor
    source = view.dataset
    copy = empty(path, overwrite=True)
    rows = view.sample_indices
    count = len(rows)
    ids = new_ids(count)
    batches = range(0, count, COPY_BATCH)
    total = len(view._columns) * len(batches)
    bar = None
    if progressbar and total:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=f"optimizing view -> {path.rsplit('/', 1)[-1]}", unit="batch")
    state = copy._state
    try:
        with copy:
            for name, column in view.tensors.items():
                if isinstance(column, ViewTensor):  # a stored tensor: copy its encoded samples as they are
                    src_meta = source._state.meta.tensors[column.key]
                    copy.create_tensor(name, htype=src_meta.htype, sample_compression=src_meta.sample_compression,
                                       chunk_compression=src_meta.chunk_compression)
                    key = copy._key(name)
                    meta = state.meta.tensors[key]
                    meta.dtype, meta.ndim = src_meta.dtype, src_meta.ndim
                    meta.info = json.loads(json.dumps(src_meta.info))
                    state.drop_store(key)
                    state.save_meta()
                    src_store = source._state.tensor_store(column.key)
                    src_store.flush() if not source.read_only else None
                    for start in batches:
                        part = rows[start:start + COPY_BATCH]
                        target = state.tensor_store(key)
                        if target.append(src_store.take(part), ids[start:start + COPY_BATCH]):
                            target.flush()
                        if bar is not None:
                            bar.update(1)
                else:  # a computed column: its values, in a generic tensor
                    tensor = copy.create_tensor(name)
                    values = column.numpy(aslist=True)
                    for start in batches:
                        prepared = state.prepare_all([(tensor, list(values[start:start + COPY_BATCH]))])
                        state.commit_prepared(prepared, ids[start:start + COPY_BATCH])
                        if bar is not None:
                            bar.update(1)
        copy.commit(f"materialised view of {source.path} at {view.commit_id}", allow_empty=True)
    finally:
        if bar is not None:
            bar.close()
