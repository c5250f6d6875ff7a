"""Every error that reaches a user is one of ours (and also the built-in a Python user would catch),
values are never stored other than they were given (16-bit PNGs, float32 overflow), and hostile or
unusual files (decompression bombs, camera trailers, damaged chunks, a full disk) are handled at
the right moment with a message that says what to do."""

from __future__ import annotations

import errno
import io
import os
import pathlib
import struct
import warnings
import zlib

import numpy as np
import pytest
import simplejpeg
from PIL import Image
from zarr.storage import LocalStore, MemoryStore

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format import codecs, compression
from deeplake_nb.format.meta import TensorMeta
from deeplake_nb.format.sample import Sample
from deeplake_nb.format.sample_codec import SampleCodec
from deeplake_nb.storage import ByteStore


# -- helpers --------------------------------------------------------------------------------------
def save_png(path, img: Image.Image) -> bytes:
    img.save(path, format="PNG")
    return path.read_bytes()


def raw_png(pixels: np.ndarray, color_type: int) -> bytes:
    """A PNG written by hand (Pillow cannot write 16-bit colour): big-endian samples, filter 0."""
    height, width = pixels.shape[:2]
    depth = pixels.dtype.itemsize * 8
    rows = pixels.astype(pixels.dtype.newbyteorder(">")).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def gray16(h: int = 6, w: int = 5) -> np.ndarray:
    return (np.arange(h * w, dtype=np.uint16).reshape(h, w) * 2000 + 7).astype(np.uint16)


def state(tensor) -> tuple[int, list[int]]:
    return len(tensor), tensor.sample_ids.tolist()


# -- 16-bit and non-RGB PNGs (stored as is only when they decode to what the tensor holds) ---------
@pytest.mark.parametrize("compression_name", ["png", "jpeg", None])
def test_16_bit_grayscale_png_is_refused_by_a_uint8_image_tensor(ds, tmp_path, compression_name):
    path = tmp_path / "depth.png"
    save_png(path, Image.fromarray(gray16()))
    assert Image.open(path).mode == "I;16"
    ds.create_tensor("images", htype="image", sample_compression=compression_name)
    ds.images.append(np.zeros((2, 2, 1), np.uint8))
    before = state(ds.images)
    with pytest.raises(errors.DtypeMismatchError, match="16 bits per channel") as info:
        ds.images.append(dl.read(path))
    message = str(info.value)
    assert "depth.png" in message and "16-bit grayscale PNG" in message and "uint8" in message
    assert "257" in message  # says how to scale to 8 bits
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    assert state(ds.images) == before
    assert dl.load(ds.path).images[0].numpy().dtype == np.uint8


def test_16_bit_colour_png_is_refused_everywhere(ds, tmp_path):
    pixels = (np.arange(4 * 3 * 3, dtype=np.uint16).reshape(4, 3, 3) * 1500)
    path = tmp_path / "rgb48.png"
    path.write_bytes(raw_png(pixels, color_type=2))
    assert Image.open(path).mode == "RGB"  # Pillow would silently keep only the high bytes
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("raw", dtype="uint16")
    for tensor in (ds.images, ds.raw):
        with pytest.raises(errors.DtypeMismatchError, match="16-bit RGB PNG"):
            tensor.append(dl.read(path))
        assert len(tensor) == 0


def test_16_bit_grayscale_png_into_a_uint16_tensor_keeps_every_bit(ds, tmp_path):
    pixels = gray16()
    path = tmp_path / "depth.png"
    save_png(path, Image.fromarray(pixels))
    ds.create_tensor("depth", dtype="uint16")
    ds.depth.append(dl.read(path))
    out = dl.load(ds.path).depth[0].numpy()
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, pixels[..., None])


PNG_MODES = {
    "L": (lambda: Image.fromarray(np.arange(30, dtype=np.uint8).reshape(6, 5) * 8), "L", 1),
    "1": (lambda: Image.fromarray(np.arange(30).reshape(6, 5) % 3 == 0), "L", 1),
    "P": (lambda: Image.fromarray(np.arange(90, dtype=np.uint8).reshape(6, 5, 3) * 2).convert("P"), "RGB", 3),
    "LA": (lambda: Image.fromarray(np.dstack([np.full((6, 5), 90, np.uint8),
                                              np.arange(30, dtype=np.uint8).reshape(6, 5)]), "LA"), "RGBA", 4),
    "RGBA": (lambda: Image.fromarray(np.arange(120, dtype=np.uint8).reshape(6, 5, 4)), "RGBA", 4),
}


