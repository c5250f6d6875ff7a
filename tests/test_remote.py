"""Datasets on S3-compatible servers started on 127.0.0.1 (moto, and SeaweedFS, which keeps
connections alive as real stores do): Deep Lake v3's ``creds`` and our ``storage_options``, the
environment, the other object-store schemes, obstore errors as ``StorageError``, loader workers
with every start method (and no hang when the store is gone), and the put-if-absent probe
(through ``s3_proxy``, which can drop ``If-None-Match`` and add latency)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import uuid

import numpy as np
import pytest
from s3_proxy import S3Proxy
from zarr.core.buffer import default_buffer_prototype

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.storage import open_store, probe

pytest.importorskip("obstore")
torch = pytest.importorskip("torch")

N = 40  # samples in the loader datasets


def _url() -> str:
    return f"s3://bucket/ds-{uuid.uuid4().hex[:12]}"


def _v3_creds(endpoint: str) -> dict:
    """Credentials as a Deep Lake v3 user passes them."""
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": endpoint,
            "aws_region": "us-east-1"}


def _keys(server, url: str) -> list[str]:
    prefix = url[len("s3://bucket/"):] + "/"
    listing = server.client.list_objects_v2(Bucket="bucket", Prefix=prefix)
    return sorted(obj["Key"][len(prefix):] for obj in listing.get("Contents", []))


def _fill(ds: dl.Dataset, image) -> list[np.ndarray]:
    """``N`` small JPEG images with labels 0..N-1; returns the images as read in this process."""
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        ds.images.extend([image(16, 12, seed=i) for i in range(N)])
        ds.labels.extend(np.arange(N))
    return ds.images.numpy(aslist=True)


# -- creds, storage options, environment -----------------------------------------------------
def test_v3_creds_write_and_read(moto_s3):
    url = _url()
    creds = _v3_creds(moto_s3.endpoint)
    ds = dl.empty(url, creds=creds)
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.extend(np.arange(5))
    ds.commit("five")
    again = dl.load(url, creds={**creds, "region": creds.pop("aws_region")}, read_only=True)  # v3's other spelling
    assert again.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
    assert "repo.json" in _keys(moto_s3, url)


def test_environment_credentials(moto_s3, monkeypatch):
    """AWS_* variables alone reach the store (creds="ENV", or nothing), plain http included."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_ENDPOINT_URL": moto_s3.endpoint, "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    url = _url()
    ds = dl.empty(url, creds="ENV")
    ds.create_tensor("t", htype="text")
    ds.t.append("from the environment")
    assert dl.load(url, read_only=True).t[0].numpy() == "from the environment"


def test_anonymous_reads(moto_s3):
    import json

    if "public" not in {b["Name"] for b in moto_s3.client.list_buckets()["Buckets"]}:
        moto_s3.client.create_bucket(Bucket="public")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                  "Action": ["s3:GetObject", "s3:ListBucket"],
                  "Resource": ["arn:aws:s3:::public", "arn:aws:s3:::public/*"]}]}
        moto_s3.client.put_bucket_policy(Bucket="public", Policy=json.dumps(policy))
    url = _url().replace("s3://bucket/", "s3://public/")
    ds = dl.empty(url, storage_options=moto_s3.options)
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.extend(np.arange(4))
    public = dl.load(url, creds={"anon": True, "endpoint_url": moto_s3.endpoint}, read_only=True)
    assert public.x.numpy().ravel().tolist() == [0, 1, 2, 3]
    assert str(public._state.zarr_store.repository.store.store.config["skip_signature"]).lower() == "true"


def test_pickled_dataset_carries_its_credentials(moto_s3):
    ds = dl.empty(_url(), creds=_v3_creds(moto_s3.endpoint))
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.extend(np.arange(3))
    copy = pickle.loads(pickle.dumps(ds))  # nothing in the environment: the options travel
    assert copy.x.numpy().ravel().tolist() == [0, 1, 2]


