"""One COCO annotation file, read and checked, and its annotations as per-image tensor values.

A file needs ``images`` (each with ``id`` and ``file_name``), ``annotations`` (each with
``image_id``) and ``categories`` (each with ``id`` and ``name``); every problem is an
``IngestionError`` naming the file (and the annotation's ``id``). Per image, a key's value holds
one entry per annotation of that image, in file order:

- ``bbox`` -> (N, 4) float32 boxes (COCO's LTWH pixels);
- ``category_id`` -> (N,) indices into ``class_names`` (the categories' names, in file order);
- ``segmentation`` -> N polygons of (P, 2) points (an object's first polygon; an RLE object's is
  empty), and/or an (H, W, N) mask with every polygon and RLE of each object (pycocotools);
- ``keypoints`` -> (3 * K, N) int32, COCO's keypoints_coco layout;
- ``image_id`` -> the image's own id (one number, also for images without annotations);
- any other key -> (N,) bool / int64 / float64 values, or a list of N values of other types.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from ..errors import IngestionError
from . import extras, files

REQUIRED = ("images", "annotations", "categories")
MASK = "segmentation_mask"  # the key of the mask tensor (its name unless key_to_tensor_mapping renames it)


@dataclass
class CocoFile:
    """A parsed annotation file (``path``: its path or URL): its images by file name, annotations
    by image id, categories."""
    path: str
    images: dict[str, dict[str, Any]]
    by_image: dict[Any, list[dict[str, Any]]]
    class_index: dict[Any, int]
    class_names: list[str]
    keypoint_names: list[str] = field(default_factory=list)
    skeleton: list[Any] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    def where(self, annotation: dict[str, Any] | None = None) -> str:
        """The file (and annotation) for messages."""
        return self.path if annotation is None else f"{self.path} (annotation id {annotation.get('id', '?')})"

    def annotations(self, image_name: str) -> list[dict[str, Any]]:
        image = self.images.get(image_name)
        return [] if image is None else self.by_image.get(image["id"], [])


def load(path: Any, creds: dict[str, Any] | None = None) -> CocoFile:
    """Read and check one annotation file (local, or on an object store read with ``creds``)."""
    text, found = files.read_text(path, "COCO annotation file", creds)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestionError(f"{found!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                             f"{exc.msg}); fix the file.") from exc
    missing = [key for key in REQUIRED if not isinstance(data, dict) or not isinstance(data.get(key), list)]
    if missing:
        raise IngestionError(f"{found!r} is not a COCO annotation file: it has no list {missing[0]!r} "
                             f"(required: {', '.join(REQUIRED)}).")
    try:
        images = {str(im["file_name"]): im for im in data["images"]}
        class_index = {cat["id"]: i for i, cat in enumerate(data["categories"])}
        class_names = [str(cat["name"]) for cat in data["categories"]]
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for ann in data["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
    except (KeyError, TypeError) as exc:
        raise IngestionError(f"{found!r}: an image, category or annotation lacks key {exc} (images need "
                             "id and file_name, categories id and name, annotations image_id).") from exc
    with_points: dict[str, Any] = next((c for c in data["categories"] if c.get("keypoints")), {})
    return CocoFile(found, images, by_image, class_index, class_names,
                    [str(k) for k in with_points.get("keypoints", [])], with_points.get("skeleton", []))


def keys(coco: CocoFile, inspect_limit: int) -> list[str]:
    """The annotation keys of the first ``inspect_limit`` annotations (at least one), in first-seen order."""
    seen: dict[str, None] = {}
    count = 0
    for anns in coco.by_image.values():
        for ann in anns:
            if count >= max(inspect_limit, 1):
                return list(seen)
            seen.update(dict.fromkeys(ann))
            count += 1
    return list(seen)


def has_rle(coco: CocoFile, inspect_limit: int | None = None) -> bool:
    """Whether any of the first ``inspect_limit`` segmentations (None: all) is an RLE (a dict)."""
    count = 0
    for anns in coco.by_image.values():
        for ann in anns:
            if isinstance(ann.get("segmentation"), dict):
                return True
            count += 1
            if inspect_limit is not None and count >= max(inspect_limit, 1):
                return False
    return False


def kind_of(coco: CocoFile, key: str, inspect_limit: int) -> str:
    """What the values of an other key are: "bool", "int64", "float64" or "list" (anything else)."""
    values = [ann[key] for anns in coco.by_image.values() for ann in anns if key in ann][:max(inspect_limit, 1)]
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int64"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float64"
    return "list"


def value(coco: CocoFile, key: str, image_name: str, kind: str = "") -> Any:
    """The value of tensor ``key`` (an annotation key, or ``MASK``) for one image; see the module docstring."""
    anns = coco.annotations(image_name)
    if key == "image_id":
        image = coco.images.get(image_name)
        return None if image is None else np.int64(image["id"])
    if key == MASK:
        return mask(coco, image_name, anns)
    values = [_field(coco, ann, key) for ann in anns]
    if key == "bbox":
        return _boxes(coco, anns, values)
    if key == "category_id":
        return _categories(coco, anns, values)
    if key == "segmentation":
        return [_polygon(coco, ann, seg) for ann, seg in zip(anns, values)]
    if key == "keypoints":
        return _keypoints(coco, anns, values)
    if kind == "list":
        return values
    return np.array(values, dtype=kind or None)


def _field(coco: CocoFile, ann: dict[str, Any], key: str) -> Any:
    try:
        return ann[key]
    except KeyError:
        raise IngestionError(f"{coco.where(ann)} has no {key!r}, which other annotations of the file have; add it, "
                             f"or pass ignore_keys=[{key!r}].") from None


def _boxes(coco: CocoFile, anns: list[dict[str, Any]], values: list[Any]) -> np.ndarray:
    for ann, box in zip(anns, values):
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise IngestionError(f"{coco.where(ann)}: bbox must be 4 numbers [x, y, width, height]; got {box!r}.")
    return np.array(values, dtype=np.float32).reshape(-1, 4)


def _categories(coco: CocoFile, anns: list[dict[str, Any]], values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=np.uint32)
    for i, (ann, category) in enumerate(zip(anns, values)):
        if category not in coco.class_index:
            raise IngestionError(f"{coco.where(ann)}: category_id {category!r} is not among the file's categories.")
        out[i] = coco.class_index[category]
    return out


def _polygon(coco: CocoFile, ann: dict[str, Any], seg: Any) -> np.ndarray:
    """An object's first polygon as (P, 2) points; (0, 2) for an RLE or an empty segmentation."""
    if isinstance(seg, dict) or (isinstance(seg, list) and not seg):
        return np.zeros((0, 2), dtype=np.float32)
    if not isinstance(seg, list) or not isinstance(seg[0], list) or len(seg[0]) % 2:
        raise IngestionError(f"{coco.where(ann)}: segmentation must be a list of polygons [x1, y1, x2, y2, ...] "
                             "(an even count of numbers each) or an RLE dict.")
    return np.array(seg[0], dtype=np.float32).reshape(-1, 2)


