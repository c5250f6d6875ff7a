"""What a change costs under version control: bytes written by small updates, disk used by a long
history, diff and merge against the size of the change, opening and ``log`` after many commits;
deeplake_nb side by side with Deep Lake 4.x on the same shapes, as ratios from one run.

    python benchmarks/bench_versioning.py                       # the full run (1k and 1M rows)
    python benchmarks/bench_versioning.py --quick               # smaller sizes, a smoke run
    python benchmarks/bench_versioning.py --lib /tmp/worktree   # measure the deeplake_nb of another checkout

Datasets (built once per run and per system under ``--data-dir``, then reused by every round).
A "k-tensor" dataset has the first k of: ``labels`` (int32), ``embeddings`` (16-d float32),
``text`` (a short string, ``"row 123"``), ``c3`` ... ``c99`` (int32):

- rows: 10 tensors at each of ``--rows`` (1,000 and 1,000,000);
- tensors: 1, 10 and 100 tensors at ``--tensor-rows`` (10,000) rows;
- images: ``--image-rows`` (1,000) 64x64 JPEGs (~5 KB, stored as they are) + ``labels``;
- history: 3 tensors at ``--history-rows`` (10,000) rows; a copy after the first commit, then
  ``--commits`` (1,000) commits of one changed label each (each label published, then committed,
  nothing batched), a copy, and as many commits again.

Measurements, each run once per round in a fresh process per system; ``--repeats`` (3) rounds
alternate which system goes first; the table shows medians:

- 10 label updates + commit, on each rows dataset: bytes the process passed to ``write`` (Linux
  ``/proc/self/io`` wchar; every object, temporary file and ref entry counts) and the growth of the
  dataset directory (sum of file sizes). deeplake_nb assigns inside one ``with ds:`` block, and
  also one published update at a time (deeplake_nb only: Deep Lake 4.x buffers until commit);
- one image update + commit: bytes written, against the new image's size;
- disk used by ``--commits`` one-label commits (measured once, while building the history): growth
  of the sum of file sizes and of the allocated blocks (what ``du`` counts), before any gc;
- merge and diff: a branch gets 10 changed ``labels`` and is committed, main gets 10 other changed
  ``labels`` and is committed; diff = main's commit against its parent (``ds.diff(a, b,
  as_dict=True)``; Deep Lake 4.x has no diff), merge = the branch into main (three-way); an
  untimed ``os.sync()`` before each, so that deeplake_nb's fsyncs do not pay for writing back
  what the setup (or the other system) left dirty (Deep Lake 4.x does not fsync);
- open + len: ``dl.load(path)`` / ``deeplake.open(path)`` and ``len(ds)`` on the history copies
  after 1 and after 2 x ``--commits`` commits (medians of 5 in the process, after one warm-up
  open); ``ds.log()`` of the copy with ``--commits`` commits (deeplake_nb prints into a buffer;
  Deep Lake 4.x: the id, time and message of every entry of ``ds.history``).

Deep Lake 4.x runs in the peers virtualenv (``.venv-peers``) through this same file
(``--worker``); timings exclude interpreter start and imports. The issue's targets are checked at
the end (met / NOT met). Load averages before and after each round are printed: the numbers only
mean something next to them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NB, DL4 = "deeplake_nb", "Deep Lake 4.x"
KiB = 1024
FULL = {"rows": [1000, 1000000], "tensor_rows": 10000, "tensors": [1, 10, 100], "image_rows": 1000,
        "history_rows": 10000, "commits": 1000, "repeats": 3}
QUICK = {"rows": [1000, 10000], "tensor_rows": 1000, "tensors": [1, 10, 100], "image_rows": 100,
         "history_rows": 2000, "commits": 50, "repeats": 2}
BUILD_BATCH = 250000


# -- measuring (no library imports: this file also runs in the peers virtualenv) ----------------------------
def disk_usage(path: str) -> tuple[int, int]:
    """(sum of file sizes, bytes in allocated blocks of files and folders, each inode once) under path."""
    size = blocks = 0
    seen: set[int] = set()
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files, "."] if root == path else [*dirs, *files]:
            st = os.lstat(os.path.join(root, name))
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            blocks += st.st_blocks * 512
            if name in files:
                size += st.st_size
    return size, blocks


def bytes_passed_to_write() -> int | None:
    """This process's wchar (bytes passed to write calls, all threads), or None off Linux."""
    try:
        with open("/proc/self/io") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))
    except OSError:
        return None


