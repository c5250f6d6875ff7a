"""Helpers shared by the loader peers (``peer_loader_*.py``), which run in other virtualenvs.

Imports only the standard library and NumPy, so any peers virtualenv can load it (the peer scripts
find it next to themselves: a script's own folder is first on ``sys.path``).

- ``import_torch``: the peers virtualenvs hold no torch of their own; when ``import torch`` fails,
  the directories in the environment variable ``PEER_LOADER_TORCH_PATH`` (set by
  ``bench_loader.py`` and ``bench_remote.py`` to the main virtualenv's site-packages) are appended to ``sys.path``, after
  the peer's own packages, and torch is imported from there;
- ``load_transform``: deeplake_nb's ``CropNormalize`` loaded by file path from
  ``deeplake_nb/loader/transforms.py`` (NumPy + Pillow only), the same transform for every system;
- ``cpu_seconds``: user + system CPU time of this process and its finished children (the loader
  workers), the same measure ``bench_loader.py`` takes for in-process systems;
- ``report``: print the one JSON line ``bench_loader.py`` reads (the last line of stdout);
- ``s3_settings``: the ``--s3`` JSON of an ``epoch`` run from an S3-compatible store
  (``bench_remote.py``): ``endpoint_url``, ``access_key_id``, ``secret_access_key``, ``region``,
  which each peer turns into its own library's settings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys


def import_torch():
    try:
        import torch
    except ImportError:
        sys.path.extend(p for p in os.environ.get("PEER_LOADER_TORCH_PATH", "").split(os.pathsep) if p)
        import torch
    return torch


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_transform(path: str, size: int):
    spec = importlib.util.spec_from_file_location("peer_transforms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CropNormalize(size)


def report(**values) -> None:
    print(json.dumps(values), flush=True)


S3_KEYS = ("endpoint_url", "access_key_id", "secret_access_key", "region")


def s3_settings(text: str | None) -> dict | None:
    """The ``--s3`` option: None (``--path`` is a local folder) or a dict with every key of
    ``S3_KEYS`` (``--path`` is an ``s3://bucket/prefix`` URL on that endpoint)."""
    if not text:
        return None
    settings = json.loads(text)
    missing = [k for k in S3_KEYS if k not in settings]
    if missing:
        raise SystemExit(f"--s3 needs the keys {', '.join(S3_KEYS)}; missing: {', '.join(missing)}")
    return settings


def run_cli(doc: str, commands: dict, build_options: dict | None = None, order_options: dict | None = None) -> None:
    """The command line every streaming-format peer shares: ``build`` (``--src --labels --out``),
    ``epoch`` (``--path --batch --workers --transform-file --seed --size``, and for a remote
    dataset ``--s3 JSON --cache-dir DIR --epochs N``) and ``order`` (``--path --batch --workers
    --seeds``), plus per-peer options as ``{flag: default}``; runs ``commands[name](args)``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    for flag in ("--src", "--labels", "--out"):
        b.add_argument(flag, required=True)
    for flag, default in (build_options or {}).items():
        b.add_argument(flag, default=default)
    for name in ("epoch", "order"):
        p = sub.add_parser(name)
        p.add_argument("--path", required=True)
        p.add_argument("--batch", type=int, default=64)
        p.add_argument("--workers", type=int, default=2)
        if name == "epoch":
            p.add_argument("--transform-file", required=True)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--size", type=int, default=224)
            p.add_argument("--epochs", type=int, default=1, help="epochs in this process, each timed")
            p.add_argument("--s3", help="JSON with %s: --path is s3://bucket/prefix there" % ", ".join(S3_KEYS))
            p.add_argument("--cache-dir", help="with --s3: the library's local cache folder (empty at the start)")
        else:
            p.add_argument("--seeds", default="0,1,2")
            for flag, default in (order_options or {}).items():
                p.add_argument(flag, default=default)
    args = parser.parse_args()
    commands[args.command](args)


def timed_epoch(make_loader, version: str, epochs: int = 1) -> None:
    """Time ``epochs`` epochs of ``make_loader()`` (made inside the first one's timing, like the
    other systems) over ``(images, labels)`` batches and ``report`` the first epoch's images, wall
    and CPU seconds and label sum, plus ``epochs``: the same figures for each epoch (the later ones
    iterate the same loader again, so they profit from whatever the library keeps, such as a
    local cache)."""
    import time

    torch = import_torch()
    cpu = cpu_seconds()
    start = time.perf_counter()
    loader = make_loader()
    runs, shape = [], None
    for _ in range(epochs):
        images, checksum = 0, 0
        for batch_images, labels in loader:
            images += len(labels)
            checksum += int(labels.sum())
            shape = list(batch_images.shape[1:])
        now, cpu_now = time.perf_counter(), cpu_seconds()  # the epoch's workers are joined by now
        runs.append({"images": images, "seconds": now - start, "cpu_seconds": cpu_now - cpu, "label_sum": checksum})
        start, cpu = now, cpu_now
    del loader
    report(**runs[0], epochs=runs, shape=shape, version=version, torch=torch.__version__)
