"""Deep Lake 4.x side of ``bench_loader.py``; runs in the peers virtualenv and prints one JSON object.

    python peer_loader_deeplake4.py --path DATASET --transform-file TRANSFORMS.py [--mode pytorch]
                                    [--batch 64] [--workers 2] [--seed 0] [--size 224] [--epochs 1]
    python peer_loader_deeplake4.py --path s3://BUCKET/PREFIX --s3 JSON --transform-file ... [as above]
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

From an S3-compatible store (``bench_remote.py``): ``--path s3://bucket/prefix`` (the local
dataset's folder uploaded object by object) and ``--s3 '{"endpoint_url", "access_key_id",
"secret_access_key", "region"}'``, given to ``deeplake.open_read_only(path, creds={...})`` as Deep
Lake 4.x's documented creds keys ``endpoint_url``, ``aws_access_key_id``,
``aws_secret_access_key``, ``aws_region``. Deep Lake 4.x keeps no cache on disk (only its
in-memory one in each process).

The peers virtualenv holds no torch; see ``peer_common.import_torch``. The time (wall and CPU,
workers included) covers opening the dataset, starting the workers or running the query, and the
whole epoch; interpreter start and imports are outside it. ``--epochs N`` runs N epochs on the
same open dataset (``pytorch``: the same DataLoader again), each timed on its own; the JSON line
holds the first one's figures and ``epochs``, every epoch's.
"""

from __future__ import annotations

import argparse
import multiprocessing

import numpy as np

from peer_common import S3_KEYS, import_torch, load_transform, report, s3_settings, timed_epoch


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
    parser.add_argument("--epochs", type=int, default=1, help="epochs on the same open dataset, each timed")
    parser.add_argument("--s3", help="JSON with %s: --path is s3://bucket/prefix there" % ", ".join(S3_KEYS))
    args = parser.parse_args()
    s3 = s3_settings(args.s3)
    creds = None if s3 is None else {"endpoint_url": s3["endpoint_url"], "aws_access_key_id": s3["access_key_id"],
                                     "aws_secret_access_key": s3["secret_access_key"], "aws_region": s3["region"]}

    torch = import_torch()
    import deeplake

    if args.mode == "order":
        ds = deeplake.open_read_only(args.path, creds=creds)
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

    def make_loader():
        ds = deeplake.open_read_only(args.path, creds=creds)
        if args.mode == "pytorch":
            return torch.utils.data.DataLoader(ds.pytorch(transform=transform), batch_size=args.batch, shuffle=True,
                                               num_workers=args.workers,
                                               generator=torch.Generator().manual_seed(args.seed))
        return QueryBatches(ds, args.batch, tfm)

    timed_epoch(make_loader, deeplake.__version__, args.epochs)


class QueryBatches:
    """``(images, labels)`` batches of ``SELECT * ORDER BY RANDOM()`` (a new order each time it is
    iterated), transformed in this process."""

    def __init__(self, ds, batch: int, tfm) -> None:
        self.ds, self.batch, self.tfm = ds, batch, tfm

    def __iter__(self):
        torch = import_torch()
        for batch in self.ds.query("SELECT * ORDER BY RANDOM()").batches(self.batch):
            labels = torch.from_numpy(np.asarray(batch["labels"]).reshape(-1).astype(np.int64))
            yield torch.from_numpy(np.stack([self.tfm(np.asarray(image)) for image in batch["images"]])), labels

if __name__ == "__main__":
    main()
