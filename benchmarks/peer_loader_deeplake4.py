"""Deep Lake 4.x side of ``bench_loader.py``; runs in the peers virtualenv and prints one JSON object.

    python peer_loader_deeplake4.py --path DATASET --transform-file TRANSFORMS.py [--mode pytorch]
                                    [--batch 64] [--workers 2] [--seed 0] [--size 224]
    python peer_loader_deeplake4.py --path DATASET --mode order [--batch 64] [--seeds 0,1,2]

Streams one shuffled epoch with the same transform as every other system: ``CropNormalize(size)``
loaded by file path from deeplake_nb's ``loader/transforms.py`` (numpy + Pillow only), applied to
the decoded image, plus the class label.

- ``--mode pytorch`` (default): ``ds.pytorch(transform=...)`` (Deep Lake 4.x's map-style torch
  dataset) inside a ``torch.utils.data.DataLoader(shuffle=True)`` (batch ``--batch``,
  ``--workers`` workers, fork): a global permutation by torch's sampler;
- ``--mode query``: Deep Lake 4.x's own fast path, ``ds.query("SELECT * ORDER BY RANDOM()")
  .batches(batch)``: its C++ prefetcher reads and decodes the batches on its own threads; the
  transform runs in this process on each decoded image, then ``np.stack`` + ``torch.from_numpy``
  (no DataLoader, ``--workers`` unused). ``RANDOM()`` takes no seed: a fresh global permutation
  per run;
- ``--mode order``: the query's order only (``SELECT * FROM (SELECT labels, ROW_NUMBER() AS idx)
  ORDER BY RANDOM()``, no images read), once per entry of ``--seeds`` (which only count runs):
  prints the row indices of every batch, for ``bench_loader.py``'s shuffle quality.

The peers virtualenv holds no torch; see ``peer_common.import_torch``. The time (wall and CPU,
workers included) covers opening the dataset, starting the workers or running the query, and the
whole epoch; interpreter start and imports are outside it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import numpy as np

from peer_common import cpu_seconds, import_torch, load_transform, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", required=True)
    parser.add_argument("--transform-file")
    parser.add_argument("--mode", choices=("pytorch", "query", "order"), default="pytorch")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", default="0,1,2", help="--mode order: one run per entry")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    torch = import_torch()
    import deeplake

    if args.mode == "order":
        ds = deeplake.open_read_only(args.path)
        orders = {}
        for seed in args.seeds.split(","):
            view = ds.query("SELECT * FROM (SELECT labels, ROW_NUMBER() AS idx) ORDER BY RANDOM()")
            orders[seed] = [np.asarray(b["idx"]).astype(int).tolist() for b in view.batches(args.batch)]
        report(batches=orders, version=deeplake.__version__)
        return
    if not args.transform_file:
        parser.error("--transform-file is needed for --mode pytorch and query")

    multiprocessing.set_start_method("fork", force=True)
    tfm = load_transform(args.transform_file, args.size)

    def transform(row):
        return tfm(np.asarray(row["images"])), int(np.asarray(row["labels"]).reshape(-1)[0])

    cpu = cpu_seconds()
    start = time.perf_counter()
    ds = deeplake.open_read_only(args.path)
    images, checksum = 0, 0
    if args.mode == "pytorch":
        loader = torch.utils.data.DataLoader(ds.pytorch(transform=transform), batch_size=args.batch, shuffle=True,
                                             num_workers=args.workers,
                                             generator=torch.Generator().manual_seed(args.seed))
        for batch_images, labels in loader:
            images += len(labels)
            checksum += int(labels.sum())
        del loader  # its workers are joined by now; their CPU time is counted
    else:
        for batch in ds.query("SELECT * ORDER BY RANDOM()").batches(args.batch):
            labels = torch.from_numpy(np.asarray(batch["labels"]).reshape(-1).astype(np.int64))
            batch_images = torch.from_numpy(np.stack([tfm(np.asarray(image)) for image in batch["images"]]))
            images += len(labels)
            checksum += int(labels.sum())
    seconds = time.perf_counter() - start
    report(images=images, seconds=seconds, cpu_seconds=cpu_seconds() - cpu, label_sum=checksum,
           shape=list(batch_images.shape[1:]), version=deeplake.__version__, torch=torch.__version__)


if __name__ == "__main__":
    main()
