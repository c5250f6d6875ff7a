"""Version control costs: commit latency and bytes written after changing 10 samples, branch,
checkout, time travel, diff and merge, on datasets of 1,000 and 100,000 samples; deeplake_nb side
by side with Deep Lake 4.x.

    python benchmarks/bench_versioning.py                    # sizes 1000,100000
    python benchmarks/bench_versioning.py --sizes 1000 --repeats 3

- Data, the same for both systems: ``n`` rows of a small JPEG (32x32, ~2.5 KB, bytes stored as
  they are, from a pool of 64 cycled), a class label and a 64-d float32 embedding. Built fresh
  under ``benchmarks/data/versioning-*`` (git-ignored) on every run, then committed.
- "10 changes" = 10 random rows get a new JPEG, label and embedding (deeplake_nb inside
  ``with ds:``; Deep Lake 4.x by item assignment). Per repeat:
  - update+commit: the 10 changes and the commit; commit: the commit call alone. deeplake_nb
    writes changed chunks at assignment and the commit lands them (manifest delta, commit
    document, one ref entry); Deep Lake 4.x buffers the changes and writes them at commit, so
    compare update+commit across systems;
  - bytes written: growth of the dataset directory over update+commit (objects are never
    overwritten, so growth = bytes written);
  - branch: create a branch at the head; checkout: switch to that branch and back (Deep Lake 4.x:
    ``ds.branches[name].open()``); time travel: open the previous commit read-only
    (Deep Lake 4.x: a tag's ``open()``) and read one row;
  - diff: the 10-sample commit against its parent (``ds.diff(a, b, as_dict=True)``; Deep Lake 4.x
    has no diff);
  - merge: a branch with 10 changes into main with 10 other changes (three-way, sample level).
- Medians over ``--repeats``. Deep Lake 4.x runs in the peers virtualenv (``.venv-peers``)
  through this same file (``--peer-worker``), timings exclude interpreter start and imports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import simplejpeg

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NB, DL4 = "deeplake_nb", "Deep Lake 4.x"
EMBEDDING = 64
BATCH = 5000


# -- shared helpers (this file also runs in the peers virtualenv, which has no deeplake_nb) ------------
def jpeg_pool(count: int = 64, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        base = rng.integers(0, 255, (1, 1, 3)).astype(np.float32)
        img = base + rng.normal(0, 40, (32, 32, 3))
        out.append(simplejpeg.encode_jpeg(np.clip(img, 0, 255).astype(np.uint8), quality=90))
    return out


def disk_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def changes(n: int, rng: np.random.Generator, pool: list[bytes]) -> list[tuple[int, bytes, int, np.ndarray]]:
    """10 random rows with a new JPEG, label and embedding each."""
    rows = rng.choice(n, 10, replace=False)
    return [(int(r), pool[int(rng.integers(len(pool)))], int(rng.integers(3)),
             rng.standard_normal(EMBEDDING).astype(np.float32)) for r in rows]


# -- deeplake_nb ---------------------------------------------------------------------------------------
def run_nb(path: str, n: int, repeats: int, pool: list[bytes]) -> dict[str, list[float]]:
    sys.path.insert(0, REPO)
    import deeplake_nb as dl

    rng = np.random.default_rng(1)
    if os.path.exists(path):
        shutil.rmtree(path)
    ds = dl.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    ds.create_tensor("embeddings", htype="embedding", dtype="float32")
    for first in range(0, n, BATCH):
        k = min(BATCH, n - first)
        with ds:
            ds.extend({"images": [dl.Sample(buffer=pool[i % len(pool)]) for i in range(first, first + k)],
                       "labels": [i % 3 for i in range(first, first + k)],
                       "embeddings": rng.standard_normal((k, EMBEDDING)).astype(np.float32)})
    ds.commit("import")

    def apply(target: Any, batch: list) -> None:
        with target:
            for row, jpeg, label, emb in batch:
                target.images[row] = dl.Sample(buffer=jpeg)
                target.labels[row] = label
                target.embeddings[row] = emb

    out: dict[str, list[float]] = {k: [] for k in ("update+commit", "commit", "bytes written", "branch", "checkout",
                                                   "time travel", "diff", "merge")}
    for r in range(repeats):
        before, parent = disk_bytes(path), ds.commit_id
        t_update, _ = timed(lambda: apply(ds, changes(n, rng, pool)))
        t_commit, head = timed(lambda: ds.commit(f"10 changes {r}"))
        out["update+commit"].append(t_update + t_commit)
        out["commit"].append(t_commit)
        out["bytes written"].append(disk_bytes(path) - before)
        out["branch"].append(timed(lambda: ds.checkout(f"b{r}", create=True))[0])
        t_back, _ = timed(lambda: ds.checkout("main"))
        t_there, _ = timed(lambda: ds.checkout(f"b{r}"))
        ds.checkout("main")
        out["checkout"].append((t_back + t_there) / 2)
        out["time travel"].append(timed(lambda: dl.load(path, version=parent).labels[n // 2].numpy())[0])
        out["diff"].append(timed(lambda: ds.diff(parent, head, as_dict=True))[0])
        # merge: 10 changes on a branch, 10 on main
        ds.checkout(f"m{r}", create=True)
        apply(ds, changes(n, rng, pool))
        ds.commit("branch side")
        ds.checkout("main")
        apply(ds, changes(n, rng, pool))
        ds.commit("main side")
        out["merge"].append(timed(lambda: ds.merge(f"m{r}", conflict_resolution="theirs"))[0])
    return out


# -- Deep Lake 4.x (run in the peers virtualenv) ----------------------------------------------------------
def run_dl4(path: str, n: int, repeats: int, pool: list[bytes]) -> dict[str, list[float]]:
    import deeplake

    rng = np.random.default_rng(1)
    if os.path.exists(path):
        shutil.rmtree(path)
    ds = deeplake.create(path)
    ds.add_column("images", deeplake.types.Image(dtype=deeplake.types.UInt8(), sample_compression="jpeg"))
    ds.add_column("labels", deeplake.types.ClassLabel(deeplake.types.Int32()))
    ds.add_column("embeddings", deeplake.types.Embedding(EMBEDDING))
    for first in range(0, n, BATCH):
        k = min(BATCH, n - first)
        ds.append({"images": [pool[i % len(pool)] for i in range(first, first + k)],
                   "labels": np.asarray([i % 3 for i in range(first, first + k)], np.int32),
                   "embeddings": rng.standard_normal((k, EMBEDDING)).astype(np.float32)})
    ds.commit("import")

    def apply(target: Any, batch: list) -> None:
        for row, jpeg, label, emb in batch:
            target["images"][row] = jpeg
            target["labels"][row] = label
            target["embeddings"][row] = emb

    out: dict[str, list[float]] = {k: [] for k in ("update+commit", "commit", "bytes written", "branch", "checkout",
                                                   "time travel", "merge")}
    for r in range(repeats):
        ds.tag(f"t{r}")
        before = disk_bytes(path)
        t_update, _ = timed(lambda: apply(ds, changes(n, rng, pool)))
        t_commit, _ = timed(lambda: ds.commit(f"10 changes {r}"))
        out["update+commit"].append(t_update + t_commit)
        out["commit"].append(t_commit)
        out["bytes written"].append(disk_bytes(path) - before)
        out["branch"].append(timed(lambda: ds.branch(f"b{r}"))[0])
        out["checkout"].append(timed(lambda: ds.branches[f"b{r}"].open())[0])
        def travel() -> Any:
            old = ds.tags[f"t{r}"].open()
            return np.asarray(old["labels"][n // 2])
        out["time travel"].append(timed(travel)[0])
        branch = ds.branch(f"m{r}").open()
        apply(branch, changes(n, rng, pool))
        branch.commit("branch side")
        apply(ds, changes(n, rng, pool))
        ds.commit("main side")
        out["merge"].append(timed(lambda: ds.merge(f"m{r}"))[0])
    out["version"] = deeplake.__version__  # type: ignore[assignment]
    return out


# -- driver -------------------------------------------------------------------------------------------
ROWS = [("update+commit", "10 changes + commit (ms)"), ("commit", "commit alone (ms)"),
        ("bytes written", "bytes written per commit"), ("branch", "create branch (ms)"),
        ("checkout", "checkout branch (ms)"), ("time travel", "open old commit + read (ms)"),
        ("diff", "diff of that commit (ms)"), ("merge", "merge 10+10 changes (ms)")]


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if key == "bytes written":
        return f"{value / 1e6:.2f} MB"
    return f"{value * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    parser.add_argument("--peers-python", default=os.path.join(REPO, ".venv-peers", "bin", "python"))
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--peer-worker", nargs=3, metavar=("PATH", "N", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    pool = jpeg_pool()
    if args.peer_worker:
        path, n, repeats = args.peer_worker
        print(json.dumps(run_dl4(path, int(n), int(repeats), pool)))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(args.data_dir, exist_ok=True)
    peers = os.path.exists(args.peers_python) and subprocess.run(
        [args.peers_python, "-c", "import deeplake"], capture_output=True).returncode == 0
    results: dict[str, dict[int, dict]] = {NB: {}, DL4: {}}
    for n in sizes:
        print(f"n={n}: deeplake_nb ...", flush=True)
        nb_path = os.path.join(args.data_dir, f"versioning-nb-{n}")
        results[NB][n] = run_nb(nb_path, n, args.repeats, pool)
        shutil.rmtree(nb_path, ignore_errors=True)
        if peers:
            print(f"n={n}: {DL4} ...", flush=True)
            dl4_path = os.path.join(args.data_dir, f"versioning-dl4-{n}")
            done = subprocess.run([args.peers_python, os.path.abspath(__file__), "--peer-worker", dl4_path, str(n),
                                   str(args.repeats)], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{DL4} worker failed:\n{done.stderr[-3000:]}")
            results[DL4][n] = json.loads(done.stdout.strip().splitlines()[-1])
            shutil.rmtree(dl4_path, ignore_errors=True)

    systems = [NB] + ([DL4] if peers else [])
    header = ["medians over %d repeats" % args.repeats] + [f"{s} n={n:,}" for n in sizes for s in systems]
    lines = [header]
    for key, label in ROWS:
        line = [label]
        for n in sizes:
            for s in systems:
                values = results[s][n].get(key)
                line.append(_fmt(key, statistics.median(values) if values else None))
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    print()
    for i, row in enumerate(lines):
        print(" | ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    if len(sizes) >= 2:
        a, b = results[NB][sizes[0]], results[NB][sizes[-1]]
        ratio = statistics.median(b["commit"]) / statistics.median(a["commit"])
        ratio_total = statistics.median(b["update+commit"]) / statistics.median(a["update+commit"])
        print(f"\ndeeplake_nb commit latency n={sizes[-1]:,} / n={sizes[0]:,}: {ratio:.2f}x "
              f"(10 changes + commit: {ratio_total:.2f}x)")
    if not peers:
        print(f"\n{DL4}: not run ({args.peers_python} missing or without `deeplake`); see benchmarks/README.md.")
    else:
        print(f"\n{DL4} version {results[DL4][sizes[0]].get('version')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": sizes, "repeats": args.repeats, "results": {s: {str(n): v for n, v in r.items()}
                                                                              for s, r in results.items()}}, f)


if __name__ == "__main__":
    main()
