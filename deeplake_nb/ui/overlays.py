"""What each tensor contributes to a picture of a sample, and its overlays in picture coordinates.

Roles, by base htype (sequence tensors have no role in the grid; the detail panel lists them):

- ``image``: image, image.rgb, image.gray (also ``link[image]``) — the picture itself;
- ``label``: class_label — class names drawn as badges;
- ``box``: bbox — rectangles, converted to fractions of the picture (so they fit any thumbnail size);
- ``mask``: binary_mask, segment_mask — semi-transparent colours over the picture;
- ``text``: text — a caption under the picture;
- anything else: ``other`` (detail panel only).

Overlay geometry always travels as fractions ``[left, top, width, height]`` of the image, whatever
the bbox tensor's ``coords`` say (``format.htypes.bbox_layout`` reads them).

Objects are capped so that a message stays small whatever a sample holds: a page reply carries at
most ``PAGE_OBJECTS`` boxes (or class names) per overlay, a detail reply ``DETAIL_OBJECTS``; a
capped overlay says how many there are (``"total"``) and the rest come in ``objects`` requests
(``protocol``) of at most ``DETAIL_OBJECTS`` each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..format.htypes import bbox_layout

ROLES = {"image": "image", "image.rgb": "image", "image.gray": "image", "class_label": "label", "bbox": "box",
         "binary_mask": "mask", "segment_mask": "mask", "text": "text"}
OVERLAY_ROLES = ("label", "box", "mask", "text")
TEXT_OVERLAY_CHARS = 160
PAGE_OBJECTS = 200        # boxes / class names per overlay of one thumbnail
DETAIL_OBJECTS = 5000     # ... of the detail panel, and of one ``objects`` reply


def role(tensor: Any) -> str:
    """The role of a tensor in a picture (see the module doc)."""
    if tensor.meta.sequence:
        return "other"
    return ROLES.get(tensor.base_htype, "other")


def box_fractions(boxes: Any, coords: dict[str, str] | None, height: int, width: int) -> np.ndarray:
    """(K, 4) boxes in the tensor's coords -> (K, 4) float64 ``[left, top, width, height]`` fractions."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    kind, fractional = bbox_layout(coords)
    a, b, c, d = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
    if kind == "LTRB":
        left, top, w, h = a, b, c - a, d - b
    elif kind == "LTWH":
        left, top, w, h = a, b, c, d
    else:  # CCWH
        left, top, w, h = a - c / 2, b - d / 2, c, d
    out = np.stack([left, top, w, h], axis=1)
    if not fractional:
        out /= np.asarray([max(width, 1), max(height, 1), max(width, 1), max(height, 1)], np.float64)
    return out


def label_names(ids: Any, class_names: list[str]) -> list[str]:
    """Class ids -> names (the id as text where the tensor has no name for it)."""
    return [class_names[i] if 0 <= i < len(class_names) else str(i) for i in np.ravel(ids).astype(np.int64).tolist()]


def short_text(text: str) -> str:
    return text if len(text) <= TEXT_OVERLAY_CHARS else text[:TEXT_OVERLAY_CHARS - 1] + "…"
