"""Saved views: ``view.save_view(id=...)``, ``ds.get_views()``, ``ds.get_view(id)``,
``ds.load_view(id)``, ``ds.delete_view(id)``; any view can be saved: a query or filter result,
a row view (``ds[1:5]``, ``ds[[0, 3, 7]]``, ``ds[::2]``), a column view (``ds[["x", "z"]]``), a
view of any of these, or of a loaded saved view.

A saved view is a small JSON record kept in the dataset's physical store *outside* the versioned
history, so saving or deleting one never makes a commit:

    views/<id>.json       {"id", "message", "query", "commit", "group", "length", "optimized",
                           "columns": {name: tensor key}, "rows": [...] | null, "offsets": ...}
    views/<id>.rows       sample indices as raw little-endian uint32/uint64 (when there are many)
    views/<id>.offsets    group offsets, the same way (grouped views with many groups)

A view is bound to the commit it was computed at: saving needs a clean HEAD (commit first: Deep
Lake v3 raises the same way) and a view computed before the last commit must be computed again;
a view of a dataset opened at a commit (a loaded saved view, a checked-out commit) is bound to
that commit and can be saved any time. ``load_view`` opens the dataset read-only at that commit,
so later changes to the branch do not change what a saved view holds. ``get_views()`` lists the
views bound to the current commit (v3's rule; ``commit_id=`` another one).

``save_view`` returns the view's address, Deep Lake v3's path of a saved view:
``<dataset path>/.queries/<id>`` (``mem://name/.queries/<id>``, ``s3://b/p/.queries/<id>``).
``dl.load(address)`` (and ``dl.dataset``) open it as ``load_view(id)`` on the dataset opened
read-only, as in v3. The address is a name only: nothing is stored under ``.queries/``, the
record stays under ``views/`` as below (so views saved before read the same).

``optimize=True`` also materialises the view: a separate dataset at ``<dataset path>/views/<id>``
(a sub-folder for local paths, a sub-prefix for s3://, its own ``mem://`` name for memory
datasets) holding the view's columns as tensors (same htype, compression, class names), samples
copied in view order with their stored payloads as is. It is a plain dataset beside the history
(not a branch: a branch would put view data into the source's commit graph and into ``diff``
and ``merge``). ``load_view`` then returns that copy's full view; a view of it is saved (without
``optimize``) as the source dataset's rows, tensors and commit it was copied from. The record is
written last, so a crash mid-copy leaves no record (and the next save of that id overwrites the
copy). ``ViewEntry.optimize()`` (``load_view(id, optimize=True)``) materialises a saved view later.

``save_view(path=...)`` saves the view as a dataset of its own at ``path``: a copy of its samples
as above, with ``info`` naming the source dataset, commit, id, message and query; it is loaded
with ``dl.load(path)`` and is not listed by the source dataset (v3: "external" views). Deep Lake
v3 wrote there a dataset of indices into the source instead; a copy reads the same and needs no
source to be read. v3's ``num_workers``, ``scheduler`` and ``verbose`` are accepted; copies are
made in the calling process.
"""

from __future__ import annotations

import json
import re
import time
import weakref
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..core import internal
from ..errors import ReadOnlyError, ViewError, ViewNotFoundError
from ..version import gc as version_gc
from . import nodes as n
from .execute import tensor_columns

PREFIX = "views"
_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
INLINE_ROWS = 4096  # more indices than this go to a separate binary object


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
    return internal.whole(ds)


def _physical(ds: Any) -> Any:
    return internal.repository(ds).physical


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


def _unknown(ds: Any, view_id: str) -> ViewNotFoundError:
    known = _ids(ds)
    listed = ", ".join(repr(k) for k in known) if known else "none saved"
    return ViewNotFoundError(f"No saved view {view_id!r} in dataset {ds.path!r}; known views: {listed}.")


def _check_writable_store(ds: Any) -> None:
    if _physical(ds).read_only:
        raise ReadOnlyError(f"Dataset {ds.path!r} is open read-only; reopen it writable to save or delete views "
                            "there, or save the view as a dataset of its own: save_view(path=...).")


# -- what a view is bound to ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Origin:
    """Where the rows of an optimized copy come from (the copy's row ``i`` is ``rows[i]`` of
    ``home``'s group ``group`` at ``commit``; its tensor ``name`` is ``keys[name]`` there)."""

    home: Any
    commit: str
    group: str
    rows: np.ndarray
    keys: dict[str, str]


_ORIGINS: weakref.WeakKeyDictionary[Any, _Origin] = weakref.WeakKeyDictionary()  # copy's DatasetState -> origin


