"""Turn one fetched (encoded) sample into the value a transform sees, per ``decode_method``.

- ``"numpy"`` (default): images -> (H, W, C) uint8 arrays (JPEG by simplejpeg, others by
  Pillow; both release the GIL, so a thread pool decodes on all cores); raw arrays -> arrays;
  text -> str; json/list -> Python objects; sequences -> a stacked array when items share a
  shape, else a list;
- ``"pil"``: image tensors -> ``PIL.Image.Image`` (decoded, detached from the buffer);
- ``"tobytes"``: the stored bytes (the encoded file for sample-compressed media, the file behind
  a link, or the raw sample bytes);
- ``"data"``: what ``tensor[i].data()`` gives: ``{"value": ...}`` with the ``"numpy"`` value (str
  for text, Python objects for json), and ``"text"`` (the class names) for class labels;
- ``"dali"``: read exactly like ``"tobytes"`` (nothing is decoded here): the loader's batch stage
  decodes the whole batch with DALI in the main process. Only for image tensors stored with
  ``sample_compression`` JPEG or PNG (``check_method``).

Contract: corrupt media raise ``CorruptSampleError``; decoders are stateless and thread-safe.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..errors import CorruptSampleError, LoaderError
from ..format import compression
from ..format.meta import TensorMeta
from ..format.sample_codec import SampleCodec
from ..storage import links


DALI_COMPRESSIONS = ("jpeg", "png")


def check_method(name: str, meta: TensorMeta, method: str) -> None:
    """Raise ``LoaderError`` when ``method`` cannot decode tensor ``name`` (``meta``)."""
    media = meta.sample_compression if meta.kind == "array" else None
    if method == "pil" and not (meta.base_htype.startswith("image") or media):
        raise LoaderError(f"decode_method 'pil' is for image tensors; {name!r} is {meta.htype!r}. "
                          "Use 'numpy' or 'tobytes'.")
    if method == "dali" and (meta.link or meta.sequence or media not in DALI_COMPRESSIONS
                             or not meta.base_htype.startswith("image")):
        stored = f"htype {meta.htype!r}, sample_compression {meta.sample_compression!r}"
        raise LoaderError(f"decode_method 'dali' is for image tensors stored as JPEG or PNG files (sample_compression "
                          f"'jpeg' or 'png', not linked, not sequences); {name!r} has {stored}. Use 'numpy' for it.")


class SampleDecoder:
    def __init__(self, name: str, meta: TensorMeta, method: str) -> None:
        check_method(name, meta, method)
        self.meta = meta
        self.method = "tobytes" if method == "dali" else method
        self.codec = SampleCodec(meta)
        self.media = meta.sample_compression if meta.kind == "array" and meta.sample_compression != "lz4" else None

    def __call__(self, encoded: Any) -> Any:
        if self.meta.sequence:
            items = [self.item(p, s) for p, s in encoded]
            if self.method in ("numpy", "data") and items and all(
                    isinstance(x, np.ndarray) and x.shape == items[0].shape for x in items):
                value: Any = np.stack(items)
            else:
                value = items
        else:
            value = self.item(*encoded)
        return self.as_data(value) if self.method == "data" else value

    def as_data(self, value: Any) -> dict[str, Any]:
        """A decoded sample in the form of ``Tensor.data()``."""
        out = {"value": value}
        if self.meta.base_htype == "class_label" and not self.meta.sequence:
            names = self.meta.info.get("class_names", [])
            out["text"] = [names[i] if i < len(names) else str(i) for i in np.ravel(value).astype(int).tolist()]
        return out

    def item(self, payload: Any, shape: tuple[int, ...]) -> Any:
        if self.codec.is_empty_payload(payload):  # an empty sample (None): a zero-size array, "" ...
            return b"" if self.method == "tobytes" else self.codec.decode_item(payload, shape)
        if self.meta.link:
            if self.meta.kind != "array" and self.method != "tobytes":
                return self.codec.decode_item(bytes(payload), shape)
            payload = links.fetch(bytes(payload).decode())
            if self.method == "tobytes":
                return payload
        elif self.method == "tobytes":
            return payload.tobytes() if isinstance(payload, np.ndarray) else bytes(payload)
        if isinstance(payload, np.ndarray):  # a row of a dense column
            value = payload
        elif self.media or (self.meta.link and self.meta.kind == "array"):
            fmt = self.media or compression.sniff(bytes(payload[:12]))
            if fmt is None:
                raise CorruptSampleError("The linked file is not a JPEG, PNG or WebP image.")
            return _pil(payload, fmt) if self.method == "pil" else compression.decode(payload, fmt)
        elif self.meta.kind == "array" and self.meta.sample_compression == "lz4":
            value = np.array(self.codec.decode_item(payload, shape))  # writable, as torch wants
        elif self.meta.kind == "array":
            value = np.frombuffer(payload, self.meta.dtype).reshape(shape).copy()
        else:
            return self.codec.decode_item(bytes(payload), shape)
        if self.method == "pil":
            from PIL import Image

            return Image.fromarray(value[..., 0] if value.ndim == 3 and value.shape[-1] == 1 else value)
        return value


def _pil(payload: Any, fmt: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(payload))
        img.load()
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError) as exc:
        raise CorruptSampleError(f"Cannot decode the stored {fmt.upper()} sample ({exc}).") from exc
    return img
