"""Sample compression (jpeg/png/webp/None) and chunk compression (zstd/lz4): what is stored, what
reads back, and that shapes never need a decoder."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format import compression


# -- JPEG -----------------------------------------------------------------------------------------
def test_jpeg_file_is_stored_byte_identical(ds, jpeg_file):
    path, data, pixels = jpeg_file("a.jpg", 30, 40)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(dl.read(path))
    ds.images.append(dl.read(path))
    assert ds.images[0].tobytes() == data
    assert ds.images[1].tobytes() == data
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)
    assert dl.load(ds.path).images[1].tobytes() == data


def _complete_by_indexing(data: bytes) -> bool | str:
    """The end-marker check read as the JPEG structure states it, one byte at a time (what
    ``compression._jpeg_is_complete`` computes faster): "corrupt" where a segment is broken."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return "corrupt"
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
        elif marker == 0xDA:
            return data.rfind(b"\xff\xd9", pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")) >= 0
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def test_jpeg_end_marker_check_at_every_cut(jpeg_file):
    """Fill bytes, markers without a length, a comment and an EXIF thumbnail (its own end marker
    must not count) before the scan, a trailer after it: cut anywhere, the check says what the
    structure says, and the whole file (with or without the trailer) is complete."""
    import struct

    import simplejpeg

    _, data, _ = jpeg_file("a.jpg", 40, 48)
    thumb = simplejpeg.encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    exif = b"Exif\x00\x00" + thumb
    head = (b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + b"\xff\xff\xff\x01\xff\xd3"
            + b"\xff\xfe" + struct.pack(">H", 7) + b"\xff\xd9\xffDA")  # a comment holding marker bytes
    whole = data[:2] + head + data[2:]
    assert simplejpeg.decode_jpeg(whole).shape == (40, 48, 3)
    trailed = whole + b"\x00MAKERNOTE \xff\xd8\xff\xda\x00\x04"
    outcomes = set()
    for blob in (whole, trailed):
        for cut in range(len(blob) + 1):
            piece = blob[:cut]
            expected = _complete_by_indexing(piece)
            try:
                got: bool | str = compression._jpeg_is_complete(piece)
            except errors.CorruptSampleError:
                got = "corrupt"
            assert got == expected, cut
            outcomes.add(got)
    assert outcomes == {True, False}
    assert compression._jpeg_is_complete(whole) and compression._jpeg_is_complete(trailed)
    assert not compression._jpeg_is_complete(whole[:len(data[:2] + head) + 40])  # cut in the scan
    with pytest.raises(errors.CorruptSampleError, match="marker segment is broken"):
        compression._jpeg_is_complete(data[:2] + b"\x00\x00" + data[2:])
    assert compression.header(whole, "jpeg").shape == (40, 48, 3)


def test_gray_jpeg_is_stored_byte_identical_as_hw1(ds, jpeg_file):
    path, data, pixels = jpeg_file("g.jpg", 16, 12, gray=True)
    ds.create_tensor("images", htype="image.gray", sample_compression="jpg")  # alias
    ds.images.append(dl.read(path))
    assert ds.images.sample_compression == "jpeg"
    assert ds.images[0].tobytes() == data
    assert ds.images[0].shape == (16, 12, 1)
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)


def test_gray_jpeg_into_rgb_tensor_is_refused(ds, jpeg_file):
    path, _, _ = jpeg_file("g.jpg", 16, 12, gray=True)
    ds.create_tensor("images", htype="image.rgb", sample_compression="jpeg")
    with pytest.raises(errors.ShapeMismatchError, match="C = 3"):
        ds.images.append(dl.read(path))
    assert len(ds.images) == 0


def test_array_into_jpeg_tensor_is_encoded(ds, image):
    arr = image(32, 24)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(arr)
    stored = ds.images[0].tobytes()
    assert compression.sniff(stored) == "jpeg"
    out = ds.images[0].numpy()
    assert out.shape == arr.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - arr).mean() < 6  # lossy, but close


def test_png_file_into_jpeg_tensor_is_reencoded(ds, png_file):
    path, data, pixels = png_file("p.png", 20, 28)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(dl.read(path))
    stored = ds.images[0].tobytes()
    assert compression.sniff(stored) == "jpeg" and stored != data
    assert ds.images[0].shape == (20, 28, 3)
    assert np.abs(ds.images[0].numpy().astype(int) - pixels).mean() < 6


def test_four_channels_cannot_be_jpeg(ds, image):
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    with pytest.raises(errors.UnsupportedCompressionError, match="png"):
        ds.images.append(image(8, 8, 4))
    assert len(ds.images) == 0


# -- PNG and WebP ---------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trips_exactly(ds, image, channels):
    arrays = [image(10 + i, 14, channels, seed=i) for i in range(3)]
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.extend(arrays)
    reloaded = dl.load(ds.path)
    for i, arr in enumerate(arrays):
        assert compression.sniff(reloaded.images[i].tobytes()) == "png"
        out = reloaded.images[i].numpy()
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, arr)


def test_png_file_into_png_tensor_is_byte_identical(ds, png_file):
    path, data, pixels = png_file()
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(dl.read(path))
    assert ds.images[0].tobytes() == data
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)


def test_jpeg_file_into_png_tensor_keeps_decoded_pixels(ds, jpeg_file):
    path, _, pixels = jpeg_file()
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(dl.read(path))
    assert compression.sniff(ds.images[0].tobytes()) == "png"
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)