@pytest.mark.parametrize("mode", list(PNG_MODES))
def test_8_bit_pngs_of_any_mode_are_stored_as_is_and_read_back_as_uint8(ds, tmp_path, mode):
    make, as_mode, channels = PNG_MODES[mode]
    img = make()
    assert img.mode == mode
    path = tmp_path / f"{mode}.png"
    data = save_png(path, img)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(dl.read(path))
    reloaded = dl.load(ds.path).images
    assert reloaded[0].tobytes() == data
    out = reloaded[0].numpy()
    assert out.dtype == np.uint8 and out.shape == (6, 5, channels) == reloaded[0].shape
    np.testing.assert_array_equal(out.reshape(6, 5, channels),
                                  np.asarray(Image.open(path).convert(as_mode)).reshape(6, 5, channels))


@pytest.mark.parametrize("htype, mode, convert", [
    ("image.rgb", "L", "'RGB'"), ("image.rgb", "LA", "'RGB'"), ("image.rgb", "RGBA", "'RGB'"),
    ("image.gray", "P", "'L'"), ("image.gray", "RGBA", "'L'"), ("image.gray", "LA", "'L'"),
])
def test_png_whose_channels_do_not_fit_the_htype_is_refused_with_the_fix(ds, tmp_path, htype, mode, convert):
    path = tmp_path / f"{mode}.png"
    save_png(path, PNG_MODES[mode][0]())
    ds.create_tensor("images", htype=htype, sample_compression="png")
    with pytest.raises(errors.ShapeMismatchError) as info:
        ds.images.append(dl.read(path))
    message = str(info.value)
    assert f"{mode}.png" in message and "PNG" in message and f"convert({convert})" in message
    assert len(ds.images) == 0


def test_palette_png_into_rgb_tensor_reads_back_as_rgb(ds, tmp_path):
    path = tmp_path / "p.png"
    save_png(path, PNG_MODES["P"][0]())
    ds.create_tensor("images", htype="image.rgb", sample_compression="png")
    ds.images.append(dl.read(path))
    out = ds.images[0].numpy()
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    np.testing.assert_array_equal(out, np.asarray(Image.open(path).convert("RGB")))


# -- safe downcasting -----------------------------------------------------------------------------
def test_safe_downcasting_into_uint8_and_float32(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning may leak
        ints = ds.create_tensor("int", dtype="uint8")
        ints.append(0)
        ints.append(1)
        ints.extend([2, 3, 4])
        ints.extend([5, 6, np.uint8(7)])
        ints.append(np.array([1]))
        for bad in (-8, 300, 1.5, 1.0, np.array([1.0]), [1, 2.5], np.float32(4)):
            with pytest.raises(errors.DtypeMismatchError):
                ints.append(bad)
        assert len(ints) == 9
        assert ints.numpy().ravel().tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 1]

        floats = ds.create_tensor("float", dtype="float32")
        floats.append(0)
        floats.append(1)
        floats.extend([2, 3.0, 4.0])
        floats.extend([5.0, 6.0, np.float32(7.0)])
        floats.append(np.array([1]))
        floats.append(float(np.finfo(np.float32).max))  # the largest float32 fits exactly
        for special in (np.inf, -np.inf, np.nan):
            floats.append(special)  # given as such, they stay
        for bad in (1e300, float(np.finfo(np.float32).max) * 2, -1e39, np.array([1.0, 1e300]), [2.0, 1e40]):
            with pytest.raises(errors.DtypeMismatchError, match="overflow dtype float32"):
                floats.append(bad)
        assert len(floats) == 13
        values = floats.numpy().ravel()
        assert values.dtype == np.float32
        assert values[9] == np.finfo(np.float32).max
        assert np.isposinf(values[10]) and np.isneginf(values[11]) and np.isnan(values[12])


def test_overflow_message_names_the_value_and_the_fix(ds):
    ds.create_tensor("f", dtype="float32")
    ds.create_tensor("h", dtype="float16")
    with pytest.raises(errors.DtypeMismatchError, match=r"1e\+300.*dtype='float64'"):
        ds.f.append(1e300)
    with pytest.raises(errors.DtypeMismatchError, match="70000"):
        ds.h.append(70000)  # an int can overflow a small float too
    with pytest.raises(errors.DtypeMismatchError, match=r"0\.\.255.*got 300"):
        ds.create_tensor("u", dtype="uint8").append([1, 300])
    assert (len(ds.f), len(ds.h), len(ds.u)) == (0, 0, 0)