def measure_write(path: str, fn: Callable[[], Any]) -> dict[str, float | None]:
    """Run fn; its seconds, the bytes this process passed to write calls and the growth of path."""
    size_before, _ = disk_usage(path)
    w0 = bytes_passed_to_write()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    w1 = bytes_passed_to_write()
    size_after, _ = disk_usage(path)
    return {"seconds": seconds, "written": None if w0 is None else w1 - w0, "growth": size_after - size_before}


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tensor_names(k: int) -> list[str]:
    return ["labels", "embeddings", "text", *(f"c{j}" for j in range(3, k))][:k]


def column_values(name: str, first: int, count: int, rng: np.random.Generator) -> Any:
    """The values of rows [first, first + count) of one tensor (deterministic but embeddings)."""
    rows = np.arange(first, first + count)
    if name == "labels":
        return (rows % 1000).astype(np.int32)
    if name == "embeddings":
        return rng.standard_normal((count, 16)).astype(np.float32)
    if name == "text":
        return [f"row {i}" for i in rows]
    return ((rows * int(name[1:])) % 65536).astype(np.int32)


def jpeg_image(seed: int, side: int = 64) -> bytes:
    """A small photo-like JPEG (smooth colour field + noise), about 5 KB at 64x64."""
    import simplejpeg

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([x * 255, y * 255, (1 - x) * 255], axis=-1) * rng.uniform(0.3, 1.0, 3)
    img = base + rng.normal(0, 20, (side, side, 3))
    return simplejpeg.encode_jpeg(np.clip(img, 0, 255).astype(np.uint8), quality=90)


# -- the two systems behind one interface ---------------------------------------------------------------
class NotAvailable(Exception):
    """The system has no such operation."""


class DeeplakeNB:
    name = NB

    def __init__(self, lib: str) -> None:
        sys.path.insert(0, lib)
        import deeplake_nb as dl

        self.dl = dl
        commit = subprocess.run(["git", "-C", lib, "describe", "--always", "--dirty"], capture_output=True, text=True)
        where = f"{commit.stdout.strip() or '?'} ({os.path.dirname(dl.__file__)})"
        self.version = f"{getattr(dl, '__version__', '?')} at {where}"

    def create(self, path: str, names: list[str]) -> Any:
        ds = self.dl.empty(path, overwrite=True)
        for name in names:
            if name == "embeddings":
                ds.create_tensor(name, htype="embedding", dtype="float32")
            elif name == "text":
                ds.create_tensor(name, htype="text")
            elif name == "images":
                ds.create_tensor(name, htype="image", sample_compression="jpeg")
            else:
                ds.create_tensor(name, dtype="int32")
        return ds

    def extend(self, ds: Any, columns: dict[str, Any]) -> None:
        with ds:
            ds.extend({k: [self.dl.Sample(buffer=b) for b in v] if k == "images" else v for k, v in columns.items()})

    def open(self, path: str) -> Any:
        return self.dl.load(path)

    def commit(self, ds: Any, message: str) -> str:
        return ds.commit(message)

    def head(self, ds: Any) -> str:
        return ds.commit_id

    def update(self, ds: Any, tensor: str, rows: list[int], values: list[Any], batched: bool = True) -> None:
        """Assign one sample at a time; inside one ``with ds:`` block when batched, else each published."""
        values = [self.dl.Sample(buffer=v) if isinstance(v, bytes) else v for v in values]
        with ds if batched else contextlib.nullcontext():
            for row, value in zip(rows, values):
                ds[tensor][row] = value

    def on_branch(self, ds: Any, branch: str, fn: Callable[[Any], None]) -> None:
        """Make ``branch`` at ds's head, run fn on it and commit there; ds is back on main after."""
        ds.checkout(branch, create=True)
        fn(ds)
        ds.commit(f"on {branch}")
        ds.checkout("main")

    def merge(self, ds: Any, branch: str) -> None:
        ds.merge(branch)

    def diff(self, ds: Any, a: str, b: str) -> None:
        ds.diff(a, b, as_dict=True)

    def log(self, ds: Any) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ds.log()
        return out.getvalue()


