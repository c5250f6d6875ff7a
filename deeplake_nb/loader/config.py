"""``LoaderConfig``: every option of a loader, validated once, immutable, picklable to workers.

Contract: a config fully determines the batches a loader produces for (epoch, rank, world size),
except for the sample values themselves; nothing in it depends on the number of workers.
``device`` and ``decode_method`` ``"dali"`` are carried out by the main-process batch stage
(``stage``); the engine reads a ``"dali"`` tensor like ``"tobytes"``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import LoaderError, LoaderOptionError

DECODE_METHODS = ("numpy", "pil", "tobytes", "data", "dali")
DEVICES = (None, "auto", "cuda", "cpu")


@dataclass(frozen=True)
class LoaderConfig:
    """Options shared by ``Loader`` and ``TorchDataset``; see ``Dataset.pytorch`` for their meaning."""

    tensors: tuple[str, ...]
    batch_size: int = 1
    shuffle: bool | str = False
    seed: int | None = None
    drop_last: bool = False
    transform: Callable[[Any], Any] | Mapping[str, Callable[[Any], Any] | None] | None = None
    decode_method: Mapping[str, str] = field(default_factory=dict)
    collate_fn: Callable[[list[Any]], Any] | None = None
    return_index: bool = True
    ignore_errors: bool = False
    num_threads: int | None = None
    fetch_batches: int | None = None  # (None: by the store, see engine.LOCAL_FETCH_BATCHES)
    decode_ahead: int = 2
    max_gap: int | None = None
    max_range: int = 16 << 20
    shuffle_block: int | None = None
    shuffle_window: int = 8
    device: str | None = None

    def __post_init__(self) -> None:
        if not self.tensors:
            raise LoaderOptionError("The loader has no tensors to read; pass tensors=[...] or create some first.")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise LoaderOptionError(f"batch_size must be a positive int; got {self.batch_size!r}.")
        if self.shuffle not in (True, False, "chunks"):
            raise LoaderOptionError(f"shuffle must be True, False or 'chunks'; got {self.shuffle!r}.")
        for name, method in self.decode_method.items():
            if method not in DECODE_METHODS:
                raise LoaderOptionError(f"decode_method for {name!r} must be one of {DECODE_METHODS}; got {method!r}.")
            if name not in self.tensors:
                raise LoaderOptionError(f"decode_method names {name!r}, which is not among the loaded tensors "
                                  f"{list(self.tensors)}.")
        if isinstance(self.transform, Mapping):
            unknown = [k for k in self.transform if k not in self.tensors and k != "index"]
            if unknown:
                raise LoaderOptionError(f"transform names tensors {unknown} that are not loaded; loaded: {list(self.tensors)}.")
            bad = [k for k, fn in self.transform.items() if fn is not None and not callable(fn)]
            if bad:
                raise LoaderOptionError(f"transform values must be callables or None; not for {bad}.")
            if "index" in self.transform and not self.return_index:
                raise LoaderOptionError("transform names 'index', but return_index=False leaves the index out of the "
                                        "samples; pass return_index=True, or drop 'index' from the transform.")
        elif self.transform is not None and not callable(self.transform):
            raise LoaderOptionError("transform must be a callable (whole sample) or a dict {tensor: callable or None}.")
        for name in ("fetch_batches", "decode_ahead", "shuffle_window", "max_range"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise LoaderOptionError(f"{name} must be >= 1.")
        if self.shuffle_block is not None and self.shuffle_block < 1:
            raise LoaderOptionError("shuffle_block must be >= 1 rows.")
        if self.num_threads is not None and self.num_threads < 1:
            raise LoaderOptionError("num_threads must be >= 1.")
        if self.device not in DEVICES:
            raise LoaderOptionError(f"device must be one of {DEVICES}; got {self.device!r}.")

    @property
    def index_in_sample(self) -> bool:
        """Whether each sample gets ``"index"`` (its dataset index as a (1,) int64 array), before the
        transforms: with ``return_index``, except that a dict transform keeps only what it names
        (Deep Lake v3), so it needs an ``"index"`` entry (``None`` or a callable) to keep it."""
        return self.return_index and (not isinstance(self.transform, Mapping) or "index" in self.transform)

    def method(self, name: str) -> str:
        return self.decode_method.get(name, "numpy")

    @property
    def dali_tensors(self) -> tuple[str, ...]:
        """Tensors decoded by the batch stage's DALI pipeline (``decode_method`` ``"dali"``)."""
        return tuple(n for n in self.tensors if self.method(n) == "dali")


def distributed_share(distributed: bool | None, rank: Any, world_size: Any) -> tuple[int, int]:
    """A torch loader's (rank, world size): the ones given; else torch.distributed's when
    ``distributed`` is True, or None and a process group is initialized (Deep Lake v3 shards
    then); else one share of everything. ``LoaderOptionError`` for a rank or world size that is
    no int, or a world size below 1; ``LoaderError`` for ``distributed=True`` without a process
    group. torch is not imported here: a process that has not imported torch.distributed has no
    process group (so the disk cache's choice, made before torch's import, follows the same rule)."""
    for name, value in (("rank", rank), ("world_size", world_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise LoaderOptionError(f"{name} must be an int; got {value!r}.")
    if world_size is not None and world_size < 1:
        raise LoaderOptionError(f"world_size must be at least 1; got {world_size!r}.")
    if rank is not None and world_size is not None:
        return int(rank), int(world_size)
    dist = sys.modules.get("torch.distributed")
    initialized = dist is not None and dist.is_available() and dist.is_initialized()
    if distributed and not initialized:
        raise LoaderError("distributed=True reads the rank and world size from torch.distributed; call "
                          "torch.distributed.init_process_group(...) first (or pass rank= and world_size=).")
    if dist is not None and initialized and distributed is not False:
        return int(dist.get_rank()), int(dist.get_world_size())
    return rank or 0, world_size or 1