@pytest.mark.parametrize("url, kind, bucket, prefix, account", [
    ("gs://bkt/a/b", "GCSStore", "bkt", "a/b", None),
    ("gcs://bkt/a", "GCSStore", "bkt", "a", None),
    ("gcp://bkt", "GCSStore", "bkt", None, None),
    ("az://acct/cont/pre/x", "AzureStore", "cont", "pre/x", "acct"),
    ("azure://acct/cont", "AzureStore", "cont", None, "acct"),
])
def test_gcs_and_azure_urls_open_their_obstore_stores(url, kind, bucket, prefix, account):
    store = open_store(url, read_only=True, storage_options={"anon": True})
    client = store.store
    assert type(client).__name__ == kind and client.prefix == prefix
    config = client.config
    assert config.get("bucket", config.get("container_name")) == bucket
    assert config.get("account_name") == account and str(config["skip_signature"]).lower() == "true"


def test_v3_azure_and_gcs_creds_are_translated():
    store = open_store("az://acct/cont", read_only=True, storage_options={"account_key": "a2V5", "sas_token": "sv=1"})
    assert store.store.config["account_key"] == "a2V5" and store.store.config["sas_key"] == "sv=1"
    with pytest.raises(errors.StorageError, match="account 'other'"):
        open_store("az://acct/cont", read_only=True, storage_options={"account_name": "other"})
    with pytest.raises(errors.StorageError, match="names no container"):
        open_store("az://acct", read_only=True)
    with pytest.raises(errors.StorageError, match="token"):
        open_store("gs://b/p", read_only=True, storage_options={"token": "/no/such/file.json"})
    service_account = {"type": "service_account", "client_email": "a@b.iam", "private_key": "k"}  # v3's GCS creds
    with pytest.raises(errors.StorageError, match="service account"):  # reached obstore as one (incomplete here)
        open_store("gs://b/p", read_only=True, storage_options=service_account)


def test_obstore_errors_are_storage_errors_naming_url_and_operation(moto_s3):
    missing_bucket = "s3://no-such-bucket-here/ds"
    with pytest.raises(errors.StorageError, match=r"Cannot (read|list|look up) '[^']+' at 's3://no-such-bucket-here/ds'"):
        dl.load(missing_bucket, storage_options=moto_s3.options)
    said = "the bucket 'no-such-bucket-here' does not exist \\(NoSuchBucket\\). Create it first"
    for call in (dl.load, dl.exists, dl.empty):  # dl.empty said "A dataset already exists" here
        with pytest.raises(errors.StorageError, match=said):
            call(missing_bucket, storage_options=moto_s3.options)
    with pytest.raises(errors.StorageError, match="storage options"):
        dl.empty(_url(), storage_options={**moto_s3.options, "no_such_option": 1})


def test_reads_run_on_the_calling_thread_and_say_what_failed(moto_s3, monkeypatch):
    """``RemoteStore.get_sync`` (what every dataset read on a store uses): whole objects, byte
    ranges (clamped at the end, as S3 does), None for an absent key, StorageError naming the URL
    and the key for a failure; none of it waits on zarr's event loop."""
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest
    from zarr.core import sync as zarr_sync

    from deeplake_nb.storage import remote

    url = _url()
    store = open_store(url, storage_options=moto_s3.options)
    blob = os.urandom(5000)
    zarr_sync.sync(store.set("objects/a", default_buffer_prototype().buffer.from_bytes(blob)))
    loop_calls = []
    real_sync = remote.sync
    monkeypatch.setattr(remote, "sync", lambda coro: loop_calls.append(coro) or real_sync(coro))
    assert store.get_sync("objects/a").to_bytes() == blob
    assert store.get_sync("objects/a", byte_range=RangeByteRequest(100, 300)).to_bytes() == blob[100:300]
    assert store.get_sync("objects/a", byte_range=RangeByteRequest(4990, 6000)).to_bytes() == blob[4990:]
    assert store.get_sync("objects/absent") is None
    assert not loop_calls
    assert store.get_sync("objects/a", byte_range=SuffixByteRequest(7)).to_bytes() == blob[-7:]  # through get()
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = open_store(url, storage_options={**moto_s3.options, "endpoint": f"http://127.0.0.1:{port}",
                                            "retry_config": {"max_retries": 0}})
    with pytest.raises(errors.StorageError, match=rf"Cannot read 'objects/a' at '{url}'"):
        gone.get_sync("objects/a", byte_range=RangeByteRequest(0, 10))


