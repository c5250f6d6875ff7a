"""MosaicML Streaming side of ``bench_loader.py``; runs in ``.venv-peers-stream``, prints one JSON object.

    python peer_loader_streaming.py build --src JPEG_DIR --labels LABELS.json --out DIR
    python peer_loader_streaming.py epoch --path DIR --transform-file TRANSFORMS.py
                                          [--batch 64] [--workers 2] [--seed 0] [--size 224] [--epochs 1]
    python peer_loader_streaming.py epoch --path s3://BUCKET/PREFIX --s3 JSON --cache-dir DIR ...
    python peer_loader_streaming.py order --path DIR [--batch 64] [--workers 2] [--seeds 0,1,2]

- ``build``: ``streaming.MDSWriter`` writes every file's JPEG bytes as they are (``bytes``), its
  class label and its index (``int``) into MDS shards of the default size limit (64 MiB, about
  2,600 of these JPEGs per shard), uncompressed, in index order.
- ``epoch``: one shuffled epoch: a ``streaming.StreamingDataset(local=DIR, shuffle=True,
  shuffle_seed=..., batch_size=...)`` subclass whose ``__getitem__`` decodes with simplejpeg and
  applies ``CropNormalize`` (``peer_common``), like every other system (the way Streaming's own
  vision datasets transform), in a ``streaming.StreamingDataLoader`` (batch ``--batch``,
  ``--workers`` workers). Shuffle: Streaming's default ``py1e`` algorithm (shards dealt to 64
  canonical nodes, each shard's samples spread over a window of ``shuffle_block_size`` = 262,144
  samples, i.e. the whole dataset here, then each worker's share interleaved). The time (wall and
  CPU, workers included) covers opening the dataset, starting the workers and the whole epoch;
  interpreter start and imports are outside it. ``--epochs N`` iterates the same loader N times,
  each epoch timed on its own.
- ``epoch`` from an S3-compatible store (``bench_remote.py``): ``remote=--path`` (an
  ``s3://bucket/prefix`` URL, the ``build`` output uploaded as it is) and ``local=--cache-dir``
  (a fresh, empty folder), Streaming's own way to stream; the endpoint and keys of ``--s3
  '{"endpoint_url", "access_key_id", "secret_access_key", "region"}'`` go where Streaming's boto3
  downloader reads them, the environment: ``S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` (set in this process before the dataset is
  made, so the workers inherit them). Streaming downloads whole shards into ``local`` (its
  default ``predownload``: 8 x batch samples ahead) and reads samples from there; the shards stay
  (no ``cache_limit``), so a second epoch reads the local copies.
- ``order``: the same loader without decoding, for each seed; prints the sample indices of every
  batch (``bench_loader.py`` measures shuffle quality from them).

``import streaming`` runs the package's ``__init__``, which imports ``streaming.vision`` and so
torchvision; PyPI's torchvision wheels for Linux are built against CUDA torch and fail to load
with the CPU torch this benchmark borrows ("operator torchvision::nms does not exist"), and the CPU
wheels live on download.pytorch.org. Nothing here uses torchvision, so ``_import_streaming`` loads
``streaming.base`` (the dataset, writer and loader) without running the package's ``__init__``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import types

from peer_common import import_torch, load_transform, report, run_cli, s3_settings, timed_epoch


def _import_streaming():
    """``streaming.base`` without ``streaming/__init__.py`` (which needs torchvision; see above)."""
    import_torch()
    if "streaming" not in sys.modules:
        spec = importlib.util.find_spec("streaming")
        package = types.ModuleType("streaming")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        sys.modules["streaming"] = package
    import streaming.base as base
    from streaming._version import __version__
    from streaming.base.util import clean_stale_shared_memory

    clean_stale_shared_memory()  # left by a killed run; otherwise the next one refuses to start
    return base, __version__


def build(args: argparse.Namespace) -> None:
    base, version = _import_streaming()
    labels = json.load(open(args.labels))
    start = time.perf_counter()
    with base.MDSWriter(out=args.out, columns={"jpg": "bytes", "cls": "int", "idx": "int"}) as writer:
        for i, label in enumerate(labels):
            with open(os.path.join(args.src, f"{i:05d}.jpg"), "rb") as f:
                writer.write({"jpg": f.read(), "cls": int(label), "idx": i})
    shards = [f for f in os.listdir(args.out) if f.endswith(".mds")]
    report(n=len(labels), shards=len(shards), seconds=time.perf_counter() - start, version=version)


def _dataset_class(base):
    class DecodeCropDataset(base.StreamingDataset):
        """Sample -> (float32 CHW image, label), or the sample's index when ``tfm`` is None."""

        def __init__(self, tfm, **kwargs) -> None:
            super().__init__(**kwargs)
            self.tfm = tfm

        def __getitem__(self, i: int):
            sample = super().__getitem__(i)
            if self.tfm is None:
                return sample["idx"]
            import simplejpeg

            return self.tfm(simplejpeg.decode_jpeg(sample["jpg"], colorspace="RGB")), sample["cls"]

    return DecodeCropDataset


def epoch(args: argparse.Namespace) -> None:
    import_torch()
    base, version = _import_streaming()
    tfm = load_transform(args.transform_file, args.size)
    where = {"local": args.path}
    if (s3 := s3_settings(args.s3)) is not None:
        if not args.cache_dir:
            raise SystemExit("--s3 needs --cache-dir (an empty folder for Streaming's local shard copies)")
        os.environ.update(S3_ENDPOINT_URL=s3["endpoint_url"], AWS_ACCESS_KEY_ID=s3["access_key_id"],
                          AWS_SECRET_ACCESS_KEY=s3["secret_access_key"], AWS_DEFAULT_REGION=s3["region"])
        where = {"remote": args.path, "local": args.cache_dir}
    timed_epoch(lambda: base.StreamingDataLoader(
        _dataset_class(base)(tfm, **where, shuffle=True, shuffle_seed=args.seed, batch_size=args.batch),
        batch_size=args.batch, num_workers=args.workers), version, args.epochs)


def order(args: argparse.Namespace) -> None:
    import_torch()
    base, version = _import_streaming()
    orders = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        ds = _dataset_class(base)(None, local=args.path, shuffle=True, shuffle_seed=seed, batch_size=args.batch)
        loader = base.StreamingDataLoader(ds, batch_size=args.batch, num_workers=args.workers)
        orders[seed] = [batch.tolist() for batch in loader]
        del loader, ds
    report(batches=orders, version=version)


def main() -> None:
    run_cli(__doc__, {"build": build, "epoch": epoch, "order": order}, None, None)


if __name__ == "__main__":
    sys.exit(main())
