"""Chunk compression ``"lz4"``: zarr's ``blosc`` (LZ4, byte shuffle; format 3) against the
``deeplake_nb.lz4`` block codec formats 1-2 wrote, on the codecs alone and through the read paths.

    python benchmarks/bench_chunk_codecs.py --rows 50000 --baseline <commit before format 3>

- Data: ``--rows`` rows of four tensors created with ``chunk_compression="lz4"``: ``labels``
  (class_label, 10 classes), ``emb`` (embedding, 128 float32), ``score`` (float32 holding small
  integers) and ``patch`` (8x8x3 uint8 photo-like crops).
- Codecs: one 1 MiB chunk of each tensor encoded and decoded by numcodecs' LZ4 (the old codec),
  blosc-LZ4 as format 3 writes it (``codecs.blosc_lz4``) and with the other shuffle choice,
  zstd levels 1 and 3: ratio, MB/s (one thread).
- Chunk reads: ``ArrayHandle.read_chunk`` over every 1 MiB chunk of each tensor, its data written
  by format 3 and by the old codec, in this process, interleaved (fastest of 20 passes).
- Read paths, run in a worker process per tree (this checkout, and with ``--baseline REV`` the
  package as committed at ``REV``, taken with ``git archive``), trees interleaved ``--repeats``
  times: write (``with ds: extend``), ``tensor.numpy()`` of every tensor, a TQL scan
  (``SELECT * WHERE labels == 3 AND score > 100``, freshly loaded read-only), 2,000 random rows
  through ``tensor[list]``, and one loader epoch (``ds.pytorch(batch_size=256)``, no workers).
  The table shows medians and this tree / baseline; the machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
STEPS = ("write", "numpy", "query", "random rows", "loader epoch")


def make_data(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:8, 0:8]
    base = (np.sin(xx / 3.0)[..., None] * 40 + np.cos(yy / 4.0)[..., None] * 40 + 128).astype(np.float32)
    patch = (base[None] + rng.normal(0, 8, (rows, 8, 8, 3)) + rng.integers(-60, 60, (rows, 1, 1, 3))).clip(0, 255)
    return {"labels": rng.integers(0, 10, rows).astype(np.uint32),
            "emb": rng.standard_normal((rows, 128)).astype(np.float32),
            "score": rng.integers(0, 500, rows).astype(np.float32),
            "patch": patch.astype(np.uint8)}


# -- codecs alone -------------------------------------------------------------------------------
def codec_table(data: dict[str, np.ndarray]) -> None:
    from numcodecs import LZ4, Blosc, Zstd

    from deeplake_nb.format.codecs import blosc_lz4

    import numcodecs.blosc
    numcodecs.blosc.use_threads = False  # as zarr sets it
    print(f"\n{'tensor (1 chunk)':18s} {'codec':22s} {'ratio':>6s} {'encode MB/s':>12s} {'decode MB/s':>12s}")
    for name, arr in data.items():
        chunk = np.ascontiguousarray(arr[: max(1, (1 << 20) // arr[0].nbytes)]).reshape(-1).view(np.uint8)
        size = arr.dtype.itemsize
        chosen = blosc_lz4(arr.dtype).to_dict()["configuration"]  # what format 3 writes
        shuffled = chosen["shuffle"] == "shuffle"
        codecs = {"lz4 block (formats 1-2)": LZ4(),
                  "blosc-lz4 (format 3)": Blosc("lz4", chosen["clevel"], Blosc.SHUFFLE if shuffled else Blosc.NOSHUFFLE,
                                                typesize=chosen["typesize"]),
                  "blosc-lz4 other shuffle": Blosc("lz4", chosen["clevel"], Blosc.NOSHUFFLE if shuffled else Blosc.SHUFFLE,
                                                   typesize=size),
                  "zstd 1": Zstd(level=1), "zstd 3": Zstd(level=3)}
        for label, codec in codecs.items():
            encoded = bytes(codec.encode(chunk))
            enc = _best(codec.encode, chunk)
            dec = _best(codec.decode, encoded)
            print(f"{name:18s} {label:22s} {chunk.nbytes / len(encoded):6.2f} {chunk.nbytes / enc / 1e6:12.0f} "
                  f"{chunk.nbytes / dec / 1e6:12.0f}")


def _best(fn, arg, repeats: int = 7, inner: int = 5) -> float:
    """The fastest of ``repeats`` timings of ``fn(arg)`` (seconds per call)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn(arg)
        best = min(best, (time.perf_counter() - start) / inner)
    return best