@pytest.fixture(scope="module")
def weed_with_keys(tmp_path_factory):
    """A SeaweedFS server that refuses requests not signed with its keys ("testing", "testing")."""
    from s3_servers import SeaweedServer

    try:
        server = SeaweedServer(tmp_path_factory.mktemp("weed-auth"), "bucket", ("testing", "testing", "us-east-1"),
                               auth=True)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield server
    server.close()


def test_refused_credentials_say_so(weed_with_keys):
    """A store that refuses the keys: every call says the credentials were refused and what to
    check; nothing is created, and the right keys then work."""
    url = _url()
    good = _v3_creds(weed_with_keys.endpoint)
    for wrong in ({**good, "aws_secret_access_key": "wrong"}, {**good, "aws_access_key_id": "nobody"}):
        for call in (dl.empty, dl.load, dl.exists):
            with pytest.raises(errors.StorageError, match=r"refused the credentials \((SignatureDoesNotMatch|"
                                                          r"InvalidAccessKeyId|AccessDenied).*Check creds="):
                call(url, creds=wrong)
    assert not weed_with_keys.client.list_objects_v2(Bucket="bucket", Prefix=url.split("/", 3)[3]).get("Contents")
    ds = dl.empty(url, creds=good)
    ds.create_tensor("x")
    ds.x.append(1)
    ds.commit("one")
    assert dl.load(url, creds=good, read_only=True).x.numpy().tolist() == [[1]]


def test_unreachable_store_fails_within_seconds():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(errors.StorageError, match="s3://bucket/ds"):
        dl.load("s3://bucket/ds", creds=_v3_creds(f"http://127.0.0.1:{port}"))
    assert time.monotonic() - start < 20


# -- loader workers --------------------------------------------------------------------------
def _check_epoch(loader, pixels: list[np.ndarray], plus: int = 0) -> None:
    seen = []
    for batch in loader:
        for label, img in zip(batch["labels"].numpy().ravel(), batch["images"].numpy()):
            np.testing.assert_array_equal(img, pixels[int(label) - plus])
            seen.append(int(label) - plus)
    assert sorted(seen) == list(range(N))


@pytest.fixture(scope="module")
def weed_dataset(weed_s3, image):
    url = _url()
    creds = _v3_creds(weed_s3.endpoint)
    pixels = _fill(dl.empty(url, creds=creds), image)
    return url, creds, pixels


@pytest.mark.parametrize("method, workers", [("fork", 2), ("fork", 4), ("spawn", 2), ("forkserver", 2)])
def test_loader_workers_on_seaweedfs(weed_dataset, method, workers):
    """Every start method works on a store that keeps connections alive, after this process used
    obstore (whose client would wait forever in a fork): forked workers read through this
    process (``storage.relay``: four at once here too), spawned ones reopen the dataset with its
    creds; a lambda transform reaches them either way."""
    url, creds, pixels = weed_dataset
    ds = dl.load(url, creds=creds, read_only=True)
    _ = ds.images[0].numpy()  # this process has used the store before the workers start
    loader = ds.pytorch(num_workers=workers, batch_size=8, shuffle=True, seed=3, multiprocessing_context=method,
                        transform={"images": None, "labels": lambda x: x + 1}, timeout=60)
    _check_epoch(loader, pixels, plus=1)


