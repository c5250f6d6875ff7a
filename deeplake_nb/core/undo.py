"""Undoing a failed write that only adds to a dataset: ``dl.copy`` into an open dataset, an
ingest into one.

``undone_on_failure(ds)`` runs a block that creates tensors and groups, appends rows, adds class
names, changes the dataset's info or ``single_row`` flag and creds keys. If the block raises, the
dataset is put back as it was before it, and the error propagates:

- when ``ds`` had no uncommitted change (nothing published since its head commit, nothing
  buffered), its branch is reset to that commit: exactly the state before, whatever the block
  published meanwhile (the branch draws a new ``pending_commit_id``, as every reset does);
- otherwise the additions are taken back (the uncommitted changes made before the block are
  kept): the tensors and groups the block made are deleted, the rows it appended to the other
  tensors are popped, and the dataset's info and flag, the class names of the other tensors and
  the creds keys are restored. Objects written for what is taken back and not yet published are
  deleted from the store.

The block runs inside ``with ds:``, so a failed block publishes only the restored state (and a
successful one publishes once, at its end, unless it flushed earlier). Writes that change samples
in place are not undone: blocks given here only add.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from . import creds as _creds

if TYPE_CHECKING:
    from .dataset import Dataset, DatasetState


@contextmanager
def undone_on_failure(ds: Dataset) -> Iterator[None]:
    """Run the block; if it raises, put ``ds`` (a whole dataset or group, open for writing) back
    as it was before the block and re-raise; see the module docstring."""
    state = ds._state
    state.check_writable()
    before = _Snapshot(ds)
    with ds:
        try:
            yield
        except BaseException:
            before.restore(ds)
            raise


class _Snapshot:
    """What ``undone_on_failure`` restores: the dataset's state before the block."""

    def __init__(self, ds: Dataset) -> None:
        state = ds._state
        meta = state.meta
        self.clean = not ds.has_head_changes
        self.lengths = {key: state.tensor_length(key) for key in meta.tensors}
        self.class_names = {key: list(m.info["class_names"]) for key, m in meta.tensors.items()
                            if "class_names" in m.info}
        self.groups = list(meta.groups)
        self.info = copy.deepcopy(meta.info)
        self.single_row = meta.single_row
        self.creds = state.link_creds
        self.creds_state = copy.deepcopy(self.creds.__getstate__())

    def restore(self, ds: Dataset) -> None:
        state = ds._state
        if self.clean:
            ds.reset(force=True)
        else:
            self._take_back(ds, state)
        if state.link_creds is not self.creds or state.link_creds.__getstate__() != self.creds_state:
            self.creds.__setstate__(self.creds_state)
            state._link_creds = self.creds
            _creds.save(state)

    def _take_back(self, ds: Dataset, state: DatasetState) -> None:
        from .dataset import Dataset
        root = Dataset(state)
        for key in [k for k in state.meta.tensors if k not in self.lengths]:
            root.delete_tensor(key)
        for key in sorted(set(state.meta.groups) - set(self.groups), key=len):
            if key in state.meta.groups:  # an outer group made by the block took it along
                root.delete_group(key)
        meta = state.meta
        for key, length in self.lengths.items():
            store = state.tensor_store(key)
            if len(store) > length:
                root[key].pop(list(range(length, len(store))))
            names = self.class_names.get(key)
            if names is not None:
                meta.tensors[key].info["class_names"] = names
            else:
                meta.tensors[key].info.pop("class_names", None)
        meta.info.clear()
        meta.info.update(self.info)
        meta.single_row = self.single_row
        state.meta_changed()
