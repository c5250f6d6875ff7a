"""The stored samples of one tensor: hidden ids, a column, and buffers of pending appends and
pending updates (both written by ``flush``; every read here applies pending updates first).

Layout under the tensor's zarr group: ``_id (n,) uint64`` (stable hidden sample ids), then either
the sample column's arrays (``data`` or ``bytes``/``index``/``shape``) or, for sequences,
``seq`` plus an ``items/`` group. The length of ``_id`` is authoritative: appends write the
column first and resize ``_id`` last, so an interrupted append is invisible.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np
import zarr

from ..storage import ByteStore
from .arrays import ArrayHandle
from .columns import TABLE_CHUNK_BYTES, TABLE_COMPRESSION, AdaptiveColumn, SequenceColumn, Staged
from .meta import TensorMeta

ID_ARRAY = "_id"
REWRITE_GROUP = "_rechunked"  # where ``rechunk`` builds a tensor's new arrays before moving them in place
COLUMN_ARRAYS = ("data", "bytes", "index", "shape")
# Buffered appends are written once they reach this size. Each write rewrites the partial last
# chunk of every array it touches, so fewer, larger writes cost less I/O: 64 MiB ingests photo-size
# JPEGs about 1.15x faster than 16 MiB (benchmarks/RESULTS.md).
FLUSH_BYTES = 64 << 20
# A ragged tensor's buffered bytes are put in its heap once they reach this size (``stage_due``): each
# full chunk is written then, from bytes still in the CPU's caches, and freed, so a long append
# (an ingest inside ``with ds:``) holds little and writes each chunk once. Its rows (index, shape,
# ids) stay buffered until the flush. A 5,000-JPEG ImageFolder ingest: ~0.26 -> ~0.21 s (benchmarks/RESULTS.md).
STAGE_BYTES = 8 << 20


def stored_length(store: ByteStore, path: str) -> int | None:
    """The number of samples stored for the tensor whose group is at ``path`` (its ``_id``
    array's rows, from that array's metadata document alone: opening a ``TensorStore`` parses
    every array of the tensor), or None when that document is absent or not a zarr v3 array
    document (open the tensor's store instead). Pending appends live in an open store only."""
    metadata = ArrayHandle.stored_metadata(f"{path}/{ID_ARRAY}", store)
    return None if metadata is None else int(metadata.shape[0])


class TensorStore:
    def __init__(self, group: zarr.Group, store: ByteStore, meta: TensorMeta,
                 on_meta_change: Callable[[], None]) -> None:
        self.group, self.store, self.meta = group, store, meta
        self._on_meta_change = on_meta_change
        ids = ArrayHandle.open_if_present(group, ID_ARRAY, store)
        if ids is not None:
            self.ids = ids
        else:
            self.ids = ArrayHandle.create(group, ID_ARRAY, store, dtype="uint64", row_shape=(),
                                          chunk_bytes=TABLE_CHUNK_BYTES, compression=TABLE_COMPRESSION)
        if meta.sequence:
            items_group = group.require_group("items")
            items = self._adaptive(items_group, "items_layout")
            found = ArrayHandle.open_if_present(group, "seq", store)
            if found is not None:
                seq = found
            else:
                seq = ArrayHandle.create(group, "seq", store, dtype="uint64", row_shape=(2,),
                                         chunk_bytes=TABLE_CHUNK_BYTES, compression=TABLE_COMPRESSION)
            self.column: AdaptiveColumn | SequenceColumn = SequenceColumn(seq, items)
        else:
            self.column = self._adaptive(group, "layout")
        self._pending: list[Any] = []
        self._pending_ids: list[np.ndarray] = []
        self._pending_bytes = 0
        self._staged: list[Staged] = []  # buffered rows before ``_pending`` whose bytes are in the heap
        self._staged_rows = 0
        self._staged_bytes = 0  # their index and shape rows
        self._updates: dict[int, Any] = {}
        self._update_bytes = 0

    def _adaptive(self, group: zarr.Group, key: str) -> AdaptiveColumn:
        dtype = self.meta.dtype if self.meta.kind == "array" and not self.meta.link else "uint8"
        return AdaptiveColumn(group, self.store, self.meta, key, dtype=dtype,
                              compression=self.meta.chunk_compression, on_layout=self._on_meta_change,
                              chunk_bytes=self.meta.max_chunk_size)

    # -- length -----------------------------------------------------------------------------------
    @property
    def stored_length(self) -> int:
        return self.ids.nrows

    def __len__(self) -> int:
        return self.ids.nrows + self._staged_rows + len(self._pending)

    @property
    def has_pending(self) -> bool:
        return bool(self._pending or self._staged or self._updates)

    # -- writing ----------------------------------------------------------------------------------
    def append(self, encoded: Sequence[Any], ids: np.ndarray) -> bool:
        """Buffer encoded samples with their ids (no I/O: a write appending to several tensors
        buffers all of them before any is written); True when the buffer asks to be flushed."""
        self._pending.extend(encoded)
        self._pending_ids.append(np.asarray(ids, np.uint64))
        self._pending_bytes += sum(_size(e) for e in encoded)
        return self._pending_bytes + self._staged_bytes >= FLUSH_BYTES

    def stage_due(self) -> None:
        """Once a ragged column's buffered bytes reach ``STAGE_BYTES``, put them in its heap now
        (``AdaptiveColumn.stage``: full chunks written, the last one held in memory) and keep
        only their rows; nothing for other columns. Called after a write has buffered its
        appends to every tensor."""
        if self._pending_bytes < STAGE_BYTES or not isinstance(self.column, AdaptiveColumn):
            return
        staged = self.column.stage(self._pending, self.ids.nrows + self._staged_rows)
        if staged is not None:
            self._staged.append(staged)
            self._staged_rows += len(self._pending)
            self._staged_bytes += staged[0].nbytes + staged[1].nbytes
            self._pending, self._pending_bytes = [], 0

    def flush(self) -> None:
        """Write pending appends (staged ones first), then pending updates."""
        if self._pending or self._staged:
            start = self.ids.nrows
            if self._staged:
                assert isinstance(self.column, AdaptiveColumn)
                self.column.write(start, self._pending, self._staged)
            else:
                self.column.write(start, self._pending)
            self.ids.write(start, np.concatenate(self._pending_ids))
            self._pending, self._pending_ids, self._pending_bytes = [], [], 0
            self._staged, self._staged_rows, self._staged_bytes = [], 0, 0
        self._apply_updates()

    def set_many(self, rows: Sequence[int] | np.ndarray, encoded: Sequence[Any]) -> bool:
        """Buffer new values for the samples at ``rows`` (a repeated row takes its last value);
        True when the buffer asks to be flushed. A flush writes all buffered updates with one heap
        append and one rewrite per touched chunk."""
        rows = np.asarray(rows, np.int64)
        if (self._pending or self._staged) and len(rows) and int(rows.max()) >= self.ids.nrows:
            self.flush()                      # rows among the pending appends: land those first
        for row, value in zip(rows.tolist(), encoded):
            self._updates[row] = value
            self._update_bytes += _size(value)
        return self._update_bytes >= FLUSH_BYTES

    def _apply_updates(self) -> None:
        if self._updates:
            rows = np.fromiter(self._updates, np.int64, len(self._updates))
            order = np.argsort(rows, kind="stable")
            values = list(self._updates.values())
            self._updates, self._update_bytes = {}, 0
            self.column.set_many(rows[order], [values[i] for i in order.tolist()], self.ids.nrows)

    def clear(self) -> None:
        """Remove every sample (pending ones too) and the stored arrays' contents."""
        self._pending, self._pending_ids, self._pending_bytes = [], [], 0
        self._staged, self._staged_rows, self._staged_bytes = [], 0, 0
        self._updates, self._update_bytes = {}, 0
        self.ids.resize(0)  # first: an interrupted clear leaves an empty tensor, never ids without rows
        self.column.clear()

    def rechunk(self) -> None:
        """Rewrite the sample data in index order, leaving out the bytes of replaced samples, in
        chunks of the tensor's size now (``meta.max_chunk_size``, else the format's); ids and
        values stay. The new arrays are built beside the old ones (``_rechunked/``) in batches of
        about ``FLUSH_BYTES``, then moved into place (no bytes copied). Afterwards this store is
        stale: open the tensor's store again."""
        self.flush()
        old = self.column.items if isinstance(self.column, SequenceColumn) else self.column
        if old.impl is None:
            return
        rows = np.arange(self.ids.nrows, dtype=np.int64)
        if isinstance(self.column, SequenceColumn):
            ranges = self.column.seq.take(rows).astype(np.int64) if len(rows) else np.zeros((0, 2), np.int64)
            rows = np.concatenate([np.arange(f, f + c) for f, c in ranges.tolist()] + [np.zeros(0, np.int64)])
        scratch = self.group.require_group(REWRITE_GROUP)
        layout = SimpleNamespace(layout=None)
        new = AdaptiveColumn(scratch, self.store, layout, "layout", dtype=old.dtype, compression=old.compression,
                             on_layout=lambda: None, chunk_bytes=self.meta.max_chunk_size)
        sizes = np.cumsum(old.nbytes(rows)) if len(rows) else np.zeros(0, np.int64)
        start = 0
        while start < len(rows):
            stop = max(start + 1, int(np.searchsorted(sizes, sizes[start] + FLUSH_BYTES, side="left")))
            new.write(start, old.take(rows[start:stop]))
            start = stop
        self._replace_column(old, new, scratch.path, layout.layout)
        if isinstance(self.column, SequenceColumn) and len(ranges):
            counts = ranges[:, 1]
            self.column.seq.write(0, np.stack([np.cumsum(counts) - counts, counts], axis=1).astype(np.uint64))

    def _replace_column(self, old: AdaptiveColumn, new: AdaptiveColumn, scratch: str, layout: str | None) -> None:
        """Put the arrays ``new`` built under ``scratch`` where ``old``'s are, and record its layout."""
        for name in COLUMN_ARRAYS:
            if name in old.group:
                del old.group[name]
        for name in COLUMN_ARRAYS:
            if name in new.group:
                self.store.store.move_prefix(f"{scratch}/{name}/", f"{old.group.path}/{name}/".lstrip("/"))
        self.store.delete(f"{scratch}/zarr.json")
        setattr(self.meta, old.key, layout)
        self._on_meta_change()

    def delete(self, rows: np.ndarray) -> None:
        """Remove samples at the given sorted unique positions (shifts later samples down)."""
        self.flush()
        n = self.ids.nrows
        self.column.delete_rows(rows, n)
        self.ids.delete_rows(rows, n)

    # -- reading ----------------------------------------------------------------------------------
    # Shapes are read with at most the tensor's ``ndim`` dimensions: empty samples stored before a
    # first real sample fixed fewer dimensions (an image tensor's (0, 0, 0) before 2-D images)
    # widened the ``shape`` array, whose extra columns are zeros for every row.
    def _fit(self, encoded: Any) -> Any:
        ndim = self.meta.ndim
        if isinstance(encoded, list):
            return [self._fit(e) for e in encoded]
        payload, shape = encoded
        return (payload, shape[:ndim]) if ndim is not None and len(shape) > ndim else encoded

    def _fit_shapes(self, shapes: np.ndarray) -> np.ndarray:
        ndim = self.meta.ndim
        return shapes[:, :ndim] if ndim is not None and shapes.ndim == 2 and shapes.shape[1] > ndim else shapes

    def read(self, i: int) -> Any:
        self._apply_updates()
        return self._fit(self.column.read(i))

    def take(self, rows: np.ndarray) -> list[Any]:
        self._apply_updates()
        return [self._fit(e) for e in self.column.take(rows)] if len(rows) else []

    def take_dense(self, rows: np.ndarray) -> np.ndarray | None:
        """Stacked samples when the column is dense (one shape for all), else None."""
        self._apply_updates()
        column = self.column
        if isinstance(column, AdaptiveColumn) and column.dense:
            return column.impl.take(rows)
        return None

    def shapes(self, rows: np.ndarray) -> Any:
        self._apply_updates()
        if isinstance(self.column, AdaptiveColumn) and self.column.impl is None:
            return np.zeros((len(rows), self.meta.ndim or 0), np.int64)
        shapes = self.column.shapes(rows)
        return [self._fit_shapes(s) for s in shapes] if isinstance(shapes, list) else self._fit_shapes(shapes)

    def nbytes(self, rows: np.ndarray) -> np.ndarray:
        self._apply_updates()
        return self.column.nbytes(rows)

    def sample_ids(self, rows: np.ndarray) -> np.ndarray:
        return self.ids.take(rows)


def _size(encoded: Any) -> int:
    if isinstance(encoded, list):
        return sum(_size(e) for e in encoded)
    payload = encoded[0]
    return len(payload) if isinstance(payload, bytes) else payload.nbytes
