"""Class names attached to drawn objects, and one colour number per class name.

Pairing: the objects of a ``bbox`` tensor (one box per row of a sample) or of a ``binary_mask``
tensor (one object per channel) take their class names from a ``class_label`` tensor that holds
one class id per object in the same sample:

- given explicitly: ``ds.visualize(labels={"boxes": "categories"})``;
- else by the layout Deep Lake's own ingestion and tutorials use: the ``class_label`` tensor in
  the same group as the object tensor (``boxes`` + ``labels`` at the root, ``annotations/boxes`` +
  ``annotations/categories`` in a group); when a group holds several, the one whose name is the
  first of ``LABEL_NAMES`` found; none when that still leaves a choice (pass ``labels=``).

A ``segment_mask`` needs no pairing: its pixel values are ids into its own ``class_names``. A
pairing that does not fit a sample (not one id per object) leaves that sample's objects unnamed.

Colours: ``colour_numbers`` numbers every class name of the dataset's ``class_label`` and
``segment_mask`` tensors in order of first appearance; the browser draws class number k with
palette colour k everywhere (boxes, masks, badges, the query widget's chart), so one class has
one colour in every tensor and the first palette-size classes all differ.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import WidgetRequestError
from . import overlays as ov

LABEL_NAMES = ("labels", "label", "categories", "category", "classes", "class", "class_labels")
MAX_COLOURED = 4096   # class names numbered for the browser (more share colours by hashing there)


def group_of(name: str) -> str:
    return name.rpartition("/")[0]


def leaf_of(name: str) -> str:
    return name.rpartition("/")[2]


def pair(tensors: Mapping[str, Any], explicit: Mapping[str, str] | None = None) -> dict[str, str]:
    """Object tensor name -> class_label tensor name, for every box and binary-mask tensor that has
    one (see the module doc). ``explicit`` pairs are checked: WidgetRequestError when a key is
    not a box/binary-mask tensor or a value not a class_label tensor."""
    roles = {name: ov.role(t) for name, t in tensors.items()}
    labels = [name for name, t in tensors.items() if roles[name] == "label"]
    objects = [name for name, t in tensors.items() if _has_objects(t, roles[name])]
    out: dict[str, str] = {}
    for name in objects:
        same_group = [label for label in labels if group_of(label) == group_of(name)]
        if len(same_group) == 1:
            out[name] = same_group[0]
            continue
        for wanted in LABEL_NAMES:
            found = [label for label in same_group if leaf_of(label) == wanted]
            if found:
                out[name] = found[0]
                break
    for name, label in (explicit or {}).items():
        if name not in objects:
            raise WidgetRequestError(f"labels={{{name!r}: ...}}: {name!r} is not a bbox or binary_mask tensor; "
                                     f"those are {objects}.")
        if label not in labels:
            raise WidgetRequestError(f"labels={{{name!r}: {label!r}}}: {label!r} is not a class_label tensor; "
                                     f"those are {labels}.")
        out[name] = label
    return out


def _has_objects(tensor: Any, role: str) -> bool:
    return role == "box" or (role == "mask" and tensor.base_htype == "binary_mask")


def class_names(tensor: Any) -> list[str]:
    """The ``class_names`` a class_label or segment_mask tensor keeps in its info ([] if none)."""
    return [str(n) for n in (tensor.meta.info.get("class_names") or [])]


def colour_numbers(tensors: Mapping[str, Any]) -> dict[str, int]:
    """Class name -> colour number over every class_label and segment_mask tensor (module doc)."""
    out: dict[str, int] = {}
    for tensor in tensors.values():
        if ov.role(tensor) == "label" or tensor.base_htype == "segment_mask":
            for name in class_names(tensor):
                if len(out) >= MAX_COLOURED:
                    return out
                out.setdefault(name, len(out))
    return out


def object_names(ids: Any, names: list[str], count: int, start: int = 0, stop: int | None = None) -> list[str] | None:
    """The class names of objects ``start .. stop - 1`` (all by default) of a sample's ``count``
    objects from its class ids, or None when the ids are not one per object."""
    flat = np.ravel(ids) if ids is not None else np.zeros(0, np.int64)
    if flat.size != count:
        return None
    return ov.label_names(flat[start:stop], names)
