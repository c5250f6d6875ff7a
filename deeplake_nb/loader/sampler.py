"""Order, shard and resume: which rows each batch holds, decided before anything is read.

Contracts:
- ``epoch_order`` is a pure function of (n, shuffle mode, seed, epoch, block, window): the same on
  every rank and in every process, whatever the number of workers;
- ``shuffle=True`` is a uniform random permutation per epoch, seeded by ``(seed, epoch)``;
- ``shuffle="chunks"`` permutes blocks of ``block`` consecutive rows, then permutes rows inside
  each run of ``window`` consecutive (permuted) blocks: a batch draws from ``window`` random
  blocks instead of the whole dataset, and the reader touches ``window`` regions at a time.
  ``block=1`` is a full permutation; bigger blocks and smaller windows mean fewer, longer reads;
- ``shard`` gives every rank a contiguous share of the order, all shares of one length
  ``n // world_size``: disjoint, and covering the epoch when ``world_size`` divides ``n``;
  otherwise the last ``n % world_size`` rows of the order are left out (Deep Lake v3's
  distributed loader; with ``shuffle`` they are other rows every epoch);
- batch ``b`` of a rank is ``share[b*batch_size:(b+1)*batch_size]``; worker ``w`` of ``W`` makes
  batches ``start+w, start+w+W, ...`` and the loader re-interleaves them, so the stream of
  batches is independent of the number of workers, and resuming at batch ``k`` is exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import LoaderStateError


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch)]))


def epoch_order(n: int, *, shuffle: bool | str, seed: int, epoch: int, block: int = 1,
                window: int = 1) -> np.ndarray:
    """Positions ``0..n-1`` in the order of one epoch."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    rng = epoch_rng(seed, epoch)
    if shuffle is True or block <= 1:
        return rng.permutation(n).astype(np.int64)
    starts = rng.permutation(np.arange(0, n, block, dtype=np.int64))
    pieces = []
    for g in range(0, len(starts), window):
        rows = np.concatenate([np.arange(s, min(s + block, n), dtype=np.int64) for s in starts[g:g + window]])
        pieces.append(rng.permutation(rows))
    return np.concatenate(pieces) if pieces else np.empty(0, np.int64)