def several_polygons(coco: CocoFile) -> int:
    """How many objects have more than one polygon (the polygon tensor keeps the first)."""
    return sum(isinstance(a.get("segmentation"), list) and len(a["segmentation"]) > 1
               for anns in coco.by_image.values() for a in anns)


def _keypoints(coco: CocoFile, anns: list[dict[str, Any]], values: list[Any]) -> np.ndarray:
    width = 3 * len(coco.keypoint_names)
    if not values:
        return np.zeros((width, 0), dtype=np.int32)
    lengths = {len(v) if isinstance(v, list) else -1 for v in values}
    if len(lengths) != 1 or min(lengths) % 3 or min(lengths) < 0:
        raise IngestionError(f"{coco.where(anns[0])}: keypoints of an image's objects must be lists of "
                             "3 * K numbers (x, y, visibility), with one K; got lengths "
                             f"{sorted(lengths)}.")
    return np.array(values).T


def mask(coco: CocoFile, image_name: str, anns: list[dict[str, Any]]) -> np.ndarray:
    """The (H, W, N) bool mask of the image's objects, decoded with pycocotools."""
    coco_mask = extras.require("pycocotools.mask", "Decoding COCO segmentation masks")

    image = coco.images.get(image_name, {})
    height, width = image.get("height"), image.get("width")
    if not anns:
        return np.zeros((height or 0, width or 0, 0), dtype=bool)
    if height is None or width is None:
        raise IngestionError(f"{coco.where()}: image {image_name!r} has no height and width, which its "
                             "segmentation masks need; add them to the image entry.")
    out = np.zeros((height, width, len(anns)), dtype=bool)
    for i, ann in enumerate(anns):
        seg = _field(coco, ann, "segmentation")
        try:
            if isinstance(seg, dict) and isinstance(seg.get("counts"), (str, bytes)):
                rle = dict(seg, counts=seg["counts"].encode() if isinstance(seg["counts"], str) else seg["counts"])
            elif isinstance(seg, dict):
                rle = coco_mask.frPyObjects(seg, height, width)
            elif seg:
                rle = coco_mask.merge(coco_mask.frPyObjects(seg, height, width))
            else:
                continue
            with warnings.catch_warnings():  # pycocotools' own NumPy 2 deprecation notice
                warnings.simplefilter("ignore", DeprecationWarning)
                out[..., i] = coco_mask.decode(rle).astype(bool)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise IngestionError(f"{coco.where(ann)}: its segmentation could not be decoded ({exc}); it must be "
                                 f"polygons or an RLE of size [{height}, {width}].") from exc
    return out
