"""Zarr groups built from their stored documents (format.groups), and dataset opens that take
no trip through zarr's event loop for them."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.storage import MemoryStore

import deeplake_nb as dl
from deeplake_nb.format.groups import open_stored_group, update_attributes
from deeplake_nb.storage import ByteStore


def test_a_stored_group_is_the_group_zarr_opens():
    store = MemoryStore()
    root = zarr.open_group(store=store, mode="w", attributes={"a": 1})
    root.create_group("t", attributes={"b": [1, 2]})
    root.create_array("t/x", shape=(3,), dtype="int32")
    bytes_ = ByteStore(store)
    mine = open_stored_group(bytes_, store, "t")
    assert mine is not None and mine.path == "t" and dict(mine.attrs) == {"b": [1, 2]}
    assert sorted(mine.array_keys()) == ["x"]
    top = open_stored_group(bytes_, store)
    assert top is not None and dict(top.attrs) == {"a": 1} and sorted(top.group_keys()) == ["t"]
    mine.update_attributes({"c": 3})  # writes go where zarr's own would
    assert dict(zarr.open_group(store=store, path="t", mode="r").attrs) == {"b": [1, 2], "c": 3}


def test_attributes_updated_through_the_byte_store_are_what_zarr_writes():
    theirs, ours = MemoryStore(), MemoryStore()
    for store in (theirs, ours):
        root = zarr.open_group(store=store, mode="w", attributes={"a": 1})
        root.create_group("t", attributes={"b": [1, 2]})
    zarr.open_group(store=theirs, path="t", mode="r+").update_attributes({"c": {"d": 3}, "b": None})
    group = open_stored_group(ByteStore(ours), ours, "t")
    assert group is not None
    update_attributes(ByteStore(ours), group, {"c": {"d": 3}, "b": None})
    assert dict(group.attrs) == {"b": None, "c": {"d": 3}}  # the open group sees them
    bytes_theirs, bytes_ours = ByteStore(theirs), ByteStore(ours)
    assert bytes_ours.get("t/zarr.json") == bytes_theirs.get("t/zarr.json")
    assert bytes_ours.get("zarr.json") == bytes_theirs.get("zarr.json")
    top = open_stored_group(bytes_ours, ours)
    assert top is not None
    update_attributes(bytes_ours, top, {"e": True})
    assert dict(zarr.open_group(store=ours, mode="r").attrs) == {"a": 1, "e": True}


def test_creating_tensors_writes_the_meta_document_without_zarr(tmp_path, monkeypatch):
    """The dataset's meta document (the root group's attributes) is written through the
    ByteStore, not through zarr's event loop (a trip per tensor created, per flush fixing a
    layout); stock zarr reads it."""
    def refuse(*args, **kwargs):
        raise AssertionError("written through zarr's update_attributes")

    ds = dl.empty(str(tmp_path / "ds"))
    monkeypatch.setattr(zarr.Group, "update_attributes", refuse)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    monkeypatch.undo()
    again = dl.load(str(tmp_path / "ds"), read_only=True)
    assert again.x.numpy().ravel().tolist() == [1, 2, 3]
    stored = zarr.open_group(store=again.zarr_store(), mode="r").attrs.asdict()
    assert "x" in str(stored)


@pytest.mark.parametrize("doc", [None, b"not json", b'{"zarr_format": 3, "node_type": "array"}', b"[1]",
                                 b'{"zarr_format": 2, "node_type": "group"}'])
def test_anything_but_a_v3_group_document_is_left_to_zarr(doc):
    store = MemoryStore()
    bytes_ = ByteStore(store)
    if doc is not None:
        bytes_.set("g/zarr.json", doc)
    assert open_stored_group(bytes_, store, "g") is None


def test_reading_a_dataset_opens_no_group_through_zarr(tmp_path, monkeypatch):
    path = str(tmp_path / "d")
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("labels", dtype="int32")
        ds.create_tensor("text", htype="text")
        ds.extend({"labels": np.arange(5, dtype=np.int32), "text": list("abcde")})
    ds.commit("c")

    def refuse(*args, **kwargs):
        raise AssertionError("a group was opened through zarr")

    monkeypatch.setattr(zarr, "open_group", refuse)
    loaded = dl.load(path)
    assert len(loaded) == 5 and loaded.labels[3].numpy() == 3 and loaded.text[4].data()["value"] == "e"
    loaded.labels[0] = 9  # writes through the stored groups too
    assert dl.load(path, read_only=True).labels[0].numpy() == 9


def test_versions_opened_from_one_document_share_no_meta(tmp_path):
    path = str(tmp_path / "d")
    ds = dl.empty(path)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.extend([0, 1])
    first = ds.commit("c")
    old = dl.load(f"{path}@{first}", read_only=True)
    again = dl.load(f"{path}@{first}", read_only=True)
    ds.labels.info.class_names.append("c")  # the branch's own meta
    ds.info["note"] = "x"
    assert old.labels.info.class_names == ["a", "b"] and again.labels.info.class_names == ["a", "b"]
    assert "note" not in old.info and dl.load(f"{path}@{first}", read_only=True).labels.info.class_names == ["a", "b"]


def test_array_handles_opened_from_one_document_share_nothing_they_change(tmp_path):
    """Array metadata is parsed once per distinct document and shared: growing one handle (a new
    metadata object) leaves every other handle of that document as it was."""
    import zarr

    from deeplake_nb.format.arrays import ArrayHandle
    from deeplake_nb.storage import ByteStore

    store = ByteStore(zarr.storage.LocalStore(str(tmp_path / "a")))
    group = zarr.open_group(store=store.store, mode="w")
    created = ArrayHandle.create(group, "x", store, dtype="int64", row_shape=(), chunk_bytes=64, compression=None)
    created.write(0, np.arange(5))
    first, second = ArrayHandle.open(group, "x", store), ArrayHandle.open(group, "x", store)
    assert first._metadata is second._metadata  # one parse of the stored document
    first.write(5, np.arange(5, 9))
    assert (first.nrows, second.nrows) == (9, 5)
    assert second._metadata.shape == (5,) and ArrayHandle.open(group, "x", store).nrows == 9
    np.testing.assert_array_equal(ArrayHandle.open(group, "x", store).read(0, 9), np.arange(9))


def test_creating_arrays_takes_no_trip_through_zarrs_event_loop(tmp_path, monkeypatch):
    """A new array's path is cleared with the version's ``delete_dir_sync`` and an absent array
    is known absent from its missing document (``ArrayHandle.open_if_present``), not by asking
    zarr: creating tensors and their first writes make neither trip."""
    from deeplake_nb.version import VersionedStore

    def refuse(*args, **kwargs):
        raise AssertionError("went through zarr")

    ds = dl.empty(str(tmp_path / "ds"))
    monkeypatch.setattr(VersionedStore, "delete_dir", refuse)
    monkeypatch.setattr(zarr.Group, "__contains__", refuse)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": [1, 2, 3], "t": ["a", "bb", "ccc"]})
    monkeypatch.undo()
    back = dl.load(str(tmp_path / "ds"), read_only=True)
    assert back.x.numpy().ravel().tolist() == [1, 2, 3] and back.t.numpy(aslist=True) == ["a", "bb", "ccc"]


def test_delete_dir_sync_deletes_the_keys_under_a_folder_only(tmp_path):
    from zarr.core.buffer import default_buffer_prototype

    ds = dl.empty(str(tmp_path / "ds"))
    store = ds.zarr_store()
    one = default_buffer_prototype().buffer.from_bytes(b"1")
    for key in ("a/x", "a/y/z", "ab/x", "b"):
        store.set_sync(key, one)
    store.delete_dir_sync("a")
    keys = set(store._co.keys)
    assert {"ab/x", "b"} <= keys and not {"a/x", "a/y/z"} & keys
    ByteStore(store).delete_dir("ab/")
    assert "ab/x" not in store._co.keys and "b" in store._co.keys