def reads_a_copy(view: Any) -> bool:
    """Whether ``view`` reads an optimized copy loaded by ``load_view``."""
    return internal.state(view.dataset) in _ORIGINS


@dataclass(frozen=True)
class _Bound:
    """What a saved record of a view holds, and in which dataset it is kept."""

    home: Any
    commit: str
    group: str
    rows: np.ndarray
    offsets: np.ndarray | None
    keys: dict[str, str | None]  # column -> tensor key at ``commit``; None: computed


def _bind(view: Any) -> _Bound:
    keys = {name: (expr.key if isinstance(expr, n.TensorRef) else None) for name, expr in view._columns.items()}
    origin = _ORIGINS.get(internal.state(view.dataset))
    if origin is not None:  # a view of an optimized copy: the source's rows, tensors and commit
        return _Bound(origin.home, origin.commit, origin.group, origin.rows[view.sample_indices], view._offsets,
                      {name: origin.keys.get(key) if key else None for name, key in keys.items()})
    root = _root(view.dataset)
    if root.branch is not None and root.has_head_changes:
        raise ViewError(f"Dataset {root.path!r} has uncommitted changes; a saved view is bound to a commit, so "
                        "commit first (ds.commit('...')), then save the view (a query: run it again).")
    if view.commit_id is None or view.commit_id != root.commit_id:
        raise ViewError(f"This view was computed at {view.commit_id!r} but the dataset is now at "
                        f"{root.commit_id!r}; run the query again and save the new view.")
    return _Bound(root, view.commit_id, view.dataset.group_index, view.sample_indices, view._offsets, keys)


def _keep_columns(view: Any, tensors: Sequence[str] | None) -> Any:
    """``view`` with only the columns ``tensors`` names (a group name keeps the columns in it)."""
    if tensors is None:
        return view
    names = [tensors] if isinstance(tensors, str) else list(tensors)

    def covers(name: str, column: str) -> bool:
        return column == name or column.startswith(name.rstrip("/") + "/")
    kept = {c: e for c, e in view._columns.items() if any(covers(t, c) for t in names)}
    missing = [t for t in names if not any(covers(t, c) for c in kept)]
    if missing:
        raise ViewError(f"tensors names {missing}, which the view does not have; its columns: "
                        f"{list(view._columns)}.")
    return type(view)(view.dataset, view.sample_indices, view._offsets, kept, view.commit_id, view.query_string)


