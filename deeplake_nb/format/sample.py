"""Samples given by reference: ``dl.read(path)`` (a media file) and ``dl.link(url)`` (a link).

A ``Sample`` keeps the file's encoded bytes so that a tensor with the same sample compression
stores them byte-identical, and knows its shape from the header without decoding.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import CorruptSampleError, LinkError, SampleError
from ..storage import links
from . import compression
from .compression import ImageHeader


class Sample:
    """An encoded media file (JPEG, PNG, WebP), read lazily from a path or given as bytes.

    ``buffer``, ``compression`` and ``header`` are computed on first access and kept (plain
    attributes, not ``functools.cached_property``, which takes a lock per access on Python 3.11:
    these are read once per sample on the append path)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, buffer: bytes | None = None,
                 verify: bool = False) -> None:
        if (path is None) == (buffer is None):
            raise SampleError("A Sample is read from a file path (dl.read(path)) or given its encoded bytes "
                              "(Sample(buffer=data)): pass exactly one of them.")
        if isinstance(path, (bytes, bytearray, memoryview)):
            raise SampleError("dl.read takes a file path or URL (str or os.PathLike), not bytes; for encoded "
                              "bytes already in memory use deeplake_nb.format.sample.Sample(buffer=data).")
        self.path = None if path is None else os.fspath(path)
        self._buffer = buffer
        self._compression: str | None = None
        self._header: ImageHeader | None = None
        if verify:
            self.array  # decodes: a corrupt file fails here

    @property
    def buffer(self) -> bytes:
        if self._buffer is None:
            assert self.path is not None  # a Sample is made from its bytes or from the path they are at
            self._buffer = links.fetch(self.path)
        return self._buffer

    @property
    def compression(self) -> str:
        if self._compression is None:
            fmt = compression.sniff(self.buffer)
            if fmt is None:
                raise CorruptSampleError(f"{self.name} is not a JPEG, PNG or WebP file (unknown magic number).")
            self._compression = fmt
        return self._compression

    @property
    def header(self) -> ImageHeader:
        """Shape, bit depth and colour mode from the header, without decoding; CorruptSampleError
        for corrupt or truncated files, SampleTooLargeError past ``compression.MAX_IMAGE_PIXELS``."""
        if self._header is None:
            try:
                self._header = compression.header(self.buffer, self.compression)
            except SampleError as exc:
                raise type(exc)(f"{self.name}: {exc}") from exc
        return self._header

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the decoded pixels, from the header (see ``header``)."""
        return self.header.shape

    @property
    def array(self) -> np.ndarray:
        """The decoded (H, W, C) pixels (decoded on each access)."""
        self.header  # header checks first: truncation and size are caught before a decoder sees them
        try:
            return compression.decode(self.buffer, self.compression)
        except SampleError as exc:
            raise type(exc)(f"{self.name}: {exc}") from exc

    @property
    def name(self) -> str:
        """How messages name this sample: its quoted path, else "The sample bytes"."""
        return repr(self.path) if self.path else "The sample bytes"

    @property
    def dtype(self) -> str:
        """The dtype of the decoded pixels, from the header."""
        return str(self.header.dtype)

    def __eq__(self, other: object) -> bool:
        """Samples of one file path are equal; otherwise equal encoded bytes make equal samples."""
        if not isinstance(other, Sample):
            return NotImplemented
        if self.path is not None and other.path is not None:
            return self.path == other.path
        return self.buffer == other.buffer

    __hash__ = None  # type: ignore[assignment]  # equal by content, and the content is read lazily

    def __repr__(self) -> str:
        return f"Sample(path={self.path!r})" if self.path else f"Sample(<{len(self.buffer)} bytes>)"


class LinkedSample:
    """A reference to a file kept outside the dataset; its bytes are read on access, with the
    credentials the dataset has under ``creds_key`` (see ``storage.link_creds``) when given."""

    def __init__(self, url: str | os.PathLike[str], creds_key: str | None = None) -> None:
        self.url = os.fspath(url)
        self.creds_key = creds_key
        if not self.url or "\x00" in self.url:
            raise LinkError(f"A link needs a non-empty path or URL; got {self.url!r}.")
        if creds_key is not None and not isinstance(creds_key, str):
            raise LinkError(f"creds_key names a key added with ds.add_creds_key; got {creds_key!r}.")

    @property
    def path(self) -> str:
        """The URL (Deep Lake v3's name)."""
        return self.url

    def __repr__(self) -> str:
        key = f", creds_key={self.creds_key!r}" if self.creds_key is not None else ""
        return f"LinkedSample({self.url!r}{key})"
