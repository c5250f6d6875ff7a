"""Batched image transforms that run on a GPU (CuPy kernels) when there is one and on the NumPy
twins otherwise, with the same random parameters either way::

    tf = dl.gpu.Compose([dl.gpu.RandomResizedCrop(224), dl.gpu.RandomFlip(),
                         dl.gpu.Normalize(IMAGENET_MEAN, IMAGENET_STD)], seed=0)
    x = tf(images)     # list of HWC uint8 images (or NHWC array) -> (N, 3, 224, 224) float32 tensor

Contract: a transform draws its parameters on the host (``params.py``) from a generator that
``Compose`` owns, one draw per batch, then applies them on the backend; so two ``Compose`` with
the same seed and the same input shapes produce the same parameters on any device, and
``device="cpu"`` output is the reference for ``device="cuda"`` output. Passing ``key=(epoch,
batch)`` draws a batch's parameters from ``[seed, i, *key]`` instead of the running generator:
the same batch gets the same augmentation whatever came before (resume, worker count). Images are HWC uint8 in;
``Normalize`` turns NHWC into NCHW float32 and must come last.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from . import params as P
from .backend import CPUBackend, CUDABackend, backend_for
from ..loader.engine import available_cpus
from .device import resolve

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    out = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    if len(out) != 2 or min(out) < 1:
        raise ValueError(f"size must be a positive int or (height, width); got {size!r}.")
    return out  # type: ignore[return-value]


class Transform:
    """A batched transform: ``sample_params(shapes, rng)`` on the host, then ``apply`` on a backend."""

    def sample_params(self, shapes: np.ndarray, rng: np.random.Generator) -> Any:
        """Parameters for a batch whose images have (height, width) ``shapes``; None if fixed."""
        return None

    def apply(self, batch: Any, params: Any, backend: CPUBackend | CUDABackend) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _ResizedCrop(Transform):
    """Crop a box of each image and resize it bilinearly to ``size``; output NHWC float32."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size)

    def apply(self, batch: Any, params: Any, backend: CPUBackend | CUDABackend,
              flips: np.ndarray | None = None) -> Any:
        return backend.ops.resized_crop(batch, params, flips, self.size)


