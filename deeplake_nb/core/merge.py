"""Three-way merge at sample granularity, using hidden sample ids and the common ancestor.

For every tensor the changes from the ancestor to *theirs* are replayed onto *ours*: their
appended samples are appended (ids kept), their updates replace our samples, their deletions
delete ours. A sample changed on both sides (updated twice with different data, or updated on
one side and deleted on the other) is a conflict: MergeConflictError, unless
``conflict_resolution`` is "ours" (keep ours) or "theirs" (take theirs). Tensors created on their
side are created here with all their samples; a tensor deleted on one side and changed on the
other is a conflict too. Class names are reconciled by name (their class ids are translated to
ours, and names only they have are added).

Rows stay whole: when a conflict is resolved by keeping a sample one side deleted (a deleted
row that the other side updated), the row is kept or revived in every tensor that holds it,
not only in the tensor where the update happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MergeConflictError, VersionError
from .diff import IdIndex, TensorDiff, encoded_digests, find_renames, tensor_diff, translate_class_ids

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor

RESOLUTIONS = (None, "ours", "theirs")
_NO_IDS = np.empty(0, np.uint64)


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


def merge_into(ours: Dataset, theirs: Dataset, base: Dataset, conflict_resolution: str | None) -> None:
    """Apply the changes base -> theirs to ``ours`` (a writable working state). Raises
    MergeConflictError (changing nothing) when there are conflicts and no resolution."""
    if conflict_resolution not in RESOLUTIONS:
        raise VersionError(f"conflict_resolution must be None, 'ours' or 'theirs'; got {conflict_resolution!r}.")
    base_keys = list(base._state.meta.tensors)
    our_keys = set(ours._state.meta.tensors)
    their_keys = list(theirs._state.meta.tensors)
    # Tensors are matched through the ancestor, following renames on either side.
    our_name = {b: b for b in base_keys if b in our_keys} | find_renames(base, ours)
    their_name = {b: b for b in base_keys if b in their_keys} | find_renames(base, theirs)
    from_base = set(their_name.values())
    plans: dict[str, _Plan] = {}      # our key -> plan
    renames: dict[str, str] = {}      # our key -> their name, to rename after applying
    copies: list[str] = []            # their keys to create here
    deletions: list[str] = []         # our keys to delete
    conflicts: dict[str, list[int]] = {}
    for b in base_keys:
        o, t = our_name.get(b), their_name.get(b)
        if o is not None and t is not None:
            plan = plans[o] = _plan_tensor(base[b], ours[o], theirs[t])
            if plan.conflicts.size:
                conflicts[o] = plan.conflicts.tolist()
            if t != o and t != b:  # they renamed it
                if o != b:  # and so did we, differently
                    conflicts.setdefault(o, [])
                if o == b or conflict_resolution == "theirs":
                    renames[o] = t
        elif t is not None:  # we deleted it: a conflict when they changed or renamed it
            changed = _changed_ids(tensor_diff(base[b], theirs[t]))
            if changed.size or t != b:
                conflicts[t] = changed.tolist()
                if conflict_resolution == "theirs":
                    copies.append(t)
        elif o is not None:  # they deleted it: a conflict when we changed or renamed it
            changed = _changed_ids(tensor_diff(base[b], ours[o]))
            if changed.size or o != b:
                conflicts[o] = changed.tolist()
            if not (changed.size or o != b) or conflict_resolution == "theirs":
                deletions.append(o)
    for t in their_keys:
        if t in from_base:
            continue
        if t in our_keys and t not in our_name.values():  # created on both sides: merge their samples
            plan = plans[t] = _plan_tensor(None, ours[t], theirs[t])
            if plan.conflicts.size:
                conflicts[t] = plan.conflicts.tolist()
        else:
            copies.append(t)
    # A name they give (by renaming or creating) that one of our other tensors keeps is a conflict;
    # resolved for "theirs", our tensor gives way, for "ours" their rename or new tensor does.
    vacated = set(renames) | set(deletions)
    for o, t in list(renames.items()) + [(None, t) for t in copies]:
        if t in our_keys and t not in vacated:
            conflicts.setdefault(t, [])
            if conflict_resolution == "theirs":
                deletions.append(t)
                vacated.add(t)
            elif o is not None:
                del renames[o]
            else:
                copies.remove(t)
    if conflicts and conflict_resolution is None:
        lines = "; ".join(f"{k}: ids {v[:10]}{' ...' if len(v) > 10 else ''}" if v else
                          f"{k}: renamed, deleted or created differently" for k, v in conflicts.items())
        raise MergeConflictError(
            f"Merge conflicts (changed on both sides): {lines}. Pass conflict_resolution='ours' or 'theirs'.",
            conflicts)
    # Row-level decisions (see the module docstring), gathered over every tensor.
    revive, keep = _NO_IDS, _NO_IDS
    if conflict_resolution == "theirs":  # rows we deleted and they updated come back
        revive = np.unique(np.concatenate([_NO_IDS] + [np.intersect1d(p.theirs.updated, p.ours.removed)
                                                       for p in plans.values()]))
    elif conflict_resolution == "ours":  # rows they deleted and we updated stay
        keep = np.unique(np.concatenate([_NO_IDS] + [np.intersect1d(p.theirs.removed, p.ours.updated)
                                                     for p in plans.values()]))
    for o, plan in plans.items():
        if o not in deletions:
            _apply(ours[o], theirs[plan.their_key], plan, conflict_resolution == "theirs", revive, keep)
    for key in dict.fromkeys(deletions):
        ours.delete_tensor(key)
    parked = {}
    for i, (o, t) in enumerate(renames.items()):  # through free names, so chains and swaps work
        parked[t] = f"{t}.merging-{i}"
        ours.rename_tensor(o, parked[t])
    for t, temporary in parked.items():
        ours.rename_tensor(temporary, t)
    for t in copies:
        _copy_tensor(ours, theirs[t])


def _changed_ids(d: TensorDiff) -> np.ndarray:
    return np.unique(np.concatenate([d.added, d.updated, d.removed]).astype(np.uint64))


def _class_map(ours: Tensor, theirs: Tensor) -> tuple[np.ndarray | None, list[str]]:
    """(their class id -> our class id, names to add to ours) for class_label tensors; (None, [])
    for others."""
    if ours.meta.base_htype != "class_label" or ours.meta.link:
        return None, []
    our_names = list(ours.meta.info.get("class_names", []))
    their_names = theirs.meta.info.get("class_names", [])
    new = [name for name in dict.fromkeys(their_names) if name not in our_names]
    merged = our_names + new
    return np.asarray([merged.index(n) for n in their_names], np.int64), new


def _plan_tensor(base: Tensor | None, ours: Tensor, theirs: Tensor) -> _Plan:
    d_ours, d_theirs = tensor_diff(base, ours), tensor_diff(base, theirs)
    class_map, new_names = _class_map(ours, theirs)
    both = np.intersect1d(d_ours.updated, d_theirs.updated)
    if both.size:  # updated on both sides: a conflict only when the results differ
        our_payloads = ours._store.take(IdIndex(ours.sample_ids).rows(both))
        their_payloads = _translate(theirs, theirs._store.take(IdIndex(theirs.sample_ids).rows(both)), class_map)
        same = np.asarray([a == b for a, b in zip(encoded_digests(our_payloads), encoded_digests(their_payloads))], bool)
        agreed, both = both[same], both[~same]
    else:
        agreed = both
    conflicts = np.concatenate([both, np.intersect1d(d_theirs.updated, d_ours.removed),
                                np.intersect1d(d_theirs.removed, d_ours.updated)]).astype(np.uint64)
    return _Plan(theirs.key, d_ours, d_theirs, conflicts, agreed, class_map, new_names)


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
           keep: np.ndarray) -> None:
    store = ours._store
    _add_class_names(ours, plan.new_names)
    our_index, their_index = IdIndex(ours.sample_ids), IdIndex(theirs.sample_ids)
    updated = plan.theirs.updated[~np.isin(plan.theirs.updated, plan.agreed)]
    if not take_theirs:
        updated = updated[~np.isin(updated, plan.conflicts)]
    updated = updated[our_index.contains(updated)]  # ones we deleted are revived below, or stay deleted
    if updated.size:
        payloads = _translate(theirs, theirs._store.take(their_index.rows(updated)), plan.class_map)
        store.set_many(our_index.rows(updated), payloads)
        store.flush()
    revived = revive[np.isin(revive, plan.ours.removed) & their_index.contains(revive)]
    revived = their_index.ids[np.sort(their_index.rows(revived))]  # in their order
    added = plan.theirs.added[~our_index.contains(plan.theirs.added)]
    appended = np.concatenate([added, revived]).astype(np.uint64)
    if appended.size:
        store.append(_translate(theirs, theirs._store.take(their_index.rows(appended)), plan.class_map), appended)
        store.flush()
    removed = plan.theirs.removed
    if not take_theirs:
        removed = removed[~np.isin(removed, plan.conflicts) & ~np.isin(removed, keep)]
    removed = removed[our_index.contains(removed)]  # positions before the append hold for these
    if removed.size:
        store.delete(np.sort(our_index.rows(removed)))


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
