"""Patches: small writes into a published object without copying it.

An object is immutable once published, so changing a few bytes of a 1 MiB chunk used to mean
writing a new 1 MiB object. Instead, a version may name a key's content as a *chain*
``"<base>+<patch>+<patch>..."`` in its manifest: the base object's bytes with each patch object's
byte ranges written over them, in order. A patch object holds ``(offset, bytes)`` ranges (see
:func:`encode`); applying it never changes the object's length. Reads (whole or by range) apply
the chain, so every reader, stock zarr through the version's store included, sees the patched
bytes.

Chains stay short and cheap: a new patch is merged with the patches on top of the chain while
it is at least the size of the next one down (size-tiered, as a binary counter: equal patches
pair up), so a chain is O(log2 n) patches deep and each patched byte is rewritten O(log2 n)
times; a run of equal small writes (image updates appended to a heap's tail) rewrites the one
below only every other time (the rule "at least half its size", used before, rewrote it on
most writes and about 20% more bytes in all). A writer folds the chain into a fresh whole object once its patches hold more
than :data:`MAX_PATCH_FRACTION` of the base's bytes (or it would exceed :data:`MAX_PATCHES`).
Reads fetch at most a few small extra objects, which :class:`PatchCache` keeps parsed in memory
(they never change).

Patch packs (repository format 4): the patches one publish makes are written together as one
object, a *pack* (:func:`encode_pack`), with one section per patched chain, found by the chain's
base object name (a base is patched by one key of a version: keys never share a base object).
A chain names the pack like any patch object; readers take its section for their base
(:func:`section`). Ten updated samples in ten chunks are then one object and one fsync (one
PUT on an object store), not ten.
"""

from __future__ import annotations

import bisect
import re
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .documents import joined_by_nul
from .lru import WeightedLRU
from .names import NAME_LENGTH, NAME_PATTERN

SEPARATOR = "+"
MAX_PATCHES = 24
"""The most patch objects a chain may have (size-tiered merging keeps it near log2 of the patch
count); a write that would exceed it folds the chain into one object."""
MAX_PATCH_FRACTION = 0.25
"""Patches holding more than this fraction of the base's size are folded into one object."""
_RANGE = struct.Struct("<QI")
_CRC = struct.Struct("<I")
MAGIC = b"DLNP1"
"""The first bytes of every patch object (format 1)."""
PACK_MAGIC = b"DLNP2"
"""The first bytes of every patch pack."""
_SECTION = struct.Struct("<16sI")
PACK_LEVEL = 1
"""zlib level of a pack's sections. Level 1 against 6, on the pack of an ingest's publish (a
300 KB patch of JPEG bytes and seven of index, shape and id rows: 444 KB): 8 ms against 16 ms,
372 KB against 369 KB; patches of numeric rows shrink about as much at either level. Any level
reads back the same (:func:`decode_pack`)."""

Ranges = list[tuple[int, bytes]]
"""Byte ranges of a patch: (offset, bytes), applied in order."""


def parts(value: str) -> list[str]:
    """The object names of a manifest value: ``[base, *patches]``."""
    return value.split(SEPARATOR)


def chain(base: str, patches: Sequence[str]) -> str:
    """The manifest value of ``base`` with ``patches`` applied in order."""
    return SEPARATOR.join((base, *patches))


VALUE = re.compile(f"{NAME_PATTERN}(?:{re.escape(SEPARATOR)}{NAME_PATTERN}){{0,{MAX_PATCHES}}}")
"""A manifest value we write (``fullmatch``): a name, or a chain of at most :data:`MAX_PATCHES`
patches over a base."""


def is_value(value: str) -> bool:
    """Whether ``value`` is a manifest value we write (:data:`VALUE`)."""
    return VALUE.fullmatch(value) is not None


_HEX_DIGITS = b"0123456789abcdef"
_BETWEEN_NAMES = (SEPARATOR + "\x00").encode()


