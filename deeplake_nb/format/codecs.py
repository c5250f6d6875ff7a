"""Custom zarr v3 codecs, registered under the ``zarr.codecs`` entry-point group.

``deeplake_nb.lz4`` is a bytes->bytes codec (LZ4 block format via numcodecs). Because it is
registered by entry point (see pyproject.toml), stock zarr resolves it in a process that never
imported deeplake_nb.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from numcodecs import LZ4, Zstd
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import Crc32cCodec, ZstdCodec
from zarr.core.buffer.cpu import as_numpy_array_wrapper
from zarr.core.common import parse_named_configuration

from ..errors import CorruptSampleError

if TYPE_CHECKING:
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer

LZ4_NAME = "deeplake_nb.lz4"


@dataclass(frozen=True)
class LZ4Codec(BytesBytesCodec):
    """LZ4 block compression; ``acceleration`` trades ratio for speed (1 = best ratio)."""

    is_fixed_size = False
    acceleration: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.acceleration, int) or self.acceleration < 1:
            raise ValueError(f"acceleration must be an int >= 1, got {self.acceleration!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LZ4Codec:
        _, config = parse_named_configuration(data, LZ4_NAME, require_configuration=False)
        return cls(**(config or {}))

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


def zarr_compressors(chunk_compression: str | None, checksum: bool = True) -> tuple[BytesBytesCodec, ...] | None:
    """The zarr bytes-to-bytes codecs for a tensor's ``chunk_compression`` (None = raw bytes),
    followed by zarr's ``crc32c`` checksum when ``checksum`` (every array made since format 2:
    damaged bytes are detected on read, by stock zarr too)."""
    if chunk_compression is None:
        codecs: tuple[BytesBytesCodec, ...] = ()
    elif chunk_compression == "zstd":
        codecs = (ZstdCodec(level=3),)
    elif chunk_compression == "lz4":
        codecs = (LZ4Codec(),)
    else:
        raise ValueError(chunk_compression)
    if checksum:
        codecs += (Crc32cCodec(),)
    return codecs or None


_DECOMPRESSORS = {"zstd": Zstd(), "lz4": LZ4()}


def compress(raw: bytes, compression: str) -> bytes:
    """``raw`` compressed with ``compression`` ("zstd" or "lz4"); ``decompress`` undoes it. Also the
    sample compression "lz4" of one sample's bytes."""
    return bytes(_DECOMPRESSORS[compression].encode(raw))


def decompress(raw: bytes, chunk_compression: str | None) -> bytes:
    """Undo ``zarr_compressors`` on one stored chunk (the format layer's fast read path);
    CorruptSampleError when the stored bytes are damaged."""
    if chunk_compression is None:
        return raw
    return _decode(_DECOMPRESSORS[chunk_compression], raw, chunk_compression)


def _decode(codec: LZ4 | Zstd, raw: Any, name: str) -> Any:
    try:
        return bytes(codec.decode(raw))
    except (RuntimeError, ValueError) as exc:
        raise CorruptSampleError(f"Stored {name}-compressed data cannot be decompressed ({exc}): the dataset "
                                 "is damaged. Restore it from a copy, or check out an earlier commit.") from exc