class DeepLake4:
    name = DL4

    def __init__(self, lib: str) -> None:
        import deeplake

        self.dl = deeplake
        self.version = deeplake.__version__

    def create(self, path: str, names: list[str]) -> Any:
        types = self.dl.types
        if os.path.exists(path):
            shutil.rmtree(path)
        ds = self.dl.create(path)
        for name in names:
            if name == "embeddings":
                ds.add_column(name, types.Embedding(16))
            elif name == "text":
                ds.add_column(name, types.Text())
            elif name == "images":
                ds.add_column(name, types.Image(dtype=types.UInt8(), sample_compression="jpeg"))
            else:
                ds.add_column(name, types.Int32())
        return ds

    def extend(self, ds: Any, columns: dict[str, Any]) -> None:
        ds.append(columns)

    def open(self, path: str) -> Any:
        return self.dl.open(path)

    def commit(self, ds: Any, message: str) -> str:
        ds.commit(message)
        return ds.version

    def head(self, ds: Any) -> str:
        return ds.version

    def update(self, ds: Any, tensor: str, rows: list[int], values: list[Any], batched: bool = True) -> None:
        for row, value in zip(rows, values):
            ds[tensor][row] = value

    def on_branch(self, ds: Any, branch: str, fn: Callable[[Any], None]) -> None:
        side = ds.branch(branch).open()
        fn(side)
        side.commit(f"on {branch}")

    def merge(self, ds: Any, branch: str) -> None:
        ds.merge(branch)

    def diff(self, ds: Any, a: str, b: str) -> None:
        raise NotAvailable("Deep Lake 4.x has no diff")

    def log(self, ds: Any) -> str:
        return "\n".join(f"{v.id} {v.timestamp} {v.message}" for v in ds.history)


SYSTEMS = {NB: DeeplakeNB, DL4: DeepLake4}


