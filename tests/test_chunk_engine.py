"""``tensor.chunk_engine``: chunk counts and per-chunk sample tables computed from storage, and
``commit_diff`` (the tensor's changes since the commit its version is based on) after appends,
updates, pops, clears, info changes, commits, on branches, checked-out commits and views."""

from __future__ import annotations

import numpy as np
import pytest
from zarr.core.sync import sync

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.core import chunk_engine as ce_module
from deeplake_nb.core import internal
from deeplake_nb.format import tensor_store


def _diff(tensor: dl.Tensor) -> tuple:
    d = tensor.chunk_engine.commit_diff
    return (d.created, d.cleared, d.info_updated, d.data_added, set(d.data_updated), set(d.data_deleted))


def test_appends_count_as_added_on_a_new_tensor():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    assert _diff(ds.x) == (True, False, False, [0, 0], set(), set())
    assert ds.x.chunk_engine.num_chunks == 0
    ds.x.extend([1, 2, 3])
    ds.x.append(4)
    d = ds.x.chunk_engine.commit_diff
    assert d.num_samples_added == 4 and d.data_added == [0, 4] and d.created


def test_commit_resets_the_counts_and_new_appends_start_at_the_length():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3])
    ds.commit("three")
    assert _diff(ds.x) == (False, False, False, [3, 3], set(), set())
    ds.x.extend([4, 5])
    assert ds.x.chunk_engine.commit_diff.data_added == [3, 5]
    assert ds.x.chunk_engine.commit_diff.num_samples_added == 2


def test_updates_pops_and_their_ids():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.extend([10, 11, 12, 13])
    ds.commit("four")
    gone = int(ds.x[0].sample_ids[0])
    ds.x[2] = 99
    ds.x.append(14)
    assert _diff(ds.x) == (False, False, False, [4, 5], {2}, set())
    ds.x.pop(0)  # the update moves down to row 1, the added row to 3
    d = ds.x.chunk_engine.commit_diff
    assert _diff(ds.x) == (False, False, False, [3, 4], {1}, {0})
    assert d.data_deleted_ids == {gone}


def test_clear_then_append_is_cleared_with_the_new_rows_added():
    ds = dl.empty("mem://")
    ds.create_tensor("t", htype="text")
    ds.t.extend(["a", "b"])
    ds.commit("two")
    ds.t.clear()
    ds.t.append("c")
    assert _diff(ds.t) == (False, True, False, [0, 1], set(), set())


def test_info_change_is_seen():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.append(1)
    ds.commit("one")
    ds.x.info.update(note="hello")
    assert ds.x.chunk_engine.commit_diff.info_updated
    assert ds.x.chunk_engine.commit_diff.num_samples_added == 0


def test_a_renamed_tensor_is_followed_not_created():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    ds.commit("two")
    ds.rename_tensor("x", "y")
    ds.y.append(3)
    assert _diff(ds.y) == (False, False, False, [2, 3], set(), set())


