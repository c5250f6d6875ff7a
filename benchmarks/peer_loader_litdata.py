"""LitData side of ``bench_loader.py``; runs in ``.venv-peers-stream`` and prints one JSON object.

    python peer_loader_litdata.py build --src JPEG_DIR --labels LABELS.json --out DIR
    python peer_loader_litdata.py epoch --path DIR --transform-file TRANSFORMS.py
                                        [--batch 64] [--workers 2] [--seed 0] [--size 224]
    python peer_loader_litdata.py order --path DIR [--batch 64] [--workers 2] [--seeds 0,1,2]
                                        [--item-shuffle-window auto|full|N]

- ``build``: ``litdata.optimize`` writes every file's JPEG bytes as they are (``bytes``), its class
  label and its index into LitData chunks of ``--chunk-bytes`` (64MB, the size LitData's docs use;
  about 2,600 of these JPEGs per chunk), one writer process, in index order.
- ``epoch``: one shuffled epoch: ``litdata.StreamingDataset(DIR, shuffle=True, seed=...,
  transform=...)`` in a ``litdata.StreamingDataLoader`` (batch ``--batch``, ``--workers`` workers);
  the transform decodes with simplejpeg and applies ``CropNormalize`` (``peer_common``), like every
  other system. LitData's shuffle: the chunks are permuted and dealt to the workers, and each
  worker reads its chunks one after the other, each chunk's samples in a shuffled order: blocks of
  256 consecutive samples (the ``item_shuffle_window`` default) in a random order, the samples
  permuted inside each block. Not a global permutation. The time (wall and CPU, workers included) covers opening
  the dataset, starting the workers and the whole epoch; interpreter start and imports are outside.
- ``order``: the same loader without decoding, for each seed; prints the sample indices of every
  batch (``bench_loader.py`` measures shuffle quality from them). ``--item-shuffle-window full``
  asks for LitData's full in-chunk permutation instead of the 256-sample windows.

LitData asks PyPI for a newer version when a dataset is opened unless
``LITDATA_DISABLE_VERSION_CHECK=1``; this script sets it, so nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")

from peer_common import import_torch, load_transform, report, run_cli, timed_epoch  # noqa: E402


def _sample(index: int, paths: list[str], labels: list[int]) -> dict:
    with open(paths[index], "rb") as f:
        return {"jpg": f.read(), "cls": int(labels[index]), "idx": int(index)}


def build(args: argparse.Namespace) -> None:
    import_torch()
    import litdata

    labels = json.load(open(args.labels))
    paths = [os.path.join(args.src, f"{i:05d}.jpg") for i in range(len(labels))]
    start = time.perf_counter()
    litdata.optimize(fn=functools.partial(_sample, paths=paths, labels=labels), inputs=list(range(len(paths))),
                     output_dir=args.out, chunk_bytes=args.chunk_bytes, num_workers=1, reorder_files=False,
                     mode="overwrite", verbose=False)
    chunks = [f for f in os.listdir(args.out) if f.endswith(".bin")]
    report(n=len(paths), chunks=len(chunks), seconds=time.perf_counter() - start, version=litdata.__version__)


class DecodeCrop:
    """Sample dict -> (float32 CHW image, label); picklable for the workers."""

    def __init__(self, transform_file: str, size: int) -> None:
        self.tfm = load_transform(transform_file, size)

    def __call__(self, sample: dict):
        import simplejpeg

        return self.tfm(simplejpeg.decode_jpeg(sample["jpg"], colorspace="RGB")), sample["cls"]


def index_of(sample: dict) -> int:
    return sample["idx"]


def epoch(args: argparse.Namespace) -> None:
    import_torch()
    import litdata

    tfm = DecodeCrop(args.transform_file, args.size)
    timed_epoch(lambda: litdata.StreamingDataLoader(
        litdata.StreamingDataset(args.path, shuffle=True, seed=args.seed, transform=tfm),
        batch_size=args.batch, num_workers=args.workers), litdata.__version__)


def order(args: argparse.Namespace) -> None:
    import_torch()
    import litdata

    window = int(args.item_shuffle_window) if args.item_shuffle_window.isdigit() else args.item_shuffle_window
    orders = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        ds = litdata.StreamingDataset(args.path, shuffle=True, seed=seed, transform=index_of,
                                      item_shuffle_window=window)
        loader = litdata.StreamingDataLoader(ds, batch_size=args.batch, num_workers=args.workers)
        orders[seed] = [batch.tolist() for batch in loader]
    report(batches=orders, version=litdata.__version__)


def main() -> None:
    run_cli(__doc__, {"build": build, "epoch": epoch, "order": order}, {"--chunk-bytes": "64MB"}, {"--item-shuffle-window": "auto"})


if __name__ == "__main__":
    sys.exit(main())