# -- the built-in each error class also is ----------------------------------------------------------
@pytest.mark.parametrize("cls, builtin", [
    (errors.DatasetNotFoundError, FileNotFoundError),
    (errors.DatasetExistsError, FileExistsError),
    (errors.ReadOnlyError, PermissionError),
    (errors.DetachedHeadError, PermissionError),
    (errors.StorageError, OSError),
    (errors.InvalidNameError, ValueError),
    (errors.TensorExistsError, ValueError),
    (errors.TensorNotFoundError, KeyError),
    (errors.UnknownHtypeError, ValueError),
    (errors.UnsupportedCompressionError, ValueError),
    (errors.SampleError, ValueError),
    (errors.DtypeMismatchError, TypeError),
    (errors.DtypeMismatchError, ValueError),
    (errors.ShapeMismatchError, ValueError),
    (errors.ClassLabelError, ValueError),
    (errors.CorruptSampleError, ValueError),
    (errors.SampleTooLargeError, ValueError),
    (errors.LinkError, OSError),
    (errors.DynamicShapeError, ValueError),
    (errors.SampleIndexError, IndexError),
    (errors.BranchNotFoundError, KeyError),
    (errors.CommitNotFoundError, KeyError),
    (errors.BranchExistsError, ValueError),
    (errors.TagExistsError, ValueError),
    (errors.QueryError, ValueError),
])
def test_error_classes_derive_from_the_builtin_a_user_catches(cls, builtin):
    assert issubclass(cls, errors.DeepLakeNBError) and issubclass(cls, builtin)
    error = cls("Say what to do.")
    assert str(error) == "Say what to do."  # KeyError subclasses too: no repr() quotes


def test_builtin_handlers_catch_what_the_api_raises(ds, tmp_path):
    ds.create_tensor("x", dtype="float32")
    ds.x.append(np.ones(2, np.float32))
    with pytest.raises(FileNotFoundError):
        dl.load(tmp_path / "nothing-here")
    with pytest.raises(KeyError):
        ds["nope"]
    with pytest.raises(KeyError):
        ds.checkout("no-such-branch")
    with pytest.raises(IndexError):
        ds.x[5].numpy()
    with pytest.raises(TypeError):
        ds.x.append("text")
    with pytest.raises(ValueError):
        ds.x.append(np.ones((2, 2), np.float32))
    with pytest.raises(PermissionError):
        dl.load(ds.path, read_only=True).x.append(np.ones(2, np.float32))
    assert len(dl.load(ds.path).x) == 1


# -- raw Python / NumPy / PIL errors that used to escape ---------------------------------------------
def test_json_nested_too_deeply_is_refused(ds):
    deep: list = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    ds.create_tensor("meta", htype="json")
    ds.meta.append({"ok": 1})
    with pytest.raises(errors.SampleError, match="nested too deeply"):
        ds.meta.append({"tree": deep})
    assert ds.meta.data()["value"] == [{"ok": 1}]


def test_lone_surrogates_in_text_are_refused(ds):
    ds.create_tensor("caption", htype="text")
    with pytest.raises(errors.DtypeMismatchError, match="surrogate") as info:
        ds.caption.extend(["fine", "bad \ud800 text"])
    assert "sample 1 of the batch" in str(info.value)
    assert len(ds.caption) == 0
    ds.caption.append("fine \u00e9\U0001F600")
    assert dl.load(ds.path).caption[0].data()["value"] == "fine \u00e9\U0001F600"


def test_image_without_pixels_never_raises_a_raw_error(ds):
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    try:
        ds.images.append(np.zeros((0, 0, 3), np.uint8))
    except errors.SampleError:
        assert len(ds.images) == 0
    else:  # stored as an empty sample
        assert ds.images[0].numpy().size == 0
    with pytest.raises(errors.ShapeMismatchError, match="no pixels"):
        compression.encode(np.zeros((0, 4, 3), np.uint8), "png")


@pytest.mark.parametrize("dtype", ["notadtype", "str", object, "datetime64[s]", "complex64"])
def test_unknown_or_unstorable_dtype_is_refused_at_create_tensor(ds, dtype):
    with pytest.raises(errors.DtypeMismatchError, match="dtype"):
        ds.create_tensor("x", dtype=dtype)
    assert "x" not in ds.tensors
    ds.create_tensor("y", dtype=float)
    assert ds.y.dtype == np.float64
    ds.create_tensor("j", htype="json", dtype="Any")


def test_append_of_a_list_instead_of_a_dict(ds):
    ds.create_tensor("x")
    with pytest.raises(errors.SampleError, match="dict"):
        ds.append([1, 2, 3])
    assert len(ds) == 0


