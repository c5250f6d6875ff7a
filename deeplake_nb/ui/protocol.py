"""The message protocol between a widget's browser side and the kernel (anywidget custom messages).

Requests go browser -> kernel as JSON content without buffers; every request carries an ``id``
that its replies repeat:

- ``{"type": "page", "id", "start", "count", "image", "overlays", "thumb"}``: pictures and overlays
  of positions ``start .. start + count - 1``; ``image`` is the picture tensor ('' for none),
  ``overlays`` the tensors drawn over it, ``thumb`` the longer side of a thumbnail in pixels;
- ``{"type": "sample", "id", "position", "image", "overlays"}``: one sample for the detail panel;
- ``{"type": "objects", "id", "position", "tensor", "image", "start", "count"}``: boxes or class
  names ``start .. start + count - 1`` (``count`` <= ``overlays.DETAIL_OBJECTS``) of one sample's
  box or class_label tensor, past the cap of a page or detail reply (an overlay with ``"total"``).

Replies go kernel -> browser as JSON content plus binary buffers (pictures are encoded image bytes,
masks are uint8/uint16 label maps; never base64 in JSON):

- ``{"type": "page", "id", "start", "count", "total", "part", "last", "samples": [...]}``: a page
  comes in parts (``part`` = 0, 1, ...; ``last`` marks the final one), each with at most
  ``MAX_MESSAGE_BYTES`` of JSON and buffers unless one sample alone is larger (objects are capped
  per sample, see ``overlays``, so one sample stays a few MiB at most), and a part goes out at least
  every ``PART_SECONDS`` while samples are ready, so thumbnails show as they arrive (large pictures
  take a while to re-encode) and no message comes near the Jupyter server's 10 MiB websocket limit. ``"buffer": k``
  inside a sample indexes the buffers of the message that carries it. ``total`` is the number of
  samples shown. See ``source`` for the fields of a sample;
- ``{"type": "sample", "id", "sample": {...}}``: the detail reply, within
  ``source.DETAIL_MESSAGE_BYTES``;
- ``{"type": "objects", "id", "position", "objects": {"tensor", "kind", "start", "total", "boxes"
  / "names"}}``: see ``SampleSource.objects``;
- ``{"type": "error", "id", "message"}``: the request failed (bad field, unknown tensor ...).
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from ..errors import DeepLakeNBError, WidgetRequestError
from .overlays import DETAIL_OBJECTS
from .source import SampleSource, message_bytes

Message = tuple[dict[str, Any], list[bytes]]
REQUEST_TYPES = ("page", "sample", "objects")
MAX_MESSAGE_BYTES = 1 << 20
PART_SECONDS = 0.25
MAX_PAGE = 500
THUMB_SIDES = (32, 1024)


def is_request(content: Any) -> bool:
    return isinstance(content, dict) and content.get("type") in REQUEST_TYPES


def handle(source: SampleSource, request: dict[str, Any]) -> Iterator[Message]:
    """The replies to one request, in order; failures become one ``error`` reply."""
    rid = request.get("id") if isinstance(request, dict) else None
    try:
        if not is_request(request):
            raise WidgetRequestError(f"Unknown request {request!r}; requests have a type in {REQUEST_TYPES}.")
        if request["type"] == "page":
            yield from _page(source, request, rid)
        elif request["type"] == "sample":
            position = _int(request, "position", 0, len(source) - 1)
            sample, buffers = source.detail(position, _str(request, "image"), _names(request))
            yield {"type": "sample", "id": rid, "sample": sample}, buffers
        else:
            position = _int(request, "position", 0, len(source) - 1)
            objects = source.objects(position, _str(request, "tensor"), _str(request, "image"),
                                     _int(request, "start", 0, None), _int(request, "count", 0, DETAIL_OBJECTS))
            yield {"type": "objects", "id": rid, "position": position, "objects": objects}, []
    except DeepLakeNBError as exc:
        yield {"type": "error", "id": rid, "message": str(exc)}, []


def _page(source: SampleSource, request: dict[str, Any], rid: Any) -> Iterator[Message]:
    start = _int(request, "start", 0, None)
    count = _int(request, "count", 0, MAX_PAGE)
    thumb = _int(request, "thumb", *THUMB_SIDES)
    total = len(source)
    head = {"type": "page", "id": rid, "start": start, "count": count, "total": total}
    samples: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    part, size = 0, 0
    sent = time.perf_counter()
    for sample, own in source.page(start, count, _str(request, "image"), _names(request), thumb):
        nbytes = message_bytes(sample, own)
        if samples and (size + nbytes > MAX_MESSAGE_BYTES or time.perf_counter() - sent > PART_SECONDS):
            yield {**head, "part": part, "last": False, "samples": samples}, buffers
            part, samples, buffers, size = part + 1, [], [], 0
            sent = time.perf_counter()
        samples.append(_shift(sample, len(buffers)))
        buffers.extend(own)
        size += nbytes
    yield {**head, "part": part, "last": True, "samples": samples}, buffers


def _shift(sample: dict[str, Any], offset: int) -> dict[str, Any]:
    """Renumber a sample's ``buffer`` fields by ``offset`` (its buffers go after others in a message)."""
    if offset:
        for part in [sample.get("image") or {}, *sample.get("overlays", [])]:
            if part.get("buffer") is not None:
                part["buffer"] += offset
    return sample


def _int(request: dict[str, Any], key: str, lo: int, hi: int | None) -> int:
    value = request.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise WidgetRequestError(f"Request field {key!r} must be an integer in {bound}; got {value!r}.")
    return value


def _str(request: dict[str, Any], key: str) -> str:
    value = request.get(key, "")
    if not isinstance(value, str):
        raise WidgetRequestError(f"Request field {key!r} must be a string; got {value!r}.")
    return value


def _names(request: dict[str, Any]) -> list[str]:
    value = request.get("overlays", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WidgetRequestError(f"Request field 'overlays' must be a list of tensor names; got {value!r}.")
    return value
