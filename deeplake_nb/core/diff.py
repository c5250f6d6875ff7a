"""Sample-level differences between two versions of a dataset, by hidden sample id.

A tensor's samples are matched by their ``_id``: ids only in the new version were added, ids only
in the old one were deleted, and shared ids whose stored payload differs were updated.

Reading is proportional to what changed, not to the dataset: tensors whose zarr keys all point at
the same stored objects in both versions are skipped unread, and within a changed tensor rows
are compared without decoding: a dense row whose chunk is the same stored object in both
versions is equal unread (objects are immutable), other dense rows are compared as numpy blocks;
a ragged row with the same [offset, length] and shape is equal unless a heap byte in its span
differs (only heap chunks that are different objects are read). Only what is left (rows that
moved in the heap, sequences) is decoded and hashed.

Tensors are followed across versions by their identity, the stored object of their group
document, which a rename carries to the new name (:func:`match_tensors`); so renames are seen
even when names are swapped or reused.

:func:`change_entries` turns one step of history (a commit against its first parent, or
uncommitted changes against the head) into Deep Lake v3's per-commit ``diff(as_dict=True)``
entries, and :func:`format_changes` prints lists of them as v3's ``ds.diff()`` does.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..format.arrays import ArrayHandle
    from .dataset import Dataset
    from .tensor import Tensor


def _frozen_empty(dtype: type) -> np.ndarray:
    empty = np.empty(0, dtype)
    empty.flags.writeable = False
    return empty


_NO_IDS = _frozen_empty(np.uint64)
_NO_ROWS = _frozen_empty(np.int64)
"""Shared empty lists of a TensorDiff (read-only: a merge of 100 tensors makes hundreds of
TensorDiffs of tensors that did not change)."""


@dataclass
class TensorDiff:
    """What changed in one tensor from an old version to a new one (ids are hidden sample ids)."""

    created: bool = False
    deleted: bool = False
    renamed_from: str | None = None
    added: np.ndarray = field(default_factory=lambda: _NO_IDS)
    updated: np.ndarray = field(default_factory=lambda: _NO_IDS)
    removed: np.ndarray = field(default_factory=lambda: _NO_IDS)
    added_indices: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    updated_indices: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    removed_indices: np.ndarray = field(default_factory=lambda: _NO_ROWS)

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
    return encoded_digests(tensor._store.take(rows)) if len(rows) else []


def encoded_digests(samples: list[Any]) -> list[bytes]:
    """A digest of each stored payload ``(payload, shape)`` (or list of them, for sequences)."""
    digests = []
    for encoded in samples:
        parts = encoded if isinstance(encoded, list) else [encoded]
        h = hashlib.blake2b(digest_size=16)
        for payload, shape in parts:
            h.update(np.asarray(shape, np.int64).tobytes())
            h.update(payload if isinstance(payload, bytes) else np.ascontiguousarray(payload).tobytes())
        digests.append(h.digest())
    return digests


# -- class labels: ids are compared by the names they stand for --------------------------------------
def class_id_map(source: Tensor, target: Tensor) -> np.ndarray | None:
    """For class_label tensors: source class id -> the target's id for the same name (names the
    target lacks map to ids no name has). None when the ids mean the same names in both (the
    source's names are a prefix of the target's: names are only ever appended on a branch)."""
    ma, mb = source.meta, target.meta
    if ma.base_htype != "class_label" or mb.base_htype != "class_label" or ma.link or mb.link:
        return None
    a, b = list(ma.info.get("class_names", [])), list(mb.info.get("class_names", []))
    if b[:len(a)] == a:
        return None
    index = {name: i for i, name in reversed(list(enumerate(b)))}
    return np.asarray([index.get(name, np.iinfo(np.uint32).max - i) for i, name in enumerate(a)], np.int64)


def translate_class_ids(encoded: list[Any], mapping: np.ndarray | None) -> list[Any]:
    """Stored class-label payloads with their ids passed through ``mapping`` (ids past it kept)."""
    if mapping is None or not len(mapping):
        return encoded

    def remap(item: Any) -> Any:
        payload, shape = item
        if isinstance(payload, bytes):
            return payload, shape
        ids = np.asarray(payload).astype(np.int64)
        known = (ids >= 0) & (ids < len(mapping))
        mapped = np.where(known, mapping[np.clip(ids, 0, len(mapping) - 1)], ids)
        return mapped.astype(np.asarray(payload).dtype).reshape(np.shape(payload)), shape
    return [[remap(i) for i in e] if isinstance(e, list) else remap(e) for e in encoded]


# -- which samples are certainly unchanged (same stored objects) ------------------------------------
def _same_chunks(old: ArrayHandle, new: ArrayHandle, old_vs: Any, new_vs: Any, chunks: np.ndarray) -> np.ndarray:
    """Per chunk number: whether chunk k of ``old`` and chunk k of ``new`` are the same stored object
    (so the same bytes)."""
    if not len(chunks) or (old.rows_per_chunk, old.dtype, old.row_shape) != (new.rows_per_chunk, new.dtype,
                                                                            new.row_shape):
        return np.zeros(len(chunks), bool)
    table = np.zeros(int(chunks.max()) + 1, bool)
    for k in np.flatnonzero(np.bincount(chunks)).tolist():  # each distinct chunk once
        name = old_vs.object_of(old.chunk_key(k))
        table[k] = name is not None and name == new_vs.object_of(new.chunk_key(k))
    return table[chunks]


def _rows_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row of two stacked blocks: whether the stored bytes are equal."""
    if not len(a):
        return np.zeros(0, bool)
    a = np.ascontiguousarray(a).view(np.uint8).reshape(len(a), -1)
    b = np.ascontiguousarray(b).view(np.uint8).reshape(len(b), -1)
    return (a == b).all(axis=1)


