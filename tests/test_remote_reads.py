"""Reads on an object store issued together: the chunks one ``take`` needs, and the patches of a
chunk changed in several versions, are fetched concurrently (about one round trip for all, not
one each), checked through ``s3_proxy``'s count of requests in flight."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import deeplake_nb as dl
from s3_proxy import S3Proxy


def _url() -> str:
    return f"s3://bucket/reads-{uuid.uuid4().hex[:12]}"


ROWS, WIDTH = 2048, 16  # float32 rows of 64 bytes; 8 KiB chunks: 128 rows a chunk, 16 chunks


@pytest.fixture
def remote(moto_s3):
    url = _url()
    ds = dl.empty(url, storage_options=moto_s3.options)
    ds.create_tensor("x", dtype="float32", max_chunk_size=8 << 10)
    values = np.arange(ROWS * WIDTH, dtype=np.float32).reshape(ROWS, WIDTH)
    ds.x.extend(values)
    for stop in (4, 2, 1):  # three publishes, each a smaller patch of chunk 0 than the one before: a chain of three
        values[0:stop] += 0.5
        ds.x[0:stop] = values[0:stop]
    return url, moto_s3, values


def test_a_take_over_many_chunks_reads_them_together(remote):
    url, moto_s3, values = remote
    rows = np.random.default_rng(0).permutation(ROWS)[:300]
    with S3Proxy(moto_s3.endpoint, latency=0.05) as proxy:
        ds = dl.load(url, storage_options=proxy.options(moto_s3.options), read_only=True)
        len(ds)
        proxy.reset_in_flight()
        got = ds.x[rows.tolist()].numpy()
        assert proxy.max_in_flight >= 4  # 16 chunks: read together, not one after another
    np.testing.assert_array_equal(got, values[rows])


@pytest.mark.parametrize("rows", [slice(0, 4), list(range(100))], ids=["rows of the chunk", "the chunk read whole"])
def test_the_patches_of_a_chunk_are_read_together(remote, rows):
    """Rows of chunk 0 that the patches of later versions wrote: a few rows are read from the
    patches (``patched_bytes``), more than a row-by-row lookup takes read the chunk whole; either
    way its patches are fetched together."""
    url, moto_s3, values = remote
    with S3Proxy(moto_s3.endpoint, latency=0.05) as proxy:
        ds = dl.load(url, storage_options=proxy.options(moto_s3.options), read_only=True)
        ds.x[ROWS - 1].numpy()  # the last chunk: the version's manifests are read now
        proxy.reset_in_flight()
        start = len(proxy.requests)
        got = ds.x[rows].numpy()
        objects = [path for _, path in proxy.requests[start:] if "/objects/" in path]
        assert len(objects) >= 2 and proxy.max_in_flight >= 2  # the patches together
    np.testing.assert_array_equal(got, values[rows])


def test_reads_together_give_what_reads_one_by_one_give(remote, monkeypatch):
    url, moto_s3, values = remote
    ds = dl.load(url, storage_options=moto_s3.options, read_only=True)
    rows = np.random.default_rng(1).permutation(ROWS)[:500]
    together = ds.x[rows.tolist()].numpy()
    from deeplake_nb.version import physical
    monkeypatch.setattr(physical.PhysicalStore, "round_trips", property(lambda self: False))
    alone = dl.load(url, storage_options=moto_s3.options, read_only=True).x[rows.tolist()].numpy()
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, values[rows])
    np.testing.assert_array_equal(dl.load(url, storage_options=moto_s3.options, read_only=True).x.numpy(), values)
