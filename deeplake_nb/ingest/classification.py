"""``dl.ingest_classification``: an ImageFolder tree (the class is the folder name) into images + class labels.

Layouts, as Deep Lake v3 reads them (paths relative to ``src``):

- ``class/img.jpg``: one set; tensors ``images`` and ``labels``;
- ``split/class/img.jpg`` (``train/``, ``val/`` ...): one pair of tensors per split,
  ``train/images``, ``train/labels`` ... (a single split keeps the plain names);
- ``img.jpg`` directly in ``src``: class ``src``'s folder name.

``class_names`` are every class folder's name, sorted, shared by all splits. Images whose format
is the images tensor's sample compression (by default the most common one) are stored
byte-identical; others are re-encoded. Rows go in with one ``ds.extend`` per batch of files.
"""

from __future__ import annotations

import io
import os
import random
from typing import Any, Iterator

import numpy as np

from ..core.dataset import Dataset
from ..errors import CorruptSampleError, IngestionError, SampleError
from ..format.sample import Sample
from . import batches, extras, files
from .target import target

IMAGES, LABELS = "images", "labels"


def ingest_classification(src: str | os.PathLike[str], dest: Any, image_params: dict[str, Any] | None = None,
                          label_params: dict[str, Any] | None = None, dest_creds: Any = None,
                          progressbar: bool = True, summary: bool = True, num_workers: int = 0,
                          shuffle: bool = True, token: str | None = None,
                          connect_kwargs: dict[str, Any] | None = None, ignore_errors: bool = False,
                          **dataset_kwargs: Any) -> Dataset:
    """Ingest the images of ImageFolder tree ``src`` (or a ``.csv`` table, through
    ``ingest_dataframe``) into a new dataset at ``dest`` (``dl.empty``'s ``**dataset_kwargs``).

    ``image_params`` / ``label_params``: ``create_tensor`` arguments of the two tensors (``name``
    renames them; ``sample_compression`` of the images, unless given (None or ``"auto"``: not
    given), is the files' most common format).
    ``shuffle``: rows in random order (Python's ``random``), as folders sort by class.
    Files are read a batch at a time (``files.read_parts``: on this thread from local disk; a
    batch ahead on a background thread from an object store, or with ``num_workers`` > 1, each
    file on one of that many threads). An unreadable image raises
    (the message names it) unless ``ignore_errors=True``, which leaves it out and lists it in
    the summary printed with ``summary=True``. On any error nothing is left at ``dest``."""
    if isinstance(src, (str, os.PathLike)) and os.fspath(src).lower().endswith((".csv", ".txt")):
        return _from_csv(src, dest, dest_creds, progressbar, token, connect_kwargs, dataset_kwargs)
    root = files.folder(src, "image folder (src)")
    _check_not_same(root, dest)
    paths = files.images(root.files())
    image_params, label_params = dict(image_params or {}), dict(label_params or {})
    if image_params.get("sample_compression") in (None, "auto"):  # as v3: unset or None means inferred
        image_params["sample_compression"] = files.most_common_compression(paths, src)
    layout = _layout(root, paths)
    class_names = _class_names(layout, label_params)
    sets = sorted({split for split, _ in layout.values()})
    if shuffle:
        random.shuffle(paths)
    skipped: list[str] = []
    with target(dest, os.fspath(src), dest_creds, token, connect_kwargs, **dataset_kwargs) as ds:
        names = _create_tensors(ds, sets, class_names, image_params, label_params)
        rows = batches.write(ds, _batches(root, paths, layout, names, class_names, num_workers, ignore_errors,
                                          skipped),
                             len(paths), f"ingesting {root.name}", progressbar)
    if summary:
        _print_summary(root, rows, class_names, sets, skipped)
    return ds


def _check_not_same(root: files.Folder, dest: Any) -> None:
    if (isinstance(dest, (str, os.PathLike)) and isinstance(root, files.Folder) and os.path.isdir(dest)
            and os.path.samefile(root.root, dest)):
        raise IngestionError(f"dest {os.fspath(dest)!r} is the image folder itself; write the dataset elsewhere.")


def _layout(root: files.Folder, paths: list[str]) -> dict[str, tuple[str, str]]:
    """Each image file's (split, class): see the module docstring."""
    out = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) == 1:
            out[path] = ("", root.name)
        else:
            out[path] = (parts[-3] if len(parts) >= 3 else "", parts[-2])
    return out


