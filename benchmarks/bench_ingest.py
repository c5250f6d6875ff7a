"""Ingestion targets of issue 14, side by side, ratios from one run.

    python benchmarks/bench_ingest.py --n 5000 --n-compute 2000 --repeats 3
    python benchmarks/bench_ingest.py --quick   # --n 2000 --n-compute 400 --n-loop 50: a few minutes

- ``extend``: JPEG + class label + one box per row through ``ds.extend`` of a dict of lists
  (``dl.read`` paths, ints, per-row ``(1, 4)`` float32 arrays), ``--batch`` rows a call, in one
  ``with ds:``; Deep Lake 4.x (``peer_ingest_deeplake4.py extend``) appends the same rows
  (file bytes, labels, boxes) and commits. Target: >= 1.0x Deep Lake 4.x.
- ``classification``: an ImageFolder of the same ``--n`` JPEGs (hard links, three class folders)
  through ``dl.ingest_classification``, vs Deep Lake 4.x appending the same files with their
  class index, vs a plain Python loop of ``ds.append({"images": dl.read(p), "labels": k})`` (over
  the first ``--n-loop`` files: each append publishes, so it is slow; its rate is per file).
  Targets: >= 1.0x Deep Lake 4.x, >= 5x the loop.
- ``compute``: ``@dl.compute`` resizing each of ``--n-compute`` JPEGs to half size and re-encoding
  it (simplejpeg decode, Pillow resize, simplejpeg encode, in the function) into a JPEG tensor,
  2 workers on ``processed``, ``ray`` and ``dask`` vs ``serial``. Each scheduler is measured in a
  block of its own, its runs interleaved with ``serial`` runs that its ratio is taken against, and
  at most one cluster is up at a time: an idle cluster's event loops and heartbeats take ~5%
  (Ray) to ~12% (Dask) of a core from whatever runs beside it, which a user running one of them
  does not have. Ray and Dask run on the local cluster each scheduler starts when none is running
  (``ray.init(num_cpus=...)`` as ``ray_scheduler`` calls it; ``dask_scheduler.local_cluster``),
  started, and warmed up by one small transform, before the clock: their start-up is reported
  apart. ``processed`` starts its process pool inside every call, as a user's call does.
  The timed part of every run is ``eval`` alone: workers, the transfer of their results and the
  landing in ``ds_out`` (made, with its tensor, before the clock). Target: >= 1.6x serial on 2
  cores.

The input files are read once before any run (untimed), so every run finds them in the page cache.
Every ``extend`` and ``classification`` run, ours and Deep Lake 4.x's alike, is a fresh Python
process that imports its library and reads the inputs' names before the clock starts: each run
pays the library's first-call costs (lazy imports, thread pools, codec set-up), as a one-off
ingest does, and no run is warmed by another. (Ours used to run in the benchmark's own process,
where only the first run paid them.) ``compute`` runs in this process: its schedulers are
compared with each other, and the cluster start-up is reported apart.

Every run of ours also counts the ``os.fsync`` calls it makes and the time they take (reported
per part: durability's share of the time; Deep Lake 4.x does not fsync).

Data: the synthetic photo-like JPEGs of ``bench_ingest_read.py`` (cached in ``--data-dir``).
Each measurement runs ``--repeats`` times, systems interleaved; medians and ratios are shown.
The machine may be shared: read the ratios, run when it is quiet (``uptime`` load < 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import CLASS_NAMES
from deeplake_nb.format.sample import Sample

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_ingest_read import dataset_folder, machine  # noqa: E402

PEER = os.path.join(HERE, "peer_ingest_deeplake4.py")


# -- data -------------------------------------------------------------------------------------------
def boxes_for(folder: str, n: int, seed: int) -> str:
    """One LTWH box per image (float32, pixels), saved next to the JPEGs for the peer to read."""
    path = os.path.join(folder, "boxes.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed + 7)
        xy = rng.uniform(0, 100, (n, 2))
        wh = rng.uniform(10, 100, (n, 2))
        np.save(path, np.concatenate([xy, wh], axis=1).astype(np.float32))
    return path


def image_folder(folder: str, paths: list[str], labels: list[int]) -> str:
    """An ImageFolder tree of hard links to ``paths`` (class folder = the label's name)."""
    tree = folder + "-imagefolder"
    marker = os.path.join(tree, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(tree, ignore_errors=True)
        for path, label in zip(paths, labels):
            target = os.path.join(tree, CLASS_NAMES[label], os.path.basename(path))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(path, target)
        open(marker, "w").close()
    return tree


def peer(python: str, *args: str) -> dict:
    proc = subprocess.run([python, PEER, *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"peer_ingest_deeplake4.py {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def warm(paths: list[str]) -> None:
    """Read every input file once, untimed: the runs then read them from the page cache, all alike
    (on a machine shared with memory-hungry jobs they get evicted between benchmarks, and the
    first run of either system read them from disk: ~2x its time, seen on both sides)."""
    for path in paths:
        with open(path, "rb") as f:
            f.read()


def fresh(part: str, *args: str) -> dict:
    """One run of ours in a fresh process (``--child``, see ``child``): {"seconds", "fsyncs"}."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", part, *args], capture_output=True,
                          text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_ingest.py --child {part} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(args: argparse.Namespace) -> None:
    """``--child PART``: one timed run of ours in this process, after the imports and reading the
    inputs' names (as the peer does); prints {"seconds", "fsyncs": [calls, seconds]}."""
    folder, paths, labels_path = dataset_folder(args.data_dir, args.n, args.seed)
    counted = Fsyncs()
    if args.child == "extend":
        with open(labels_path) as f:
            labels = json.load(f)
        boxes = np.load(boxes_for(folder, args.n, args.seed))
        os.sync()
        seconds = extend_nb(paths, labels, boxes, args.out, args.batch)
    elif args.child == "classification":
        os.sync()
        seconds = classification_nb(args.tree, args.out)
    else:
        os.sync()
        seconds = classification_loop(args.tree, args.out, args.n_loop) * args.n
    json.dump({"seconds": seconds, "fsyncs": [counted.calls, counted.seconds]}, sys.stdout)
    sys.stdout.write("\n")


# -- extend -----------------------------------------------------------------------------------------
def extend_nb(paths: list[str], labels: list[int], boxes: np.ndarray, out: str, batch: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    ds = dl.empty(out)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=CLASS_NAMES)
    ds.create_tensor("boxes", htype="bbox", coords={"type": "LTWH", "mode": "pixel"})
    with ds:
        for first in range(0, len(paths), batch):
            stop = min(first + batch, len(paths))
            ds.extend({"images": [dl.read(p) for p in paths[first:stop]], "labels": labels[first:stop],
                       "boxes": [boxes[i:i + 1] for i in range(first, stop)]})
    return time.perf_counter() - start


# -- classification ---------------------------------------------------------------------------------
def classification_nb(tree: str, out: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    dl.ingest_classification(tree, out, progressbar=False, summary=False)
    return time.perf_counter() - start


def classification_loop(tree: str, out: str, limit: int) -> float:
    """What users write by hand: one ``ds.append`` per file (each one published, as outside
    ``with ds:``), over the first ``limit`` files; seconds per file."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    classes = sorted(d for d in os.listdir(tree) if os.path.isdir(os.path.join(tree, d)))
    files = [(os.path.join(tree, name, f), k) for k, name in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(tree, name)))][:limit]
    ds = dl.empty(out)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=classes)
    for path, k in files:
        ds.append({"images": dl.read(path), "labels": k})
    return (time.perf_counter() - start) / len(files)


# -- compute ----------------------------------------------------------------------------------------
@dl.compute
def resize(path, out, quality=85):
    """Decode, halve, re-encode: CPU-bound work in the function, the JPEG stored as made."""
    import simplejpeg
    from PIL import Image

    with open(path, "rb") as f:
        pixels = simplejpeg.decode_jpeg(f.read(), colorspace="RGB")
    h, w = pixels.shape[:2]
    small = np.asarray(Image.fromarray(pixels).resize((w // 2, h // 2), Image.BILINEAR))
    out.images.append(Sample(buffer=simplejpeg.encode_jpeg(np.ascontiguousarray(small), quality=quality)))


class Clusters:
    """The local Ray or Dask cluster of ``workers`` workers that the scheduler of that name starts
    for a call when none is running, started ahead of the timing (one at a time)."""

    def __init__(self, workers: int, warm_paths: list[str], scratch: str) -> None:
        self.startup: dict[str, float] = {}
        self.workers = workers
        self.warm_paths = warm_paths
        self.scratch = scratch
        self._running: str | None = None
        self._dask = contextlib.ExitStack()

    def start(self, name: str) -> None:
        """Start the cluster and run one small transform on it (its workers import the library and
        unpickle the function once): all of it counts as start-up, not as the transform's time."""
        t0 = time.perf_counter()
        self._running = name  # closed by close() even if it does not start
        if name == "ray":
            import ray

            ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([REPO, HERE])}})
        elif name == "dask":
            from deeplake_nb.ingest import dask_scheduler

            cluster, client = dask_scheduler.local_cluster(self.workers)
            self._dask.callback(cluster.close)
            self._dask.callback(client.close)
            self._dask.enter_context(client.as_current())  # scheduler="dask" uses the current client
        compute_nb(self.warm_paths, os.path.join(self.scratch, f"warm-{name}"), name, self.workers)
        self.startup[name] = time.perf_counter() - t0

    def close(self) -> None:
        """Shut the running cluster down (if any)."""
        if self._running == "ray":
            import ray

            ray.shutdown()
        self._dask.close()  # the client made current, then closed, then its cluster
        self._running = None


def compute_nb(paths: list[str], out: str, scheduler: str, workers: int) -> float:
    ds = dl.empty(out, overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    start = time.perf_counter()
    resize().eval(paths, ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    seconds = time.perf_counter() - start
    assert len(ds) == len(paths)
    return seconds


# -- report -----------------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return statistics.median(values)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


class Fsyncs:
    """Counts this process's ``os.fsync`` calls and the seconds they take (installed once)."""

    def __init__(self) -> None:
        self.calls, self.seconds = 0, 0.0
        real = os.fsync

        def counted(fd: Any) -> None:
            start = time.perf_counter()
            try:
                real(fd)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - start

        os.fsync = counted

    def mark(self) -> tuple[int, float]:
        return self.calls, self.seconds


def rounds(systems: dict[str, Callable[[], float]], repeats: int, results: dict[str, list[float]],
           fsyncs: dict[str, list[tuple[int, float]]] | None = None) -> None:
    """Run every system ``repeats`` times, interleaved, each after an untimed ``os.sync()`` (an fsync
    commits the file system's journal, so without it a run that fsyncs would write back what the run
    before it left dirty; a fresh process syncs again once it has started). A system returns its
    seconds, or (seconds, (fsync calls, fsync seconds)) when it counted its fsyncs, which are then
    recorded in ``fsyncs``."""
    names = list(systems)
    for rep in range(repeats):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            os.sync()  # the previous run's dirty pages written back untimed: no run pays for another's
            got = systems[name]()
            seconds, counted = got if isinstance(got, tuple) else (got, (0, 0.0))
            results.setdefault(name, []).append(seconds)
            if fsyncs is not None:
                fsyncs.setdefault(name, []).append(counted)
            print(f"  {name}: {results[name][-1]:.3f} s", file=sys.stderr)


def fsync_line(part: str, fsyncs: dict[str, list[tuple[int, float]]]) -> str:
    """Our systems' fsyncs per run in ``part`` (medians), for the report."""
    ours = [(name, runs) for name, runs in fsyncs.items() if name.startswith("deeplake_nb") and runs[0][0]]
    return f"{part}, fsyncs per run (median count, seconds): " + "; ".join(
        f"{name} {median([c for c, _ in runs]):.0f}, {median([t for _, t in runs]):.2f} s" for name, runs in ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="--n 2000 --n-compute 400 --n-loop 50 unless given")
    parser.add_argument("--n", type=int, help="JPEGs for extend and classification (default 5000)")
    parser.add_argument("--n-compute", type=int, help="JPEGs for the compute part (default 2000)")
    parser.add_argument("--n-loop", type=int,
                        help="files the ds.append loop appends (its rate is per file; default 500)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="rows per extend call (default 500)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="extend,classification,compute")
    parser.add_argument("--schedulers", default="processed,ray,dask")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    parser.add_argument("--peers-python", default=os.path.join(REPO, ".venv-peers", "bin", "python"))
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--child", choices=("extend", "classification", "loop"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, full, quick in (("n", 5000, 2000), ("n_compute", 2000, 400), ("n_loop", 500, 50)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.child:
        child(args)
        return
    common = ["--n", str(args.n), "--seed", str(args.seed), "--data-dir", args.data_dir]
    parts = args.parts.split(",")
    load_before = os.getloadavg()[0]

    folder, paths, labels_path = dataset_folder(args.data_dir, args.n, args.seed)
    with open(labels_path) as f:
        labels = json.load(f)
    boxes_path = boxes_for(folder, args.n, args.seed)
    warm(paths)
    have_peer = os.path.exists(args.peers_python)
    scratch = tempfile.mkdtemp(prefix="ingest-", dir=args.data_dir)
    out = lambda name: os.path.join(scratch, name)  # noqa: E731
    results: dict[str, dict[str, list[float]]] = {}
    fsyncs: dict[str, dict[str, list[tuple[int, float]]]] = {}
    report: list[str] = []
    dl4_version = None
    try:
        if "extend" in parts:
            def nb_extend() -> tuple[float, tuple[int, float]]:
                r = fresh("extend", *common, "--out", out("nb-extend"), "--batch", str(args.batch))
                return r["seconds"], tuple(r["fsyncs"])
            systems: dict[str, Callable[[], Any]] = {"deeplake_nb": nb_extend}
            if have_peer:
                def dl4_extend() -> float:
                    nonlocal dl4_version
                    r = peer(args.peers_python, "extend", "--src", folder, "--labels", labels_path, "--boxes",
                             boxes_path, "--out", out("dl4-extend"), "--batch", str(args.batch))
                    dl4_version = r["version"]
                    return r["seconds"]
                systems["Deep Lake 4.x"] = dl4_extend
            print("extend: JPEG + label + box", file=sys.stderr)
            rounds(systems, args.repeats, results.setdefault("extend", {}), fsyncs.setdefault("extend", {}))
        if "classification" in parts:
            tree = image_folder(folder, paths, labels)
            loop = min(args.n_loop, args.n)
            def nb(part: str, name: str, *extra: str) -> Callable[[], tuple[float, tuple[int, float]]]:
                def run() -> tuple[float, tuple[int, float]]:
                    r = fresh(part, *common, "--tree", tree, "--out", out(name), *extra)
                    return r["seconds"], tuple(r["fsyncs"])
                return run
            systems = {"deeplake_nb ingest_classification": nb("classification", "nb-cls"),
                       "deeplake_nb ds.append loop": nb("loop", "nb-loop", "--n-loop", str(loop))}
            if have_peer:
                systems["Deep Lake 4.x"] = lambda: peer(args.peers_python, "classification", "--src", tree,
                                                        "--out", out("dl4-cls"))["seconds"]
            print("classification: ImageFolder", file=sys.stderr)
            rounds(systems, args.repeats, results.setdefault("classification", {}),
                   fsyncs.setdefault("classification", {}))
        clusters = Clusters(args.workers, paths[:4 * args.workers], scratch)
        if "compute" in parts:
            cpaths = paths[:args.n_compute]
            serial = lambda: compute_nb(cpaths, out("c-serial"), "serial", 0)  # noqa: E731
            print("compute: resize + re-encode", file=sys.stderr)
            for name in args.schedulers.split(","):
                try:
                    if name in ("ray", "dask"):
                        try:
                            clusters.start(name)
                        except Exception as exc:  # a loaded machine can time a cluster's start out
                            print(f"{name} did not start ({type(exc).__name__}: {exc}); left out", file=sys.stderr)
                            report.append(f"{name}: the local cluster did not start ({type(exc).__name__}); left out")
                            continue
                    run = (lambda s: lambda: compute_nb(cpaths, out(f"c-{s}"), s, args.workers))(name)
                    block: dict[str, list[float]] = {}
                    rounds({"serial": serial, name: run}, args.repeats, block)
                    results.setdefault("compute", {})[name] = block[name]
                    results["compute"][f"serial ({name} block)"] = block["serial"]
                finally:
                    clusters.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    dl4 = f"Deep Lake {dl4_version}" if dl4_version else "Deep Lake 4.x"
    report.append(f"machine: {machine()}; python {platform.python_version()}; median of {args.repeats} "
                  f"interleaved runs; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if "extend" in results:
        r = results["extend"]
        base = args.n / median(r["Deep Lake 4.x"]) if "Deep Lake 4.x" in r else None
        rows = [("extend: JPEG + label + box", "rows/s", f"vs {dl4}")]
        for name, secs in r.items():
            rate = args.n / median(secs)
            rows.append((name.replace("Deep Lake 4.x", dl4), f"{rate:,.0f}", f"{rate / base:.2f}x" if base else "-"))
        report.append(table(rows))
    if "classification" in results:
        r = results["classification"]
        rate = {name: args.n / median(secs) for name, secs in r.items()}
        dl4_rate = rate.get("Deep Lake 4.x")
        loop_rate = rate["deeplake_nb ds.append loop"]
        rows = [(f"ImageFolder of {args.n} JPEGs", "files/s", f"vs {dl4}", "vs append loop")]
        for name, value in rate.items():
            rows.append((name.replace("Deep Lake 4.x", dl4), f"{value:,.0f}",
                         f"{value / dl4_rate:.2f}x" if dl4_rate else "-", f"{value / loop_rate:.2f}x"))
        report.append(table(rows))
    if "compute" in results:
        r = results["compute"]
        rows = [(f"resize + re-encode, {args.n_compute} JPEGs", "seconds", "images/s", "serial s (its block)",
                 "vs serial", "cluster start s")]
        for name, secs in r.items():
            if name.startswith("serial"):
                continue
            serial_s = median(r[f"serial ({name} block)"])
            start = clusters.startup.get(name)
            rows.append((f"{name}, {args.workers} workers", f"{median(secs):.2f}", f"{args.n_compute / median(secs):,.0f}",
                         f"{serial_s:.2f}", f"{serial_s / median(secs):.2f}x", f"{start:.1f}" if start is not None else "-"))
        report.append(table(rows))
    report += [fsync_line(part, runs) for part, runs in fsyncs.items()]
    report.append("per run (s): " + "; ".join(f"{part}/{name}: " + ", ".join(f"{x:.3f}" for x in secs)
                                            for part, r in results.items() for name, secs in r.items()))
    print("\n\n".join(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": machine(), "dl4_version": dl4_version, "seconds": results,
                       "fsyncs": fsyncs, "load": [load_before, os.getloadavg()[0]],
                       "cluster_startup": clusters.startup if "compute" in parts else {}}, f, indent=1)


if __name__ == "__main__":
    main()