def _names_between_separators(joined: str) -> bool:
    """Whether ``joined`` is names (:data:`NAME_PATTERN`: 32 lowercase hex digits) with one
    :data:`SEPARATOR` or NUL between each two: a separator every ``NAME_LENGTH + 1`` characters
    and no other character that is not a hex digit, counted with two ``bytes.translate`` passes
    (~15 us for a manifest's ~700 values; a regular expression took ~130 us)."""
    if not joined.isascii():
        return False
    data = joined.encode("ascii")
    step = NAME_LENGTH + 1
    names = (len(data) + 1) // step
    if len(data) != names * step - 1:
        return False
    return not data[NAME_LENGTH::step].translate(None, _BETWEEN_NAMES) and \
        len(data.translate(None, _HEX_DIGITS)) == names - 1


def all_values(values: Sequence[str]) -> bool:
    """Whether every one of ``values`` is a manifest value we write (:func:`is_value`), checked
    in one pass over them joined by NUL (one by one only when they hold more separators in all
    than one chain may)."""
    if not values:
        return True
    joined = joined_by_nul(values)
    if joined is None or not _names_between_separators(joined):
        return False
    return joined.count(SEPARATOR) <= MAX_PATCHES or all(map(is_value, values))


def encode(ranges: Iterable[tuple[int, bytes]]) -> bytes:
    """A patch object's bytes: :data:`MAGIC`; for each range, offset (u64) and length (u32)
    little-endian, then the bytes; the CRC-32 of everything before it (u32), so a damaged patch
    is detected instead of applied."""
    out = bytearray(MAGIC)
    for offset, data in ranges:
        out += _RANGE.pack(offset, len(data))
        out += data
    out += _CRC.pack(zlib.crc32(out))
    return bytes(out)


def _body(blob: bytes, magic: bytes) -> bytes:
    """What follows ``magic`` up to the CRC-32 trailer, checked; ValueError otherwise."""
    if len(blob) < len(magic) + _CRC.size or not blob.startswith(magic):
        raise ValueError("not a patch object")
    if zlib.crc32(memoryview(blob)[:-_CRC.size]) != _CRC.unpack_from(blob, len(blob) - _CRC.size)[0]:
        raise ValueError("its checksum does not match")
    return blob[len(magic):-_CRC.size]


def decode(blob: bytes) -> Ranges:
    """The ranges of a patch object; ValueError when ``blob`` is not one or is damaged."""
    return _ranges(_body(blob, MAGIC))


def _ranges(blob: bytes) -> Ranges:
    return [(offset, bytes(data)) for offset, data in _records(blob, _RANGE, "range")]


def _records(blob: bytes, header: struct.Struct, what: str) -> Iterator[tuple[Any, memoryview]]:
    """(first header field, payload) of each record of ``blob``: a header whose last field is
    the payload's length, then the payload; ValueError when one is cut short."""
    view, at = memoryview(blob), 0
    while at < len(blob):
        if at + header.size > len(blob):
            raise ValueError(f"a {what} header is cut short")
        first, length = header.unpack_from(blob, at)
        at += header.size
        if at + length > len(blob):
            raise ValueError(f"a {what} is cut short")
        yield first, view[at: at + length]
        at += length


def encode_pack(sections: Mapping[str, Ranges]) -> bytes:
    """A patch pack's bytes: :data:`PACK_MAGIC`; then, zlib-compressed, for each section the base
    object name (16 bytes, from its 32 hex digits) and the length (u32) of its ranges as
    :func:`encode` lays them out (without magic or checksum), then those ranges; the CRC-32 of
    everything before it (u32)."""
    body = bytearray()
    for base, ranges in sections.items():
        records = encode(ranges)[len(MAGIC):-_CRC.size]
        body += _SECTION.pack(bytes.fromhex(base), len(records))
        body += records
    out = bytearray(PACK_MAGIC)
    out += zlib.compress(bytes(body), PACK_LEVEL)
    out += _CRC.pack(zlib.crc32(out))
    return bytes(out)


