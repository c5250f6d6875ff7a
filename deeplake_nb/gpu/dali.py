"""A DALI pipeline that turns batches of stored JPEG (or PNG) bytes into normalised float32 NCHW
torch tensors: decode (``"mixed"`` = nvJPEG / the hardware JPEG engine on a GPU, ``"cpu"``
without one, same pipeline code), crop + bilinear resize (``fn.resize`` with a region of
interest), flip and normalise (``fn.crop_mirror_normalize``).

Crop boxes and flips are drawn on the host by ``params.py`` (the functions the CuPy kernels and
NumPy twins use) and fed to DALI as per-sample arguments, so a seeded pipeline is reproducible
and ``DaliImagePipeline.reference()`` (a ``Compose`` on the NumPy twins) gives the same output
on the CPU. DALI is imported at first use, never at module import.

Two ways to feed it, both through ``fn.external_source`` and both keeping the input order:

- ``run(jpegs, key)`` per batch (what the loader's batch stage, ``loader_stage``, calls in the
  main process with each batch's stored bytes and ``key=(epoch, rank, batch)``): ``feed_input``
  then ``run``; ``decode_torch(jpegs)`` is the decode-only variant;
- ``iterate(batches)`` over an iterable of batches: a batch-mode ``external_source`` with
  ``cycle="raise"``, so the pipeline prefetches ahead and, after ``StopIteration``, resets for
  the next epoch (without ``cycle="raise"`` a second epoch would silently be empty).

A pipeline object is not thread-safe: use one per loader thread or worker. It pickles (without
its built DALI graph, which is rebuilt at first use), so it can travel to DataLoader workers.
"""

from __future__ import annotations

import copy
import os
import threading
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..format import compression
from ..errors import CorruptSampleError, GPUError
from .device import current_device_id, require, resolve
from .transforms import IMAGENET_MEAN, IMAGENET_STD, Compose, Normalize, RandomFlip, RandomResizedCrop, ResizeCenterCrop

DALI_PIP = "nvidia-dali-cuda120"


