"""Interop: one shuffled epoch into NumPy, JAX and TensorFlow; a view to Arrow; Arrow into a dataset.

    python benchmarks/bench_interop.py --n 5000 [--size 160] [--batch 64] [--repeats 3]
    python benchmarks/bench_interop.py --quick   # --n 1000 --repeats 2: about a minute on 2 cores

- Data: ``--n`` JPEGs of ``--size`` px square (smooth synthetic images, quality 90), a class label
  and a 128-float embedding per row, written once to ``benchmarks/data/interop-<n>-<size>/ds``.
- Epoch (images/s over one shuffled epoch, JPEGs decoded, batches of ``--batch``, the loader made
  inside the timing): ``ds.numpy_batches``, ``ds.jax`` (DLPack), ``ds.tensorflow(batch_size=)``,
  ``ds.pytorch(num_workers=0)`` (the same pipeline into torch) and, as the peer, TensorFlow's own
  ``tf.data`` pipeline over the same JPEG bytes already in memory (``from_tensor_slices`` ->
  ``shuffle`` -> ``map(tf.io.decode_jpeg, AUTOTUNE)`` -> ``batch``): no storage reads at all, so
  it bounds what decoding alone costs in TensorFlow. Ratios are against it.
- Export: ``ds.to_arrow(columns=["images", "labels", "emb"])`` (MB/s of stored JPEG bytes) vs
  pyarrow reading the same table from a Parquet file on the same disk (``pq.read_table``), and vs a
  Python loop of ``sample.tobytes()`` over ``ds.images``.
- Import: ``ds.extend(table)`` of that Arrow table (images as binary, stored as they are) into a
  fresh dataset (rows/s) vs ``pq.write_table`` of the same table, and vs ``ds.extend`` of the same
  values as Python lists (``dl.Sample(buffer=...)``, ints, arrays).

One untimed warm-up run of each contender, then interleaved repeats (medians), so every
contender sees the same load; on a shared machine read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import simplejpeg

import deeplake_nb as dl

HERE = os.path.dirname(os.path.abspath(__file__))


def image(i: int, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(i)
    a, b, c = rng.uniform(0.02, 0.1, 3)
    out = np.stack([np.sin(x * a + i), np.cos(y * b - i), np.sin((x + y) * c)], -1)
    return ((out + 1) * 127.5).astype(np.uint8)


def build(n: int, size: int) -> tuple[str, pa.Table]:
    folder = os.path.join(HERE, "data", f"interop-{n}-{size}")
    path = os.path.join(folder, "ds")
    parquet = os.path.join(folder, "table.parquet")
    if not os.path.exists(os.path.join(folder, "done")):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        blobs = [simplejpeg.encode_jpeg(image(i, size), quality=90) for i in range(n)]
        table = pa.table({"images": pa.array(blobs, pa.binary()), "labels": pa.array([i % 10 for i in range(n)], pa.int32()),
                          "emb": pa.FixedSizeListArray.from_arrays(
                              pa.array(np.random.default_rng(0).random(n * 128, np.float32)), 128)})
        pq.write_table(table, parquet)
        ds = dl.empty(path)
        make_tensors(ds)
        ds.extend(table)
        open(os.path.join(folder, "done"), "w").close()
    return path, pq.read_table(parquet)


def make_tensors(ds: dl.Dataset) -> None:
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=[str(k) for k in range(10)])
        ds.create_tensor("emb", htype="embedding", dtype="float32")


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def epoch_runs(path: str, table: pa.Table, batch: int) -> dict[str, Callable[[], int]]:
    import tensorflow as tf

    def count(batches, key="images") -> int:
        return sum(len(b[key]) for b in batches)

    blobs = table.column("images").to_pylist()

    def tf_native() -> int:
        data = tf.data.Dataset.from_tensor_slices(blobs).shuffle(len(blobs), seed=0)
        data = data.map(lambda b: tf.io.decode_jpeg(b, channels=3), num_parallel_calls=tf.data.AUTOTUNE).batch(batch)
        return sum(int(b.shape[0]) for b in data)

    def ds() -> dl.Dataset:
        return dl.load(path, read_only=True)

    options = {"tensors": ["images", "labels"], "batch_size": batch, "shuffle": True, "seed": 0}
    return {
        "tf.data, bytes in memory (peer)": tf_native,
        "ds.numpy_batches": lambda: count(ds().numpy_batches(**options)),
        "ds.jax (DLPack)": lambda: count(ds().jax(**options)),
        "ds.tensorflow(batch_size=)": lambda: count(ds().tensorflow(**options)),
        "ds.pytorch(num_workers=0)": lambda: count(ds().pytorch(**options)),
    }


def export_runs(path: str, folder: str) -> dict[str, Callable[[], int]]:
    parquet = os.path.join(folder, "table.parquet")

    def nbytes(table: pa.Table) -> int:
        return table.column("images").combine_chunks().buffers()[2].size

    def loop() -> int:
        ds = dl.load(path, read_only=True)
        return sum(len(sample.tobytes()) for sample in ds.images)

    return {
        "pq.read_table (peer)": lambda: nbytes(pq.read_table(parquet)),
        "ds.to_arrow": lambda: nbytes(dl.load(path, read_only=True).to_arrow(columns=["images", "labels", "emb"])),
        "for sample in ds.images: tobytes()": loop,
    }


def import_runs(table: pa.Table, scratch: str) -> dict[str, Callable[[], int]]:
    def fresh(name: str) -> dl.Dataset:
        target = os.path.join(scratch, name)
        shutil.rmtree(target, ignore_errors=True)
        ds = dl.empty(target)
        make_tensors(ds)
        return ds

    def parquet() -> int:
        pq.write_table(table, os.path.join(scratch, "out.parquet"))
        return table.num_rows

    def arrow() -> int:
        fresh("arrow").extend(table)
        return table.num_rows

    images, labels = table.column("images").to_pylist(), table.column("labels").to_pylist()
    emb = table.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, 128)

    def lists() -> int:
        fresh("lists").extend({"images": [dl.Sample(buffer=b) for b in images], "labels": labels, "emb": list(emb)})
        return table.num_rows

    return {"pq.write_table (peer)": parquet, "ds.extend(pa.Table)": arrow, "ds.extend(lists)": lists}


def measure(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[float, int]]:
    """Medians of ``repeats`` interleaved timed runs, after one untimed run of each (imports,
    thread pools and first-use setup of every library stay out of the figures)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, int] = {}
    for run in runs.values():
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            seconds, counts[name] = timed(run)
            times[name].append(seconds)
    return {name: (statistics.median(t), counts[name]) for name, t in times.items()}


def report(title: str, unit: str, scale: float, results: dict[str, tuple[float, int]]) -> str:
    peer = next(iter(results.values()))
    peer_rate = peer[1] / peer[0]
    lines = [f"{title}", f"| | {unit} | vs peer |", "|---|---:|---:|"]
    for name, (seconds, count) in results.items():
        rate = count / seconds
        lines.append(f"| {name} | {rate / scale:,.1f} | {rate / peer_rate:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="--n 1000 --repeats 2")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 1000, 2
    path, table = build(args.n, args.size)
    folder = os.path.dirname(path)
    print(f"{args.n} JPEGs of {args.size}x{args.size} px, batches of {args.batch}, {args.repeats} interleaved repeats "
          f"(medians), {os.cpu_count()} CPUs\n")
    print(report("One shuffled epoch, decoded", "images/s", 1, measure(epoch_runs(path, table, args.batch), args.repeats)))
    print()
    print(report("Images to Arrow", "MB/s", 1e6, measure(export_runs(path, folder), args.repeats)))
    print()
    with tempfile.TemporaryDirectory() as scratch:
        print(report("Arrow into a dataset", "rows/s", 1, measure(import_runs(table, scratch), args.repeats)))


if __name__ == "__main__":
    main()