def _remap_block(block: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    ids = block.astype(np.int64)
    known = (ids >= 0) & (ids < len(mapping))
    return np.where(known, mapping[np.clip(ids, 0, len(mapping) - 1)], ids).astype(block.dtype)


def _compare(old: Tensor, new: Tensor, old_rows: np.ndarray, new_rows: np.ndarray, mapping: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(equal, decided) masks over the row pairs, settled without decoding samples one by one:
    the same stored object means the same bytes; otherwise dense rows are compared as blocks, and
    ragged rows with the same [offset, length] and shape by the heap bytes that differ."""
    from ..format.columns import AdaptiveColumn, DenseColumn, RaggedColumn

    equal = np.zeros(len(old_rows), bool)
    decided = np.zeros(len(old_rows), bool)
    a, b = old._store.column, new._store.column
    old_vs, new_vs = old.dataset._state.zarr_store, new.dataset._state.zarr_store
    if not (isinstance(a, AdaptiveColumn) and isinstance(b, AdaptiveColumn)) or not hasattr(old_vs, "object_of"):
        return equal, decided
    if isinstance(a.impl, DenseColumn) and isinstance(b.impl, DenseColumn):
        da, db = a.impl.data, b.impl.data
        if (da.dtype, da.row_shape) != (db.dtype, db.row_shape):
            return equal, decided
        r = da.rows_per_chunk
        aligned = np.flatnonzero(old_rows == new_rows)  # shifted rows (after a pop) are compared by content
        equal[aligned] = _same_chunks(da, db, old_vs, new_vs, old_rows[aligned] // r)
        rest = np.flatnonzero(~equal)
        block = da.take(old_rows[rest])
        equal[rest] = _rows_equal(block if mapping is None else _remap_block(block, mapping), db.take(new_rows[rest]))
        decided[:] = True
        return equal, decided
    if isinstance(a.impl, RaggedColumn) and isinstance(b.impl, RaggedColumn) and mapping is None:
        ra, rb = a.impl, b.impl
        spans_a, spans_b = ra.index.take(old_rows).astype(np.int64), rb.index.take(new_rows).astype(np.int64)
        same_span = (spans_a == spans_b).all(axis=1) & _rows_equal(ra.shape.take(old_rows), rb.shape.take(new_rows))
        idx = np.flatnonzero(same_span)
        if not len(idx) or ra.heap.rows_per_chunk != rb.heap.rows_per_chunk:
            return equal, decided
        r = ra.heap.rows_per_chunk
        start, length = spans_a[idx, 0], spans_a[idx, 1]
        first, last = start // r, (start + np.maximum(length, 1) - 1) // r
        wide = np.flatnonzero(last - first > 1)  # spans over 3+ chunks (rare): add the middle ones
        parts = [first, last] + [np.arange(f + 1, e) for f, e in zip(first[wide].tolist(), last[wide].tolist())]
        chunks = np.flatnonzero(np.bincount(np.concatenate(parts)))
        differing = []  # heap offsets whose byte differs, in chunks that are not the same object
        for k, same in zip(chunks.tolist(), _same_chunks(ra.heap, rb.heap, old_vs, new_vs, chunks).tolist()):
            if same:
                continue
            lo = k * r
            hi = min(lo + r, ra.heap.nrows, rb.heap.nrows)
            if hi > lo:
                differing.append(np.flatnonzero(ra.heap.read(lo, hi) != rb.heap.read(lo, hi)) + lo)
        differing = np.concatenate(differing) if differing else np.zeros(0, np.int64)
        touched = np.searchsorted(differing, start + length) - np.searchsorted(differing, start)
        equal[idx] = touched == 0
        decided[idx] = True
    return equal, decided


class IdIndex:
    """Positions of sample ids in one tensor (ids are unique within a tensor), sorted once."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, np.uint64)
        self.order = np.argsort(self.ids, kind="stable")
        self.sorted = self.ids[self.order]

    def contains(self, wanted: np.ndarray) -> np.ndarray:
        wanted = np.asarray(wanted, np.uint64)
        if not len(self.sorted):
            return np.zeros(len(wanted), bool)
        at = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
        return self.sorted[at] == wanted

    def rows(self, wanted: np.ndarray) -> np.ndarray:
        """Positions of ``wanted`` (each must be present)."""
        return self.order[np.searchsorted(self.sorted, np.asarray(wanted, np.uint64))].astype(np.int64)


def match_ids(old_ids: np.ndarray, new_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(added mask over new, removed mask over old, old rows, new rows of the shared ids, in new's
    order). The common prefix (usually almost everything) is matched by position; set operations
    run only on what follows it (ids are unique, so no prefix id can be in the tails)."""
    m = min(len(old_ids), len(new_ids))
    mismatch = np.flatnonzero(old_ids[:m] != new_ids[:m])
    p = int(mismatch[0]) if len(mismatch) else m
    old_tail, new_tail = IdIndex(old_ids[p:]), IdIndex(new_ids[p:])
    added = np.zeros(len(new_ids), bool)
    removed = np.zeros(len(old_ids), bool)
    added[p:] = ~old_tail.contains(new_ids[p:])
    removed[p:] = ~new_tail.contains(old_ids[p:])
    new_rows = np.flatnonzero(~added)
    shared_tail = new_rows[new_rows >= p]
    old_rows = np.concatenate([np.arange(p, dtype=np.int64), old_tail.rows(new_ids[shared_tail]) + p])
    return added, removed, old_rows, new_rows


def _row_tables(tensor: Tensor) -> list[ArrayHandle] | None:
    """The arrays with one row per sample that say where its value is (dense data; a ragged
    column's index and shape; a sequence's item ranges). Heaps and items are append-only, so a
    sample whose rows in these arrays are the same stored objects holds the same value."""
    from ..format.columns import SequenceColumn

    column = tensor._store.column
    return [column.seq] if isinstance(column, SequenceColumn) else column.handles()


def _dirty_chunks(old: ArrayHandle, new: ArrayHandle, old_vs: Any, new_vs: Any, rows: int) -> np.ndarray:
    """Chunk numbers covering rows [0, rows) whose stored objects differ between the versions."""
    if (old.rows_per_chunk, old.dtype, old.row_shape) != (new.rows_per_chunk, new.dtype, new.row_shape):
        return np.arange(-(-rows // max(new.rows_per_chunk, 1)))
    return np.asarray([k for k in range(-(-rows // old.rows_per_chunk))
                       if old_vs.object_of(old.chunk_key(k)) != new_vs.object_of(new.chunk_key(k))], np.int64)


def _dirty_rows(old: ArrayHandle, new: ArrayHandle, old_vs: Any, new_vs: Any, k: int, stop: int) -> np.ndarray:
    """Rows of chunk ``k`` (below ``stop``) that may differ between the versions: those the two
    chunk objects' differing patches cover when the version store can tell them
    (``changed_ranges``: a few rows after a small update), else every row of the chunk."""
    r = new.rows_per_chunk
    lo, hi = k * r, min((k + 1) * r, stop)
    changed = getattr(new_vs, "changed_ranges", None)
    ranges = None if changed is None else changed(new.chunk_key(k), old_vs.object_of(old.chunk_key(k)))
    if ranges is None:
        return np.arange(lo, hi)
    row_bytes = new.dtype.itemsize * max(1, int(np.prod(new.row_shape, dtype=np.int64)))
    rows = [np.arange(lo + offset // row_bytes, lo + (offset + length - 1) // row_bytes + 1)
            for offset, length in ranges if length and offset < r * row_bytes]  # not the checksum trailer
    rows = np.concatenate([np.zeros(0, np.int64), *rows])
    return rows[rows < hi]


def _unsettled_rows(old: Tensor, new: Tensor) -> tuple[int, np.ndarray] | None:
    """(p, rows) such that the two versions' ids agree by position before row ``p``, and among
    those rows only ``rows`` may hold different values (every other one lies in chunks that are
    the same stored objects in both versions). None when the stores do not name their objects or
    the columns are laid out differently (then everything must be compared)."""
    old_vs, new_vs = old.dataset._state.zarr_store, new.dataset._state.zarr_store
    if not hasattr(old_vs, "object_of") or not hasattr(new_vs, "object_of"):
        return None
    a, b = _row_tables(old), _row_tables(new)
    if a is None or b is None or [h.path for h in a] != [h.path for h in b]:
        return None
    oi, ni = old._store.ids, new._store.ids
    m = min(oi.nrows, ni.nrows)
    dirty_ids = _dirty_chunks(oi, ni, old_vs, new_vs, m)
    p = m if not len(dirty_ids) else min(m, int(dirty_ids[0]) * oi.rows_per_chunk)
    rows = [_dirty_rows(ha, h, old_vs, new_vs, k, p)
            for ha, h in zip(a, b) for k in _dirty_chunks(ha, h, old_vs, new_vs, p).tolist()]
    return p, np.unique(np.concatenate([np.zeros(0, np.int64), *rows]))


def _candidates(old: Tensor, new: Tensor) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray, np.ndarray]:
    """(p, old ids, new ids, added mask, removed mask, old rows, new rows, shared ids): the id
    arrays are those from row ``p`` on (the masks cover them), the rows are the pairs that still
    need comparing (positions in the whole tensors) and the shared ids are theirs.
    Only the rows chunk objects cannot settle are read: the ids after the first changed id
    chunk, and rows before it in changed chunks."""
    settled = _unsettled_rows(old, new)
    if settled is None:
        old_ids, new_ids = old.sample_ids, new.sample_ids
        added, removed, old_rows, new_rows = match_ids(old_ids, new_ids)
        return 0, old_ids, new_ids, added, removed, old_rows, new_rows, new_ids[new_rows]
    p, dirty = settled
    old_tail, new_tail = old._store.ids.read(p, old._store.ids.nrows), new._store.ids.read(p, new._store.ids.nrows)
    added_t, removed_t, old_t, new_t = match_ids(np.asarray(old_tail, np.uint64), np.asarray(new_tail, np.uint64))
    shared = np.concatenate([new._store.ids.take(dirty) if len(dirty) else np.zeros(0, np.uint64), new_tail[new_t]])
    return (p, old_tail, new_tail, added_t, removed_t, np.concatenate([dirty, old_t + p]),
            np.concatenate([dirty, new_t + p]), shared.astype(np.uint64))


def tensor_diff(old: Tensor | None, new: Tensor | None) -> TensorDiff:
    """The changes from ``old`` to ``new`` (None: absent there). Reads what stored objects
    cannot settle: ids from the first id chunk that differs, and rows in chunks that differ."""
    if old is None and new is None:
        return TensorDiff()
    if old is None:
        ids = new.sample_ids
        return TensorDiff(created=True, added=ids, added_indices=np.arange(len(ids)))
    if new is None:
        ids = old.sample_ids
        return TensorDiff(deleted=True, removed=ids, removed_indices=np.arange(len(ids)))
    for t in (old, new):
        if t._store.has_pending:
            t._store.flush()
    p, old_ids, new_ids, added_mask, removed_mask, old_rows, new_rows, common = _candidates(old, new)
    mapping = class_id_map(old, new)
    equal, decided = _compare(old, new, old_rows, new_rows, mapping)
    check = np.flatnonzero(~decided)  # the rest: compare digests of the decoded payloads
    old_payloads = translate_class_ids(old._store.take(old_rows[check]) if len(check) else [], mapping)
    digests = zip(encoded_digests(old_payloads), payload_digests(new, new_rows[check]))
    equal[check] = np.asarray([x == y for x, y in digests], bool)
    changed_mask = ~equal
    return TensorDiff(added=new_ids[added_mask], removed=old_ids[removed_mask], updated=common[changed_mask],
                      added_indices=np.flatnonzero(added_mask) + p, removed_indices=np.flatnonzero(removed_mask) + p,
                      updated_indices=new_rows[changed_mask])


def tensor_identity(ds: Dataset, key: str) -> str | None:
    """What names tensor ``key`` of ``ds`` across versions: the stored object of its group
    document ``<key>/zarr.json``, written once when the tensor is created and never rewritten
    (samples, info and clears live in other keys), which a rename re-points without copying.
    None when the dataset's store does not name its objects."""
    object_of = getattr(ds._state.zarr_store, "object_of", None)
    return None if object_of is None else object_of(f"{key}/zarr.json")


def match_tensors(old: Dataset, new: Dataset) -> dict[str, str]:
    """Old key -> new key for every tensor of ``old`` that ``new`` still has, under its own name
    or renamed. A tensor is followed by its identity (:func:`tensor_identity`), so renames that
    swap names are seen; a name that both sides have and no identity claimed pairs by name (a
    tensor a merge brought over, one deleted and created again); what is left pairs by sample
    ids: a tensor only in ``old`` and one only in ``new`` with the same htype whose ids mostly
    agree (at least half of the smaller one's; ids are random 64-bit numbers that only a rename
    or a merge carries to another tensor), or that are both empty with the same dtype."""
    old_keys, new_keys = list(old._state.meta.tensors), list(new._state.meta.tensors)
    by_identity = {tensor_identity(old, k): k for k in old_keys}
    by_identity.pop(None, None)
    out: dict[str, str] = {}
    for key in new_keys:
        source = by_identity.get(tensor_identity(new, key))
        if source is not None:
            out[source] = key
    claimed = set(out.values())
    for key in new_keys:
        if key in old._state.meta.tensors and key not in out and key not in claimed:
            out[key] = key
    claimed = set(out.values())
    gone = [k for k in old_keys if k not in out]
    came = [k for k in new_keys if k not in claimed]
    out.update(_match_by_ids(old, new, gone, came))
    return out


def _match_by_ids(old: Dataset, new: Dataset, gone: list[str], came: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if not gone or not came:
        return out
    old_ids = {k: old[k].sample_ids for k in gone}
    for new_key in came:
        b = new[new_key]
        ids = b.sample_ids
        best, best_score = None, 0.0
        for old_key in gone:
            a = old[old_key]
            if old_key in out or a.meta.htype_name != b.meta.htype_name:
                continue
            if not len(ids) and not len(old_ids[old_key]):
                score = 1.0 if a.meta.dtype == b.meta.dtype else 0.0
            else:
                shared = np.isin(ids, old_ids[old_key]).sum()
                score = shared / max(1, min(len(ids), len(old_ids[old_key])))
            if score >= 0.5 and score > best_score:
                best, best_score = old_key, score
        if best is not None:
            out[best] = new_key
    return out


def find_renames(old: Dataset, new: Dataset) -> dict[str, str]:
    """Old key -> new key for the tensors of ``old`` that ``new`` has under another name."""
    return {o: n for o, n in match_tensors(old, new).items() if o != n}


def dataset_diff(old: Dataset, new: Dataset, matched: dict[str, str] | None = None) -> dict[str, TensorDiff]:
    """Per-tensor differences from ``old`` to ``new`` (only tensors that changed), keyed by the
    new name (the old one for deleted tensors). ``matched``: ``match_tensors(old, new)`` when
    the caller has it."""
    matched = match_tensors(old, new) if matched is None else matched
    source = {n: o for o, n in matched.items()}
    touched = new._state.zarr_store.manifest_diff(old._state.zarr_store)
    touched_tensors = {key.rsplit("/", 1)[0] for key in touched}  # parents at every depth, below
    touched_tensors |= {p for key in list(touched_tensors) for p in _parents(key)}
    out: dict[str, TensorDiff] = {}
    for key in new._state.meta.tensors:
        old_key = source.get(key)
        if old_key is None:
            d = tensor_diff(None, new[key])
        elif old_key == key and key not in touched_tensors:
            continue
        else:
            d = tensor_diff(old[old_key], new[key])
            d.renamed_from = old_key if old_key != key else None
        if d.changed:
            out[key] = d
    for key in old._state.meta.tensors:
        if key not in matched and key not in out:  # (a deleted name another tensor took keeps that one)
            out[key] = tensor_diff(old[key], None)
    return dict(sorted(out.items()))


def _parents(key: str) -> list[str]:
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


# -- Deep Lake v3's per-commit layout ------------------------------------------------------------------
def _visible(ds: Dataset | None) -> dict[str, Any]:
    return {} if ds is None else {k: m for k, m in ds._state.meta.tensors.items() if not m.hidden}


def _tensor_entry(d: TensorDiff | None, cleared: bool, info_updated: bool) -> dict[str, Any]:
    """v3's entry for one tensor in one commit: ``data_added`` is the [start, end) range of the
    rows added, ``data_updated`` the rows updated (new positions), ``data_deleted`` the rows
    deleted (old positions); ``cleared`` when every old row went (then no row counts as deleted)."""
    d = d or TensorDiff()
    added = d.added_indices.tolist()
    return {"created": d.created, "cleared": cleared, "info_updated": info_updated,
            "data_added": [min(added), max(added) + 1] if added else [0, 0],
            "data_updated": set(d.updated_indices.tolist()),
            "data_deleted": set() if cleared else set(d.removed_indices.tolist()),
            "data_transformed_in_place": False}


def change_entries(old: Dataset | None, new: Dataset, step: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensor entry, dataset entry) of Deep Lake v3's ``diff(as_dict=True)`` for the changes from
    ``old`` (None: nothing, before the first commit) to ``new``. ``step`` holds ``commit_id``,
    ``author``, ``message`` and ``date`` of the commit (None for uncommitted changes).

    The tensor entry has ``commit_id`` and one item per visible tensor of ``new``; the dataset
    entry adds ``info_updated`` (the dataset's info), ``renamed`` (old -> new name, in the order
    the tensors were created) and ``deleted`` (names). Changes are derived from the two versions
    (tensors followed by identity, samples by hidden id), not from a log of operations, so a
    tensor emptied and refilled is "cleared" only when it existed before, and renames are not
    listed in the order they were made (v3 kept that order)."""
    old_meta, new_meta = _visible(old), _visible(new)
    matched = match_tensors(old, new) if old is not None else {}
    source = {n: o for o, n in matched.items()}
    changes = dataset_diff(old, new, matched) if old is not None else {}
    renamed = OrderedDict((o, matched[o]) for o in old_meta if matched.get(o, o) != o and matched[o] in new_meta)
    tensors: dict[str, Any] = {"commit_id": step["commit_id"]}
    for key, meta in new_meta.items():
        d = changes.get(key) if old is not None else tensor_diff(None, new[key])
        before = old_meta.get(source.get(key))
        cleared = bool(d is not None and before is not None and not d.created and len(d.removed)
                       and len(d.removed) == len(old[source[key]].sample_ids))
        tensors[key] = _tensor_entry(d, cleared, before is not None and before.info != meta.info)
    deleted = [key for key in old_meta if key not in matched]
    info_updated = old is not None and old._state.meta.info != new._state.meta.info
    dataset = {**step, "info_updated": info_updated, "renamed": renamed, "deleted": deleted}
    return tensors, dataset


def _ranges(rows: set[int]) -> str:
    """Sorted row numbers as ranges: {1, 2, 3, 7} -> '1-3, 7'."""
    out: list[str] = []
    ordered = sorted(rows)
    start = prev = ordered[0]
    for row in ordered[1:] + [None]:
        if row is not None and row == prev + 1:
            prev = row
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if row is not None:
            start = prev = row
    return ", ".join(out)


def _tensor_lines(name: str, change: dict[str, Any]) -> list[str]:
    lines = []
    if change["created"]:
        lines.append("* Created tensor")
    if change["cleared"]:
        lines.append("* Cleared tensor")
    start, end = change["data_added"]
    if end > start:
        lines.append(f"* Added {end - start} sample{'s' if end - start != 1 else ''}: [{start}-{end - 1}]")
    for label, rows in (("Updated", change["data_updated"]), ("Deleted", change["data_deleted"])):
        if rows:
            lines.append(f"* {label} {len(rows)} sample{'s' if len(rows) != 1 else ''}: [{_ranges(rows)}]")
    if change["info_updated"]:
        lines.append("* Updated tensor info")
    return [name, *lines, ""] if lines else []


def _step_lines(tensor_entry: dict[str, Any], dataset_entry: dict[str, Any]) -> list[str]:
    if dataset_entry["date"] is None:  # uncommitted changes: no author, date or message yet
        lines = ["*" * 80, f"uncommitted changes (the next commit will be {dataset_entry['commit_id']})", ""]
    else:
        lines = ["*" * 80, f"commit {dataset_entry['commit_id']}", f"Author: {dataset_entry['author']}",
                 f"Date: {dataset_entry['date']}", f"Message: {dataset_entry['message']}", ""]
    header = len(lines)
    if dataset_entry["info_updated"]:
        lines.append("- Updated dataset info")
    lines += [f"- Deleted:\t{name}" for name in dataset_entry["deleted"]]
    lines += [f"- Renamed:\t{old} -> {new}" for old, new in dataset_entry["renamed"].items()]
    body = []
    for name in sorted(k for k in tensor_entry if k != "commit_id"):
        body += _tensor_lines(name, tensor_entry[name])
    if len(lines) == header and not body:
        lines.append("No changes.")
    return lines + body


def format_changes(title: str | None, sides: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]) -> str:
    """The text ``ds.diff()`` prints: ``title`` (how the sides relate), then per side a heading
    and its (tensor entries, dataset entries), newest first."""
    rule = "-" * 120
    lines = ["", "## deeplake_nb Diff"] + ([title] if title else [])
    for heading, tensor_entries, dataset_entries in sides:
        lines += [rule, heading]
        for t, d in zip(tensor_entries, dataset_entries):
            lines += _step_lines(t, d)
        if not tensor_entries:
            lines.append("No changes were made.")
    lines.append(rule)
    return "\n".join(lines)
