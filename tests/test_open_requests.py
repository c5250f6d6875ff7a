"""Opening a dataset costs a fixed, small number of store requests, whatever its tensor count.

``dl.load(url)`` + ``len(ds)`` reads the branch's hint (a copy of its newest entry), checks that no
newer entry exists, and reads the version's consolidated metadata document: 3 requests for 100
tensors, on local disk and on S3 (counted at the zarr Store under the repository, and for S3 also
as HTTP requests in the moto server's log). Datasets written before consolidated documents open
as before and get one at their next publish; a label update writes no new document.
"""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.sync import sync

import deeplake_nb as dl
from deeplake_nb.core import api
from deeplake_nb.storage import ByteStore, open_store
from deeplake_nb.version import Repository, documents, metadata

TENSORS = 100
ROWS = 10


class CountingStore(Store):
    """Any zarr Store, with every call that reaches it counted by kind (``calls``)."""

    def __init__(self, inner: Store, calls: Counter | None = None) -> None:
        super().__init__(read_only=inner.read_only)
        self.inner = inner
        self.calls = Counter() if calls is None else calls

    def _count(self, kind: str) -> None:
        self.calls[kind] += 1

    def with_read_only(self, read_only: bool = False) -> CountingStore:
        return CountingStore(self.inner.with_read_only(read_only), self.calls)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountingStore) and other.inner == self.inner

    __hash__ = None  # type: ignore[assignment]

    supports_writes = supports_deletes = supports_listing = True

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._count("get")
        return await self.inner.get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._count("get")
        if hasattr(self.inner, "get_sync"):
            return self.inner.get_sync(key, prototype=prototype, byte_range=byte_range)
        return sync(self.inner.get(key, prototype, byte_range))

    async def get_partial_values(self, prototype: BufferPrototype, key_ranges: Any) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        self.calls["get"] += len(key_ranges)
        return await self.inner.get_partial_values(prototype, key_ranges)

    async def exists(self, key: str) -> bool:
        self._count("exists")
        return await self.inner.exists(key)

    async def getsize(self, key: str) -> int:
        self._count("getsize")
        return await self.inner.getsize(key)

    async def set(self, key: str, value: Buffer) -> None:
        self._count("set")
        await self.inner.set(key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._count("set")
        await self.inner.set_if_not_exists(key, value)

    async def delete(self, key: str) -> None:
        self._count("delete")
        await self.inner.delete(key)

    async def list(self) -> AsyncIterator[str]:
        self._count("list")
        async for key in self.inner.list():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        self._count("list")
        async for key in self.inner.list_prefix(prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        self._count("list")
        async for key in self.inner.list_dir(prefix):
            yield key


def _build(url: str, tensors: int = TENSORS, **options: Any) -> None:
    ds = dl.empty(url, overwrite=True, **options)
    with ds:
        for i in range(tensors):
            ds.create_tensor(f"t{i}", htype="class_label")
        ds.extend({f"t{i}": np.arange(ROWS) for i in range(tensors)})
    ds.commit("import")
    ds.t0[0] = 5  # the newest entry is a publish of uncommitted changes


def _counted_load(monkeypatch: pytest.MonkeyPatch, url: str, **options: Any) -> tuple[Counter, dl.Dataset, int]:
    """Open ``url`` with ``dl.load`` over a CountingStore and take ``len``; (calls, ds, len)."""
    calls: Counter = Counter()
    monkeypatch.setattr(api, "open_store", lambda *a, **k: CountingStore(open_store(*a, **k), calls))
    ds = dl.load(url, **options)
    length = len(ds)
    monkeypatch.undo()
    return calls, ds, length


@pytest.mark.parametrize("read_only", [False, True])
def test_load_and_len_of_100_tensors_take_three_requests_on_local_disk(tmp_path, monkeypatch, read_only):
    path = str(tmp_path / "ds")
    _build(path)
    calls, ds, length = _counted_load(monkeypatch, path, read_only=read_only)
    assert length == ROWS
    assert sum(calls.values()) <= 3, calls
    assert calls["list"] == 0
    # the open dataset reads and writes as usual (the manifest is read when first needed)
    assert ds.t0[0].numpy() == 5 and ds.t99.numpy().ravel().tolist() == list(range(ROWS))
    if not read_only:
        ds.t1[0] = 7
        assert dl.load(path).t1[0].numpy() == 7


def test_the_request_count_does_not_grow_with_tensors(tmp_path, monkeypatch):
    counts = []
    for tensors in (1, 30):
        path = str(tmp_path / f"ds{tensors}")
        _build(path, tensors)
        calls, _, length = _counted_load(monkeypatch, path)
        assert length == ROWS
        counts.append(sum(calls.values()))
    assert counts[0] == counts[1] <= 3


@pytest.fixture
def s3_url(moto_s3) -> tuple[str, dict[str, Any]]:
    return f"s3://bucket/open-requests-{uuid.uuid4().hex[:8]}", moto_s3.options


def test_load_and_len_of_100_tensors_take_three_requests_on_s3(s3_url, monkeypatch):
    url, options = s3_url
    _build(url, storage_options=options)
    calls, ds, length = _counted_load(monkeypatch, url, storage_options=options)
    assert length == ROWS and sum(calls.values()) <= 3, calls
    assert ds.t0[0].numpy() == 5


def test_load_and_len_on_s3_are_three_http_requests(s3_url, monkeypatch, tmp_path):
    """The same, counted by the S3 server itself (moto's request log)."""
    from moto.moto_api import recorder

    url, options = s3_url
    _build(url, storage_options=options)
    monkeypatch.setattr(recorder, "_location", str(tmp_path / "requests.log"))
    recorder.reset_recording()
    recorder.start_recording()
    try:
        assert len(dl.load(url, storage_options=options)) == ROWS
    finally:
        recorder.stop_recording()
    with open(tmp_path / "requests.log") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    assert 1 <= len(requests) <= 3, [(r["method"], r["url"]) for r in requests]


def _strip_documents(path: str) -> None:
    """Make ``path`` look written before consolidated documents: no metadata/ folder, and no
    document (nor format stamp) named by branch entries, the hint or commits."""
    for doc in glob.glob(f"{path}/metadata/*"):
        os.remove(doc)
    for file in glob.glob(f"{path}/refs/branches/*/*") + glob.glob(f"{path}/commits/*"):
        with open(file, "rb") as f:
            data = documents.json_object(f.read(), file)
        for entry in (data, data.get("entry", {})):
            entry.pop("meta", None)
            entry.pop("format", None)
        with open(file, "w") as f:
            json.dump(data, f)


def test_datasets_without_a_document_open_and_get_one_at_their_next_publish(tmp_path, monkeypatch):
    path = str(tmp_path / "ds")
    _build(path, 5)
    _strip_documents(path)
    calls, ds, length = _counted_load(monkeypatch, path)
    assert length == ROWS and calls["get"] > 5  # repo.json, the manifest, every document on its own
    assert ds.t0[0].numpy() == 5 and ds.t4.numpy().ravel().tolist() == list(range(ROWS))
    assert dl.load(path, version=ds.commit_id).t0[0].numpy() == 0
    ds.t2[3] = 1  # no metadata change, but the version had no document: it gets one
    assert len(glob.glob(f"{path}/metadata/*")) == 1
    calls, again, length = _counted_load(monkeypatch, path)
    assert length == ROWS and sum(calls.values()) <= 3
    assert again.t2[3].numpy() == 1 and again.t0[0].numpy() == 5


def test_updates_in_place_reuse_the_document_and_appends_write_one(tmp_path):
    path = str(tmp_path / "ds")
    _build(path, 3)
    ds = dl.load(path)
    before = set(glob.glob(f"{path}/metadata/*"))
    with ds:
        for row in range(3):
            ds.t1[row] = 9
    ds.commit("labels")
    assert set(glob.glob(f"{path}/metadata/*")) == before  # shapes unchanged: the same document by name
    ds.t1.append(3)
    assert len(set(glob.glob(f"{path}/metadata/*")) - before) == 1
    assert len(dl.load(path).t1) == ROWS + 1


def test_documents_are_the_versions_metadata(tmp_path):
    """The document holds exactly the metadata keys of its version, byte for byte."""
    path = str(tmp_path / "ds")
    _build(path, 4)
    ds = dl.load(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(np.zeros((4, 5, 3), np.uint8))
    ds.delete_tensor("t3")
    ds.rename_tensor("t2", "renamed")
    for version in ("main", ds.commit("changes"), ds.commits[-1]["commit"]):
        store = Repository(open_store(path, read_only=True)).open(version, read_only=True)
        documents = store.metadata_documents()
        keys = [key for key in ByteStore(store).list_prefix("") if metadata.is_metadata_key(key)]
        assert documents is not None and sorted(documents) == sorted(keys)
        for key in keys:
            name = store.object_of(key)
            with open(f"{path}/objects/{name}", "rb") as f:
                assert documents[key] == f.read()


def test_a_damaged_or_missing_document_falls_back_to_reading_key_by_key(tmp_path):
    path = str(tmp_path / "ds")
    _build(path, 3)
    damaged = set(glob.glob(f"{path}/metadata/*"))
    for document in damaged:
        with open(document, "wb") as f:
            f.write(b"garbage")
    ds = dl.load(path)
    assert len(ds) == ROWS and ds.t0[0].numpy() == 5
    ds.t0.append(1)  # the next publish writes a fresh, readable document
    fresh = set(glob.glob(f"{path}/metadata/*")) - damaged
    assert len(fresh) == 1
    os.remove(fresh.pop())
    assert len(dl.load(path)) == ROWS and len(dl.load(path).t0) == ROWS + 1


def test_a_stale_hint_never_outlives_the_entries_above_it(tmp_path):
    """A crash between an entry and its hint leaves the hint naming an older entry; gc's pruning
    of the entries above it must not make that hint look current."""
    path = str(tmp_path / "ds")
    ds = dl.empty(path)
    ds.create_tensor("x", dtype="int64")
    for i in range(6):
        ds.x.append(i)
    entries = sorted(p for p in glob.glob(f"{path}/refs/branches/main/*") if os.path.basename(p).isdigit())
    with open(entries[2], "rb") as f:
        stale = documents.json_object(f.read(), entries[2])
    with open(f"{path}/refs/branches/main/latest", "w") as f:
        json.dump({"number": int(os.path.basename(entries[2])), "entry": stale}, f)
    assert len(dl.load(path).x) == 6  # the entry above the hint exists: the hint is seen as stale
    repo = Repository(open_store(path))
    assert repo.gc(now=time.time() + 7200)["ref_entries"] > 0
    assert len(dl.load(path).x) == 6 and dl.load(path).x.numpy().ravel().tolist() == list(range(6))


def test_gc_keeps_the_documents_versions_name_and_removes_the_rest(tmp_path):
    path = str(tmp_path / "ds")
    _build(path, 2)
    ds = dl.load(path)
    ds.commit("labels")
    ds.t0.append(7)  # main's working area gets a new document: the commits' one is named by commits only
    dl.gc(path, grace_seconds=0)  # the documents of working areas that later publishes replaced
    kept = set(glob.glob(f"{path}/metadata/*"))
    assert len(kept) == 2  # the commits' and main's
    ds.checkout("scratch", create=True)
    ds.t1.append(3)  # a document only the branch 'scratch' names
    assert len(set(glob.glob(f"{path}/metadata/*")) - kept) == 1
    main = dl.load(path)
    main.delete_branch("scratch")
    assert dl.gc(path, grace_seconds=0)["metadata"] == 1
    assert set(glob.glob(f"{path}/metadata/*")) == kept
    for version in ("main", *(c["commit"] for c in main.commits[:-1])):  # the empty root commit has none
        store = Repository(open_store(path, read_only=True)).open(version, read_only=True)
        assert store.metadata_documents() is not None  # every version still opens from its document


def test_a_tag_is_read_without_asking_for_a_hint(tmp_path):
    """A tag has one entry and no hint: reading it is a listing and that entry's read."""
    from deeplake_nb.version.physical import PhysicalStore
    from deeplake_nb.version.refs import TAGS, RefLog

    path = str(tmp_path / "ds")
    _build(path, 1)
    commit_id = Repository(open_store(path)).tag("v1", "main")
    calls: Counter = Counter()
    log = RefLog(PhysicalStore(CountingStore(open_store(path, read_only=True), calls)), TAGS, "v1")
    number, entry = log.latest()
    assert number == 1 and entry["commit"] == commit_id
    assert calls == Counter({"list": 1, "get": 1}), calls
