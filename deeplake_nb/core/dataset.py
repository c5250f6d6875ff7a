"""``Dataset``: named tensors of samples on a zarr v3 store; also groups and row selections (views)."""

from __future__ import annotations

import os
import re
import threading
import weakref
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import zarr
from zarr.core.sync import sync

from ..errors import (DatasetError, DatasetNotFoundError, DatasetOptionError, DatasetPickleError, DetachedInfoError, GroupInfoError, InvalidNameError, ItemAssignmentError, MissingTensorValuesError, ReadOnlyError, SampleError, TensorExistsError,
                      TensorNotFoundError, UnsupportedCompressionError, ViewOperationError)
from ..format import arrow_values, compression, htypes
from ..format import tensor_store as tensor_buffers
from ..format.codecs import CHUNK_COMPRESSIONS
from ..format.meta import ATTR_KEY, DatasetMeta, DatasetMetaView, TensorMeta, check_chunk_size
from ..format.tensor_store import TensorStore
from ..format.groups import open_stored_group, update_attributes, v3_document
from ..storage import ByteStore, is_memory, normalize
from ..storage.link_creds import LinkCreds
from ..version import MAIN, Repository, VersionedStore
from . import creds as _creds
from . import html_repr
from . import index as _index
from . import loop_hint
from . import summary as _summary
from .copy import create_tensor_like as _create_like
from .extensions import Extensions
from .info import Info
from .tensor import Prepared, Tensor, progress, skip_hint
from .versioning import VersionControl, branch_off, open_version

if TYPE_CHECKING:
    import pyarrow as pa

_SEGMENT = re.compile(r"^[A-Za-z0-9_\-. ]+$")
# Deep Lake v3 create_tensor arguments about its own chunk engine: accepted, no effect here
IMAGE_CHUNK_CODECS = ("png", "jpeg", "webp")  # v3 chunk compressions that are image codecs
V3_STORAGE_OPTIONS = ("max_chunk_size", "min_chunk_size", "tiling_threshold", "create_shape_tensor",
                      "create_id_tensor", "create_sample_info_tensor", "verbose", "downsampling")


def _weak_call(method: Callable[[], None]) -> Callable[[], None]:
    """``method`` (bound to a state) called through a weak reference: the state's tensor stores
    then hold no cycle back to it, so a state (a version a merge or diff opened) is freed as
    soon as it is dropped, not at some later garbage collection (at ~0.5 ms a 100-tensor
    version, charged to whatever runs then)."""
    ref = weakref.WeakMethod(method)

    def call() -> None:
        bound = ref()
        if bound is None:
            raise DatasetError("This tensor's dataset was closed; open the dataset again to write to it.")
        bound()

    return call


