"""Checked reading of version-control documents (ref entries, manifest deltas, commits).

Every stored document is accepted only in the exact form this package writes: a damaged object
(torn by a crash, empty, garbled, truncated compression) or a crafted one (a manifest value such
as ``"../../secret.txt"`` that would reach outside the dataset) raises
:class:`~deeplake_nb.errors.CorruptDatasetError` naming the object, never a raw
``JSONDecodeError``, ``zlib.error``, ``KeyError`` or ``TypeError``. Object names must be
:func:`names.is_name` names, so a physical key built from one (``objects/<name>``) can only
point inside the store's own folders.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from typing import Any

from ..errors import CorruptDatasetError
from .names import is_name


def damaged(what: str, why: str) -> CorruptDatasetError:
    """The error for a damaged or foreign document ``what`` (its path: ``ByteStore.describe``)."""
    error = CorruptDatasetError(
        f"The stored object {what!r} is damaged or was not written by deeplake_nb ({why}). Nothing was "
        "changed; restore that object from a backup, or open another branch or commit of the dataset.")
    error.why = why
    return error


DICTIONARY = (
    b'{"id":"01a2","parents":["01a2"],"message":"","author":"","manifest":[["01a2",],"changes":{"log":1,'
    b'"tensors":{"":{"created":false,"from":null,"cleared":false,"info":false,"added":{"n":0,"ids":[],"rows":[]},'
    b'"updated":{"n":,"ids":[],"rows":[]},"removed":{"n":0,"ids":[],"rows":[]}}},"deleted":[],"hidden":[],'
    b'"renamed":[],"info":false},"depth":,"ancestry":[["01a2",["01a2"],"",1796,""]],"meta":"01a2"}'
    b'{"number":,"entry":{"head":"01a2","stack":[["01a2",],"dirty":false,"dirty":true,"pending":"01a2",'
    b'"created":1796,"meta":"01a2","format":3,"time":1796,"nonce":"'
)
"""The preset zlib dictionary of :func:`encode`: the field names and constant parts of ref
entries, hints and commit documents, which a document this small would otherwise spell out once
each (about a third of its compressed size). Part of format 3: a stream names its dictionary by
Adler-32 in its header, so this constant never changes (another one would need a new format)."""


def encode(document: dict[str, Any], dictionary: bytes = DICTIONARY) -> bytes:
    """``document`` as stored: compact JSON, zlib-compressed with :data:`DICTIONARY` (format 3
    on; see ``repository.FORMAT_VERSION``). Ref entries and commit documents hold many 32-hex
    names that share their time-stamp prefix and a change log's ids in decimal text, so
    compression takes them to well under half their size (a small commit's documents are most
    of what it writes). Consolidated metadata documents pass their own ``dictionary``
    (``metadata.DICTIONARY``)."""
    packer = zlib.compressobj(9, zdict=dictionary)
    return packer.compress(json.dumps(document, separators=(",", ":")).encode()) + packer.flush()


def _inflate(blob: bytes, dictionary: bytes) -> bytes:
    """A whole zlib stream's content (compressed with ``dictionary`` or none); zlib.error when
    the stream is damaged, cut short, followed by other bytes or made with another dictionary."""
    unpacker = zlib.decompressobj(zdict=dictionary)
    out = unpacker.decompress(blob)
    if not unpacker.eof:
        raise zlib.error("incomplete or truncated stream")
    if unpacker.unused_data:
        raise zlib.error("bytes after the end of the compressed stream")
    return out


def json_object(blob: bytes, what: str, *, compressed: bool | None = None,
                dictionary: bytes = DICTIONARY) -> dict[str, Any]:
    """The JSON object stored in ``blob``: zlib-compressed (with ``dictionary``, or none, as
    documents written before format 3) when ``compressed``, plain JSON when False, and either when None (a zlib stream starts with byte 0x78, a JSON object with ``{`` or
    white space: documents written before format 3 are plain JSON, later ones :func:`encode`)."""
    if compressed is None:
        compressed = blob[:1] == b"\x78"
    try:
        if compressed:
            blob = _inflate(blob, dictionary)
        value = json.loads(blob)
    except zlib.error as exc:
        raise damaged(what, f"bad compressed data: {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise damaged(what, f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise damaged(what, f"a JSON {type(value).__name__} where an object belongs")
    return value


def name(value: object, what: str, field: str) -> str:
    """``value`` if it is an object name made by :func:`names.new_name`."""
    if not isinstance(value, str) or not is_name(value):
        raise damaged(what, f"{field} {value!r} is not an object name")
    return value


_KEY_PART = r"(?!\.\.?(?:/|\Z))[^/\\\x00]+"
LOGICAL_KEY = re.compile(f"{_KEY_PART}(?:/{_KEY_PART})*")
"""A relative zarr key (``fullmatch``): parts joined by '/', none empty, '.' or '..', and no
backslash or NUL anywhere."""


def joined_by_nul(texts: Sequence[object]) -> str | None:
    """``texts`` joined by NUL, so that a check of all of them is one pass over one string; None
    when one is not a string or holds a NUL itself (then the pieces would not be the texts)."""
    try:
        joined = "\x00".join(texts)  # type: ignore[arg-type]  # a text that is not a str: TypeError
    except TypeError:
        return None
    return joined if joined.count("\x00") == len(texts) - 1 else None


def all_logical_keys(keys: Sequence[str]) -> bool:
    """Whether every one of ``keys`` is a relative zarr key (:data:`LOGICAL_KEY`), checked with
    a few substring searches over them all joined by NUL (which no key may hold): a manifest's
    ~700 keys in ~20 us rather than ~200 us one by one."""
    if not keys:
        return True
    joined = joined_by_nul(keys)
    if joined is None or "\\" in joined:
        return False
    parts = f"\x00{joined}\x00".replace("/", "\x00")  # every part between two NULs
    return "\x00\x00" not in parts and "\x00.\x00" not in parts and "\x00..\x00" not in parts


def logical_key(key: object, what: str) -> str:
    """``key`` if it is a relative zarr key (:data:`LOGICAL_KEY`)."""
    if not isinstance(key, str) or LOGICAL_KEY.fullmatch(key) is None:
        raise damaged(what, f"key {key!r} is not a relative zarr key")
    return key


def field(document: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``document[key]``, which must be an instance of ``kind`` (bools are not numbers)."""
    if key not in document:
        raise damaged(what, f"no {key!r} field")
    value = document[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise damaged(what, f"{key!r} is {value!r}")
    if not isinstance(value, kind):
        raise damaged(what, f"{key!r} is a {type(value).__name__}")
    return value
