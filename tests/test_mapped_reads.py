"""Chunks a reader keeps (the query scan's cache of a read-only dataset) are read as memory maps of
published objects (no copy into fresh memory), a patched value as one copy of its base's map with
the patches applied; chunks read once, private objects, small files, metadata and other stores
are read as before. The manifest's one-pass checks agree with the per-entry ones."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import LocalStore, MemoryStore

import deeplake_nb as dl
from deeplake_nb.errors import CorruptChunkError, CorruptDatasetError
from deeplake_nb.storage import bytestore
from deeplake_nb.version import Repository, documents, patches

P = default_buffer_prototype()
SIZE = 4096


@pytest.fixture
def small_maps(monkeypatch):
    monkeypatch.setattr(bytestore, "MAP_MIN_BYTES", 1024)


def _value(size: int = SIZE) -> bytes:
    return bytes(range(256)) * (size // 256)


def test_a_published_object_is_read_as_its_map_and_a_private_one_is_not(tmp_path, small_maps):
    repository = Repository(LocalStore(str(tmp_path / "repo")))
    repository.init()
    store = repository.open("main")
    store.set_sync("a", P.buffer.from_bytes(_value()))
    assert store.get_buffer_sync("a") is None  # private until published: its writer may rewrite it in place
    store.commit("base")
    mapped = store.get_buffer_sync("a")
    assert isinstance(mapped, mmap.mmap) and bytes(mapped) == _value()
    assert store.get_buffer_sync("absent") is None
    assert store.get_buffer_sync("zarr.json") is None  # metadata is served from the version's documents
    store.set_sync("small", P.buffer.from_bytes(b"x" * 100))
    store.commit("small")
    assert store.get_buffer_sync("small") is None  # under MAP_MIN_BYTES: read, not mapped


def test_a_patched_value_is_its_base_map_copied_once_with_the_patches(tmp_path, small_maps):
    repository = Repository(LocalStore(str(tmp_path / "repo")))
    repository.init()
    store = repository.open("main")
    store.set_sync("a", P.buffer.from_bytes(_value()))
    store.commit("base")
    store.set_ranges_sync("a", [(10, b"xyz"), (SIZE - 3, b"END")])
    assert len(patches.parts(store.object_of("a"))) == 2
    pending = store.get_buffer_sync("a")  # a private patch over a published base: applied too
    store.commit("patched")
    fresh = Repository(repository.store).open("main")
    want = fresh.get_sync("a", prototype=P).to_bytes()
    assert want[10:13] == b"xyz" and want[-3:] == b"END"
    got = fresh.get_buffer_sync("a")
    assert isinstance(got, memoryview) and not got.readonly and bytes(got) == want
    assert pending is not None and bytes(pending) == want


def test_live_maps_stay_within_their_share_of_file_descriptors(tmp_path, small_maps, monkeypatch):
    store = bytestore.ByteStore(LocalStore(str(tmp_path / "files")))
    for name in "abc":
        store.set(name, _value())
    limit = bytestore.maps_alive() + 2  # two more than the maps other tests left alive
    monkeypatch.setattr(bytestore, "maps_allowed", lambda: limit)
    kept = [store.map("a"), store.map("b")]
    assert all(isinstance(m, mmap.mmap) for m in kept)
    assert store.map("c") is None  # over the budget: read instead
    assert store.get("c") == _value()
    before = bytestore.maps_alive()
    kept.pop()  # a map no longer used gives its place back
    assert bytestore.maps_alive() == before - 1


_FEW_DESCRIPTORS = """
import resource, sys
import numpy as np
import deeplake_nb as dl
from deeplake_nb.storage import bytestore
bytestore.MAP_MIN_BYTES = 1024
path = sys.argv[1]
ds = dl.empty(path)
ds.create_tensor("x", dtype="int64", max_chunk_size=4096)  # 512 rows a chunk: 100 chunks
ds.x.extend(np.arange(51_200) % 7)
ds.commit("x")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
view = dl.load(path, read_only=True).query("SELECT * WHERE x == 3")
assert view.sample_indices.tolist() == np.flatnonzero(np.arange(51_200) % 7 == 3).tolist()
assert 0 < bytestore.maps_alive() <= 16, bytestore.maps_alive()
print("ok")
"""


def test_a_scan_of_many_chunks_keeps_file_descriptors_for_other_files(tmp_path):
    """Python's mmap keeps a descriptor per map: a cache of 100 mapped chunks under a limit of 64
    descriptors must still read (the maps beyond 64 / 4 are copies instead)."""
    done = subprocess.run([sys.executable, "-c", _FEW_DESCRIPTORS, str(tmp_path / "ds")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_other_stores_are_not_mapped():
    repository = Repository(MemoryStore())
    repository.init()
    store = repository.open("main")
    store.set_sync("a", P.buffer.from_bytes(_value(1 << 20)))
    store.commit("base")
    assert store.get_buffer_sync("a") is None
    assert store.get_sync("a", prototype=P).to_bytes() == _value(1 << 20)


def _dataset(path: str, n: int = 300_000) -> np.ndarray:
    values = np.arange(n, dtype=np.int32) % 10
    ds = dl.empty(path)
    ds.create_tensor("labels", htype="generic", dtype="int32")
    ds.labels.extend(values)
    ds.commit("labels")
    return values


def test_a_read_only_query_reads_published_chunks_as_maps(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    values = _dataset(path)
    mapped: list[str] = []
    original = bytestore.ByteStore.map

    def spy(self, key):
        found = original(self, key)
        if found is not None:
            mapped.append(key)
        return found
    monkeypatch.setattr(bytestore.ByteStore, "map", spy)
    view = dl.load(path, read_only=True).query("SELECT * WHERE labels == 3")
    assert view.sample_indices.tolist() == np.flatnonzero(values == 3).tolist()
    assert mapped and all(key.startswith("objects/") for key in mapped)


def test_chunks_read_once_are_copied_not_mapped(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    values = _dataset(path)
    mapped: list[str] = []
    original = bytestore.ByteStore.map
    monkeypatch.setattr(bytestore.ByteStore, "map", lambda self, key: mapped.append(key) or original(self, key))
    view = dl.load(path).query("SELECT * WHERE labels == 3")  # writable: no chunk cache, nothing kept
    assert view.sample_indices.tolist() == np.flatnonzero(values == 3).tolist()
    assert mapped == []  # a map's set-up and teardown cost more than one copy


def test_a_patched_chunk_reads_its_updates(tmp_path):
    path = str(tmp_path / "ds")
    values = _dataset(path)
    ds = dl.load(path)
    ds.labels[7] = 3
    ds.labels[250_000] = 3
    ds.commit("two rows")
    assert "+" in ds.zarr_store().object_of("labels/data/c/0/0")  # the update is a patch over the chunk
    values[[7, 250_000]] = 3
    view = dl.load(path, read_only=True).query("SELECT * WHERE labels == 3")
    assert view.sample_indices.tolist() == np.flatnonzero(values == 3).tolist()


def test_a_damaged_mapped_chunk_is_a_corrupt_chunk_error(tmp_path):
    path = str(tmp_path / "ds")
    _dataset(path)
    name = dl.load(path).zarr_store().object_of("labels/data/c/0/0")
    file = os.path.join(path, "objects", name)
    assert os.path.getsize(file) >= bytestore.MAP_MIN_BYTES  # read through its map
    with open(file, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(CorruptChunkError, match=name):
        dl.load(path, read_only=True).query("SELECT * WHERE labels == 3")


_KEY_TEXT = st.text(alphabet=["a", "b", ".", "/", "\\", "\x00", "\n", "é"], max_size=7)


def _one_key(key: str) -> bool:
    try:
        documents.logical_key(key, "test")
        return True
    except CorruptDatasetError:
        return False


@settings(max_examples=400, deadline=None)
@given(st.lists(_KEY_TEXT, max_size=5))
def test_the_manifest_key_check_in_one_pass_agrees_with_each_key(keys):
    assert documents.all_logical_keys(keys) == all(map(_one_key, keys))


_NAME = "01a23e252a21ae7214d91ef4f858db7d"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(1, patches.MAX_PATCHES + 2),
                          st.sampled_from(["", "\x00" + _NAME, "+", "x", "/..", "\n"])), max_size=4))
def test_the_manifest_value_check_in_one_pass_agrees_with_each_value(chains):
    values = ["+".join([_NAME] * length) + suffix for length, suffix in chains]
    assert patches.all_values(values) == all(map(patches.is_value, values))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 100), st.sampled_from(["insert", "replace", "delete", "keep"]),
                          st.sampled_from(list("0af+gA/.\x00é "))), max_size=4))
def test_the_manifest_value_check_refuses_any_character_added_changed_or_dropped(edits):
    """Names one character longer, shorter or off (a separator, an upper-case or non-hex digit,
    non-ASCII) anywhere in a chain are refused exactly when ``is_value`` refuses them."""
    values = []
    for length, at, how, char in edits:
        value = "+".join([_NAME] * length)
        at = min(at, len(value) - 1)
        value = {"insert": value[:at] + char + value[at:], "replace": value[:at] + char + value[at + 1:],
                 "delete": value[:at] + value[at + 1:], "keep": value}[how]
        values.append(value)
    if any("\x00" in value for value in values):  # NUL is what the check joins by: refused by joined_by_nul
        assert not patches.all_values(values)
        return
    assert patches.all_values(values) == all(map(patches.is_value, values))
