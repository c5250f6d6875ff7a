"""A copy that fails midway leaves its destination as it was: an open dataset keeps exactly its
state (tensors, groups, info, creds keys, uncommitted or not), a path gets no partial dataset."""

from __future__ import annotations

import os

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.core import copy as core_copy
from deeplake_nb.errors import DeepLakeNBError
from deeplake_nb.format.tensor_store import TensorStore

ROWS = 2 * core_copy.COPY_BATCH + 100  # three batches per tensor


def _source(path: str) -> dl.Dataset:
    src = dl.empty(path)
    src.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    src.create_tensor("g/boxes", htype="bbox", dtype="float32")
    with src:
        src.labels.extend((np.arange(ROWS) % 3).astype(np.uint32))
        src.g.boxes.extend(np.random.default_rng(0).random((ROWS, 2, 4), dtype=np.float32))
    src.info.update(source="synthetic")
    src.commit("rows")
    return src


def _damage(ds: dl.Dataset, key: str, root: str) -> None:
    """Cut the stored object holding logical ``key`` short (what a failing disk leaves)."""
    name = ds._state.zarr_store.object_of(key)
    with open(os.path.join(root, "objects", name), "r+b") as f:
        f.truncate(7)


def _state_of(ds: dl.Dataset) -> dict:
    return {"tensors": list(ds.tensors), "groups": list(ds.groups), "info": dict(ds.info), "len": len(ds),
            "changes": ds.has_head_changes, "commit": ds.commit_id, "creds": ds.get_creds_keys()}


def _objects(root: str) -> set[str]:
    return set(os.listdir(os.path.join(root, "objects")))


def _interrupt_in_second_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupt the copy while it reads the second batch of its second tensor."""
    take, calls = TensorStore.take, []

    def failing(self: TensorStore, rows: np.ndarray):  # noqa: ANN202
        calls.append(len(rows))
        if len(calls) == 5:
            raise KeyboardInterrupt
        return take(self, rows)

    monkeypatch.setattr(TensorStore, "take", failing)


@pytest.mark.parametrize("uncommitted", [False, True])
def test_interrupted_copy_into_open_dataset_leaves_it_as_it_was(tmp_path, monkeypatch, uncommitted):
    src = _source(str(tmp_path / "src"))
    root = str(tmp_path / "dest")
    dest = dl.empty(root)
    dest.info.update(owner="me")
    dest.add_creds_key("mine")
    dest.commit("owner")
    if uncommitted:
        dest.info.update(note="draft")  # the uncommitted change must survive the rollback
    before, objects = _state_of(dest), _objects(root)
    pending = dest.pending_commit_id
    _interrupt_in_second_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        dl.copy(src, dest, progressbar=False)
    monkeypatch.undo()
    assert _state_of(dest) == before
    assert _state_of(dl.load(root)) == before
    if not uncommitted:  # nothing of the copy reached the store: its objects were deleted again
        assert _objects(root) == objects
        assert dest.pending_commit_id != pending  # a reset draws a new one
    # the destination still takes the copy afterwards
    dl.copy(src, dest, progressbar=False)
    np.testing.assert_array_equal(dest.g.boxes.numpy(), src.g.boxes.numpy())
    assert dest.info["note" if uncommitted else "owner"] in {"draft", "me"}
    assert dest.info["source"] == "synthetic"


def test_copy_from_a_damaged_source_leaves_open_dataset_as_it_was(tmp_path):
    src_root = str(tmp_path / "src")
    src = _source(src_root)
    _damage(src, "g/boxes/data/c/0/0/0", src_root)  # the second tensor's data: read after labels is copied
    dest = dl.empty(str(tmp_path / "dest"))
    dest.info.update(owner="me")
    before = _state_of(dest)
    with pytest.raises(DeepLakeNBError):
        dl.copy(dl.load(src_root, read_only=True), dest, progressbar=False)
    assert _state_of(dest) == before
    assert _state_of(dl.load(str(tmp_path / "dest"))) == before
    dest.create_tensor("x")  # still writable, names free
    dest.x.append(1)
    assert list(dest.tensors) == ["x"]


def test_interrupted_ds_copy_to_a_path_leaves_nothing(tmp_path, monkeypatch):
    src = _source(str(tmp_path / "src"))
    _interrupt_in_second_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        src.copy(str(tmp_path / "copy"), progressbar=False)
    monkeypatch.undo()
    assert not dl.exists(str(tmp_path / "copy"))
    copied = src.copy(str(tmp_path / "copy"), progressbar=False)
    assert len(copied) == ROWS and list(copied.tensors) == ["labels", "g/boxes"]


def test_interrupted_copy_of_links_restores_creds_keys(tmp_path, monkeypatch):
    image = tmp_path / "a.png"
    from PIL import Image
    Image.new("RGB", (4, 4)).save(image)
    src = dl.empty(str(tmp_path / "src"))
    src.add_creds_key("k")
    src.create_tensor("img", htype="link[image]", sample_compression="png")
    src.create_tensor("n")
    with src:
        src.img.extend([dl.link(str(image), creds_key="k")] * 3)
        src.n.extend([1, 2, 3])
    dest = dl.empty(str(tmp_path / "dest"))
    take, calls = TensorStore.take, []

    def failing(self: TensorStore, rows: np.ndarray):  # noqa: ANN202
        calls.append(1)
        if len(calls) == 2:  # after the links (and their creds keys) were copied
            raise KeyboardInterrupt
        return take(self, rows)

    monkeypatch.setattr(TensorStore, "take", failing)
    with pytest.raises(KeyboardInterrupt):
        dl.copy(src, dest, progressbar=False)
    assert dest.get_creds_keys() == set() and list(dest.tensors) == []
    assert dl.load(str(tmp_path / "dest")).get_creds_keys() == set()


def test_interrupted_deepcopy_leaves_nothing_and_can_be_run_again(tmp_path, monkeypatch):
    from deeplake_nb.storage import ByteStore

    src = _source(str(tmp_path / "src"))
    get, calls = ByteStore.get, []

    def failing(self: ByteStore, key: str, *args, **kwargs):  # noqa: ANN202
        calls.append(key)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return get(self, key, *args, **kwargs)

    monkeypatch.setattr(ByteStore, "get", failing)
    with pytest.raises(KeyboardInterrupt):
        dl.deepcopy(src, str(tmp_path / "deep"), progressbar=False)
    monkeypatch.undo()
    assert not os.path.exists(tmp_path / "deep") or not os.listdir(tmp_path / "deep")
    copy = dl.deepcopy(src, str(tmp_path / "deep"), progressbar=False)
    assert copy.commit_id == src.commit_id and len(copy) == ROWS