def test_on_a_branch_changes_count_from_its_head(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    ds.commit("main two")
    ds.checkout("alt", create=True)
    assert ds.x.chunk_engine.commit_diff.num_samples_added == 0
    ds.x.extend([3, 4, 5])
    ds.x[0] = 7
    assert _diff(ds.x) == (False, False, False, [2, 5], {0}, set())
    ds.checkout("main")
    assert ds.x.chunk_engine.commit_diff.num_samples_added == 0


def test_a_checked_out_commit_shows_its_own_changes(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.x.extend([1, 2])
    first = ds.commit("two")
    ds.x.append(3)
    second = ds.commit("three")
    ds.checkout(second)
    assert _diff(ds.x) == (False, False, False, [2, 3], set(), set())
    ds.checkout(first)  # the first commit made the tensor
    assert _diff(ds.x) == (True, False, False, [0, 2], set(), set())


def test_unchanged_tensors_are_not_read(monkeypatch):
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.extend([1, 2])
    ds.y.extend([1, 2])
    ds.commit("both")
    ds.y.append(3)

    def refuse(*args):
        raise AssertionError("an unchanged tensor was compared sample by sample")
    monkeypatch.setattr(ce_module, "tensor_diff", refuse)
    assert _diff(ds.x) == (False, False, False, [2, 2], set(), set())


def test_inside_with_buffered_appends_count_and_nothing_is_published(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x")
    with ds:
        ds.x.extend([1, 2, 3])
        assert ds.x.chunk_engine.commit_diff.num_samples_added == 3
        assert ds.x.chunk_engine.num_samples == 3
        assert len(dl.load(path, read_only=True).x) == 0
    assert len(dl.load(path, read_only=True).x) == 3


def test_inside_with_a_full_buffer_is_written_not_published(tmp_path, monkeypatch):
    monkeypatch.setattr(tensor_store, "FLUSH_BYTES", 10_000)  # every extend below fills the buffer
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("t", htype="text")
    ds.create_tensor("x", dtype="int64")
    publishes = []
    store = ds.zarr_store()
    original = type(store).publish
    monkeypatch.setattr(type(store), "publish", lambda self: (publishes.append(1), original(self))[1])
    texts = [f"{i:05d}" * 500 for i in range(12)]  # 2.5 KB a row: a buffer fills every 4 rows
    with ds:
        for i in range(0, 12, 4):
            ds.extend({"t": texts[i:i + 4], "x": list(range(i, i + 4))})
            assert len(dl.load(path, read_only=True)) == 0  # written, not published: the block is
    assert publishes == [1]  # once, at the end of the block
    reloaded = dl.load(path, read_only=True)
    assert reloaded.t.data()["value"] == texts and reloaded.x.numpy()[:, 0].tolist() == list(range(12))
    version = reloaded.zarr_store()

    async def keys() -> list[str]:
        return [key async for key in version.list()]
    chained = [key for key in sync(keys()) if "+" in (version.object_of(key) or "")]
    assert not chained, chained  # the partly filled chunks were rewritten in place, not patched


def test_inside_with_updates_patched_past_the_flush_size_are_published_to_bound_memory(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.zeros(200_000, np.int64))  # 1.6 MB: two chunks
    ds.commit("zeros")
    monkeypatch.setattr(tensor_store, "FLUSH_BYTES", 500)  # the updates' buffer is written every ~60 rows
    with ds:
        for row in range(0, 200_000, 1000):  # one row per 8 KB: each a small patch of its chunk
            ds.x[row] = 1
        assert internal.state(ds).zarr_store.held_patch_bytes < 2 * 500  # published whenever the pack reached 500 bytes
        assert dl.load(path, read_only=True).x.numpy()[::1000].sum() > 100  # most landed mid-block
    assert dl.load(path, read_only=True).x.numpy().sum() == 200


def test_views_describe_their_whole_tensor():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.extend([1, 2, 3, 4])
    engine = ds[1:3].x.chunk_engine
    assert engine.num_samples == 4 and engine.tensor_length == 4
    assert engine.commit_diff.data_added == [0, 4]


def test_dense_chunks_and_their_table():
    ds = dl.empty("mem://")
    ds.create_tensor("v", dtype="float64")
    ds.v.extend(np.zeros((1200, 256)))  # 2 KiB rows: 512 rows per 1 MiB chunk
    encoder = ds.v.chunk_engine.chunk_id_encoder
    assert encoder.num_samples == 1200 and encoder.num_chunks == 3
    assert encoder.array.tolist() == [[0, 511], [1, 1023], [2, 1199]]
    assert encoder[600].tolist() == [1]
    assert ds.v.meta.length == 1200


def test_ragged_samples_in_one_heap_chunk_and_empty_samples():
    ds = dl.empty("mem://")
    ds.create_tensor("t", htype="text")
    ds.t.extend(["abc", "", "de"])
    encoder = ds.t.chunk_engine.chunk_id_encoder
    assert encoder.num_samples == 3 and encoder.num_chunks == 1
    assert encoder.array.tolist() == [[0, 2]]
    assert encoder[1].tolist() == []  # an empty sample holds no bytes
    with pytest.raises(IndexError):
        encoder[3]


def test_only_empty_samples_hold_no_chunk():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    ds.x.extend([None, None])
    assert ds.x.chunk_engine.num_samples == 2 and ds.x.chunk_engine.num_chunks == 0


def test_sequences_count_items():
    ds = dl.empty("mem://")
    ds.create_tensor("s", htype="sequence[generic]", dtype="int64")
    ds.s.extend([[[1], [2], [3]], [[4], [5]]])
    engine = ds.s.chunk_engine
    assert engine.tensor_length == 2 and engine.num_samples == 5 and ds.s.meta.length == 5
    assert engine.chunk_id_encoder.array.tolist() == [[0, 4]]


def test_v3_internals_are_refused_with_what_to_use():
    ds = dl.empty("mem://")
    ds.create_tensor("x")
    engine = ds.x.chunk_engine
    with pytest.raises(errors.UnsupportedFeatureError, match="never tiles"):
        engine.tile_encoder
    with pytest.raises(NotImplementedError, match="chunk_engine gives"):
        engine.some_internal_cache
    with pytest.raises(AttributeError):
        engine._is_tiled_sample
    with pytest.raises(AttributeError):  # read-only
        engine.commit_diff.created = True


# -- max_chunk_size and rechunk ---------------------------------------------------------------------------
def test_max_chunk_size_sets_the_heap_chunks_and_bad_values_are_refused():
    ds = dl.empty("mem://")
    ds.create_tensor("t", htype="text", max_chunk_size=16)
    ds.t.extend(["abcd"] * 100)  # 400 bytes in 16-byte chunks
    encoder = ds.t.chunk_engine.chunk_id_encoder
    assert encoder.num_chunks == 25 and encoder.array[:2].tolist() == [[0, 3], [1, 7]]
    assert ds.t.meta.max_chunk_size == 16
    for bad in (0, -1, 1.5, "1MB", True):
        with pytest.raises(errors.ChunkSizeError):
            ds.create_tensor("u", max_chunk_size=bad)
    assert list(ds.tensors) == ["t"]


def test_an_update_breaks_index_order_and_rechunk_restores_it():
    ds = dl.empty("mem://")
    ds.create_tensor("t", htype="text", max_chunk_size=16)
    ds.t.extend(["abcd"] * 10)
    ds.commit("ten")
    ds.t[1] = "z" * 20  # its new bytes go after every other sample
    with pytest.raises(errors.UnsupportedFeatureError, match="rechunk"):
        ds.t.chunk_engine.chunk_id_encoder.array
    assert ds.t.chunk_engine.chunk_id_encoder[1].tolist() == [2, 3]  # heap bytes 40-59
    ds.rechunk(progressbar=False)
    assert ds.t.numpy().reshape(-1).tolist() == ["abcd", "z" * 20] + ["abcd"] * 8
    encoder = ds.t.chunk_engine.chunk_id_encoder
    assert encoder.array.tolist() == [[0, 1], [1, 3], [2, 7], [3, 9]]  # 56 bytes, none dead
    assert _diff(ds.t) == (False, False, False, [10, 10], {1}, set())  # values and ids unchanged


def test_rechunk_of_sequences_and_dense_tensors_keeps_values_and_publishes(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("s", htype="sequence[generic]", dtype="int64", max_chunk_size=32)
    ds.create_tensor("v", dtype="int64")
    ds.s.extend([[[1, 2], [3, 4]], [[5, 6]], [[7, 8], [9, 10], [11, 12]]])
    ds.v.extend(np.arange(12).reshape(3, 4))
    ds.s[0] = [[0, 0]]  # new items appended after the others
    ds.rechunk(["s", "v"], progressbar=False)
    again = dl.load(path, read_only=True)
    assert [[i.tolist() for i in x] for x in again.s.numpy(aslist=True)] == [[[0, 0]], [[5, 6]], [[7, 8], [9, 10], [11, 12]]]
    assert again.s.chunk_engine.chunk_id_encoder.array.tolist() == [[0, 1], [1, 3], [2, 4]]  # 2 items a chunk
    np.testing.assert_array_equal(again.v.numpy(), np.arange(12).reshape(3, 4))
    with pytest.raises(errors.TensorNotFoundError):
        ds.rechunk("nope")
