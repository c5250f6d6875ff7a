"""A ragged tensor's buffered appends are put in its heap once they reach ``STAGE_BYTES``
(``TensorStore.stage_due``, once a write has buffered every tensor's rows): full chunks written
at once, the partly filled last chunk held in memory (``ArrayHandle.append_blobs(hold_tail=True)``),
the rows written at the flush. Whatever the sizes, the order of appends, flushes, reads, updates
and pops, the tensor holds exactly what was appended, and a reopened dataset reads it back;
chunks are each written once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deeplake_nb as dl
from deeplake_nb.errors import StorageError
from deeplake_nb.format import tensor_store
from deeplake_nb.storage import bytestore


def blob(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.fixture
def small_stages(monkeypatch):
    """Stages every 300 bytes (the heap's chunks are 1 KiB in these tests)."""
    monkeypatch.setattr(tensor_store, "STAGE_BYTES", 300)


ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("extend"), st.lists(st.integers(0, 2500), min_size=1, max_size=6)),
    st.tuples(st.just("flush"), st.none()),
    st.tuples(st.just("read"), st.integers(0, 10**6)),
    st.tuples(st.just("update"), st.integers(0, 10**6)),
    st.tuples(st.just("pop"), st.none()),
), min_size=1, max_size=14)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS, compression=st.sampled_from([None, "lz4"]), inside=st.booleans())
def test_staged_appends_hold_what_was_appended(tmp_path_factory, small_stages, actions, compression, inside):
    path = tmp_path_factory.mktemp("staged") / "ds"
    ds = dl.empty(path)
    ds.create_tensor("t", htype="text", max_chunk_size=1024, chunk_compression=compression)
    expected: list[str] = []
    seed = 0

    def run() -> None:
        nonlocal seed
        for action, arg in actions:
            if action == "extend":
                values = []
                for size in arg:
                    seed += 1
                    values.append(blob(seed, size).hex()[:size])
                ds.t.extend(values)
                expected.extend(values)
            elif action == "flush":
                ds.flush()
            elif action == "read" and expected:
                i = arg % len(expected)
                assert ds.t[i].numpy() == expected[i]
            elif action == "update" and expected:
                i = arg % len(expected)
                seed += 1
                expected[i] = blob(seed, 700).hex()[:700]
                ds.t[i] = expected[i]
            elif action == "pop" and expected:
                ds.t.pop()
                expected.pop()
            assert len(ds.t) == len(expected)

    if inside:
        with ds:
            run()
    else:
        run()
    assert [s.numpy() for s in ds.t] == expected
    back = dl.load(path, read_only=True)
    assert [s.numpy() for s in back.t] == expected


def test_a_long_append_writes_each_full_chunk_once_and_holds_little(tmp_path, monkeypatch):
    """Inside ``with ds:`` the bytes of 40 images go to the heap as the buffer reaches
    ``STAGE_BYTES``: each full chunk is written once, none is rewritten, the buffer never holds
    more than a stage's worth, and the rows land at the block's end."""
    monkeypatch.setattr(tensor_store, "STAGE_BYTES", 4096)
    writes: list[str] = []
    real_set_parts = bytestore.ByteStore.set_parts

    def counted_set_parts(self, key, parts, **kwargs):
        writes.append(key)
        return real_set_parts(self, key, parts, **kwargs)

    monkeypatch.setattr(bytestore.ByteStore, "set_parts", counted_set_parts)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("b", htype="text", max_chunk_size=8192)
    values = [blob(i, 1500).hex()[:1500] for i in range(40)]  # 60,000 bytes: 7 full chunks, a partial one
    with ds:
        for i in range(0, 40, 4):
            ds.b.extend(values[i:i + 4])
            assert ds.b._store._pending_bytes < 4096 + 6000  # staged once over STAGE_BYTES
        assert len(ds.b) == 40
        stored_rows = ds.b._store.stored_length
    assert stored_rows == 0  # the rows were written when the block ended
    heap = [key for key in writes if "/bytes/c/" in key]
    assert sorted(heap) == sorted(set(heap)) and len(heap) == 8, heap  # each chunk once, the tail at the end
    assert [s.numpy() for s in dl.load(tmp_path / "ds", read_only=True).b] == values