def is_pack(blob: bytes) -> bool:
    return blob.startswith(PACK_MAGIC)


def decode_pack(blob: bytes) -> dict[str, Ranges]:
    """The sections of a patch pack by base name; ValueError when ``blob`` is not one or is
    damaged."""
    try:
        body = zlib.decompress(_body(blob, PACK_MAGIC))
    except zlib.error as exc:
        raise ValueError(f"its sections cannot be decompressed ({exc})") from None
    return {bytes(base).hex(): _ranges(bytes(data)) for base, data in _records(body, _SECTION, "section")}


def section(blob: bytes, base: str) -> Ranges:
    """The ranges a patch object holds for a chain over ``base``: all of a single patch's, or
    the pack's section for ``base``; ValueError when it is damaged or a pack without one."""
    if not is_pack(blob):
        return decode(blob)
    found = decode_pack(blob).get(base)
    if found is None:
        raise ValueError(f"the pack holds no patch of object {base}")
    return found


def apply(data: bytearray | memoryview, ranges: Ranges, start: int = 0, *, whole: bool = False) -> None:
    """Write the parts of ``ranges`` that fall in ``data`` (bytes ``[start, start + len(data))``
    of the object) over it. With ``whole`` (``data`` is the whole object), ValueError when a
    range ends past it."""
    stop = start + len(data)
    for offset, chunk in ranges:
        end = offset + len(chunk)
        if whole and end > stop:
            raise ValueError(f"a range ends at byte {end} of a {stop}-byte object")
        lo, hi = max(offset, start), min(end, stop)
        if lo < hi:
            data[lo - start: hi - start] = chunk[lo - offset: hi - offset]


def apply_to_pieces(pieces: Sequence[bytearray], starts: Sequence[int], ranges: Ranges) -> None:
    """:func:`apply` ``ranges`` to each of ``pieces`` (``pieces[i]`` holds bytes ``[starts[i],
    starts[i] + len(pieces[i]))`` of the object), finding the pieces a range touches by bisection
    when the pieces do not overlap (a few row reads against a long patch), else piece by piece."""
    order = sorted(range(len(pieces)), key=starts.__getitem__)
    los = [starts[i] for i in order]
    his = [starts[i] + len(pieces[i]) for i in order]
    if any(his[j] > los[j + 1] for j in range(len(order) - 1)):
        for piece, start in zip(pieces, starts):
            apply(piece, ranges, start)
        return
    for offset, chunk in ranges:
        end = offset + len(chunk)
        for j in range(bisect.bisect_right(his, offset), bisect.bisect_left(los, end)):
            piece, start = pieces[order[j]], los[j]
            lo, hi = max(offset, start), min(end, his[j])
            if lo < hi:
                piece[lo - start: hi - start] = chunk[lo - offset: hi - offset]


def size(ranges: Ranges) -> int:
    """Bytes the ranges take in a patch object (its fixed header and checksum aside)."""
    return sum(_RANGE.size + len(chunk) for _, chunk in ranges)


def merged(older: Ranges, newer: Ranges) -> Ranges:
    """One list of ranges equal to applying ``older`` then ``newer`` (a range rewritten later at
    the same offset and length is kept once, in its later place)."""
    out: dict[tuple[int, int], bytes] = {}
    for offset, chunk in older + newer:
        out.pop((offset, len(chunk)), None)
        out[(offset, len(chunk))] = chunk
    return [(offset, chunk) for (offset, _), chunk in out.items()]


class PatchCache(WeightedLRU[Ranges]):
    """Parsed patch objects by name (they never change), up to ``capacity`` bytes (:func:`size`),
    least recently used first out. Thread-safe."""

    def __init__(self, capacity: int = 64 << 20) -> None:
        super().__init__(capacity, size)