def as_uint8(data: Any) -> np.ndarray:
    """Encoded bytes (bytes, memoryview, NumPy uint8, torch uint8) as a 1-D uint8 NumPy array."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data, np.uint8).reshape(-1)
    if hasattr(data, "numpy"):
        return np.ascontiguousarray(data.numpy(), np.uint8).reshape(-1)
    return np.frombuffer(data, np.uint8)


def encoded_shape(data: np.ndarray) -> tuple[int, int, int]:
    """(H, W, C) of encoded image bytes, from the header (no decode)."""
    head = data[:12].tobytes()
    fmt = compression.sniff(head)
    if fmt is None:
        raise CorruptSampleError("A sample given to the DALI pipeline is not a JPEG, PNG or WebP file.")
    return compression.header_shape(data.tobytes(), fmt)


class DaliImagePipeline:
    """Encoded images -> (N, 3, H, W) float32 torch tensors, in input order.

    ``train=True``: torchvision-style random resized crop (``scale``, ``ratio``) and a flip
    with probability ``flip_p``; ``train=False``: the deterministic ``ResizeCenterCrop`` (resize
    the shorter side to ``resize``, default ``size / 0.875``, then centre crop ``size``).
    ``device``: ``"cuda"`` (decode ``mixed``, tensors on the GPU), ``"cpu"`` (``device_id=None``,
    tensors on the host) or ``"auto"`` (the GPU if there is one, else the CPU with a warning).
    ``from_transforms([crop, RandomFlip(), Normalize()])`` builds the same pipeline from
    ``dl.gpu`` transform objects (what the loader does). Gray images come out with 3 channels;
    EXIF orientation is ignored (as in the stored shape).
    """

    def __init__(self, batch_size: int, size: int | Sequence[int] = 224,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 device: str = "auto", seed: int | None = None, num_threads: int | None = None,
                 train: bool = True, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), flip_p: float = 0.5,
                 resize: int | None = None, prefetch: int = 2) -> None:
        crop = (RandomResizedCrop(size, scale, ratio) if train else ResizeCenterCrop(size, resize))
        steps = [crop] + ([RandomFlip(flip_p)] if train else []) + [Normalize(mean, std)]
        self._configure(batch_size, steps, device, seed, num_threads, prefetch)

    @staticmethod
    def expressible(transforms: Sequence[Any]) -> bool:
        """Whether DALI can do all of ``transforms``: ``RandomResizedCrop`` or ``ResizeCenterCrop``,
        then optionally ``RandomFlip``, then ``Normalize`` (and nothing else)."""
        steps = list(transforms)
        if len(steps) not in (2, 3) or not isinstance(steps[0], (RandomResizedCrop, ResizeCenterCrop)):
            return False
        if not isinstance(steps[-1], Normalize):
            return False
        return len(steps) == 2 or type(steps[1]) is RandomFlip

    @classmethod
    def from_transforms(cls, transforms: Sequence[Any], batch_size: int, device: str = "auto",
                        seed: int | None = None, num_threads: int | None = None,
                        prefetch: int = 2) -> DaliImagePipeline:
        """A pipeline doing exactly ``transforms`` (see ``expressible``; copies of them, with their
        parameters: size, scale, ratio, resize, flip p, mean, std): ``run(jpegs, key)`` equals
        ``Compose(transforms, device="cpu", seed=seed)(decoded, key)`` up to float rounding."""
        if not cls.expressible(transforms):
            raise GPUError("DaliImagePipeline.from_transforms takes RandomResizedCrop or ResizeCenterCrop, "
                           f"optionally RandomFlip, then Normalize; got {list(transforms)!r}. Run other steps "
                           "with dl.gpu.Compose.")
        pipe = cls.__new__(cls)
        pipe._configure(batch_size, copy.deepcopy(list(transforms)), device, seed, num_threads, prefetch)
        return pipe

    def _configure(self, batch_size: int, steps: list[Any], device: str, seed: int | None,
                   num_threads: int | None, prefetch: int) -> None:
        require("nvidia.dali", DALI_PIP)
        require("torch", "'deeplake_nb[torch]'")
        if batch_size < 1:
            raise GPUError(f"batch_size must be >= 1; got {batch_size}.")
        self.device = resolve(device, needs=("nvidia.dali", "torch"), what="DaliImagePipeline")
        self.batch_size, self.seed = int(batch_size), seed
        self.train = isinstance(steps[0], RandomResizedCrop)
        self.num_threads = int(num_threads or os.cpu_count() or 1)
        self.prefetch = int(prefetch)
        self.size = steps[0].size
        self._flip_at = next((i for i, t in enumerate(steps) if isinstance(t, RandomFlip)), None)
        self._normalize = steps[-1]
        self._params = Compose(steps, device="cpu", seed=seed)
        self._reset_built()

    def reseed(self, seed: int | None) -> None:
        """Draw crops and flips from ``seed`` from now on (as ``Compose.reseed``)."""
        self._params.reseed(seed)
        self.seed = self._params.seed

    # -- the DALI graph --------------------------------------------------------------------------
    def _reset_built(self) -> None:
        self._feed_pipe = self._source_pipe = self._decode_pipe = None
        self._source_batches: Iterable[Sequence[Any]] | None = None
        self._source_clean = False
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_feed_pipe", "_source_pipe", "_decode_pipe", "_source_batches", "_lock"):
            state[key] = None
        state["_source_clean"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _pipeline(self, graph: Any, prefetch: int) -> Any:
        from nvidia.dali import pipeline_def

        device_id = current_device_id() if self.device == "cuda" else None
        pipe = pipeline_def(graph, batch_size=self.batch_size, num_threads=self.num_threads,
                            device_id=device_id, prefetch_queue_depth=prefetch)()
        pipe.build()
        return pipe

    def _decoded(self, jpegs: Any) -> Any:
        from nvidia.dali import fn, types

        return fn.decoders.image(jpegs, device="mixed" if self.device == "cuda" else "cpu",
                                 output_type=types.RGB, adjust_orientation=False)

    def _augment(self, jpegs: Any, roi_start: Any, roi_end: Any, mirror: Any) -> Any:
        from nvidia.dali import fn, types

        images = fn.resize(self._decoded(jpegs), size=list(self.size), roi_start=roi_start, roi_end=roi_end,
                           roi_relative=False, antialias=False, interp_type=types.INTERP_LINEAR,
                           dtype=types.FLOAT)
        mean = [m * 255.0 for m in self._normalize.mean]
        std = [s * 255.0 for s in self._normalize.std]
        return fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="CHW", mean=mean, std=std,
                                        mirror=mirror)

    def _feed_graph(self) -> Any:
        from nvidia.dali import fn, types

        jpegs = fn.external_source(name="jpegs", dtype=types.UINT8, ndim=1)
        roi_start = fn.external_source(name="roi_start", dtype=types.FLOAT, ndim=1)
        roi_end = fn.external_source(name="roi_end", dtype=types.FLOAT, ndim=1)
        mirror = fn.external_source(name="mirror", dtype=types.INT32, ndim=0)
        return self._augment(jpegs, roi_start, roi_end, mirror)

    def _source_graph(self) -> Any:
        from nvidia.dali import fn, types

        jpegs, roi_start, roi_end, mirror = fn.external_source(
            source=_EpochSource(self), num_outputs=4, batch=True, cycle="raise",
            dtype=[types.UINT8, types.FLOAT, types.FLOAT, types.INT32], ndim=[1, 1, 1, 0])
        return self._augment(jpegs, roi_start, roi_end, mirror)

    def _decode_graph(self) -> Any:
        from nvidia.dali import fn, types

        return self._decoded(fn.external_source(name="jpegs", dtype=types.UINT8, ndim=1))

    # -- inputs and outputs ----------------------------------------------------------------------
    def _inputs(self, jpegs: Sequence[Any], key: Sequence[int] | None = None) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Encoded arrays plus per-sample (roi_start, roi_end, mirror), drawn from the host generator."""
        if not 0 < len(jpegs) <= self.batch_size:
            raise GPUError(f"a batch has 1 to batch_size={self.batch_size} samples; got {len(jpegs)}.")
        data = [as_uint8(j) for j in jpegs]
        drawn = self._params.sample_params([encoded_shape(d) for d in data], key)
        boxes = drawn[0]
        flips = drawn[self._flip_at] if self._flip_at is not None else np.zeros(len(data), bool)
        starts = [np.asarray(b[:2], np.float32) for b in boxes]
        ends = [np.asarray(b[:2] + b[2:], np.float32) for b in boxes]
        mirrors = [np.asarray(int(f), np.int32) for f in flips]
        return data, starts, ends, mirrors

    def _to_torch(self, tensor_list: Any) -> Any:
        """A dense DALI batch as one torch tensor of the caller's own (every sample one shape)."""
        return self._copy_out(tensor_list.as_tensor())

    def _copy_out(self, dense: Any) -> Any:
        """One DALI tensor (a dense batch or one sample) -> a new torch tensor, on the GPU for
        ``device="cuda"`` (copied on torch's current stream), else on the host."""
        import torch
        from nvidia.dali.plugin.pytorch import feed_ndarray, to_torch_type

        shape = tuple(dense.shape())
        dtype = to_torch_type[dense.dtype]
        if self.device == "cuda":
            out = torch.empty(shape, dtype=dtype, device=torch.device("cuda", current_device_id()))
            feed_ndarray(dense, out, cuda_stream=torch.cuda.current_stream(out.device))
        else:
            out = torch.empty(shape, dtype=dtype)
            feed_ndarray(dense, out)
        return out

    def _run(self, pipe: Any, slot: str) -> Any:
        """``pipe.run()``; a DALI failure (a sample its decoder rejects, out of memory) leaves
        the pipeline unusable, so it is dropped and rebuilt at the next call."""
        try:
            return pipe.run()
        except RuntimeError as exc:
            setattr(self, slot, None)
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())[:400]
            raise GPUError(f"DALI failed on this batch ({detail or type(exc).__name__}); the pipeline is rebuilt at the next call. "
                           "Check the batch's images (dl.read / simplejpeg decode them on the CPU).") from exc

    # -- public ----------------------------------------------------------------------------------
    def run(self, jpegs: Sequence[Any], key: Sequence[int] | None = None) -> Any:
        """Decode and augment one batch (1 to ``batch_size`` encoded images, bytes or uint8
        arrays) -> (N, 3, H, W) float32 torch tensor, row i from ``jpegs[i]``. The tensor is the
        caller's own (copied out of DALI's buffers, on the GPU for ``device="cuda"``).

        ``key`` (the loader passes ``(epoch, rank, batch_index)``) draws this batch's crops and
        flips from ``[seed, step, *key]`` rather than the running generator, so a resumed loader,
        or one with another number of workers, gets the same augmentation for the same batch."""
        with self._lock:
            if self._feed_pipe is None:
                self._feed_pipe = self._pipeline(self._feed_graph, prefetch=1)
            pipe = self._feed_pipe
            data, starts, ends, mirrors = self._inputs(jpegs, key)
            pipe.feed_input("jpegs", data)
            pipe.feed_input("roi_start", starts)
            pipe.feed_input("roi_end", ends)
            pipe.feed_input("mirror", mirrors)
            (out,) = self._run(pipe, "_feed_pipe")
            return self._to_torch(out)

    __call__ = run

    def iterate(self, batches: Iterable[Sequence[Any]]) -> Iterator[Any]:
        """One epoch over ``batches`` (an iterable of batches of encoded images), yielding one
        tensor per batch, in order, while DALI prefetches the next ones. Call again for the next
        epoch (with the same or another iterable)."""
        with self._lock:
            if self._source_pipe is None or not self._source_clean:
                self._source_pipe = None
                self._source_batches = batches
                self._source_pipe = self._pipeline(self._source_graph, prefetch=self.prefetch)
            else:
                self._source_batches = batches
                self._source_pipe.reset()      # asks _EpochSource for a fresh iterator
            self._source_clean = False
            pipe = self._source_pipe
        while True:
            try:
                (out,) = pipe.run()
            except StopIteration:
                self._source_clean = True
                return
            yield self._to_torch(out)

    def _decode_run(self, jpegs: Sequence[Any]) -> Any:
        """Run the decode-only graph on one batch (call with the lock held)."""
        if self._decode_pipe is None:
            self._decode_pipe = self._pipeline(self._decode_graph, prefetch=1)
        pipe = self._decode_pipe
        if not 0 < len(jpegs) <= self.batch_size:
            raise GPUError(f"a batch has 1 to batch_size={self.batch_size} samples; got {len(jpegs)}.")
        data = [as_uint8(j) for j in jpegs]
        for d in data:
            encoded_shape(d)                  # not an image at all: CorruptSampleError, before DALI sees it
        pipe.feed_input("jpegs", data)
        (out,) = self._run(pipe, "_decode_pipe")
        return out

    def decode(self, jpegs: Sequence[Any]) -> list[np.ndarray]:
        """Decode only: HWC uint8 NumPy arrays (RGB), as DALI's decoder gives them."""
        with self._lock:
            out = self._decode_run(jpegs)
            if self.device == "cuda":
                out = out.as_cpu()
            return [np.array(out[i]) for i in range(len(out))]

    def decode_torch(self, jpegs: Sequence[Any]) -> Any:
        """Decode only, into torch uint8 RGB images on this pipeline's device (the caller's own
        memory): one (N, H, W, 3) tensor when every image has the same shape, else a list of
        (H, W, 3) tensors, row i from ``jpegs[i]``. Gray images come out with 3 channels."""
        with self._lock:
            out = self._decode_run(jpegs)
            if out.is_dense_tensor():
                return self._to_torch(out)
            return [self._copy_out(out[i]) for i in range(len(out))]

    def reference(self) -> Compose:
        """A ``Compose`` on the NumPy twins with this pipeline's steps and seed, freshly seeded:
        fed the same decoded images batch by batch, it reproduces this pipeline's output."""
        return Compose(copy.deepcopy(self._params.transforms), device="cpu", seed=self._params.seed)

    def __repr__(self) -> str:
        return (f"DaliImagePipeline(batch_size={self.batch_size}, size={self.size}, device={self.device!r}, "
                f"train={self.train}, seed={self.seed})")


class _EpochSource:
    """The batch-mode source of ``iterate``: each ``iter()`` (DALI calls it at build and at every
    ``reset()``) starts over the pipeline's current batches, read lazily at the first ``next``."""

    def __init__(self, owner: DaliImagePipeline) -> None:
        self.owner = owner

    def __iter__(self) -> Iterator[tuple[list[np.ndarray], ...]]:
        return self._epoch()

    def _epoch(self) -> Iterator[tuple[list[np.ndarray], ...]]:
        batches = self.owner._source_batches
        if batches is None:
            return
        for batch in batches:
            yield self.owner._inputs(batch)