def test_an_append_after_a_flush_extends_the_stored_tail_chunk(tmp_path, monkeypatch):
    """A flush stores the held tail chunk (padded); the next staged append continues it (its
    stored bytes patched or rewritten), and earlier samples keep their bytes."""
    monkeypatch.setattr(tensor_store, "STAGE_BYTES", 100)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("b", htype="text", max_chunk_size=1024)
    values = [blob(i, 300).hex()[:300] for i in range(12)]
    ds.b.extend(values[:5])  # outside ``with``: flushed and published at once
    five = ds.commit("five")
    with ds:
        ds.b.extend(values[5:9])
        ds.b.extend(values[9:])
    assert [s.numpy() for s in ds.b] == values
    ds.commit("twelve")
    ds.checkout(five)
    assert [s.numpy() for s in ds.b] == values[:5]


def test_dense_tensors_and_empty_samples(tmp_path, small_stages):
    """Dense columns stage nothing; empty samples (shape zeros) staged before real images widen
    the shape array, and their rows read back as empty."""
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="float32")
    ds.create_tensor("img", htype="image", sample_compression="png")
    rows = [np.full((8, 8), i, np.float32) for i in range(20)]
    with ds:
        ds.x.extend(rows)
        ds.img.extend([None] * 3)
        pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
        ds.img.extend([pixels] * 3)
    assert ds.x._store.column.dense
    np.testing.assert_array_equal(ds.x.numpy(), np.stack(rows))
    assert [tuple(s) for s in ds.img.shapes()] == [(0, 0, 0)] * 3 + [(40, 30, 3)] * 3
    np.testing.assert_array_equal(ds.img[4].numpy(), pixels)


def test_a_write_that_fails_staging_leaves_every_tensor_the_same_length(tmp_path, monkeypatch):
    """Staging writes chunks only after the write has buffered its rows in every tensor: a storage
    error there leaves the tensors of equal lengths, as a failed flush does, and the rows read back
    once the store works again."""
    monkeypatch.setattr(tensor_store, "STAGE_BYTES", 1000)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("b", htype="text", max_chunk_size=1024)
    ds.create_tensor("n", dtype="int64")
    real = bytestore.ByteStore.set_parts

    def broken(self, key, parts, **kwargs):
        raise StorageError(f"Could not write {key!r}: the disk is full.")

    values = [blob(i, 600).hex()[:600] for i in range(6)]
    with ds:
        monkeypatch.setattr(bytestore.ByteStore, "set_parts", broken)
        with pytest.raises(StorageError):
            ds.extend({"b": values, "n": list(range(6))})
        assert len(ds.b) == len(ds.n) == 6
        monkeypatch.setattr(bytestore.ByteStore, "set_parts", real)
    assert [s.numpy() for s in ds.b] == values and ds.n.numpy().ravel().tolist() == list(range(6))


def test_readers_inside_the_block_see_staged_rows(tmp_path, small_stages):
    """A query, a loader and a ragged numeric tensor (its arrays staged once the column is ragged)
    all see rows staged inside ``with ds:``, before the block has written their rows."""
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("t", htype="text", max_chunk_size=1024)
    ds.create_tensor("v", dtype="float32", max_chunk_size=1024)
    texts = [blob(i, 400).hex()[:400] for i in range(10)]
    arrays = [np.full((i + 1, 3), i, np.float32) for i in range(10)]
    with ds:
        ds.extend({"t": texts[:5], "v": arrays[:5]})
        ds.flush()  # the numeric column is ragged from here on
        ds.extend({"t": texts[5:], "v": arrays[5:]})
        assert ds.t._store._staged and ds.v._store._staged  # staged, rows not yet written
        found = ds.query(f"SELECT * WHERE t == '{texts[7]}'")
        assert len(found) == 1 and found.v[0].numpy().shape == (8, 3)
        seen = [b["t"] for b in ds.pytorch(tensors=["t"], batch_size=4, num_workers=0, return_index=False)]
        assert [t for batch in seen for t in batch] == texts
    for i, a in enumerate(arrays):
        np.testing.assert_array_equal(ds.v[i].numpy(), a)
