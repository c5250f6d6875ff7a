"""Change logs: what a commit changed, recorded in its document, and the net change along a path.

At commit time :func:`record` writes into ``Commit.changes`` the commit's changes against its
first parent, per tensor: created / renamed from / cleared / info updated, and the hidden ids
added, updated and deleted with their rows (added and updated: positions in the commit's own
version; deleted: positions in the parent). It costs what :func:`diff.dataset_diff` costs on
the keys the commit touched (tensors whose keys are unchanged are not read; inside a tensor,
only changed chunks). Id lists longer than ``INLINE_IDS`` are not written (only their count and
row runs): the readers then fall back to comparing versions, which costs about as much as such
a change anyway.

:func:`path_changes` composes the logs of the commits from a descendant down to an ancestor
(first parents) into one :class:`diff.TensorDiff` per tensor, without opening any version;
``diff`` and ``merge`` use it, so their cost follows the size of the changes. It returns None
when a commit on the way has no log (datasets written before logs existed), when the
ancestor is not on the first-parent line, or when a log left its ids out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .diff import TensorDiff, dataset_diff, match_tensors

if TYPE_CHECKING:
    from ..version import Repository
    from .dataset import Dataset

LOG_FORMAT = 1
INLINE_IDS = 4096
"""The most ids one list of a log holds; longer lists keep only their count and row runs."""


@dataclass
class NetChanges:
    """The changes from an ancestor version to a descendant: per tensor of the descendant (keyed
    by its name there) a TensorDiff whose ``renamed_from`` is its ancestor name when it differs;
    ``deleted``: ancestor names of tensors the descendant no longer has."""

    tensors: dict[str, TensorDiff] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    base_names: dict[str, str] = field(default_factory=dict)
    """Descendant name -> ancestor name, for tensors that existed in the ancestor and changed."""
    info: bool = False
    """Whether the dataset's info changed."""
    rows_known: dict[str, bool] = field(default_factory=dict)
    """Per tensor: whether ``added_indices``/``updated_indices`` are positions in the descendant."""

    def of(self, key: str) -> TensorDiff:
        """The changes of tensor ``key`` (an empty TensorDiff when it did not change)."""
        return self.tensors.get(key) or TensorDiff()


# -- recording ----------------------------------------------------------------------------------------
def _runs(rows: np.ndarray) -> list[list[int]]:
    """Sorted row numbers as [start, stop) runs."""
    rows = np.unique(np.asarray(rows, np.int64))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(rows)]]) - 1
    return [[int(rows[a]), int(rows[b]) + 1] for a, b in zip(starts.tolist(), stops.tolist())]


def _id_list(ids: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """One list of a log: count, rows (each id's, in order, when inline) and ids (when short)."""
    out: dict[str, Any] = {"n": int(len(ids))}
    if len(ids) <= INLINE_IDS:
        out["ids"] = [int(i) for i in np.asarray(ids, np.uint64)]
        out["rows"] = [int(r) for r in np.asarray(rows, np.int64)]
    else:
        out["runs"] = _runs(rows)
    return out


def record(old: Dataset | None, new: Dataset) -> dict[str, Any]:
    """The change log of the step ``old`` (the parent version; None: nothing) -> ``new``, as a
    JSON-ready dict for ``Commit.changes``."""
    if old is None:
        return {}
    matched = match_tensors(old, new)
    source = {n: o for o, n in matched.items()}
    changes = dataset_diff(old, new, matched)
    old_meta, new_meta = old._state.meta.tensors, new._state.meta.tensors
    tensors: dict[str, Any] = {}
    for key, meta in new_meta.items():
        d = changes.get(key)
        before = old_meta.get(source.get(key, "")) if key in source else None
        info = before is not None and before.info != meta.info
        if d is None and not info:
            continue
        d = d or TensorDiff()
        cleared = bool(before is not None and not d.created and len(d.removed)
                       and len(d.removed) == old[source[key]]._store.stored_length)
        tensors[key] = _entry(d, cleared, info)
    deleted = [k for k in old_meta if k not in matched]
    return {"log": LOG_FORMAT, "tensors": tensors, "deleted": deleted,
            "hidden": [k for k in deleted if old_meta[k].hidden],
            "renamed": [[o, matched[o]] for o in old_meta if matched.get(o, o) != o and not old_meta[o].hidden],
            "info": old._state.meta.info != new._state.meta.info}


@dataclass
class SampleChanges:
    """A step that changed only samples and tensor infos of tensors the parent has, under their
    names there (what a merge that creates, deletes and renames no tensor does), as the step
    itself saw it: per tensor written to, a TensorDiff against the parent (ids added and
    updated with their rows in the new version, ids removed with their rows in the parent)."""

    tensors: dict[str, TensorDiff] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)
    """Tensors whose every sample the step removed."""
    info: set[str] = field(default_factory=set)
    """Tensors whose info the step changed."""


