"""Sample compression: encoded media bytes (JPEG, PNG, WebP) <-> numpy arrays.

JPEG goes through simplejpeg (fast, releases the GIL); PNG and WebP through Pillow. Shapes,
bit depths and colour modes come from headers, without decoding. Images are always (H, W, C)
with C in {1, 3, 4}.

Every failure of a decoder or encoder comes out as a ``deeplake_nb.errors`` class:
``CorruptSampleError`` for broken or truncated bytes, ``SampleTooLargeError`` for a header that
promises more than ``MAX_IMAGE_PIXELS`` pixels, ``ShapeMismatchError`` for an image that cannot be
encoded (no pixels), ``UnsupportedCompressionError`` for one the format cannot hold.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image, PngImagePlugin, UnidentifiedImageError, WebPImagePlugin

from ..errors import CorruptSampleError, SampleTooLargeError, ShapeMismatchError, UnsupportedCompressionError

SAMPLE_COMPRESSIONS = ("jpeg", "png", "webp")
_ALIASES = {"jpg": "jpeg", "none": None, "": None}

MAX_IMAGE_PIXELS: int | None = 2 * 89_478_485
"""The most pixels (height x width) an image header may promise. A larger image is refused with
``SampleTooLargeError`` when it is appended (``dl.read``, linked files) and when it would be
decoded, before any pixel buffer is allocated: a few KB of crafted header cannot make a read
allocate gigabytes. The default is the size at which Pillow refuses images
(``2 * PIL.Image.MAX_IMAGE_PIXELS``). Raise it for huge scans, or set it to None for no limit;
Pillow's own limit does not apply to samples (its WebP reader still refuses images over it)."""

_DECODE_ERRORS = (ValueError, RuntimeError, OSError, SyntaxError, EOFError, struct.error, zlib.error)
_PNG_END = b"IEND\xaeB`\x82"
_PNG_COLOR = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
_JPEG_COLOR = {"Gray": "grayscale", "RGB": "RGB", "YCbCr": "RGB", "CMYK": "CMYK", "YCCK": "CMYK"}


@dataclass(frozen=True)
class ImageHeader:
    """What an encoded image's header says, read without decoding."""

    shape: tuple[int, int, int]
    """(H, W, C) of the array ``decode`` returns."""
    bit_depth: int
    """Bits per channel the file stores: 16 for 16-bit PNGs, else 8 (or fewer for PNG)."""
    mode: str
    """Bit depth and colour type in words, e.g. ``"16-bit grayscale"``, ``"8-bit palette"``."""

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the file's pixels: uint16 for 16-bit files, else uint8."""
        return np.dtype(np.uint16 if self.bit_depth > 8 else np.uint8)


def canonical(name: str | None, allowed: tuple[str, ...], kind: str) -> str | None:
    """Normalise a compression name ('JPG' -> 'jpeg', 'none' -> None) or raise with the choices."""
    if name is None:
        return None
    lowered = str(name).lower()
    key = _ALIASES.get(lowered, lowered)
    if key is not None and key not in allowed:
        choices = f"choose one of {', '.join(allowed)} or None" if allowed else "none is allowed; pass None"
        raise UnsupportedCompressionError(f"Unsupported {kind}: {name!r}; {choices}.")
    return key


