"""``dl.ingest_yolo``: images with YOLO ``.txt`` annotations into images, labels and boxes (or polygons).

Each image ``a/b.jpg`` of ``data_directory`` pairs with ``a/b.txt`` in ``annotations_directory``
(default: beside it). A line is ``class x_center y_center width height`` (fractions of the
image: a ``bbox`` tensor ``boxes`` with coords ``{"type": "fractional", "mode": "CCWH"}``), or
``class x1 y1 x2 y2 ...`` (a ``polygon`` tensor ``polygons``): polygons when any of the first
``inspect_limit`` files has a line of other than 4 coordinates, unless ``coordinates_params``
says. Labels are a ``class_label`` tensor with the lines of ``class_names_file`` as class names.
Every annotation file is read and checked (its lines, its class numbers) before ``dest`` is made.
"""

from __future__ import annotations

import os
import posixpath
import random
from typing import Any, Iterator

import numpy as np

from ..core.dataset import Dataset
from ..errors import IngestionError
from ..format.sample import LinkedSample
from . import batches, files
from .target import add_link_creds, target

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "images": {"name": "images", "htype": "image"},
    "labels": {"name": "labels", "htype": "class_label"},
    "bbox": {"name": "boxes", "htype": "bbox", "coords": {"type": "fractional", "mode": "CCWH"}},
    "polygon": {"name": "polygons", "htype": "polygon"}}

Annotation = tuple[np.ndarray, list[np.ndarray], str]  # (labels, one coordinate array per line, the file)


