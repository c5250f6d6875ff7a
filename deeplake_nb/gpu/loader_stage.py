"""``DeviceStage``: the loader's batch stage (see ``loader.stage`` for the hand-off) for
``decode_method`` ``"dali"``, batched ``dl.gpu`` transforms and ``device``. It runs in the main
process, once per batch, in the loader's order.

What the ``ds.pytorch`` options mean here:

- ``decode_method={"images": "dali"}``: the engine (threads or workers) hands over the stored
  bytes; ONE ``DaliImagePipeline`` per such tensor, built with the loader, turns each batch's list
  of bytes into images: ``mixed`` decoding on a GPU, the same pipeline on the CPU without one;
- a ``dl.gpu.Compose`` is a batch transform: ``transform={"images": Compose}`` for one tensor, or
  ``transform=Compose`` for every ``"dali"`` tensor. When DALI can do all of it
  (``DaliImagePipeline.expressible``: RandomResizedCrop or ResizeCenterCrop, optional RandomFlip,
  Normalize) the pipeline is built from its steps and parameters and does everything; otherwise
  DALI only decodes and a copy of the Compose runs on the batch, on the loader's device (CuPy
  kernels on ``"cuda"``, NumPy twins on ``"cpu"``). A Compose on a tensor decoded on the CPU
  (``"numpy"``) runs on its collated batch the same way. Plain per-sample callables are refused
  for ``"dali"`` tensors (they would see bytes);
- outputs: a Compose's output ((N, 3, H, W) float32 after Normalize); a ``"dali"`` tensor
  without a transform gives uint8 RGB images, one (N, H, W, 3) tensor when all have one shape,
  else a list of (H, W, 3) tensors (the layout of ``"numpy"``, but always 3 channels);
- ``device``: None or ``"cpu"``: every tensor on the host (DALI's CPU operators, NumPy twins);
  ``"cuda"``: every tensor of the batch on the current GPU (the others copied with
  ``non_blocking=True``), ``GPUUnavailableError`` at construction without a usable GPU;
  ``"auto"``: ``"cuda"`` when usable, else ``"cpu"`` with a ``GPUFallbackWarning``.

Randomness: a Compose made with a seed keeps it, an unseeded one takes the loader's seed; batch
``b`` of ``epoch`` on ``rank`` draws its crops and flips from ``[seed, step, epoch, rank, b]``
(``key``), so it is augmented the same way after a resume and for any ``num_workers``, and the
CPU path (``Compose(steps, device="cpu", seed=seed)(images, key=key)``) reproduces it.

Unreadable samples: when DALI rejects a batch, its samples are checked on the CPU (header, then
a full decode) to find the culprits: ``CorruptSampleError`` naming the dataset index, or with
``ignore_errors`` those rows leave every tensor of the batch and are reported as dropped. Like
libjpeg, DALI's CPU decoder tolerates some damage (garbage entropy-coded data decodes to garbage
pixels, with a warning on stderr); such samples are not caught.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ..errors import (CorruptSampleError, GPUError, GPUFallbackWarning, GPUUnavailableError, LoaderError,
                      MissingDependencyError, TransformError)
from ..format import compression
from ..loader.config import LoaderConfig
from ..loader.engine import available_cpus
from .dali import DaliImagePipeline
from .device import current_device_id, resolve, torch_cuda_available, user_stacklevel
from .transforms import Compose

if TYPE_CHECKING:
    from ..loader.source import DatasetSource


@dataclass
class _Plan:
    """How one tensor of the batch is made: DALI (decode, or everything) and/or a Compose."""

    name: str
    pipe: Any = None               # DaliImagePipeline for a "dali" tensor
    full: bool = False             # the pipeline does the whole Compose
    compose: Compose | None = None  # runs on the decoded batch
    fixed_seed: int | None = None  # the user's Compose seed; None: the loader's seed


class _Unreadable(Exception):
    """Samples (batch positions, with the CPU decoder's message) that DALI could not read."""

    def __init__(self, name: str, bad: list[tuple[int, str]]) -> None:
        super().__init__(name)
        self.name, self.bad = name, bad


def make_stage(config: LoaderConfig, source: DatasetSource, output: str) -> DeviceStage | None:
    """The registered ``loader.stage`` factory: validate the options and build the stage (its
    DALI pipelines included), or None when the loader needs none."""
    composes, sample_transform = _split_transform(config)
    dali = config.dali_tensors
    if not dali and not composes and config.device is None:
        return None
    if output != "torch":
        raise LoaderError("device=, decode_method 'dali' and dl.gpu transforms give torch tensors; use ds.pytorch() "
                          "or builder.pytorch(), not output='numpy'.")
    planned = [n for n in config.tensors if n in dali or n in composes]
    if planned and config.collate_fn is not None:
        raise LoaderError("decode_method 'dali' and dl.gpu transforms work on the loader's own collated batches; "
                          "drop collate_fn, or decode with 'numpy' and call the Compose in your collate_fn.")
    for name in composes:
        meta = source.meta(name)
        if not meta.base_htype.startswith("image"):
            raise LoaderError(f"dl.gpu transforms are batched image transforms; {name!r} is {meta.htype_name!r}. "
                              "Pass a per-sample callable (or None) for it.")
    full = {n: n in dali and DaliImagePipeline.expressible(composes[n].transforms) for n in composes}
    needs = ("torch",) + (("nvidia.dali",) if dali else ()) + (("cupy",) if not all(full.values()) else ())
    device = _device(config.device, needs)
    threads = config.num_threads or available_cpus()
    plans = []
    for name in planned:
        user = composes.get(name)
        fixed = user.seed if user is not None and getattr(user, "seed_given", True) else None
        seed = 0 if fixed is None else fixed            # the loader's seed replaces it at the first batch
        plan = _Plan(name, fixed_seed=fixed)
        if name in dali and full.get(name) and user is not None:
            plan.pipe = DaliImagePipeline.from_transforms(user.transforms, config.batch_size, device=device,
                                                          seed=seed, num_threads=threads)
            plan.full = True
        elif name in dali:
            plan.pipe = DaliImagePipeline(config.batch_size, device=device, num_threads=threads)
        if user is not None and not plan.full:
            plan.compose = Compose(copy.deepcopy(user.transforms), device=device, seed=seed)
        plans.append(plan)
    return DeviceStage(plans, sample_transform, device, config.ignore_errors, config.return_index)


def _split_transform(config: LoaderConfig) -> tuple[dict[str, Compose], Any]:
    """(``{tensor: Compose}`` the stage runs, the transform left for the engine)."""
    transform, dali = config.transform, config.dali_tensors
    if isinstance(transform, Compose):
        if not dali:
            raise LoaderError("transform=dl.gpu.Compose(...) is a batch transform of the tensors read with "
                              "decode_method 'dali', and there are none: pass decode_method={'images': 'dali'}, or "
                              "transform={'images': dl.gpu.Compose([...])}.")
        return {n: transform for n in dali}, None
    if isinstance(transform, Mapping):
        composes = {n: f for n, f in transform.items() if isinstance(f, Compose)}
        plain = [n for n in dali if transform.get(n) is not None and n not in composes]
        if plain:
            raise LoaderError(f"Tensors {plain} are read with decode_method 'dali', decoded per batch in the main "
                              "process: a per-sample transform cannot run on them. Use dl.gpu transforms, e.g. "
                              f"transform={{{plain[0]!r}: dl.gpu.Compose([dl.gpu.RandomResizedCrop(224), "
                              "dl.gpu.RandomFlip(), dl.gpu.Normalize()])}.")
        return composes, {n: f for n, f in transform.items() if n not in composes}
    if transform is not None and dali:
        raise LoaderError(f"A per-sample transform of the whole sample cannot see tensors {list(dali)}, which are "
                          "read with decode_method 'dali' and decoded per batch. Use transform=dl.gpu.Compose([...]) "
                          "for them, or a dict {tensor: callable} for the other tensors.")
    return {}, transform


def _device(requested: str | None, needs: tuple[str, ...]) -> str:
    """The stage's device: None -> "cpu"; "cuda" | "auto" also need a CUDA build of torch."""
    if requested is None:
        return "cpu"
    device = resolve(requested, needs=needs, what="ds.pytorch(device=...)", )
    if device == "cuda" and not torch_cuda_available():
        reason = "torch cannot use it (a CPU-only build of torch?)"
        if requested == "cuda":
            raise GPUUnavailableError(f'device="cuda" was asked for the loader, but {reason}. Install a CUDA build of '
                                      'torch, or pass device="auto" / device="cpu".')
        warnings.warn(f"ds.pytorch(device=...) runs on the CPU: a CUDA device is visible but {reason}.",
                      GPUFallbackWarning, stacklevel=user_stacklevel())
        device = "cpu"
    return device


class DeviceStage:
    """See the module docstring; made by ``make_stage``, called by ``Loader`` for every batch."""

    def __init__(self, plans: list[_Plan], sample_transform: Any, device: str, ignore_errors: bool,
                 return_index: bool) -> None:
        self.plans, self.sample_transform, self.device = plans, sample_transform, device
        self.ignore_errors, self.return_index = ignore_errors, return_index
        self.needs_index = bool(plans)      # the batch rows name the culprits of a failed DALI batch
        self.on_device = device == "cuda"
        self._seed: int | None = None

    def __call__(self, batch: Any, *, seed: int, key: tuple[int, ...]) -> tuple[Any, list[int]]:
        """The finished batch (see the module docstring) and the dataset indices dropped from it."""
        if not self.plans:
            return self._move(batch), []
        self._reseed(seed)
        dropped: list[int] = []
        while True:
            rows = [int(i) for i in batch["index"]]
            if not rows:
                made = {p.name: self._empty(p) for p in self.plans}
                break
            try:
                made = {p.name: self._make(p, batch[p.name], rows, key) for p in self.plans}
                break
            except _Unreadable as bad:
                position, message = bad.bad[0]
                if not self.ignore_errors:
                    more = f" ({len(bad.bad) - 1} more in this batch)" if len(bad.bad) > 1 else ""
                    raise CorruptSampleError(f"Tensor {bad.name!r}, sample index {rows[position]}: {message}{more} "
                                             "Pass ignore_errors=True to skip unreadable samples.") from None
                positions = [p for p, _ in bad.bad]
                dropped.extend(rows[p] for p in positions)
                batch = _drop_rows(batch, positions, len(rows))
        out = {}
        for name, value in batch.items():
            if name == "index" and not self.return_index:
                continue
            out[name] = made[name] if name in made else self._move(value)
        return out, dropped

    def _reseed(self, seed: int) -> None:
        if seed == self._seed:
            return
        for plan in self.plans:
            if plan.fixed_seed is None:
                if plan.full:
                    plan.pipe.reseed(seed)
                elif plan.compose is not None:
                    plan.compose.reseed(seed)
        self._seed = seed

    def _make(self, plan: _Plan, values: Any, rows: list[int], key: tuple[int, ...]) -> Any:
        if plan.pipe is not None:
            try:
                if plan.full:
                    return plan.pipe.run(values, key=key)
                images = plan.pipe.decode_torch(values)
            except (GPUError, CorruptSampleError) as exc:
                if isinstance(exc, MissingDependencyError):
                    raise
                bad = _unreadable(values)
                if not bad:
                    raise
                raise _Unreadable(plan.name, bad) from exc
        else:
            images = values
        if plan.compose is None:
            return images
        try:
            return plan.compose(images, key=key)
        except Exception as exc:
            shown = ", ".join(map(str, rows[:8])) + (", ..." if len(rows) > 8 else "")
            raise TransformError(f"The dl.gpu transform of tensor {plan.name!r} raised on the batch of dataset "
                                 f"indices [{shown}]: {type(exc).__name__}: {exc}") from exc

    def _empty(self, plan: _Plan) -> Any:
        """What a plan gives for a batch whose every row was dropped."""
        if plan.full:
            import torch

            return torch.empty((0, 3, *plan.pipe.size), dtype=torch.float32, device=self._torch_device())
        return []

    def _torch_device(self) -> Any:
        import torch

        return torch.device("cuda", current_device_id()) if self.on_device else torch.device("cpu")

    def _move(self, value: Any) -> Any:
        """``value`` (a tensor, or a dict / list / tuple of them) on the stage's device."""
        if not self.on_device:
            return value
        import torch

        if isinstance(value, torch.Tensor):
            return value.to(self._torch_device(), non_blocking=True)
        if isinstance(value, dict):
            return {k: self._move(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._move(v) for v in value)
        return value

    def __repr__(self) -> str:
        parts = [f"{p.name}: {'DALI ' + ('decode+transform' if p.full else 'decode') if p.pipe else 'CPU decode'}"
                 f"{' + Compose' if p.compose is not None else ''}" for p in self.plans]
        return f"DeviceStage(device={self.device!r}, {', '.join(parts) or 'move only'})"


def _unreadable(values: list[Any]) -> list[tuple[int, str]]:
    """Positions (and messages) of the samples the CPU decoders reject: header, then a full decode."""
    bad = []
    for i, value in enumerate(values):
        data = bytes(value)
        fmt = compression.sniff(data[:12])
        try:
            if fmt is None:
                raise CorruptSampleError("The stored bytes are not a JPEG or PNG file.")
            compression.header_shape(data, fmt)
            compression.decode(data, fmt)
        except CorruptSampleError as exc:
            bad.append((i, str(exc)))
    return bad


def _drop_rows(batch: dict[str, Any], positions: list[int], n: int) -> dict[str, Any]:
    """``batch`` without rows ``positions`` in every tensor (tensors and per-row lists)."""
    import torch

    keep = np.ones(n, bool)
    keep[positions] = False
    out: dict[str, Any] = {}
    for name, value in batch.items():
        if isinstance(value, torch.Tensor) and value.ndim and len(value) == n:
            out[name] = value[torch.from_numpy(keep)]
        elif isinstance(value, list) and len(value) == n:
            out[name] = [v for v, k in zip(value, keep) if k]
        else:
            out[name] = value
    return out
