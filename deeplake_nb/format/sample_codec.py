"""Convert between user values and stored payloads for one tensor (its htype, dtype, compressions).

``encode`` validates and never touches storage; ``decode`` is its inverse. For sequences the
payload is a list of item payloads. Image samples given as a ``Sample`` whose format matches
the tensor's sample compression are stored as their original bytes. Sample compression "lz4"
compresses each sample's stored bytes.

Empty samples (``None``; see ``htypes.is_empty``) are stored as an empty payload: they read back
as a zero-size array (array htypes and links to them), ``""`` (text), ``{}`` (json), ``[]``
(list, polygon, sequences).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ..errors import (CorruptSampleError, DtypeMismatchError, LinkError, MissingCredsError, SampleError,
                      ShapeMismatchError)
from ..storage import links
from ..storage.link_creds import LinkCreds
from . import codecs, compression, htypes, json_values
from .columns import Encoded
from .meta import TensorMeta
from .sample import LinkedSample, Sample


_PIL_MODES = {"image.rgb": "RGB", "image.gray": "L"}  # the Pillow mode a file must have for these htypes


def _described(sample: Sample) -> str:
    """How a refused image file is named in messages: its path, colour mode and format."""
    return f"{sample.name} ({sample.header.mode} {sample.compression.upper()})"


class SampleCodec:
    def __init__(self, meta: TensorMeta) -> None:
        self.meta = meta
        self.spec = htypes.HTYPES[meta.base_htype]
        self._checked_channels: set[int] = set()
        self.ndim = meta.ndim  # dimensions of array samples: set by the caller once a batch fixes them
        self.link_creds: LinkCreds | None = None  # the dataset's creds keys, for links made with one (set by the caller)

    # -- encode -----------------------------------------------------------------------------------
    def encode(self, value: Any) -> Encoded | list[Encoded]:
        if self.meta.sequence:
            if value is None:
                return []
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise SampleError(f"A {self.meta.htype_name} sample is a list of items; got {type(value).__name__}.")
            return [self.encode_item(item) for item in value]
        return self.encode_item(value)

    def encode_item(self, value: Any) -> Encoded:
        kind = self.spec.kind
        empty = htypes.is_empty(value, self.spec.name)
        if empty:
            if kind == "json" and not self.meta.link:
                value = [] if self.spec.name in htypes.LIST_HTYPES else {}
            elif kind == "polygon" and not self.meta.link:
                value = []
            else:
                return self.empty()
        if self.meta.link:
            return self._encode_link(value)
        if kind == "array":
            return self._encode_array(value)
        if kind == "text":
            return self._bytes(htypes.text_bytes(value)), (1,)
        if kind == "json":
            value = htypes.check_json(value, self.spec.name)
            if not empty and self.spec.name == "json" and self.meta.dtype not in (None, self.spec.dtype):
                json_values.check_schema(value, self.meta.dtype)
            shape = (len(value),) if self.spec.name in htypes.LIST_HTYPES else (1,)
            return self._bytes(htypes.json_bytes(value)), shape
        polys = htypes.check_polygon(value, self.meta.dtype)
        return self._bytes(_pack_polygons(polys, self.meta.dtype)), _polygon_shape(polys)

    def empty(self) -> Encoded:
        """The stored form of an empty array, text or link sample: no bytes, and a shape of zeros
        (``()`` while a generic tensor's dimensions are unknown)."""
        if self.spec.kind == "array":
            return b"", htypes.empty_shape(self.spec.name, self.ndim)
        return b"", (1,)

    def _bytes(self, payload: bytes) -> bytes:
        """Apply the byte-level sample compression ("lz4"), if the tensor has it."""
        return codecs.compress(payload, "lz4") if self.meta.sample_compression == "lz4" else payload

    def _encode_array(self, value: Any) -> Encoded:
        fmt = self.meta.sample_compression
        from_file = isinstance(value, Sample)
        if from_file:
            self.check_file(value)
            if value.compression == fmt and (self.meta.dtype is None or value.header.dtype == self.meta.dtype):
                return value.buffer, self.image_dims(value.shape, self.ndim, file=True)
            value = value.array
        elif isinstance(value, LinkedSample):
            raise SampleError(f"dl.link(...) values go into link[...] tensors; {self.meta.htype_name} stores data.")
        arr = htypes.to_array(value, self.meta.dtype, self.spec.name)
        if arr.size and self._is_image():
            arr = arr.reshape(self.image_dims(arr.shape, self.ndim, file=from_file))
        if arr.size == 0:  # an empty array is an empty sample; it keeps its shape where the htype allows it
            try:
                shape = self.spec.shape_rule(arr).shape
            except SampleError:
                shape = htypes.empty_shape(self.spec.name, self.ndim)
            return b"", shape
        arr = htypes.normalize_array(arr, self.spec, self.meta.dtype)
        if fmt == "lz4":
            return self._bytes(arr.tobytes()), arr.shape
        if fmt is not None:
            if arr.ndim not in (2, 3):
                raise ShapeMismatchError(f"sample_compression {fmt!r} stores (H, W) or (H, W, C) arrays; got "
                                         f"shape {arr.shape}. Use sample_compression='lz4' for other shapes.")
            if fmt == "png" and arr.dtype == np.int16:  # PNG has 16-bit unsigned pixels: the bits are kept
                arr = arr.view(np.uint16)
            return compression.encode(arr if arr.ndim == 3 else arr[..., None], fmt), arr.shape
        return arr, arr.shape

    def _is_image(self) -> bool:
        """Whether samples are images (htype image*, or an image codec as sample compression)."""
        return self.spec.name.startswith("image") or self.meta.sample_compression in compression.SAMPLE_COMPRESSIONS

    def image_dims(self, shape: tuple[int, ...], ndim: int | None, file: bool = False) -> tuple[int, ...]:
        """An image's shape fitted to ``ndim``, the tensor's dimensions (None: not fixed yet), as
        Deep Lake v3 fits grayscale images: an array lacking the last axis gets it as a 1 ((H, W)
        -> (H, W, 1) in a 3-D tensor, (30,) -> (30, 1) in a 2-D one); a grayscale ``file`` (H, W,
        1) in a 2-D tensor drops it. Other shapes are returned as they are, for the shape checks to
        refuse. An image tensor is 3-D unless its first write made it 2-D (see ``Tensor.extend``)."""
        shape = tuple(shape)
        if ndim is None and self.spec.name == "image":
            ndim = 3
        if ndim is not None and len(shape) == ndim - 1:
            return (*shape, 1)
        if file and ndim is not None and len(shape) == ndim + 1 and shape[-1] == 1:
            return shape[:-1]
        return shape

    def check_file(self, sample: Sample) -> None:
        """Refuse an image file whose pixels this tensor cannot hold as decoded from it: 16-bit
        pixels where the dtype is narrower (and 16-bit colour anywhere: Pillow reads only the high
        8 bits of each channel), or a channel count the htype does not take. A file that passes
        is stored byte-identical (same format and dtype) or decoded, checked and re-encoded."""
        head = sample.header
        dtype = self.meta.dtype
        if head.bit_depth > 8 and (head.shape[2] > 1 or dtype is not None and not np.can_cast(head.dtype, dtype)):
            what = _described(sample)
            holds = f"this {self.meta.htype_name} tensor stores {dtype}" if dtype else "they cannot be read whole"
            instead = ("(np.asarray(PIL.Image.open(path)) // 257).astype('uint8') (scaled to 8 bits)"
                       if head.shape[2] == 1 else "np.asarray(PIL.Image.open(path)) (the high 8 bits of each channel)")
            raise DtypeMismatchError(f"{what} has 16 bits per channel; {holds}. Append {instead} instead, or "
                                     "store the 16-bit pixels as an array in a tensor with dtype='uint16'.")
        channels = head.shape[2]
        if channels not in self._checked_channels:  # the htype's shape rule, once per channel count
            try:
                self.spec.shape_rule(np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), head.shape, (0,) * 3))
            except ShapeMismatchError as exc:
                what = _described(sample)
                mode = _PIL_MODES.get(self.spec.name)
                fix = f"PIL.Image.open(path).convert({mode!r})" if mode else "PIL.Image.open(path).convert(...)"
                raise ShapeMismatchError(f"{what} decodes to {channels} channel(s): {exc} Convert it first "
                                         f"({fix}), or store it in a tensor with htype='image'.") from None
            self._checked_channels.add(channels)

    def _encode_link(self, value: Any) -> Encoded:
        if isinstance(value, (str, os.PathLike)):
            value = LinkedSample(value)
        if not isinstance(value, LinkedSample):
            raise SampleError(f"A {self.meta.htype_name} sample is dl.link(path_or_url) or a str; got {type(value).__name__}.")
        number = (self.link_creds or LinkCreds()).get_encoding(value.creds_key, value.url)
        shape: tuple[int, ...] = (0, 0, 0) if self.spec.kind == "array" else (1,)
        if self.meta.verify:  # the file is read now: it must exist, and an image's shape is kept
            image = self.spec.name.startswith("image")
            if links.is_local(value.url):
                path = links.local_path(value.url)
                if not os.path.isfile(path):
                    raise LinkError(f"Linked file {value.url!r} does not exist; check the path, or create the "
                                    "tensor with verify=False to add links without reading them.")
                if image:
                    shape = Sample(path).shape
            else:
                data = links.fetch(value.url, self.creds_for(number))
                if image:
                    shape = Sample(buffer=data).shape
        return links.pack(value.url, number), shape

    def creds_for(self, number: int) -> dict[str, Any] | None:
        """The credentials of a link's creds key number (None for 0); MissingCredsError when the
        dataset has no credentials for that key in this session."""
        if not number:
            return None
        if self.link_creds is None:
            raise MissingCredsError("This link was made with a creds key; read it through its dataset, after "
                                    "ds.populate_creds(key, creds).")
        return self.link_creds.creds_of(number)

    # -- decode -----------------------------------------------------------------------------------
    def decode(self, encoded: Encoded | list[Encoded]) -> Any:
        """Inverse of ``encode``: the user value of one stored sample."""
        if self.meta.sequence:
            return [self.decode_item(p, s) for p, s in encoded]
        return self.decode_item(*encoded)

    def is_empty_payload(self, payload: Any) -> bool:
        """True for the stored form of an empty sample (see ``empty``)."""
        return not isinstance(payload, np.ndarray) and not len(payload) and self.spec.kind != "json"

    def decode_item(self, payload: Any, shape: tuple[int, ...]) -> Any:
        if self.is_empty_payload(payload):
            return self._empty_value(shape)
        if self.meta.link:
            url, number = links.unpack(bytes(payload))
            data = links.fetch(url, self.creds_for(number))
            if self.spec.kind == "array":
                return Sample(buffer=data).array
            return self._decode_value(data, None)
        return self._decode_value(payload, shape)

    def _empty_value(self, shape: tuple[int, ...] | None) -> Any:
        kind = self.spec.kind
        if kind == "array" and self.meta.link:  # no file: no dimensions (Deep Lake v3 reads it as (0,))
            return np.zeros((0,), self.meta.dtype or "float64")
        if kind == "array":
            return np.zeros(tuple(shape or ()) or (0,), self.meta.dtype or "float64")
        if kind == "text":
            return ""
        if kind == "json":
            return [] if self.spec.name in htypes.LIST_HTYPES else {}
        return []

    def _decode_value(self, payload: Any, shape: tuple[int, ...] | None) -> Any:
        if isinstance(payload, np.ndarray):
            return payload
        kind = self.spec.kind
        fmt = self.meta.sample_compression
        if fmt == "lz4" and not self.meta.link:
            payload, fmt = codecs.decompress(payload, "lz4"), None
        if kind == "array" and fmt is not None:
            arr = compression.decode(payload, fmt)
            if self.meta.dtype == "int16" and arr.dtype == np.uint16:  # see _encode_array
                arr = arr.view(np.int16)
            return arr.reshape(shape) if shape is not None and arr.ndim != len(shape) else arr
        try:
            if kind == "array":
                return np.frombuffer(payload, self.meta.dtype).reshape(shape)
            if kind == "text":
                return payload.decode()
            if kind == "json":
                return json_values.loads(payload)
            return _unpack_polygons(payload, self.meta.dtype)
        except ValueError as exc:  # also UnicodeDecodeError and JSONDecodeError
            raise CorruptSampleError(f"A stored {self.meta.htype_name} sample is damaged ({exc}); restore the "
                                     "dataset from a copy, or check out an earlier commit.") from exc
        except RecursionError:
            raise CorruptSampleError(f"A stored {self.meta.htype_name} sample is nested too deeply to decode here "
                                     f"(recursion limit {sys.getrecursionlimit()}).") from None


def _polygon_shape(polys: list[np.ndarray]) -> tuple[int, int, int]:
    if not polys:
        return (0, 0, 2)
    return (len(polys), max(len(p) for p in polys), polys[0].shape[1])


def _pack_polygons(polys: list[np.ndarray], dtype: str) -> bytes:
    dim = polys[0].shape[1] if polys else 2
    header = np.asarray([len(polys), dim, *[len(p) for p in polys]], np.uint32)
    body = b"".join(np.ascontiguousarray(p, dtype).tobytes() for p in polys)
    return header.tobytes() + body


def _unpack_polygons(payload: bytes, dtype: str) -> list[np.ndarray]:
    count, dim = (int(x) for x in np.frombuffer(payload, np.uint32, 2))
    lengths = np.frombuffer(payload, np.uint32, count, offset=8)
    offset = 8 + 4 * count
    item = np.dtype(dtype).itemsize
    polys = []
    for n in lengths.tolist():
        polys.append(np.frombuffer(payload, dtype, n * dim, offset=offset).reshape(n, dim))
        offset += n * dim * item
    return polys
