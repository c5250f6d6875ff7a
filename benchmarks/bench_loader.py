"""Streaming one shuffled epoch of JPEGs into PyTorch: deeplake_nb vs the decode limit, plain files,
WebDataset, Deep Lake 4.x, LitData and MosaicML Streaming, side by side on the same images with the
same transform; then the shuffle quality of each system on a class-sorted layout.

    python benchmarks/bench_loader.py --n 10000 [--repeats 2] [--record]

- Data: ``--n`` photo-like JPEGs of 200-300 px (``deeplake_nb.demo.synthetic.write_jpeg_folder``),
  generated once into ``benchmarks/data/jpeg-<n>-seed<seed>/`` (git-ignored, shared with
  ``bench_ingest_read.py``); from them, once each: a deeplake_nb dataset, WebDataset tar shards
  (1,000 samples each), a Deep Lake 4.x dataset, LitData chunks (64MB) and MosaicML Streaming MDS
  shards (64 MiB), all holding the original JPEG bytes + a label, in index order.
- Work per image, identical for every system: decode to RGB uint8 (simplejpeg, or the system's own
  decoder for Deep Lake 4.x), ``CropNormalize(224)`` from ``deeplake_nb/loader/transforms.py``
  (center crop to 224x224, resizing first when a side is shorter; normalised float32 CHW), then
  batches of ``--batch`` (64) with the labels, ``--workers`` (2) worker processes.
- Systems (``--systems``, default all), and how each shuffles:
  - decode limit (``limit``): the same JPEG bytes, already in memory, decoded + transformed by a
    thread pool on all cores, no batching - what no loader can beat;
  - deeplake_nb (``nb``): ``ds.pytorch(tensors=["images", "labels"], shuffle=True, ...)``, a true
    global permutation;
  - plain files + torch DataLoader (``files``): a map-style dataset that opens, reads and decodes
    one file per index, ``DataLoader(shuffle=True)`` (a global permutation);
  - WebDataset (``wds``): ``wds.WebDataset(shards, shardshuffle=...)`` + ``.shuffle(1000)``
    buffer, decoded by the same function, ``.batched()``, in a ``DataLoader(batch_size=None)``;
    its shuffle is shard order + a 1,000-sample buffer per worker, not a global permutation;
  - Deep Lake 4.x ``ds.pytorch()`` (``dl4``): its map-style torch dataset in a
    ``DataLoader(shuffle=True)``; and Deep Lake 4.x ``query().batches()`` (``dl4q``): its own
    fast path, ``ds.query("SELECT * ORDER BY RANDOM()").batches(64)``, decoded by its C++
    prefetcher, the transform in the main process (no workers). Both run
    ``peer_loader_deeplake4.py`` in ``.venv-peers``;
  - LitData (``litdata``): ``litdata.StreamingDataset(shuffle=True)`` + ``StreamingDataLoader``
    (chunks permuted and dealt to the workers; inside a chunk, blocks of 256 samples permuted and
    the samples inside each block), ``peer_loader_litdata.py`` in ``.venv-peers-stream``;
  - MosaicML Streaming (``mds``): ``streaming.StreamingDataset(shuffle=True)`` (default ``py1e``
    shuffle) + ``StreamingDataLoader``, ``peer_loader_streaming.py`` in ``.venv-peers-stream``.
  The peers virtualenvs hold no torch; their scripts borrow this one's at run time. A peer whose
  virtualenv is missing, or that fails to build or run, is listed with the reason, not dropped.
- Each system streams ``--repeats`` epochs, interleaved with the others; the table shows medians
  of images/s (worker start-up and the first batch included) and of CPU time per image (user +
  system, of the process and its workers: what a fully loaded machine would pay), with ratios to
  the decode limit and to Deep Lake 4.x ``ds.pytorch()`` as "wall / CPU", and a line with
  deeplake_nb's ratios to the issue's three targets (decode limit, Deep Lake 4.x ``ds.pytorch()``,
  fastest peer). On a shared, oversubscribed machine the wall-clock figures follow the
  neighbours' load and favour systems that run more threads; the CPU ratios do not.
- Shuffle quality (skip with ``--shuffle-seeds ''``): the same stored datasets read as if they were
  class-sorted - sample ``i`` of ``n`` belongs to class ``i * --classes // n`` (100 classes in
  blocks of consecutive samples) - so every chunk- or shard-based shuffle sees exactly the layout
  it streams in the timed run (a labels-only dataset would fit in one chunk and flatter them).
  For each system, one epoch per seed of ``--shuffle-seeds`` (0,1,2), batches of ``--batch``,
  ``--workers`` workers, without decoding; reported: the mean number of distinct classes per batch,
  divided by the same for a uniform random permutation (mean of 20 seeded permutations). Rows:
  deeplake_nb ``shuffle=True`` and ``shuffle="chunks"``, ``DataLoader(shuffle=True)`` (what plain
  files and Deep Lake 4.x ``ds.pytorch()`` get), Deep Lake 4.x ``ORDER BY RANDOM()``, WebDataset,
  LitData (default, and ``item_shuffle_window="full"``), MosaicML Streaming.
- ``--record`` appends both tables to the "Loader" section of ``benchmarks/RESULTS.md`` with the
  date, machine and command.
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
from results_md import append_to_section  # noqa: E402

PEERS_PYTHON = os.path.join(REPO, ".venv-peers", "bin", "python")
STREAM_PYTHON = os.path.join(REPO, ".venv-peers-stream", "bin", "python")
PEER_DL4 = os.path.join(HERE, "peer_loader_deeplake4.py")
PEER_LIT = os.path.join(HERE, "peer_loader_litdata.py")
PEER_MDS = os.path.join(HERE, "peer_loader_streaming.py")
TRANSFORMS_FILE = os.path.join(REPO, "deeplake_nb", "loader", "transforms.py")
TORCH_PATH = os.path.dirname(os.path.dirname(torch.__file__))  # this virtualenv's site-packages
SHARD_SIZE = 1000

LIMIT, NB, FILES, WDS = "decode limit", "deeplake_nb", "plain files + DataLoader", "WebDataset"
DL4, DL4Q = "Deep Lake 4.x ds.pytorch()", "Deep Lake 4.x query().batches()"
LIT, MDS = "LitData", "MosaicML Streaming"
SYSTEMS = {"limit": LIMIT, "nb": NB, "files": FILES, "wds": WDS, "dl4": DL4, "dl4q": DL4Q, "litdata": LIT, "mds": MDS}
PEERS = (FILES, WDS, DL4, DL4Q, LIT, MDS)  # everything but deeplake_nb and the decode limit
SUBPROCESS_PEERS = (DL4, DL4Q, LIT, MDS)  # run by peer_loader_*.py in other virtualenvs


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


def _peer(python: str, script: str, *args: str) -> dict:
    """Run a peer script in its virtualenv (this virtualenv's torch on offer); its last JSON line."""
    env = dict(os.environ, PEER_LOADER_TORCH_PATH=TORCH_PATH, LITDATA_DISABLE_VERSION_CHECK="1")
    run = subprocess.run([python, script, *args], capture_output=True, text=True, cwd=REPO, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"{os.path.basename(script)} {args[0]} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _reason(err: Exception) -> str:
    """The last non-empty line of a failure, for the notes column."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[-1] if lines else type(err).__name__).replace("|", "/")[:160]


def build_peer(folder: str, python: str, script: str, command: list[str]) -> str | None:
    """Build a peer's copy of the data into ``folder/ds`` once; None, or why it is unavailable."""
    if not os.path.exists(python):
        venv = os.path.relpath(os.path.dirname(os.path.dirname(python)), REPO)
        return f"skipped: no {venv} (see benchmarks/README.md)"
    if not os.path.exists(os.path.join(folder, "complete.json")):
        shutil.rmtree(folder, ignore_errors=True)  # a build that did not finish
    try:
        _marked(folder, lambda: _peer(python, script, *command, "--out", os.path.join(folder, "ds")))
    except (RuntimeError, json.JSONDecodeError, IndexError) as err:
        return f"failed to build: {_reason(err)}"
    return None


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


def run_peer(python: str, script: str, command: list[str], path: str, args: argparse.Namespace,
             label_sum: int) -> tuple[int, float, float]:
    out = _peer(python, script, *command, "--path", path, "--transform-file", TRANSFORMS_FILE, "--batch",
                str(args.batch), "--workers", str(args.workers), "--seed", str(args.seed), "--size", str(args.size))
    if out["label_sum"] != label_sum:
        raise RuntimeError(f"{os.path.basename(script)} streamed labels summing to {out['label_sum']}, "
                           f"expected {label_sum}")
    return out["images"], out["seconds"], out["cpu_seconds"]  # CPU measured inside: no interpreter start


# -- shuffle quality --------------------------------------------------------------------------------------
def distinct_classes(batches: list, n: int, classes: int) -> float:
    """Mean number of distinct classes per batch, sample ``i`` being of class ``i * classes // n``;
    checks that the batches hold every index exactly once."""
    flat = np.concatenate([np.asarray(b, np.int64).reshape(-1) for b in batches])
    if len(flat) != n or not np.array_equal(np.sort(flat), np.arange(n)):
        raise RuntimeError(f"the batches hold {len(flat)} indices, not a permutation of {n}")
    cls = np.arange(n, dtype=np.int64) * classes // n
    return float(np.mean([len(np.unique(cls[np.asarray(b, np.int64).reshape(-1)])) for b in batches]))


def random_baseline(n: int, batch: int, classes: int, draws: int = 20) -> float:
    """``distinct_classes`` of a uniform random permutation, mean over ``draws`` seeded draws."""
    return statistics.fmean(
        distinct_classes(np.array_split(perm, range(batch, n, batch)), n, classes)
        for perm in (np.random.default_rng([7, k]).permutation(n) for k in range(draws)))


def order_nb(path: str, shuffle: bool | str, seed: int, args: argparse.Namespace,
             tensors: tuple[str, ...] = ("images", "labels")) -> list:
    """deeplake_nb's batches of indices, images read but not decoded (by default the same tensors as
    the timed run; ``shuffle="chunks"`` takes its block from the loaded tensors' chunks)."""
    ds = dl.load(path, read_only=True)
    loader = ds.pytorch(tensors=list(tensors), batch_size=args.batch, shuffle=shuffle, seed=seed,
                        num_workers=args.workers, decode_method={"images": "tobytes"}, return_index=True)
    return [np.asarray(b["index"]).tolist() for b in loader]


def nb_chunk_block(path: str, tensors: tuple[str, ...]) -> str:
    """The rows per block ``shuffle="chunks"`` uses for these tensors."""
    loader = dl.load(path, read_only=True).pytorch(tensors=list(tensors), batch_size=1, shuffle="chunks", seed=0)
    return f"{loader.shuffle_block:,}"


def order_torch(n: int, seed: int, args: argparse.Namespace) -> list:
    """``DataLoader(shuffle=True)``'s batches: its RandomSampler, batched (workers do not reorder)."""
    sampler = torch.utils.data.RandomSampler(range(n), generator=torch.Generator().manual_seed(seed))
    return list(torch.utils.data.BatchSampler(sampler, args.batch, drop_last=False))


def _wds_index(sample: dict) -> tuple[int]:
    return (int(sample["__key__"]),)


def order_wds(shards: list[str], seed: int, args: argparse.Namespace) -> list:
    import webdataset as wds

    pipeline = (wds.WebDataset(shards, shardshuffle=len(shards), seed=seed, empty_check=False)
                .shuffle(1000).map(_wds_index).batched(args.batch))
    loader = torch.utils.data.DataLoader(pipeline, batch_size=None, num_workers=args.workers)
    return [np.asarray(b[0]).tolist() for b in loader]


def shuffle_table(rows: list[tuple[str, str, list[float] | str]], baseline: float) -> str:
    out = [("system / mode", "distinct classes per batch", "x random permutation", "how it shuffles"),
           ("---", "---:", "---:", "---")]
    out.append(("uniform random permutation", f"{baseline:.1f}", "1.00", "np.random.permutation, 20 draws"))
    for name, how, values in rows:
        if isinstance(values, str):  # why there is no figure
            out.append((name, "-", "-", f"{how}; {values}"))
        else:
            mean = statistics.fmean(values)
            out.append((name, f"{mean:.1f}", f"{mean / baseline:.2f}", how))
    return "\n".join("| " + " | ".join(r) + " |" for r in out)


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

    rows = [("system", "images/s", "CPU ms/image", "x decode limit (wall / CPU)",
             "x Deep Lake 4.x ds.pytorch() (wall / CPU)",
             "runs", "notes"), ("---", "---:", "---:", "---:", "---:", "---:", "---")]
    for name in SYSTEMS.values():
        if name not in results:
            continue
        if not results[name]:
            rows.append((name, "-", "-", "-", "-", "0", notes.get(name, "")))
            continue
        rows.append((name, f"{rate[name]:,.0f}", f"{cpu[name]:.2f}", ratio(name, LIMIT), ratio(name, DL4),
                     str(len(results[name])), notes.get(name, "")))
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def targets(results: dict[str, list[float]], cpu_ms: dict[str, list[float]]) -> str:
    """deeplake_nb against the issue's targets: >= 0.9x the decode limit, >= 1.5x Deep Lake 4.x
    ``ds.pytorch()``, >= 1.1x the fastest peer (by images/s; CPU ratio against the same peer)."""
    rate = {k: statistics.median(v) for k, v in results.items() if v}
    cpu = {k: statistics.median(v) for k, v in cpu_ms.items() if v}
    if NB not in rate:
        return ""
    parts = []
    for label, base, goal in (("the decode limit", LIMIT, 0.9), (DL4, DL4, 1.5)):
        if base in rate:
            parts.append(f"{rate[NB] / rate[base]:.2f}x {label} (target {goal}; CPU {cpu[base] / cpu[NB]:.2f}x)")
    peers = [p for p in PEERS if p in rate]
    if peers:
        best = max(peers, key=rate.get)
        parts.append(f"{rate[NB] / rate[best]:.2f}x the fastest peer, {best} (target 1.1; "
                     f"CPU {cpu[best] / cpu[NB]:.2f}x)")
    return "deeplake_nb, wall-clock: " + ", ".join(parts) + "."


def record(text: str) -> None:
    """Append ``text`` at the end of the "## Loader" section of RESULTS.md."""
    append_to_section("Loader", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of JPEGs (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=224, help="crop size (default 224)")
    parser.add_argument("--repeats", type=int, default=2, help="epochs per system, interleaved (default 2)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--classes", type=int, default=100, help="classes of the shuffle-quality layout (default 100)")
    parser.add_argument("--shuffle-seeds", default="0,1,2", help="epochs per shuffle-quality row ('' to skip)")
    parser.add_argument("--data", default=os.path.join(HERE, "data"))
    parser.add_argument("--record", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    args = parser.parse_args()
    chosen = set(args.systems.split(","))
    if chosen - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(chosen - set(SYSTEMS))}; choose from {','.join(SYSTEMS)}")

    folder, paths, labels_path = dataset_folder(args.data, args.n, args.seed)
    labels = json.load(open(labels_path))
    label_sum = int(sum(labels))
    tag = f"{args.n}-seed{args.seed}"
    nb_folder = os.path.join(args.data, f"loader-nb-{tag}")
    build_nb(nb_folder, paths, labels)
    shards = build_wds(os.path.join(args.data, f"loader-wds-{tag}"), paths, labels) if "wds" in chosen else []
    source = ["--src", folder, "--labels", labels_path]
    peer_dirs = {DL4: os.path.join(args.data, f"loader-dl4-{tag}"),
                 LIT: os.path.join(args.data, f"loader-litdata-{tag}"),
                 MDS: os.path.join(args.data, f"loader-mds-{tag}")}
    peer_dirs[DL4Q] = peer_dirs[DL4]
    unavailable: dict[str, str] = {}  # peer -> why it has no figures
    if chosen & {"dl4", "dl4q"}:
        why = build_peer(peer_dirs[DL4], PEERS_PYTHON, os.path.join(HERE, "peer_deeplake4.py"), ["ingest", *source])
        if why:
            unavailable[DL4] = unavailable[DL4Q] = why.replace("skipped: no .venv-peers",
                                                               "skipped: no .venv-peers with deeplake")
    if "litdata" in chosen and (why := build_peer(peer_dirs[LIT], STREAM_PYTHON, PEER_LIT, ["build", *source])):
        unavailable[LIT] = why
    if "mds" in chosen and (why := build_peer(peer_dirs[MDS], STREAM_PYTHON, PEER_MDS, ["build", *source])):
        unavailable[MDS] = why
    blobs = [open(p, "rb").read() for p in paths] if "limit" in chosen else []
    tfm = CropNormalize(args.size)

    def info(name: str, key: str) -> object:
        try:
            return json.load(open(os.path.join(peer_dirs[name], "complete.json"))).get(key, "?")
        except OSError:
            return "?"

    notes = {LIMIT: f"in memory, {available_cpus()} threads, no batching",
             NB: "shuffle=True: global permutation; coalesced reads",
             FILES: "one file per sample; DataLoader(shuffle=True): global permutation",
             WDS: f"{len(shards)} tar shards of {SHARD_SIZE:,}; shard shuffle + 1,000-sample buffer per worker "
                  "(not a global permutation)",
             DL4: "map-style in DataLoader(shuffle=True): global permutation; torch borrowed at run time",
             DL4Q: f"SELECT * ORDER BY RANDOM(), .batches({args.batch}): global permutation (unseeded); C++ "
                   "prefetcher decodes, transform in the main process, no workers",
             LIT: f"{info(LIT, 'chunks')} chunk(s) of 64MB; StreamingDataLoader; shuffle=True: chunks permuted and "
                  "dealt to workers, 256-sample blocks permuted inside each chunk (not a global permutation)",
             MDS: f"{info(MDS, 'shards')} MDS shard(s) of 64 MiB; StreamingDataLoader; shuffle=True, py1e: shards "
                  "dealt to 64 canonical nodes, samples spread over 262,144-sample blocks"}
    for name, why in unavailable.items():
        notes[name] = why
    nb_path = os.path.join(nb_folder, "ds")
    runners: dict[str, Callable[[], tuple]] = {}
    if "limit" in chosen:
        runners[LIMIT] = lambda: run_limit(blobs, tfm, args.seed)
    if "nb" in chosen:
        runners[NB] = lambda: run_nb(nb_path, tfm, args)
    if "files" in chosen:
        runners[FILES] = lambda: run_files(paths, labels, tfm, args)
    if "wds" in chosen:
        runners[WDS] = lambda: run_wds(shards, len(paths), tfm, args)
    if "dl4" in chosen and DL4 not in unavailable:
        runners[DL4] = lambda: run_peer(PEERS_PYTHON, PEER_DL4, ["--mode", "pytorch"],
                                        os.path.join(peer_dirs[DL4], "ds"), args, label_sum)
    if "dl4q" in chosen and DL4Q not in unavailable:
        runners[DL4Q] = lambda: run_peer(PEERS_PYTHON, PEER_DL4, ["--mode", "query"],
                                         os.path.join(peer_dirs[DL4], "ds"), args, label_sum)
    if "litdata" in chosen and LIT not in unavailable:
        runners[LIT] = lambda: run_peer(STREAM_PYTHON, PEER_LIT, ["epoch"], os.path.join(peer_dirs[LIT], "ds"),
                                        args, label_sum)
    if "mds" in chosen and MDS not in unavailable:
        runners[MDS] = lambda: run_peer(STREAM_PYTHON, PEER_MDS, ["epoch"], os.path.join(peer_dirs[MDS], "ds"),
                                        args, label_sum)
    results: dict[str, list[float]] = {name: [] for key, name in SYSTEMS.items()
                                       if key in chosen and (name in runners or name in unavailable)}
    cpu_ms: dict[str, list[float]] = {name: [] for name in results}

    host = machine()
    for r in range(args.repeats):
        for name, runner in list(runners.items()):
            cpu = cpu_seconds()
            try:
                images, seconds, *inner_cpu = runner()
            except (RuntimeError, json.JSONDecodeError, IndexError, KeyError) as err:
                if name not in SUBPROCESS_PEERS:
                    raise
                notes[name] = f"failed in round {r + 1}: {_reason(err)}"  # a peer's failure costs its row only
                print(f"round {r + 1}/{args.repeats}  {name:26s} failed: {err}", file=sys.stderr, flush=True)
                del runners[name]
                continue
            cpu = inner_cpu[0] if inner_cpu else cpu_seconds() - cpu
            if images != len(paths):
                raise RuntimeError(f"{name} streamed {images} images, expected {len(paths)}")
            results[name].append(images / seconds)
            cpu_ms[name].append(1000 * cpu / images)
            print(f"round {r + 1}/{args.repeats}  {name:31s} {images / seconds:8,.0f} images/s  "
                  f"{1000 * cpu / images:6.2f} CPU ms/image", flush=True)

    text = table(results, cpu_ms, notes)
    summary = targets(results, cpu_ms)
    if summary:
        text += "\n\n" + summary

    seeds = [int(x) for x in args.shuffle_seeds.split(",") if x.strip()]
    if seeds:
        print("\nshuffle quality ...", flush=True)
        n = len(paths)

        def measure(batches_per_seed) -> list[float]:
            return [distinct_classes(b, n, args.classes) for b in batches_per_seed]
        rows: list[tuple[str, str, list[float] | str]] = []

        def peer_rows(name: str, label: str, how: str, python: str, script: str, command: list[str]) -> None:
            if name in unavailable:
                rows.append((label, how, unavailable[name]))
                return
            try:
                out = _peer(python, script, *command, "--path", os.path.join(peer_dirs[name], "ds"), "--batch",
                            str(args.batch), "--workers", str(args.workers), "--seeds", ",".join(map(str, seeds)))
                rows.append((label, how, measure(out["batches"].values())))
            except (RuntimeError, json.JSONDecodeError, IndexError, KeyError) as err:
                rows.append((label, how, f"failed: {_reason(err)}"))

        if "nb" in chosen:
            rows.append(("deeplake_nb shuffle=True (default)", "seeded global permutation",
                         measure(order_nb(nb_path, True, s, args) for s in seeds)))
            for tensors in (("images", "labels"), ("images",)):
                how = (f"blocks of {nb_chunk_block(nb_path, tensors)} rows (the loaded tensors' smallest rows per "
                       "chunk) permuted, 8 blocks mixed at a time")
                rows.append((f'deeplake_nb shuffle="chunks", {" + ".join(tensors)}', how,
                             measure(order_nb(nb_path, "chunks", s, args, tensors) for s in seeds)))
        if chosen & {"files", "dl4"}:
            rows.append(("DataLoader(shuffle=True): plain files, Deep Lake 4.x ds.pytorch()",
                         "torch RandomSampler: global permutation", measure(order_torch(n, s, args) for s in seeds)))
        if "dl4q" in chosen:
            peer_rows(DL4Q, "Deep Lake 4.x query(... ORDER BY RANDOM()).batches()",
                      "sort by a random key (one run per seed; RANDOM() takes none)", PEERS_PYTHON, PEER_DL4,
                      ["--mode", "order"])
        if "wds" in chosen:
            rows.append((WDS, f"{len(shards)} shards shuffled + .shuffle(1000) buffer per worker",
                         measure(order_wds(shards, s, args) for s in seeds)))
        if "litdata" in chosen:
            peer_rows(LIT, "LitData shuffle=True (default)", "chunks permuted; 256-sample blocks permuted inside "
                      "each chunk", STREAM_PYTHON, PEER_LIT, ["order"])
            peer_rows(LIT, 'LitData shuffle=True, item_shuffle_window="full"', "chunks permuted; full permutation "
                      "inside each chunk", STREAM_PYTHON, PEER_LIT, ["order", "--item-shuffle-window", "full"])
        if "mds" in chosen:
            peer_rows(MDS, "MosaicML Streaming shuffle=True (py1e, default)", "shards to 64 canonical nodes, "
                      "samples spread over 262,144-sample blocks", STREAM_PYTHON, PEER_MDS, ["order"])
        baseline = random_baseline(n, args.batch, args.classes)
        text += (f"\n\nShuffle quality: the same stored data read as class-sorted (sample i of {n:,} in class "
                 f"i * {args.classes} // {n:,}: {args.classes} classes in blocks of consecutive samples), "
                 f"batches of {args.batch}, {args.workers} workers, one epoch per seed {args.shuffle_seeds}; "
                 "target >= 0.95x a random permutation in the default mode.\n\n"
                 + shuffle_table(rows, baseline))

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
