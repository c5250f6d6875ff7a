"""Dataset URLs -> zarr stores: mem:// (in-process by name; empty/dataset make a new one), local paths (the default),
and s3:// through obstore against a local moto server."""

from __future__ import annotations

import os
import uuid

import numpy as np

import pytest
from zarr.storage import LocalStore, MemoryStore

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.storage import ByteStore, normalize, open_store


def _write_and_check(url: str, image_array: np.ndarray, **options) -> None:
    ds = dl.empty(url, **options)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("emb", htype="embedding", chunk_compression="lz4")
    ds.extend({"images": [image_array, image_array[:5]], "labels": ["cat", "dog"],
               "emb": np.eye(2, 4, dtype=np.float32)})
    ds.info.source = "test"
    ids = ds.images.sample_ids
    again = dl.load(url, **options)
    assert len(again) == 2 and again.info.source == "test"
    np.testing.assert_array_equal(again.images[0].numpy(), image_array)
    np.testing.assert_array_equal(again.images[1].numpy(), image_array[:5])
    assert again.labels.data()["text"] == [["cat"], ["dog"]]
    np.testing.assert_array_equal(again.emb.numpy(), np.eye(2, 4, dtype=np.float32))
    np.testing.assert_array_equal(again.labels.sample_ids, ids)
    again.emb[1] = np.ones(4, np.float32)
    assert dl.load(url, read_only=True, **options).emb[1].numpy().tolist() == [1, 1, 1, 1]


# -- mem:// ---------------------------------------------------------------------------------------
def test_mem_round_trip(mem_url, image):
    _write_and_check(mem_url, image(10, 8))
    assert isinstance(dl.load(mem_url).zarr_store().repository.store, MemoryStore)


def test_mem_names_are_separate_and_overwrite_works(mem_url):
    dl.empty(mem_url).create_tensor("x")
    other = mem_url + "-b"
    try:
        assert dl.empty(other).tensors == {}
        assert list(dl.load(mem_url).tensors) == ["x"]
        assert normalize(mem_url + "/") == mem_url
        kept = dl.load(mem_url)
        assert dl.empty(mem_url).tensors == {}  # v3: a new in-memory dataset every time
        assert list(kept.tensors) == ["x"] and dl.load(mem_url).tensors == {}
        assert dl.dataset(mem_url).tensors == {}
        assert dl.empty(mem_url, overwrite=True).tensors == {}
    finally:
        dl.delete(other)


def test_mem_read_only_store_refuses_writes(mem_url):
    dl.empty(mem_url).create_tensor("x")
    ro = dl.load(mem_url, read_only=True)
    assert ro.zarr_store().read_only
    with pytest.raises(errors.ReadOnlyError):
        ro.x.append([1])


# -- local ----------------------------------------------------------------------------------------
def test_local_is_the_default(tmp_path, image, monkeypatch):
    _write_and_check(str(tmp_path / "local"), image(6, 9))
    store = dl.load(tmp_path / "local").zarr_store()
    assert isinstance(store.repository.store, LocalStore)
    assert (tmp_path / "local" / "repo.json").is_file() and (tmp_path / "local" / "objects").is_dir()
    assert {"zarr.json", "images/_id/zarr.json"} <= set(ByteStore(store).list_prefix(""))
    monkeypatch.chdir(tmp_path)
    assert normalize("local") == str(tmp_path / "local")
    assert normalize("file://" + str(tmp_path / "local")) == str(tmp_path / "local")
    assert dl.load("local").images.num_samples == 2


def test_local_read_only_open_does_not_create_directories(tmp_path):
    missing = tmp_path / "missing"
    open_store(str(missing), read_only=True)
    assert not missing.exists()


def test_bytestore_facade(tmp_path):
    for store in (MemoryStore(), LocalStore(str(tmp_path / "raw"))):
        raw = ByteStore(store)
        assert raw.get("a/b") is None and not raw.exists("a/b")
        raw.set("a/b", b"0123456789")
        assert raw.get("a/b") == b"0123456789" and raw.get("a/b", 2, 5) == b"234"
        assert raw.exists("a/b") and raw.list_prefix("a/") == ["a/b"]
        raw.delete("a/b")
        assert raw.get("a/b") is None


def test_unsupported_urls():
    with pytest.raises(errors.StorageError, match="Unsupported storage scheme 'ftp'"):
        normalize("ftp://bucket/x")
    with pytest.raises(errors.StorageError, match="empty"):
        normalize("")