def shard(order: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s share of ``order`` (see the module contract)."""
    per = len(order) // world_size
    return order[rank * per:(rank + 1) * per]


@dataclass(frozen=True)
class EpochPlan:
    """This rank's positions for one epoch, cut into batches."""

    epoch: int
    positions: np.ndarray
    batch_size: int
    drop_last: bool

    def __len__(self) -> int:
        n = len(self.positions)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batch(self, b: int) -> np.ndarray:
        return self.positions[b * self.batch_size:(b + 1) * self.batch_size]

    def batch_ids(self, start: int = 0, worker: int = 0, num_workers: int = 1) -> range:
        """Batches a worker makes when the epoch resumes at batch ``start``."""
        return range(start + worker, len(self), num_workers)


@dataclass(frozen=True)
class Sampler:
    """Plans epochs for one rank. ``seed`` is fixed (a random one is drawn when the user gives none)."""

    num_samples: int
    batch_size: int
    shuffle: bool | str
    seed: int
    drop_last: bool = False
    rank: int = 0
    world_size: int = 1
    block: int = 1
    window: int = 1

    def plan(self, epoch: int) -> EpochPlan:
        order = epoch_order(self.num_samples, shuffle=self.shuffle, seed=self.seed, epoch=epoch,
                            block=self.block, window=self.window)
        share = shard(order, self.rank, self.world_size)
        return EpochPlan(epoch, share, self.batch_size, self.drop_last)

    def batches_per_epoch(self) -> int:
        per = self.num_samples // self.world_size
        return per // self.batch_size if self.drop_last else -(-per // self.batch_size)


@dataclass(frozen=True)
class ResumeState:
    """Where a loader stands: the next batch to yield is batch ``batch`` of epoch ``epoch``.

    ``to_dict`` is plain JSON; ``check`` refuses a state planned for another sampler."""

    epoch: int
    batch: int
    sampler: Sampler

    VERSION = 1

    def to_dict(self) -> dict:
        return {"version": self.VERSION, "epoch": self.epoch, "batch": self.batch,
                "sampler": {k: (v if not isinstance(v, np.integer) else int(v)) for k, v in asdict(self.sampler).items()}}

    @classmethod
    def from_dict(cls, data: dict, current: Sampler, adopt_seed: bool) -> ResumeState:
        try:
            if data["version"] != cls.VERSION:
                raise LoaderStateError(f"Loader state version {data['version']} is not {cls.VERSION}.")
            saved = Sampler(**data["sampler"])
            epoch, batch = int(data["epoch"]), int(data["batch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LoaderStateError(f"Not a loader state_dict ({exc!r}); pass what loader.state_dict() returned.") from None
        if adopt_seed:
            current = Sampler(**{**asdict(current), "seed": saved.seed})
        if saved != current:
            diff = {k: (v, getattr(current, k)) for k, v in asdict(saved).items() if getattr(current, k) != v}
            raise LoaderStateError(
                "The state_dict was saved by a loader planned differently (saved, now): "
                + ", ".join(f"{k}={a!r} vs {b!r}" for k, (a, b) in diff.items())
                + ". Create the loader with the same dataset, tensors view, batch_size, shuffle, seed, "
                  "drop_last and world size.")
        if batch < 0 or epoch < 0:
            raise LoaderStateError("A loader state has a negative epoch or batch.")
        return cls(epoch, batch, current)


class PlannedEpochs:
    """The epoch position and resume state every loader shares (``torch_loader.Loader``,
    ``numpy_batches.NumpyBatches``), over the ``Sampler`` it plans with.

    A subclass sets ``_sampler``, ``_user_seed`` (the ``seed`` the user gave, or None),
    ``_epoch``, ``_batch``, ``_resume`` and ``source`` (whose ``rows`` map plan positions to
    dataset indices); the iteration advances ``_batch`` and ``_epoch``."""

    _sampler: Sampler
    _user_seed: int | None
    _epoch: int
    _batch: int
    _resume: bool
    source: Any
    progressbar: bool

    def _iterate(self, epoch: int, start: int) -> Iterator[Any]:
        """The batches of ``epoch`` from batch ``start`` on (each loader's own pipeline)."""
        raise NotImplementedError

    @property
    def seed(self) -> int:
        return self._sampler.seed

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def rank(self) -> int:
        return self._sampler.rank

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return self._sampler.batches_per_epoch()

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at the beginning of ``epoch`` (the DistributedSampler idiom)."""
        self._epoch, self._batch, self._resume = int(epoch), 0, False

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The dataset indices this rank reads in ``epoch`` (before any skipped samples), in order."""
        plan = self._sampler.plan(self._epoch if epoch is None else epoch)
        return self.source.rows[plan.positions[:len(plan) * plan.batch_size]]

    def state_dict(self) -> dict[str, Any]:
        """Where the iteration stands (plain JSON): the next batch is batch ``batch`` of ``epoch``;
        interchangeable between loaders planned the same way."""
        return ResumeState(self._epoch, self._batch, self._sampler).to_dict()

    def __iter__(self) -> Iterator[Any]:
        """One epoch: the rest of a resumed one, else the next (a new iteration after one left
        mid-epoch starts the following epoch), under a tqdm bar with ``progressbar``."""
        if self._batch and not self._resume:  # the last iteration was left mid-epoch: that epoch is over
            self._epoch, self._batch = self._epoch + 1, 0
        if self._batch >= len(self):
            self._epoch, self._batch = self._epoch + 1, 0
        self._resume = False
        batches = self._iterate(self._epoch, self._batch)
        if self.progressbar:
            from .compat import with_progress

            return with_progress(batches, len(self) - self._batch, f"epoch {self._epoch}")
        return batches

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken, in this or another process. A loader made
        without ``seed`` takes the saved one; everything else must match (``LoaderStateError``)."""
        resume = ResumeState.from_dict(dict(state), self._sampler, adopt_seed=self._user_seed is None)
        self._sampler = resume.sampler
        self._epoch, self._batch, self._resume = resume.epoch, resume.batch, True
