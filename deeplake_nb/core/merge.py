"""Three-way merge at sample granularity, using hidden sample ids and the common ancestor, with
Deep Lake v3's rules for tensors and samples.

Tensors are matched through the ancestor, following renames on either side (a rename keeps the
tensor's identity and its sample ids). For a tensor both sides have, the changes from the
ancestor to *theirs* are replayed onto *ours*, as v3 does: their appended samples are appended
(ids kept), their updates replace our samples, and a sample we deleted that they updated comes
back with their value. Their deletions are not replayed (v3: a merge brings samples in and
updates them, it does not remove any), unless ``delete_removed_samples``: then they delete ours
too, and a sample updated on one side and deleted on the other is a conflict. A sample updated
on both sides to different values is a conflict: MergeConflictError, unless
``conflict_resolution`` is "ours" (keep ours) or "theirs" (take theirs). Class names are
reconciled by name (their class ids are translated to ours, and names only they have are added).

Tensor-level rules (v3's): tensors created on their side are created here with all their
samples; created on both sides, they merge (their samples are appended). A tensor they deleted is
kept unless ``delete_removed_tensors``; one we deleted comes back (as theirs) when they changed
it. Their rename is applied here, unless we renamed the tensor differently, deleted it, or
already use the new name for another tensor: those are conflicts that only ``force`` settles
(their tensor comes over as a new tensor under their name, or merges into ours of that name).
Two tensors of one name whose htype, dtype or compressions differ cannot merge (a conflict).

Rows stay whole: a row that comes back (deleted here, updated there) comes back in every
tensor that holds it, not only in the tensor where the update happened; with
``delete_removed_samples`` and "ours", a row they deleted that we updated stays in every tensor.
Samples that arrive (appended or revived) are appended in their order on the target.

Each side's changes since the ancestor come from the commits' change logs when they have them
(:mod:`change_log`), else from comparing the versions; a tensor that did not change on their
side (and holds no row to bring back) is not read at all, and samples are found in a tensor at
the rows the logs name (checked against its ids) before any id index is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MergeConflictError, VersionArgumentError
from .change_log import NetChanges, SampleChanges
from .diff import IdIndex, TensorDiff, encoded_digests, match_tensors, tensor_diff, translate_class_ids

if TYPE_CHECKING:
    from .dataset import Dataset
    from ..format.meta import TensorMeta
    from .tensor import Tensor, TensorMetaView

RESOLUTIONS = (None, "ours", "theirs")
_NO_IDS = np.empty(0, np.uint64)
_MATCHED = ("htype", "dtype", "sample_compression", "chunk_compression")
"""Tensor properties both sides must agree on for their samples to merge."""


@dataclass
class _Plan:
    """What merging one tensor that both sides have means."""

    their_key: str
    ours: TensorDiff
    theirs: TensorDiff
    conflicts: np.ndarray
    """Samples changed differently on both sides."""
    agreed: np.ndarray
    """Samples both sides updated to the same value (nothing to do)."""
    class_map: np.ndarray | None
    """Their class id -> our class id (class_label tensors), after adding ``new_names``."""
    new_names: list[str]
    deletions: bool
    """Whether their deletions are replayed (``delete_removed_samples``)."""
    our_rows: _Rows
    their_rows: _Rows
    rows_known: bool
    """Whether the indices in ``theirs`` are rows of their tensor."""


@dataclass
class _Decisions:
    """Tensor-level outcome of a merge, before any sample is touched."""

    pairs: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    """Our key -> (ancestor key or None, their key): tensors whose samples merge."""
    renames: dict[str, str] = field(default_factory=dict)
    """Our key -> their name for it."""
    copies: list[str] = field(default_factory=list)
    """Their keys to create here with all their samples."""
    deletions: list[str] = field(default_factory=list)
    """Our keys to delete."""
    conflicts: dict[str, str] = field(default_factory=dict)
    """Tensor-level conflicts: their tensor's name -> what happened; ``force`` settles them."""
    stuck: dict[str, str] = field(default_factory=dict)
    """Tensor-level conflicts that ``force`` cannot settle."""

    def merge_or_copy(self, their_key: str, our_keys: set[str]) -> None:
        """Their tensor comes over under its own name: merged into ours of that name, if any."""
        if their_key in our_keys:
            self.pairs[their_key] = (None, their_key)
        else:
            self.copies.append(their_key)


