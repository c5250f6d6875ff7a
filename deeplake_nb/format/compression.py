"""Sample compression: encoded media bytes (JPEG, PNG, WebP) <-> numpy arrays.

JPEG goes through simplejpeg (fast, releases the GIL); PNG and WebP through Pillow. Shapes
come from headers, without decoding. Images are always (H, W, C) with C in {1, 3, 4}.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from ..errors import CorruptSampleError, UnsupportedCompressionError

SAMPLE_COMPRESSIONS = ("jpeg", "png", "webp")
_ALIASES = {"jpg": "jpeg", "none": None, "": None}


def canonical(name: str | None, allowed: tuple[str, ...], kind: str) -> str | None:
    """Normalise a compression name ('JPG' -> 'jpeg', 'none' -> None) or raise with the choices."""
    if name is None:
        return None
    key = str(name).lower()
    key = _ALIASES.get(key, key)
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


def header_shape(data: bytes, fmt: str) -> tuple[int, int, int]:
    """(H, W, C) read from the header; raises CorruptSampleError for corrupt or truncated data."""
    if sniff(data) != fmt:
        raise CorruptSampleError(f"The bytes are not a valid {fmt.upper()} file (bad magic number).")
    if fmt == "jpeg":
        if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise CorruptSampleError("The JPEG is truncated (no end-of-image marker); re-export the file.")
        try:
            height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        except (ValueError, RuntimeError) as exc:
            raise CorruptSampleError(f"The JPEG header is corrupt ({exc}); re-export the file.") from exc
        return (height, width, 1 if colorspace == "Gray" else 3)
    if fmt == "png" and not data.endswith(b"IEND\xaeB`\x82"):
        raise CorruptSampleError("The PNG is truncated (no IEND chunk); re-export the file.")
    if fmt == "webp" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise CorruptSampleError("The WebP file is truncated (shorter than its RIFF size); re-export it.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            return (height, width, _channels(img))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptSampleError(f"The {fmt.upper()} header is corrupt ({exc}); re-export the file.") from exc


def _channels(img: Image.Image) -> int:
    if img.mode in ("L", "1", "I", "I;16", "F"):
        return 1
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return 4
    return 3


def decode(data: bytes, fmt: str) -> np.ndarray:
    """Decode media bytes to an (H, W, C) array; raises CorruptSampleError on broken data."""
    try:
        if fmt == "jpeg":
            gray = simplejpeg.decode_jpeg_header(data)[2] == "Gray"
            return simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB")
        with Image.open(io.BytesIO(data)) as img:
            channels = _channels(img)
            mode = {1: None, 3: "RGB", 4: "RGBA"}[channels]
            if mode and img.mode != mode:
                img = img.convert(mode)
            if channels == 1 and img.mode in ("1", "LA"):
                img = img.convert("L")
            arr = np.asarray(img)
    except (ValueError, RuntimeError, OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise CorruptSampleError(f"Cannot decode the stored {fmt.upper()} sample ({exc}).") from exc
    return arr[..., None] if arr.ndim == 2 else arr


def encode(arr: np.ndarray, fmt: str) -> bytes:
    """Encode an (H, W, C) uint8 array (C in 1, 3, 4; 4 not for JPEG). PNG is lossless."""
    if fmt == "jpeg":
        if arr.shape[-1] not in (1, 3):
            raise UnsupportedCompressionError(
                f"JPEG stores 1 or 3 channels, not {arr.shape[-1]}; use sample_compression='png'."
            )
        return simplejpeg.encode_jpeg(np.ascontiguousarray(arr), quality=90,
                                      colorspace="GRAY" if arr.shape[-1] == 1 else "RGB")
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    out = io.BytesIO()
    if fmt == "png":
        img.save(out, format="PNG", compress_level=1)
    else:
        img.save(out, format="WEBP", quality=90)
    return out.getvalue()