class RandomResizedCrop(_ResizedCrop):
    """torchvision's ``RandomResizedCrop`` (bilinear, no antialiasing) on a batch of HWC uint8
    images of any sizes -> NHWC float32 in [0, 255]; boxes from ``params.resized_crop_boxes``."""

    def __init__(self, size: int | Sequence[int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> None:
        super().__init__(size)
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1]; got {scale}, {ratio}.")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def sample_params(self, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return P.resized_crop_boxes(shapes, rng, self.scale, self.ratio)


class ResizeCenterCrop(_ResizedCrop):
    """The deterministic evaluation crop: ``Resize(resize)`` of the shorter side then
    ``CenterCrop(size)``, done as one bilinear resample (``resize`` defaults to size / 0.875)."""

    def __init__(self, size: int | Sequence[int], resize: int | None = None) -> None:
        super().__init__(size)
        self.resize = resize

    def sample_params(self, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return P.center_crop_boxes(shapes, self.size, self.resize)


class RandomFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1]; got {p}.")
        self.p = p

    def sample_params(self, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return P.flip_flags(len(shapes), rng, self.p)

    def apply(self, batch: Any, params: Any, backend: CPUBackend | CUDABackend) -> Any:
        return backend.ops.flip(backend.dense(batch), params)


class ColorJitter(Transform):
    """Brightness then contrast jitter, factors uniform in ``[max(0, 1 - x), 1 + x]`` per image
    (torchvision's formulas); NHWC in [0, 255] -> NHWC float32."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0) -> None:
        if brightness < 0 or contrast < 0:
            raise ValueError("brightness and contrast must be >= 0.")
        self.brightness, self.contrast = float(brightness), float(contrast)

    def sample_params(self, shapes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return P.jitter_factors(len(shapes), rng, self.brightness, self.contrast)

    def apply(self, batch: Any, params: Any, backend: CPUBackend | CUDABackend) -> Any:
        dense = backend.dense(batch)
        return backend.ops.color_jitter(dense.astype("float32", copy=False), *params)


class Normalize(Transform):
    """``(x / 255 - mean[c]) / std[c]``, NHWC uint8/float32 -> NCHW float32 (fused kernel)."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        self.mean, self.std = tuple(float(m) for m in np.atleast_1d(mean)), tuple(float(s) for s in np.atleast_1d(std))
        if min(self.std) <= 0:
            raise ValueError("std must be positive.")

    def apply(self, batch: Any, params: Any, backend: CPUBackend | CUDABackend) -> Any:
        return backend.ops.normalize(backend.dense(batch), self.mean, self.std)


class Compose:
    """Run ``transforms`` in order on one batch, on ``device`` (``"auto"``: the GPU when CuPy
    and a CUDA device are there, else the CPU with a ``GPUFallbackWarning``; resolved at first
    use, so a Compose handed to a loader, which runs a copy on its own device, never warns).

    Transform ``i`` draws from a generator seeded ``[seed, i]`` (``seed=None``: fresh entropy,
    kept in ``self.seed``). The generators live here, so apply a ``Compose`` where batches are
    made in order (the training process, after collation), or pass ``key``.
    ``output="torch"`` returns a torch tensor (on the device, no copy), ``"array"`` a NumPy or
    CuPy array. A crop directly followed by ``RandomFlip`` runs as one fused kernel (same result).
    """

    def __init__(self, transforms: Sequence[Transform], device: str = "auto", seed: int | None = None,
                 output: str = "torch") -> None:
        self.transforms = list(transforms)
        if not all(isinstance(t, Transform) for t in self.transforms):
            raise TypeError("Compose takes deeplake_nb.gpu transforms (RandomResizedCrop, RandomFlip, ...).")
        if any(isinstance(t, Normalize) for t in self.transforms[:-1]):
            raise ValueError("Normalize changes the layout to NCHW; it must be the last transform.")
        if output not in ("torch", "array"):
            raise ValueError(f"output must be 'torch' or 'array'; got {output!r}.")
        self.output = output
        self._device = None if device == "auto" else resolve(device, needs=("cupy",), what="dl.gpu.Compose")
        self._backend: CPUBackend | CUDABackend | None = None
        self.reseed(seed)

    @property
    def device(self) -> str:
        """``"cuda"`` or ``"cpu"`` (an ``"auto"`` request is resolved here, once)."""
        if self._device is None:
            self._device = resolve("auto", needs=("cupy",), what="dl.gpu.Compose")
        return self._device

    @property
    def backend(self) -> CPUBackend | CUDABackend:
        if self._backend is None or self._backend.name != self.device:
            self._backend = backend_for(self.device)
        return self._backend

    def reseed(self, seed: int | None) -> None:
        """Restart the generators from ``seed`` (None: fresh entropy). ``seed_given`` records
        whether a seed was chosen (a loader seeds an unseeded ``Compose`` from its own seed)."""
        self.seed_given = seed is not None
        self.seed = int(np.random.SeedSequence().entropy % 2 ** 63) if seed is None else int(seed)
        self._rngs = [np.random.default_rng([self.seed, i]) for i in range(len(self.transforms))]

    def sample_params(self, shapes: np.ndarray | Sequence[tuple[int, ...]],
                      key: Sequence[int] | None = None) -> list[Any]:
        """One parameter draw per transform for images of (height, width[, channels]) ``shapes``:
        from the running generators, or with ``key`` (e.g. ``(epoch, batch)``, non-negative ints)
        from generators seeded ``[seed, i, *key]``, independent of earlier draws."""
        hw = P.as_shapes(shapes)
        if key is None:
            rngs = self._rngs
        else:
            rngs = [np.random.default_rng([self.seed, i, *(int(k) for k in key)]) for i in range(len(self.transforms))]
        return [t.sample_params(hw, rng) for t, rng in zip(self.transforms, rngs)]

    def apply(self, images: Any, params: list[Any]) -> Any:
        """Apply the transforms with given ``params`` (from ``sample_params``). On the CPU the
        batch is split over ``cpu_parts`` threads (each image's result depends only on it and
        its own parameters, so the output is the same as in one piece)."""
        backend = self.backend
        with backend.stream():
            batch = backend.to_batch(images)
            parts = cpu_parts(batch) if backend.name == "cpu" else []
            if len(parts) > 1:
                batch = self._apply_parts(batch, params, backend, parts)
            else:
                batch = self._run(batch, params, backend)
            return backend.to_torch(batch) if self.output == "torch" else batch

    def _run(self, batch: Any, params: list[Any], backend: CPUBackend | CUDABackend) -> Any:
        i = 0
        while i < len(self.transforms):
            t = self.transforms[i]
            nxt = self.transforms[i + 1] if i + 1 < len(self.transforms) else None
            if isinstance(t, _ResizedCrop) and isinstance(nxt, RandomFlip):
                batch = t.apply(batch, params[i], backend, flips=params[i + 1])
                i += 2
                continue
            batch = t.apply(batch, params[i], backend)
            i += 1
        return backend.dense(batch) if not self.transforms else batch

    def _apply_parts(self, batch: Any, params: list[Any], backend: CPUBackend | CUDABackend,
                     parts: list[tuple[int, int]]) -> np.ndarray:
        """``_run`` on rows ``[lo, hi)`` of each part on the CPU pool, written into one array."""
        out: list[np.ndarray] = []
        lock = threading.Lock()

        def run(part: tuple[int, int]) -> None:
            lo, hi = part
            done = np.asarray(self._run(batch[lo:hi], [_rows(p, lo, hi) for p in params], backend))
            with lock:
                if not out:
                    out.append(np.empty((len(batch), *done.shape[1:]), done.dtype))
            out[0][lo:hi] = done  # the threads copy in parallel

        for future in [_cpu_pool().submit(run, part) for part in parts]:
            future.result()
        return out[0]

    def __call__(self, images: Any, key: Sequence[int] | None = None) -> Any:
        """Transform one batch: a list of HWC uint8 images (NumPy, torch or CuPy) or an NHWC
        array; ``key`` as in ``sample_params``."""
        if len(images) == 0:
            raise ValueError("Compose got an empty batch.")
        shapes = [tuple(img.shape) for img in images]
        return self.apply(images, self.sample_params(shapes, key))

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n], device={self.device!r})"


MIN_PART = 8
"""Fewest images a CPU thread gets from one batch (smaller parts cost more in hand-offs than
they gain)."""


def cpu_parts(batch: Any) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` splitting a CPU batch over the available cores: one range for a
    small batch, or one whose images differ in channel count (the output's channels are the
    batch's, so a part could come out with other channels than the rest)."""
    n = len(batch)
    count = min(available_cpus(), n // MIN_PART)
    if count < 2 or (isinstance(batch, list) and len({img.shape[2] for img in batch}) > 1):
        return [(0, n)]
    cuts = np.linspace(0, n, count + 1).astype(int).tolist()
    return list(zip(cuts[:-1], cuts[1:]))


def _rows(params: Any, lo: int, hi: int) -> Any:
    """Images ``[lo, hi)``'s share of one transform's parameters (per-image arrays, a tuple of
    them, or None for fixed parameters)."""
    if params is None:
        return None
    if isinstance(params, tuple):
        return tuple(_rows(p, lo, hi) for p in params)
    return np.asarray(params)[lo:hi]


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _cpu_pool() -> ThreadPoolExecutor:
    """This process's pool for CPU transforms (a forked child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(available_cpus(), thread_name_prefix="deeplake_nb-compose"))
        return _pool[1]