class _Rows:
    """Where sample ids are in one tensor: looked up at hinted rows first (checked against the
    stored ids); an index of every id is built only for ids the hints miss."""

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor
        self._index: IdIndex | None = None

    def find(self, ids: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """Row of each id, -1 where the tensor does not hold it."""
        ids = np.asarray(ids, np.uint64)
        out = np.full(len(ids), -1, np.int64)
        store = self.tensor._store
        if store.has_pending:
            store.flush()
        if hints is not None and len(ids):
            hints = np.asarray(hints, np.int64)
            at = np.flatnonzero((hints >= 0) & (hints < store.stored_length))
            if len(at):
                hit = at[store.ids.peek(hints[at]) == ids[at]]  # a miss falls back to the index
                out[hit] = hints[hit]
        missing = np.flatnonzero(out < 0)
        if len(missing):
            if self._index is None:
                self._index = IdIndex(self.tensor.sample_ids)
            present = missing[self._index.contains(ids[missing])]
            out[present] = self._index.rows(ids[present])
        return out


def _side(changes: NetChanges | None, base: Dataset, side: Dataset, base_key: str | None, key: str) -> TensorDiff:
    """Tensor ``key`` of ``side``'s changes since ``base`` (where it is ``base_key``): from the
    change logs when they agree on the tensor, else by comparing the versions."""
    if base_key is None:
        return tensor_diff(None, side[key])
    if changes is not None:
        d = changes.tensors.get(key)
        if d is None and key == base_key:
            return TensorDiff()
        if d is not None and not d.created and changes.base_names.get(key) == base_key:
            return d
    return tensor_diff(base[base_key], side[key])


def _hints(d: TensorDiff, ids: np.ndarray, known: bool) -> np.ndarray | None:
    """Rows ``d`` names for ``ids`` in its version (from its added and updated lists)."""
    if not known or not len(ids):
        return None
    keys = np.concatenate([d.added, d.updated]).astype(np.uint64)
    rows = np.concatenate([d.added_indices, d.updated_indices]).astype(np.int64)
    if len(keys) != len(rows) or not len(keys):
        return None
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], ids), len(keys) - 1)
    found = keys[order][at] == ids
    return np.where(found, rows[order][at], -1)


def _decide(ours: Dataset, theirs: Dataset, base: Dataset, delete_removed_tensors: bool, force: bool,
            theirs_changes: NetChanges | None = None) -> _Decisions:
    base_keys = list(base._state.meta.tensors)
    our_keys, their_keys = set(ours._state.meta.tensors), list(theirs._state.meta.tensors)
    our_name, their_name = match_tensors(base, ours), match_tensors(base, theirs)
    out = _Decisions()
    for b in base_keys:
        o, t = our_name.get(b), their_name.get(b)
        if t is None:  # they deleted it (or both did)
            if o == b and delete_removed_tensors:
                out.deletions.append(o)
        elif o is None:  # we deleted it
            if t != b:
                out.conflicts[t] = f"{b!r} was renamed to {t!r} there but deleted here"
                if force:
                    out.merge_or_copy(t, our_keys)
            elif (_changed_ids(_side(theirs_changes, base, theirs, b, t)).size
                  or base[b].meta.info != theirs[t].meta.info):
                if t in our_keys:  # it would come back, but its name is another tensor's here now
                    out.stuck[t] = f"{b!r} was deleted here and another tensor took its name, while they changed it"
                else:
                    out.copies.append(t)  # they changed what we deleted: it comes back
        elif t in (b, o):  # they kept the name (or renamed it as we did)
            out.pairs[o] = (b, t)
        elif o != b:
            out.conflicts[t] = f"{b!r} was renamed to {o!r} here and to {t!r} there"
            if force:
                out.merge_or_copy(t, our_keys)
        elif t in our_keys:
            out.conflicts[t] = f"{b!r} was renamed to {t!r} there, a name another tensor has here"
            if force:
                out.pairs[t] = (None, t)
        else:
            out.pairs[o] = (b, t)
            out.renames[o] = t
    from_base = set(their_name.values())
    taken = {t for _, t in out.pairs.values()} | set(out.copies)
    for t in their_keys:
        if t in from_base or t in taken:
            continue
        if t in out.pairs or t in out.renames.values():
            out.stuck[t] = f"{t!r} was created there while a tensor here was renamed to it"
        else:
            out.merge_or_copy(t, our_keys)  # created there (on both sides when we have one too)
    if force:
        out.conflicts = {}
    return out