# -- building the datasets (once per run) ---------------------------------------------------------------
def build_table(sys_: Any, path: str, n: int, k: int, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    names = tensor_names(k)
    ds = sys_.create(path, names)
    for first in range(0, n, BUILD_BATCH):
        count = min(BUILD_BATCH, n - first)
        sys_.extend(ds, {name: column_values(name, first, count, rng) for name in names})
    sys_.commit(ds, "import")
    return ds


def build_images(sys_: Any, path: str, n: int) -> None:
    ds = sys_.create(path, ["images", "labels"])
    pool = [jpeg_image(i) for i in range(16)]
    sys_.extend(ds, {"images": [pool[i % len(pool)] for i in range(n)],
                     "labels": (np.arange(n) % 1000).astype(np.int32)})
    sys_.commit(ds, "import")


def build_history(sys_: Any, paths: dict[str, str], n: int, commits: int, progress: Any) -> dict[str, Any]:
    """The history dataset and its copies after 1, ``commits`` and 2 x ``commits`` commits; returns
    the disk growth over the first ``commits`` one-label commits and their seconds."""
    path = paths["history"]
    ds = build_table(sys_, path, n, 3)
    shutil.copytree(path, paths["history_1"], dirs_exist_ok=False)
    rng = np.random.default_rng(7)
    out: dict[str, Any] = {}
    size0, blocks0 = disk_usage(path)
    for stage in ("first", "second"):
        start = time.perf_counter()
        for c in range(commits):
            row = int(rng.integers(n))
            sys_.update(ds, "labels", [row], [int(rng.integers(1000))], batched=False)
            sys_.commit(ds, f"label {row}")
            progress.update(1)
        out[f"{stage} commits seconds"] = time.perf_counter() - start
        if stage == "first":
            size1, blocks1 = disk_usage(path)
            out["history growth (file sizes)"] = size1 - size0
            out["history growth (du blocks)"] = blocks1 - blocks0
            out["history size (file sizes)"] = size1
            shutil.copytree(path, paths["history_c"], dirs_exist_ok=False)
    del ds
    shutil.move(path, paths["history_2c"])
    return out


def dataset_paths(root: str, sizes: dict[str, Any]) -> dict[str, str]:
    paths = {f"rows_{n}": os.path.join(root, f"rows-{n}") for n in sizes["rows"]}
    paths.update({f"tensors_{k}": os.path.join(root, f"tensors-{k}x{sizes['tensor_rows']}") for k in sizes["tensors"]})
    paths["images"] = os.path.join(root, "images")
    for key in ("history", "history_1", "history_c", "history_2c"):
        paths[key] = os.path.join(root, key.replace("_", "-"))
    return paths


def build_all(sys_: Any, root: str, sizes: dict[str, Any]) -> dict[str, Any]:
    from tqdm.auto import tqdm

    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    paths = dataset_paths(root, sizes)
    out: dict[str, Any] = {}
    steps = len(sizes["rows"]) + len(sizes["tensors"]) + 1 + 2 * sizes["commits"]
    with tqdm(total=steps, desc=f"build {sys_.name}", file=sys.stderr, leave=False) as progress:
        for n in sizes["rows"]:
            out[f"build rows {n} seconds"] = timed(lambda: build_table(sys_, paths[f"rows_{n}"], n, 10))
            progress.update(1)
        for k in sizes["tensors"]:
            out[f"build tensors {k} seconds"] = timed(
                lambda: build_table(sys_, paths[f"tensors_{k}"], sizes["tensor_rows"], k))
            progress.update(1)
        build_images(sys_, paths["images"], sizes["image_rows"])
        progress.update(1)
        out.update(build_history(sys_, paths, sizes["history_rows"], sizes["commits"], progress))
    return out


# -- one round of measurements (reuses the built datasets) ----------------------------------------------
def ten_rows(n: int, rng: np.random.Generator, exclude: set[int] = frozenset()) -> list[int]:
    rows: list[int] = []
    while len(rows) < 10:
        row = int(rng.integers(n))
        if row not in exclude and row not in rows:
            rows.append(row)
    return rows


def measure_label_updates(sys_: Any, path: str, n: int, rng: np.random.Generator, batched: bool) -> dict:
    ds = sys_.open(path)
    rows, values = ten_rows(n, rng), [int(v) for v in rng.integers(1000, 2000, 10)]

    def run() -> None:
        sys_.update(ds, "labels", rows, values, batched=batched)
        sys_.commit(ds, "10 labels")

    return measure_write(path, run)


def measure_image_update(sys_: Any, path: str, n: int, rng: np.random.Generator) -> dict:
    ds = sys_.open(path)
    image = jpeg_image(int(rng.integers(1000, 10**6)))
    row = int(rng.integers(n))

    def run() -> None:
        sys_.update(ds, "images", [row], [image])
        sys_.commit(ds, "1 image")

    out = measure_write(path, run)
    out["size"] = len(image)
    return out


def measure_merge_diff(sys_: Any, path: str, n: int, rng: np.random.Generator) -> dict:
    ds = sys_.open(path)
    branch = f"side-{uuid.uuid4().hex[:8]}"
    theirs = ten_rows(n, rng)
    ours = ten_rows(n, rng, exclude=set(theirs))
    sys_.on_branch(ds, branch, lambda side: sys_.update(side, "labels", theirs, [7] * 10))
    parent = sys_.head(ds)
    sys_.update(ds, "labels", ours, [8] * 10)
    head = sys_.commit(ds, "10 labels on main")
    os.sync()  # untimed: a timed fsync must not pay for writing back what the setup left dirty
    try:
        diff = timed(lambda: sys_.diff(ds, parent, head))
    except NotAvailable:
        diff = None
    os.sync()
    return {"diff": diff, "merge": timed(lambda: sys_.merge(ds, branch))}


def measure_open(sys_: Any, path: str, inner: int = 5) -> float:
    times = []
    for _ in range(inner):
        start = time.perf_counter()
        len(sys_.open(path))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_log(sys_: Any, path: str, inner: int = 5) -> float:
    """Median seconds of the history listing of a freshly opened dataset (opening not timed)."""
    times = []
    for _ in range(inner):
        ds = sys_.open(path)
        times.append(timed(lambda: sys_.log(ds)))
    return statistics.median(times)


def measure_round(sys_: Any, root: str, sizes: dict[str, Any], seed: int) -> dict[str, Any]:
    paths = dataset_paths(root, sizes)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    sys_.open(paths["history_1"])  # warm-up: first-open costs (lazy imports) go here
    out["open+len after 1 commit"] = measure_open(sys_, paths["history_1"])
    out["open+len after 2C commits"] = measure_open(sys_, paths["history_2c"])
    out["log of C commits"] = measure_log(sys_, paths["history_c"])
    for n in sizes["rows"]:
        for key, value in measure_label_updates(sys_, paths[f"rows_{n}"], n, rng, batched=True).items():
            out[f"10 labels {n} {key}"] = value
        if sys_.name == NB:
            published = measure_label_updates(sys_, paths[f"rows_{n}"], n, rng, batched=False)
            out[f"10 labels published {n} written"] = published["written"]
        merged = measure_merge_diff(sys_, paths[f"rows_{n}"], n, rng)
        out[f"merge rows {n}"], out[f"diff rows {n}"] = merged["merge"], merged["diff"]
    for k in sizes["tensors"]:
        merged = measure_merge_diff(sys_, paths[f"tensors_{k}"], sizes["tensor_rows"], rng)
        out[f"merge tensors {k}"], out[f"diff tensors {k}"] = merged["merge"], merged["diff"]
    for key, value in measure_image_update(sys_, paths["images"], sizes["image_rows"], rng).items():
        out[f"image {key}"] = value
    return out


def worker(args: argparse.Namespace) -> None:
    """``--worker SYSTEM build|round`` in a fresh process: prints one JSON object on its last line."""
    system, action = args.worker
    sys_ = SYSTEMS[system](args.lib)
    sizes = json.loads(args.sizes_json)
    root = os.path.join(args.data_dir, "versioning", "nb" if system == NB else "dl4")
    if action == "build":
        out = build_all(sys_, root, sizes)
    else:
        out = measure_round(sys_, root, sizes, seed=args.seed)
    out["version"] = sys_.version
    print(json.dumps(out))


# -- driver: builds, rounds, the table ------------------------------------------------------------------
def run_worker(python: str, system: str, action: str, args: argparse.Namespace, sizes: dict, seed: int = 0) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", system, action, "--lib", args.lib,
           "--data-dir", args.data_dir, "--sizes-json", json.dumps(sizes), "--seed", str(seed)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr (progress bars) passes through
    if done.returncode != 0:
        raise SystemExit(f"{system} {action} worker failed (exit {done.returncode}); see its output above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run_all(args: argparse.Namespace, sizes: dict, pythons: dict[str, str]) -> dict[str, Any]:
    from tqdm.auto import tqdm

    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{platform.system()} {platform.release()}")
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine, "builds": {},
                               "rounds": {s: [] for s in pythons}, "load": []}
    for system, python in pythons.items():
        tqdm.write(f"building {system} datasets (load {load_average()})")
        results["builds"][system] = run_worker(python, system, "build", args, sizes)
    order = list(pythons)
    with tqdm(total=sizes["repeats"] * len(order), desc="rounds") as progress:
        for r in range(sizes["repeats"]):
            before = load_average()
            for system in order[r % len(order):] + order[:r % len(order)]:
                measured = run_worker(pythons[system], system, "round", args, sizes, seed=100 + r)
                results["rounds"][system].append(measured)
                progress.update(1)
            results["load"].append(f"round {r + 1}: {before} -> {load_average()}")
    return results


def median_of(results: dict, system: str, key: str) -> float | None:
    if system in results["builds"] and key in results["builds"][system]:
        return results["builds"][system][key]
    values = [r[key] for r in results["rounds"].get(system, []) if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "B":
        return f"{value / 1e6:.2f} MB" if abs(value) >= 1e6 else f"{value / 1e3:.1f} KB" if abs(value) >= 1e4 \
            else f"{value:,.0f} B"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def table_rows(sizes: dict) -> list[tuple[str, str, str]]:
    """(label, result key, unit) for every measured row."""
    c, tr = sizes["commits"], sizes["tensor_rows"]
    rows = []
    for n in sizes["rows"]:
        rows += [(f"10 label updates + commit, {n:,} rows: written", f"10 labels {n} written", "B"),
                 (f"  ... directory growth", f"10 labels {n} growth", "B"),
                 (f"  ... each update published on its own: written", f"10 labels published {n} written", "B"),
                 (f"  ... time", f"10 labels {n} seconds", "s")]
    rows += [("one image update + commit: written", "image written", "B"),
             ("  ... the new image's size", "image size", "B"),
             ("  ... directory growth", "image growth", "B"),
             (f"{c:,} one-label commits, {sizes['history_rows']:,} rows: disk (file sizes)",
              "history growth (file sizes)", "B"),
             ("  ... disk (du blocks)", "history growth (du blocks)", "B"),
             ("  ... time for all of them", "first commits seconds", "s")]
    for n in sizes["rows"]:
        rows += [(f"merge, {n:,} rows (10 tensors)", f"merge rows {n}", "s"),
                 (f"diff, {n:,} rows (10 tensors)", f"diff rows {n}", "s")]
    for k in sizes["tensors"]:
        rows += [(f"merge, {k} tensors ({tr:,} rows)", f"merge tensors {k}", "s"),
                 (f"diff, {k} tensors ({tr:,} rows)", f"diff tensors {k}", "s")]
    rows += [("open + len after 1 commit", "open+len after 1 commit", "s"),
             (f"open + len after {2 * c:,} commits", "open+len after 2C commits", "s"),
             (f"ds.log() of {c:,} commits", "log of C commits", "s")]
    return rows


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(results: dict, sizes: dict) -> list[tuple[str, str, str, Callable[[str], float | None], float]]:
    """(what, unit, target text, the measured value of a system, limit) for each of the issue's targets."""
    def m(key: str) -> Callable[[str], float | None]:
        return lambda s: median_of(results, s, key)

    def over(a: str, b: str) -> Callable[[str], float | None]:
        return lambda s: ratio(median_of(results, s, a), median_of(results, s, b))

    def image_excess(s: str) -> float | None:
        written, size = median_of(results, s, "image written"), median_of(results, s, "image size")
        return None if written is None or size is None else written - size

    def merge_vs_dl4(s: str) -> float | None:
        return ratio(median_of(results, s, f"merge rows {big}"), median_of(results, DL4, f"merge rows {big}"))

    small, big, c = sizes["rows"][0], sizes["rows"][-1], sizes["commits"]
    k1, k100 = sizes["tensors"][0], sizes["tensors"][-1]
    return [
        (f"10 label updates + commit, {big:,} rows: written", "B", "<= 2 KiB", m(f"10 labels {big} written"), 2 * KiB),
        ("one image update + commit: written beyond the image", "B", "<= 2 KiB", image_excess, 2 * KiB),
        (f"{c:,} one-label commits: disk, file sizes", "B", "<= 4 MB", m("history growth (file sizes)"), 4e6),
        (f"{c:,} one-label commits: disk, du blocks", "B", "<= 4 MB", m("history growth (du blocks)"), 4e6),
        (f"merge, {big:,} rows, 10 tensors", "s", "<= 10 ms", m(f"merge rows {big}"), 0.010),
        (f"merge, {big:,} rows: / Deep Lake 4.x", "x", "<= 3x", merge_vs_dl4, 3),
        (f"merge: {big:,} rows / {small:,} rows", "x", "<= 1.5x",
         over(f"merge rows {big}", f"merge rows {small}"), 1.5),
        (f"merge: {k100} tensors / {k1}", "x", "<= 1.5x", over(f"merge tensors {k100}", f"merge tensors {k1}"), 1.5),
        (f"diff, {big:,} rows, 10 tensors", "s", "<= 10 ms", m(f"diff rows {big}"), 0.010),
        (f"diff: {big:,} rows / {small:,} rows", "x", "<= 1.5x", over(f"diff rows {big}", f"diff rows {small}"), 1.5),
        (f"diff: {k100} tensors / {k1}", "x", "<= 1.5x", over(f"diff tensors {k100}", f"diff tensors {k1}"), 1.5),
        (f"open + len: after {2 * c:,} commits / after 1", "x", "<= 1.3x",
         over("open+len after 2C commits", "open+len after 1 commit"), 1.3),
        (f"ds.log() of {c:,} commits", "s", "<= 50 ms", m("log of C commits"), 0.050),
    ]


def report(results: dict, sizes: dict, args: argparse.Namespace) -> str:
    systems = list(results["builds"])
    lines = [f"| medians of {sizes['repeats']} rounds | " + " | ".join(systems)
             + (" | deeplake_nb / Deep Lake 4.x |" if DL4 in systems else " |"),
             "| --- |" + " ---: |" * (len(systems) + (DL4 in systems))]
    for label, key, unit in table_rows(sizes):
        values = [median_of(results, s, key) for s in systems]
        if all(v is None for v in values):
            continue
        cells = [fmt(v, unit) for v in values]
        if DL4 in systems:
            cells.append(fmt(ratio(values[0], values[1]), "x"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| issue target | " + " | ".join(systems) + " | target | deeplake_nb |",
              "| --- |" + " ---: |" * (len(systems) + 1) + " --- |"]
    for what, unit, text, value_of, limit in targets(results, sizes):
        values = [value_of(s) for s in systems]
        cells = [fmt(v, unit) if not (s == DL4 and "Deep Lake 4.x" in what) else "" for s, v in zip(systems, values)]
        mine = value_of(NB) if NB in systems else None
        verdict = "n/a" if mine is None else "met" if mine <= limit else "NOT met"
        lines.append(f"| {what} | " + " | ".join(cells) + f" | {text} | {verdict} |")
    versions = ", ".join(f"{s} {results['builds'][s].get('version')}" for s in systems)
    lines += ["", f"- date: {results.get('date', '?')}; versions: {versions}",
              f"- machine: {results.get('machine', '?')}",
              f"- load average (1/5/15 min) per round: " + "; ".join(results["load"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (about a minute)")
    parser.add_argument("--rows", help="comma-separated row counts of the 10-tensor datasets (1000,1000000)")
    parser.add_argument("--tensor-rows", type=int, help="rows of the 1/10/100-tensor datasets (10000)")
    parser.add_argument("--history-rows", type=int, help="rows of the history dataset (10000)")
    parser.add_argument("--commits", type=int, help="one-label commits per stage of the history (1000)")
    parser.add_argument("--repeats", type=int, help="measurement rounds (3)")
    parser.add_argument("--systems", default=f"nb,dl4", help="nb, dl4 or both (the default)")
    parser.add_argument("--lib", default=REPO, help="checkout whose deeplake_nb is measured (this one)")
    parser.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    parser.add_argument("--peers-python", default=os.path.join(REPO, ".venv-peers", "bin", "python"))
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--from-json", help="print the tables of raw results written by --json, run nothing")
    parser.add_argument("--worker", nargs=2, metavar=("SYSTEM", "ACTION"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes-json", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.lib, args.data_dir = os.path.abspath(args.lib), os.path.abspath(args.data_dir)
    if args.worker:
        return worker(args)
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        print(f"command: {' '.join(saved['command'])}\n")
        return print(report(saved, saved["sizes"], args))

    sizes = dict(QUICK if args.quick else FULL)
    for key in ("tensor_rows", "history_rows", "commits", "repeats"):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    if args.rows:
        sizes["rows"] = [int(n) for n in args.rows.split(",")]
    pythons = {}
    if "nb" in args.systems.split(","):
        pythons[NB] = sys.executable
    peers_ok = os.path.exists(args.peers_python) and subprocess.run(
        [args.peers_python, "-c", "import deeplake"], capture_output=True).returncode == 0
    if "dl4" in args.systems.split(",") and peers_ok:
        pythons[DL4] = args.peers_python
    print(f"command: {' '.join(sys.argv)}\nsizes: {json.dumps(sizes)}\nload average: {load_average()}", flush=True)
    results = run_all(args, sizes, pythons)
    print()
    print(report(results, sizes, args))
    if "dl4" in args.systems.split(",") and not peers_ok:
        print(f"\n{DL4}: not run ({args.peers_python} missing or without `deeplake`); see benchmarks/README.md.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": sizes, "command": sys.argv, **results}, f, indent=1)


if __name__ == "__main__":
    main()