# -- the public operations ---------------------------------------------------------------------------------
class ViewEntry:
    """A view saved in a dataset (``ds.get_views()``, ``ds.get_view(id)``): ``entry["id"]`` and
    ``id``, ``message``, ``query``, ``commit_id``, ``optimized``/``virtual``, ``length``;
    ``load()``, ``optimize()``, ``delete()``."""

    FIELDS = ("id", "message", "query", "commit", "length", "optimized", "time")

    def __init__(self, record: dict[str, Any], dataset: Any) -> None:
        self.info = {k: record.get(k) for k in self.FIELDS}
        self._ds = dataset

    def __getitem__(self, key: str) -> Any:
        return self.info[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.info.get(key, default)

    @property
    def id(self) -> str:
        return self.info["id"]

    @property
    def message(self) -> str:
        return self.info["message"] or ""

    @property
    def query(self) -> str | None:
        return self.info["query"]

    @property
    def commit_id(self) -> str:
        return self.info["commit"]

    @property
    def optimized(self) -> bool:
        return bool(self.info["optimized"])

    @property
    def virtual(self) -> bool:
        """True until the view is optimized (v3's name: it reads the source dataset's samples)."""
        return not self.optimized

    @property
    def source_dataset_path(self) -> str:
        return self._ds.path

    def load(self, verbose: bool = True) -> Any:
        """The saved view (``Dataset.load_view``)."""
        return load_view(self._ds, self.id)

    def optimize(self, tensors: Sequence[str] | None = None, unlink: bool = True, num_workers: int = 0,
                 scheduler: str = "threaded", progressbar: bool = True) -> ViewEntry:
        """Store a copy of the view's samples (``tensors``: only those columns) for streaming;
        ``load()`` then reads the copy. Returns this entry, updated."""
        self.info = optimize_view(self._ds, self.id, tensors=tensors, progressbar=progressbar).info
        return self

    def delete(self) -> None:
        delete_view(self._ds, self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ViewEntry) and other.info == self.info and other._ds.path == self._ds.path

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"View(id={self.id!r}, message={self.message!r}, virtual={self.virtual})"


def get_views(ds: Any, commit_id: str | None = None) -> list[ViewEntry]:
    """The views saved in ``ds`` that are bound to ``commit_id`` (default: the current commit)."""
    root = _root(ds)
    commit = commit_id or root.commit_id
    out = []
    for view_id in _ids(root):
        record = _read_record(root, view_id)
        if record is not None and record.get("commit") == commit:  # None: deleted meanwhile
            out.append(ViewEntry(record, root))
    return out


def get_view(ds: Any, view_id: str) -> ViewEntry:
    """The saved view ``view_id`` (at any commit); ``ViewNotFoundError`` (a KeyError) if none."""
    root = _root(ds)
    record = _read_record(root, _check_id(view_id))
    if record is None:
        raise _unknown(root, view_id)
    return ViewEntry(record, root)


def save_view(view: Any, message: str | None = None, path: str | None = None, id: str | None = None,  # noqa: A002
              optimize: bool = False, tensors: Sequence[str] | None = None, num_workers: int = 0,
              scheduler: str = "threaded", verbose: bool = True, progressbar: bool = True, **ds_args: Any) -> str:
    """Save ``view`` (a View, or a dataset / row / column view) under ``id`` (a fresh id when None)
    and return its address, ``<dataset path>/.queries/<id>`` (``dl.load`` opens it); with
    ``path``, as a dataset of its own there (returns the path; ``ds_args``: ``overwrite``,
    ``storage_options`` of ``dl.empty``). See the module docstring."""
    from ..core.api import saved_view_address
    from .view import as_view
    view = _keep_columns(as_view(view), tensors)
    bound = _bind(view)
    if path is not None:
        return _save_as_dataset(view, bound, path, id, message, progressbar, ds_args)
    if ds_args:
        raise ViewError(f"Options {sorted(ds_args)} are for a view saved as its own dataset: save_view(path=...).")
    if id is None:
        id = f"view-{time.strftime('%Y%m%d%H%M%S')}-{np.random.randint(1 << 30):08x}"  # noqa: A001
    view_id = _check_id(id)
    home = bound.home
    _check_writable_store(home)
    store = _physical(home)
    if store.get(_record_key(view_id)) is not None:
        raise ViewError(f"A saved view {view_id!r} already exists; delete it first (ds.delete_view({view_id!r})) "
                        "or pick another id.")
    computed = [name for name, key in bound.keys.items() if key is None]
    if computed and not optimize:
        raise ViewError(f"The view has computed columns ({_describe(view, computed)}), which a saved view cannot "
                        "recompute; save it with optimize=True (stores their values) or select stored tensors only.")
    if optimize and view.is_grouped:
        raise ViewError("Grouped views (GROUP BY) cannot be saved with optimize=True yet; save with optimize=False.")
    if optimize:
        _materialise(view, _copy_path(home.path, view_id), progressbar)
    record = {
        "id": view_id, "message": message or "", "query": view.query_string, "commit": bound.commit,
        "group": bound.group, "length": len(view), "optimized": bool(optimize), "time": time.time(),
        "columns": {name: key for name, key in bound.keys.items() if key is not None},
        "rows": _pack(store, view_id, "rows", bound.rows),
        "offsets": _pack(store, view_id, "offsets", bound.offsets),
    }
    if not store.put_if_absent(_record_key(view_id), json.dumps(record).encode()):
        raise ViewError(f"Another writer saved a view {view_id!r} at the same time; pick another id.")
    return saved_view_address(home.path, view_id)


def _describe(view: Any, names: list[str]) -> str:
    exprs = view._columns
    return "; ".join(f"{name} = {exprs[name].text}" if not isinstance(exprs[name], n.TensorRef) else name
                     for name in names)


def _save_as_dataset(view: Any, bound: _Bound, path: str, view_id: str | None, message: str | None,
                     progressbar: bool, ds_args: dict[str, Any]) -> str:
    """``save_view(path=...)``: a copy of the view's samples as a dataset at ``path``."""
    from ..storage.url import normalize
    unknown = sorted(set(ds_args) - {"overwrite", "storage_options"})
    if unknown:
        raise ViewError(f"save_view(path=...) takes overwrite= and storage_options= for the new dataset; "
                        f"not {unknown}.")
    if view.is_grouped:
        raise ViewError("Grouped views (GROUP BY) cannot be saved as a dataset of their own yet.")
    target = normalize(path)
    if target.rstrip("/") == bound.home.path.rstrip("/"):
        raise ViewError(f"save_view(path=...) would overwrite the source dataset {target!r}; pick another path.")
    info = {"source-dataset": bound.home.path, "source-dataset-version": bound.commit, "view-id": view_id,
            "message": message or "", "query": view.query_string}
    _materialise(view, target, progressbar, info=info, overwrite=bool(ds_args.get("overwrite", False)),
                 storage_options=ds_args.get("storage_options"))
    return target


def load_view(ds: Any, view_id: str, optimize: bool = False, tensors: Sequence[str] | None = None,
              num_workers: int = 0, scheduler: str = "threaded", progressbar: bool = True) -> Any:
    """The saved view ``view_id``: a View bound to its commit (read-only), or, for optimized views,
    the full view of the materialised copy. ``optimize=True`` first optimizes a view that is not
    (``tensors``: only those columns; given, it re-optimizes)."""
    from ..core.api import load
    from .view import View
    root = _root(ds)
    record = _read_record(root, _check_id(view_id))
    if record is None:
        raise _unknown(root, view_id)
    if optimize and (not record.get("optimized") or tensors is not None):
        optimize_view(root, view_id, tensors=tensors, progressbar=progressbar)
        record = _read_record(root, view_id) or record
    if not record.get("optimized"):
        return _record_view(root, view_id, record)
    copy = load(_copy_path(root.path, view_id), read_only=True)
    rows = _unpack(_physical(root), record["rows"])
    _ORIGINS[internal.state(copy)] = _Origin(root, record["commit"], record.get("group") or "", rows,
                                             dict(record["columns"]))
    return View(copy, np.arange(len(copy), dtype=np.int64), None, tensor_columns(copy), copy.commit_id,
                record.get("query"))


def _record_view(root: Any, view_id: str, record: dict[str, Any]) -> Any:
    """The view a record describes, read from the source dataset at the record's commit."""
    from .view import View
    at = internal.open_version(root, record["commit"])
    group = record.get("group") or ""
    source = internal.whole(at, group) if group else at
    meta = internal.state(at).meta.tensors
    missing = [key for key in record["columns"].values() if key not in meta]
    if missing:
        raise ViewError(f"Saved view {view_id!r} names tensors {missing} that commit {record['commit']!r} lacks.")
    columns = {name: n.TensorRef(n.Span(name, 0, len(name)), key=key, name=name)
               for name, key in record["columns"].items()}
    store = _physical(root)
    return View(source, _unpack(store, record["rows"]), _unpack(store, record["offsets"]), columns,
                record["commit"], record.get("query"))


def optimize_view(ds: Any, view_id: str, tensors: Sequence[str] | None = None, progressbar: bool = True) -> ViewEntry:
    """Materialise the saved view ``view_id`` from the source dataset (``tensors``: only those
    columns) and mark its record optimized; ``load_view`` then reads the copy."""
    root = _root(ds)
    _check_writable_store(root)
    record = _read_record(root, _check_id(view_id))
    if record is None:
        raise _unknown(root, view_id)
    view = _keep_columns(_record_view(root, view_id, record), tensors)
    if view.is_grouped:
        raise ViewError("Grouped views (GROUP BY) cannot be optimized yet; load them with optimize=False.")
    _materialise(view, _copy_path(root.path, view_id), progressbar)
    record["optimized"] = True
    _physical(root).set(_record_key(view_id), json.dumps(record).encode())
    return ViewEntry(record, root)


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
def _materialise(view: Any, path: str, progressbar: bool, info: dict[str, Any] | None = None,
                 overwrite: bool = True, storage_options: dict[str, Any] | None = None) -> None:
    """Write ``view``'s columns as the tensors of a new dataset at ``path`` (one commit), with
    ``info`` in its dataset info."""
    from ..core.api import empty
    from ..core.copy import COPY_BATCH, copy_tensor
    from ..core.dataset import new_ids
    from .view import ViewTensor
    source = view.dataset
    copy = empty(path, overwrite=overwrite, storage_options=storage_options)
    rows = view.sample_indices
    count = len(rows)
    ids = new_ids(count)
    batches = range(0, count, COPY_BATCH)
    total = len(view._columns) * len(batches)
    bar = None
    if progressbar and total:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=f"optimizing view -> {path.rsplit('/', 1)[-1]}", unit="batch")
    state = internal.state(copy)

    def tick() -> None:
        if bar is not None:
            bar.update(1)
    try:
        with copy:
            for name, column in view.tensors.items():
                if isinstance(column, ViewTensor):  # a stored tensor: copy its encoded samples as they are
                    copy_tensor(source, column.key, copy, name, rows, ids, on_batch=tick)
                else:  # a computed column: its values, in a generic tensor
                    tensor = copy.create_tensor(name)
                    values = column.numpy(aslist=True)
                    for start in batches:
                        prepared = state.prepare_all([(tensor, list(values[start:start + COPY_BATCH]))])
                        state.commit_prepared(prepared, ids[start:start + COPY_BATCH])
                        tick()
            if info:
                copy.info.update(info)
        copy.commit(f"materialised view of {source.path} at {view.commit_id}", allow_empty=True)
    finally:
        if bar is not None:
            bar.close()
