"""``tensor.chunk_engine``: how one tensor is stored, and what changed in it since the commit its
version is based on, under Deep Lake v3's names (read-only; computed when asked, never kept up to
date by writes, so every value is what storage and version control say now).

- A *chunk* is one stored chunk of the array that holds the samples themselves: the dense ``data``
  array, or the byte heap of a ragged column (for ``sequence[X]`` tensors, the item column's).
  The per-row tables (``_id``, ``index``, ``shape``, ``seq``) are bookkeeping, as v3's encoders
  were, and are not counted. A heap chunk counts while a sample's bytes lie in it: bytes that an
  update replaced (the heap is append-only) do not count, and empty samples hold no bytes.
- ``chunk_id_encoder`` lists, as v3's did, each chunk with the last sample whose bytes lie in it,
  which is a table only while samples lie in the heap in index order (updates of ragged samples
  append their new bytes at its end; ``ds.rechunk()`` puts them back in order).
- As in v3, a sequence tensor's chunk engine counts items: its samples, in order, are the items
  of every sequence, one after the other (``num_samples``); ``tensor_length`` counts sequences.
- ``commit_diff`` compares the tensor with the commit its version's own changes are counted from
  (a branch's head commit, so its uncommitted changes; a checked-out commit's first parent),
  samples matched by hidden id (:mod:`.diff`); a tensor whose stored keys all point at the same
  objects as there is unchanged without reading a sample.
- A view's chunk engine is its whole tensor's: chunks and changes belong to the stored tensor,
  not to a selection of its rows (as in v3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedFeatureError
from ..format.columns import AdaptiveColumn, DenseColumn, RaggedColumn, SequenceColumn
from .diff import TensorDiff, _tensor_entry, match_tensors, tensor_diff

if TYPE_CHECKING:
    from .dataset import Dataset
    from .tensor import Tensor, TensorMetaView

_PROVIDED = "num_samples, tensor_length, num_chunks, chunk_id_encoder, commit_diff and tensor_meta"
# v3 chunk-engine internals without a counterpart here, and what to use instead
_INSTEAD = {
    "tile_encoder": "deeplake_nb never tiles a sample: a large sample's bytes simply span heap chunks",
    "pad_encoder": "padded rows are stored as empty samples: tensor.shapes() shows them as zero shapes",
    "creds_encoder": "a linked sample keeps its creds key with its URL: see ds.get_creds_keys()",
    "sequence_encoder": "tensor.shapes() gives each sequence's item shapes, len(tensor[i]) its item count",
    "shape_encoder": "tensor.shapes() and tensor.shape read the stored shapes",
    "byte_positions_encoder": "tensor.tobytes() reads a sample's stored bytes",
}


@dataclass(frozen=True)
class CommitDiff:
    """A tensor's changes against the commit they are counted from (Deep Lake v3's names):
    ``data_added`` the [start, end) rows added (``[n, n]`` when none, n the tensor's length),
    ``data_updated`` rows updated (new positions), ``data_deleted`` rows deleted (old positions;
    none when ``cleared``, i.e. every old row went) and ``data_deleted_ids`` their hidden ids,
    ``created`` (the tensor is new), ``info_updated`` (its info differs)."""

    created: bool
    cleared: bool
    info_updated: bool
    data_added: list[int]
    data_updated: frozenset[int]
    data_deleted: frozenset[int]
    data_deleted_ids: frozenset[int]

    @property
    def num_samples_added(self) -> int:
        return self.data_added[1] - self.data_added[0]

    @classmethod
    def of(cls, d: TensorDiff, cleared: bool, info_updated: bool, length: int) -> CommitDiff:
        entry = _tensor_entry(d, cleared, info_updated)
        start, end = entry["data_added"]
        return cls(created=d.created, cleared=cleared, info_updated=info_updated,
                   data_added=[start, end] if end > start else [length, length],
                   data_updated=frozenset(entry["data_updated"]), data_deleted=frozenset(entry["data_deleted"]),
                   data_deleted_ids=frozenset() if cleared else frozenset(d.removed.tolist()))


class ChunkIdEncoder:
    """Which chunks hold which samples. ``first[j]``/``last[j]``: the first and last chunk number
    holding sample ``j``'s bytes (-1 for an empty sample, which holds none)."""

    def __init__(self, key: str, first: np.ndarray, last: np.ndarray) -> None:
        self._key, self._first, self._last = key, first, last

    @property
    def num_samples(self) -> int:
        return len(self._first)

    def chunks(self) -> np.ndarray:
        """The numbers of the chunks holding samples, ascending."""
        held = self._first >= 0
        first, last = self._first[held], self._last[held]
        if not len(first):
            return np.zeros(0, np.int64)
        wide = np.flatnonzero(last - first > 1)  # samples over 3+ chunks: their middle ones too
        parts = [first, last] + [np.arange(f + 1, e) for f, e in zip(first[wide].tolist(), last[wide].tolist())]
        return np.unique(np.concatenate(parts))

    @property
    def num_chunks(self) -> int:
        return len(self.chunks())

    def __getitem__(self, sample: int) -> np.ndarray:
        """The numbers of the chunks holding sample ``sample``'s bytes (none for an empty sample)."""
        j = range(self.num_samples)[sample]  # IndexError past the end, negatives from the end
        first = int(self._first[j])
        return np.arange(first, int(self._last[j]) + 1, dtype=np.int64) if first >= 0 else np.zeros(0, np.int64)

    @property
    def array(self) -> np.ndarray:
        """v3's table, one row per chunk holding samples: ``[chunk number, last sample in it]``
        (uint64). Only while the samples lie in the chunks in index order; an
        UnsupportedFeatureError once updates moved a sample's bytes past later samples'."""
        held = np.flatnonzero(self._first >= 0)
        first, last = self._first[held], self._last[held]
        if len(held) > 1 and np.any(first[1:] < last[:-1]):
            raise UnsupportedFeatureError(
                f"Samples of tensor {self._key!r} are not stored in index order (an update appends the new bytes "
                "after every other sample), so there is no v3 chunk-id table for it. num_chunks and "
                "tensor.chunk_engine.chunk_id_encoder[i] (the chunks of sample i) still answer; ds.rechunk() "
                "stores the samples in order again.")
        chunks = self.chunks()
        lasts = held[np.searchsorted(first, chunks, side="right") - 1] if len(chunks) else chunks
        return np.stack([chunks, lasts], axis=1).astype(np.uint64) if len(chunks) else np.zeros((0, 2), np.uint64)


def _sample_chunks(column: AdaptiveColumn, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) chunk number of each of the column's ``rows`` (-1 for an empty sample)."""
    impl = column.impl
    if isinstance(impl, DenseColumn):
        k = rows // max(1, impl.data.rows_per_chunk)
        return k, k.copy()
    if isinstance(impl, RaggedColumn):
        spans = impl.index.take(rows).astype(np.int64) if len(rows) else np.zeros((0, 2), np.int64)
        r, empty = impl.heap.rows_per_chunk, spans[:, 1] == 0
        first = np.where(empty, -1, spans[:, 0] // r)
        return first, np.where(empty, -1, (spans[:, 0] + spans[:, 1] - 1) // r)
    none = np.full(len(rows), -1, np.int64)  # no layout yet: only empty samples, or none
    return none, none.copy()


class ChunkEngine:
    """``tensor.chunk_engine``: read-only facts about the storage of the whole tensor (see the
    module docstring). Other v3 chunk-engine members raise UnsupportedFeatureError."""

    def __init__(self, dataset: Dataset, key: str) -> None:
        self._dataset, self.key = dataset, key

    def __repr__(self) -> str:
        return f"ChunkEngine(key={self.key!r})"

    @property
    def _tensor(self) -> Tensor:
        from .tensor import Tensor  # the module that builds on this one
        return Tensor(self._dataset, self.key)

    @property
    def tensor_meta(self) -> TensorMetaView:
        return self._tensor.meta

    @property
    def tensor_length(self) -> int:
        """The number of samples (sequences, for a sequence tensor)."""
        return len(self._tensor)

    @property
    def num_samples(self) -> int:
        """The number of samples, counting every item of a sequence tensor (v3's ``meta.length``)."""
        store = self._dataset._state.tensor_store(self.key)
        if not self._tensor_meta_sequence():
            return len(store)
        if store.has_pending:
            store.flush()
        rows = np.arange(store.stored_length, dtype=np.int64)
        return int(store.column.seq.take(rows)[:, 1].sum()) if len(rows) else 0

    def _tensor_meta_sequence(self) -> bool:
        return self._dataset._state.meta.tensors[self.key].sequence

    @property
    def num_chunks(self) -> int:
        return self.chunk_id_encoder.num_chunks

    @property
    def chunk_id_encoder(self) -> ChunkIdEncoder:
        store = self._dataset._state.tensor_store(self.key)
        if store.has_pending:
            store.flush()  # buffered writes are written (not published) so that their chunks exist
        rows = np.arange(store.stored_length, dtype=np.int64)
        column = store.column
        if isinstance(column, SequenceColumn):
            ranges = column.seq.take(rows).astype(np.int64) if len(rows) else np.zeros((0, 2), np.int64)
            rows = np.concatenate([np.arange(f, f + c) for f, c in ranges.tolist()] + [np.zeros(0, np.int64)])
            column = column.items
        return ChunkIdEncoder(self.key, *_sample_chunks(column, rows))

    @property
    def commit_diff(self) -> CommitDiff:
        ds = self._dataset._whole()
        here = ds[self.key]
        base_id = ds._diff_base()
        old = None if base_id is None else ds._open_version(base_id)
        source = {} if old is None else {new: o for o, new in match_tensors(old, ds).items()}
        old_key = source.get(self.key)
        if old_key is None:
            return CommitDiff.of(tensor_diff(None, here), False, False, len(here))
        if here._store.has_pending:
            here._store.flush()  # written (not published), so the manifest shows what changed
        before = old[old_key]
        info_updated = before.meta.info != here.meta.info
        if old_key == self.key and not _touched(ds, old, self.key):
            return CommitDiff.of(TensorDiff(), False, info_updated, len(here))
        d = tensor_diff(before, here)
        cleared = bool(len(d.removed)) and len(d.removed) == len(before)
        return CommitDiff.of(d, cleared, info_updated, len(here))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        hint = _INSTEAD.get(name, "its internals are not part of deeplake_nb's storage")
        raise UnsupportedFeatureError(
            f"Deep Lake v3's chunk_engine.{name} has no counterpart here ({hint}); chunk_engine gives {_PROVIDED}.")


def _touched(new: Dataset, old: Dataset, key: str) -> bool:
    """Whether any stored key of tensor ``key`` names other objects in ``new`` than in ``old``."""
    prefix = key + "/"
    return any(k.startswith(prefix) for k in new._state.zarr_store.manifest_diff(old._state.zarr_store))