@pytest.mark.slow
def test_forked_workers_start_again_and_again_while_the_parent_prefetches(weed_dataset):
    """40 loaders of 4 forked workers, each made while this process prefetches into the loader's
    scratch cache: before the relay kept the stores it had served, a child now and then froze
    freeing one of them (its client's lock, held by a runtime thread of this process at the fork)."""
    url, creds, pixels = weed_dataset
    for _ in range(40):
        ds = dl.load(url, creds=creds, read_only=True)
        _ = ds.images[0].numpy()
        _check_epoch(ds.pytorch(num_workers=4, batch_size=8, shuffle=True, multiprocessing_context="fork",
                                timeout=30), pixels)


@pytest.mark.slow
def test_loader_default_start_method_on_moto(moto_s3, image):
    url = _url()
    pixels = _fill(dl.empty(url, storage_options=moto_s3.options), image)
    ds = dl.load(url, storage_options=moto_s3.options)
    _check_epoch(ds.dataloader().batch(8).pytorch(num_workers=2, timeout=60), pixels)


@pytest.mark.parametrize("gone", ["after the loader is made", "before"])
def test_loader_fails_with_our_error_when_the_store_goes_away(moto_s3, image, gone):
    """Streaming (no disk cache: one that the loader's prefetch had filled would still answer),
    or with the default scratch cache when the store is gone before the loader is made."""
    with S3Proxy(moto_s3.endpoint) as proxy:
        options = proxy.options(moto_s3.options)
        url = _url()
        _fill(dl.empty(url, storage_options=options), image)
        ds = dl.load(url, storage_options=options, read_only=True)
        if gone == "before":
            proxy.stop()
            loader = ds.pytorch(num_workers=2, batch_size=8)
        else:
            loader = ds.pytorch(num_workers=2, batch_size=8, use_local_cache=False)
            proxy.stop()
        start = time.monotonic()
        with pytest.raises((errors.StorageError, errors.LoaderError), match=url):
            for _ in loader:
                pass
        assert time.monotonic() - start < 45


def _read_in_child(ds, queue) -> None:
    try:
        ds.clear_cache()
        value = int(ds.x[0].numpy()[0])
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put((type(exc).__name__, str(exc)))
        return
    try:
        ds.x.append(7)
        ds.flush()
        queue.put(("ok", value, "written"))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("ok", value, type(exc).__name__, str(exc)))


def test_a_forked_process_reads_through_its_parent_and_cannot_write(weed_s3):
    """obstore cannot run after fork: a process forked after this one used the store reads
    through this process (``storage.relay``) instead of hanging, and a write there is refused
    with our error, which says how to start a process that can write."""
    url = _url()
    ds = dl.empty(url, creds=_v3_creds(weed_s3.endpoint))
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.extend(np.arange(3) + 40)
    ds.commit("three")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(ds, queue))
    child.start()
    answer = queue.get(timeout=60)
    child.join(10)
    assert answer[:3] == ("ok", 40, "StorageError"), answer
    assert "spawn" in answer[3] and "forkserver" in answer[3]
    assert len(dl.load(url, creds=_v3_creds(weed_s3.endpoint), read_only=True).x) == 3
    from deeplake_nb.loader.source import DatasetSource
    from deeplake_nb.loader.torch_loader import _worker_context

    assert _worker_context(DatasetSource(ds, None), 2, "fork") == "fork"  # loader workers fork, and read so


def test_obstore_used_any_way_keeps_workers_from_fork(moto_s3, tmp_path, monkeypatch):
    """Linked files read through obstore start its runtime too: a loader over link tensors then
    starts its workers from a fork server, and a process forked anyway refuses object stores."""
    import obstore
    from obstore.store import S3Store

    from deeplake_nb.loader.source import DatasetSource
    from deeplake_nb.loader.torch_loader import _worker_context
    from deeplake_nb.storage import remote

    options = {k: v for k, v in moto_s3.options.items()}
    obstore.put(S3Store("bucket", **options), "raw/key", b"x")  # obstore used directly, not by a dataset
    assert remote.runtime_started()
    ds = dl.empty(str(tmp_path / "links"))
    ds.create_tensor("files", htype="link[image]", verify=False)
    ds.files.append(dl.link(str(tmp_path / "a.jpg")))
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.append(1)
    assert _worker_context(DatasetSource(ds, None), 2, "fork").get_start_method() == "forkserver"
    assert _worker_context(DatasetSource(ds, ["x"]), 2, "fork") == "fork"  # no links: forking is safe
    monkeypatch.setattr(remote, "_used_in_pid", None)
    remote._before_fork()  # what os.fork runs first: the child will know obstore ran here
    assert remote._used_in_pid == os.getpid()