def record_samples(step: SampleChanges) -> dict[str, Any]:
    """The change log of ``step``, as :func:`record` gives it, without reading any version."""
    keys = [*step.tensors, *sorted(step.info - set(step.tensors))]
    tensors = {key: _entry(step.tensors.get(key) or TensorDiff(), key in step.cleared, key in step.info)
               for key in keys}
    return {"log": LOG_FORMAT, "tensors": tensors, "deleted": [], "hidden": [], "renamed": [], "info": False}


def _entry(d: TensorDiff, cleared: bool, info: bool) -> dict[str, Any]:
    return {"created": d.created, "from": d.renamed_from, "cleared": cleared, "info": info,
            "added": _id_list(d.added, d.added_indices), "updated": _id_list(d.updated, d.updated_indices),
            "removed": _id_list(d.removed, d.removed_indices)}


def has_log(changes: dict[str, Any]) -> bool:
    return changes.get("log") == LOG_FORMAT


# -- reading ------------------------------------------------------------------------------------------
def _ids(part: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    if "ids" not in part:
        return None
    return np.asarray(part["ids"], np.uint64), np.asarray(part["rows"], np.int64)


def _rows(part: dict[str, Any]) -> np.ndarray:
    """Every row of a list (inline or as runs), sorted."""
    if "rows" in part:
        return np.sort(np.asarray(part["rows"], np.int64))
    runs = part.get("runs", [])
    return np.concatenate([np.zeros(0, np.int64)] + [np.arange(a, b, dtype=np.int64) for a, b in runs])


def step_entry(entry: dict[str, Any] | None) -> dict[str, Any]:
    """The per-tensor fields of Deep Lake v3's ``diff(as_dict=True)`` entry, from one log entry
    (None: the tensor did not change)."""
    if entry is None:
        return {"created": False, "cleared": False, "info_updated": False, "data_added": [0, 0],
                "data_updated": set(), "data_deleted": set(), "data_transformed_in_place": False}
    added = _rows(entry["added"])
    return {"created": entry["created"], "cleared": entry["cleared"], "info_updated": entry["info"],
            "data_added": [int(added.min()), int(added.max()) + 1] if len(added) else [0, 0],
            "data_updated": set(_rows(entry["updated"]).tolist()),
            "data_deleted": set() if entry["cleared"] else set(_rows(entry["removed"]).tolist()),
            "data_transformed_in_place": False}


def entries(changes: dict[str, Any], visible: Sequence[str], step: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensor entry, dataset entry) of Deep Lake v3's ``diff(as_dict=True)`` for a commit with a
    log (``visible``: the commit's tensors that are not hidden, in order), as
    :func:`diff.change_entries` gives them by comparing versions."""
    tensors: dict[str, Any] = {"commit_id": step["commit_id"]}
    for key in visible:
        tensors[key] = step_entry(changes["tensors"].get(key))
    renamed = OrderedDict((o, n) for o, n in changes["renamed"] if n in tensors)
    deleted = [k for k in changes["deleted"] if k not in changes["hidden"]]
    return tensors, {**step, "info_updated": changes["info"], "renamed": renamed, "deleted": deleted}


def _entry_diff(entry: dict[str, Any]) -> TensorDiff | None:
    added, updated, removed = (_ids(entry[k]) for k in ("added", "updated", "removed"))
    if added is None or updated is None or removed is None:
        return None
    (a, ar), (u, ur), (r, rr) = added, updated, removed
    return TensorDiff(created=entry["created"], renamed_from=entry["from"], added=a, added_indices=ar,
                      updated=u, updated_indices=ur, removed=r, removed_indices=rr)


def _minus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[~np.isin(a, b)] if len(a) and len(b) else a


def _union(*parts: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([np.zeros(0, np.uint64), *parts]).astype(np.uint64))


def _rows_of(ids: np.ndarray, sources: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows of ``ids`` looked up in (ids, rows) pairs, later pairs winning; -1 where unknown."""
    if not len(ids):
        return np.zeros(0, np.int64)
    keys = np.concatenate([np.zeros(0, np.uint64)] + [s[0].astype(np.uint64) for s in sources])
    rows = np.concatenate([np.zeros(0, np.int64)] + [s[1].astype(np.int64) for s in sources])
    last = {int(k): int(r) for k, r in zip(keys.tolist(), rows.tolist())}
    return np.asarray([last.get(int(i), -1) for i in ids.tolist()], np.int64)


def _compose(prev: TensorDiff, step: TensorDiff, rows_valid: bool) -> TensorDiff:
    """``prev`` (ancestor -> X) followed by ``step`` (X -> Y): ancestor -> Y. Rows of the result
    are Y's when ``rows_valid`` (the step deleted nothing, so X's rows still hold in Y)."""
    revived = np.intersect1d(prev.removed, step.added)  # deleted, then brought back (a merge)
    added = _union(_minus(prev.added, step.removed), _minus(step.added, revived))
    removed = _union(_minus(prev.removed, revived), _minus(step.removed, prev.added))
    updated = _minus(_minus(_union(prev.updated, step.updated, revived), added), removed)
    sources = ([(prev.added, prev.added_indices), (prev.updated, prev.updated_indices)] if rows_valid else [])
    sources += [(step.added, step.added_indices), (step.updated, step.updated_indices)]
    return TensorDiff(created=prev.created, added=added, added_indices=_rows_of(added, sources),
                      updated=updated, updated_indices=_rows_of(updated, sources), removed=removed)


def compose(net: NetChanges, step: NetChanges) -> NetChanges:
    """``net`` (ancestor -> X) followed by ``step`` (X -> Y, one commit or uncommitted changes)."""
    out = NetChanges(info=net.info or step.info)
    consumed: set[str] = set()
    for key, d in step.tensors.items():
        src = None if d.created else (d.renamed_from or key)
        prev = None if src is None else net.tensors.get(src)
        if src is not None:
            consumed.add(src)
        base = None if src is None else (None if prev is not None and prev.created else net.base_names.get(src, src))
        rows_valid = not len(d.removed) and (prev is None or (src is not None and net.rows_known.get(src, False)))
        composed = d if prev is None else _compose(prev, d, rows_valid)
        composed.created = d.created or (prev is not None and prev.created)
        composed.deleted = False
        composed.renamed_from = base if base != key else None
        out.tensors[key] = composed
        out.rows_known[key] = prev is None or rows_valid
        if base is not None:
            out.base_names[key] = base
    deleted = set(net.deleted)
    for name in step.deleted:
        consumed.add(name)
        prev = net.tensors.get(name)
        if prev is None or not prev.created:
            deleted.add(net.base_names.get(name, name))
    for key, d in net.tensors.items():
        if key not in consumed and key not in out.tensors:
            out.tensors[key], out.rows_known[key] = d, net.rows_known.get(key, False)
            if key in net.base_names:
                out.base_names[key] = net.base_names[key]
    out.deleted = sorted(deleted)
    return out


def from_log(changes: dict[str, Any]) -> NetChanges | None:
    """One commit's log as NetChanges (parent -> commit); None when it has no usable log."""
    if not has_log(changes):
        return None
    out = NetChanges(deleted=list(changes["deleted"]), info=bool(changes["info"]))
    for key, entry in changes["tensors"].items():
        d = _entry_diff(entry)
        if d is None:
            return None
        out.tensors[key] = d
        out.rows_known[key] = True
    return out


def from_diff(old: Dataset, new: Dataset) -> NetChanges:
    """The changes ``old`` -> ``new`` compared directly (tensors whose keys changed only)."""
    matched = match_tensors(old, new)
    out = NetChanges(deleted=[k for k in old._state.meta.tensors if k not in matched],
                     info=old._state.meta.info != new._state.meta.info)
    for key, d in dataset_diff(old, new, matched).items():
        if not d.deleted:
            out.tensors[key], out.rows_known[key] = d, True
    return out


def path_changes(repo: Repository, ancestor: str, descendant: str) -> NetChanges | None:
    """The net changes from commit ``ancestor`` to commit ``descendant`` from the logs of the
    commits between them (first parents); None when they cannot say (see the module docstring)."""
    steps: list[NetChanges] = []
    current = repo.commits.get(descendant)
    while current.id != ancestor:
        step = from_log(current.changes)
        if step is None or not current.parents:
            return None
        steps.append(step)
        current = repo.commits.get(current.parents[0])
    net = NetChanges()
    for step in reversed(steps):
        net = compose(net, step)
    return net
