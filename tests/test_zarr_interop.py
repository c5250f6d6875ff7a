"""Every tensor is ordinary Zarr v3 arrays: stock zarr sees them and reads what the API returns;
new arrays use only the specification's codecs, and the ``deeplake_nb.lz4`` codec of formats 1-2
resolves through the ``zarr.codecs`` entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr

import deeplake_nb as dl
from deeplake_nb.storage import ByteStore
from deeplake_nb.format.codecs import LZ4_NAME, LZ4Codec


@pytest.fixture
def media(ds_path, jpeg_file, image) -> tuple[dl.Dataset, list[bytes]]:
    """Images (JPEG files, varying sizes), labels, embeddings, boxes and captions."""
    ds = dl.empty(ds_path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    ds.create_tensor("embedding", htype="embedding", chunk_compression="lz4")
    ds.create_tensor("boxes", htype="bbox", chunk_compression="zstd")
    ds.create_tensor("caption", htype="text")
    files = []
    rng = np.random.default_rng(0)
    with ds:
        for i in range(6):
            path, data, _ = jpeg_file(f"{i}.jpg", 16 + 2 * i, 20, seed=i)
            files.append(data)
            ds.append({"images": dl.read(path), "labels": i % 3, "embedding": rng.random(12).astype(np.float32),
                       "boxes": rng.random((i % 3, 4)).astype(np.float32), "caption": f"image number {i}"})
    return ds, files


def test_stock_zarr_sees_each_tensor_arrays(media):
    ds, _ = media
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    assert sorted(root.group_keys()) == ["boxes", "caption", "embedding", "images", "labels"]
    assert sorted(root["images"].array_keys()) == ["_id", "bytes", "index", "shape"]
    assert sorted(root["labels"].array_keys()) == ["_id", "data"]
    assert sorted(root["embedding"].array_keys()) == ["_id", "data"]
    for name in root.group_keys():
        ids = root[f"{name}/_id"]
        assert ids.dtype == np.uint64 and ids.shape == (6,)
        np.testing.assert_array_equal(ids[:], ds[name].sample_ids)
    assert root.attrs["deeplake_nb"]["format_version"] == dl.FORMAT_VERSION


def test_stock_zarr_reads_dense_data(media):
    ds, _ = media
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    np.testing.assert_array_equal(root["labels/data"][:], ds.labels.numpy())
    emb = root["embedding/data"]
    assert emb.shape == (6, 12) and emb.dtype == np.float32
    np.testing.assert_array_equal(emb[:], ds.embedding.numpy())
    np.testing.assert_array_equal(emb[2:4], ds.embedding[2:4].numpy())


def test_jpeg_heap_and_index_give_the_original_files(media):
    ds, files = media
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    heap = root["images/bytes"][:]
    index = root["images/index"][:]
    shapes = root["images/shape"][:]
    assert heap.dtype == np.uint8 and index.shape == (6, 2)
    for i, (offset, length) in enumerate(index.tolist()):
        assert heap[offset:offset + length].tobytes() == files[i] == ds.images[i].tobytes()
    np.testing.assert_array_equal(shapes, ds.images.shapes())


def test_ragged_text_and_compressed_boxes_are_readable(media):
    ds, _ = media
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    heap, index = root["caption/bytes"][:], root["caption/index"][:]
    assert [heap[o:o + n].tobytes().decode() for o, n in index.tolist()] == ds.caption.data()["value"]
    heap, index, shapes = root["boxes/bytes"][:], root["boxes/index"][:], root["boxes/shape"][:]
    for i, ((o, n), shape) in enumerate(zip(index.tolist(), shapes.tolist())):
        boxes = np.frombuffer(heap[o:o + n].tobytes(), np.float32).reshape(shape)
        np.testing.assert_array_equal(boxes, ds.boxes[i].numpy())


def test_updates_and_migrations_stay_readable(ds):
    ds.create_tensor("x", dtype="int16", chunk_compression="lz4")
    ds.x.extend(np.arange(12, dtype=np.int16).reshape(4, 3))
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    np.testing.assert_array_equal(root["x/data"][:], ds.x.numpy())
    ds.x[1] = np.array([7, 8, 9], np.int16)
    np.testing.assert_array_equal(zarr.open_group(store=ds.zarr_store(), mode="r")["x/data"][1], [7, 8, 9])
    ds.x.append(np.array([1, 2], np.int16))  # a new shape: the tensor becomes ragged
    root = zarr.open_group(store=ds.zarr_store(), mode="r")
    assert "data" not in root["x"]
    heap, index = root["x/bytes"][:], root["x/index"][:]
    got = [np.frombuffer(heap[o:o + n].tobytes(), np.int16) for o, n in index.tolist()]
    for g, want in zip(got, ds.x.numpy(aslist=True)):
        np.testing.assert_array_equal(g, want)


def test_lz4_codec_metadata_and_round_trip():
    codec = LZ4Codec.from_dict({"name": LZ4_NAME, "configuration": {"acceleration": 3}})
    assert codec.to_dict() == {"name": LZ4_NAME, "configuration": {"acceleration": 3}}
    with pytest.raises(ValueError, match="acceleration"):
        LZ4Codec(acceleration=0)
    store = zarr.storage.MemoryStore()
    arr = zarr.create_array(store, shape=(100, 7), chunks=(16, 7), dtype="int32", compressors=[LZ4Codec()])
    data = np.arange(700, dtype=np.int32).reshape(100, 7)
    arr[:] = data
    np.testing.assert_array_equal(zarr.open_array(store, mode="r")[:], data)


def test_lz4_array_readable_by_plain_zarr_in_a_fresh_process(media):
    ds, _ = media
    logical = ByteStore(ds.zarr_store())
    meta = json.loads(logical.get("embedding/data/zarr.json"))
    assert [codec["name"] for codec in meta["codecs"]] == ["bytes", "blosc", "crc32c"]  # chunk_compression="lz4"
    plain = Path(ds.path).parent / "plain-export"  # the logical zarr keys of this version, as plain files
    for key in logical.list_prefix(""):
        target = plain / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(logical.get(key))
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["deeplake_nb"] = None  # as if not installed: its entry point cannot load
        import numpy as np
        import zarr
        root = zarr.open_group({str(plain)!r}, mode="r")
        arr = root["embedding/data"]
        names = [type(c).__module__ + "." + type(c).__name__ for c in arr.metadata.codecs]
        print(json.dumps({{"codecs": names, "data": arr[:].tolist()}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "zarr.codecs.blosc.BloscCodec" in out["codecs"]
    np.testing.assert_array_equal(np.asarray(out["data"], np.float32), ds.embedding.numpy())


@pytest.mark.parametrize("compression, stored", [(None, None), ("zstd", "zstd"), ("lz4", "blosc")])
def test_an_array_declares_its_own_compression(compression, stored):
    import zarr as _zarr
    from zarr.storage import MemoryStore

    from deeplake_nb.format.arrays import ArrayHandle

    store = MemoryStore()
    group = _zarr.open_group(store=store, mode="w")
    raw = ByteStore(store)
    made = ArrayHandle.create(group, "t", raw, dtype="uint32", row_shape=(2,), chunk_bytes=64,
                              compression=compression)
    rows = np.arange(40, dtype=np.uint32).reshape(20, 2)
    made.write(0, rows)
    opened = ArrayHandle.open(_zarr.open_group(store=store, mode="r"), "t", raw)
    assert opened.compression == made.compression == stored
    np.testing.assert_array_equal(opened.read(0, 20), rows)