class DatasetState:
    """What every view and group of one open dataset shares: store, meta, tensor stores, batching."""

    def __init__(self, path: str, store: VersionedStore, meta: DatasetMeta, frozen: bool = False) -> None:
        self.path = path
        self.frozen = frozen  # a version opened only to be read (diff, merge, saved views): never branches off
        self.batch_depth = 0
        self.index_history: dict[str, list[int]] = {}  # recent integer indices, by group or tensor (loop_hint)
        self._link_creds: LinkCreds | None = None  # shared by every version (see core.creds)
        self.views: weakref.WeakSet[Dataset] = weakref.WeakSet()  # row/column views to pin (``pin_views``)
        self.pinned: str | None = None  # a pinned view's state: why it is read-only (``check_writable``)
        self.changes = 0
        """Bumped atomically (``bump``: no bump is lost to another thread's) before every write
        (``check_writable``) and after it (``after_write``), before and after ``switch`` changes
        the version, and at the end of a ``flush`` when a write was announced since the previous
        flush began (the flush may have landed it). While it is unchanged the version shows the same
        content, so higher layers may cache what they derive from it (``query.vector_index``'s
        content fingerprints), from any thread: read it *before* deriving and keep the result only
        if it is still the same *after*; a write of another thread that overlaps the derivation
        moves it by then, or when it or the flush that lands it ends."""
        self._changes_lock = threading.Lock()
        self._announced = 0  # check_writable calls
        self._flush_seen = -1  # ``_announced`` when the last flush began
        self._meta_deferred: bool | None = None  # inside ``meta_saved_once``: whether a save is due
        self.switch(store, meta)

    @property
    def link_creds(self) -> LinkCreds:
        """The creds keys of linked files (read on first use) with this session's credentials."""
        if self._link_creds is None:
            self._link_creds = _creds.load(self)
        return self._link_creds

    def bump(self, announce: bool = False) -> None:
        """Add one to ``changes`` (atomically); ``announce``: a write begins (``check_writable``)."""
        with self._changes_lock:
            self.changes += 1
            self._announced += announce

    def switch(self, store: VersionedStore, meta: DatasetMeta) -> None:
        """Show another version (after checkout, reset, commit conflicts): every view follows."""
        self.bump()
        self.zarr_store = store
        self.bytes = ByteStore(store)
        self.meta = meta
        self.read_only = store.read_only
        self._root: zarr.Group | None = None
        self._stores: dict[str, TensorStore] = {}
        self._lengths: dict[str, tuple[int, int]] = {}  # tensor_length: key -> (changes, stored length)
        self.bump()  # a derivation that read the counter between the two bumps used either version

    def pin_views(self, ref: str, reason: str) -> None:
        """Deep Lake v3's rule that a view keeps reading the version it was made on: move every
        row or column view made on this state since the last call (``views``) onto one read-only
        state of its own at version ``ref`` (a commit id, or a branch read as it is now), which
        ``reason`` explains to a write there. Called when the dataset commits (``ref``: the commit
        just made, which holds what the views showed) and before it checks out another version.
        Views made later follow the dataset's writes again until the next call. The version is
        opened only when there are live views."""
        views, self.views = [v for v in self.views if v._state is self], weakref.WeakSet()
        if not views:
            return
        pinned = open_state(self.path, self.zarr_store.repository.open(ref, read_only=True), frozen=True)
        pinned.pinned = reason
        for view in views:
            view._state = pinned

    @property
    def root(self) -> zarr.Group:
        """The root zarr group (opened on first use: the empty root commit has none)."""
        if self._root is None:
            self._root = open_stored_group(self.bytes, self.zarr_store)
        if self._root is None:
            try:
                self._root = zarr.open_group(store=self.zarr_store, mode="r" if self.read_only else "r+")
            except zarr.errors.GroupNotFoundError:
                if self.read_only:
                    raise
                # a branch reset to the empty root commit: the root group is made again on first write
                self._root = zarr.open_group(store=self.zarr_store, mode="w",
                                             attributes={ATTR_KEY: self.meta.to_json()})
        return self._root

    @property
    def branches_off(self) -> bool:
        """Whether a write first makes a branch here (``check_writable``): the state shows a
        checked-out commit, not a branch head, of a dataset open for writing, and is not ``frozen``."""
        vstore = self.zarr_store
        return self.read_only and vstore.branch is None and not self.frozen and not vstore.repository.store.read_only

    @property
    def opened_read_only(self) -> bool:
        """v3's ``ds.read_only``: whether writes are refused. A checked-out commit of a writable
        dataset is not read-only in this sense: a write there makes a branch (``check_writable``)."""
        return self.read_only and not self.branches_off

    def check_writable(self) -> None:
        """Call before a write, before anything is read for it: ReadOnlyError when the dataset
        is open read-only; on a checked-out commit, first move to a new branch there
        (``versioning.branch_off``, Deep Lake v3's auto checkout). The meta document stays the
        same object, so mappings taken from it (``info``) stay valid."""
        self.bump(announce=True)
        if not self.read_only:
            return
        if self.branches_off:
            branch_off(self)
            return
        if self.pinned:
            raise ReadOnlyError(self.pinned)
        raise ReadOnlyError(f"Dataset {self.path!r} is open read-only; reopen it with "
                            "dl.load(path, read_only=False) to change it.")

    def check_info_writable(self) -> None:
        """``check_writable`` for info changes, which make no branch on a checked-out commit (as
        in v3): DetachedInfoError there."""
        if self.branches_off:
            raise DetachedInfoError(f"Dataset {self.path!r} is checked out at commit {self.zarr_store.head!r}, not "
                                    "at a branch head; info changes make no branch there. Check out a branch "
                                    "(ds.checkout('main'), or ds.checkout('new-branch', create=True)) to change info.")
        self.check_writable()

    def meta_changed(self) -> None:
        """Persist the meta document and, outside ``with ds:``, publish it (a user-level change)."""
        self.save_meta()
        self.after_write()

    def save_meta(self) -> None:
        """Write the meta document (the root group's attributes); inside ``meta_saved_once`` it is
        written once, when that block ends."""
        self.check_writable()
        if self._meta_deferred is not None:
            self._meta_deferred = True
            return
        update_attributes(self.bytes, self.root, {ATTR_KEY: self.meta.to_json()})

    @contextmanager
    def meta_saved_once(self) -> Iterator[None]:
        """Every ``save_meta`` inside writes the document once, as the block ends (also when it
        raises, as each call would have written it): one write where a batch's tensors each fix
        their ndim, or each column picks its layout in a flush (every write costs a trip through
        zarr's event loop and a file). Nothing is published in between, so no reader sees the
        difference. Nested blocks save with the outermost."""
        if self._meta_deferred is not None:
            yield
            return
        self._meta_deferred = False
        try:
            yield
        finally:
            pending, self._meta_deferred = self._meta_deferred, None
            if pending:
                self.save_meta()

    def tensor_store(self, key: str) -> TensorStore:
        store = self._stores.get(key)
        if store is None:
            group = open_stored_group(self.bytes, self.zarr_store, key)
            if group is None:
                group = self.root[key]
            store = self._stores[key] = TensorStore(group, self.bytes, self.meta.tensors[key],
                                                    _weak_call(self.save_meta))
        return store

    def tensor_length(self, key: str) -> int:
        """``len`` of tensor ``key``'s store, without opening it when it is not open (so has no
        pending appends): the stored length from its ``_id`` array's document, kept until
        ``changes`` moves (every write bumps it before it begins and when it ends)."""
        store = self._stores.get(key)
        if store is not None:
            return len(store)
        changes = self.changes
        known = self._lengths.get(key)
        if known is not None and known[0] == changes:
            return known[1]
        length = tensor_buffers.stored_length(self.bytes, key)
        if length is None:
            return len(self.tensor_store(key))
        self._lengths[key] = (changes, length)
        return length

    def drop_store(self, key: str) -> None:
        self._stores.pop(key, None)

    def drop_caches(self) -> None:
        """Forget every opened tensor store (and its decoded chunks) and the root group: the next
        reads open them from storage again. Buffered writes must be flushed first."""
        self._stores = {}
        self._root = None

    # -- the write protocol: prepare everything, then commit (all or nothing) ---------------------
    def prepare_all(self, batches: Sequence[tuple[Tensor, list[Any]]], ignore_errors: bool = False,
                    on_sample: Callable[[], None] | None = None) -> list[Prepared]:
        """Validate and encode every batch; an empty generic tensor may take text/json from its first
        value. With ``ignore_errors`` the batches are rows: a row that any tensor refuses is left
        out of every tensor (the rows kept are prepared again, alone)."""
        prepared = [tensor.prepare(values, ignore_errors=ignore_errors, infer_htype=True, on_sample=on_sample)
                    for tensor, values in batches]
        refused = {i for p in prepared for i in p.skipped}
        if not refused:
            return prepared
        return [tensor.prepare([v for i, v in enumerate(values) if i not in refused], infer_htype=True)
                for tensor, values in batches]

    def apply_meta(self, prepared: Prepared) -> None:
        """Record what a first write fixes (ndim, dtype of a dtype-less tensor) and new class names."""
        meta = prepared.tensor.meta
        changed = bool(prepared.added_class_names)
        if prepared.ndim is not None and meta.ndim is None:
            meta.ndim = prepared.ndim
            changed = True  # saved now: empty samples may have fixed the layout before it
        if prepared.dtype is not None and meta.dtype is None:
            meta.dtype = prepared.dtype
            changed = True
            self.tensor_store(prepared.tensor.key).flush()
            self.drop_store(prepared.tensor.key)  # its columns were built without a dtype
        if prepared.added_class_names:
            meta.info.setdefault("class_names", []).extend(prepared.added_class_names)
        if changed:
            self.save_meta()

    def commit_prepared(self, prepared: list[Prepared], ids: np.ndarray | None) -> None:
        full = False
        with self.meta_saved_once():
            for p in prepared:
                if not p.encoded:
                    continue
                p.tensor.adopt_htype(p)
                self.apply_meta(p)
                n = len(p.encoded)
                full |= self.tensor_store(p.tensor.key).append(p.encoded, new_ids(n) if ids is None else ids)
            for p in prepared:  # every tensor's rows buffered first: a failed write leaves equal lengths
                if p.encoded:
                    self.tensor_store(p.tensor.key).stage_due()
        self.after_write(force=full)

    def after_write(self, force: bool = False) -> None:
        """Called when a write is done: ``changes`` moves, and outside ``with ds:`` it is published.
        ``force`` (a buffer is full): inside ``with ds:`` the buffers are written now, as private
        objects that the block's one publish lands (a later append into a partly filled chunk
        rewrites it in place: no patch, no publish of half the block); only when the patches of
        updates held in memory for that publish reach ``FLUSH_BYTES`` is it published now, as
        before, to bound that memory."""
        self.bump()
        if self.batch_depth == 0:
            self.flush()
        elif force:
            self.flush(publish=False)
            if self.zarr_store.held_patch_bytes >= tensor_buffers.FLUSH_BYTES:
                self.zarr_store.publish()

    def flush(self, publish: bool = True) -> None:
        """Write buffered appends, then publish them on the branch (atomically visible).
        ``publish=False`` only writes them (a commit then lands them in its own single entry).
        When a write was announced (``check_writable``, any thread) since the previous flush
        began, ``changes`` is bumped when this one ends: it may have landed that write."""
        seen = self._announced
        with self.meta_saved_once():  # columns that pick their layout now record it in one write
            for store in list(self._stores.values()):
                store.flush()
        if publish and not self.read_only:
            self.zarr_store.publish()
        if seen != self._flush_seen:
            self._flush_seen = seen  # writes announced during this flush: the next one bumps again
            self.bump()


