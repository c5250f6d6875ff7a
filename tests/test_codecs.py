"""Chunk codecs: new arrays use only the Zarr v3 specification's codecs (``lz4`` chunk compression
is blosc-LZ4), written byte for byte as zarr writes them; arrays of the old ``deeplake_nb.lz4``
codec still read and take writes; damaged streams are our errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec
from zarr.storage import MemoryStore

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format import codecs
from deeplake_nb.format.arrays import ArrayHandle
from deeplake_nb.format.codecs import LZ4_NAME, SPEC_CODECS, LZ4Codec
from deeplake_nb.storage import ByteStore


def _every_array(group: zarr.Group, prefix: str = "") -> dict[str, zarr.Array]:
    found = {}
    for name, node in group.members():
        path = f"{prefix}{name}"
        if isinstance(node, zarr.Array):
            found[path] = node
        else:
            found.update(_every_array(node, path + "/"))
    return found


@pytest.fixture
def every_kind(ds_path, jpeg_file) -> dl.Dataset:
    """A tensor of every kind, with each sample and chunk compression, updated, migrated to the
    ragged layout and rechunked."""
    ds = dl.empty(ds_path)
    path, _, _ = jpeg_file()
    rng = np.random.default_rng(0)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("raw", htype="image", dtype="uint8", chunk_compression="lz4")
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"], chunk_compression="lz4")
        ds.create_tensor("emb", htype="embedding", chunk_compression="zstd")
        ds.create_tensor("masks", htype="binary_mask", sample_compression="lz4")
        ds.create_tensor("text", htype="text", chunk_compression="lz4")
        ds.create_tensor("meta", htype="json", sample_compression="lz4")
        ds.create_tensor("poly", htype="polygon", chunk_compression="lz4")
        ds.create_tensor("frames", htype="sequence[image]", dtype="uint8", chunk_compression="lz4")
        ds.create_tensor("files", htype="link[image]", verify=False)
        for i in range(5):
            ds.append({"images": dl.read(path), "raw": rng.integers(0, 255, (4, 5, 3), dtype=np.uint8),
                       "labels": i % 2, "emb": rng.random(6).astype(np.float32),
                       "masks": rng.random((4, 4, 1)) > 0.5, "text": f"t{i}", "meta": {"i": i},
                       "poly": [[[0, 0], [i, 1], [1, 1]]], "frames": [np.full((2, 2, 3), i, np.uint8)] * (i % 3),
                       "files": dl.link(path)})
    ds.raw.append(np.zeros((6, 5, 3), np.uint8))  # another shape: the tensor becomes ragged
    ds.labels[1] = 0
    ds.rechunk()
    return ds


def test_new_arrays_use_only_spec_codecs(every_kind):
    root = zarr.open_group(store=every_kind.zarr_store(), mode="r")
    arrays = _every_array(root)
    assert {"raw/bytes", "labels/data", "frames/items/data", "poly/bytes", "files/bytes"} <= set(arrays)
    for path, array in arrays.items():
        names = [codec.to_dict()["name"] for codec in array.metadata.codecs]
        assert set(names) <= SPEC_CODECS, (path, names)
        assert names[-1] == "crc32c", path
    assert [c.to_dict()["name"] for c in arrays["labels/data"].metadata.codecs] == ["bytes", "blosc", "crc32c"]
    assert root.attrs["deeplake_nb"]["format_version"] == dl.FORMAT_VERSION == 3
    assert every_kind.labels.chunk_compression == "lz4"  # v3's name stays the tensor's


def test_stock_zarr_without_deeplake_nb_reads_every_array(every_kind, tmp_path):
    """Each array of ds.zarr_store(), as plain files, read in a Python where deeplake_nb cannot be
    imported (its codec entry point would fail): the values equal what our reader gives."""
    logical = ByteStore(every_kind.zarr_store())
    plain = tmp_path / "plain"
    for key in logical.list_prefix(""):
        (plain / key).parent.mkdir(parents=True, exist_ok=True)
        (plain / key).write_bytes(logical.get(key))
    root = zarr.open_group(store=every_kind.zarr_store(), mode="r")
    want = {path: array[:].tobytes().hex() for path, array in _every_array(root).items()}
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["deeplake_nb"] = None
        import zarr
        def arrays(group, prefix=""):
            for name, node in group.members():
                if isinstance(node, zarr.Array):
                    yield prefix + name, node
                else:
                    yield from arrays(node, prefix + name + "/")
        print(json.dumps({{p: a[:].tobytes().hex() for p, a in arrays(zarr.open_group({str(plain)!r}, mode="r"))}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == want


@pytest.mark.parametrize("dtype, shuffle, typesize", [("uint8", "noshuffle", 1), ("bool", "noshuffle", 1),
                                                      ("int16", "shuffle", 2), ("uint32", "shuffle", 4),
                                                      ("int64", "shuffle", 8), ("float32", "noshuffle", 1),
                                                      ("float64", "noshuffle", 1)])
def test_blosc_chunks_are_byte_for_byte_what_zarr_writes(dtype, shuffle, typesize):
    store = MemoryStore()
    group = zarr.open_group(store=store, mode="w")
    handle = ArrayHandle.create(group, "a", ByteStore(store), dtype=dtype, row_shape=(3,), chunk_bytes=600,
                                compression="lz4")
    assert handle.compression == "blosc" and handle.direct
    blosc = zarr.open_array(store, path="a", mode="r").metadata.codecs[1]
    assert (blosc.cname.value, blosc.clevel, blosc.shuffle.value, blosc.typesize) == ("lz4", 5, shuffle, typesize)
    rows = (np.random.default_rng(1).integers(0, 50, (130, 3)) > 20 if dtype == "bool"
            else np.random.default_rng(1).integers(0, 50, (130, 3)).astype(dtype))
    handle.write(0, rows)
    handle.write_rows(np.array([3, 70]), rows[:2])  # a compressed chunk is rewritten whole
    rows[[3, 70]] = rows[:2]
    other = MemoryStore()
    by_zarr = zarr.create_array(other, shape=rows.shape, chunks=(handle.rows_per_chunk, 3), dtype=dtype,
                                compressors=list(zarr.open_array(store, path="a").metadata.codecs[1:]), fill_value=0)
    by_zarr[:] = rows
    for k in range(-(-len(rows) // handle.rows_per_chunk)):
        assert ByteStore(store).get(f"a/c/{k}/0") == ByteStore(other).get(f"c/{k}/0"), k
    np.testing.assert_array_equal(zarr.open_array(store, path="a", mode="r")[:], rows)
    np.testing.assert_array_equal(ArrayHandle.open(zarr.open_group(store=store), "a", ByteStore(store)).read(0, 130),
                                  rows)


def test_arrays_of_the_old_lz4_codec_read_and_take_writes():
    """Formats 1-2 wrote chunk_compression='lz4' with deeplake_nb.lz4: such arrays keep it."""
    store = MemoryStore()
    old = zarr.create_array(store, name="t/data", shape=(0, 2), chunks=(8, 2), dtype="int32", fill_value=0,
                            compressors=[LZ4Codec(), Crc32cCodec()])
    assert isinstance(old.metadata.codecs[0], BytesCodec)
    handle = ArrayHandle.open(zarr.open_group(store=store, path="t"), "data", ByteStore(store))
    assert handle.compression == "lz4" and handle.direct
    rows = np.arange(40, dtype=np.int32).reshape(20, 2)
    handle.write(0, rows)
    handle.write_rows(np.array([5]), np.array([[-1, -2]], np.int32))
    rows[5] = [-1, -2]
    assert [c.to_dict()["name"] for c in zarr.open_array(store, path="t/data").metadata.codecs] == [
        "bytes", LZ4_NAME, "crc32c"]
    np.testing.assert_array_equal(zarr.open_array(store, path="t/data", mode="r")[:], rows)
    np.testing.assert_array_equal(handle.read(0, 20), rows)
    assert zarr.registry.get_codec_class(LZ4_NAME) is LZ4Codec  # still registered (entry point)


def test_damaged_blosc_streams_are_corrupt_sample_errors():
    data = np.arange(1000, dtype=np.int64).tobytes()
    stream = bytes(codecs.blosc_lz4(np.dtype("int64"))._blosc_codec.encode(np.frombuffer(data, np.uint8)))
    assert codecs.decompress(stream, "blosc", len(data)) == data
    with pytest.raises(errors.CorruptSampleError, match="header says 8000 bytes decoded, a chunk has 16"):
        codecs.decompress(stream, "blosc", 16)  # a size field that promises more is never allocated
    with pytest.raises(errors.CorruptSampleError, match="stored bytes"):
        codecs.decompress(stream[:-3], "blosc")
    with pytest.raises(errors.CorruptSampleError, match="blosc header"):
        codecs.decompress(b"\x02\x01", "blosc")
    garbled = stream[:16] + bytes(len(stream) - 16)
    with pytest.raises(errors.CorruptSampleError, match="damaged"):
        codecs.decompress(garbled, "blosc", len(data))


def test_a_damaged_blosc_chunk_without_checksum_names_the_chunk():
    """A blosc chunk whose crc32c trailer still matches cannot exist by accident; without one
    (an array written by another tool) the header checks stop a wrong size."""
    store = MemoryStore()
    zarr.create_array(store, name="x", shape=(16,), chunks=(16,), dtype="int64", fill_value=0,
                      compressors=[codecs.blosc_lz4(np.dtype("int64"))])[:] = np.arange(16)
    raw = ByteStore(store)
    handle = ArrayHandle.open(zarr.open_group(store=store), "x", raw)
    assert handle.compression == "blosc" and not handle.checksum
    np.testing.assert_array_equal(handle.read(0, 16), np.arange(16))
    stream = bytearray(raw.get("x/c/0"))
    stream[4:8] = (1 << 30).to_bytes(4, "little")
    raw.set("x/c/0", bytes(stream))
    with pytest.raises(errors.CorruptChunkError, match="x/c/0"):
        ArrayHandle.open(zarr.open_group(store=store), "x", raw).read(0, 16)