def sniff(data: bytes) -> str | None:
    """The media format of encoded bytes from their magic number, or None if unknown."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# -- headers ------------------------------------------------------------------------------------
def header(data: bytes, fmt: str) -> ImageHeader:
    """The header of an encoded image; CorruptSampleError for corrupt or truncated data (bytes
    after a complete image, like camera trailers, are fine), SampleTooLargeError past
    ``MAX_IMAGE_PIXELS``."""
    if sniff(data) != fmt:
        raise CorruptSampleError(f"The bytes are not a valid {fmt.upper()} file (bad magic number).")
    if fmt == "jpeg":
        return _jpeg_header(data)
    if fmt == "png":
        return _png_header(data)
    return _webp_header(data)


def header_shape(data: bytes, fmt: str) -> tuple[int, int, int]:
    """(H, W, C) read from the header; see ``header``."""
    return header(data, fmt).shape


def check_pixels(height: int, width: int, fmt: str) -> None:
    """Raise SampleTooLargeError when an image of this size is over ``MAX_IMAGE_PIXELS``."""
    limit = MAX_IMAGE_PIXELS
    if limit is not None and height * width > limit:
        raise SampleTooLargeError(
            f"The {fmt.upper()} header promises {width} x {height} = {height * width:,} pixels, more "
            f"than the limit of {limit:,} (deeplake_nb.format.compression.MAX_IMAGE_PIXELS). The file "
            "may be crafted or damaged; if it is genuine, raise that limit (or set it to None).")


def _jpeg_header(data: bytes) -> ImageHeader:
    if not _jpeg_is_complete(data):  # first: a cut-off file also has a header too short to read
        raise CorruptSampleError("The JPEG is truncated (no end-of-image marker); re-export the file.")
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except (ValueError, RuntimeError) as exc:
        raise CorruptSampleError(f"The JPEG header is corrupt ({exc}); re-export the file.") from exc
    check_pixels(height, width, "jpeg")
    gray = colorspace == "Gray"
    return ImageHeader((height, width, 1 if gray else 3), 8, f"8-bit {_JPEG_COLOR.get(colorspace, colorspace)}")


def _jpeg_is_complete(data: bytes) -> bool:
    """Whether an end-of-image marker follows the first scan. Marker segments are skipped by
    their lengths (an embedded EXIF thumbnail's own end marker does not count); inside
    entropy-coded data 0xFF is always followed by 0x00 or a marker, so any FF D9 after the scan
    header ends the image. Bytes after it (camera trailers) are allowed. The search runs from the
    end (``rfind``), where the marker is: a forward search would crawl through the image data.
    Each segment's marker and length are read with one ``unpack_from`` (half the time of
    indexing and slicing: this runs for every appended JPEG)."""
    pos, size = 2, len(data)
    while pos + 4 <= size:
        fill, marker, length = _SEGMENT(data, pos)
        if fill != 0xFF:
            raise CorruptSampleError("The JPEG header is corrupt (a marker segment is broken); re-export the file.")
        if marker == 0xDA:  # start of scan: the image data follows its header
            return data.rfind(b"\xff\xd9", pos + 2 + length) >= 0
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
        else:
            pos += 2 + length
    return False


_SEGMENT = struct.Struct(">BBH").unpack_from
"""(0xFF, marker, segment length) at an offset of JPEG bytes."""


def _png_header(data: bytes) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise CorruptSampleError("The PNG header is corrupt (no IHDR chunk); re-export the file.")
    width, height = struct.unpack(">II", data[16:24])
    depth, color = data[24], data[25]
    check_pixels(height, width, "png")
    if data.rfind(_PNG_END) < 33:
        raise CorruptSampleError("The PNG is truncated (no IEND chunk); re-export the file.")
    with _open_pil(data, "png") as img:
        channels = _channels(img)
    return ImageHeader((height, width, channels), depth, f"{depth}-bit {_PNG_COLOR.get(color, 'unknown colour type')}")


def _webp_header(data: bytes) -> ImageHeader:
    if int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise CorruptSampleError("The WebP file is truncated (shorter than its RIFF size); re-export it.")
    height, width = _webp_size(data)
    check_pixels(height, width, "webp")
    with _open_pil(data, "webp") as img:
        channels, mode = _channels(img), img.mode
    return ImageHeader((height, width, channels), 8, f"8-bit {mode}")


def _webp_size(data: bytes) -> tuple[int, int]:
    """(H, W) from the first chunk (VP8X canvas, VP8L or VP8 frame), read before Pillow, whose
    WebP reader allocates the canvas when it opens a file."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[27:30], "little") + 1, int.from_bytes(data[24:27], "little") + 1
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[28:30], "little") & 0x3FFF, int.from_bytes(data[26:28], "little") & 0x3FFF
    raise CorruptSampleError("The WEBP header is corrupt (no VP8, VP8L or VP8X chunk); re-export the file.")


