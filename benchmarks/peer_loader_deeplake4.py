"""Deep Lake 4.x side of ``bench_loader.py``; runs in the peers virtualenv and prints one JSON object.

    python peer_loader_deeplake4.py --path DATASET --transform-file TRANSFORMS.py
                                    [--batch 64] [--workers 2] [--seed 0] [--size 224]

Streams one shuffled epoch through ``ds.pytorch()`` (Deep Lake 4.x's map-style torch dataset)
inside a ``torch.utils.data.DataLoader`` (batch ``--batch``, ``--workers`` workers, fork), with the
same transform as every other system: ``CropNormalize(size)`` loaded by file path from
deeplake_nb's ``loader/transforms.py`` (numpy + Pillow only), applied to the decoded image, plus
the class label. The peers virtualenv holds no torch: when ``import torch`` fails, the directories
listed in the environment variable ``PEER_LOADER_TORCH_PATH`` (set by ``bench_loader.py`` to the
main virtualenv's site-packages) are appended to ``sys.path``, after the peers' own packages.
The time (wall and CPU, workers included) covers opening the dataset, starting the workers and the
whole epoch; interpreter start and imports are outside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import sys
import time

import numpy as np


def _import_torch():
    try:
        import torch
    except ImportError:
        sys.path.extend(p for p in os.environ.get("PEER_LOADER_TORCH_PATH", "").split(os.pathsep) if p)
        import torch
    return torch


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the loader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _load_transform(path: str, size: int):
    spec = importlib.util.spec_from_file_location("peer_transforms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CropNormalize(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", required=True)
    parser.add_argument("--transform-file", required=True)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    torch = _import_torch()
    import deeplake

    multiprocessing.set_start_method("fork", force=True)
    tfm = _load_transform(args.transform_file, args.size)

    def transform(row):
        return tfm(np.asarray(row["images"])), int(np.asarray(row["labels"]).reshape(-1)[0])

    cpu = _cpu_seconds()
    start = time.perf_counter()
    ds = deeplake.open_read_only(args.path)
    loader = torch.utils.data.DataLoader(ds.pytorch(transform=transform), batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers,
                                         generator=torch.Generator().manual_seed(args.seed))
    images, checksum = 0, 0
    for batch_images, labels in loader:
        images += len(labels)
        checksum += int(labels.sum())
    seconds = time.perf_counter() - start
    del loader  # its workers are joined by now; their CPU time is counted
    cpu = _cpu_seconds() - cpu
    print(json.dumps({"images": images, "seconds": seconds, "cpu_seconds": cpu, "label_sum": checksum,
                      "version": deeplake.__version__, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
