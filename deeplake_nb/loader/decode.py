"""Turn one fetched (encoded) sample into the value a transform sees, per ``decode_method``.

- ``"numpy"`` (default): what ``tensor[i].numpy()`` gives (Deep Lake v3's contract): images ->
  (H, W, C) uint8 arrays (JPEG by simplejpeg, others by Pillow; both release the GIL, so a thread
  pool decodes on all cores); raw arrays -> arrays; text -> a (1,) str array; json -> a (1,)
  object array holding the object; list/tag -> a (k,) array of the items (``htypes.numpy_form``);
  sequences -> a stacked array when items share a shape, else a list;
- ``"pil"``: image tensors -> ``PIL.Image.Image`` (decoded, detached from the buffer);
- ``"tobytes"``: the stored bytes (the encoded file for sample-compressed media, the file behind
  a link, or the raw sample bytes);
- ``"data"``: ``{"value": ...}`` as Deep Lake v3's loader gives it: the str for text, the object
  for json, else the ``"numpy"`` value (an array for list/tag, unlike ``tensor[i].data()``'s
  list), and ``"text"`` (the class names) for class labels;
- ``"dali"``: read exactly like ``"tobytes"`` (nothing is decoded here): the loader's batch stage
  decodes the whole batch with DALI in the main process. Only for image tensors stored with
  ``sample_compression`` JPEG or PNG (``check_method``).

Contract: corrupt media raise ``CorruptSampleError``; decoders are stateless and thread-safe.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np

from ..errors import CorruptSampleError, LoaderOptionError
from ..format import compression, htypes
from ..format.meta import TensorMeta
from ..format.sample_codec import SampleCodec
from ..storage import links


DALI_COMPRESSIONS = ("jpeg", "png")


def check_method(name: str, meta: TensorMeta, method: str) -> None:
    """Raise ``LoaderOptionError`` when ``method`` cannot decode tensor ``name`` (``meta``)."""
    media = meta.sample_compression if meta.kind == "array" else None
    if method == "pil" and not (meta.base_htype.startswith("image") or media):
        raise LoaderOptionError(f"decode_method 'pil' is for image tensors; {name!r} is {meta.htype_name!r}. "
                          "Use 'numpy' or 'tobytes'.")
    if method == "dali" and (meta.link or meta.sequence or media not in DALI_COMPRESSIONS
                             or not meta.base_htype.startswith("image")):
        stored = f"htype {meta.htype_name!r}, sample_compression {meta.sample_compression!r}"
        raise LoaderOptionError(f"decode_method 'dali' is for image tensors stored as JPEG or PNG files (sample_compression "
                          f"'jpeg' or 'png', not linked, not sequences); {name!r} has {stored}. Use 'numpy' for it.")


class SampleDecoder:
    def __init__(self, name: str, meta: TensorMeta, method: str) -> None:
        check_method(name, meta, method)
        self.meta = meta
        self.method = "tobytes" if method == "dali" else method
        self.codec = SampleCodec(meta)
        self.media = meta.sample_compression if meta.kind == "array" and meta.sample_compression != "lz4" else None

    @property
    def single(self) -> bool | None:
        """How a batch holds this tensor's ``"numpy"`` values (``collate.plain_value``): True for
        text / json (a (1,) array of one value), False for list / tag (an array of the items),
        None for the other tensors."""
        if self.meta.sequence or self.meta.kind not in ("text", "json"):
            return None
        return self.meta.base_htype not in htypes.LIST_HTYPES

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

    @property
    def cheap(self) -> bool:
        """Decoding is at most a copy (stored bytes, arrays stored without sample compression):
        a batch of such samples is not worth spreading over threads."""
        meta = self.meta
        if meta.link or meta.sequence:
            return False
        return self.method == "tobytes" or (self.method == "numpy" and meta.kind == "array"
                                            and meta.sample_compression is None)

    def many(self, encoded: Sequence[Any]) -> list[Any]:
        """``[self(e) for e in encoded]``, without the per-sample dispatch where the layout allows:
        stored bytes (``"tobytes"``) and rows of a dense column (``"numpy"``) in one comprehension.
        Raises what ``__call__`` raises, for the first sample that fails."""
        if not self.meta.sequence and not self.meta.link:
            if self.method == "tobytes":
                return [p.tobytes() if isinstance(p, np.ndarray) else bytes(p) for p, _ in encoded]
            if self.method == "numpy" and self.meta.kind == "array":
                payloads = [p for p, _ in encoded]
                if all(type(p) is np.ndarray for p in payloads):  # rows of a dense column, as they are
                    return payloads
        return [self(e) for e in encoded]

    def as_data(self, value: Any) -> dict[str, Any]:
        """A decoded sample (``"numpy"`` form) in the form of ``"data"`` (see the module doc)."""
        single = self.meta.kind == "text" or (self.meta.kind == "json" and self.meta.base_htype not in htypes.LIST_HTYPES)
        if single and not self.meta.sequence:
            return {"value": value[0].item() if isinstance(value[0], np.str_) else value[0]}
        out = {"value": value}
        if self.meta.base_htype == "class_label" and not self.meta.sequence:
            names = self.meta.info.get("class_names", [])
            out["text"] = [names[i] if i < len(names) else str(i) for i in np.ravel(value).astype(int).tolist()]
        return out

    def item(self, payload: Any, shape: tuple[int, ...]) -> Any:
        if self.codec.is_empty_payload(payload):  # an empty sample (None): a zero-size array, "" ...
            if self.method == "tobytes":
                return b""
            value = self.codec.decode_item(payload, shape)
            return value if self.meta.kind == "array" or self.meta.sequence else htypes.numpy_form(self.meta.kind, self.meta.base_htype, value)
        if self.meta.link:
            if self.meta.kind != "array" and self.method != "tobytes":
                value = self.codec.decode_item(bytes(payload), shape)
                return value if self.meta.sequence else htypes.numpy_form(self.meta.kind, self.meta.base_htype, value)
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
            value = self.codec.decode_item(bytes(payload), shape)
            return value if self.meta.sequence else htypes.numpy_form(self.meta.kind, self.meta.base_htype, value)
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
