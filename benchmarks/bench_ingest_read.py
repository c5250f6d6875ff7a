"""Ingest rate, bytes on disk and random single-image read latency: deeplake_nb vs Deep Lake 4.x
vs plain files, side by side on the same photo-like JPEGs.

    python benchmarks/bench_ingest_read.py --n 5000

- Data: ``--n`` synthetic JPEGs of 200-300 px (``deeplake_nb.demo.synthetic``), generated once
  into ``benchmarks/data/jpeg-<n>-seed<seed>/`` (git-ignored) and reused by later runs.
- Ingest: every system starts from the list of file paths and stores the JPEG bytes as they are
  (no re-encoding) plus one class label per image, ``--batch`` images per call:
  deeplake_nb (``with ds: ds.images.extend([dl.read(p) ...]); ds.labels.extend(...)``),
  Deep Lake 4.x (``Image(sample_compression="jpeg")``, raw bytes appended, then ``commit``; run
  by ``peer_deeplake4.py`` in the peers virtualenv), plain files (``shutil.copyfile`` of each).
- Read: ``--reads`` random indices (same for all), one decoded image (numpy uint8) each:
  deeplake_nb ``ds.images[i].numpy()`` on ``dl.load(path, read_only=True)``, Deep Lake 4.x
  ``ds["images"][i]``, plain files open + read + simplejpeg decode.
- Each measurement runs ``--repeats`` times, the systems interleaved; the table shows medians
  and ratios to Deep Lake 4.x (the machine is shared and noisy: read the ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import simplejpeg
from tqdm.auto import tqdm

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES, write_jpeg_folder

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEER_WORKER = os.path.join(HERE, "peer_deeplake4.py")
DL4 = "Deep Lake 4.x"
NB = "deeplake_nb"
FILES = "plain files"


# -- data -------------------------------------------------------------------------------------------
def dataset_folder(data_dir: str, n: int, seed: int) -> tuple[str, list[str], str]:
    """The JPEG folder for (n, seed), generated unless a complete one is cached; returns
    (folder, sorted paths, path of labels.json)."""
    folder = os.path.join(data_dir, f"jpeg-{n}-seed{seed}")
    marker = os.path.join(folder, "complete.json")
    labels_path = os.path.join(folder, "labels.json")
    if not os.path.exists(marker):
        samples = write_jpeg_folder(folder, n, seed=seed, progress=True)
        with open(labels_path, "w") as f:
            json.dump([s.label for s in samples], f)
        with open(marker, "w") as f:
            json.dump({"n": n, "seed": seed, "bytes": sum(len(s.jpeg) for s in samples)}, f)
    paths = [os.path.join(folder, f"{i:05d}.jpg") for i in range(n)]
    return folder, paths, labels_path


def disk_bytes(path: str) -> tuple[int, int]:
    """(apparent bytes, file count) of everything under ``path``."""
    total = count = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
            count += 1
    return total, count


# -- ingest -----------------------------------------------------------------------------------------
def ingest_nb(paths: list[str], labels: list[int], out: str, batch: int) -> float:
    if os.path.exists(out):
        shutil.rmtree(out)
    start = time.perf_counter()
    ds = dl.empty(out)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
    with ds:
        for first in range(0, len(paths), batch):
            ds.images.extend([dl.read(p) for p in paths[first:first + batch]])
            ds.labels.extend(labels[first:first + batch])
    return time.perf_counter() - start


def ingest_files(paths: list[str], out: str) -> float:
    if os.path.exists(out):
        shutil.rmtree(out)
    start = time.perf_counter()
    os.makedirs(out)
    for path in paths:
        shutil.copyfile(path, os.path.join(out, os.path.basename(path)))
    return time.perf_counter() - start


def peer(python: str, *args: str) -> dict:
    proc = subprocess.run([python, PEER_WORKER, *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"peer_deeplake4.py {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- read -------------------------------------------------------------------------------------------
def read_nb(path: str, indices: list[int]) -> tuple[list[float], int]:
    ds = dl.load(path, read_only=True)
    images = ds.images
    latencies, checksum = [], 0
    for i in indices:
        t0 = time.perf_counter()
        image = images[i].numpy()
        latencies.append(time.perf_counter() - t0)
        checksum += int(image.sum(dtype=np.int64))
    return latencies, checksum


def read_files(paths: list[str], indices: list[int]) -> tuple[list[float], int]:
    latencies, checksum = [], 0
    for i in indices:
        t0 = time.perf_counter()
        with open(paths[i], "rb") as f:
            image = simplejpeg.decode_jpeg(f.read(), colorspace="RGB")
        latencies.append(time.perf_counter() - t0)
        checksum += int(image.sum(dtype=np.int64))
    return latencies, checksum


# -- report -----------------------------------------------------------------------------------------
def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {model}"


def ratio(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}x"


def table(results: dict, n: int, dl4_version: str | None) -> str:
    names = [NB, DL4, FILES]
    label = {NB: NB, DL4: f"Deep Lake {dl4_version}" if dl4_version else DL4, FILES: FILES}
    rate = {s: n / statistics.median(results["ingest"][s]) for s in names if results["ingest"].get(s)}
    p50 = {s: statistics.median(np.percentile(r, 50) * 1e3 for r in results["read"][s])
           for s in names if results["read"].get(s)}
    p95 = {s: statistics.median(np.percentile(r, 95) * 1e3 for r in results["read"][s])
           for s in names if results["read"].get(s)}
    rows = [("system", "ingest img/s", "vs DL4", "MB on disk", "files", "read p50 ms", "vs DL4",
             "read p95 ms", "vs DL4")]
    for s in names:
        size, count = results["disk"].get(s, (None, None))
        rows.append((
            label[s],
            f"{rate[s]:,.0f}" if s in rate else "-", ratio(rate.get(s), rate.get(DL4)),
            f"{size / 1e6:.1f}" if size is not None else "-", f"{count}" if count is not None else "-",
            f"{p50[s]:.3f}" if s in p50 else "-", ratio(p50.get(s), p50.get(DL4)),
            f"{p95[s]:.3f}" if s in p95 else "-", ratio(p95.get(s), p95.get(DL4)),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="number of JPEGs (default 5000)")
    parser.add_argument("--reads", type=int, default=500, help="random reads per repeat (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are shown")
    parser.add_argument("--batch", type=int, default=500, help="images per append call (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.path.join(HERE, "data"),
                        help="cache of generated JPEGs and scratch datasets (default benchmarks/data)")
    parser.add_argument("--peers-python", default=os.path.join(REPO, ".venv-peers", "bin", "python"),
                        help="python of the peers virtualenv (benchmarks/requirements-peers.txt)")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()

    folder, paths, labels_path = dataset_folder(args.data_dir, args.n, args.seed)
    with open(labels_path) as f:
        labels = json.load(f)
    have_peer = os.path.exists(args.peers_python)
    if not have_peer:
        print(f"No peers virtualenv at {args.peers_python}; Deep Lake 4.x is skipped. Create it with:\n"
              "  python3 -m venv .venv-peers && .venv-peers/bin/pip install -r benchmarks/requirements-peers.txt")
    systems = [NB] + ([DL4] if have_peer else []) + [FILES]
    scratch = tempfile.mkdtemp(prefix="runs-", dir=args.data_dir)
    out = {s: os.path.join(scratch, s.replace(" ", "_").replace(".", "")) for s in systems}
    results: dict = {"ingest": {s: [] for s in systems}, "read": {s: [] for s in systems}, "disk": {},
                     "checksum": {}}
    dl4_version = None
    try:
        with tqdm(total=args.repeats * len(systems), desc="ingest") as bar:
            for rep in range(args.repeats):
                for s in systems[rep % len(systems):] + systems[:rep % len(systems)]:
                    bar.set_postfix_str(s)
                    if s == NB:
                        seconds = ingest_nb(paths, labels, out[s], args.batch)
                    elif s == DL4:
                        r = peer(args.peers_python, "ingest", "--src", folder, "--labels", labels_path,
                                 "--out", out[s], "--batch", str(args.batch))
                        seconds, dl4_version = r["seconds"], r["version"]
                    else:
                        seconds = ingest_files(paths, out[s])
                    results["ingest"][s].append(seconds)
                    bar.update()
        for s in systems:
            results["disk"][s] = disk_bytes(out[s])
        indices = np.random.default_rng(args.seed + 1).integers(0, args.n, args.reads).tolist()
        indices_path = os.path.join(scratch, "indices.json")
        with open(indices_path, "w") as f:
            json.dump(indices, f)
        with tqdm(total=args.repeats * len(systems), desc="random reads") as bar:
            for rep in range(args.repeats):
                for s in systems[rep % len(systems):] + systems[:rep % len(systems)]:
                    bar.set_postfix_str(s)
                    if s == NB:
                        latencies, checksum = read_nb(out[s], indices)
                    elif s == DL4:
                        r = peer(args.peers_python, "read", "--path", out[s], "--indices", indices_path)
                        latencies, checksum = r["latencies"], r["checksum"]
                    else:
                        latencies, checksum = read_files(paths, indices)
                    results["read"][s].append(latencies)
                    results["checksum"][s] = checksum
                    bar.update()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    if len(set(results["checksum"].values())) != 1:
        print(f"WARNING: decoded pixels differ between systems: {results['checksum']}")
    print()
    print(f"machine: {machine()}; python {platform.python_version()}; "
          f"{args.n} JPEGs ({sum(os.path.getsize(p) for p in paths) / 1e6:.1f} MB), "
          f"batch {args.batch}, {args.reads} random reads, median of {args.repeats} interleaved runs")
    print(table(results, args.n, dl4_version))
    print("per run: ingest s " + "; ".join(f"{s}: " + ", ".join(f"{x:.3f}" for x in results["ingest"][s])
                                          for s in systems))
    print("per run: read p50 ms " + "; ".join(
        f"{s}: " + ", ".join(f"{np.percentile(r, 50) * 1e3:.3f}" for r in results["read"][s]) for s in systems))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": machine(), "dl4_version": dl4_version,
                       "ingest_seconds": results["ingest"], "disk": results["disk"],
                       "read_p50_ms": {s: [float(np.percentile(r, 50) * 1e3) for r in v]
                                       for s, v in results["read"].items()},
                       "read_p95_ms": {s: [float(np.percentile(r, 95) * 1e3) for r in v]
                                       for s, v in results["read"].items()}}, f, indent=1)


if __name__ == "__main__":
    main()
