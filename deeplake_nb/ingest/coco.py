"""``dl.ingest_coco``: a folder of images and COCO annotation files into one dataset, one row per image.

As in Deep Lake v3: the images tensor (``images``) is at the top; each annotation file's keys
become tensors in a group named after the file (``file_to_group_mapping`` renames it), or at the
top with ``ignore_one_group`` and a single file; ``key_to_tensor_mapping`` renames keys
(one-to-one), ``ignore_keys`` leaves keys out; keys are found in the first ``inspect_limit``
annotations. Several files are merged by image: row ``i`` holds image ``i`` and its annotations
of every file. What each key's values become is in ``coco_annotations``.

Segmentations (``segmentation_format``): ``"polygon"`` (a ``polygon`` tensor: each object's
first polygon), ``"mask"`` (a ``binary_mask`` tensor, (H, W, N), with every polygon and RLE of
each object), ``"both"``, or ``"auto"`` (polygons, plus masks when the file has RLEs).
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any, Iterator

from ..core.dataset import Dataset
from ..errors import IngestionError, IngestionWarning
from ..format.sample import LinkedSample
from . import batches, files
from . import coco_annotations as ann
from .target import add_link_creds, target

SEGMENTATION_FORMATS = ("auto", "polygon", "mask", "both")
KEY_PARAMS: dict[str, dict[str, Any]] = {
    "bbox": {"htype": "bbox", "coords": {"type": "pixel", "mode": "LTWH"}},
    "category_id": {"htype": "class_label"},
    "segmentation": {"htype": "polygon"},
    ann.MASK: {"htype": "binary_mask", "sample_compression": "lz4"},
    "keypoints": {"htype": "keypoints_coco"},
    "image_id": {"htype": "generic", "dtype": "int64"},
}


def ingest_coco(images_directory: str | os.PathLike[str], annotation_files: Any, dest: Any,
                key_to_tensor_mapping: dict[str, str] | None = None,
                file_to_group_mapping: dict[str, str] | None = None, ignore_one_group: bool = True,
                ignore_keys: list[str] | str | None = None, image_params: dict[str, Any] | None = None,
                image_creds_key: str | None = None, src_creds: Any = None, dest_creds: Any = None,
                inspect_limit: int = 1000000, progressbar: bool = True, shuffle: bool = False,
                num_workers: int = 0, token: str | None = None, connect_kwargs: dict[str, Any] | None = None,
                segmentation_format: str = "auto", **dataset_kwargs: Any) -> Dataset:
    """Ingest the images of ``images_directory`` with their annotations in ``annotation_files``
    (a path or a list) into a new dataset at ``dest``; see the module docstring.

    ``image_params``: ``create_tensor`` arguments of the images tensor (``name``; ``htype``
    ``"link[image]"`` stores links instead, read with ``image_creds_key``; ``sample_compression``
    defaults to the images' most common format, stored byte-identical). Every image of the folder
    must be listed in at least one annotation file. ``shuffle``: rows in random order; image
    files are read a batch at a time as ``files.read_parts`` says (``num_workers`` > 1: each
    file on one of that many threads, a batch ahead). Sources are local, or on an object store (``s3://``, ``gs://``,
    ``az://``) read with ``src_creds`` (v3's credential names, or the environment's). On any
    error nothing is left at ``dest``; the message names the file."""
    if "image_settings" in dataset_kwargs:  # v3's earlier name of image_params
        image_params = _from_image_settings(dataset_kwargs.pop("image_settings"))
    folder = files.folder(images_directory, "images directory", src_creds)
    if segmentation_format not in SEGMENTATION_FORMATS:
        raise IngestionError(f"segmentation_format must be one of {SEGMENTATION_FORMATS}; got {segmentation_format!r}.")
    names = files.images(folder.files())
    image_params = dict(image_params or {})
    image_params.setdefault("sample_compression", files.most_common_compression(names, images_directory))
    cocos = [ann.load(path, src_creds) for path in (annotation_files if isinstance(annotation_files, (list, tuple))
                                                    else [annotation_files])]
    layout = _Layout(cocos, key_to_tensor_mapping or {}, file_to_group_mapping or {}, ignore_one_group,
                     _as_list(ignore_keys), inspect_limit, segmentation_format)
    _check_listed(names, cocos, folder)
    if shuffle:
        random.shuffle(names)
    with target(dest, os.fspath(images_directory), dest_creds, token, connect_kwargs, **dataset_kwargs) as ds:
        image_tensor = layout.create(ds, image_params)
        add_link_creds(ds, image_creds_key, src_creds)
        is_link = ds[image_tensor].meta.link
        rows = _batches(folder, names, layout, image_tensor, is_link, image_creds_key, num_workers)
        batches.write(ds, rows, len(names), f"ingesting {folder.name}", progressbar)
    return ds


def _from_image_settings(settings: dict[str, Any]) -> dict[str, Any]:
    params = dict(settings)
    if params.pop("linked", False) or params.pop("link", False):
        params["htype"] = "link[image]"
    return params


def _as_list(keys: list[str] | str | None) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys or [])


def _check_listed(names: list[str], cocos: list[ann.CocoFile], folder: files.Folder) -> None:
    """Every image file must be in some annotation file's images."""
    for name in names:
        if not any(name in coco.images for coco in cocos):
            raise IngestionError(f"Image {folder.where(name)!r} is in none of the annotation files "
                                 f"({', '.join(c.path for c in cocos)}); add it to one or move it out.")


class _Layout:
    """Which tensor each annotation key of each file becomes."""

    def __init__(self, cocos: list[ann.CocoFile], key_to_tensor: dict[str, str], file_to_group: dict[str, str],
                 ignore_one_group: bool, ignore_keys: list[str], inspect_limit: int, segmentation_format: str) -> None:
        if len(set(key_to_tensor.values())) != len(key_to_tensor):
            raise IngestionError(f"key_to_tensor_mapping must map keys to distinct tensor names; got {key_to_tensor}.")
        groups = {Path(k).stem: v for k, v in file_to_group.items()}
        if len(set(groups.values())) != len(groups):
            raise IngestionError(f"file_to_group_mapping must map files to distinct groups; got {file_to_group}.")
        self.flat = ignore_one_group and len(cocos) == 1
        self.cocos = cocos
        self.inspect_limit = inspect_limit
        self.tensors: list[tuple[ann.CocoFile, str, str, str]] = []  # (file, key, tensor name, value kind)
        group_names = [groups.get(c.stem, c.stem) for c in cocos]
        if len(set(group_names)) != len(group_names):
            raise IngestionError(f"Annotation files {[c.path for c in cocos]} give one group name twice; "
                                 "name their groups with file_to_group_mapping.")
        for coco, group in zip(cocos, group_names):
            for key in self._keys(coco, ignore_keys, segmentation_format):
                name = key_to_tensor.get(key, key)
                kind = "" if key in KEY_PARAMS else ann.kind_of(coco, key, inspect_limit)
                self.tensors.append((coco, key, name if self.flat else f"{group}/{name}", kind))

    def _keys(self, coco: ann.CocoFile, ignore_keys: list[str], segmentation_format: str) -> list[str]:
        keys = [k for k in ann.keys(coco, self.inspect_limit) if k not in ignore_keys]
        if "segmentation" in keys:
            fmt = segmentation_format
            if fmt == "auto":
                fmt = "both" if ann.has_rle(coco, self.inspect_limit) else "polygon"
            if fmt == "mask":
                keys.remove("segmentation")
            if fmt in ("mask", "both"):
                keys.append(ann.MASK)
            if fmt == "polygon" and ann.several_polygons(coco):
                warnings.warn(f"{ann.several_polygons(coco)} objects of {coco.path} have several polygons; "
                              "the polygon tensor keeps the first of each (segmentation_format='both' also stores "
                              "masks with all of them).", IngestionWarning, stacklevel=4)
            if fmt == "polygon" and ann.has_rle(coco):
                raise IngestionError(f"{coco.path} has RLE segmentations, which are not polygons; pass "
                                     "segmentation_format='mask' or 'both'.")
        return keys

    def create(self, ds: Dataset, image_params: dict[str, Any]) -> str:
        """Make every tensor; returns the images tensor's name."""
        params = {"htype": "image", **image_params}
        name = params.pop("name", "images")
        ds.create_tensor(name, **params)
        for coco, key, tensor, kind in self.tensors:
            ds.create_tensor(tensor, **self._params(coco, key, kind))
        return name

    @staticmethod
    def _params(coco: ann.CocoFile, key: str, kind: str) -> dict[str, Any]:
        if key == "category_id":
            return {"htype": "class_label", "class_names": coco.class_names}
        if key == "keypoints":
            return {"htype": "keypoints_coco", "keypoints": coco.keypoint_names, "connections": coco.skeleton}
        if key in KEY_PARAMS:
            return KEY_PARAMS[key]
        return {"htype": "list"} if kind == "list" else {"htype": "generic", "dtype": kind}

    def row(self, image_name: str) -> dict[str, Any]:
        """Every annotation tensor's value for one image."""
        return {tensor: ann.value(coco, key, image_name, kind) for coco, key, tensor, kind in self.tensors}


def _batches(folder: files.Folder, names: list[str], layout: _Layout, image_tensor: str, is_link: bool,
             creds_key: str | None, num_workers: int) -> Iterator[batches.Batch]:
    parts = [names[start:start + batches.BATCH_ROWS] for start in range(0, len(names), batches.BATCH_ROWS)]
    read = iter(()) if is_link else files.read_parts(folder, parts, num_workers)
    for part in parts:
        paths = [folder.where(name) for name in part]
        images = [LinkedSample(p, creds_key) for p in paths] if is_link else next(read)
        columns: dict[str, list[Any]] = {image_tensor: images}
        for name in part:
            for tensor, value in layout.row(name).items():
                columns.setdefault(tensor, []).append(value)
        yield columns, paths
