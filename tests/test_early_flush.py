"""Chunks an append fills whole are written from their pieces (one ``writev``, no joined copy) and
start their write-back to disk at once (``ByteStore.flush_soon``), so a publish finds their bytes
on disk; the publish still fsyncs every object it names before the ref entry naming them lands,
and a failure of an early fsync fails the publish."""

from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pytest
from zarr.storage import LocalStore

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.storage import ByteStore, bytestore
from deeplake_nb.version import physical

TEXTS = ["x" * 1000 + str(i) for i in range(20)]  # ~20 KB of heap: 4 whole 4 KiB chunks and a tail


def _text_dataset(path: str) -> dl.Dataset:
    ds = dl.empty(path)
    ds.create_tensor("t", htype="text", max_chunk_size=4096)
    return ds


def _recording(monkeypatch, root: str, fail_first_fsync_of=lambda path: False) -> list[tuple[str, str]]:
    """Record every fsync (("fsync", path relative to ``root``)) and every name a put-if-absent
    links (("link", ...)); the first fsync of each path ``fail_first_fsync_of`` picks raises EIO."""
    events: list[tuple[str, str]] = []
    failed: set[str] = set()
    real_fsync, real_link = bytestore._fsync, os.link

    def fsync(path: str) -> None:
        relative = os.path.relpath(path, root)
        events.append(("fsync", relative))
        if fail_first_fsync_of(relative) and relative not in failed:
            failed.add(relative)
            raise OSError(errno.EIO, "Input/output error", path)
        real_fsync(path)

    def link(source, target, *args, **kwargs):
        events.append(("link", os.path.relpath(target, root)))
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(bytestore, "_fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    return events


def test_whole_chunks_are_flushed_early_and_again_before_the_entry_naming_them(tmp_path, monkeypatch):
    monkeypatch.setattr(bytestore, "EARLY_FLUSH_BYTES", 4096)
    path = str(tmp_path / "ds")
    ds = _text_dataset(path)
    events = _recording(monkeypatch, path)
    with ds:
        ds.t.extend(TEXTS)
    store = ds.zarr_store()
    heap = sorted((key for key in store._co.keys if key.startswith("t/bytes/c/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    objects = [f"objects/{store.object_of(key)}" for key in heap]
    assert len(objects) == 5
    ref = min(i for i, (kind, name) in enumerate(events) if kind == "link" and name.startswith("refs/"))
    synced = [name for kind, name in events[:ref] if kind == "fsync"]
    for whole in objects[:-1]:  # fsynced when written, then by the publish (cheap: nothing left to write)
        assert synced.count(whole) == 2, (whole, synced)
    assert synced.count(objects[-1]) == 1  # the tail chunk, which the next append rewrites, waits for the publish
    assert "objects" in synced  # their folder too, before the entry
    assert dl.load(path, read_only=True).t.numpy(aslist=True) == TEXTS


def test_a_failed_early_fsync_fails_the_publish_and_the_branch_stays(tmp_path, monkeypatch):
    """A second fsync may not report a write-back failure the first one saw (the test's second
    fsync of that object would succeed): the publish raises the early fsync's error instead of
    landing an entry that names an object not on disk."""
    monkeypatch.setattr(bytestore, "EARLY_FLUSH_BYTES", 4096)
    path = str(tmp_path / "ds")
    ds = _text_dataset(path)
    early: list[str] = []

    def is_early(relative: str) -> bool:
        if relative.startswith("objects/") and threading.current_thread().name.startswith("deeplake_nb-fsync"):
            early.append(relative)
            return len(early) == 1
        return False

    events = _recording(monkeypatch, path, is_early)
    with pytest.raises(errors.StorageError, match="Input/output error") as info:
        with ds:
            ds.t.extend(TEXTS)
    assert info.value.errno == errno.EIO
    assert not any(kind == "link" and name.startswith("refs/") for kind, name in events)
    monkeypatch.undo()
    assert len(dl.load(path).t) == 0


def test_small_objects_and_other_stores_are_not_flushed_early(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(bytestore, "_fsync", calls.append)
    local = ByteStore(LocalStore(str(tmp_path)))
    local.set("a/small", b"x" * 100, complete=True)
    local.set_parts("a/parts", [b"y" * 100], complete=True)
    assert calls == [] and local.get("a/parts") == b"y" * 100
    local.set("a/big", b"z" * bytestore.EARLY_FLUSH_BYTES, complete=True)
    local.flush_to_disk(["a/big"])  # waits for the early fsync, then its own
    assert calls.count(str(tmp_path / "a" / "big")) == 2
    seen = len(calls)
    ds = dl.empty("mem://early-flush")
    ds.create_tensor("t", htype="text", max_chunk_size=4096)
    monkeypatch.setattr(bytestore, "EARLY_FLUSH_BYTES", 1)
    ds.t.extend(TEXTS)
    assert len(calls) == seen  # a memory store is never fsynced
    assert ds.t.numpy(aslist=True) == TEXTS


def test_a_new_object_is_written_in_place_from_its_parts(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="uint8")
    store = ds.zarr_store()
    facade = ByteStore(store)
    renamed: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b, *r, **k: renamed.append(str(b)) or real_replace(a, b, *r, **k))
    parts = [b"ab", memoryview(b"xcdx")[1:3], b"", np.frombuffer(b"ef", np.uint8).data]
    facade.set_parts("x/extra", parts)
    name = store.object_of("x/extra")
    assert facade.get("x/extra") == b"abcdef" and renamed == []
    assert not [f for f in os.listdir(os.path.join(path, "objects")) if f.endswith(".partial")]
    facade.set_parts("x/extra", [b"123", b"456"])  # private, not published: rewritten under its name
    assert store.object_of("x/extra") == name and facade.get("x/extra") == b"123456"
    store.publish()
    facade.set_parts("x/extra", [b"new"])  # published objects never change: a new one
    assert store.object_of("x/extra") != name and facade.get("x/extra") == b"new"
    with open(os.path.join(path, "objects", name), "rb") as f:
        assert f.read() == b"123456"
    mem = dl.empty("mem://parts")
    mem_facade = ByteStore(mem.zarr_store())
    mem_facade.set_parts("y", [b"on ", memoryview(b"memory")])
    assert mem_facade.get("y") == b"on memory"


def test_write_all_resumes_short_writes_and_splits_long_lists(tmp_path, monkeypatch):
    monkeypatch.setattr(physical, "_IOV_MAX", 3)
    real_writev = os.writev
    calls: list[int] = []

    def short_writev(descriptor, buffers):  # writes at most 5 bytes of what it is given
        calls.append(len(buffers))
        assert 0 < len(buffers) <= 3 and all(len(b) for b in buffers)
        return real_writev(descriptor, [b"".join(bytes(b) for b in buffers)[:5]])

    monkeypatch.setattr(os, "writev", short_writev)
    parts = [bytes([65 + i]) * (i * 3) for i in range(12)] + [memoryview(b"--tail--")[2:6]]
    target = tmp_path / "f"
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        physical._write_all(descriptor, parts)
    finally:
        os.close(descriptor)
    assert target.read_bytes() == b"".join(bytes(p) for p in parts)
    assert len(calls) > len(parts)


def test_a_full_disk_while_writing_a_whole_chunk_is_a_storage_error(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = _text_dataset(path)
    plain_open = os.open

    def open_(target, flags, *args, **kwargs):  # a new object created in place
        if "/objects/" in str(target) and flags & os.O_EXCL:
            raise OSError(errno.ENOSPC, "No space left on device", target)
        return plain_open(target, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    with pytest.raises(errors.StorageError, match="disk is full") as info:
        ds.t.extend(TEXTS)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert len(dl.load(path).t) == 0


def test_early_fsyncs_of_files_gone_are_forgotten_and_failures_kept(tmp_path, monkeypatch):
    real = bytestore._fsync

    def fsync(path: str) -> None:
        if path.endswith("bad"):
            raise OSError(errno.EIO, "Input/output error", path)
        real(path)

    monkeypatch.setattr(bytestore, "_fsync", fsync)
    store = ByteStore(LocalStore(str(tmp_path)))
    store.set("a/bad", b"x")
    store.flush_soon("a/bad")
    for i in range(1100):  # objects deleted before any flush: their fsyncs find no file
        store.flush_soon(f"a/gone{i}")
    for _, future in list(store._early.values()):
        future.exception()  # (waits)
    store.set("a/last", b"y")
    store.flush_soon("a/last")
    kept = {os.path.basename(path) for path in store._early}
    assert "bad" in kept and "last" in kept and len(kept) < 1100
    with pytest.raises(errors.StorageError, match="Input/output error") as info:
        store.flush_to_disk(["a/bad"])
    assert info.value.errno == errno.EIO
    store.flush_to_disk(["a/last"])
