"""Chunk codecs: what new arrays are written with, and the decompressors of the fast read path.

New arrays use only codecs of the Zarr v3 specification, so zarr-python, zarrs or TensorStore
read them with no code of ours:

- a tensor's ``chunk_compression="zstd"`` is zarr's ``zstd`` (level 3);
- ``chunk_compression="lz4"`` (Deep Lake v3's name, kept in the tensor's meta) is zarr's
  ``blosc`` with the LZ4 compressor, clevel 5: byte shuffle for integers wider than a byte,
  otherwise no shuffle with ``typesize`` 1. Measured against the LZ4 block codec it replaced
  (``benchmarks/bench_chunk_codecs.py``, one 1 MiB chunk): unshuffled with typesize 1 it is that
  codec in blosc's frame (same ratio and decode speed; blosc splits a block into ``typesize``
  streams, which halved the ratio of unshuffled integers); byte shuffle decodes integer labels
  2.4x faster and 1.5x smaller, but float32 4x slower (9 against 37 GB/s on embeddings, for a
  few per cent of ratio), so floats and bytes are not shuffled. zstd level 1 decodes 3-50x
  slower than LZ4, so it was not chosen;
- every array ends each chunk with zarr's ``crc32c`` checksum (format 2).

``deeplake_nb.lz4`` (LZ4 block format via numcodecs) is what format versions 1 and 2 wrote for
``chunk_compression="lz4"``: it stays registered under the ``zarr.codecs`` entry-point group (see
pyproject.toml), so such arrays still open, in stock zarr too when deeplake_nb is installed; only
new arrays stop using it. The same LZ4 block format is the per-sample compression
``sample_compression="lz4"`` (``compress``/``decompress`` with ``"lz4"``): numcodecs' ``LZ4``,
a 4-byte little-endian length then the block; numcodecs is a dependency of zarr, so any zarr
installation decodes such a sample.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numcodecs import LZ4, Blosc, Zstd
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec
from zarr.core.buffer.cpu import as_numpy_array_wrapper
from zarr.core.common import parse_named_configuration

from ..errors import CorruptSampleError

if TYPE_CHECKING:
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer

LZ4_NAME = "deeplake_nb.lz4"
SPEC_CODECS = frozenset({"bytes", "transpose", "blosc", "gzip", "zstd", "crc32c", "sharding_indexed"})
"""The codec names of the Zarr v3 specification (core codecs and zarr-python 3's built-ins of
the spec); every array written now uses only these."""


@dataclass(frozen=True)
class LZ4Codec(BytesBytesCodec):
    """LZ4 block compression (formats 1 and 2; read, and written only into arrays that already
    use it); ``acceleration`` trades ratio for speed (1 = best ratio)."""

    is_fixed_size = False
    acceleration: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.acceleration, int) or self.acceleration < 1:
            raise ValueError(f"acceleration must be an int >= 1, got {self.acceleration!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LZ4Codec:
        _, config = parse_named_configuration(data, LZ4_NAME, require_configuration=False)
        return cls(**dict(config or {}))  # type: ignore[arg-type]  # JSON values: __post_init__ checks them

    def to_dict(self) -> dict[str, Any]:
        return {"name": LZ4_NAME, "configuration": {"acceleration": self.acceleration}}

    @cached_property
    def _lz4(self) -> LZ4:
        return LZ4(acceleration=self.acceleration)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return as_numpy_array_wrapper(lambda raw: _decode(self._lz4, raw, "lz4"), chunk_bytes, chunk_spec.prototype)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    def _encode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer | None:
        return as_numpy_array_wrapper(self._lz4.encode, chunk_bytes, chunk_spec.prototype)

    async def _encode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer | None:
        return await asyncio.to_thread(self._encode_sync, chunk_bytes, chunk_spec)

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec: ArraySpec) -> int:
        raise NotImplementedError


CHUNK_COMPRESSIONS = ("zstd", "lz4")
"""The ``chunk_compression`` names a tensor takes (Deep Lake v3's)."""


def blosc_lz4(dtype: np.dtype) -> BloscCodec:
    """zarr's ``blosc`` codec as ``chunk_compression="lz4"`` writes it for items of ``dtype``:
    LZ4, clevel 5, byte shuffle over the item size for integers of 2 bytes or more, else no
    shuffle and typesize 1 (zarr's default for 1-byte items, bitshuffle, measured 20x slower to
    decode); every setting explicit, so zarr tunes nothing."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and dtype.itemsize > 1:
        return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=dtype.itemsize, blocksize=0)
    return BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle", typesize=1, blocksize=0)


def zarr_compressors(chunk_compression: str | None, checksum: bool = True,
                     dtype: np.dtype | str = "uint8") -> tuple[BytesBytesCodec, ...] | None:
    """The zarr bytes-to-bytes codecs of a new array of ``dtype`` items for a tensor's
    ``chunk_compression`` (None = raw bytes), followed by zarr's ``crc32c`` checksum when
    ``checksum`` (every array made since format 2: damaged bytes are detected on read, by stock
    zarr too). Spec codecs only (``SPEC_CODECS``)."""
    if chunk_compression is None:
        codecs: tuple[BytesBytesCodec, ...] = ()
    elif chunk_compression == "zstd":
        codecs = (ZstdCodec(level=3),)
    elif chunk_compression == "lz4":
        codecs = (blosc_lz4(np.dtype(dtype)),)
    else:
        raise ValueError(chunk_compression)
    if checksum:
        codecs += (Crc32cCodec(),)
    return codecs or None


_DECOMPRESSORS: dict[str, LZ4 | Zstd | Blosc] = {"zstd": Zstd(), "lz4": LZ4(), "blosc": Blosc()}
STORED_COMPRESSIONS = tuple(_DECOMPRESSORS)
"""The compressions a stored chunk may have (``arrays.stored_compression``): ``zstd``, ``blosc``
and the LZ4 block format of formats 1 and 2 (``lz4``)."""


def compress(raw: bytes, compression: str) -> bytes:
    """``raw`` compressed with ``compression`` ("zstd" or "lz4": the LZ4 block format of
    ``sample_compression="lz4"``, one sample's bytes); ``decompress`` undoes it."""
    return bytes(_DECOMPRESSORS[compression].encode(raw))


def decompress(raw: bytes, compression: str | None, expected: int | None = None) -> bytes:
    """Undo one stored chunk's compression (``STORED_COMPRESSIONS``, None = raw; the fast read
    path of the format layer, the loader and the query scan) or a sample's "lz4".
    ``expected``: the decoded size the caller needs, checked before decoding where the stream
    says its size (blosc), so a damaged size field cannot make it allocate more.
    CorruptSampleError when the stored bytes are damaged."""
    if compression is None:
        return raw
    if compression == "blosc":
        _check_blosc_header(raw, expected)
    return _decode(_DECOMPRESSORS[compression], raw, compression)


_BLOSC_HEADER = 16


def _check_blosc_header(raw: Any, expected: int | None) -> None:
    """A blosc stream's header (16 bytes: version, format version, flags, typesize, then the
    decoded, block and stored sizes, little-endian uint32) against its length and ``expected``."""
    view = memoryview(raw)
    if view.nbytes < _BLOSC_HEADER:
        raise _damaged("blosc", f"{view.nbytes} bytes where a blosc header has {_BLOSC_HEADER}")
    head = view.cast("B")[:_BLOSC_HEADER].tobytes()
    nbytes, cbytes = int.from_bytes(head[4:8], "little"), int.from_bytes(head[12:16], "little")
    if cbytes != view.nbytes:
        raise _damaged("blosc", f"the header says {cbytes} stored bytes, there are {view.nbytes}")
    if expected is not None and nbytes != expected:
        raise _damaged("blosc", f"the header says {nbytes} bytes decoded, a chunk has {expected}")


def _decode(codec: LZ4 | Zstd | Blosc, raw: Any, name: str) -> Any:
    try:
        return bytes(codec.decode(raw))
    except (RuntimeError, ValueError) as exc:
        raise _damaged(name, str(exc)) from exc


def _damaged(name: str, why: str) -> CorruptSampleError:
    return CorruptSampleError(f"Stored {name}-compressed data cannot be decompressed ({why}): the dataset "
                              "is damaged. Restore it from a copy, or check out an earlier commit.")