def _open_pil(data: bytes, fmt: str) -> Image.Image:
    """Open PNG or WebP bytes with Pillow's reader for that format (not ``Image.open``, whose
    decompression-bomb check would apply Pillow's limit instead of ``MAX_IMAGE_PIXELS``)."""
    reader = PngImagePlugin.PngImageFile if fmt == "png" else WebPImagePlugin.WebPImageFile
    try:
        return reader(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise SampleTooLargeError(f"The {fmt.upper()} image is too large for Pillow ({exc}); raise "
                                  "PIL.Image.MAX_IMAGE_PIXELS to read it.") from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise CorruptSampleError(f"The {fmt.upper()} header is corrupt ({exc}); re-export the file.") from exc


def _channels(img: Image.Image) -> int:
    if img.mode in ("L", "1", "I", "I;16", "I;16B", "I;16L", "F"):
        return 1
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return 4
    return 3


# -- decoding and encoding ----------------------------------------------------------------------
def decode(data: bytes, fmt: str) -> np.ndarray:
    """Decode media bytes to an (H, W, C) array; CorruptSampleError on broken data,
    SampleTooLargeError past ``MAX_IMAGE_PIXELS``."""
    if fmt == "jpeg":
        return _decode_jpeg(data)
    if fmt == "png":
        if len(data) < 24 or sniff(data) != "png":
            raise CorruptSampleError("Cannot decode the stored PNG sample (not a PNG file).")
        width, height = struct.unpack(">II", data[16:24])
    else:
        height, width = _webp_size(data)
    check_pixels(height, width, fmt)
    try:
        with _open_pil(data, fmt) as img:
            channels = _channels(img)
            mode = {1: None, 3: "RGB", 4: "RGBA"}[channels]
            if mode and img.mode != mode:
                img = img.convert(mode)
            if channels == 1 and img.mode in ("1", "LA"):
                img = img.convert("L")
            arr = np.asarray(img)
    except _DECODE_ERRORS as exc:
        raise CorruptSampleError(f"Cannot decode the stored {fmt.upper()} sample ({exc}).") from exc
    return arr[..., None] if arr.ndim == 2 else arr


def _decode_jpeg(data: bytes) -> np.ndarray:
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except (ValueError, RuntimeError) as exc:
        raise CorruptSampleError(f"Cannot decode the stored JPEG sample ({exc}).") from exc
    check_pixels(height, width, "jpeg")
    try:
        return simplejpeg.decode_jpeg(data, colorspace="GRAY" if colorspace == "Gray" else "RGB")
    except (ValueError, RuntimeError) as exc:
        raise CorruptSampleError(f"Cannot decode the stored JPEG sample ({exc}).") from exc


def encode(arr: np.ndarray, fmt: str) -> bytes:
    """Encode an (H, W, C) uint8 array (C in 1, 3, 4; 4 not for JPEG; PNG also takes uint16 with
    C = 1). PNG is lossless."""
    if arr.size == 0:
        raise ShapeMismatchError(f"An image with no pixels (shape {arr.shape}) cannot be encoded as "
                                 f"{fmt.upper()}; skip the sample or give it at least one pixel.")
    if fmt == "jpeg":
        if arr.shape[-1] not in (1, 3):
            raise UnsupportedCompressionError(
                f"JPEG stores 1 or 3 channels, not {arr.shape[-1]}; use sample_compression='png'."
            )
        try:
            return simplejpeg.encode_jpeg(np.ascontiguousarray(arr), quality=90,
                                          colorspace="GRAY" if arr.shape[-1] == 1 else "RGB")
        except (ValueError, RuntimeError) as exc:
            raise UnsupportedCompressionError(f"Cannot encode this image as JPEG ({exc}); "
                                              "use sample_compression='png'.") from exc
    if arr.shape[-1] not in (1, 3, 4):  # what decode gives back: gray, RGB, RGBA
        raise ShapeMismatchError(f"An image sample must be (H, W) or (H, W, C) with C = 1, 3 or 4 to be stored as "
                                 f"{fmt.upper()}; got shape {arr.shape}. Use sample_compression=None or 'lz4'.")
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    out = io.BytesIO()
    try:
        if fmt == "png":
            img.save(out, format="PNG", compress_level=1)
        else:
            img.save(out, format="WEBP", quality=90)
    except (ValueError, OSError) as exc:
        other = "png" if fmt == "webp" else "None"
        raise UnsupportedCompressionError(f"Cannot encode this image as {fmt.upper()} ({exc}); "
                                          f"use sample_compression={other!r}.") from exc
    return out.getvalue()