# -- s3:// against moto ---------------------------------------------------------------------------
@pytest.fixture
def s3_server(moto_s3):
    return moto_s3.client, moto_s3.options


def _keys(client, prefix: str) -> list[str]:
    listing = client.list_objects_v2(Bucket="bucket", Prefix=prefix)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def test_s3_round_trip(s3_server, image):
    client, options = s3_server
    prefix = f"ds-{uuid.uuid4().hex}"
    url = f"s3://bucket/{prefix}"
    assert not dl.exists(url, storage_options=options)
    _write_and_check(url, image(12, 10), storage_options=options)
    assert dl.exists(url, storage_options=options)
    keys = _keys(client, prefix)
    assert f"{prefix}/repo.json" in keys and any(k.startswith(f"{prefix}/objects/") for k in keys)
    with pytest.raises(errors.DatasetExistsError):
        dl.empty(url, storage_options=options)
    dl.delete(url, storage_options=options)
    assert _keys(client, prefix) == [] and not dl.exists(url, storage_options=options)


def test_s3_refuses_non_dataset_prefix(s3_server):
    client, options = s3_server
    prefix = f"junk-{uuid.uuid4().hex}"
    client.put_object(Bucket="bucket", Key=f"{prefix}/notes.txt", Body=b"keep me")
    url = f"s3://bucket/{prefix}"
    with pytest.raises(errors.DatasetNotFoundError):
        dl.load(url, storage_options=options)
    with pytest.raises(errors.DatasetExistsError, match="not empty"):
        dl.empty(url, overwrite=True, storage_options=options)
    assert _keys(client, prefix) == [f"{prefix}/notes.txt"]


def test_s3_url_needs_a_bucket():
    pytest.importorskip("obstore")
    with pytest.raises(errors.StorageError, match="bucket"):
        open_store("s3://", storage_options={})



def test_flush_to_disk_fsyncs_every_file_before_any_folder(tmp_path, monkeypatch):
    import os
    import threading

    from deeplake_nb.storage import bytestore

    store = ByteStore(LocalStore(str(tmp_path)))
    keys = [f"objects/{i % 3}/k{i}" for i in range(12)]
    for key in keys:
        store.set(key, key.encode())
    events: list[tuple[str, str]] = []
    threads: set[str] = set()
    real = bytestore._fsync

    def recording(path: str) -> None:
        threads.add(threading.current_thread().name)
        events.append(("dir" if os.path.isdir(path) else "file", os.path.relpath(path, tmp_path)))
        real(path)

    monkeypatch.setattr(bytestore, "_fsync", recording)
    store.flush_to_disk(keys)
    files = [name for kind, name in events if kind == "file"]
    assert sorted(files) == sorted(keys)
    last_file = max(i for i, (kind, _) in enumerate(events) if kind == "file")
    assert all(kind == "dir" for kind, _ in events[last_file + 1:]) and len(events) > len(keys)
    folders = [name for kind, name in events if kind == "dir"]
    assert {"objects/0", "objects/1", "objects/2"} <= set(folders)
    assert all(folders.index(f"objects/{i}") < folders.index("objects") for i in range(3))  # a child first
    assert any(name.startswith("deeplake_nb-fsync") for name in threads)  # the files were fsynced together


def test_flush_to_disk_fsyncs_the_folders_of_one_depth_together(tmp_path, monkeypatch):
    import threading

    from deeplake_nb.storage import bytestore

    store = ByteStore(LocalStore(str(tmp_path)))
    keys = [f"{folder}/k" for folder in ("objects", "manifests", "commits")]
    for key in keys:
        store.set(key, b"x")
    store.flush_to_disk(keys)  # the folders' own entries are durable now: later flushes sync only these
    folder_threads: list[str] = []
    real = bytestore._fsync

    def recording(path: str) -> None:
        if os.path.isdir(path):
            folder_threads.append(threading.current_thread().name)
        real(path)

    monkeypatch.setattr(bytestore, "_fsync", recording)
    store.flush_to_disk(keys)
    assert len(folder_threads) == 3 and all(name.startswith("deeplake_nb-fsync") for name in folder_threads)


def test_flush_to_disk_names_the_key_it_could_not_flush(tmp_path):
    store = ByteStore(LocalStore(str(tmp_path)))
    for key in ("a/1", "a/2", "a/3"):
        store.set(key, b"x")
    (tmp_path / "a" / "2").unlink()
    with pytest.raises(errors.StorageError, match="a/2"):
        store.flush_to_disk(["a/1", "a/2", "a/3"])
