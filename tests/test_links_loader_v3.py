"""Deep Lake v3 forms around linked files and the loader: ``Dataset(storage=provider)``, the v3
``LinkCreds`` of ``deeplake.core.link_creds`` (its storage providers) and a linked sample's
stored reference (``tensor[i]._linked_sample()``)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.core.storage import LocalProvider, MemoryProvider
from deeplake_nb.errors import DatasetError, DatasetNotFoundError, ReadOnlyError


def _filled(path: str) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images")
        ds.create_tensor("labels")
        ds.images.extend(np.arange(10 * 4 * 4, dtype=np.float32).reshape(10, 4, 4))
        ds.labels.extend(np.arange(10))
    return ds


# -- Dataset(storage=...) -----------------------------------------------------------------------
def test_dataset_over_storage_reads_the_stored_dataset(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, verbose=False)
    assert opened.path == ds.path
    assert not opened.read_only
    np.testing.assert_array_equal(opened.images.numpy(), ds.images.numpy())
    opened.labels.append(10)  # writable: the provider is
    assert len(dl.load(ds.path).labels) == 11


def test_dataset_over_storage_read_only(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    assert opened.read_only
    with pytest.raises(ReadOnlyError):
        opened.labels.append(1)
    assert len(dl.load(ds.path).labels) == 10


def test_dataset_over_read_only_provider_is_read_only(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    provider = LocalProvider(ds.path)
    provider.enable_readonly()
    opened = dl.Dataset(storage=provider)  # read_only=None follows the provider
    assert opened.read_only
    with pytest.raises(ReadOnlyError):
        opened.labels.append(1)


def test_dataset_over_memory_provider():
    ds = _filled("mem://storage_form")
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    np.testing.assert_array_equal(opened.labels.numpy().reshape(-1), np.arange(10))


def test_dataset_over_storage_without_dataset(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        dl.Dataset(storage=LocalProvider(str(tmp_path / "nothing")))
    with pytest.raises(DatasetNotFoundError):
        dl.Dataset(storage=MemoryProvider("mem://no_dataset_here"))


def test_dataset_refuses_what_is_not_a_provider(tmp_path):
    with pytest.raises(DatasetError):
        dl.Dataset(storage=str(tmp_path))
    with pytest.raises(DatasetError):
        dl.Dataset()


def test_loader_with_two_workers_over_read_only_storage_form(tmp_path):
    ds = _filled(str(tmp_path / "ds"))
    opened = dl.Dataset(storage=ds.storage, read_only=True)
    labels = sorted(int(batch["labels"].reshape(-1)[0]) for batch in opened.pytorch(num_workers=2))
    assert labels == list(range(10))


# -- deeplake.core.link_creds.LinkCreds.get_storage_provider -------------------------------------
def _v3_link_creds():
    from deeplake_nb.core.link_creds import LinkCreds

    creds = LinkCreds()
    creds.add_creds_key("given")
    creds.add_creds_key("missing")
    return creds


def test_storage_provider_needs_the_keys_credentials():
    from deeplake_nb.errors import MissingCredsError

    creds = _v3_link_creds()
    with pytest.raises(MissingCredsError):
        creds.get_storage_provider("unknown", "s3")
    with pytest.raises(MissingCredsError):
        creds.get_storage_provider("missing", "s3")


def test_storage_provider_types():
    from deeplake_nb.core.storage import S3Provider
    from deeplake_nb.errors import StorageError, UnsupportedFeatureError

    creds = _v3_link_creds()
    creds.populate_creds("given", {})
    assert isinstance(creds.get_storage_provider("given", "s3"), S3Provider)
    assert isinstance(creds.get_storage_provider(None, "s3"), S3Provider)
    for kind in ("gcs", "azure"):
        with pytest.raises(UnsupportedFeatureError):
            creds.get_storage_provider("given", kind)
    with pytest.raises(StorageError):
        creds.get_storage_provider("given", "ftp")


def test_storage_provider_reads_with_the_keys_credentials(moto_s3):
    moto_s3.client.put_object(Bucket="bucket", Key="linked/a.bin", Body=b"abc")
    creds = _v3_link_creds()
    creds.populate_creds("given", {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                                   "endpoint_url": moto_s3.endpoint, "aws_region": "us-east-1"})
    provider = creds.get_storage_provider("given", "s3", root="s3://bucket/linked")
    assert provider["a.bin"] == b"abc"


def test_v3_link_creds_round_trips():
    import pickle

    from deeplake_nb.core.link_creds import LinkCreds

    creds = _v3_link_creds()
    creds.populate_creds("given", {"aws_region": "x"})
    copied = pickle.loads(pickle.dumps(creds))
    assert isinstance(copied, LinkCreds) and copied.missing_keys == ["missing"]
    restored = LinkCreds.frombuffer(creds.tobytes())
    assert isinstance(restored, LinkCreds) and restored.missing_keys == ["given", "missing"]


# -- tensor[i]._linked_sample() -------------------------------------------------------------------
def test_linked_sample_reads_the_reference_without_fetching():
    from deeplake_nb.errors import SampleIndexError, TensorError

    ds = dl.empty("mem://linked_sample")
    ds.add_creds_key("S3")
    ds.populate_creds("S3", {})
    ds.create_tensor("abc", htype="link[image]", sample_compression="jpg", verify=False)
    ds.create_tensor("plain")
    ds.abc.append(dl.link("s3://some-bucket/does-not-exist.jpg", creds_key="S3"))
    ds.abc.append(None)
    ds.plain.append(1)
    linked = ds.abc[0]._linked_sample()
    assert linked.path == "s3://some-bucket/does-not-exist.jpg"
    assert linked.creds_key == "S3"
    assert ds.abc[1]._linked_sample() is None
    with pytest.raises(SampleIndexError):
        ds.abc[0:2]._linked_sample()
    with pytest.raises(TensorError):
        ds.plain[0]._linked_sample()


# -- http links, as v3's tests read them from the web (here from a local server) ------------------
@pytest.fixture
def http_jpeg():
    """A local http server giving one JPEG at /img.jpg and 404 elsewhere: (url base, bytes)."""
    import http.server
    import io
    import threading

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)).save(buffer, "JPEG")
    data = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            found = self.path == "/img.jpg"
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(data if found else b"not found")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", data
    server.shutdown()


@pytest.mark.parametrize("verify", [True, False])
def test_bad_http_link(tmp_path, http_jpeg, verify):
    from deeplake_nb.errors import SampleError

    base, _ = http_jpeg
    path = str(tmp_path / "ds")
    with dl.empty(path) as ds:
        ds.create_tensor("images", htype="link[image]", sample_compression="jpg", verify=verify)
        ds.images.append(dl.link(f"{base}/img.jpg"))
    if verify:
        with pytest.raises(SampleError, match="404"):
            ds.images.append(dl.link(f"{base}/lalala"))
        assert len(dl.load(path)) == 1
    else:
        ds.images.append(dl.link(f"{base}/lalala"))
        assert len(dl.load(path)) == 2


def test_tobytes_of_http_link(http_jpeg):
    base, data = http_jpeg
    ds = dl.empty("mem://tobytes_link")
    ds.create_tensor("images", htype="link[image]", sample_compression="jpg")
    ds.images.append(dl.link(f"{base}/img.jpg"))
    assert ds.images[0].tobytes() == dl.read(f"{base}/img.jpg").buffer == data
    assert ds.images[0].shape == (8, 6, 3)
