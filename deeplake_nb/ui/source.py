"""``SampleSource``: pages and single samples of one dataset, group or row view, read for the browser.

It holds no widget state and imports no widget package, so the data path is testable on its own
and shared by every widget that shows samples (the dataset browser today; the query widget and the
commit graph's sample diffs reuse it with a View or another commit's dataset).

A *position* is a row of the object shown (``0 .. len(dataset) - 1``, what ``dataset[position]``
takes); an *index* is the row in the underlying dataset (``dataset.index[position]`` for a view).

- ``page(start, count, ...)`` yields one ``(sample, buffers)`` per row: only those rows are read
  (batched reads for labels, boxes and text; one stored-bytes read per picture);
- ``detail(position, ...)`` returns the same sample with a larger picture plus every tensor's
  value (see ``values``) for the detail panel.

A sample is a JSON-able dict; ``"buffer": k`` fields index its ``buffers`` list (bytes). A picture
or overlay that cannot be read carries ``"error"`` instead of failing the page.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import numpy as np

from ..errors import DeepLakeNBError, WidgetRequestError
from ..format.htypes import bbox_layout
from . import classes, thumbnails, values
from . import overlays as ov

Sample = dict[str, Any]
READ_ERRORS = (DeepLakeNBError, ValueError, OSError, RuntimeError)  # a sample that cannot be shown

THUMB_MAX_BYTES = 64 << 10       # stored bytes up to this size go to the grid as they are ...
THUMB_PASSTHROUGH = 3            # ... when their longer side is at most 3 x the thumbnail size
DETAIL_SIDE = 1024
DETAIL_MAX_BYTES = 1 << 20
DETAIL_MASK_SIDE = 512
DETAIL_MESSAGE_BYTES = 4 << 20   # one detail reply (JSON and buffers) stays under this


class SampleSource:
    """``labels``: explicit object tensor -> class_label tensor pairs (see ``classes.pair``; the
    others follow Deep Lake's layout); ``pairs`` holds the pairing in use. ``group_offsets``: where
    each group of a GROUP BY result starts among the positions (and, last, the length); each sample
    then says ``"group": {"number", "start", "size"}``."""

    def __init__(self, dataset: Any, labels: dict[str, str] | None = None,
                 group_offsets: Any = None) -> None:
        self.dataset = dataset
        self.labels = dict(labels or {})
        self.pairs = self.pairs_now()
        self.group_offsets = None if group_offsets is None else np.asarray(group_offsets, np.int64)

    def pairs_now(self) -> dict[str, str]:
        """The pairing for the tensors there are now (tensors may have been added since)."""
        return classes.pair(self.dataset.tensors, self.labels)

    def colour_numbers(self) -> dict[str, int]:
        """Class name -> colour number (``classes.colour_numbers``) for the browser."""
        return classes.colour_numbers(self.dataset.tensors)

    # -- what is there ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.dataset)

    def tensors(self) -> list[dict[str, Any]]:
        """``[{name, htype, dtype, role, compression}]`` for the tensor picker (no sample is read)."""
        out = []
        for name, tensor in self.dataset.tensors.items():
            meta = tensor.meta
            out.append({"name": name, "htype": str(tensor.htype), "dtype": str(meta.dtype), "role": ov.role(tensor),
                        "compression": tensor.sample_compression or tensor.chunk_compression})
        return out

    def names(self, role: str) -> list[str]:
        return [t["name"] for t in self.tensors() if t["role"] == role]

    def default_image(self) -> str:
        images = self.names("image")
        return images[0] if images else ""

    def default_overlays(self) -> list[str]:
        return [t["name"] for t in self.tensors() if t["role"] in ov.OVERLAY_ROLES]

    def indices(self, start: int, stop: int) -> list[int]:
        """Underlying dataset indices of positions ``start .. stop - 1``."""
        index = getattr(self.dataset, "index", None)
        if index is None:
            return list(range(start, stop))
        return np.asarray(index)[start:stop].astype(np.int64).tolist()

    def check(self, image: str, overlays: list[str]) -> None:
        """WidgetRequestError unless ``image`` is '' or an image tensor and every overlay has an overlay role."""
        roles = {t["name"]: t["role"] for t in self.tensors()}
        if image and roles.get(image) != "image":
            raise WidgetRequestError(f"{image!r} is not an image tensor; image tensors: {self.names('image')}.")
        bad = [name for name in overlays if roles.get(name) not in ov.OVERLAY_ROLES]
        if bad:
            raise WidgetRequestError(f"{bad} cannot be drawn over a picture; overlay tensors: {self.default_overlays()}.")

    # -- reading ----------------------------------------------------------------------------------
    def page(self, start: int, count: int, image: str, overlays: list[str], thumb: int) -> Iterator[tuple[Sample, list[bytes]]]:
        """One ``(sample, buffers)`` per position in ``start .. start + count - 1`` (clipped to the length)."""
        n = len(self.dataset)
        if start < 0 or count < 0:
            raise WidgetRequestError(f"A page needs start >= 0 and count >= 0; got start={start}, count={count}.")
        stop = min(n, start + count)
        if start >= stop:
            return
        self.check(image, overlays)
        yield from self._samples(start, stop, image, overlays, side=thumb, max_bytes=THUMB_MAX_BYTES,
                                 passthrough=thumb * THUMB_PASSTHROUGH, mask_side=thumb, limit=ov.PAGE_OBJECTS)

    def detail(self, position: int, image: str, overlays: list[str]) -> tuple[Sample, list[bytes]]:
        """The sample at ``position`` with a large picture, its overlays, and ``"tensors"``: every
        tensor's name, htype, dtype, shape and value."""
        n = len(self.dataset)
        if not 0 <= position < n:
            raise WidgetRequestError(f"Sample {position} is out of range for {n} samples.")
        self.check(image, overlays)
        sample, buffers = next(self._samples(position, position + 1, image, overlays, side=DETAIL_SIDE,
                                             max_bytes=DETAIL_MAX_BYTES, passthrough=DETAIL_SIDE * 2,
                                             mask_side=DETAIL_MASK_SIDE, limit=ov.DETAIL_OBJECTS))
        row = self.dataset[position]
        entries = []
        sent = message_bytes(sample, buffers)
        for name, tensor in row.tensors.items():
            entry: dict[str, Any] = {"name": name, "htype": str(tensor.htype), "dtype": str(tensor.meta.dtype)}
            try:
                entry["shape"] = [None if d is None else int(d) for d in tensor.shape]
                if name == image and "buffer" in sample.get("image", {}):
                    entry.update(kind="image", main=True, **_picture_fields(sample["image"]))
                else:
                    before = len(buffers)
                    entry.update(_describe(tensor, buffers))
                    sent += message_bytes(entry, buffers[before:])
                    if sent > DETAIL_MESSAGE_BYTES:
                        sent -= message_bytes(entry, buffers[before:])
                        del buffers[before:]
                        for key in [k for k in entry if k not in ("name", "htype", "dtype", "shape")]:
                            del entry[key]
                        entry.update(kind="error", message="not sent: the reply would pass "
                                     f"{DETAIL_MESSAGE_BYTES >> 20} MiB; read it in Python")
            except READ_ERRORS as exc:
                entry.update(kind="error", message=str(exc))
            entries.append(entry)
        sample["tensors"] = entries
        return sample, buffers

    def _samples(self, start: int, stop: int, image: str, overlays: list[str], side: int, max_bytes: int,
                 passthrough: int, mask_side: int, limit: int) -> Iterator[tuple[Sample, list[bytes]]]:
        rows = self.dataset[start:stop]
        picture_tensor = rows[image] if image else None
        shapes = None
        pictures: list[Any] = []
        if picture_tensor is not None:
            try:
                shapes = np.asarray(picture_tensor.shapes())
            except READ_ERRORS:
                shapes = None
            # read every picture here (storage objects stay on this thread); encode on the pool
            for j in range(stop - start):
                try:
                    pictures.append(thumbnails.submit(*read_picture(picture_tensor[j]), side, max_bytes, passthrough))
                except READ_ERRORS as exc:
                    pictures.append(exc)
        layers = [self._overlay_column(rows, name, shapes, overlays, limit) for name in overlays]
        for j, (position, index) in enumerate(zip(range(start, stop), self.indices(start, stop))):
            buffers: list[bytes] = []
            sample: Sample = {"position": position, "index": index}
            if self.group_offsets is not None:
                sample["group"] = self.group_of(position)
            if picture_tensor is not None:
                shape = shapes[j] if shapes is not None else np.asarray(picture_tensor[j].shapes())[0]
                sample["image"] = _picture_entry(pictures[j], shape, buffers)
            sample["overlays"] = _drop_unmatched_pairs([layer(j, buffers, mask_side) for layer in layers])
            yield sample, buffers

    def _overlay_column(self, rows: Any, name: str, shapes: np.ndarray | None, shown: list[str], limit: int):
        """A function ``(j, buffers, mask_side) -> overlay dict`` for row j of tensor ``name`` of
        ``rows`` (batched reads up front). Boxes and binary masks carry their objects' class
        names where a class_label tensor is paired with them (``classes``); a class_label tensor
        paired with an overlay in ``shown`` says so (``"paired"``: its names are drawn on the objects).
        Boxes and class names stop at ``limit`` per row (``"total"`` says how many there are)."""
        tensor = rows[name]
        kind = ov.role(tensor)
        head = {"tensor": name, "kind": kind}
        try:
            if kind == "label":
                class_names = classes.class_names(tensor)
                ids = tensor.numpy(aslist=True)
                paired = [obj for obj, label in self.pairs.items() if label == name and obj in shown]
                if paired:
                    head["paired"] = paired[0]
                return lambda j, buffers, side: {**head, **_label_objects(ids[j], class_names, 0, limit)}
            names_of = self._object_names(rows, name)
            if kind == "box":
                boxes = tensor.numpy(aslist=True)
                layout = _BoxLayout(tensor, shapes)
                return lambda j, buffers, side: {**head, **layout.objects(j, boxes[j], names_of, 0, limit)}
            if kind == "text":
                texts = tensor.data()["value"]
                return lambda j, buffers, side: {**head, "text": ov.short_text(str(texts[j]))}
            if kind == "mask":
                binary = tensor.base_htype == "binary_mask"
                own_names = [] if binary else classes.class_names(tensor)

                def mask(j: int, buffers: list[bytes], side: int) -> dict[str, Any]:
                    try:
                        values = tensor[j].numpy()
                        labels = thumbnails.label_map(values, binary, side)
                    except READ_ERRORS as exc:
                        return {**head, "error": str(exc)}
                    buffers.append(labels.tobytes())
                    channels = (values.shape[-1] if values.ndim == 3 else 1) if binary else 0
                    names = names_of(j, channels, 0, None) if binary else None
                    return {**head, "buffer": len(buffers) - 1, "dtype": str(labels.dtype), "binary": binary,
                            "width": int(labels.shape[1]), "height": int(labels.shape[0]),
                            "objects": _mask_objects(labels, binary, names, own_names)}
                return mask
        except READ_ERRORS as exc:
            message = str(exc)
            return lambda j, buffers, side: {**head, "error": message}
        return lambda j, buffers, side: {**head, "error": f"{tensor.meta.htype_name} tensors are not drawn over pictures"}

    def _object_names(self, rows: Any, name: str):
        """``(j, count, start, stop) -> names or None``: the class names of objects ``start ..
        stop - 1`` of row j's ``count`` objects of tensor ``name`` from its paired class_label
        tensor (None: unpaired, or not one id per object)."""
        label = self.pairs.get(name)
        if label is None:
            return lambda j, count, start, stop: None
        tensor = rows[label]
        ids, names = tensor.numpy(aslist=True), classes.class_names(tensor)
        return lambda j, count, start, stop: classes.object_names(ids[j], names, count, start, stop)

    def group_of(self, position: int) -> dict[str, int]:
        """``{"number", "start", "size"}`` of the group holding ``position`` (0-based number)."""
        offsets = self.group_offsets
        k = int(np.searchsorted(offsets, position, side="right")) - 1
        return {"number": k, "start": int(offsets[k]), "size": int(offsets[k + 1] - offsets[k])}

    def objects(self, position: int, name: str, image: str, start: int, count: int) -> dict[str, Any]:
        """Objects ``start .. start + count - 1`` of one sample's box or class_label tensor
        ``name`` (the ones past the cap of a page or detail reply): ``{"tensor", "kind", "start",
        "total", "boxes"/"names"}``; pixel boxes are placed on the picture of tensor ``image``."""
        n = len(self.dataset)
        if not 0 <= position < n:
            raise WidgetRequestError(f"Sample {position} is out of range for {n} samples.")
        self.check(image, [name])
        rows = self.dataset[position:position + 1]
        tensor = rows[name]
        kind = ov.role(tensor)
        head = {"tensor": name, "kind": kind, "start": start}
        if kind == "label":
            return {**head, **_label_objects(tensor.numpy(aslist=True)[0], classes.class_names(tensor), start, count)}
        if kind != "box":
            raise WidgetRequestError(f"{name!r} has no objects to page through; boxes and class labels do.")
        shapes = np.asarray(rows[image].shapes()) if image else None
        layout = _BoxLayout(tensor, shapes)
        return {**head, **layout.objects(0, tensor.numpy(aslist=True)[0], self._object_names(rows, name), start, count)}


class _BoxLayout:
    """Where a bbox tensor's boxes go on their pictures (``shapes``: the pictures' shapes, or None)."""

    def __init__(self, tensor: Any, shapes: np.ndarray | None) -> None:
        self.coords = tensor.meta.info.get("coords")
        self.fraction = bbox_layout(self.coords)[1]
        self.shapes = shapes

    def objects(self, j: int, boxes: Any, names_of: Any, start: int, limit: int) -> dict[str, Any]:
        """Boxes ``start .. start + limit - 1`` of row j as fractions, their names, and ``"total"``
        where that is not all of them."""
        if self.shapes is None and not self.fraction:
            return {"error": "pixel boxes need an image tensor to be drawn"}
        h, w = (1, 1) if self.shapes is None else (int(self.shapes[j][0]), int(self.shapes[j][1]))
        every = np.asarray(boxes).reshape(-1, 4)
        part = every[start:start + limit]
        out = {"boxes": np.round(ov.box_fractions(part, self.coords, h, w), 5).tolist(),
               "names": names_of(j, len(every), start, start + limit)}
        if start or len(part) < len(every):
            out["total"] = len(every)
        return out


def _label_objects(ids: Any, class_names: list[str], start: int, limit: int) -> dict[str, Any]:
    """``{"names": [...]}`` of class ids ``start .. start + limit - 1``, with ``"total"`` where that is not all."""
    flat = np.ravel(ids)
    out: dict[str, Any] = {"names": ov.label_names(flat[start:start + limit], class_names)}
    if start or flat.size > start + limit:
        out["total"] = int(flat.size)
    return out


def message_bytes(content: Any, buffers: list[bytes]) -> int:
    """The size of a message's JSON content plus its buffers (what a reply costs on the websocket)."""
    return len(json.dumps(content, separators=(",", ":"))) + sum(len(b) for b in buffers)


def _drop_unmatched_pairs(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A class_label layer stays ``paired`` only where its ids named this sample's objects (else
    the browser draws it as badges, e.g. one scene label beside several boxes)."""
    named = {layer["tensor"] for layer in layers
             if (layer["kind"] == "box" and layer.get("names") is not None)
             or any(o.get("name") is not None for o in layer.get("objects", ()))}
    for layer in layers:
        if layer.get("paired") is not None and layer["paired"] not in named:
            del layer["paired"]
    return layers


def _mask_objects(labels: np.ndarray, binary: bool, names: list[str] | None,
                  own_names: list[str]) -> list[dict[str, Any]]:
    """``[{value, name, x, y, pixels}]`` for the objects of a label map: where to write each one's
    class name (fractions of the map) and that name (a binary mask's channel k is value k + 1 and
    takes ``names[k]``; a segment mask's value v is ``own_names[v]``; None where there is none)."""
    out = []
    for value, x, y, pixels in thumbnails.label_anchors(labels):
        if binary:
            name = names[value - 1] if names is not None and value - 1 < len(names) else None
        else:
            name = own_names[value] if value < len(own_names) else None
        out.append({"value": value, "name": name, "x": round(x, 4), "y": round(y, 4), "pixels": pixels})
    return out


def read_picture(tensor: Any) -> tuple[bytes | None, np.ndarray | None]:
    """Stored bytes (sample-compressed or linked tensors) or pixels (raw tensors) of one image sample."""
    if tensor.sample_compression or tensor.is_link:
        return tensor.tobytes(), None
    return None, tensor.numpy()


def _picture_entry(job: Any, shape: Any, buffers: list[bytes]) -> dict[str, Any]:
    """Wait for a picture (a Future, or the exception reading it raised), append its bytes to
    ``buffers`` and return its fields: ``buffer``, ``mime``, ``width``, ``height``, ``stored``, ``shape``."""
    try:
        if isinstance(job, BaseException):
            raise job
        pic = job.result()
    except READ_ERRORS as exc:
        return {"error": str(exc)}
    buffers.append(pic.data)
    return {"buffer": len(buffers) - 1, "mime": pic.mime, "width": pic.width, "height": pic.height,
            "stored": pic.stored, "shape": [int(d) for d in shape]}


def _picture(tensor: Any, side: int, max_bytes: int, passthrough: int, buffers: list[bytes]) -> dict[str, Any]:
    """``_picture_entry`` for one single-row image Tensor, read and encoded now."""
    try:
        job: Any = thumbnails.submit(*read_picture(tensor), side, max_bytes, passthrough)
        shape = np.asarray(tensor.shapes())[0]
    except READ_ERRORS as exc:
        job, shape = exc, []
    return _picture_entry(job, shape, buffers)


def _picture_fields(image: dict[str, Any]) -> dict[str, Any]:
    return {k: image[k] for k in ("buffer", "mime", "width", "height", "stored")}


def _describe(tensor: Any, buffers: list[bytes]) -> dict[str, Any]:
    """The detail-panel entry of one tensor of one sample (``tensor`` is a single-row Tensor)."""
    if tensor.meta.sequence:
        return {"kind": "sequence", "items": int(tensor.shape[0]) if tensor.shape and tensor.shape[0] else 0}
    kind = ov.role(tensor)
    if kind == "image":
        pic = _picture(tensor, DETAIL_SIDE // 2, DETAIL_MAX_BYTES // 4, DETAIL_SIDE, buffers)
        return {"kind": "error", "message": pic["error"]} if "error" in pic else {"kind": "image", **_picture_fields(pic)}
    if kind == "mask":
        binary = tensor.base_htype == "binary_mask"
        labels = thumbnails.label_map(tensor.numpy(), binary, DETAIL_MASK_SIDE)
        buffers.append(labels.tobytes())
        out = {"kind": "mask", "buffer": len(buffers) - 1, "map_dtype": str(labels.dtype), "binary": binary,
               "width": int(labels.shape[1]), "height": int(labels.shape[0])}
        if not binary:
            out["class_names"] = list(tensor.meta.info.get("class_names", []))[:1000]
        return out
    if kind == "label":
        ids = np.asarray(tensor.numpy())
        if ids.size > ov.DETAIL_OBJECTS:  # the rest come in objects requests
            return {"kind": "label", **_label_objects(ids, classes.class_names(tensor), 0, ov.DETAIL_OBJECTS),
                    "value": values.json_safe(np.ravel(ids)[:ov.DETAIL_OBJECTS])}
        data = tensor.data()
        return {"kind": "label", "value": values.json_safe(data["value"]), "names": data.get("text", [])}
    if kind == "text":
        return {"kind": "text", **values.text_value(str(tensor.data()["value"]))}
    if tensor.meta.kind == "json":
        return {"kind": "json", **values.json_value(tensor.data()["value"])}
    if tensor.meta.kind == "polygon":
        return {"kind": "json", **values.json_value([np.asarray(p).tolist() for p in tensor.numpy(aslist=True)])}
    out = {"kind": "array", **values.array_value(tensor.numpy())}
    if kind == "box":
        out["coords"] = tensor.meta.info.get("coords")
    return out

