"""Images/s from stored JPEG bytes to normalised (N, 3, 224, 224) float32 tensors, per decode path:

    python benchmarks/bench_gpu.py --n 2048 --batch 128

- Data: ``--n`` photo-like synthetic JPEGs of 200-300 px (~250x250, ``deeplake_nb.demo.synthetic``),
  held in memory as bytes, the way the loader hands them over.
- Every path does the same work: decode, random resized crop to ``--size`` (bilinear), random
  flip, normalise (ImageNet mean/std), one tensor per batch of ``--batch``:
  - ``decode limit (simplejpeg, all cores)``: decoding alone in a thread pool, no transform:
    the ceiling of every CPU path;
  - ``simplejpeg + NumPy twins (threads)``: decode and the NumPy twins of the CUDA kernels, each
    thread on its share of the batch;
  - ``DALI cpu run()`` / ``DALI cpu iterate()``: ``dl.gpu.DaliImagePipeline(device="cpu")``, fed
    per batch, or streamed with prefetching;
  - ``loader, DALI <device> (ds.pytorch)``: the full loader path, one shuffled epoch of a local
    dataset holding the same JPEGs and a label each: ``ds.pytorch(decode_method={"images": "dali"},
    device=..., transform=dl.gpu.Compose([...]))`` (reads, ``--workers`` workers, order, one DALI
    pipeline in the main process, labels moved along); ``loader, CPU decode + NumPy twins`` is the
    same loader with the images decoded by its CPU threads and the Compose run on each batch, and
    ``loader, CPU decode + CuPy kernels`` the same with ``device="cuda"`` (the Compose on the GPU);
  - ``loader engine only``: the same shuffled epochs without the batch stage, the stored JPEG
    bytes (no decode: the engine's own cost per image, reads, order, collation) or the images
    decoded by the engine's threads. A full loader row near the slower of its engine row and
    its stage row (``DALI ... run()``, or NumPy twins / CuPy kernels) means the two overlap;
    near the sum of their times, that they run one after the other;
  - with a GPU: ``DALI mixed`` (nvJPEG / hardware decoder), ``simplejpeg + CuPy kernels`` (decode on
    the CPU, ``dl.gpu.Compose(device="cuda")``) and ``torchvision decode_jpeg(cuda) + CuPy kernels``.
- Each path runs ``--repeats`` times, interleaved; the table shows the best images/s and the ratio
  to the NumPy-twins path. On a shared 2-core machine read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import simplejpeg

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import generate
from deeplake_nb.gpu import params, twins
from deeplake_nb.gpu.device import cupy_device_count, has_package, torch_cuda_available

MEAN, STD = dl.gpu.IMAGENET_MEAN, dl.gpu.IMAGENET_STD


def batches_of(jpegs: list[bytes], size: int) -> list[list[bytes]]:
    return [jpegs[i:i + size] for i in range(0, len(jpegs), size)]


def decode_limit(batches: list[list[bytes]], pool: ThreadPoolExecutor, threads: int) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for batch in batches:
            n += len(list(pool.map(simplejpeg.decode_jpeg, batch, chunksize=max(1, len(batch) // threads))))
        return n
    return run


def numpy_twins(batches: list[list[bytes]], pool: ThreadPoolExecutor, threads: int, size: int) -> Callable[[], int]:
    """Crop boxes and flips drawn on the host for the whole batch (as ``Compose`` does), then each
    thread decodes its share and runs the twins on it into its rows of the batch tensor."""
    import torch

    rng = np.random.default_rng(0)

    def run() -> int:
        n = 0
        for batch in batches:
            shapes = [simplejpeg.decode_jpeg_header(j)[:2] for j in batch]
            boxes = params.resized_crop_boxes(shapes, rng)
            flips = params.flip_flags(len(batch), rng)
            out = np.empty((len(batch), 3, size, size), np.float32)

            def work(lo_hi: tuple[int, int]) -> None:
                lo, hi = lo_hi
                images = [simplejpeg.decode_jpeg(j) for j in batch[lo:hi]]
                crops = twins.resized_crop(images, boxes[lo:hi], flips[lo:hi], (size, size))
                out[lo:hi] = twins.normalize(crops, MEAN, STD)

            cuts = np.linspace(0, len(batch), threads + 1).astype(int)
            list(pool.map(work, zip(cuts[:-1], cuts[1:])))
            tensor = torch.from_numpy(out)
            n += len(tensor)
        return n
    return run


def dali(batches: list[list[bytes]], device: str, threads: int, size: int, batch: int, streamed: bool
         ) -> Callable[[], int]:
    import torch

    pipe = dl.gpu.DaliImagePipeline(batch, size=size, device=device, seed=0, num_threads=threads)

    def run() -> int:
        n = 0
        outputs = pipe.iterate(batches) if streamed else (pipe.run(b) for b in batches)
        for out in outputs:
            n += len(out)
        if device == "cuda":
            torch.cuda.synchronize()
        return n
    return run


def cupy_kernels(batches: list[list[bytes]], pool: ThreadPoolExecutor, size: int) -> Callable[[], int]:
    import torch

    tf = dl.gpu.Compose([dl.gpu.RandomResizedCrop(size), dl.gpu.RandomFlip(), dl.gpu.Normalize(MEAN, STD)],
                        device="cuda", seed=0)

    def run() -> int:
        n = 0
        for batch in batches:
            n += len(tf(list(pool.map(simplejpeg.decode_jpeg, batch))))
        torch.cuda.synchronize()
        return n
    return run


def torchvision_cuda(batches: list[list[bytes]], size: int) -> Callable[[], int]:
    import torch
    from torchvision.io import decode_jpeg

    tf = dl.gpu.Compose([dl.gpu.RandomResizedCrop(size), dl.gpu.RandomFlip(), dl.gpu.Normalize(MEAN, STD)],
                        device="cuda", seed=0)
    encoded = [[torch.frombuffer(bytearray(j), dtype=torch.uint8) for j in batch] for batch in batches]

    def run() -> int:
        n = 0
        for batch in encoded:
            images = [img.permute(1, 2, 0) for img in decode_jpeg(batch, device="cuda")]   # CHW -> HWC views
            n += len(tf(images))
        torch.cuda.synchronize()
        return n
    return run


def loader_path(ds: dl.Dataset, device: str, size: int, batch: int, threads: int, workers: int,
                dali_decode: bool) -> Callable[[], int]:
    """One shuffled epoch of ``ds.pytorch`` (the next epoch at each call), images and labels."""
    import torch

    tf = dl.gpu.Compose([dl.gpu.RandomResizedCrop(size), dl.gpu.RandomFlip(), dl.gpu.Normalize(MEAN, STD)],
                        device="cpu")
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=batch, shuffle=True, seed=0, device=device,
                        decode_method={"images": "dali"} if dali_decode else None,
                        transform={"images": tf, "labels": None},
                        num_threads=threads, num_workers=workers, persistent_workers=workers > 0)

    def run() -> int:
        n = 0
        for b in loader:
            n += len(b["images"])
        if device == "cuda":
            torch.cuda.synchronize()
        return n
    return run


def engine_only(ds: dl.Dataset, batch: int, threads: int, workers: int, method: str) -> Callable[[], int]:
    """One shuffled epoch of the loader's engine alone: the stored JPEG bytes (``"tobytes"``) or
    the decoded images (``"numpy"``, a list per batch), with the labels, no batch stage."""
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=batch, shuffle=True, seed=0,
                        decode_method={"images": method}, num_threads=threads, num_workers=workers,
                        persistent_workers=workers > 0)

    def run() -> int:
        return sum(len(b["images"]) for b in loader)
    return run


def as_dataset(jpegs: list[bytes], folder: str) -> dl.Dataset:
    ds = dl.empty(os.path.join(folder, "bench_gpu"), overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label")
        ds.extend({"images": [dl.Sample(buffer=j) for j in jpegs], "labels": [i % 10 for i in range(len(jpegs))]})
    return dl.load(ds.path, read_only=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048, help="number of JPEGs")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, help="loader worker processes of the ds.pytorch rows")
    args = ap.parse_args()
    warnings.simplefilter("ignore", dl.errors.GPUFallbackWarning)

    jpegs = [s.jpeg for s in generate(args.n, seed=args.seed)]
    shapes = np.array([simplejpeg.decode_jpeg_header(j)[:2] for j in jpegs])
    batches = batches_of(jpegs, args.batch)
    pool = ThreadPoolExecutor(args.threads)
    gpu = cupy_device_count() > 0 and torch_cuda_available()

    paths: dict[str, Callable[[], int]] = {
        "decode limit (simplejpeg, all cores)": decode_limit(batches, pool, args.threads),
        "simplejpeg + NumPy twins (threads)": numpy_twins(batches, pool, args.threads, args.size),
    }
    if has_package("nvidia.dali"):
        paths["DALI cpu run() per batch"] = dali(batches, "cpu", args.threads, args.size, args.batch, False)
        paths["DALI cpu iterate() (prefetch)"] = dali(batches, "cpu", args.threads, args.size, args.batch, True)
        if gpu:
            paths["DALI mixed run() per batch"] = dali(batches, "cuda", args.threads, args.size, args.batch, False)
            paths["DALI mixed iterate() (prefetch)"] = dali(batches, "cuda", args.threads, args.size, args.batch, True)
    folder = tempfile.mkdtemp(prefix="bench_gpu-")
    ds = as_dataset(jpegs, folder)
    paths["loader engine only: stored bytes, no decode"] = engine_only(ds, args.batch, args.threads, args.workers,
                                                                      "tobytes")
    paths["loader engine only: CPU decode, no transform"] = engine_only(ds, args.batch, args.threads, args.workers,
                                                                       "numpy")
    paths["loader, CPU decode + NumPy twins (ds.pytorch)"] = loader_path(
        ds, "cpu", args.size, args.batch, args.threads, args.workers, dali_decode=False)
    if has_package("nvidia.dali"):
        paths["loader, DALI cpu (ds.pytorch)"] = loader_path(
            ds, "cpu", args.size, args.batch, args.threads, args.workers, dali_decode=True)
        if gpu:
            paths["loader, DALI mixed (ds.pytorch, device=cuda)"] = loader_path(
                ds, "cuda", args.size, args.batch, args.threads, args.workers, dali_decode=True)
    if gpu:
        paths["loader, CPU decode + CuPy kernels (ds.pytorch, device=cuda)"] = loader_path(
            ds, "cuda", args.size, args.batch, args.threads, args.workers, dali_decode=False)
        paths["simplejpeg + CuPy kernels"] = cupy_kernels(batches, pool, args.size)
        if has_package("torchvision"):
            paths["torchvision decode_jpeg(cuda) + CuPy kernels"] = torchvision_cuda(batches, args.size)

    for run in paths.values():       # warm-up: builds pipelines, compiles kernels, fills caches
        run()
    best: dict[str, float] = {name: 0.0 for name in paths}
    for _ in range(args.repeats):
        for name, run in paths.items():
            start = time.perf_counter()
            n = run()
            best[name] = max(best[name], n / (time.perf_counter() - start))

    device = "no GPU"
    if gpu:
        import torch
        device = torch.cuda.get_device_name()
    print(f"# bench_gpu: {args.n} JPEGs, mean {shapes[:, 0].mean():.0f}x{shapes[:, 1].mean():.0f} px -> "
          f"{args.size}x{args.size} float32, batch {args.batch}, {args.threads} threads, "
          f"{args.workers} loader workers, best of {args.repeats}")
    print(f"# {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, {device}, "
          f"python {sys.version.split()[0]}")
    base = best["simplejpeg + NumPy twins (threads)"]
    width = max(len(name) for name in paths)
    print(f"| {'path':<{width}} | images/s | vs NumPy twins |")
    print(f"|{'-' * (width + 2)}|---------:|---------------:|")
    for name in paths:
        print(f"| {name:<{width}} | {best[name]:8.0f} | {best[name] / base:13.2f}x |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
