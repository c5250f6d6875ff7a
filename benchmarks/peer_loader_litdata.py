"""LitData side of ``bench_loader.py``; runs in ``.venv-peers-stream`` and prints one JSON object.

    python peer_loader_litdata.py build --src JPEG_DIR --labels LABELS.json --out DIR
    python peer_loader_litdata.py epoch --path DIR --transform-file TRANSFORMS.py
                                        [--batch 64] [--workers 2] [--seed 0] [--size 224] [--epochs 1]
    python peer_loader_litdata.py epoch --path s3://BUCKET/PREFIX --s3 JSON --cache-dir DIR ...
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
  ``--epochs N`` iterates the same loader N times, each epoch timed on its own.
- ``epoch`` from an S3-compatible store (``bench_remote.py``): ``--path s3://bucket/prefix`` (the
  ``build`` output uploaded as it is) and ``--s3 '{"endpoint_url", "access_key_id",
  "secret_access_key", "region"}'``, given to LitData as its documented
  ``StreamingDataset(..., storage_options={"endpoint_url": ..., "aws_access_key_id": ...,
  "aws_secret_access_key": ..., "region_name": ...})`` (keyword arguments of LitData's boto3 S3
  client), with ``cache_dir=--cache-dir`` (a fresh folder: otherwise LitData keeps the chunks
  under ``~/.lightning/chunks`` and a later run would not be a first epoch). LitData downloads
  each whole chunk into that folder (``max_pre_download=2`` chunks ahead, its default) and reads
  samples from it, so a second epoch reads the local copies. LitData fetches ``index.json`` with
  boto3 and the chunks with obstore (a dependency of LitData; its faster path, ranged GETs in
  parallel), whose S3 store it builds from the boto3 client's endpoint, region and keys. LitData
  0.2.76 builds that store without obstore's ``allow_http`` client option, so against an
  ``http://`` endpoint (the benchmark's local server) every chunk GET fails with obstore's "HTTP
  error: builder error" (reqwest's ``BadScheme``; ``AWS_ALLOW_HTTP`` in the environment does not
  reach it). For an ``http://`` endpoint only, this script adds ``allow_http: True`` to LitData's
  obstore client options (``litdata.streaming.downloader._OBSTORE_CLIENT_OPTIONS``, before the
  workers fork); against ``https://`` (any real S3) LitData runs as shipped.
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

from peer_common import import_torch, load_transform, report, run_cli, s3_settings, timed_epoch  # noqa: E402


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
    remote = {}
    if (s3 := s3_settings(args.s3)) is not None:
        if not args.cache_dir:
            raise SystemExit("--s3 needs --cache-dir (an empty folder for LitData's chunk cache)")
        if s3["endpoint_url"].startswith("http://"):  # see the docstring: LitData's obstore path refuses http
            from litdata.streaming import downloader

            downloader._OBSTORE_CLIENT_OPTIONS = {**downloader._OBSTORE_CLIENT_OPTIONS, "allow_http": True}
        remote = {"cache_dir": args.cache_dir,
                  "storage_options": {"endpoint_url": s3["endpoint_url"], "aws_access_key_id": s3["access_key_id"],
                                      "aws_secret_access_key": s3["secret_access_key"], "region_name": s3["region"]}}
    timed_epoch(lambda: litdata.StreamingDataLoader(
        litdata.StreamingDataset(args.path, shuffle=True, seed=args.seed, transform=tfm, **remote),
        batch_size=args.batch, num_workers=args.workers), litdata.__version__, args.epochs)


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