def _mismatches(ours: Dataset, theirs: Dataset, pairs: dict[str, tuple[str | None, str]]) -> list[str]:
    out = []
    our_metas, their_metas = ours._state.meta.tensors, theirs._state.meta.tensors
    for o, (_, t) in pairs.items():
        mine, other = our_metas[o], their_metas[t]
        if mine is other or all(getattr(mine, p) == getattr(other, p) for p in _MATCHED):
            continue
        differ = [f"{p} {getattr(mine, p)!r} here, {getattr(other, p)!r} there" for p in _MATCHED
                  if _differ(mine, other, p) and (p != "dtype" or None not in (mine.dtype, other.dtype))]
        if differ:
            out.append(f"{o!r} cannot merge with their {t!r}: " + "; ".join(differ))
    return out


def _differ(mine: Any, other: Any, prop: str) -> bool:
    """Whether two tensors' metas differ in ``prop``; an untyped tensor's htype counts as generic."""
    if prop == "htype":
        return mine.htype_name != other.htype_name
    return getattr(mine, prop) != getattr(other, prop)


def merge_into(ours: Dataset, theirs: Dataset, base: Dataset, conflict_resolution: str | None = None,
               delete_removed_tensors: bool = False, force: bool = False,
               delete_removed_samples: bool = False, ours_changes: NetChanges | None = None,
               theirs_changes: NetChanges | None = None) -> SampleChanges | None:
    """Apply the changes base -> theirs to ``ours`` (a writable working state); see the module
    docstring. ``ours_changes`` / ``theirs_changes``: each side's changes since ``base`` when
    the change logs give them (None: the versions are compared). Raises MergeConflictError
    before changing anything when a tensor-level conflict is left (without ``force``), tensors
    cannot merge, or samples conflict without a resolution.

    Returns what the merge wrote, as a change against ``ours`` as it was (for the merge
    commit's change log), when it only changed samples and class names of tensors ours already
    had; None when it created, deleted or renamed tensors (the caller then compares versions).
    Updated ids are the ones written: a value they changed back to ours counts too."""
    if conflict_resolution not in RESOLUTIONS:
        raise VersionArgumentError(f"conflict_resolution must be None, 'ours' or 'theirs'; got {conflict_resolution!r}.")
    plan = _decide(ours, theirs, base, delete_removed_tensors, force, theirs_changes)
    if plan.stuck:
        raise MergeConflictError("; ".join(plan.stuck.values()) + ". Rename one of them on either branch, then "
                                 "merge.", {name: [] for name in plan.stuck})
    if plan.conflicts:
        raise MergeConflictError("Tensors changed in ways that cannot both hold: " + "; ".join(plan.conflicts.values())
                                 + ". Rename tensors to settle it, or pass force=True to bring their tensor over "
                                 "under its own name.", {name: [] for name in plan.conflicts})
    mismatched = _mismatches(ours, theirs, plan.pairs)
    if mismatched:
        raise MergeConflictError("; ".join(mismatched) + ". Rename one of them on either branch, then merge.",
                                 {o: [] for o in plan.pairs if any(m.startswith(repr(o)) for m in mismatched)})
    sides = {o: (_side(ours_changes, base, ours, b, o), _side(theirs_changes, base, theirs, b, t))
             for o, (b, t) in plan.pairs.items()}
    known = {o: b is None or theirs_changes is None or theirs_changes.rows_known.get(t, True)
             for o, (b, t) in plan.pairs.items()}
    # a tensor they did not change needs nothing, unless it holds a row that comes back
    brought_back = _union([_common(t.updated, o.removed) for o, t in sides.values()])
    plans = {o: _plan_tensor(ours[o], theirs[t], *sides[o], delete_removed_samples, known[o])
             for o, (b, t) in plan.pairs.items()
             if sides[o][1].changed or _common(brought_back, sides[o][0].removed).size
             or _class_map(ours._state.meta.tensors[o], theirs._state.meta.tensors[t])[1]}
    conflicts = {o: p.conflicts.tolist() for o, p in plans.items() if p.conflicts.size}
    if conflicts and conflict_resolution is None:
        lines = "; ".join(f"{k}: ids {v[:10]}{' ...' if len(v) > 10 else ''}" for k, v in conflicts.items())
        raise MergeConflictError(
            f"Merge conflicts (changed on both sides): {lines}. Pass conflict_resolution='ours' or 'theirs'.",
            conflicts)
    # Row-level decisions (see the module docstring), gathered over every tensor.
    revive, keep = _NO_IDS, _NO_IDS
    if not delete_removed_samples or conflict_resolution == "theirs":  # rows we deleted and they updated
        revive = _union([np.intersect1d(p.theirs.updated, p.ours.removed) for p in plans.values()])
    elif conflict_resolution == "ours":  # rows they deleted and we updated stay
        keep = _union([np.intersect1d(p.theirs.removed, p.ours.updated) for p in plans.values()])
    written = {o: _apply(ours[o], theirs[p.their_key], p, conflict_resolution == "theirs", revive, keep)
               for o, p in plans.items() if o not in plan.deletions}
    for key in plan.deletions:
        ours.delete_tensor(key)
    for o, t in plan.renames.items():  # their new names are free here (else a conflict above)
        ours.rename_tensor(o, t)
    for t in plan.copies:
        _copy_tensor(ours, theirs[t])
    if plan.deletions or plan.renames or plan.copies:
        return None
    lengths = {o: ours[o]._store.stored_length + len(d.removed) - len(d.added) for o, d in written.items()}
    return SampleChanges(tensors={o: d for o, d in written.items() if d.changed},
                         cleared={o for o, d in written.items() if len(d.removed) and len(d.removed) == lengths[o]},
                         info={o for o, p in plans.items() if p.new_names})


