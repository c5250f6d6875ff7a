"""Deep Lake 4.x side of the benchmarks; runs in the peers virtualenv and prints one JSON object.

    python peer_deeplake4.py ingest --src FOLDER --labels LABELS.json --out DATASET [--batch 500]
    python peer_deeplake4.py read --path DATASET --indices INDICES.json

``ingest`` stores the JPEG files' bytes as they are (``Image(sample_compression="jpeg")``, raw
bytes appended, no re-encoding) plus a class label per image, appending ``--batch`` rows at a
time, and commits. ``read`` times ``ds["images"][i]`` (a decoded uint8 array) for each index.
Times cover the library calls only: interpreter start and imports are outside them.
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


def _files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))


def ingest(src: str, labels_path: str, out: str, batch: int) -> dict:
    paths = _files(src)
    with open(labels_path) as f:
        labels = json.load(f)
    if os.path.exists(out):
        shutil.rmtree(out)
    start = time.perf_counter()
    ds = deeplake.create(out)
    ds.add_column("images", deeplake.types.Image(dtype=deeplake.types.UInt8(), sample_compression="jpeg"))
    ds.add_column("labels", deeplake.types.ClassLabel(deeplake.types.Int32()))
    for first in range(0, len(paths), batch):
        images = []
        for path in paths[first:first + batch]:
            with open(path, "rb") as f:
                images.append(f.read())
        ds.append({"images": images, "labels": labels[first:first + len(images)]})
    ds.commit()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "n": len(paths), "version": deeplake.__version__}


def read(path: str, indices_path: str) -> dict:
    with open(indices_path) as f:
        indices = json.load(f)
    start = time.perf_counter()
    ds = deeplake.open_read_only(path)
    column = ds["images"]
    open_seconds = time.perf_counter() - start
    latencies, checksum = [], 0
    for i in indices:
        t0 = time.perf_counter()
        image = np.asarray(column[i])
        latencies.append(time.perf_counter() - t0)
        checksum += int(image.sum(dtype=np.int64))
    return {"latencies": latencies, "open_seconds": open_seconds, "checksum": checksum,
            "shape_last": list(image.shape), "version": deeplake.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--src", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=500)
    p = sub.add_parser("read")
    p.add_argument("--path", required=True)
    p.add_argument("--indices", required=True)
    args = parser.parse_args()
    if args.cmd == "ingest":
        result = ingest(args.src, args.labels, args.out, args.batch)
    else:
        result = read(args.path, args.indices)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