def test_read_without_a_path(ds):
    with pytest.raises(errors.SampleError, match="exactly one"):
        dl.read(None)


# -- decompression bombs --------------------------------------------------------------------------
def _jpeg_claiming(height: int, width: int) -> bytes:
    data = bytearray(simplejpeg.encode_jpeg(np.full((16, 16, 3), 128, np.uint8), quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_jpeg_header_promising_too_many_pixels_is_refused_at_append(ds, tmp_path):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(_jpeg_claiming(65000, 65000))
    assert path.stat().st_size < 4096
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("links", htype="link[image]")
    with pytest.raises(errors.SampleTooLargeError, match="MAX_IMAGE_PIXELS") as info:
        ds.images.append(dl.read(path))
    assert "bomb.jpg" in str(info.value) and "65000 x 65000" in str(info.value)
    with pytest.raises(errors.SampleTooLargeError):
        ds.links.append(dl.link(str(path)))
    with pytest.raises(errors.SampleTooLargeError):
        compression.decode(path.read_bytes(), "jpeg")  # nor would a read allocate for it
    assert len(ds.images) == len(ds.links) == 0


def test_png_and_webp_bombs_are_refused_without_pillow_errors(ds, tmp_path, monkeypatch):
    png = bytearray(save_png(tmp_path / "small.png", Image.new("RGB", (8, 8))))
    png[16:24] = struct.pack(">II", 100_000, 100_000)
    webp_out = io.BytesIO()
    Image.new("RGBA", (8, 8)).save(webp_out, format="WEBP")
    webp = bytearray(webp_out.getvalue())
    assert webp[12:16] == b"VP8X"
    webp[24:30] = (60_000).to_bytes(3, "little") * 2
    ds.create_tensor("png", htype="image", sample_compression="png")
    ds.create_tensor("webp", htype="image", sample_compression="webp")
    with pytest.raises(errors.SampleTooLargeError, match="100000 x 100000"):
        ds.png.append(Sample(buffer=bytes(png)))
    with pytest.raises(errors.SampleTooLargeError):
        ds.webp.append(Sample(buffer=bytes(webp)))
    monkeypatch.setattr(compression, "MAX_IMAGE_PIXELS", None)  # ours off: Pillow's WebP reader refuses
    with pytest.raises(errors.SampleTooLargeError, match="PIL.Image.MAX_IMAGE_PIXELS"):
        ds.webp.append(Sample(buffer=bytes(webp)))
    assert len(ds.png) == len(ds.webp) == 0


def test_pixel_limit_is_configurable(ds, jpeg_file, monkeypatch):
    path, data, pixels = jpeg_file("a.jpg", 40, 30)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    monkeypatch.setattr(compression, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(errors.SampleTooLargeError, match="1,200 pixels"):
        ds.images.append(dl.read(path))
    monkeypatch.setattr(compression, "MAX_IMAGE_PIXELS", 1200)
    ds.images.append(dl.read(path))
    np.testing.assert_array_equal(ds.images[0].numpy(), pixels)


# -- JPEG structure: trailers are fine, truncation is not ------------------------------------------
def test_jpeg_with_bytes_after_its_end_marker_is_accepted(ds, jpeg_file, tmp_path):
    _, data, pixels = jpeg_file("a.jpg", 24, 32)
    path = tmp_path / "camera.jpg"
    path.write_bytes(data + b"\x00\x00MAKERNOTE trailer \xff\xd8 not an image" * 3)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(dl.read(path))
    assert ds.images[0].tobytes() == path.read_bytes()
    np.testing.assert_array_equal(dl.load(ds.path).images[0].numpy(), pixels)


def test_truncated_jpeg_with_an_embedded_thumbnail_is_still_refused(ds, jpeg_file, tmp_path):
    _, data, _ = jpeg_file("a.jpg", 64, 64)
    thumb = simplejpeg.encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    body = b"Exif\x00\x00" + thumb  # the thumbnail brings its own end-of-image marker
    with_thumb = data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]
    assert simplejpeg.decode_jpeg(with_thumb).shape == (64, 64, 3)
    path = tmp_path / "cut.jpg"
    path.write_bytes(with_thumb[: len(with_thumb) - len(data) // 3])
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    with pytest.raises(errors.CorruptSampleError, match="truncated"):
        ds.images.append(dl.read(path))
    assert len(ds.images) == 0


# -- damaged stored data ----------------------------------------------------------------------------
@pytest.mark.parametrize("htype, payload", [
    ("json", b'{"a": [1, 2'),
    ("text", b"\xff\xfe\xfa"),
    ("list", b"[1, 2,"),
])
def test_damaged_stored_text_and_json_read_as_corrupt_sample_error(htype, payload):
    codec = SampleCodec(TensorMeta(htype=htype, base_htype=htype, kind="json" if htype != "text" else "text",
                                   dtype="str" if htype == "text" else "Any"))
    with pytest.raises(errors.CorruptSampleError, match="damaged"):
        codec.decode((payload, (1,)))


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_damaged_compressed_chunk_reads_as_corrupt_sample_error(ds_path, codec):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="float32", chunk_compression=codec)
    ds.x.extend(np.arange(40, dtype=np.float32).reshape(10, 4))
    name = ds.zarr_store().object_of("x/data/c/0/0")
    assert name is not None
    pathlib.Path(ds_path, "objects", name).write_bytes(b"\x10\x00\x00\x00garbage bytes")
    with pytest.raises(errors.CorruptSampleError, match="damaged"):
        dl.load(ds_path).x.numpy()
    with pytest.raises(errors.CorruptSampleError):
        codecs.decompress(b"\x10\x00\x00\x00garbage", codec)


# -- storage failures -------------------------------------------------------------------------------
def test_disk_full_is_a_storage_error_and_the_stored_dataset_is_unchanged(ds_path, monkeypatch):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="float32")
    ds.x.append(np.ones(3, np.float32))
    full = {"on": False}
    plain_set = LocalStore.set_sync

    def set_sync(self, key, value, *args, **kwargs):
        if full["on"] and key.startswith("objects/"):
            raise OSError(errno.ENOSPC, "No space left on device", f"{self.root}/{key}")
        return plain_set(self, key, value, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "set_sync", set_sync)
    ds = dl.load(ds_path)
    full["on"] = True
    with pytest.raises(errors.StorageError, match="disk is full") as info:
        ds.x.append(np.zeros(3, np.float32))
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert "write" in str(info.value) and repr(ds_path) in str(info.value)
    full["on"] = False
    assert len(dl.load(ds_path).x) == 1


def test_disk_full_while_publishing_a_branch_is_a_storage_error(ds_path, monkeypatch):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="float32")
    ds.x.append(np.ones(3, np.float32))

    def link(source, target, *args, **kwargs):  # a put-if-absent's exclusive create
        raise OSError(errno.ENOSPC, "No space left on device", target)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(errors.StorageError, match="refs/branches/main") as info:
        ds.x.append(np.zeros(3, np.float32))
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert len(dl.load(ds_path).x) == 1


@pytest.mark.parametrize("folder", ["manifests", "objects"])  # a publish's new delta; an update's patch pack
def test_disk_full_writing_a_new_delta_or_pack_is_a_storage_error(ds_path, monkeypatch, folder):
    ds = dl.empty(ds_path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(10))
    ds.commit("ten")
    plain_open = os.open

    def open_(path, flags, *args, **kwargs):  # the exclusive create of a new object in place
        if f"/{folder}/" in str(path) and flags & os.O_EXCL:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return plain_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    with pytest.raises(errors.StorageError, match="disk is full") as info:
        ds.x[3] = 30
    assert info.value.errno == errno.ENOSPC and folder in str(info.value)
    monkeypatch.undo()
    assert dl.load(ds_path).x.numpy().ravel().tolist() == list(range(10))


def test_object_store_errors_become_storage_errors():
    from obstore.exceptions import GenericError

    class Unreachable(MemoryStore):
        def get_sync(self, *args, **kwargs):
            raise GenericError("connection reset by peer\nDebug source: ...")

    store = ByteStore(Unreachable())
    with pytest.raises(errors.StorageError, match=r"Cannot read 'a/b'.*connection reset by peer") as info:
        store.get("a/b")
    assert "Debug source" not in str(info.value)


def test_our_own_errors_pass_through_the_storage_layer_unchanged(mem_url):
    ds = dl.empty(mem_url)
    ds.create_tensor("x")
    ds.x.append([1])
    ds.commit("one")
    ds.checkout(ds.commit_id)
    ds.read_only = True
    with pytest.raises(errors.ReadOnlyError):
        ds.x.append([2])


def test_dataset_path_under_a_file_is_a_storage_error(tmp_path):
    (tmp_path / "plain.txt").write_text("not a directory")
    with pytest.raises(errors.StorageError, match="Cannot create the dataset directory"):
        dl.empty(tmp_path / "plain.txt" / "ds")
