"""``extend`` of a list of ``dl.read`` files into an image tensor of their format takes the one-loop
path (``format.file_batch``); it stores exactly what the per-sample path stores (the files' bytes,
the same shapes and metadata), and every batch that path would decide otherwise (re-encoding,
refusing, skipping with ``ignore_errors``) goes to it, with the same result or message."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import simplejpeg
from PIL import Image

import deeplake_nb as dl
from deeplake_nb.errors import CorruptSampleError, SampleError, ShapeMismatchError
from deeplake_nb.format import file_batch
from deeplake_nb.format.sample import Sample
from deeplake_nb.storage import links
from batch_spy import count_batches
from images import png_bytes, smooth_image


@pytest.fixture
def used(monkeypatch):
    """How many batches the one-loop path encoded."""
    return count_batches(monkeypatch, file_batch)


def per_sample(monkeypatch):
    monkeypatch.setattr(file_batch, "MIN_BATCH", 10**9)


def jpeg(path, h: int, w: int, channels: int = 3, seed: int = 0) -> str:
    pixels = smooth_image(h, w, channels, seed)
    data = simplejpeg.encode_jpeg(pixels, colorspace="GRAY" if channels == 1 else "RGB")
    path.write_bytes(data)
    return str(path)


def files(folder, n: int, channels: int = 3) -> list[str]:
    folder.mkdir(exist_ok=True)
    return [jpeg(folder / f"{i}.jpg", 8 + i, 12 + 2 * i, channels, seed=i) for i in range(n)]


def stored(ds: dl.Dataset, name: str) -> tuple:
    """Every sample's stored bytes and shape, and the tensor's meta."""
    t = ds[name]
    meta = t.meta
    return ([sample.tobytes() for sample in t], np.asarray(t.shapes()).tolist(),
            (meta.dtype, meta.ndim, meta.layout, meta.sample_compression))


def build(path, batches: list, **kwargs) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    ds.create_tensor("images", **{"htype": "image", "sample_compression": "jpeg", **kwargs})
    with ds:
        for batch in batches:
            ds.images.extend([dl.read(p) for p in batch])
    return dl.load(path, read_only=True)


@pytest.mark.parametrize("channels,kwargs", [(3, {}), (1, {}), (3, {"htype": "image.rgb"}),
                                             (1, {"htype": "image.gray"})])
def test_stores_what_the_per_sample_path_stores(tmp_path, monkeypatch, used, channels, kwargs):
    paths = files(tmp_path / "src", 9, channels)
    batches = [paths[:5], paths[5:]]
    fast = build(tmp_path / "fast", batches, **kwargs)
    assert used() == 2
    per_sample(monkeypatch)
    slow = build(tmp_path / "slow", batches, **kwargs)
    assert used() == 2  # no more
    assert stored(fast, "images") == stored(slow, "images")
    for i, path in enumerate(paths):  # byte-identical
        with open(path, "rb") as f:
            assert fast.images[i].tobytes() == f.read()
    np.testing.assert_array_equal(fast.images[3].numpy(), slow.images[3].numpy())


def test_dataset_extend_of_files_labels_and_boxes(tmp_path, used):
    paths = files(tmp_path / "src", 6)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("boxes", htype="bbox")
    with ds:
        ds.extend({"images": [dl.read(p) for p in paths], "labels": [i % 2 for i in range(6)],
                   "boxes": [np.array([[i, i, 4, 4]], np.float32) for i in range(6)]})
    assert used() == 1
    assert ds.images.shape == (6, None, None, 3)
    assert ds.images[5].numpy().shape == (13, 22, 3)


def test_a_two_dimensional_tensor_keeps_grayscale_files_two_dimensional(tmp_path, monkeypatch, used):
    gray = files(tmp_path / "src", 4, channels=1)
    results = []
    for k in range(2):
        if k:
            per_sample(monkeypatch)
        ds = dl.empty(tmp_path / f"d{k}")
        ds.create_tensor("images", htype="generic", dtype="uint8", sample_compression="jpeg")
        ds.images.append(np.zeros((4, 4), np.uint8))  # the first write makes the tensor 2-D
        ds.images.extend([dl.read(p) for p in gray])
        results.append(stored(ds, "images"))
    assert used() == 1
    assert results[0] == results[1]
    assert results[0][1][1:] == [[8 + i, 12 + 2 * i] for i in range(4)]


def test_files_of_another_format_are_re_encoded_by_the_per_sample_path(tmp_path, used):
    paths = files(tmp_path / "src", 3)
    png = tmp_path / "src" / "x.png"
    png.write_bytes(png_bytes(smooth_image(10, 10)))
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.extend([dl.read(p) for p in [*paths, str(png)]])
    assert used() == 0
    assert ds.images[3].tobytes()[:3] == b"\xff\xd8\xff"  # stored as a JPEG
    assert ds.images[3].numpy().shape == (10, 10, 3)


def test_arrays_and_files_mixed_take_the_per_sample_path(tmp_path, used):
    paths = files(tmp_path / "src", 3)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.extend([dl.read(paths[0]), smooth_image(6, 6), dl.read(paths[1]), None])
    assert used() == 0
    assert [ds.images[i].numpy().shape for i in range(4)] == [(8, 12, 3), (6, 6, 3), (9, 14, 3), (0, 0, 0)]


def errors(tmp_path, monkeypatch, values_of, **kwargs) -> tuple[str, str]:
    """(the one-loop path's error, the per-sample path's error) for extending with ``values_of()``."""
    messages = []
    for k in range(2):
        if k:
            per_sample(monkeypatch)
        ds = dl.empty(tmp_path / f"e{k}", overwrite=True)
        ds.create_tensor("images", **{"htype": "image", "sample_compression": "jpeg", **kwargs})
        with pytest.raises(SampleError) as info:
            ds.images.extend(values_of())
        assert len(ds.images) == 0  # nothing of the batch was written
        messages.append(f"{type(info.value).__name__}: {info.value}")
    return messages[0], messages[1]


def test_a_truncated_file_is_refused_naming_it(tmp_path, monkeypatch, used):
    paths = files(tmp_path / "src", 4)
    with open(paths[2], "rb") as f:
        data = f.read()
    with open(paths[2], "wb") as f:
        f.write(data[: len(data) // 2])
    fast, slow = errors(tmp_path, monkeypatch, lambda: [dl.read(p) for p in paths])
    assert fast == slow
    assert fast.startswith(CorruptSampleError.__name__) and "sample 2" in fast and paths[2] in fast


def test_a_missing_file_is_refused_naming_it(tmp_path, monkeypatch):
    paths = [*files(tmp_path / "src", 2), str(tmp_path / "src" / "gone.jpg")]
    fast, slow = errors(tmp_path, monkeypatch, lambda: [dl.read(p) for p in paths])
    assert fast == slow and "sample 2" in fast and "gone.jpg" in fast


def test_a_channel_count_the_htype_refuses_is_refused_naming_the_file(tmp_path, monkeypatch):
    paths = [*files(tmp_path / "rgb", 2), *files(tmp_path / "gray", 1, channels=1)]
    fast, slow = errors(tmp_path, monkeypatch, lambda: [dl.read(p) for p in paths], htype="image.rgb")
    assert fast == slow
    assert fast.startswith(ShapeMismatchError.__name__) and "sample 2" in fast and "convert('RGB')" in fast


def test_ignore_errors_skips_the_bad_file_only(tmp_path):
    paths = files(tmp_path / "src", 4)
    with open(paths[1], "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.extend([dl.read(p) for p in paths], ignore_errors=True)
    assert len(ds.images) == 3
    assert [ds.images[i].numpy().shape for i in range(3)] == [(8, 12, 3), (10, 16, 3), (11, 18, 3)]


def test_files_given_as_bytes_take_the_one_loop_path(tmp_path, used):
    paths = files(tmp_path / "src", 3)
    samples = []
    for p in paths:
        with open(p, "rb") as f:
            samples.append(Sample(buffer=f.read()))
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.extend(samples)
    assert used() == 1
    assert ds.images[2].tobytes() == samples[2].buffer


def test_png_files_go_as_they_are_where_their_depth_is_the_tensors_dtype(tmp_path, used):
    folder = tmp_path / "src"
    folder.mkdir()
    eight = []
    for i in range(3):
        eight.append(folder / f"{i}.png")
        eight[-1].write_bytes(png_bytes(smooth_image(5, 7, seed=i)))
    sixteen = folder / "deep.png"
    out = io.BytesIO()
    Image.fromarray(np.arange(35, dtype=np.uint16).reshape(5, 7) * 1000).save(out, format="PNG")
    sixteen.write_bytes(out.getvalue())
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.extend([dl.read(p) for p in eight[:2]])  # no dtype yet: the first file's decides, per sample
    assert used() == 0 and ds.images.meta.dtype == "uint8"
    ds.images.extend([dl.read(p) for p in eight])
    assert used() == 1
    assert ds.images[3].tobytes() == eight[1].read_bytes()
    gray = folder / "gray.png"
    gray.write_bytes(png_bytes(smooth_image(5, 7, 1)))
    ds.create_tensor("deep", htype="image", sample_compression="png", dtype="uint16")
    ds.deep.extend([dl.read(sixteen), dl.read(sixteen)])  # 16-bit files into uint16: stored as they are
    assert used() == 2
    assert ds.deep[1].tobytes() == sixteen.read_bytes()
    ds.deep.extend([dl.read(sixteen), dl.read(gray)])  # 8-bit pixels into uint16: decoded, re-encoded
    assert used() == 2
    assert ds.deep[3].numpy().dtype == np.uint16 and ds.deep[3].tobytes() != gray.read_bytes()
    np.testing.assert_array_equal(ds.deep[3].numpy(), smooth_image(5, 7, 1))


def test_full_heap_chunks_are_stored_with_their_checksum(tmp_path, monkeypatch):
    """Chunks that a batch fills whole are written from their pieces with zarr's crc32c as a last
    piece (``arrays._stored_parts``): they read back (each read checks the checksum), and equal
    what the general encoder stores."""
    from deeplake_nb.format import arrays

    checksummed = []
    real = arrays._stored_parts
    monkeypatch.setattr(arrays, "_stored_parts",
                        lambda parts, checksum: checksummed.append(checksum) or real(parts, checksum))
    paths = files(tmp_path / "src", 24)
    ds = dl.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=2048)
    ds.images.extend([dl.read(p) for p in paths[:5]])
    ds.images.extend([dl.read(p) for p in paths[5:]])  # starts inside the stored tail chunk
    assert checksummed and all(checksummed)
    back = dl.load(tmp_path / "ds", read_only=True)
    for sample, path in zip(back.images, paths, strict=True):
        with open(path, "rb") as f:
            assert sample.tobytes() == f.read()
    parts = [b"abc", memoryview(b"xdefx")[1:4], b"", b"ghij"]
    assert b"".join(arrays._stored_parts(parts, True)) == arrays._with_checksum(b"abcdefghij")
    assert b"".join(arrays._stored_parts(parts, False)) == b"abcdefghij"


def test_files_are_read_on_the_calling_thread(tmp_path, monkeypatch, used):
    """The one-loop path reads every file on the thread that extends (no reader thread beside it:
    that made a 5,000-JPEG extend slower), and a refused file's message is the per-sample path's."""
    paths = files(tmp_path / "src", 12)
    readers: list[int] = []
    real = links._read_local
    monkeypatch.setattr(links, "_read_local", lambda path: readers.append(threading.get_ident()) or real(path))
    ds = build(tmp_path / "ds", [paths[:7], paths[7:]])
    assert used() == 2 and readers == [threading.get_ident()] * 12
    assert stored(ds, "images")[0] == [open(p, "rb").read() for p in paths]
    gone = [*paths, str(tmp_path / "src" / "gone.jpg"), *paths]
    fast, slow = errors(tmp_path, monkeypatch, lambda: [dl.read(p) for p in gone])
    assert fast == slow and "sample 12" in fast and "gone.jpg" in fast
