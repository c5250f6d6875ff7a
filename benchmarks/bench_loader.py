"""Streaming one shuffled epoch of JPEGs into PyTorch: deeplake_nb vs the decode limit, plain files,
WebDataset and Deep Lake 4.x, side by side on the same images with the same transform.

    python benchmarks/bench_loader.py --n 10000 [--repeats 2] [--record]

- Data: ``--n`` photo-like JPEGs of 200-300 px (``deeplake_nb.demo.synthetic.write_jpeg_folder``),
  generated once into ``benchmarks/data/jpeg-<n>-seed<seed>/`` (git-ignored, shared with
  ``bench_ingest_read.py``); from them, once each: a deeplake_nb dataset, WebDataset tar shards
  (1,000 samples each) and a Deep Lake 4.x dataset, all holding the original JPEG bytes + a label.
- Work per image, identical for every system: decode to RGB uint8 (simplejpeg, or the system's own
  decoder for Deep Lake 4.x), ``CropNormalize(224)`` from ``deeplake_nb/loader/transforms.py``
  (center crop to 224x224, resizing first when a side is shorter; normalised float32 CHW), then
  batches of ``--batch`` (64) with the labels, ``--workers`` (2) worker processes.
- Systems:
  - decode limit: the same JPEG bytes, already in memory, decoded + transformed by a thread pool
    on all cores, no batching - what no loader can beat;
  - deeplake_nb: ``ds.pytorch(tensors=["images", "labels"], shuffle=True, ...)``, a true global
    permutation;
  - plain files + torch DataLoader: a map-style dataset that opens, reads and decodes one file per
    index, ``DataLoader(shuffle=True)``;
  - WebDataset: ``wds.WebDataset(shards, shardshuffle=...)`` + ``.shuffle(1000)`` buffer, decoded
    by the same function, ``.batched()``, in a ``DataLoader(batch_size=None)``; its shuffle is
    shard order + a 1,000-sample buffer, not a global permutation;
  - Deep Lake 4.x: ``ds.pytorch(transform=...)`` in a ``DataLoader(shuffle=True)``, run by
    ``peer_loader_deeplake4.py`` in the peers virtualenv (``.venv-peers``; skipped when absent).
    That virtualenv holds no torch; the worker borrows this one's at run time.
- Each system streams ``--repeats`` epochs, interleaved with the others; the table shows medians
  of images/s (worker start-up and the first batch included) and of CPU time per image (user +
  system, of the process and its workers: what a fully loaded machine would pay), with ratios to
  the decode limit and to Deep Lake 4.x as "wall / CPU". On a shared, oversubscribed machine the
  wall-clock figures follow the neighbours' load and favour systems that run more threads; the CPU
  ratios do not. ``--record`` appends the table to the "Loader" section of
  ``benchmarks/RESULTS.md`` with the date, machine and command.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import simplejpeg
import torch
from tqdm.auto import tqdm

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES
from deeplake_nb.loader import CropNormalize
from deeplake_nb.loader.engine import available_cpus

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_ingest_read import dataset_folder  # noqa: E402  (the shared JPEG cache)

PEERS_PYTHON = os.path.join(REPO, ".venv-peers", "bin", "python")
PEER_DL4 = os.path.join(HERE, "peer_loader_deeplake4.py")
TRANSFORMS_FILE = os.path.join(REPO, "deeplake_nb", "loader", "transforms.py")
SHARD_SIZE = 1000

LIMIT, NB, FILES, WDS, DL4 = "decode limit", "deeplake_nb", "plain files + DataLoader", "WebDataset", "Deep Lake 4.x"


def decode_rgb(data: bytes) -> np.ndarray:
    return simplejpeg.decode_jpeg(data, colorspace="RGB")


# -- data -------------------------------------------------------------------------------------------
def _marked(folder: str, build: Callable[[], dict]) -> None:
    marker = os.path.join(folder, "complete.json")
    if not os.path.exists(marker):
        info = build()
        os.makedirs(folder, exist_ok=True)
        with open(marker, "w") as f:
            json.dump(info, f)


def build_nb(folder: str, paths: list[str], labels: list[int]) -> None:
    try:
        usable = len(dl.load(os.path.join(folder, "ds"), read_only=True)) == len(paths)
    except dl.errors.DeepLakeNBError:  # missing, or written by an older format: build it again
        usable = False
    if not usable:
        shutil.rmtree(folder, ignore_errors=True)

    def build() -> dict:
        ds = dl.empty(os.path.join(folder, "ds"), overwrite=True)
        with ds:
            ds.create_tensor("images", htype="image", sample_compression="jpeg")
            ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
            for first in tqdm(range(0, len(paths), 500), desc="deeplake_nb dataset", unit="batch"):
                ds.extend({"images": [dl.read(p) for p in paths[first:first + 500]],
                           "labels": labels[first:first + 500]})
        return {"n": len(paths)}
    _marked(folder, build)


def build_wds(folder: str, paths: list[str], labels: list[int]) -> list[str]:
    shards = [os.path.join(folder, f"shard-{k:05d}.tar") for k in range(-(-len(paths) // SHARD_SIZE))]

    def build() -> dict:
        os.makedirs(folder, exist_ok=True)
        for k, shard in enumerate(tqdm(shards, desc="WebDataset shards", unit="shard")):
            with tarfile.open(shard, "w") as tar:
                for i in range(k * SHARD_SIZE, min(len(paths), (k + 1) * SHARD_SIZE)):
                    for ext, data in (("jpg", open(paths[i], "rb").read()), ("cls", str(labels[i]).encode())):
                        info = tarfile.TarInfo(f"{i:06d}.{ext}")
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
        return {"n": len(paths), "shards": len(shards)}
    _marked(folder, build)
    return shards


def build_dl4(folder: str, src: str, labels_path: str) -> bool:
    if not os.path.exists(PEERS_PYTHON):
        return False

    def build() -> dict:
        run = subprocess.run([PEERS_PYTHON, os.path.join(HERE, "peer_deeplake4.py"), "ingest", "--src", src,
                              "--labels", labels_path, "--out", os.path.join(folder, "ds")],
                             capture_output=True, text=True, cwd=REPO)
        if run.returncode != 0:
            raise RuntimeError(f"Deep Lake 4.x ingest failed:\n{run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])
    _marked(folder, build)
    return True


# -- the systems --------------------------------------------------------------------------------------
class FileDataset(torch.utils.data.Dataset):
    def __init__(self, paths: list[str], labels: list[int], tfm: Callable) -> None:
        self.paths, self.labels, self.tfm = paths, labels, tfm

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with open(self.paths[i], "rb") as f:
            data = f.read()
        return self.tfm(decode_rgb(data)), self.labels[i]


def _wds_sample(tfm: Callable) -> Callable:
    def make(sample: dict):
        return tfm(decode_rgb(sample["jpg"])), int(sample["cls"])
    return make


def _stream(batches, n: int, label: str, size: Callable) -> tuple[int, float]:
    start = time.perf_counter()
    images = 0
    with tqdm(total=n, desc=label, unit="img", leave=False) as bar:
        for batch in batches:
            k = size(batch)
            images += k
            bar.update(k)
    return images, time.perf_counter() - start


def run_limit(blobs: list[bytes], tfm: Callable, seed: int) -> tuple[int, float]:
    order = np.random.default_rng(seed).permutation(len(blobs))
    work = lambda i: tfm(decode_rgb(blobs[i]))  # noqa: E731
    with ThreadPoolExecutor(available_cpus()) as pool:
        return _stream(pool.map(work, order.tolist()), len(blobs), LIMIT, lambda _: 1)


def run_nb(path: str, tfm: Callable, args: argparse.Namespace) -> tuple[int, float]:
    start = time.perf_counter()
    ds = dl.load(path, read_only=True)
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=args.batch, shuffle=True, seed=args.seed,
                        num_workers=args.workers, transform={"images": tfm}, return_index=False)
    images, _ = _stream(loader, len(ds), NB, lambda b: len(b["labels"]))
    return images, time.perf_counter() - start


def run_files(paths: list[str], labels: list[int], tfm: Callable, args: argparse.Namespace) -> tuple[int, float]:
    start = time.perf_counter()
    loader = torch.utils.data.DataLoader(FileDataset(paths, labels, tfm), batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers,
                                         generator=torch.Generator().manual_seed(args.seed))
    images, _ = _stream(loader, len(paths), FILES, lambda b: len(b[1]))
    return images, time.perf_counter() - start


def run_wds(shards: list[str], n: int, tfm: Callable, args: argparse.Namespace) -> tuple[int, float]:
    import webdataset as wds

    start = time.perf_counter()
    pipeline = (wds.WebDataset(shards, shardshuffle=len(shards), seed=args.seed, empty_check=False)
                .shuffle(1000).map(_wds_sample(tfm)).batched(args.batch))
    loader = torch.utils.data.DataLoader(pipeline, batch_size=None, num_workers=args.workers)
    images, _ = _stream(loader, n, WDS, lambda b: len(b[1]))
    return images, time.perf_counter() - start


def run_dl4(path: str, args: argparse.Namespace) -> tuple[int, float, float]:
    env = dict(os.environ, PEER_LOADER_TORCH_PATH=os.path.dirname(os.path.dirname(torch.__file__)))
    run = subprocess.run([PEERS_PYTHON, PEER_DL4, "--path", path, "--transform-file", TRANSFORMS_FILE,
                          "--batch", str(args.batch), "--workers", str(args.workers), "--seed", str(args.seed)],
                         capture_output=True, text=True, cwd=REPO, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"peer_loader_deeplake4.py failed:\n{run.stderr[-3000:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return out["images"], out["seconds"], out["cpu_seconds"]  # CPU measured inside: no interpreter start


# -- report ---------------------------------------------------------------------------------------------
def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return (f"{available_cpus()} CPUs ({model}), {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}; load average {load:.1f} at the start")


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (workers, peers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def table(results: dict[str, list[float]], cpu_ms: dict[str, list[float]], notes: dict[str, str]) -> str:
    """Medians; ratios as "wall / CPU": images/s over images/s, and CPU ms per image inverted."""
    rate = {k: statistics.median(v) for k, v in results.items() if v}
    cpu = {k: statistics.median(v) for k, v in cpu_ms.items() if v}

    def ratio(name: str, base: str) -> str:
        if base not in rate or name not in rate:
            return "-"
        return f"{rate[name] / rate[base]:.2f} / {cpu[base] / cpu[name]:.2f}"

    rows = [("system", "images/s", "CPU ms/image", "x decode limit (wall / CPU)", "x Deep Lake 4.x (wall / CPU)",
             "runs", "notes"), ("---", "---:", "---:", "---:", "---:", "---:", "---")]
    for name in (LIMIT, NB, FILES, WDS, DL4):
        if name not in results:
            continue
        if not results[name]:
            rows.append((name, "-", "-", "-", "-", "0", notes.get(name, "")))
            continue
        rows.append((name, f"{rate[name]:,.0f}", f"{cpu[name]:.2f}", ratio(name, LIMIT), ratio(name, DL4),
                     str(len(results[name])), notes.get(name, "")))
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def record(text: str) -> None:
    """Append ``text`` at the end of the "## Loader" section of RESULTS.md (made when missing)."""
    path = os.path.join(HERE, "RESULTS.md")
    content = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    lines = content.rstrip("\n").split("\n")
    try:
        start = lines.index("## Loader")
    except ValueError:
        lines += ["", "## Loader"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = [""] + text.rstrip("\n").split("\n")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of JPEGs (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=224, help="crop size (default 224)")
    parser.add_argument("--repeats", type=int, default=2, help="epochs per system, interleaved (default 2)")
    parser.add_argument("--systems", default="limit,nb,files,wds,dl4", help="comma-separated subset")
    parser.add_argument("--data", default=os.path.join(HERE, "data"))
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    chosen = set(args.systems.split(","))

    folder, paths, labels_path = dataset_folder(args.data, args.n, args.seed)
    labels = json.load(open(labels_path))
    tag = f"{args.n}-seed{args.seed}"
    nb_folder = os.path.join(args.data, f"loader-nb-{tag}")
    build_nb(nb_folder, paths, labels)
    shards = build_wds(os.path.join(args.data, f"loader-wds-{tag}"), paths, labels) if "wds" in chosen else []
    dl4_folder = os.path.join(args.data, f"loader-dl4-{tag}")
    have_dl4 = "dl4" in chosen and build_dl4(dl4_folder, folder, labels_path)
    blobs = [open(p, "rb").read() for p in paths] if "limit" in chosen else []
    tfm = CropNormalize(args.size)

    notes = {LIMIT: f"in memory, {available_cpus()} threads, no batching",
             NB: "global permutation, coalesced reads", FILES: "one file per sample",
             WDS: "shard shuffle + 1,000-sample buffer (not a global permutation)",
             DL4: "ds.pytorch() map-style, torch borrowed at run time" if have_dl4 else
             "skipped: no .venv-peers with deeplake"}
    runners: dict[str, Callable[[], tuple]] = {}
    if "limit" in chosen:
        runners[LIMIT] = lambda: run_limit(blobs, tfm, args.seed)
    if "nb" in chosen:
        runners[NB] = lambda: run_nb(os.path.join(nb_folder, "ds"), tfm, args)
    if "files" in chosen:
        runners[FILES] = lambda: run_files(paths, labels, tfm, args)
    if "wds" in chosen:
        runners[WDS] = lambda: run_wds(shards, len(paths), tfm, args)
    if have_dl4:
        runners[DL4] = lambda: run_dl4(os.path.join(dl4_folder, "ds"), args)
    results: dict[str, list[float]] = {name: [] for name in runners}
    cpu_ms: dict[str, list[float]] = {name: [] for name in runners}
    if "dl4" in chosen and not have_dl4:
        results[DL4] = []

    host = machine()
    for r in range(args.repeats):
        for name, runner in runners.items():
            cpu = cpu_seconds()
            images, seconds, *inner_cpu = runner()
            cpu = inner_cpu[0] if inner_cpu else cpu_seconds() - cpu
            if images != len(paths):
                raise RuntimeError(f"{name} streamed {images} images, expected {len(paths)}")
            results[name].append(images / seconds)
            cpu_ms[name].append(1000 * cpu / images)
            print(f"round {r + 1}/{args.repeats}  {name:26s} {images / seconds:8,.0f} images/s  "
                  f"{1000 * cpu / images:6.2f} CPU ms/image", flush=True)

    text = table(results, cpu_ms, notes)
    argv = [a for a in sys.argv[1:] if a != "--record"]
    if "--data" in argv:  # never record a path of this machine
        argv[argv.index("--data") + 1: argv.index("--data") + 2] = ["DIR"]
    command = "python benchmarks/bench_loader.py " + " ".join(argv)
    header = (f"### {datetime.date.today().isoformat()}: one shuffled epoch, {args.n:,} JPEGs ~250 px -> "
              f"{args.size}x{args.size} float32, batch {args.batch}, {args.workers} workers\n\n"
              f"- machine: {host}\n- command: `{command.strip()}`\n")
    print("\n" + header + "\n" + text)
    if args.record:
        record(header + "\n" + text + "\n")
        print("\nrecorded in benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
