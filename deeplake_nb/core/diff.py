"""Sample-level differences between two versions of a dataset, by hidden sample id.

A tensor's samples are matched by their ``_id``: ids only in the new version were added, ids only
in the old one were deleted, and shared ids whose stored payload differs were updated. Tensors
whose zarr keys all point at the same stored objects in both versions are skipped unread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor


@dataclass
class TensorDiff:
    """What changed in one tensor from an old version to a new one (ids are hidden sample ids)."""

    created: bool = False
    deleted: bool = False
    renamed_from: str | None = None
    added: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    updated: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    removed: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    added_indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    updated_indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    removed_indices: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def changed(self) -> bool:
        return bool(self.created or self.deleted or self.renamed_from or len(self.added) or len(self.updated)
                    or len(self.removed))

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "deleted": self.deleted, "renamed_from": self.renamed_from,
                "added": self.added.tolist(), "updated": self.updated.tolist(), "deleted_samples": self.removed.tolist(),
                "added_indices": self.added_indices.tolist(), "updated_indices": self.updated_indices.tolist(),
                "deleted_indices": self.removed_indices.tolist()}

    def summary(self) -> str:
        if self.deleted:
            return "deleted"
        head = "created, " if self.created else (f"renamed from {self.renamed_from!r}, " if self.renamed_from else "")
        return f"{head}{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} deleted"


def payload_digests(tensor: Tensor, rows: np.ndarray) -> list[bytes]:
    """A digest of each selected sample's stored payload (equal digests = equal samples)."""
    store = tensor._store
    digests = []
    for encoded in store.take(rows):
        parts = encoded if isinstance(encoded, list) else [encoded]
        h = hashlib.blake2b(digest_size=16)
        for payload, shape in parts:
            h.update(np.asarray(shape, np.int64).tobytes())
            h.update(payload if isinstance(payload, bytes) else np.ascontiguousarray(payload).tobytes())
        digests.append(h.digest())
    return digests


def tensor_diff(old: Tensor | None, new: Tensor | None) -> TensorDiff:
    if old is None and new is None:
        return TensorDiff()
    if old is None:
        ids = new.sample_ids
        return TensorDiff(created=True, added=ids, added_indices=np.arange(len(ids)))
    if new is None:
        ids = old.sample_ids
        return TensorDiff(deleted=True, removed=ids, removed_indices=np.arange(len(ids)))
    old_ids, new_ids = old.sample_ids, new.sample_ids
    added_mask = ~np.isin(new_ids, old_ids)
    removed_mask = ~np.isin(old_ids, new_ids)
    common = new_ids[~added_mask]
    new_rows = np.flatnonzero(~added_mask)
    old_pos = {int(i): p for p, i in enumerate(old_ids.tolist())}
    old_rows = np.asarray([old_pos[int(i)] for i in common.tolist()], np.int64)
    changed = [a != b for a, b in zip(payload_digests(old, old_rows), payload_digests(new, new_rows))]
    changed_mask = np.asarray(changed, bool) if changed else np.zeros(0, bool)
    return TensorDiff(added=new_ids[added_mask], removed=old_ids[removed_mask], updated=common[changed_mask],
                      added_indices=np.flatnonzero(added_mask), removed_indices=np.flatnonzero(removed_mask),
                      updated_indices=new_rows[changed_mask])


def dataset_diff(old: Dataset, new: Dataset) -> dict[str, TensorDiff]:
    """Per-tensor differences from ``old`` to ``new`` (only tensors that changed)."""
    old_keys = set(old._state.meta.tensors)
    new_keys = set(new._state.meta.tensors)
    touched = new._state.zarr_store.manifest_diff(old._state.zarr_store)
    out: dict[str, TensorDiff] = {}
    for key in sorted(old_keys | new_keys):
        if key in old_keys and key in new_keys and not any(k.startswith(key + "/") for k in touched):
            continue
        d = tensor_diff(old[key] if key in old_keys else None, new[key] if key in new_keys else None)
        if d.changed:
            out[key] = d
    _find_renames(old, new, out)
    return out


def _find_renames(old: Dataset, new: Dataset, out: dict[str, TensorDiff]) -> None:
    """A created tensor holding exactly the ids and data of a deleted one is a rename."""
    created = [k for k, d in out.items() if d.created]
    deleted = [k for k, d in out.items() if d.deleted]
    for new_key in created:
        for old_key in deleted:
            a, b = old[old_key], new[new_key]
            if (old_key in out and a.meta.htype == b.meta.htype and np.array_equal(a.sample_ids, b.sample_ids)
                    and payload_digests(a, np.arange(len(a))) == payload_digests(b, np.arange(len(b)))):
                out[new_key] = TensorDiff(renamed_from=old_key)
                del out[old_key]
                break