def _class_names(layout: dict[str, tuple[str, str]], label_params: dict[str, Any]) -> list[str]:
    """The class folders' names, sorted; or ``label_params["class_names"]`` when given (which must
    name every class folder)."""
    found = sorted({cls for _, cls in layout.values()})
    if "class_names" not in label_params:
        return found
    given = [str(c) for c in label_params["class_names"]]
    missing = [c for c in found if c not in given]
    if missing:
        example = next(p for p, (_, cls) in layout.items() if cls == missing[0])
        raise IngestionError(f"label_params['class_names'] lacks class folder(s) {missing} "
                             f"(e.g. {example!r}); "
                             "add them, or leave class_names out to use every folder's name.")
    return given


def _create_tensors(ds: Dataset, sets: list[str], class_names: list[str], image_params: dict[str, Any],
                    label_params: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Make the images/labels tensors of every split; returns split -> (images, labels) names."""
    image_params = {"htype": "image", **image_params}
    label_params = {"htype": "class_label", **label_params}
    image_name, label_name = image_params.pop("name", IMAGES), label_params.pop("name", LABELS)
    label_params["class_names"] = class_names
    names = {}
    for split in sets:
        prefix = f"{split}/" if len(sets) > 1 and split else ""
        names[split] = (prefix + image_name, prefix + label_name)
        ds.create_tensor(names[split][0], **image_params)
        ds.create_tensor(names[split][1], **label_params)
    return names


def _batches(root: files.Folder, paths: list[str], layout: dict[str, tuple[str, str]],
             names: dict[str, tuple[str, str]], class_names: list[str], num_workers: int, ignore_errors: bool,
             skipped: list[str]) -> Iterator[batches.Batch]:
    """Batches of (images, labels) rows, one split per batch, in ``paths`` order within a split."""
    ids = {name: i for i, name in enumerate(class_names)}
    by_split: dict[str, list[str]] = {}
    for path in paths:
        by_split.setdefault(layout[path][0], []).append(path)
    parts = [(split, split_paths[start:start + batches.BATCH_ROWS]) for split, split_paths in by_split.items()
             for start in range(0, len(split_paths), batches.BATCH_ROWS)]
    for (split, part), samples in zip(parts, files.read_parts(root, [part for _, part in parts], num_workers)):
        if ignore_errors:
            part, samples = _readable(root, part, samples, skipped)
            if not part:
                continue
        labels = np.array([ids[layout[p][1]] for p in part], dtype=np.uint32)
        image_name, label_name = names[split]
        yield {image_name: samples, label_name: labels}, [root.where(p) for p in part]


def _readable(root: files.Folder, paths: list[str], samples: list[Sample],
              skipped: list[str]) -> tuple[list[str], list[Sample]]:
    """The files whose header reads (others appended to ``skipped``)."""
    keep = []
    for path, sample in zip(paths, samples):
        try:
            sample.header
            keep.append((path, sample))
        except (SampleError, CorruptSampleError, OSError):
            skipped.append(root.where(path))
    return [p for p, _ in keep], [s for _, s in keep]


def _print_summary(root: files.Folder, rows: int, class_names: list[str], sets: list[str],
                   skipped: list[str]) -> None:
    splits = f" in splits {', '.join(s for s in sets if s)}" if len(sets) > 1 else ""
    print(f"Ingested {rows} images of {len(class_names)} classes{splits} from folder {root.name!r}.")
    if skipped:
        print(f"Skipped {len(skipped)} unreadable files:")
        for name in skipped:
            print(f"  {name}")


def _from_csv(src: Any, dest: Any, dest_creds: Any, progressbar: bool, token: str | None,
              connect_kwargs: dict[str, Any] | None, dataset_kwargs: dict[str, Any]) -> Dataset:
    """v3: a .csv/.txt ``src`` is a table, ingested with ``ingest_dataframe``."""
    from .dataframe import ingest_dataframe

    pd = extras.require("pandas", "Ingesting a CSV table")

    data, name = files.read_file(src, "table (src)")
    try:
        frame = pd.read_csv(io.BytesIO(data), quotechar='"', skipinitialspace=True)
    except Exception as exc:
        raise IngestionError(f"Could not read {name!r} as CSV: {exc}.") from exc
    return ingest_dataframe(frame, dest, dest_creds=dest_creds, progressbar=progressbar, token=token,
                            connect_kwargs=connect_kwargs, **dataset_kwargs)
