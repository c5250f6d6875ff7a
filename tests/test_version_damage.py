"""Damaged or crafted version-control files never take a dataset down, and never reach outside it.

A torn, empty or garbled newest ref entry (what a power cut leaves on a disk written without
fsync) is skipped with a DamagedRefWarning naming the file; damaged manifests and commit
documents raise CorruptDatasetError naming the object; manifest values are accepted only as our
object names. Finding a ref's newest entry does not list the ref's history, and refs, manifests,
commits and the objects they name are fsynced before the ref entry that publishes them.
"""

from __future__ import annotations

import glob
import json
import os
import warnings
import zlib

import numpy as np
import pytest
import zarr

import deeplake_nb as dl
from deeplake_nb.errors import CorruptDatasetError, DamagedRefWarning
from deeplake_nb.storage import bytestore
from deeplake_nb.version import documents, refs

def _document(blob: bytes) -> dict:
    """A stored ref entry, hint or commit document in either form (plain JSON before format 3)."""
    return documents.json_object(blob, "a test document")


DAMAGE = {
    "torn": lambda blob: blob[: len(blob) // 2],
    "empty": lambda blob: b"",
    "garbled": lambda blob: b"\x00\xff" + blob[2:],
    "wrong form": lambda blob: documents.encode({**_document(blob), "head": "../../secret"}),
    "wrong form, plain JSON": lambda blob: json.dumps({**_document(blob), "head": "../../secret"}).encode(),
}


def _two_commits(path: str) -> tuple[dl.Dataset, str, str]:
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    first = ds.commit("first")
    ds.x.append(4)
    second = ds.commit("second")
    return ds, first, second


def _entries(path: str, branch: str = "main") -> list[str]:
    return sorted(p for p in glob.glob(f"{path}/refs/branches/{branch}/*") if os.path.basename(p).isdigit())


def _hint_as_before(path: str, entry: str) -> None:
    """Make the branch's hint a copy of ``entry``: what a power cut while the entry above it was
    written leaves (the hint is written only once the entry it copies is durable)."""
    with open(entry, "rb") as f:
        payload = _document(f.read())
    with open(f"{path}/refs/branches/main/{refs.HINT}", "wb") as f:
        f.write(documents.encode({"number": int(os.path.basename(entry)), "entry": payload}))


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_newest_branch_entry_is_skipped_with_a_warning(tmp_path, damage):
    path = str(tmp_path / "ds")
    _, first, second = _two_commits(path)
    *_, below, newest = _entries(path)  # newest: the commit of "second"
    _hint_as_before(path, below)
    with open(newest, "rb") as f:
        blob = f.read()
    with open(newest, "wb") as f:
        f.write(DAMAGE[damage](blob))
    refs._WARNED.clear()
    with pytest.warns(DamagedRefWarning, match=os.path.basename(newest)) as caught:
        ds = dl.load(path)
    assert newest in str(caught[0].message)  # the full file path
    # the entry below: row 4 appended and published on top of "first", not yet committed
    assert ds.commit_id == first and ds.has_head_changes
    np.testing.assert_array_equal(ds.x.numpy().ravel(), [1, 2, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedRefWarning)
        assert len(dl.load(path, version=second)) == 4  # the commit document itself is intact
        assert len(dl.load(path, version=first)) == 3
        ds.x.append(5)  # the next write goes above the damaged entry (put-if-absent intact)
        assert int(os.path.basename(_entries(path)[-1])) == int(os.path.basename(newest)) + 1
        assert len(dl.load(path)) == 5
        dl.gc(path, grace_seconds=0)
        assert len(dl.load(path)) == 5


def test_a_branch_without_any_readable_entry_is_a_corrupt_dataset(tmp_path):
    path = str(tmp_path / "ds")
    _two_commits(path)
    for entry in _entries(path):
        with open(entry, "w") as f:
            f.write("{")
    os.remove(f"{path}/refs/branches/main/{refs.HINT}")  # no readable copy there either
    with pytest.raises(CorruptDatasetError, match="refs/branches/main"):
        dl.load(path)


def test_a_damaged_tag_is_ignored_with_a_warning(tmp_path):
    path = str(tmp_path / "ds")
    ds, _, second = _two_commits(path)
    ds.tag("v1")
    (tag_entry,) = glob.glob(f"{path}/refs/tags/v1/0*")
    with open(tag_entry, "w") as f:
        f.write('{"commit": 12}')
    refs._WARNED.clear()
    with pytest.warns(DamagedRefWarning, match="v1"):
        ds = dl.load(path)
        assert "v1" not in ds.version_tags
    assert len(ds) == 4


def _damage_all(pattern: str, data: bytes) -> list[str]:
    paths = glob.glob(pattern)
    for p in paths:
        with open(p, "wb") as f:
            f.write(data)
    return paths


@pytest.mark.parametrize("data", [b"", b"garbage", zlib.compress(b"[1, 2]"), zlib.compress(b"{not json")[:-3]])
def test_a_damaged_manifest_is_a_corrupt_dataset_naming_it(tmp_path, data):
    path = str(tmp_path / "ds")
    _two_commits(path)
    damaged = _damage_all(f"{path}/manifests/*", data)
    with pytest.raises(CorruptDatasetError) as caught:
        dl.load(path).x.numpy()
    assert any(p in str(caught.value) for p in damaged)


@pytest.mark.parametrize("document", [b"{", b"{}", b"[]", b'{"id": "x"}', b"x\x9c\x00\xff", zlib.compress(b"[]"),
                                      zlib.compress(b'{"id": "x", "parents": []}')[:-4]])
def test_a_damaged_commit_document_is_a_corrupt_dataset_naming_it(tmp_path, document):
    path = str(tmp_path / "ds")
    _, first, _ = _two_commits(path)
    target = f"{path}/commits/{first}"
    with open(target, "wb") as f:
        f.write(document)
    with pytest.raises(CorruptDatasetError, match=first):
        dl.load(path, version=first)
    assert len(dl.load(path)) == 4  # the branch head does not need that document to open


def test_a_commit_document_holding_another_id_is_refused(tmp_path):
    path = str(tmp_path / "ds")
    _, first, second = _two_commits(path)
    with open(f"{path}/commits/{second}", "rb") as f:
        other = f.read()
    with open(f"{path}/commits/{first}", "wb") as f:
        f.write(other)
    with pytest.raises(CorruptDatasetError, match="holds commit"):
        dl.load(path, version=first)


@pytest.mark.parametrize("value", ["../../secret.txt", "/etc/passwd", "0" * 31, "A" * 32])
def test_a_crafted_manifest_cannot_reach_outside_the_dataset(tmp_path, value):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"\x00" * 64)
    path = str(tmp_path / "ds")
    _two_commits(path)
    for manifest in glob.glob(f"{path}/manifests/*"):
        with open(manifest, "rb") as f:
            entries = json.loads(zlib.decompress(f.read()))
        entries = {key: (value if key.startswith("x/") and name else name) for key, name in entries.items()}
        with open(manifest, "wb") as f:
            f.write(zlib.compress(json.dumps(entries).encode()))
    with pytest.raises(CorruptDatasetError, match="not an object name"):
        dl.load(path).x.numpy()


@pytest.mark.parametrize("key", ["../x/c/0", "x//c", "/x/c/0", "x/./c"])
def test_a_crafted_manifest_key_is_refused(tmp_path, key):
    path = str(tmp_path / "ds")
    _two_commits(path)
    for manifest in glob.glob(f"{path}/manifests/*"):
        with open(manifest, "rb") as f:
            entries = json.loads(zlib.decompress(f.read()))
        entries[key] = next(iter(v for v in entries.values() if v))
        with open(manifest, "wb") as f:
            f.write(zlib.compress(json.dumps(entries).encode()))
    with pytest.raises(CorruptDatasetError, match="relative zarr key"):
        dl.load(path).x.numpy()


def test_finding_the_newest_entry_does_not_list_the_history(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    for i in range(40):
        ds.x.append(i)  # one entry per publish
    top = int(os.path.basename(_entries(path)[-1]))
    listed: list[str] = []
    original = refs.RefLog._numbers
    monkeypatch.setattr(refs.RefLog, "_numbers", lambda self: listed.append(self.name) or original(self))
    assert len(dl.load(path)) == 40
    assert listed == []
    ds.x.append(40)
    assert listed == [] and int(os.path.basename(_entries(path)[-1])) == top + 1
    # a stale, damaged or missing hint only falls back to listing, never to a wrong entry
    for hint in [b"1", b"junk", b"99999", None]:
        hint_path = f"{path}/refs/branches/main/{refs.HINT}"
        if hint is None:
            os.remove(hint_path)
        else:
            with open(hint_path, "wb") as f:
                f.write(hint)
        assert len(dl.load(path)) == 41


def test_refs_manifests_commits_and_objects_are_fsynced_before_the_entry_naming_them(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    events: list[tuple[str, str]] = []
    real_fsync = bytestore._fsync
    monkeypatch.setattr(bytestore, "_fsync", lambda p: events.append(("fsync", os.path.relpath(p, path)))
                        or real_fsync(p))
    real_link = os.link

    def recording_link(source, target, *args, **kwargs):  # a put-if-absent's name appearing
        events.append(("link", os.path.relpath(target, path)))
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", recording_link)
    ds.x[1] = 20
    ds.commit("change")
    synced = [name for kind, name in events if kind == "fsync"]
    ref_links = [i for i, (kind, key) in enumerate(events) if kind == "link" and key.startswith("refs/")]
    commit_links = [i for i, (kind, key) in enumerate(events) if kind == "link" and key.startswith("commits/")]
    assert len(ref_links) == 2 and len(commit_links) == 1  # the publish, then the commit's entry
    for kind in ("objects/", "manifests/", "commits/"):
        assert any(name.startswith(kind) for name in synced), kind
    assert "refs/branches/main" in synced and "objects" in synced  # folders too
    # everything a ref entry names, and the entry's own bytes, were synced before it appeared
    for first, last in ((0, ref_links[0]), (ref_links[0], ref_links[1])):
        before = [name for kind, name in events[first:last] if kind == "fsync"]
        names = ("objects/", "manifests/") if first == 0 else ("commits/", "commits")
        for kind in names:
            assert any(name == kind or name.startswith(kind) for name in before), (kind, before)
        assert any(name.startswith("refs/branches/main/") and name.endswith(".partial") for name in before)
    assert any(kind == "fsync" and name.startswith("objects/") for kind, name in events[:ref_links[0]])
    # ... and the entry's folder after it appeared
    assert ("fsync", "refs/branches/main") in events[ref_links[1]:]
    np.testing.assert_array_equal(dl.load(path).x.numpy().ravel(), [1, 20, 3])


def test_memory_datasets_are_not_fsynced(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(bytestore, "_fsync", calls.append)
    ds = dl.empty("mem://fsync-check")
    ds.create_tensor("x")
    ds.x.append(1)
    ds.commit()
    assert calls == []


@pytest.mark.parametrize("compression", [None, "lz4", "zstd"])
@pytest.mark.parametrize("damage", ["truncated", "garbled", "empty"])
def test_a_damaged_data_chunk_is_a_corrupt_dataset_error_naming_the_file(tmp_path, compression, damage):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="float32", chunk_compression=compression)
    ds.x.extend(np.arange(40, dtype=np.float32).reshape(10, 4))
    name = ds.zarr_store().object_of("x/data/c/0/0")
    target = os.path.join(path, "objects", name)
    with open(target, "rb") as f:
        data = f.read()
    data = {"truncated": data[: len(data) // 2], "garbled": b"\x10\x00\x00\x00" + bytes(len(data)),
            "empty": b""}[damage]
    with open(target, "wb") as f:
        f.write(data)
    with pytest.raises(CorruptDatasetError, match=name) as caught:
        dl.load(path).x.numpy()
    assert "x/data/c/0/0" in str(caught.value)
    assert isinstance(caught.value, dl.errors.CorruptSampleError)  # what a loader's ignore_errors skips


def test_a_truncated_heap_chunk_read_by_range_is_a_corrupt_dataset_error(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("t", htype="text")
    ds.t.extend(["a" * 100, "b" * 100, "c" * 100])
    name = ds.zarr_store().object_of("t/bytes/c/0")
    target = os.path.join(path, "objects", name)
    with open(target, "rb") as f:
        data = f.read()
    with open(target, "wb") as f:
        f.write(data[:150])
    loaded = dl.load(path)
    assert loaded.t[0].data()["value"] == "a" * 100  # the intact part still reads
    with pytest.raises(CorruptDatasetError, match=name):
        loaded.t[2].data()


@pytest.mark.parametrize("compression", [None, "lz4"])
def test_a_flipped_byte_in_a_chunk_fails_its_checksum(tmp_path, compression):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64", chunk_compression=compression)
    ds.x.extend(np.arange(1000))
    name = ds.zarr_store().object_of("x/data/c/0/0")
    target = os.path.join(path, "objects", name)
    with open(target, "rb") as f:
        data = bytearray(f.read())
    data[80] ^= 0x01  # row 10 would silently read 11 without a checksum (uncompressed)
    with open(target, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(CorruptDatasetError, match="checksum"):
        dl.load(path).x.numpy()
    array = zarr.open_array(dl.load(path, read_only=True).zarr_store(), path="x/data", mode="r")
    with pytest.raises(ValueError, match="checksum"):  # stock zarr checks it too
        array[:]


def test_documents_read_in_every_stored_form_and_damage_is_named():
    document = {"head": "01a23f3549f30680f54bddac1a440437", "stack": [], "dirty": False, "n": [1, 2]}
    stored = documents.encode(document)
    assert stored[:1] == b"\x78" and len(stored) < len(json.dumps(document))
    assert documents.json_object(stored, "x") == document  # format 3: with the preset dictionary
    assert documents.json_object(json.dumps(document).encode(), "x") == document  # formats 1-2: plain JSON
    assert documents.json_object(zlib.compress(json.dumps(document).encode()), "x") == document  # no dictionary
    other = zlib.compressobj(9, zdict=b'"head":"dirty":"stack"')
    foreign = other.compress(json.dumps(document).encode()) + other.flush()
    for blob, why in [(stored[:-3], "truncated"), (stored + b"{}", "after the end"), (foreign, "compressed data"),
                      (b"\x78\x9c" + stored[2:], "compressed data")]:
        with pytest.raises(CorruptDatasetError, match="'the/doc'") as caught:
            documents.json_object(blob, "the/doc")
        assert why in str(caught.value), (why, caught.value)


def test_the_hint_is_rewritten_in_place_and_a_torn_copy_is_ignored(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend([1, 2, 3])
    hint_path = f"{path}/refs/branches/main/{refs.HINT}"
    inode = os.stat(hint_path).st_ino
    old = open(hint_path, "rb").read()
    ds.x.append(4)
    head = ds.commit("four")
    new = open(hint_path, "rb").read()
    assert os.stat(hint_path).st_ino == inode and new != old  # no temporary file renamed over it
    for cut in range(1, max(len(old), len(new)), 7):  # what a reader may catch mid-write
        with open(hint_path, "wb") as f:
            f.write(new[:cut] + old[cut:])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a torn hint is not a damaged entry: no warning
            again = dl.load(path)
        assert again.commit_id == head and len(again) == 4
