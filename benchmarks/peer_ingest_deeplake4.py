"""Deep Lake 4.x side of ``bench_ingest.py``; runs in the peers virtualenv and prints one JSON object.

    python peer_ingest_deeplake4.py extend --src FOLDER --labels LABELS.json --boxes BOXES.npy --out DATASET
    python peer_ingest_deeplake4.py classification --src IMAGEFOLDER --out DATASET

``extend`` appends, ``--batch`` rows per call, the JPEG files' bytes as they are
(``Image(sample_compression="jpeg")``), a class label and one box per row (a ``(1, 4)`` float32
array per row, ``BoundingBox``), then commits. ``classification`` walks an ImageFolder tree
(class = folder name, classes and files sorted) and appends each file's bytes with its class
index the same way. Times cover the library calls and the file reads, not the interpreter start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import deeplake
import numpy as np


def _create(out: str, boxes: bool) -> deeplake.Dataset:
    if os.path.exists(out):
        shutil.rmtree(out)
    ds = deeplake.create(out)
    ds.add_column("images", deeplake.types.Image(dtype=deeplake.types.UInt8(), sample_compression="jpeg"))
    ds.add_column("labels", deeplake.types.ClassLabel(deeplake.types.Int32()))
    if boxes:
        ds.add_column("boxes", deeplake.types.BoundingBox("float32", "ltwh", "pixel"))
    return ds


def _read(paths: list[str]) -> list[bytes]:
    images = []
    for path in paths:
        with open(path, "rb") as f:
            images.append(f.read())
    return images


def extend(src: str, labels_path: str, boxes_path: str, out: str, batch: int) -> dict:
    paths = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".jpg"))
    with open(labels_path) as f:
        labels = json.load(f)
    boxes = np.load(boxes_path)
    start = time.perf_counter()
    ds = _create(out, boxes=True)
    for first in range(0, len(paths), batch):
        stop = min(first + batch, len(paths))
        ds.append({"images": _read(paths[first:stop]), "labels": labels[first:stop],
                   "boxes": [boxes[i:i + 1] for i in range(first, stop)]})
    ds.commit()
    return {"seconds": time.perf_counter() - start, "n": len(paths), "version": deeplake.__version__}


def classification(src: str, out: str, batch: int) -> dict:
    start = time.perf_counter()
    classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    files = [(os.path.join(src, c, f), k) for k, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(src, c)))]
    ds = _create(out, boxes=False)
    for first in range(0, len(files), batch):
        chunk = files[first:first + batch]
        ds.append({"images": _read([p for p, _ in chunk]), "labels": [k for _, k in chunk]})
    ds.commit()
    return {"seconds": time.perf_counter() - start, "n": len(files), "version": deeplake.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("extend")
    p.add_argument("--src", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--boxes", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=500)
    p = sub.add_parser("classification")
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    if args.cmd == "extend":
        result = extend(args.src, args.labels, args.boxes, args.out, args.batch)
    else:
        result = classification(args.src, args.out, args.batch)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
