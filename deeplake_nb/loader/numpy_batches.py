"""``NumpyBatches``: the loader's batches as NumPy, in the calling process, without torch.

``ds.numpy_batches()``, ``ds.jax()`` and ``ds.tensorflow()`` read through this class. It is the
same pipeline as ``ds.pytorch(num_workers=0)``: the epoch plan of ``sampler`` (seeded global or
chunk-aware shuffle, contiguous DDP shares, batch ``b`` a fixed slice of the share), coalesced
reads (``fetch``), decoding on a thread pool (``engine``; the decoders release the GIL) and
collation straight into one buffer per batch (``collate``). Only the last step differs: the
batch is a plain ``dict`` of NumPy arrays (lists for ragged tensors, str for text, objects for
json) that ``convert`` may turn into another framework's arrays (``jax``).

Contracts, shared with ``torch_loader.Loader``:
- the batches of ``(epoch, rank, num_replicas)`` depend only on the options, never on
  ``num_threads``; each batch is a fresh buffer the caller owns (no reuse), so zero-copy hand-offs
  (DLPack) are safe;
- ``state_dict()`` / ``load_state_dict()`` resume exactly at the next batch; the state is plain JSON
  and interchangeable with a ``Loader``'s planned the same way;
- sharding is explicit (``num_replicas``/``rank``): there is no process group to ask, so a
  shuffled, sharded loader needs a ``seed`` (or ``dl.random.seed``) every rank shares.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..core.seed import DeeplakeRandom
from ..errors import LoaderOptionError
from . import compat
from .collate import TensorDict
from .config import LoaderConfig
from .decode import check_method
from .engine import BatchEngine
from .fetch import rows_per_chunk
from .sampler import PlannedEpochs, Sampler
from .source import DatasetSource


def tensor_names(ds: Any, tensors: Sequence[str] | str | None, transform: Any) -> list[str]:
    """The tensors a loader reads: ``tensors``; else the keys of a dict transform; else all shown."""
    if tensors is not None:
        return [tensors] if isinstance(tensors, str) else list(tensors)
    if isinstance(transform, Mapping):
        return [k for k in transform if k != "index"]
    return list(ds.tensors)


def chunk_block(source: DatasetSource, shuffle: bool | str, shuffle_block: int | None) -> int:
    """Rows a chunk-aware shuffle keeps together: ``shuffle_block``, else the fewest rows per
    chunk among the tensors read; 1 for any other shuffle."""
    if shuffle != "chunks":
        return 1
    return shuffle_block or min(rows_per_chunk(source.store(n)) for n in source.names)


def planned_seed(seed: int | None, shuffle: bool | str, num_replicas: int) -> int:
    """The seed of the plan: ``seed``, else ``dl.random``'s, else a fresh one. Ranks of a shuffled,
    sharded loader must agree on it, and without a process group nothing can broadcast one:
    ``LoaderOptionError`` then."""
    if seed is None:
        seed = DeeplakeRandom().get_seed()
    if seed is not None:
        return int(seed)
    if shuffle and num_replicas > 1:
        raise LoaderOptionError(f"A shuffled loader sharded over {num_replicas} replicas needs one seed on every rank "
                                "(each rank plans the same permutation and takes its share); pass seed=... "
                                "or call deeplake_nb.random.seed(...) first.")
    return int.from_bytes(os.urandom(8), "little") >> 1


class NumpyBatches(PlannedEpochs):
    """An iterable of batches (one epoch per iteration) with a resumable position.

    Options as ``Dataset.pytorch``'s where they share a name; see ``Dataset.numpy_batches``."""

    def __init__(self, ds: Any, *, tensors: Sequence[str] | str | None = None, batch_size: int = 1,
                 shuffle: bool | str = False, seed: int | None = None, drop_last: bool = False,
                 transform: Callable | Mapping[str, Callable | None] | None = None,
                 decode_method: Mapping[str, str] | None = None, tobytes: bool | Sequence[str] = False,
                 return_index: bool = True, ignore_errors: bool = False, num_replicas: int = 1, rank: int = 0,
                 num_threads: int | None = None, shuffle_block: int | None = None, shuffle_window: int = 8,
                 fetch_batches: int | None = None, max_gap: int | None = None, progressbar: bool = False,
                 convert: Callable[[dict[str, Any]], Any] | None = None) -> None:
        names = tensor_names(ds, tensors, transform)
        for what, value in (("num_replicas", num_replicas), ("rank", rank)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise LoaderOptionError(f"{what} must be an int >= 0; got {value!r}.")
        if not 0 <= rank < max(num_replicas, 1) or num_replicas < 1:
            raise LoaderOptionError(f"rank {rank} is not in 0..{num_replicas - 1} (num_replicas={num_replicas}).")
        methods = compat.tobytes_methods(tobytes, names, decode_method)
        if "dali" in methods.values():
            raise LoaderOptionError("decode_method 'dali' runs in ds.pytorch()'s GPU batch stage; here use 'numpy' "
                                    "(decoded images) or 'tobytes' (the stored JPEG/PNG bytes).")
        self.source = DatasetSource(ds, names)
        self.config = LoaderConfig(
            tensors=self.source.names, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
            transform=transform, decode_method=methods, return_index=return_index, ignore_errors=ignore_errors,
            num_threads=num_threads, fetch_batches=fetch_batches, max_gap=max_gap, shuffle_block=shuffle_block,
            shuffle_window=shuffle_window)
        for name in self.source.names:
            check_method(name, self.source.meta(name), self.config.method(name))
        self._user_seed = seed
        self._sampler = Sampler(num_samples=len(self.source), batch_size=batch_size, shuffle=shuffle,
                                seed=planned_seed(seed, shuffle, num_replicas), drop_last=drop_last, rank=int(rank),
                                world_size=int(num_replicas), block=chunk_block(self.source, shuffle, shuffle_block),
                                window=shuffle_window if shuffle == "chunks" else 1)
        self._engine = BatchEngine(self.source, self.config, "numpy")
        self._convert = convert
        self.progressbar = bool(progressbar)
        self._epoch, self._batch, self._resume = 0, 0, False
        self.skipped: list[int] = []
        """Dataset indices of the samples left out because they could not be read (``ignore_errors``)."""

    # -- the plan ------------------------------------------------------------------------------------
    @property
    def num_replicas(self) -> int:
        return self._sampler.world_size

    @property
    def batch_size(self) -> int:
        return self._sampler.batch_size

    # -- iteration -----------------------------------------------------------------------------------
    def _iterate(self, epoch: int, start: int) -> Iterator[Any]:
        self.source.flush()
        plan = self._sampler.plan(epoch)
        stream = self._engine.run((b, plan.batch(b)) for b in plan.batch_ids(start))
        try:
            for bid, batch, skipped, _ in stream:
                self._batch = bid + 1
                self.skipped.extend(skipped)
                if isinstance(batch, TensorDict):
                    batch = dict(batch)
                yield batch if self._convert is None else self._convert(batch)
            self._epoch, self._batch = epoch + 1, 0
        finally:
            stream.close()

    def __repr__(self) -> str:
        s = self._sampler
        return (f"{type(self).__name__}(tensors={list(self.source.names)}, samples={s.num_samples}, "
                f"batch_size={s.batch_size}, shuffle={s.shuffle!r}, rank={s.rank}/{s.world_size})")
