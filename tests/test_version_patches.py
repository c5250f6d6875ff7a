"""Small writes: a change to part of a published object is stored as a small patch object.

A version names such a key as ``base+patch+...`` (version.patches); every reader, stock zarr
included, sees the patched bytes; chains stay O(log n) deep (size-tiered merging) and fold into a
whole object once their patches hold a quarter of it; damaged patches are CorruptDatasetErrors.
"""

from __future__ import annotations

import asyncio
import glob
import os

import numpy as np
import pytest
import zarr
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore

import deeplake_nb as dl
from deeplake_nb.errors import CorruptDatasetError
from deeplake_nb.version import Repository, patches
from deeplake_nb.version.repository import FORMAT_VERSION

P = default_buffer_prototype()


def _disk(path: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(f"{path}/**", recursive=True) if os.path.isfile(p))


@pytest.fixture(params=["local", "memory"])
def repo(request, tmp_path):
    store = LocalStore(str(tmp_path / "repo")) if request.param == "local" else MemoryStore()
    repository = Repository(store)
    repository.init()
    return repository


def _published(repo, size=1000):
    store = repo.open("main")
    store.set_sync("a", P.buffer.from_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256)))
    store.commit("base")
    return store


def _expected(size, writes):
    data = bytearray(bytes(range(256)) * (size // 256) + bytes(size % 256))
    for offset, chunk in writes:
        data[offset: offset + len(chunk)] = chunk
    return bytes(data)


def test_a_published_object_gets_a_patch_and_every_read_sees_it(repo):
    store = _published(repo)
    base = store.object_of("a")
    store.set_ranges_sync("a", [(10, b"xyz"), (995, b"END!!")])
    store.set_ranges_sync("a", [(11, b"Q")])  # extends this publish's own patch in place
    value = store.object_of("a")
    assert value.startswith(base + "+") and len(patches.parts(value)) == 2
    store.commit("patched")
    want = _expected(1000, [(10, b"xyz"), (995, b"END!!"), (11, b"Q")])
    fresh = Repository(repo.store).open("main")
    assert fresh.get_sync("a", prototype=P).to_bytes() == want
    assert fresh.get_sync("a", prototype=P, byte_range=RangeByteRequest(8, 14)).to_bytes() == want[8:14]
    assert fresh.get_sync("a", prototype=P, byte_range=SuffixByteRequest(7)).to_bytes() == want[-7:]
    assert fresh.get_sync("a", prototype=P, byte_range=OffsetByteRequest(990)).to_bytes() == want[990:]
    assert asyncio.run(fresh.get("a", P, RangeByteRequest(9, 13))).to_bytes() == want[9:13]
    assert asyncio.run(fresh.getsize("a")) == 1000
    # the commit before the patch still reads the base
    first = Repository(repo.store).log("main")[1].id
    assert Repository(repo.store).open(first).get_sync("a", prototype=P).to_bytes() == _expected(1000, [])


def test_chains_stay_shallow_and_fold_into_a_whole_object(repo):
    store = _published(repo, 4096)
    writes = []
    depths = []
    for i in range(300):
        write = (i * 13 % 4000, bytes([i % 251]) * 3)
        writes.append(write)
        store.set_ranges_sync("a", [write])
        store.publish()
        depths.append(len(patches.parts(store.object_of("a"))) - 1)
        assert store.get_sync("a", prototype=P).to_bytes() == _expected(4096, writes)
    assert max(depths) <= 12, max(depths)  # size-tiered: about log2 of the patches, not 300
    assert 0 in depths  # folded at least once: the patches reached a quarter of the object
    assert Repository(repo.store).open("main").get_sync("a", prototype=P).to_bytes() == _expected(4096, writes)


def test_gc_keeps_every_object_a_chain_names(tmp_path):
    repository = Repository(LocalStore(str(tmp_path / "r")))
    repository.init()
    store = _published(repository)
    store.set_ranges_sync("a", [(1, b"z")])
    store.commit("one")
    store.set_ranges_sync("a", [(2, b"y")])
    store.commit("two")
    repository.gc(grace_seconds=0)
    fresh = Repository(LocalStore(str(tmp_path / "r")))
    assert fresh.open("main").get_sync("a", prototype=P).to_bytes() == _expected(1000, [(1, b"z"), (2, b"y")])
    for commit in fresh.log("main")[:-1]:
        fresh.open(commit.id).get_sync("a", prototype=P)  # no missing object in any commit


def test_a_whole_write_after_a_patch_replaces_the_chain(repo):
    store = _published(repo)
    store.set_ranges_sync("a", [(1, b"z")])
    store.set_sync("a", P.buffer.from_bytes(b"new"))
    assert patches.SEPARATOR not in store.object_of("a")
    store.publish()
    assert Repository(repo.store).open("main").get_sync("a", prototype=P).to_bytes() == b"new"


def test_stock_zarr_reads_patched_values_through_the_version(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("labels", dtype="int64")
    ds.labels.extend(np.arange(5000))
    ds.commit("base")
    ds.labels[[3, 4000]] = [-1, -2]
    ds.commit("two labels")
    assert patches.SEPARATOR in ds.zarr_store().object_of("labels/data/c/0/0")
    array = zarr.open_array(dl.load(path, read_only=True).zarr_store(), path="labels/data", mode="r")
    np.testing.assert_array_equal(array[[3, 4, 4000]].ravel(), [-1, 4, -2])


@pytest.mark.parametrize("n", [10_000, 200_000])
def test_a_label_update_writes_bytes_not_chunks(tmp_path, n):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("embedding", htype="embedding")
    ds.create_tensor("text", htype="text")
    ds.extend({"labels": np.arange(n) % 10, "embedding": np.ones((n, 16), np.float32),
               "text": [f"row {i}" for i in range(n)]})
    ds.commit("base")
    before = _disk(path)
    with ds:
        for i in range(10):
            ds.labels[i * (n // 10)] = 7
    ds.commit("10 labels")
    written = _disk(path) - before
    assert written < 8_000, written  # was 1 MiB per touched chunk
    before = _disk(path)
    ds.text[n // 2] = "an updated caption"
    ds.commit("one text")
    assert _disk(path) - before < 8_000  # was the 4 MiB heap tail
    reread = dl.load(path)
    assert reread.labels[n // 10].numpy().item() == 7 and reread.labels[1].numpy().item() == 1
    assert reread.text[n // 2].data()["value"] == "an updated caption"


@pytest.mark.parametrize("damage", [b"", b"\x01\x02", patches.MAGIC + bytes(16), patches.PACK_MAGIC + bytes(16), b"flip",
                                    patches.encode_pack({"0" * 32: [(0, b"x")]}), patches.encode([(0, b"x")])[:-1]])
def test_a_damaged_patch_is_a_corrupt_dataset_error(tmp_path, damage):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(100))
    ds.commit("base")
    ds.x[5] = 50
    ds.commit("patched")
    patch = patches.parts(ds.zarr_store().object_of("x/data/c/0/0"))[-1]
    with open(os.path.join(path, "objects", patch), "rb") as f:
        good = f.read()
    if damage == b"flip":  # one byte of the value changed: the checksum catches it
        damage = good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]
    with open(os.path.join(path, "objects", patch), "wb") as f:
        f.write(damage)
    with pytest.raises(CorruptDatasetError, match=patch):
        dl.load(path).x.numpy()


def test_manifest_values_are_our_chains_only():
    name = "01a23e252a21ae7214d91ef4f858db7d"
    assert patches.is_value(name) and patches.is_value(f"{name}+{name}")
    assert not patches.is_value(f"{name}+../x")
    assert not patches.is_value(f"{name}+")
    assert not patches.is_value("+".join([name] * (patches.MAX_PATCHES + 2)))


def test_the_first_patch_into_an_older_repository_marks_it_current(tmp_path):
    import json

    root = tmp_path / "r"
    repository = Repository(LocalStore(str(root)))
    repository.init()
    assert json.loads((root / "repo.json").read_text())["version"] == FORMAT_VERSION == 4  # new ones start there
    _published(repository)
    (root / "repo.json").write_text(json.dumps({"format": "deeplake_nb.version", "version": 1}))  # as written before
    store = Repository(LocalStore(str(root))).open("main")
    store.get_sync("a", prototype=P)
    assert json.loads((root / "repo.json").read_text())["version"] == 1  # reading changes nothing
    store.set_ranges_sync("a", [(0, b"x")])
    assert json.loads((root / "repo.json").read_text())["version"] == 4  # before the patch pack lands
    store.commit("patched")
    assert Repository(LocalStore(str(root))).open("main").get_sync("a", prototype=P).to_bytes()[:1] == b"x"


@pytest.mark.parametrize("updates", [3, 40])  # few: only the old bytes are read; many: the chunk
def test_patched_chunks_keep_a_valid_checksum_for_stock_zarr(tmp_path, updates):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("t", htype="text")
    ds.extend({"x": np.arange(3000, dtype=np.int32), "t": [f"r{i}" for i in range(3000)]})
    ds.commit("base")
    rows = np.random.default_rng(updates).choice(3000, updates, replace=False)
    ds.x[rows.tolist()] = -rows.astype(np.int32)
    for i in range(5):
        ds.t.append(f"appended {i}")  # heap tail patches
    ds.commit("patched")
    assert patches.SEPARATOR in ds.zarr_store().object_of("x/data/c/0/0")
    version = dl.load(path, read_only=True).zarr_store()
    x = zarr.open_array(version, path="x/data", mode="r")[:]  # zarr's crc32c codec verifies every chunk
    want = np.arange(3000, dtype=np.int32)
    want[rows] = -rows
    np.testing.assert_array_equal(x.ravel(), want)
    zarr.open_array(version, path="t/bytes", mode="r")[:]
    zarr.open_array(version, path="t/index", mode="r")[:]
    assert dl.load(path).t[3004].data()["value"] == "appended 4"


def test_new_datasets_record_the_current_format(tmp_path):
    import json
    ds = dl.empty(str(tmp_path / "new"))
    ds.create_tensor("x")
    doc = json.loads(ds.zarr_store().get_sync("zarr.json", prototype=P).to_bytes())
    assert doc["attributes"]["deeplake_nb"]["format_version"] == 3 == dl.FORMAT_VERSION


def _objects(path: str) -> set[str]:
    return set(os.listdir(os.path.join(path, "objects")))


def test_one_publish_writes_its_patches_as_one_pack(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("rows", dtype="int32")  # 256-byte rows: 4,096 to a 1 MiB chunk
    ds.create_tensor("text", htype="text")
    n = 41_000
    ds.extend({"rows": np.arange(n * 64, dtype=np.int32).reshape(n, 64), "text": [f"r{i}" for i in range(n)]})
    ds.commit("base")
    rows = [i * 4096 + 7 for i in range(10)]  # in ten chunks
    before = _objects(path)
    with ds:
        for row in rows:
            ds.rows[row] = np.full(64, -row, np.int32)
        ds.rows[rows[0]] = np.full(64, 5, np.int32)  # again in the same publish: one patch of both
    ds.commit("ten rows")
    new = _objects(path) - before
    assert len(new) == 1, new  # one pack, not ten patch objects
    with open(os.path.join(path, "objects", new.pop()), "rb") as f:
        pack = patches.decode_pack(f.read())
    assert len(pack) == 10
    want = np.arange(n * 64, dtype=np.int32).reshape(n, 64)
    want[rows] = np.asarray([-r for r in rows], np.int32)[:, None]
    want[rows[0]] = 5
    np.testing.assert_array_equal(dl.load(path, read_only=True).rows.numpy(), want)
    array = zarr.open_array(dl.load(path, read_only=True).zarr_store(), path="rows/data", mode="r")
    np.testing.assert_array_equal(array[:], want)  # stock zarr, its crc32c codec checking


def test_a_pack_keeps_only_the_patches_still_named(repo):
    store = repo.open("main")
    for key in ("a", "b", "c", "d"):
        store.set_sync(key, P.buffer.from_bytes(bytes(range(256)) * 4))
    store.commit("base")
    store.set_ranges_sync("a", [(1, b"A")])
    store.set_ranges_sync("b", [(2, b"B")])
    store.set_ranges_sync("c", [(3, b"C")])
    store.set_ranges_sync("d", [(4, b"D")])
    store.set_sync("b", P.buffer.from_bytes(b"whole"))  # its patch leaves the pack
    store.delete_sync("c")  # so does this one
    assert store.get_sync("a", prototype=P).to_bytes()[:2] == b"\x00A"  # read before the pack is written
    assert store.move_prefix("d/", "e/") == 0  # (no key under d/: nothing moves)
    store.commit("patched")
    pack = patches.parts(store.object_of("a"))[-1]
    assert pack == patches.parts(store.object_of("d"))[-1]
    blob = sync(repo.store.get(f"objects/{pack}", P)).to_bytes()
    assert sorted(patches.decode_pack(blob)) == sorted(patches.parts(store.object_of(k))[0] for k in "ad")
    fresh = Repository(repo.store).open("main")
    assert fresh.get_sync("a", prototype=P).to_bytes()[:2] == b"\x00A"
    assert fresh.get_sync("b", prototype=P).to_bytes() == b"whole"
    assert fresh.get_sync("c", prototype=P) is None
    assert fresh.get_sync("d", prototype=P).to_bytes()[3:5] == b"\x03D"


def test_a_renamed_tensor_reads_its_patches_before_and_after_publishing(tmp_path):
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("y", dtype="int64")
    ds.extend({"x": np.arange(100_000), "y": np.arange(100_000)})
    ds.commit("base")
    with ds:
        ds.x[5] = -5
        ds.y[70_000] = -7
        ds.rename_tensor("x", "renamed")  # the patch moves with the key, unpublished
    assert ds.renamed[5].numpy() == -5
    ds.commit("patched and renamed")
    ds.rename_tensor("y", "other")  # after the pack is published
    ds.commit("renamed again")
    again = dl.load(path, read_only=True)
    assert again.renamed[5].numpy() == -5 and again.other[70_000].numpy() == -7 and again.other[5].numpy() == 5


def test_reset_drops_the_unwritten_pack(repo):
    store = _published(repo)
    store.set_ranges_sync("a", [(0, b"Z")])
    store.reset()
    assert store.get_sync("a", prototype=P).to_bytes() == _expected(1000, [])
    store.set_ranges_sync("a", [(1, b"Y")])
    store.commit("after reset")
    assert Repository(repo.store).open("main").get_sync("a", prototype=P).to_bytes() == _expected(1000, [(1, b"Y")])


def test_pack_encoding_round_trips_and_rejects_damage():
    sections = {"0123456789abcdef0123456789abcdef": [(0, b"ab"), (100, b"c" * 40)],
                "fedcba9876543210fedcba9876543210": [(7, b"")]}
    blob = patches.encode_pack(sections)
    assert patches.is_pack(blob) and patches.decode_pack(blob) == sections
    assert patches.section(blob, "fedcba9876543210fedcba9876543210") == [(7, b"")]
    assert patches.section(patches.encode([(1, b"q")]), "any") == [(1, b"q")]
    with pytest.raises(ValueError, match="holds no patch"):
        patches.section(blob, "1" * 32)
    for damaged in (blob[:-1], blob[:8], blob[:6] + bytes([blob[6] ^ 1]) + blob[7:], b"DLNP2"):
        with pytest.raises(ValueError):
            patches.decode_pack(damaged)


def test_equal_writes_pair_up_like_a_binary_counter(repo):
    """Successive equal writes (images appended to a heap's tail): each patch written merges the
    ones below only while it is at least their size, so half the writes carry one write's bytes
    and in all each byte is rewritten about log2(n) times (the "half their size" rule rewrote
    the one below on most writes)."""
    store = _published(repo, 1 << 20)
    sizes = []
    writes = [(i * 1000, np.random.default_rng(i).bytes(1000)) for i in range(16)]  # (packs are compressed)
    for write in writes:
        store.set_ranges_sync("a", [write])
        store.publish()
        sizes.append(repo.physical.size("objects/" + patches.parts(store.object_of("a"))[-1]))
    one = sizes[0] + 50
    assert sum(size <= one for size in sizes) == 8, sizes  # 1, 2, 1, 4, 1, 2, 1, 8, ...
    assert sum(sizes) <= 3.5 * 16 * one, sizes  # 1+2+1+4+1+2+1+8+1+2+1+4+1+2+1+16 = 48 writes' bytes
    assert len(patches.parts(store.object_of("a"))) - 1 <= 5
    want = _expected(1 << 20, writes)
    assert Repository(repo.store).open("main").get_sync("a", prototype=P).to_bytes() == want


def test_updated_rows_are_read_from_their_patch_without_the_chunk(tmp_path):
    """A few rows read from a chunk that is not cached come from the patch that wrote them when
    it alone does (its checksum verified): the chunk object is not read, so damage elsewhere in
    it is only found by a read that needs it."""
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(10_000))
    ds.commit("base")
    ds.x[7] = -7
    ds.x[9000] = -9000
    ds.commit("two updates")
    base = patches.parts(ds.zarr_store().object_of("x/data/c/0/0"))[0]
    with open(os.path.join(path, "objects", base), "r+b") as f:
        f.seek(5000 * 8)
        f.write(b"\xff" * 8)  # garble a row no patch wrote
    fresh = dl.load(path, read_only=True)
    assert fresh.x[[7, 9000]].numpy().ravel().tolist() == [-7, -9000]
    with pytest.raises(CorruptDatasetError, match=base):
        fresh.x[5000].numpy()


@pytest.mark.parametrize("seed", range(4))
def test_rows_read_through_patches_match_the_written_values(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("v", dtype="float32")
    n = 3000
    want_x, want_v = np.arange(n, dtype=np.int32), np.zeros((n, 3), np.float32)
    ds.extend({"x": want_x, "v": want_v})
    ds.commit("base")
    for step in range(6):
        with ds:
            for _ in range(int(rng.integers(1, 12))):
                rows = np.sort(rng.choice(n, int(rng.integers(1, 4)), replace=False))
                vx = rng.integers(-1000, 1000, len(rows)).astype(np.int32)
                vv = rng.random((len(rows), 3)).astype(np.float32)
                ds.x[rows.tolist()] = vx
                ds.v[rows.tolist()] = vv
                want_x[rows], want_v[rows] = vx, vv
        if step % 2:
            ds.commit(f"step {step}")
        picked = rng.choice(n, 40, replace=False)
        fresh = dl.load(path, read_only=True)
        np.testing.assert_array_equal(fresh.x[picked.tolist()].numpy().ravel(), want_x[picked])
        np.testing.assert_array_equal(fresh.v[picked.tolist()].numpy(), want_v[picked])
        np.testing.assert_array_equal(ds.x[picked.tolist()].numpy().ravel(), want_x[picked])
    np.testing.assert_array_equal(dl.load(path, read_only=True).x.numpy().ravel(), want_x)


@pytest.mark.parametrize("seed", [0, 1])
def test_several_ranges_of_a_patched_chain_read_at_once_match_whole_reads(repo, seed):
    rng = np.random.default_rng(seed)
    store = _published(repo, 4000)
    writes = []
    for round_ in range(6):  # a chain of several patches (some published, the last one not)
        batch = [(int(o), rng.bytes(int(n))) for o, n in zip(rng.integers(0, 3980, 5), rng.integers(1, 20, 5))]
        store.set_ranges_sync("a", batch)
        writes += batch
        if round_ < 5:
            store.commit(f"round {round_}")
    assert len(patches.parts(store.object_of("a"))) > 2
    want = _expected(4000, writes)
    apart = [(lo, lo + int(n)) for lo, n in zip(range(3900, 0, -300), rng.integers(0, 120, 13))]  # unsorted
    for asked in (apart + [(3990, 4100)],  # disjoint pieces (found by bisection), one past the end
                  apart + [(0, 4000), (100, 140), (120, 160)]):  # overlapping pieces
        assert store.get_ranges_sync("a", asked) == [want[lo:hi] for lo, hi in asked]