def ingest_yolo(data_directory: str | os.PathLike[str], dest: Any,
                class_names_file: str | os.PathLike[str] | None = None,
                annotations_directory: str | os.PathLike[str] | None = None, allow_no_annotation: bool = False,
                image_params: dict[str, Any] | None = None, label_params: dict[str, Any] | None = None,
                coordinates_params: dict[str, Any] | None = None, src_creds: Any = None, dest_creds: Any = None,
                image_creds_key: str | None = None, inspect_limit: int = 1000, progressbar: bool = True,
                shuffle: bool = False, num_workers: int = 0, token: str | None = None,
                connect_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> Dataset:
    """Ingest a YOLO folder into a new dataset at ``dest``; see the module docstring.

    ``image_params`` / ``label_params`` / ``coordinates_params``: ``create_tensor`` arguments
    (``name``; an images ``htype`` of ``"link[image]"`` stores links, read with
    ``image_creds_key``). An image without an annotation file is an error unless
    ``allow_no_annotation=True`` (it gets empty labels and coordinates). A class number past
    the class names file is an error naming the file and line. Image files are read a batch
    at a time as ``files.read_parts`` says (``num_workers`` > 1: each file on one of that many
    threads, a batch ahead).
    On any error nothing is left at ``dest``."""
    root = files.folder(data_directory, "data directory", src_creds)
    ann_root = files.folder(annotations_directory, "annotations directory", src_creds) if annotations_directory \
        else root
    class_names, names_file = _class_names(class_names_file, src_creds)
    images = files.images(root.files())
    if not images:
        files.most_common_compression(images, data_directory)  # raises: no images
    annotations = {img: _read(ann_root, posixpath.splitext(img)[0] + ".txt", class_names, allow_no_annotation,
                              root.where(img), names_file) for img in images}
    image_params = {**DEFAULT_PARAMS["images"], **(image_params or {})}
    image_params.setdefault("sample_compression", files.most_common_compression(images, data_directory))
    label_params = {**DEFAULT_PARAMS["labels"], **(label_params or {})}
    if class_names:
        label_params.setdefault("class_names", class_names)
    coordinates_params = _coordinates_params(coordinates_params or {}, list(annotations.values())[:inspect_limit])
    if shuffle:
        random.shuffle(images)
    with target(dest, os.fspath(data_directory), dest_creds, token, connect_kwargs, **dataset_kwargs) as ds:
        tensors = [p.pop("name") for p in (image_params, label_params, coordinates_params)]
        for name, params in zip(tensors, (image_params, label_params, coordinates_params)):
            ds.create_tensor(name, **params)
        add_link_creds(ds, image_creds_key, src_creds)
        is_box = ds[tensors[2]].meta.base_htype == "bbox"
        rows = _batches(root, images, annotations, tensors, ds[tensors[0]].meta.link, is_box, image_creds_key,
                        num_workers)
        batches.write(ds, rows, len(images), f"ingesting {root.name}", progressbar)
    return ds


def _class_names(path: Any, creds: dict[str, Any] | None) -> tuple[list[str], str | None]:
    """The class names file's non-empty lines, and the file's real path (None: no file)."""
    if path is None:
        return [], None
    text, name = files.read_text(path, "class names file", creds)
    return [line.strip() for line in text.splitlines() if line.strip()], _real(name)


def _real(name: str) -> str:
    return name if "://" in name else os.path.realpath(name)


def _read(folder: Any, rel: str, class_names: list[str], allow_missing: bool, image: str,
          names_file: str | None) -> Annotation:
    """An annotation file's labels and coordinates; checked line by line."""
    path = folder.where(rel)
    if not folder.exists(rel) or _real(path) == names_file:
        if not allow_missing:
            raise IngestionError(f"Image {image!r} has no annotation file {path!r}; add it, "
                                 "or pass allow_no_annotation=True to give it empty annotations.")
        return np.zeros(0, dtype=np.uint32), [], path
    labels, coords = [], []
    for number, line in enumerate(files.decode(folder.read(rel), path).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            label, values = int(fields[0]), np.array([float(v) for v in fields[1:]], dtype=np.float32)
        except ValueError:
            raise IngestionError(f"{path}:{number}: a YOLO line is a class number and coordinates; "
                                 f"got {line.strip()!r}.") from None
        if label < 0 or (class_names and label >= len(class_names)):
            raise IngestionError(f"{path}:{number}: class {label} is not among the {len(class_names)} "
                                 "class names; fix the line or the class names file.")
        if len(values) < 4 or len(values) % 2:
            raise IngestionError(f"{path}:{number}: a box has 4 coordinates and a polygon an even number "
                                 f"(at least 4); got {len(values)}.")
        labels.append(label)
        coords.append(values)
    return np.array(labels, dtype=np.uint32), coords, path


def _coordinates_params(given: dict[str, Any], inspected: list[Annotation]) -> dict[str, Any]:
    """Boxes unless an inspected line has other than 4 coordinates (or ``given`` says)."""
    if "htype" in given:
        kind = "polygon" if given["htype"] == "polygon" else "bbox"
    else:
        kind = "polygon" if any(len(c) != 4 for _, coords, _ in inspected for c in coords) else "bbox"
    return {**DEFAULT_PARAMS[kind], **given}


def _value(annotation: Annotation, is_box: bool) -> Any:
    _, coords, path = annotation
    if not is_box:
        return [c.reshape(-1, 2) for c in coords]
    if any(len(c) != 4 for c in coords):
        raise IngestionError(f"{path} has polygon lines but the coordinates tensor holds boxes; "
                             "pass coordinates_params={'htype': 'polygon'} or a larger inspect_limit.")
    return np.array(coords, dtype=np.float32).reshape(-1, 4)


def _batches(root: files.Folder, images: list[str], annotations: dict[str, Annotation], tensors: list[str],
             is_link: bool, is_box: bool, creds_key: str | None, num_workers: int) -> Iterator[batches.Batch]:
    image_tensor, label_tensor, coord_tensor = tensors
    parts = [images[start:start + batches.BATCH_ROWS] for start in range(0, len(images), batches.BATCH_ROWS)]
    read = iter(()) if is_link else files.read_parts(root, parts, num_workers)
    for part in parts:
        paths = [root.where(p) for p in part]
        samples = [LinkedSample(p, creds_key) for p in paths] if is_link else next(read)
        yield {image_tensor: samples,
               label_tensor: [annotations[p][0] for p in part],
               coord_tensor: [_value(annotations[p], is_box) for p in part]}, paths