def test_webp(ds, image):
    arr = image(16, 20)
    ds.create_tensor("images", htype="image", sample_compression="webp")
    ds.images.append(arr)
    assert compression.sniff(ds.images[0].tobytes()) == "webp"
    out = ds.images[0].numpy()
    assert out.shape == (16, 20, 3)
    assert np.abs(out.astype(int) - arr).mean() < 8


def test_no_sample_compression_stores_raw_pixels(ds, image):
    arr = image(6, 7)
    ds.create_tensor("images", htype="image", sample_compression=None)
    ds.images.append(arr)
    assert ds.images[0].tobytes() == arr.tobytes()
    np.testing.assert_array_equal(ds.images[0].numpy(), arr)


def test_jpeg_file_into_uncompressed_tensor_is_decoded(ds, jpeg_file):
    path, _, pixels = jpeg_file()
    ds.create_tensor("images", htype="image")
    ds.images.append(dl.read(path))
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)


# -- chunk compression ----------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_chunk_compression_round_trips_dense_and_ragged(ds_path, image, codec):
    ds = dl.empty(ds_path)
    ds.create_tensor("images", htype="image", chunk_compression=codec)
    ds.create_tensor("emb", htype="embedding", chunk_compression=codec)
    ds.create_tensor("text", htype="text", chunk_compression=codec)
    arrays = [image(8 + i % 2, 9, seed=i) for i in range(6)]
    vectors = np.random.default_rng(0).random((6, 32)).astype(np.float32)
    captions = [f"caption {i} " * i for i in range(6)]
    ds.extend({"images": arrays, "emb": vectors, "text": captions})
    reloaded = dl.load(ds_path)
    assert reloaded.images.chunk_compression == codec
    for got, want in zip(reloaded.images.numpy(aslist=True), arrays):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reloaded.emb.numpy(), vectors)
    assert reloaded.text.data()["value"] == captions


def test_compression_names_are_checked(ds):
    with pytest.raises(errors.UnsupportedCompressionError, match="jpeg, png, webp"):
        ds.create_tensor("a", htype="image", sample_compression="gif")
    with pytest.raises(errors.UnsupportedCompressionError, match="zstd, lz4"):
        ds.create_tensor("a", chunk_compression="brotli")
    with pytest.raises(errors.UnsupportedCompressionError, match="lz4 or None"):
        ds.create_tensor("a", htype="embedding", sample_compression="jpeg")
    with pytest.raises(errors.UnsupportedCompressionError, match="not both"):
        ds.create_tensor("a", htype="image", sample_compression="png", chunk_compression="lz4")
    assert ds.tensors == {}
    ds.create_tensor("a", htype="image", sample_compression="PNG")
    ds.create_tensor("b", htype="image", sample_compression="none", chunk_compression="LZ4")
    assert (ds.a.sample_compression, ds.b.sample_compression, ds.b.chunk_compression) == ("png", None, "lz4")


# -- dynamic shapes, read without decoding ---------------------------------------------------------
def _forbid_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a decoder was called")
    monkeypatch.setattr(compression, "decode", refuse)
    monkeypatch.setattr(compression.simplejpeg, "decode_jpeg", refuse)
    monkeypatch.setattr(compression.Image, "open", refuse)


def test_shapes_are_known_without_decoding(ds, jpeg_file, image, monkeypatch):
    sizes = [(20, 30), (24, 18), (20, 30), (9, 40)]
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("pngs", htype="image", sample_compression="png")
    for i, (h, w) in enumerate(sizes):
        ds.images.append(dl.read(jpeg_file(f"{i}.jpg", h, w, seed=i)[0]))
        ds.pngs.append(image(h, w, seed=i))
    _forbid_decoding(monkeypatch)
    with pytest.raises(AssertionError, match="decoder"):
        ds.images[0].numpy()  # the patch is effective
    for tensor in (ds.images, ds.pngs, dl.load(ds.path).images):
        assert tensor.shapes().tolist() == [[h, w, 3] for h, w in sizes]
        assert tensor.shape == (4, None, None, 3)
        assert tensor[1].shape == (24, 18, 3)
        assert tensor[[0, 2]].shape == (2, 20, 30, 3)
    ds.summary()


def test_dl_read_of_a_matching_file_needs_no_decoder(ds, jpeg_file, monkeypatch):
    path, data, _ = jpeg_file()
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    _forbid_decoding(monkeypatch)
    ds.images.append(dl.read(path))
    assert ds.images[0].tobytes() == data


def test_images_of_different_sizes_in_one_tensor(ds, image):
    arrays = [image(10, 12, seed=0), image(7, 12, seed=1), image(10, 5, seed=2)]
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.extend(arrays)
    with pytest.raises(errors.DynamicShapeError, match="aslist=True"):
        ds.images.numpy()
    for got, want in zip(ds.images.numpy(aslist=True), arrays):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ds.images[[0]].numpy(), arrays[0][None])


@pytest.mark.parametrize("fmt, data", [
    ("jpeg", b"\xff\xd8\xff" + b"\x00" * 30 + b"\xff\xd9"),
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30),
    ("webp", b"RIFF\x10\x00\x00\x00WEBP" + b"\x00" * 8),
    ("png", b"not an image at all"),
])
def test_decoders_raise_corrupt_sample_error(fmt, data):
    with pytest.raises(errors.CorruptSampleError, match=fmt.upper()):
        compression.decode(data, fmt)
    with pytest.raises(errors.CorruptSampleError):
        compression.header_shape(data, fmt)