def _common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ids in both (``np.intersect1d``, skipped when one is empty: most tensors of a merge)."""
    return np.intersect1d(a, b) if len(a) and len(b) else _NO_IDS


def _union(parts: list[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate([_NO_IDS, *parts]).astype(np.uint64))


def _changed_ids(d: TensorDiff) -> np.ndarray:
    return np.unique(np.concatenate([d.added, d.updated, d.removed]).astype(np.uint64))


def _class_map(mine: TensorMeta | TensorMetaView, other: TensorMeta | TensorMetaView
               ) -> tuple[np.ndarray | None, list[str]]:
    """(their class id -> our class id, names to add to ours) for class_label tensors, from the
    two tensors' metas; (None, []) for others."""
    if mine.base_htype != "class_label" or mine.link:
        return None, []
    our_names = list(mine.info.get("class_names", []))
    their_names = other.info.get("class_names", [])
    new = [name for name in dict.fromkeys(their_names) if name not in our_names]
    merged = our_names + new
    return np.asarray([merged.index(n) for n in their_names], np.int64), new


def _plan_tensor(ours: Tensor, theirs: Tensor, d_ours: TensorDiff, d_theirs: TensorDiff, deletions: bool,
                 rows_known: bool = True) -> _Plan:
    """How tensor ``ours`` takes in ``theirs``, given each side's changes since the ancestor;
    ``rows_known``: whether the indices in ``d_theirs`` are rows of ``theirs``."""
    class_map, new_names = _class_map(ours.meta, theirs.meta)
    our_rows, their_rows = _Rows(ours), _Rows(theirs)
    both = np.intersect1d(d_ours.updated, d_theirs.updated)
    if both.size:  # updated on both sides: a conflict only when the results differ
        hints = _hints(d_theirs, both, rows_known)
        our_payloads = ours._store.take(our_rows.find(both, _hints(d_ours, both, True)))
        their_payloads = _translate(theirs, theirs._store.take(their_rows.find(both, hints)), class_map)
        same = np.asarray([a == b for a, b in zip(encoded_digests(our_payloads), encoded_digests(their_payloads))], bool)
        agreed, both = both[same], both[~same]
    else:
        agreed = both
    if deletions:  # an update on one side and a deletion on the other conflict too
        both = np.concatenate([both, np.intersect1d(d_theirs.updated, d_ours.removed),
                               np.intersect1d(d_theirs.removed, d_ours.updated)])
    return _Plan(theirs.key, d_ours, d_theirs, both.astype(np.uint64), agreed, class_map, new_names, deletions,
                 our_rows, their_rows, rows_known)