# -- the format layer's chunk reads, both codecs in this process ----------------------------------
def chunk_read_table(data: dict[str, np.ndarray], repeats: int = 20) -> None:
    """``ArrayHandle.read_chunk`` over every chunk of each tensor's data, written once as format 3
    writes it and once with the old ``deeplake_nb.lz4`` codec (which format 3 still reads),
    interleaved; the fastest pass of each. In-process, so it holds on a noisy machine."""
    import zarr
    from zarr.codecs import Crc32cCodec
    from zarr.storage import MemoryStore

    from deeplake_nb.format.arrays import ArrayHandle
    from deeplake_nb.format.codecs import LZ4Codec
    from deeplake_nb.storage import ByteStore

    print(f"\n{'tensor':8s} {'MB':>6s} {'lz4 block MB/s':>15s} {'blosc-lz4 MB/s':>15s} {'time ratio':>11s} "
          f"{'stored MB (blosc / lz4)':>24s}")
    for name, arr in data.items():
        store = MemoryStore()
        group, raw = zarr.open_group(store=store, mode="w"), ByteStore(store)
        row = arr.shape[1:]
        new = ArrayHandle.create(group, "new", raw, dtype=arr.dtype, row_shape=row, chunk_bytes=1 << 20,
                                 compression="lz4")
        zarr.create_array(store, name="old", shape=(0, *row), chunks=(new.rows_per_chunk, *row), dtype=arr.dtype,
                          fill_value=0, compressors=[LZ4Codec(), Crc32cCodec()])
        old = ArrayHandle.open(group, "old", raw)
        best = {}
        for handle in (new, old):
            handle.write(0, arr)
        chunks = range(-(-len(arr) // new.rows_per_chunk))
        for _ in range(repeats):
            for label, handle in (("old", old), ("new", new)):
                start = time.perf_counter()
                for k in chunks:
                    handle.read_chunk(k)
                best[label] = min(best.get(label, float("inf")), time.perf_counter() - start)
        stored = {label: sum(len(raw.get(h.chunk_key(k))) for k in chunks) / 1e6 for label, h in (("old", old), ("new", new))}
        mb = arr.nbytes / 1e6
        print(f"{name:8s} {mb:6.1f} {mb / best['old']:15.0f} {mb / best['new']:15.0f} {best['new'] / best['old']:11.2f} "
              f"{stored['new']:11.2f} / {stored['old']:.2f}")


# -- read paths, in a worker per tree -------------------------------------------------------------
def worker(rows: int, folder: str) -> dict[str, float]:
    """Time each step once with the deeplake_nb on ``sys.path``; returns seconds per step."""
    import deeplake_nb as dl

    data = make_data(rows)
    path = os.path.join(folder, "ds")
    times: dict[str, float] = {}
    start = time.perf_counter()
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("labels", htype="class_label", class_names=[str(i) for i in range(10)], chunk_compression="lz4")
        ds.create_tensor("emb", htype="embedding", chunk_compression="lz4")
        ds.create_tensor("score", dtype="float32", chunk_compression="lz4")
        ds.create_tensor("patch", htype="image", dtype="uint8", chunk_compression="lz4")
        ds.extend(data)
    ds.commit("data")
    times["write"] = time.perf_counter() - start
    ds = dl.load(path, read_only=True)
    start = time.perf_counter()
    for name in data:
        got = ds[name].numpy()
    times["numpy"] = time.perf_counter() - start
    assert np.array_equal(got, data["patch"])
    ds = dl.load(path, read_only=True)
    start = time.perf_counter()
    found = len(ds.query("SELECT * WHERE labels == 3 AND score > 100"))
    times["query"] = time.perf_counter() - start
    assert found == int(((data["labels"] == 3) & (data["score"] > 100)).sum())
    picks = np.random.default_rng(1).integers(0, rows, 2000).tolist()
    ds = dl.load(path, read_only=True)
    start = time.perf_counter()
    for name in data:
        ds[name][picks].numpy()
    times["random rows"] = time.perf_counter() - start
    ds = dl.load(path, read_only=True)
    loader = ds.pytorch(batch_size=256, num_workers=0, tensors=list(data))
    start = time.perf_counter()
    seen = sum(len(batch["labels"]) for batch in loader)
    times["loader epoch"] = time.perf_counter() - start
    assert seen == rows
    return times


def baseline_tree(rev: str, into: str) -> str:
    """The ``deeplake_nb`` package as committed at ``rev``, unpacked under ``into``."""
    blob = subprocess.run(["git", "-C", REPO, "archive", rev, "deeplake_nb"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_tree(tree: str, rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.path.join(HERE, "data")) as folder:
        env = {**os.environ, "PYTHONPATH": tree}
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "--rows", str(rows),
                               "--folder", folder], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"worker for {tree} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50000, help="rows of the dataset (default 50000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are shown")
    parser.add_argument("--baseline", help="a git revision whose deeplake_nb to compare with (e.g. the "
                                           "commit before format 3)")
    parser.add_argument("--tree", default=REPO, help="the source tree measured as 'this tree' (default: this "
                                                      "checkout; a folder holding a deeplake_nb package)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.rows, args.folder)))
        return
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    codec_table(make_data(min(args.rows, 20000)))
    chunk_read_table(make_data(args.rows))
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this tree": os.path.abspath(args.tree)}
        if args.baseline:
            trees[f"baseline {args.baseline}"] = baseline_tree(args.baseline, scratch)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                results[name].append(run_tree(tree, args.rows))
    medians = {name: {step: statistics.median(r[step] for r in runs) for step in STEPS}
               for name, runs in results.items()}
    names = list(medians)
    print(f"\n{args.rows} rows, chunk_compression='lz4', median of {args.repeats} (seconds)")
    print(f"{'step':14s}" + "".join(f"{n:>24s}" for n in names) + ("   this / baseline" if len(names) > 1 else ""))
    for step in STEPS:
        line = f"{step:14s}" + "".join(f"{medians[n][step]:24.3f}" for n in names)
        if len(names) > 1:
            line += f"   {medians[names[0]][step] / medians[names[1]][step]:17.2f}"
        print(line)


if __name__ == "__main__":
    main()
