"""Three-way merge at sample granularity, using hidden sample ids and the common ancestor.

For every tensor the changes from the ancestor to *theirs* are replayed onto *ours*: their
appended samples are appended (ids kept), their updates replace our samples, their deletions
delete ours. A sample changed on both sides (updated twice with different data, or updated on
one side and deleted on the other) is a conflict: MergeConflictError, unless
``conflict_resolution`` is "ours" (keep ours) or "theirs" (take theirs). Tensors created on their
side are created here with all their samples; class names are reconciled by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MergeConflictError, VersionError
from .diff import payload_digests, tensor_diff

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor

RESOLUTIONS = (None, "ours", "theirs")


def merge_into(ours: Dataset, theirs: Dataset, base: Dataset, conflict_resolution: str | None) -> None:
    """Apply the changes base -> theirs to ``ours`` (a writable working state)."""
    if conflict_resolution not in RESOLUTIONS:
        raise VersionError(f"conflict_resolution must be None, 'ours' or 'theirs'; got {conflict_resolution!r}.")
    plans = []
    conflicts: dict[str, list[int]] = {}
    base_keys, our_keys = set(base._state.meta.tensors), set(ours._state.meta.tensors)
    for key in theirs._state.meta.tensors:
        if key not in our_keys:
            plans.append((key, None))
            continue
        plan = _plan_tensor(base[key] if key in base_keys else None, ours[key], theirs[key])
        if plan["conflicts"].size:
            conflicts[key] = plan["conflicts"].tolist()
        plans.append((key, plan))
    removed = [k for k in base_keys & our_keys if k not in theirs._state.meta.tensors]
    for key in removed:
        if tensor_diff(base[key], ours[key]).changed:
            conflicts.setdefault(key, []).extend(ours[key].sample_ids.tolist())
    if conflicts and conflict_resolution is None:
        lines = "; ".join(f"{k}: ids {v[:10]}{' ...' if len(v) > 10 else ''}" for k, v in conflicts.items())
        raise MergeConflictError(
            f"Merge conflicts (changed on both sides): {lines}. Pass conflict_resolution='ours' or 'theirs'.",
            conflicts)
    for key, plan in plans:
        if plan is None:
            _copy_tensor(ours, theirs[key])
        else:
            _apply(ours[key], theirs[key], plan, conflict_resolution == "theirs")
    for key in removed:
        if key not in conflicts or conflict_resolution == "theirs":
            ours.delete_tensor(key)


def _plan_tensor(base: Tensor | None, ours: Tensor, theirs: Tensor) -> dict[str, Any]:
    d_ours, d_theirs = tensor_diff(base, ours), tensor_diff(base, theirs)
    both = np.intersect1d(d_ours.updated, d_theirs.updated)
    if both.size:  # updated on both sides: a conflict only when the results differ
        our_rows, their_rows = _rows_of(ours, both), _rows_of(theirs, both)
        same = np.asarray([a == b for a, b in zip(payload_digests(ours, our_rows), payload_digests(theirs, their_rows))])
        both = both[~same]
    conflicts = np.concatenate([both, np.intersect1d(d_theirs.updated, d_ours.removed),
                                np.intersect1d(d_theirs.removed, d_ours.updated)])
    return {"added": d_theirs.added[~np.isin(d_theirs.added, ours.sample_ids)],
            "updated": d_theirs.updated, "removed": d_theirs.removed,
            "ours_updated": d_ours.updated, "ours_removed": d_ours.removed, "conflicts": conflicts}


def _rows_of(tensor: Tensor, ids: np.ndarray) -> np.ndarray:
    positions = {int(i): p for p, i in enumerate(tensor.sample_ids.tolist())}
    return np.asarray([positions[int(i)] for i in ids.tolist()], np.int64)


def _payloads(ours: Tensor, theirs: Tensor, rows: np.ndarray) -> list[Any]:
    """Their stored payloads for ``rows``, converted to our class ids where labels differ."""
    encoded = theirs._store.take(rows) if len(rows) else []
    if ours.meta.base_htype != "class_label" or ours.meta.link:
        return [_as_array(theirs, e) for e in encoded]
    our_names = ours.meta.info.setdefault("class_names", [])
    their_names = theirs.meta.info.get("class_names", [])
    for name in their_names:
        if name not in our_names:
            our_names.append(name)
    ours.dataset._state.save_meta()
    mapping = np.asarray([our_names.index(n) for n in their_names] or [0], np.int64)

    def remap(e: Any) -> Any:
        payload, shape = _as_array(theirs, e)
        ids = payload.astype(np.int64)
        known = ids < len(their_names)
        out = np.where(known, mapping[np.minimum(ids, len(mapping) - 1)], ids).astype(payload.dtype)
        return out, shape
    return [[remap(i) for i in e] if isinstance(e, list) else remap(e) for e in encoded]


def _as_array(tensor: Tensor, encoded: Any) -> Any:
    """Raw numeric payloads as arrays (so they fit a dense column); others unchanged."""
    if isinstance(encoded, list):
        return [_as_array(tensor, e) for e in encoded]
    payload, shape = encoded
    meta = tensor.meta
    if isinstance(payload, bytes) and meta.kind == "array" and not meta.link and meta.sample_compression is None:
        payload = np.frombuffer(payload, meta.dtype).reshape(shape)
    return payload, shape


def _apply(ours: Tensor, theirs: Tensor, plan: dict[str, Any], take_theirs: bool) -> None:
    store = ours._store
    conflicts = plan["conflicts"]
    updated = plan["updated"]
    if not take_theirs:
        updated = updated[~np.isin(updated, conflicts)]
    revive = updated[np.isin(updated, plan["ours_removed"])]
    updated = updated[~np.isin(updated, plan["ours_removed"])]
    for sample_id, payload in zip(updated.tolist(), _payloads(ours, theirs, _rows_of(theirs, updated))):
        store.set(int(_rows_of(ours, np.asarray([sample_id], np.uint64))[0]), payload)
    appended = np.concatenate([plan["added"], revive]).astype(np.uint64)
    if appended.size:
        store.append(_payloads(ours, theirs, _rows_of(theirs, appended)), appended)
        store.flush()
    removed = plan["removed"]
    if not take_theirs:
        removed = removed[~np.isin(removed, conflicts)]
    removed = removed[np.isin(removed, ours.sample_ids)]
    if removed.size:
        store.delete(np.sort(_rows_of(ours, removed)))


def _copy_tensor(ours: Dataset, theirs: Tensor) -> None:
    meta = theirs.meta
    info = dict(meta.info)
    created = ours.create_tensor(theirs.key, htype=meta.htype, dtype=meta.dtype if meta.kind == "array" else None,
                                 sample_compression=meta.sample_compression,
                                 chunk_compression=meta.chunk_compression, hidden=meta.hidden, **info)
    if len(theirs):
        rows = np.arange(len(theirs))
        created.meta.ndim = meta.ndim
        created._store.append(_payloads(created, theirs, rows), theirs.sample_ids)
        created._store.flush()