def _translate(theirs: Tensor, encoded: list[Any], class_map: np.ndarray | None) -> list[Any]:
    """Their stored payloads made fit for our column: raw numeric payloads as arrays, and class
    ids translated to ours."""
    return translate_class_ids([_as_array(theirs, e) for e in encoded], class_map)


def _as_array(tensor: Tensor, encoded: Any) -> Any:
    """Raw numeric payloads as arrays (so they fit a dense column); others unchanged."""
    if isinstance(encoded, list):
        return [_as_array(tensor, e) for e in encoded]
    payload, shape = encoded
    meta = tensor.meta
    if isinstance(payload, bytes) and meta.kind == "array" and not meta.link and meta.sample_compression is None:
        payload = np.frombuffer(payload, meta.dtype).reshape(shape)
    return payload, shape


def _add_class_names(ours: Tensor, names: list[str]) -> None:
    if names:
        ours.meta.info.setdefault("class_names", []).extend(names)
        ours.dataset._state.save_meta()


def _apply(ours: Tensor, theirs: Tensor, plan: _Plan, take_theirs: bool, revive: np.ndarray,
           keep: np.ndarray) -> TensorDiff:
    """Apply ``plan`` to ``ours``; returns what it wrote, as the change of the merge commit
    against our side (:func:`_written`)."""
    store = ours._store
    if store.has_pending:
        store.flush()
    length = store.stored_length
    written_ids, written_rows = _NO_IDS, np.zeros(0, np.int64)
    _add_class_names(ours, plan.new_names)
    mine, other = plan.our_rows, plan.their_rows
    updated = plan.theirs.updated[~np.isin(plan.theirs.updated, plan.agreed)]
    if not take_theirs:
        updated = updated[~np.isin(updated, plan.conflicts)]
    updated = updated[~np.isin(updated, plan.ours.removed)]  # ones we deleted are revived below, or stay deleted
    their_hints = _hints(plan.theirs, updated, plan.rows_known)
    at_ours = mine.find(updated, their_hints)  # rows line up unless a side deleted some
    present = at_ours >= 0
    if present.any():
        at_theirs = other.find(updated[present], None if their_hints is None else their_hints[present])
        payloads = _translate(theirs, theirs._store.take(at_theirs), plan.class_map)
        store.set_many(at_ours[present], payloads)
        store.flush()
        written_ids, written_rows = updated[present], at_ours[present]
    revived = revive[np.isin(revive, plan.ours.removed)]
    added = plan.theirs.added[~np.isin(plan.theirs.added, plan.ours.added)]  # only ours could hold new ids
    arriving = np.concatenate([added, revived]).astype(np.uint64)
    rows = other.find(arriving, _hints(plan.theirs, arriving, plan.rows_known))
    rows = np.sort(rows[rows >= 0])  # in their order
    if rows.size:
        _adopt_first_write(ours, theirs)
        arrived = theirs._store.ids.take(rows)
        store.append(_translate(theirs, theirs._store.take(rows), plan.class_map), arrived)
        store.flush()
    else:
        arrived = _NO_IDS
    gone, gone_rows = _NO_IDS, np.zeros(0, np.int64)
    if plan.deletions:
        gone, gone_rows = _delete_theirs(ours, plan, take_theirs, keep)
    return _written(length, written_ids, written_rows, np.asarray(arrived, np.uint64), gone, gone_rows)