def _is_name(x: Any) -> bool:
    """A tensor or group name in a column view's list: ``"g/a"`` or ``("g", "a")``."""
    return isinstance(x, str) or (isinstance(x, tuple) and bool(x) and all(isinstance(p, str) for p in x))


def _clean_name(name: Any) -> Any:
    """A tensor or group name without empty parts (``"/a//b/"`` -> ``"a/b"``); non-str as given."""
    return "/".join(p for p in name.split("/") if p) if isinstance(name, str) else name


def new_ids(n: int) -> np.ndarray:
    """Fresh random hidden sample ids (uint64, never 0)."""
    return (np.frombuffer(os.urandom(8 * n), np.uint64) | np.uint64(1)) if n else np.empty(0, np.uint64)


class Dataset(VersionControl, _creds.CredsKeys, Extensions):
    """A dataset, a group inside one (``ds.group``), a row selection of either (``ds[5:9]``), or
    a column view showing some of its tensors (``ds[["x", "z"]]``)."""

    def __init__(self, state: DatasetState | None = None, group: str = "", rows: np.ndarray | None = None,
                 single: bool = False, columns: frozenset[str] | None = None, *, padded: bool = False,
                 iteration: bool = False, storage: Any = None, read_only: bool | None = None,
                 verbose: bool = True) -> None:
        """Deep Lake v3's form ``Dataset(storage=provider, read_only=None, verbose=True)`` opens
        the dataset stored in a storage provider (``deeplake.core.storage``, such as
        ``ds.storage``) at branch main (``state_over_storage``); ``verbose`` is accepted for v3
        code and changes nothing. The other arguments are internal: ``dl.load`` opens datasets."""
        if state is None:
            state = state_over_storage(storage, read_only)
        elif storage is not None:
            raise DatasetError("Dataset(...) takes either an open dataset's state or storage=, not both; "
                               "open datasets with dl.load(path) or Dataset(storage=provider).")
        self._state = state
        self._group = group
        self._rows = rows
        self._single = single
        self._columns = columns  # keys of the tensors a column view shows; None: all of them
        self._padded = padded  # ds.max_view: rows past a tensor's end read as empty samples
        self._iteration = iteration  # a row yielded by ``for row in ds``
        if (rows is not None or columns is not None) and not iteration:
            state.views.add(self)  # a view stays on its version when the dataset moves on (pin_views)

    def _derived(self, **changes: Any) -> Dataset:
        """A Dataset over the same state showing what this one shows (group, rows, tensors,
        padding, iteration flag), but for ``changes``."""
        args = dict(group=self._group, rows=self._rows, single=self._single, columns=self._columns,
                    padded=self._padded, iteration=self._iteration)
        return Dataset(self._state, **{**args, **changes})

    # -- identity ---------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._state.path

    @path.setter
    def path(self, path: str | os.PathLike[str]) -> None:
        """Accepts the dataset's own location in another spelling (``pathlib.Path``, as v3 code
        sets it); a dataset cannot be moved by assignment."""
        if normalize(path) != self._state.path:
            raise DatasetError(f"A dataset's path cannot be changed by assignment ({self.path!r} -> {path!r}); "
                               "copy it with dl.copy / dl.deepcopy.")

    @property
    def read_only(self) -> bool:
        """Whether the dataset is open read-only. A checked-out commit of a writable dataset is
        not: as in v3, a write there makes a new branch at it and goes there."""
        return self._state.opened_read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        """Switch the open dataset (every view of it too) to read-only or writable, as v3's
        ``ds.read_only = ...``; buffered writes are written first. Only the dataset itself can
        switch (ViewOperationError on a view); a checked-out commit stays checked out."""
        self._check_whole("switch read_only")
        state, value = self._state, bool(value)
        vstore = state.zarr_store
        if not state.read_only:
            state.flush()
        storage = vstore.repository.store
        repo = (vstore.repository if storage.read_only == value
                else Repository(storage.with_read_only(value), vstore.repository.cache))
        state.switch(*open_version(state.path, repo, vstore.branch or vstore.head, value))

    @property
    def info(self) -> Info:
        """The dataset's info mapping (persisted); a group has none (GroupInfoError, as in v3)."""
        if self._group:
            raise GroupInfoError(f"Group {self._group!r} has no info of its own; use the dataset's info "
                                 "(ds.info) or a tensor's (ds[...].info).")
        return Info(self._state.meta.info, self._state.check_info_writable, self._state.meta_changed)

    @info.setter
    def info(self, mapping: dict[str, Any]) -> None:
        self.info.replace(mapping)

    @property
    def index(self) -> np.ndarray | None:
        """Selected sample positions, or None when the whole dataset is selected."""
        return self._rows

    @property
    def is_view(self) -> bool:
        """Whether this is a view of the dataset: a row selection (``ds[1:5]``) or a column view
        (``ds[["x", "z"]]``); a group of the whole dataset is not."""
        return self._rows is not None or self._columns is not None

    @property
    def group_index(self) -> str:
        """The key of the group this object shows (``"a/b"``); ``""`` for the dataset itself."""
        return self._group

    @property
    def parent(self) -> Dataset:
        """The group containing this group (the dataset for a top-level group; the dataset's
        own parent is itself), showing the same rows and tensors."""
        return self._derived(group=self._group.rpartition("/")[0])

    def zarr_store(self) -> zarr.abc.store.Store:
        """The zarr v3 Store holding this dataset: ``zarr.open_group(store=...)`` reads its arrays."""
        if not self.read_only:
            self._state.flush()
        return self._state.zarr_store

    # -- tensors and groups -----------------------------------------------------------------------
    def _key(self, name: str) -> str:
        """The key of ``name`` (relative to this group). As in v3, empty parts do not count:
        ``"/y//x/"`` names ``"y/x"``."""
        name = _clean_name(name)
        return f"{self._group}/{name}" if self._group else name

    def _visible(self, include_hidden: bool = False) -> list[str]:
        """Keys of the tensors shown here; ``include_hidden``: every tensor of the group, hidden
        or not shown by a column view (what whole-row operations touch)."""
        prefix = f"{self._group}/" if self._group else ""
        return [k for k, m in self._state.meta.tensors.items()
                if k.startswith(prefix) and (include_hidden or (not m.hidden and self._shows(k)))]

    def _shows(self, key: str) -> bool:
        return self._columns is None or key in self._columns

    @property
    def tensors(self) -> dict[str, Tensor]:
        """Visible tensors of this dataset or group, by name relative to it."""
        return self._tensors(include_hidden=False)

    def _tensors(self, include_hidden: bool = True, include_disabled: bool = True) -> dict[str, Tensor]:
        """Deep Lake v3's ``ds._tensors()``: the tensors of this dataset or group by name relative
        to it, hidden ones too unless ``include_hidden=False`` (then it is ``tensors``); a column
        view's are those it shows. ``include_disabled`` is accepted: no tensor here is disabled."""
        cut = len(self._group) + 1 if self._group else 0
        return {k[cut:]: self._tensor(k) for k in self._visible(include_hidden) if self._shows(k)}

    @property
    def meta(self) -> DatasetMetaView | Tensor | Dataset:
        """Deep Lake v3's ``ds.meta``, read-only (``DatasetMetaView``): ``version`` (the
        deeplake_nb version that created the dataset), ``tensors`` and ``hidden_tensors`` (keys).
        A tensor or group named "meta" here (a name v3 refuses) is returned instead, as attribute
        access gives every other tensor; ``ds["meta"]`` always reaches it."""
        key = self._key("meta")
        if (key in self._state.meta.tensors and self._shows(key)) or key in self._state.meta.groups:
            return self["meta"]
        return DatasetMetaView(self._state.meta)

    @property
    def groups(self) -> dict[str, Dataset]:
        prefix = f"{self._group}/" if self._group else ""
        names = [g[len(prefix):] for g in self._state.meta.groups if g.startswith(prefix)]
        return {n: self._derived(group=prefix + n) for n in names if "/" not in n}

    def _tensor(self, key: str) -> Tensor:
        return Tensor(self, key, self._rows, self._single)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            key = self._key(item)
            if key in self._state.meta.tensors and self._shows(key):
                return self._tensor(key)
            if key in self._state.meta.groups:
                return self._derived(group=key)
            raise TensorNotFoundError(f"No tensor or group {item!r}; tensors: {sorted(self.tensors)}.")
        if isinstance(item, list) and item and all(_is_name(x) for x in item):
            return self._column_view(item)
        if type(item) is int and self._rows is None:
            loop_hint.note(self._state.index_history.setdefault(self._group, []), item, None)
        rows, single = _index.compose(self._rows, item, self._row_count(item))
        return self._derived(rows=rows, single=single)

    def _row_count(self, item: Any) -> int:
        """The rows a row index of the whole dataset is resolved over. As in v3, non-negative
        positions may name any row of the longest tensor (a shorter tensor then refuses to read
        past its end: SampleIndexError); slices, masks and negative positions run over len(ds)."""
        if self._rows is not None:
            return len(self._rows)
        head = item[0] if isinstance(item, tuple) and item else item
        positions = None if isinstance(head, slice) else np.asarray(head)
        if positions is None or positions.dtype.kind not in "iu" or (positions.size and positions.min() < 0):
            return self._base_len()
        return self.max_len

    def _column_view(self, names: list[str | tuple[str, ...]]) -> Dataset:
        """``ds[["x", "g/a", ("g", "b"), "h"]]``: these rows showing only the named tensors (a
        group name shows every tensor in it), in the dataset's order."""
        keys: set[str] = set()
        for name in names:
            key = self._key(name if isinstance(name, str) else "/".join(name))
            if key in self._state.meta.tensors and self._shows(key):
                keys.add(key)
            elif key in self._state.meta.groups:
                keys.update(k for k in self._visible() if k.startswith(key + "/"))
            else:
                raise TensorNotFoundError(f"No tensor or group {name!r}; tensors: {sorted(self.tensors)}.")
        return self._derived(columns=frozenset(keys))

    def __setitem__(self, item: str, value: Any) -> None:
        """``ds["x"] = values``: replace tensor ``x``'s samples in this selection (one value for a
        single row, a sequence otherwise), as v3 does; ids stay."""
        if not isinstance(item, str):
            raise ItemAssignmentError("Datasets take item assignment by tensor name only: ds['x'] = values "
                                      "(or ds[3].x = value for one row).")
        tensor = self[item]
        if isinstance(tensor, Dataset):
            raise ItemAssignmentError(f"{item!r} is a group; assign to one of its tensors.")
        tensor.assign(value)  # the selected rows, whole (t[0] would index inside a row)

    def __setattr__(self, name: str, value: Any) -> None:
        """``ds.x = value`` (and so ``ds.x += 1``) is ``ds["x"] = value`` when ``x`` names a tensor
        or group here and no attribute of the class; an array for another name is refused (v3:
        tensors are made with create_tensor); anything else is an ordinary attribute."""
        if name.startswith("_") or hasattr(type(self), name):
            return super().__setattr__(name, value)
        key = self._key(name)
        if key in self._state.meta.tensors or key in self._state.meta.groups:
            return self.__setitem__(name, value)
        if isinstance(value, (np.ndarray, np.generic)):
            raise ItemAssignmentError(f"{name!r} is no tensor of this dataset: create it with "
                                      f"ds.create_tensor({name!r}) and add data with append / extend.")
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except TensorNotFoundError as exc:
            raise TensorNotFoundError(f"Dataset has no attribute or tensor {name!r}; tensors: "
                                      f"{sorted(self.tensors)}.") from exc

    def __iter__(self):
        """The rows one by one; each says ``is_iteration`` (as do its tensors), as in v3."""
        for i in range(len(self)):
            yield self[i]._derived(iteration=True)

    @property
    def is_iteration(self) -> bool:
        """Whether this is a row yielded by iterating a dataset (``for row in ds``)."""
        return self._iteration

    def _base_len(self) -> int:
        lengths = [self._state.tensor_length(k) for k in self._visible()]
        return min(lengths) if lengths else 0

    def __len__(self) -> int:
        return self._base_len() if self._rows is None else len(self._rows)

    @property
    def max_len(self) -> int:
        return max((self._state.tensor_length(k) for k in self._visible()), default=0)

    @property
    def min_len(self) -> int:
        return self._base_len()

    @property
    def num_samples(self) -> int:
        """Deep Lake v3: the length of the shortest tensor, whatever rows and tensors this view
        selects (of the group's tensors, for a group)."""
        return self.no_view_dataset._base_len()

    @property
    def root(self) -> Dataset:
        """Deep Lake v3: the whole dataset a group belongs to (with this view's rows)."""
        return self._derived(group="")

    @property
    def sample_indices(self) -> np.ndarray:
        """Deep Lake v3: the dataset rows this view shows, in order (every row of the dataset)."""
        return np.arange(len(self), dtype=np.int64) if self._rows is None else np.array(self._rows, dtype=np.int64)

    @property
    def allow_delete(self) -> bool:
        """Deep Lake v3's deletion guard: False makes ``ds.delete()``, ``dl.delete(path)`` and
        ``dl.empty(path, overwrite=True)`` refuse (``DatasetError``) until it is True again. It is
        part of the branch's dataset document, like ``info``."""
        return self._state.meta.allow_delete

    @allow_delete.setter
    def allow_delete(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise DatasetOptionError(f"allow_delete must be True or False; got {value!r}.")
        self._check_whole("change allow_delete")
        state = self._state
        state.check_info_writable()
        if state.meta.allow_delete != value:
            state.meta.allow_delete = value
            state.meta_changed()

    @property
    def no_view_dataset(self) -> Dataset:
        """Deep Lake v3: this dataset (or group) without its row selection or column view."""
        return Dataset(self._state, group=self._group)

    def size_approx(self) -> int:
        """Deep Lake v3: about how many bytes this version's tensors (those this view shows) store:
        their chunk objects as stored (compressed), without the dataset's metadata. Objects
        shared with other versions count in each."""
        keys = self._visible()
        with self._state.bytes.failures("measure", ""):
            return sum(sync(self._state.zarr_store.getsize_prefix(key + "/")) for key in keys)

    def _check_whole(self, action: str) -> None:
        """ViewOperationError on a row or column view: ``action`` changes the whole dataset."""
        if self._rows is not None or self._columns is not None:
            raise ViewOperationError(f"Cannot {action} on a view ({self!r}); do it on the dataset itself (or one "
                                     "of its groups), then take the view again.")

    def _check_new_name(self, name: str) -> str:
        if not isinstance(name, str) or not _clean_name(name):
            raise InvalidNameError("A tensor or group name must be a non-empty string (besides '/').")
        parts = _clean_name(name).split("/")
        for part in parts:
            if part in (".", "..") or not _SEGMENT.match(part):
                raise InvalidNameError(f"Invalid name {name!r}: each part may use letters, digits, '_', '-', "
                                       "'.', and spaces, and may not be '.' or '..'.")
            if part.startswith("_"):
                raise InvalidNameError(f"Invalid name {name!r}: names starting with '_' are reserved for hidden "
                                       "data; rename it.")
        key = self._key(name)
        meta = self._state.meta
        if key in meta.tensors or key in meta.groups:
            raise TensorExistsError(f"A tensor or group {key!r} already exists; pick another name.")
        for i in range(1, len(key.split("/"))):
            if "/".join(key.split("/")[:i]) in meta.tensors:
                raise TensorExistsError(f"Invalid name {key!r}: {'/'.join(key.split('/')[:i])!r} is a tensor, not a "
                                        "group: that name is taken.")
        return key

    def create_group(self, name: str, exist_ok: bool = False) -> Dataset:
        self._check_whole("create a group")
        self._state.check_writable()
        if exist_ok and self._key(name) in self._state.meta.groups:
            return self[name]
        key = self._check_new_name(name)
        parts = key.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in self._state.meta.tensors:
                raise InvalidNameError(f"{sub!r} is a tensor, not a group.")
            if sub not in self._state.meta.groups:
                self._state.root.require_group(sub)
                self._state.meta.groups.append(sub)
        self._state.meta_changed()
        return Dataset(self._state, key)

    def create_tensor(self, name: str, htype: str | None = None, dtype: Any = None,
                      sample_compression: str | None = None, chunk_compression: str | None = None,
                      hidden: bool = False, exist_ok: bool = False, is_link: bool = False,
                      is_sequence: bool = False, verify: bool = True, **info: Any) -> Tensor:
        """Create a tensor. Without ``htype`` it is untyped, as in Deep Lake v3: ``htype`` None,
        treated as generic, until its first non-empty sample makes it generic (or text / json for
        a str / dict first value). ``info`` keys: ``class_names`` and ``fixed_class_names`` (class_label),
        ``coords`` (bbox), anything else is kept in ``tensor.info``. ``is_link``/``is_sequence`` are
        v3's spellings of ``link[...]``/``sequence[...]``. ``verify`` (link tensors): read each
        linked file when it is added (it must exist; an image's shape is kept), as v3 does;
        ``verify=False`` stores links unread. ``max_chunk_size`` (bytes) sets the size of the
        chunks of the sample data (dense rows, the byte heap) instead of the format's; v3's other
        storage tuning arguments (``min_chunk_size``, ``tiling_threshold``, ``create_shape_tensor``,
        ``create_id_tensor``, ``create_sample_info_tensor``, ``verbose``, ``downsampling``) are
        accepted and have no effect: shapes and ids are always kept, and samples are never tiled."""
        max_chunk_size = check_chunk_size(info.pop("max_chunk_size", None))
        for option in V3_STORAGE_OPTIONS:
            info.pop(option, None)
        untyped = htype is None and not (is_sequence or is_link)
        htype = "generic" if htype is None else htype
        if is_sequence and not htype.startswith("sequence"):
            htype = f"sequence[{htype}]"
        if is_link and "link[" not in htype:
            htype = f"sequence[link[{htype[9:-1]}]]" if htype.startswith("sequence[") else f"link[{htype}]"
        self._check_whole("create a tensor")
        state = self._state
        state.check_writable()
        if exist_ok and self._key(name) in state.meta.tensors:
            return self[name]
        key = self._check_new_name(name)
        base, sequence, link = htypes.parse(htype)
        spec = htypes.HTYPES[base]
        sample_compression = compression.canonical(sample_compression, spec.sample_compressions or (),
                                                   f"sample compression for htype {base!r}")
        chunk_compression = compression.canonical(chunk_compression, CHUNK_COMPRESSIONS + IMAGE_CHUNK_CODECS,
                                                  "chunk compression")
        if chunk_compression in IMAGE_CHUNK_CODECS:
            # v3's image codecs as chunk compression: applied here to each sample (same values read back)
            sample_compression = sample_compression or compression.canonical(
                chunk_compression, spec.sample_compressions or (), f"chunk compression for htype {base!r}")
            chunk_compression = None
        if sample_compression and chunk_compression:
            raise UnsupportedCompressionError(
                "Pick sample_compression or chunk_compression, not both.")
        if dtype is not None:
            dtype = htypes.check_dtype(dtype, spec)
        tinfo = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in spec.info.items()}
        if base == "bbox":
            tinfo["coords"] = htypes.check_coords(info.pop("coords", None))
        if "class_names" in info:
            tinfo["class_names"] = [str(c) for c in info.pop("class_names")]
        tinfo.update(info)
        meta = TensorMeta(htype=None if untyped else htype.replace(" ", ""), base_htype=base, kind=spec.kind,
                          dtype=dtype or htypes.default_dtype(spec, sample_compression),
                          sample_compression=sample_compression,
                          chunk_compression=chunk_compression, sequence=sequence, link=link,
                          hidden=hidden, max_chunk_size=max_chunk_size, info=tinfo)
        if link:
            meta.dtype = "str" if spec.kind != "array" else meta.dtype
            meta.verify = bool(verify)
        parent = key.rsplit("/", 1)[0] if "/" in key else None
        if parent and parent not in state.meta.groups:
            Dataset(state).create_group(parent, exist_ok=True)
        state.root.require_group(key)
        state.meta.tensors[key] = meta
        state.tensor_store(key)
        state.meta_changed()
        return Tensor(self, key)

    def create_tensor_like(self, name: str, source: Tensor, unlink: bool = False) -> Tensor:
        """A new tensor ``name`` with the htype, dtype, compressions, flags and info (copied) of
        ``source`` (a tensor of any dataset), and no samples. ``unlink=True`` makes a
        ``link[...]`` source's copy store the data itself (htype without ``link[...]``)."""
        self._check_whole("create a tensor")
        meta = source._meta
        if unlink and meta.link:  # "link[image]" -> "image", "sequence[link[image]]" -> "sequence[image]"
            meta = replace(meta, htype=meta.htype.replace("link[", "", 1)[:-1], link=False)
        return Tensor(self, _create_like(self, name, meta))

    def rechunk(self, tensors: str | Sequence[str] | None = None, num_workers: int = 0, scheduler: str = "threaded",
                progressbar: bool = True) -> None:
        """Rewrite the stored samples of ``tensors`` (names; default: every tensor) in index order,
        without the bytes of replaced samples (updates append to a tensor's byte heap), in chunks
        of each tensor's ``max_chunk_size`` or the format's size: what v3's ``rechunk`` is for
        after many updates. Values, ids and history stay. The work runs in this process
        (``num_workers`` and ``scheduler`` are accepted for v3 code); outside ``with ds:`` it
        is published at once."""
        self._check_whole("rechunk")
        state = self._state
        state.check_writable()
        names = list(self.tensors) if tensors is None else [tensors] if isinstance(tensors, str) else list(tensors)
        keys = [self[name].key for name in names]  # TensorNotFoundError before anything is rewritten
        with progress(len(keys), "rechunking", progressbar) as bar:
            for key in keys:
                state.tensor_store(key).rechunk()
                state.drop_store(key)
                bar.update(1)
        state.after_write()

    def delete_tensor(self, name: str) -> None:
        self._check_whole("delete a tensor")
        state = self._state
        state.check_writable()
        key = self._key(name)
        if key not in state.meta.tensors:
            raise TensorNotFoundError(f"No tensor {name!r} to delete.")
        del state.meta.tensors[key]
        state.drop_store(key)
        del state.root[key]
        state.meta_changed()

    def rename_tensor(self, name: str, new_name: str) -> Tensor:
        """Rename a tensor (``new_name`` is relative to this dataset or group, and may name a new
        group). No sample data is copied: the new keys point at the same stored objects. Diff
        reports the change as a rename; the samples keep their hidden ids."""
        self._check_whole("rename a tensor")
        state = self._state
        state.check_writable()
        key = self._key(name)
        if key not in state.meta.tensors:
            raise TensorNotFoundError(f"No tensor {name!r} to rename; tensors: {sorted(self.tensors)}.")
        new_key = self._check_new_name(new_name)
        parent = new_key.rsplit("/", 1)[0] if "/" in new_key else None
        if parent and parent not in state.meta.groups:
            Dataset(state).create_group(parent, exist_ok=True)
        state.tensor_store(key).flush()
        state.drop_store(key)
        state.zarr_store.move_prefix(key + "/", new_key + "/")
        # same position in the meta document, so tensor order is kept
        state.meta.tensors = {(new_key if k == key else k): m for k, m in state.meta.tensors.items()}
        state.meta_changed()
        return Tensor(self, new_key)

    def _group_key(self, name: str) -> str:
        key = self._key(name)
        if key not in self._state.meta.groups:
            raise TensorNotFoundError(f"No group {name!r}; groups: {sorted(self.groups)}.")
        return key

    def delete_group(self, name: str, large_ok: bool = False) -> None:
        """Delete a group with every tensor and group inside it (``large_ok``: accepted for v3 code)."""
        self._check_whole("delete a group")
        state = self._state
        state.check_writable()
        key = self._group_key(name)
        prefix = key + "/"
        for tensor_key in [k for k in state.meta.tensors if k.startswith(prefix)]:
            del state.meta.tensors[tensor_key]
            state.drop_store(tensor_key)
        state.meta.groups = [g for g in state.meta.groups if g != key and not g.startswith(prefix)]
        del state.root[key]
        state.meta_changed()

    def rename_group(self, name: str, new_name: str) -> None:
        """Rename a group (and so every tensor in it); no sample data is copied. ``new_name`` is
        relative to this dataset or group and keeps the parent: v3 allows only the last part to change."""
        self._check_whole("rename a group")
        state = self._state
        state.check_writable()
        key = self._group_key(name)
        parent = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        new_key = self._check_new_name(new_name)
        if not new_key.startswith(parent) or "/" in new_key[len(parent):]:
            raise InvalidNameError(f"Renaming {name!r} to {new_name!r} would move the group; only its last "
                                   "name part may change.")
        old_prefix, new_prefix = key + "/", new_key + "/"
        for tensor_key in [k for k in state.meta.tensors if k.startswith(old_prefix)]:
            state.tensor_store(tensor_key).flush()
            state.drop_store(tensor_key)
        state.root.require_group(new_key)
        state.zarr_store.move_prefix(old_prefix, new_prefix)

        def moved(k: str) -> str:
            return new_key if k == key else new_prefix + k[len(old_prefix):] if k.startswith(old_prefix) else k

        state.meta.tensors = {moved(k): m for k, m in state.meta.tensors.items()}
        state.meta.groups = [moved(g) for g in state.meta.groups]
        state._root = None  # the zarr group tree changed under the open root group
        state.meta_changed()

    # -- writing rows -----------------------------------------------------------------------------
    def _row_batches(self, columns: dict[str, Sequence[Any]], skip_ok: bool,
                     append_empty: bool = False) -> list[tuple[Tensor, list[Any]]]:
        """One (tensor, values) batch per tensor a row write touches. Tensors left out are an error
        (KeyError-derived) unless ``skip_ok`` (they get nothing) or ``append_empty`` (they get empty
        samples). The tensors written must have equal lengths, so each new row lines up."""
        if self._rows is not None or self._columns is not None:
            raise SampleError("Append to the dataset itself, not to a view of it.")
        missing = set(self.tensors) - set(columns)
        unknown = set(columns) - set(self.tensors)
        if unknown:
            raise TensorNotFoundError(f"No tensors named {sorted(unknown)}; create them first.")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise SampleError(f"All tensors need the same number of samples; got lengths {sorted(lengths)}.")
        if missing and append_empty:
            count = lengths.pop() if lengths else 0
            columns = {**columns, **{name: [None] * count for name in self.tensors if name in missing}}
        elif missing and not skip_ok:
            raise MissingTensorValuesError(f"Values missing for tensors {sorted(missing)}; pass them, or "
                                           "skip_ok=True to leave them out, or append_empty=True to give them "
                                           "empty samples.")
        batches = [(self._tensor(self._key(name)), list(values)) for name, values in columns.items()]
        current = {name: len(tensor) for name, (tensor, _) in zip(columns, batches)}
        if len(set(current.values())) > 1:
            raise SampleError(f"The tensors written have different lengths {current}, so a new row would not line "
                              "up; append to them one by one (ds.<tensor>.append) or pass append_empty=True.")
        return batches

    def append(self, sample: dict[str, Any] | Dataset, skip_ok: bool = False, append_empty: bool = False) -> None:
        """Append one row: a dict of tensor name -> value, or a row of another dataset
        (``ds2.append(ds1[0])``, its tensors by name). All tensors get it or none does; see
        ``extend`` for ``skip_ok`` and ``append_empty``."""
        if isinstance(sample, Dataset):
            if not sample._single:
                raise SampleError("ds.append takes one row (ds1[i]); use ds.extend(ds1[a:b]) for several.")
            sample = {name: tensor for name, tensor in sample.tensors.items()}
        if not isinstance(sample, dict):
            raise SampleError(f"ds.append takes a dict of tensor name -> value (or a row of another dataset); "
                              f"got {type(sample).__name__}. To add to one tensor, call ds.<tensor>.append(value).")
        self.extend({k: [v] for k, v in sample.items()}, skip_ok=skip_ok, append_empty=append_empty)

    def extend(self, samples: Mapping[str, Any] | Dataset | pa.Table | pa.RecordBatch, skip_ok: bool = False,
               append_empty: bool = False, ignore_errors: bool = False, progressbar: bool = False) -> None:
        """Append rows given as a dict of equal-length sequences; all or nothing. Every tensor needs
        values unless ``skip_ok=True`` (the others get nothing) or ``append_empty=True`` (the others
        get empty samples); the tensors written must have equal lengths. ``ignore_errors=True``
        leaves out the rows with a value some tensor refuses (in every tensor) instead of raising;
        ``progressbar=True`` shows the progress of validating and encoding the values.

        Every row gets one hidden id, shared by all tensors it lands in. ``samples`` may also be
        another dataset or view: its tensors are matched by name; or a pyarrow Table (or
        RecordBatch): its columns by name. Arrow columns are read by ``format.arrow_values``."""
        if isinstance(samples, Dataset):
            samples = {name: [t for t in tensor] for name, tensor in samples.tensors.items()}
        elif arrow_values.is_arrow_table(samples):
            samples = {name: samples.column(name) for name in samples.column_names}
        if isinstance(samples, dict) and any(arrow_values.is_arrow(v) for v in samples.values()):
            shown = self.tensors  # an unknown name is refused below, by name
            samples = {name: arrow_values.values_for(v, shown[name]._meta, name)
                       if arrow_values.is_arrow(v) and name in shown else v for name, v in samples.items()}
        if not isinstance(samples, dict):
            raise SampleError(f"ds.extend takes a dict of tensor name -> list of values (or another dataset); "
                              f"got {type(samples).__name__}. To add to one tensor, call ds.<tensor>.extend(values).")
        self._state.check_writable()
        batches = self._row_batches(samples, skip_ok, append_empty)
        n = len(batches[0][1]) if batches else 0
        with progress(n * len(batches), f"extending {self.path}", progressbar) as bar, skip_hint(n > 1):
            prepared = self._state.prepare_all(batches, ignore_errors, on_sample=lambda: bar.update(1))
        self._state.commit_prepared(prepared, new_ids(len(prepared[0].encoded) if prepared else 0))

    def pop(self, index: int | Sequence[int] | None = None) -> None:
        """Remove rows (default: the last one; an int or a list of indices, each once, counted
        over the longest tensor) from every tensor; later rows shift down. As in v3, a tensor
        shorter than a row keeps its samples and loses only the rows it has. All tensors change
        inside one write."""
        self._state.check_writable()
        rows = _index.pop_positions(index, self.max_len, "dataset")
        if not len(rows):
            return
        with self:
            for key in self._visible(include_hidden=True):
                tensor = Tensor(self, key)
                mine = rows[rows < len(tensor)]
                if len(mine):
                    tensor.pop(mine.tolist())

    def update(self, sample: dict[str, Any]) -> None:
        """Replace the values of the selected rows (``ds[i].update({...})``: one value per tensor;
        a multi-row view takes a sequence per tensor) in the named tensors. Every value is checked
        before anything is written: all tensors change or none does. Hidden ids stay."""
        state = self._state
        state.check_writable()
        if not isinstance(sample, dict):
            raise SampleError(f"update takes a dict of tensor name -> value; got {type(sample).__name__}.")
        unknown = set(sample) - set(self.tensors)
        if unknown:
            raise TensorNotFoundError(f"No tensors named {sorted(unknown)}; tensors: {sorted(self.tensors)}.")
        tensors = {name: self[name] for name in sample}
        state.prepare_all([(t, [sample[name]] if self._single else list(sample[name])) for name, t in tensors.items()])
        with self:
            for name, tensor in tensors.items():
                tensor.assign(sample[name])  # the selected rows, whole (t[0] would index inside a row)

    def random_split(self, lengths: Sequence[int | float]) -> list[Dataset]:
        """Views that split this dataset's rows at random (``np.random``, so ``np.random.seed`` makes
        it repeatable): ``lengths`` are row counts summing to ``len(ds)``, or fractions summing to 1
        (the rows left by rounding go to the first views, one each)."""
        n = len(self)
        lengths = list(lengths)
        if lengths and all(isinstance(x, float) or 0 < x < 1 for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
            counts = [int(np.floor(n * f)) for f in lengths]
            for i in range(n - sum(counts)):
                counts[i % len(counts)] += 1
        elif all(isinstance(x, (int, np.integer)) and x >= 0 for x in lengths) and sum(lengths) == n:
            counts = [int(x) for x in lengths]
        else:
            raise SampleError(f"random_split needs row counts summing to {n} or fractions summing to 1; got {lengths}.")
        order = np.random.permutation(n)
        bounds = np.cumsum([0] + counts)
        return [self[np.sort(order[a:b]).tolist()] for a, b in zip(bounds[:-1], bounds[1:])]

    # -- the dataset as a whole ---------------------------------------------------------------------
    def copy(self, dest: str | os.PathLike[str], tensors: list[str] | None = None, overwrite: bool = False,
             storage_options: dict[str, Any] | None = None, progressbar: bool = True, **v3_options: Any) -> Dataset:
        """``dl.copy(self, dest, ...)``: a new dataset at ``dest`` with the rows and tensors this
        shows (all of them, or ``tensors``), at the current version, without history. v3's
        ``num_workers``, ``scheduler``, ``token`` ... are accepted."""
        from .api import copy
        return copy(self, dest, tensors=tensors, overwrite=overwrite, dest_storage_options=storage_options,
                     progressbar=progressbar, **v3_options)

    def connect(self, *args: Any, **kwargs: Any) -> None:
        """Deep Lake v3: register this dataset with Activeloop's platform (``dl.connect``); there
        is none here: UnsupportedFeatureError."""
        from .api import connect
        connect(*args, **kwargs)

    def rename(self, path: str | os.PathLike[str]) -> None:
        """Deep Lake v3's ``ds.rename``: move this dataset to ``path``, which differs from its
        path in the last part only (same folder or bucket; ``DatasetRenameError`` otherwise) and
        holds nothing yet (``DatasetExistsError`` otherwise). Every version, branch, tag and saved
        view moves; this object (and its views) then reads and writes there, at the same version.
        A local folder is renamed in one step; on an object store the objects are copied, then
        removed at the old path (a progress bar shows both)."""
        self._check_whole("rename the dataset")
        if self._group:
            raise ViewOperationError(f"{self!r} is a group; rename it with ds.rename_group({self._group!r}, ...).")
        from .api import rename_open
        rename_open(self, path)

    def delete(self, large_ok: bool = False) -> None:
        """Delete this dataset's storage (every version, branch, tag and saved view), as
        ``dl.delete(path)`` does: one storing more than ``constants.DELETE_SAFETY_SIZE`` bytes
        needs ``large_ok=True``. This object cannot be used afterwards."""
        self._check_whole("delete the dataset")
        if self._group:
            raise ViewOperationError(f"{self!r} is a group; delete it with ds.delete_group({self._group!r}).")
        from .api import delete_open
        delete_open(self, large_ok=large_ok)

    @property
    def min_view(self) -> Dataset:
        """A view of the first ``min_len`` rows: every tensor has a sample in each row."""
        return self[: self.min_len]

    @property
    def max_view(self) -> Dataset:
        """A view of every row up to ``max_len`` (of this view's rows, for a view): tensors
        shorter than the longest read as empty samples past their end, as v3 pads them; nothing
        is written, and writing to a padded row is a SampleIndexError."""
        rows = np.arange(self.max_len, dtype=np.int64) if self._rows is None else self._rows
        return self._derived(rows=rows, padded=True)

    # -- batching ---------------------------------------------------------------------------------
    def __enter__(self) -> Dataset:
        self._state.batch_depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self._state.batch_depth -= 1
        if self._state.batch_depth == 0 and not self.read_only:
            self._state.flush()

    def flush(self) -> None:
        """Write buffered appends to storage."""
        if not self.read_only:
            self._state.flush()

    def clear_cache(self) -> None:
        """Write buffered samples (outside ``with ds:`` they are published, as every write is;
        inside, the block still publishes them when it ends), then forget the opened tensor
        columns and their decoded chunks: the next reads come from storage."""
        state = self._state
        if not state.read_only:
            state.flush(publish=state.batch_depth == 0)
        state.drop_caches()

    # -- pickling ---------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """What a pickled dataset reopens: its storage location (with the options and
        credentials it was opened with, and its cache chain's settings), its version (the
        branch, or the checked-out commit), read-only mode, and what this view shows. Buffered
        writes are written (and published) first, so the copy sees them. An in-memory dataset
        lives in this process only: DatasetPickleError."""
        state = self._state
        if is_memory(state.path):
            raise DatasetPickleError(f"{state.path!r} is an in-memory dataset, which cannot be pickled: its samples "
                                     "live in this process only. Store it on disk or s3:// (dl.copy) to share it.")
        if not state.read_only:
            state.flush()
        vstore = state.zarr_store
        return {"path": state.path, "storage": vstore.repository.store, "cache": vstore.repository.cache,
                "version": vstore.branch or vstore.head,
                "group": self._group, "rows": self._rows, "single": self._single, "columns": self._columns,
                "padded": self._padded, "iteration": self._iteration}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        saved = dict(saved)
        path, storage, version = saved.pop("path"), saved.pop("storage"), saved.pop("version")
        store, meta = open_version(path, Repository(storage, saved.pop("cache", None)), version, storage.read_only)
        Dataset.__init__(self, DatasetState(path, store, meta), **saved)

    # -- display ----------------------------------------------------------------------------------
    def summary(self, force: bool = False) -> None:
        """Print this dataset's repr and Deep Lake v3's table of its tensors (htype, shape
        interval, dtype, sample compression; see ``core.summary``). A view of 10000 rows or more
        needs ``force=True`` (ViewTooLargeError, a ValueError, otherwise)."""
        _summary.check_view_size(self, force)
        print(self)
        print(_summary.dataset_table(self))

    def __repr__(self) -> str:
        """Deep Lake v3's form: ``Dataset(path='...', read_only=True, index=Index([...]),
        group_index='g', tensors=[...])``, each part but path and tensors only when it applies."""
        mode = "read_only=True, " if self.read_only else ""
        index = _index.v3_text(self._rows, self._single)
        index = f"index={index}, " if index else ""
        group = f"group_index={self._group!r}, " if self._group else ""
        return f"Dataset(path={self.path!r}, {mode}{index}{group}tensors={list(self.tensors)})"

    def _repr_html_(self) -> str:
        """Jupyter's view: path, version, rows and a table of the tensors (htype, dtype, shape,
        compression), escaped, without scripts, from metadata only (``core.html_repr``)."""
        return html_repr.dataset_html(self)


def read_meta(path: str, store: zarr.abc.store.Store) -> DatasetMeta:
    """Read the root document of a dataset at ``store``; raise DatasetError if it is not one.
    The empty root commit every repository starts from (and a branch reset to it) reads as an
    empty dataset."""
    if isinstance(store, VersionedStore) and store.is_empty_version:
        return DatasetMeta()
    doc = _stored_root_attribute(store)
    owned = doc is not None  # parsed here just now: DatasetMeta takes it without a copy
    if doc is None:  # not a zarr v3 group document we can read directly: zarr reads it and says why
        try:
            root = zarr.open_group(store=store, mode="r")
            doc = root.attrs.get(ATTR_KEY)
        except (FileNotFoundError, KeyError, ValueError, zarr.errors.GroupNotFoundError) as exc:
            raise DatasetNotFoundError(f"No deeplake_nb dataset at {path!r}; create one with dl.empty(path).") from exc
    if not isinstance(doc, dict):
        raise DatasetNotFoundError(f"{path!r} is a zarr group but not a deeplake_nb dataset; "
                                   "create one with dl.empty(path).")
    try:
        meta = DatasetMeta.from_json(doc, owned=owned)
    except (TypeError, KeyError) as exc:
        raise DatasetError(f"The dataset metadata at {path!r} is damaged ({exc}).") from exc
    return meta


def _stored_root_attribute(store: zarr.abc.store.Store) -> Any:
    """Our attribute of the root group, read straight from a version's ``zarr.json`` (served
    from its metadata document in memory: no trip through zarr's event loop, ~0.5 ms a version
    open); None when that is not a zarr v3 group document holding it (zarr then decides)."""
    if not isinstance(store, VersionedStore):
        return None
    raw = store.get_sync("zarr.json")
    doc = v3_document(None if raw is None else raw.to_bytes(), "group")
    if doc is None:
        return None
    attributes = doc.get("attributes")
    return attributes.get(ATTR_KEY) if isinstance(attributes, dict) else None


def open_state(path: str, store: VersionedStore, frozen: bool = False) -> DatasetState:
    """The shared state of a dataset shown at the version ``store`` opens (``frozen``: opened
    only to be read, see ``DatasetState.frozen``)."""
    return DatasetState(path, store, read_meta(path, store), frozen)


def state_over_storage(storage: Any, read_only: bool | None) -> DatasetState:
    """The state of the dataset stored in ``storage``, a storage provider (its ``root`` and its
    zarr ``store``), at branch main: read-only when ``read_only`` is true or the provider or its
    store is (v3's default, None, follows the provider). DatasetNotFoundError when no dataset is
    stored there."""
    store = getattr(storage, "store", None)
    if not isinstance(store, zarr.abc.store.Store):
        raise DatasetError(f"Dataset(storage=...) takes a storage provider (deeplake.core.storage, such as "
                           f"ds.storage), not {type(storage).__name__}; or open a path with dl.load(path).")
    if read_only or storage.read_only:
        store = store if store.read_only else store.with_read_only(True)
    repo = Repository(store)
    if not repo.is_initialized:
        raise DatasetNotFoundError(f"No dataset in the storage at {storage.root!r}; create one with "
                                   "dl.empty(path).")
    versioned, meta = open_version(storage.root, repo, MAIN, store.read_only)
    return DatasetState(storage.root, versioned, meta)