# -- the put-if-absent probe -----------------------------------------------------------------
def _probe_requests(proxy: S3Proxy) -> list[tuple[str, str]]:
    return [r for r in proxy.requests if probe.PROBE_PREFIX in r[1]]


@pytest.mark.parametrize("server", ["moto_s3", "weed_s3"])
def test_store_ignoring_conditional_writes_is_refused(server, request):
    server = request.getfixturevalue(server)
    with S3Proxy(server.endpoint, drop_if_none_match=True) as proxy:
        options = proxy.options(server.options)
        url = _url()
        with pytest.raises(errors.UnsafeStoreError, match="single_writer"):
            dl.empty(url, storage_options=options)
        assert _keys(server, url) == []  # nothing written, the probe object removed
        probes = len(_probe_requests(proxy))
        assert probes >= 2
        with pytest.raises(errors.UnsafeStoreError):  # the verdict is remembered: no second probe
            dl.empty(_url(), storage_options=options)
        assert len(_probe_requests(proxy)) == probes
        ds = dl.empty(url, storage_options={**options, "single_writer": True})  # the explicit opt-in
        ds.create_tensor("x", htype="generic", dtype="int64")
        ds.x.append(7)
        assert dl.load(url, storage_options=options, read_only=True).x.numpy().ravel().tolist() == [7]


def test_store_without_conditional_writes_is_refused(moto_s3):
    with S3Proxy(moto_s3.endpoint, reject_if_none_match=True) as proxy:
        url = _url()
        with pytest.raises(errors.UnsafeStoreError, match="failed with.*single_writer"):
            dl.empty(url, storage_options=proxy.options(moto_s3.options))
        assert _keys(moto_s3, url) == []


def test_store_honouring_conditional_writes_is_probed_once(moto_s3):
    with S3Proxy(moto_s3.endpoint, latency=0.02) as proxy:
        options = proxy.options(moto_s3.options)
        start = time.monotonic()
        ds = dl.empty(_url(), storage_options=options)
        elapsed = time.monotonic() - start
        url = _url()
        dl.empty(url, storage_options=options)
        assert len(_probe_requests(proxy)) == 2  # create, refused create; once for the bucket
        assert not any(probe.PROBE_PREFIX in key for key in _keys(moto_s3, ds.path) + _keys(moto_s3, url))
        assert probe.known_verdict(ds._state.zarr_store.repository.store).safe
        assert elapsed >= 0.02 * (len(proxy.requests) // 2)  # the proxy's latency per request


@pytest.mark.parametrize("url, name", [("s3://b/p", "aws_endpoint"), ("s3://b/p", "AWS_ENDPOINT_URL"),
                                       ("s3://b/p", "endpoint_url"), ("gs://b/p", "google_base_url"),
                                       ("az://a/c/p", "azure_storage_endpoint")])
def test_every_spelling_of_the_endpoint_is_the_endpoint(url, name):
    """obstore's own names for the endpoint too: a plain-http one is allowed, and it tells the
    probe's verdicts of two servers apart."""
    from deeplake_nb.storage import remote

    location = remote.locate(url)
    settings = remote.client_settings(location, {name: "http://127.0.0.1:9"})
    assert settings["client_options"]["allow_http"] is True
    assert remote.endpoint_of(location.kind, settings) == "http://127.0.0.1:9"