def _delete_theirs(ours: Tensor, plan: _Plan, take_theirs: bool, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delete here the samples they deleted (``delete_removed_samples``), but those settled in
    our favour; returns the deleted ids and their rows before the deletion."""
    removed = plan.theirs.removed
    if not take_theirs:
        removed = removed[~np.isin(removed, plan.conflicts) & ~np.isin(removed, keep)]
    removed = removed[~np.isin(removed, plan.ours.removed)]
    at_ours = plan.our_rows.find(removed) if removed.size else np.zeros(0, np.int64)
    held = at_ours >= 0
    if not held.any():
        return _NO_IDS, np.zeros(0, np.int64)
    order = np.argsort(at_ours[held], kind="stable")
    rows, ids = at_ours[held][order], removed[held][order]
    ours._store.delete(rows)  # rows from before the append, so they hold
    return ids.astype(np.uint64), rows


def _written(length: int, updated: np.ndarray, updated_rows: np.ndarray, appended: np.ndarray, removed: np.ndarray,
             removed_rows: np.ndarray) -> TensorDiff:
    """What one tensor's merge wrote (``length``: its rows before), as a change against that
    state: ids updated (rows after the deletions), ids appended (their rows after the
    deletions) and ids deleted (rows before). Updated ids are those written, whether or not a
    value was the same before (only values they changed are written)."""
    shift = np.searchsorted(removed_rows, updated_rows)  # removed rows are sorted, none of them updated
    return TensorDiff(updated=np.asarray(updated, np.uint64), updated_indices=(updated_rows - shift).astype(np.int64),
                      added=appended, added_indices=np.arange(len(appended), dtype=np.int64) + length - len(removed),
                      removed=removed, removed_indices=removed_rows.astype(np.int64))


def _adopt_first_write(ours: Tensor, theirs: Tensor) -> None:
    """What a first write fixes (number of dimensions, a generic tensor's dtype, an untyped
    tensor's htype), taken from theirs when our tensor has never been written."""
    mine, other = ours.dataset._state.meta.tensors[ours.key], theirs.dataset._state.meta.tensors[theirs.key]
    if mine.htype is None and other.htype is not None:
        mine.htype = other.htype
        ours.dataset._state.save_meta()
    if mine.ndim is None and other.ndim is not None:
        mine.ndim = other.ndim
        mine.dtype = mine.dtype or other.dtype
        ours.dataset._state.save_meta()


def _copy_tensor(ours: Dataset, theirs: Tensor) -> None:
    meta = theirs.meta
    info = dict(meta.info)
    created = ours.create_tensor(theirs.key, htype=meta.htype, dtype=meta.dtype if meta.kind == "array" else None,
                                 sample_compression=meta.sample_compression,
                                 chunk_compression=meta.chunk_compression, hidden=meta.hidden, **info)
    if len(theirs):
        created.meta.ndim = meta.ndim
        created._store.append(_translate(theirs, theirs._store.take(np.arange(len(theirs))), None),
                              theirs.sample_ids)
        created._store.flush()
