"""PyTorch front ends: ``Loader`` (``ds.pytorch()``) and ``TorchDataset`` (``ds.torch_dataset()``).

``Loader`` is an iterable of whole batches with a resumable position. With ``num_workers=0`` the
engine runs in the calling process (threads only). With workers it runs inside a stock
``torch.utils.data.DataLoader`` over ``_BatchStream``: worker ``w`` of ``W`` makes batches
``w, w+W, ...`` of the epoch plan, and the DataLoader's in-order round robin re-interleaves them,
so the output never depends on ``W``. The DataLoader does what it does well: start, feed and stop
workers (``break``, KeyboardInterrupt, persistent workers), re-raise worker exceptions in the
main process, pin memory. The epoch, start batch and seed reach (persistent) workers through a
small shared array written before each epoch starts. Workers write batches into reusable
shared-memory slots (``slots.SlotRing``) instead of fresh shared memory per batch. Workers that
come from a fork server (asked for, or link tensors read through obstore) are bridged (``warmup``): the engine
makes the first batches in this process until the server is ready and, once it is, the few
batches the new workers need to start up in, and the workers start at the batch after those.

``device``, ``decode_method`` ``"dali"`` and ``dl.gpu`` batch transforms are done by a batch stage
(``stage``) in the main process, on each batch as it arrives in order, with the key
``(epoch, rank, batch_id)``: what the workers make does not change, only what the user gets.

``TorchDataset`` is a map-style dataset for a plain ``DataLoader``; its ``__getitems__`` fetches
and decodes a whole batch of indices at once (coalesced reads, thread pool).
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Sequence

import cloudpickle
import numpy as np
import torch
import torch.utils.data as tud

from ..core.seed import DeeplakeRandom
from ..errors import CorruptSampleError, LoaderError, LoaderOptionError
from ..storage.url import is_memory
from . import compat
from .collate import TensorDict, pin
from .config import LoaderConfig, distributed_share
from .decode import check_method
from .engine import BatchEngine, available_cpus
from .numpy_batches import chunk_block, tensor_names
from .sampler import PlannedEpochs, Sampler
from .slots import SlotRing
from .source import DatasetSource
from .stage import BatchStage, run_ahead, stage_for
from .warmup import LEAD_PER_WORKER, BridgedStream, ServerReady, start_method, start_server, worker_method

_EPOCH, _START, _SEED = 0, 1, 2


def _passthrough(item: Any) -> Any:
    return item


class _BatchStream(tud.IterableDataset):
    """Worker side of ``Loader``: this worker's batches of the epoch named in ``control``,
    written into the worker's slots of ``ring`` when there is one."""

    def __init__(self, engine: BatchEngine, sampler: Sampler, control: Any, ring: SlotRing | None,
                 lookahead: bool = True) -> None:
        self.engine, self.sampler, self.control, self.ring = engine, sampler, control, ring
        self.lookahead = lookahead  # BatchEngine.run's: False when the DataLoader queues 2+ tasks per worker

    def __getstate__(self) -> dict[str, Any]:
        """For spawn and forkserver workers: the engine (with the user's transform and
        collate_fn) by value through cloudpickle, so lambdas and notebook functions reach them as
        they reach forked workers; the shared control array and slots through multiprocessing."""
        return {**self.__dict__, "engine": cloudpickle.dumps(self.engine)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, engine=cloudpickle.loads(state["engine"]))

    def __iter__(self) -> Iterator[tuple[int, Any, list[int], Any]]:
        info = tud.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        sampler = replace(self.sampler, seed=int(self.control[_SEED]))
        plan = sampler.plan(int(self.control[_EPOCH]))
        ids = plan.batch_ids(int(self.control[_START]), worker, workers)
        ring = self.ring if info is not None else None
        return self.engine.run(((b, plan.batch(b)) for b in ids), shared=info is not None, ring=ring, worker=worker,
                               lookahead=self.lookahead or info is None)


def _shared_seed(seed: int | None, shuffle: bool | str, world_size: int) -> int:
    """The loader's seed: the one given, else ``dl.random``'s, else a fresh one, the same on every
    rank of a shuffled, sharded loader (rank 0's, broadcast: every rank must make the loader)."""
    if seed is None:
        seed = DeeplakeRandom().get_seed()
    if seed is not None:
        return int(seed)
    fresh = int.from_bytes(os.urandom(8), "little") >> 1
    if shuffle and world_size > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            box = [fresh]
            dist.broadcast_object_list(box, src=0)  # every rank must shuffle the same way
            fresh = int(box[0])
    return fresh


def _worker_context(source: DatasetSource, num_workers: int, context: Any) -> Any:
    """The multiprocessing context the workers of ``source`` start with: ``context`` (None: the
    platform's default), or "forkserver" where ``warmup.worker_method`` says so; a fork server
    is started here (``warmup.start_server``; ``ds.pytorch`` may have started it already), so its
    imports overlap whatever the caller does before the first epoch. ``LoaderError`` for an
    in-memory dataset and workers that are not forked: it exists only in this process and the
    forked copies of it."""
    url = source.url
    if not num_workers:
        return context
    method = start_method(context)
    if is_memory(url) and method != "fork":
        raise LoaderError(f"{url!r} lives in this process's memory, which {num_workers} {method!r} worker processes "
                          "cannot see; use num_workers=0 (threads), multiprocessing_context='fork', or a dataset "
                          "on disk.")
    links = any(source.meta(name).link for name in source.names)
    if worker_method(url, context, links) != method:
        context, method = multiprocessing.get_context("forkserver"), "forkserver"
    if method == "forkserver":
        start_server()
    return context


def _engine_config(config: LoaderConfig, stage: BatchStage) -> LoaderConfig:
    """What the engine does under a batch stage: the per-sample part of the transform, and
    ``"index"`` in every sample when the stage needs the rows (it removes it again)."""
    transform = stage.sample_transform
    if not stage.needs_index:
        return replace(config, transform=transform)
    if isinstance(transform, Mapping) and "index" not in transform:
        transform = {**transform, "index": None}
    return replace(config, transform=transform, return_index=True)


class Loader(PlannedEpochs):
    """Batches of a dataset for PyTorch; see ``Dataset.pytorch`` for the options."""

    def __init__(self, ds: Any, *, tensors: Sequence[str] | None = None, batch_size: int | None = 1,
                 shuffle: bool | str = False, seed: int | None = None, num_workers: int = 0,
                 transform: Callable | Mapping[str, Callable | None] | None = None,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 decode_method: Mapping[str, str] | None = None, return_index: bool = True,
                 ignore_errors: bool = False, persistent_workers: bool = False, prefetch_factor: int | None = 2,
                 distributed: bool | None = None, rank: int | None = None, world_size: int | None = None,
                 num_threads: int | None = None, shuffle_block: int | None = None, shuffle_window: int = 8,
                 fetch_batches: int | None = None, max_gap: int | None = None,
                 multiprocessing_context: Any = None, timeout: float = 0, output: str = "torch",
                 device: str | None = None, buffer_size: int = 2048, progressbar: bool = False, transform_kwargs: Mapping[str, Any] | None = None,
                 tobytes: bool | Sequence[str] = False) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise LoaderOptionError(f"num_workers must be an int >= 0; got {num_workers!r}.")
        if output not in ("torch", "numpy"):
            raise LoaderOptionError(f"output must be 'torch' or 'numpy'; got {output!r}.")
        compat.check_buffer_size(buffer_size)
        transform = compat.bind_kwargs(transform, transform_kwargs)
        self.unbatched = batch_size is None
        """``batch_size=None``: each item is one sample, without a batch dimension (see ``compat``)."""
        self._collates = collate_fn is not None
        if self.unbatched:
            batch_size, drop_last = 1, False
            collate_fn = compat.EachSample(collate_fn) if collate_fn is not None else None
        self.progressbar = bool(progressbar)
        names = tensor_names(ds, tensors, transform)
        self.source = DatasetSource(ds, names)
        self.config = LoaderConfig(
            tensors=self.source.names, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
            transform=transform, decode_method=compat.tobytes_methods(tobytes, self.source.names, decode_method),
            collate_fn=collate_fn,
            return_index=return_index, ignore_errors=ignore_errors, num_threads=num_threads,
            fetch_batches=fetch_batches, max_gap=max_gap, shuffle_block=shuffle_block, shuffle_window=shuffle_window,
            device=device)
        for name in self.source.names:  # here, not first in a worker
            check_method(name, self.source.meta(name), self.config.method(name))
        multiprocessing_context = _worker_context(self.source, num_workers, multiprocessing_context)
        # workers from a fork server that is still starting: the first batches are made here meanwhile
        self._server_ready = ServerReady() if num_workers and start_method(multiprocessing_context) == "forkserver" \
            else None
        # the stage keeps "index" in the batch only where the user's samples have it
        self._stage = stage_for(replace(self.config, return_index=self.config.index_in_sample), self.source, output)
        if self._stage is not None:
            self.config = _engine_config(self.config, self._stage)
        self.num_workers = num_workers
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        self.persistent_workers = persistent_workers and num_workers > 0
        self.prefetch_factor = prefetch_factor if num_workers > 0 else None
        self.multiprocessing_context = multiprocessing_context
        self.timeout = timeout
        self._user_seed = seed
        rank_, world = distributed_share(distributed, rank, world_size)
        if not 0 <= rank_ < world:
            raise LoaderError(f"rank {rank_} is not in 0..{world - 1}.")
        self._sampler = Sampler(num_samples=len(self.source), batch_size=batch_size, shuffle=shuffle,
                                seed=_shared_seed(seed, shuffle, world), drop_last=drop_last, rank=rank_,
                                world_size=world, block=chunk_block(self.source, shuffle, shuffle_block), window=shuffle_window if shuffle == "chunks" else 1)
        self._engine = BatchEngine(self.source, self.config, output, num_workers)
        self._control = multiprocessing.RawArray("q", 3)  # epoch, start batch, seed (see _BatchStream)
        # reusable batch memory for workers; PyTorch's pinning thread would drop the slot tensors unseen
        self._use_slots = num_workers > 0 and output == "torch" and not self.pin_memory and collate_fn is None
        # a worker's batches in memory at once, the user's included: prefetch_factor, and at least
        # those it makes at once plus the one handed on (slots: it waits for the user beyond them)
        self._slots_per_worker = max(self.prefetch_factor or 2, self._engine.decode_ahead + 1)
        self._torch_loader: tud.DataLoader | None = None
        self._stream: _BatchStream | None = None
        self._dataset: TorchDataset | None = None
        self._epoch, self._batch = 0, 0
        self._resume = False
        self.skipped: list[int] = []
        """Dataset indices of the samples left out because they could not be read (``ignore_errors``)."""
        self.made_here = 0
        """Batches made in this process while the workers from a fork server started (``warmup``)."""

    # -- planning ---------------------------------------------------------------------------------
    @property
    def dataset(self) -> TorchDataset:
        """The samples as a map-style ``torch.utils.data.Dataset``, as ``DataLoader.dataset``:
        ``len`` counts the samples of the dataset or view (every rank's), ``[i]`` is the decoded,
        transformed sample at position ``i`` (before collation and the batch stage)."""
        if self._dataset is None:
            self._dataset = TorchDataset.of_loader(self.source, self.config)
        return self._dataset

    @property
    def shuffle_block(self) -> int:
        """Rows per block that ``shuffle="chunks"`` permutes (1 for the other modes)."""
        return self._sampler.block

    @property
    def world_size(self) -> int:
        return self._sampler.world_size

    # -- iteration --------------------------------------------------------------------------------
    def _new_ring(self) -> SlotRing | None:
        return SlotRing(self.num_workers, self._slots_per_worker) if self._use_slots else None

    def _workers(self) -> tud.DataLoader:
        """The DataLoader running ``_BatchStream`` in workers; before each epoch, non-persistent
        workers get a fresh slot ring, persistent ones get theirs back less the lost slots."""
        if self._torch_loader is None:
            # a worker's next task is queued while it makes a batch when the DataLoader keeps 2+ per
            # worker: the engine then starts the next batch after handing one on (one slot less)
            self._stream = _BatchStream(self._engine, self._sampler, self._control, self._new_ring(),
                                        lookahead=(self.prefetch_factor or 2) < 2)
            self._torch_loader = tud.DataLoader(
                self._stream, batch_size=None, collate_fn=_passthrough, num_workers=self.num_workers,
                pin_memory=self.pin_memory, persistent_workers=self.persistent_workers,
                prefetch_factor=self.prefetch_factor, multiprocessing_context=self.multiprocessing_context,
                timeout=self.timeout)
        elif not self.persistent_workers:
            self._stream.ring = self._new_ring()
        elif self._stream.ring is not None:
            self._stream.ring.reset()
        return self._torch_loader

    def _iterate(self, epoch: int, start: int) -> Iterator[Any]:
        self.source.flush()
        plan = self._sampler.plan(epoch)

        def here() -> Iterator[Any]:
            return self._engine.run((b, plan.batch(b)) for b in plan.batch_ids(start))

        def workers_from(first: int) -> Iterator[Any]:
            if first >= len(self):
                return iter(())
            self._control[_EPOCH], self._control[_START], self._control[_SEED] = epoch, first, self._sampler.seed
            return iter(self._workers())

        stream: Any
        if self.num_workers == 0:
            stream = here()
        elif self._server_ready is not None and not self.pin_memory and \
                (self._torch_loader is None or not self.persistent_workers):  # (the DataLoader pins its batches)
            stream = BridgedStream(here(), self._server_ready, start, workers_from, lead=LEAD_PER_WORKER * self.num_workers)
        else:
            stream = workers_from(start)
        stage = self._stage
        pin_here = self.pin_memory and self.num_workers == 0 and not (stage is not None and stage.on_device)
        arrivals = self._arrivals(stream, lambda: self._stream.ring if self._stream is not None else None, start)
        if stage is not None:
            arrivals = run_ahead(arrivals, lambda item: self._staged(stage, epoch, *item))
        bridged = BridgedStream  # an iterator abandoned at exit is closed after module globals are cleared
        try:
            for bid, batch, skipped in arrivals:
                self._batch = bid + 1
                self.skipped.extend(skipped)
                if self.unbatched:
                    if skipped:  # its only sample was left out
                        continue
                    batch = batch if self._collates else compat.first_sample(batch)
                yield pin(batch) if pin_here else batch
            self._epoch, self._batch = epoch + 1, 0
        finally:
            arrivals.close()
            if isinstance(stream, bridged):
                self.made_here += stream.made_here
                stream.close()
                stream = stream.workers  # None: never started
            if self.num_workers == 0:
                stream.close()
            elif self._stream is not None and self._stream.ring is not None:
                self._stream.ring.stop_waiting()  # a worker waiting for a slot the user still holds
            if self.num_workers and not self.persistent_workers and hasattr(stream, "_shutdown_workers"):
                stream._shutdown_workers()

    @staticmethod
    def _arrivals(stream: Iterator[Any], ring: Callable[[], SlotRing | None],
                  start: int) -> Iterator[tuple[int, Any, list[int]]]:
        """``(batch_id, batch, skipped_rows)`` as the engine or the workers deliver them, checked to
        be in plan order and taken out of their shared-memory slots (of ``ring()``)."""
        due = start
        slots = ring()
        if slots is not None:
            slots.set_due(due)
        for bid, batch, skipped, slot in stream:
            if bid != due:  # the worker round robin broke its order: never silently reorder
                raise LoaderError(f"Batch {bid} arrived when batch {due} was due.")
            due += 1
            slots = ring()
            item = bid, (batch if slot is None else slots.adopt(batch, *slot)), skipped
            if slots is not None:
                slots.set_due(due)  # no worker waits for a slot to make the batch asked for next
            yield item

    def _staged(self, stage: BatchStage, epoch: int, bid: int, batch: Any,
                skipped: list[int]) -> tuple[int, Any, list[int]]:
        """One batch through the batch stage (on ``run_ahead``'s thread); on a GPU, finished on
        its stream before the consumer, which may use another stream, sees it."""
        made, dropped = stage(batch, seed=self._sampler.seed, key=(epoch, self.rank, bid))
        batch = TensorDict(made) if isinstance(batch, TensorDict) and type(made) is dict else made
        if stage.on_device:
            torch.cuda.current_stream().synchronize()
        return bid, batch, [*skipped, *dropped]

    def close(self) -> None:
        """Stop persistent workers now (they also stop when the loader is garbage collected)."""
        loader, self._torch_loader = self._torch_loader, None
        iterator = getattr(loader, "_iterator", None)
        if iterator is not None:
            iterator._shutdown_workers()

    def __repr__(self) -> str:
        s = self._sampler
        stage = f", {self._stage!r}" if self._stage is not None else ""
        return (f"Loader(tensors={list(self.source.names)}, samples={s.num_samples}, batch_size={s.batch_size}, "
                f"shuffle={s.shuffle!r}, num_workers={self.num_workers}, rank={s.rank}/{s.world_size}{stage})")


class TorchDataset(tud.Dataset):
    """Map-style dataset of decoded, transformed samples (dicts) for a plain ``DataLoader``.

    ``dataset[i]`` is position ``i`` of the dataset or view; ``__getitems__`` (used by the
    DataLoader for batches) fetches and decodes all indices of a batch together. With
    ``ignore_errors=True`` unreadable samples are left out of ``__getitems__`` batches."""

    def __init__(self, ds: Any, *, tensors: Sequence[str] | None = None,
                 transform: Callable | Mapping[str, Callable | None] | None = None,
                 decode_method: Mapping[str, str] | None = None, return_index: bool = True,
                 ignore_errors: bool = False, num_threads: int | None = None) -> None:
        source = DatasetSource(ds, tensor_names(ds, tensors, transform))
        if "dali" in (decode_method or {}).values():
            raise LoaderError("decode_method 'dali' decodes whole batches in the loader's main process; use "
                              "ds.pytorch(decode_method={...: 'dali'}), or 'numpy' / 'tobytes' here.")
        config = LoaderConfig(tensors=source.names, transform=transform, decode_method=dict(decode_method or {}),
                              return_index=return_index, ignore_errors=ignore_errors, num_threads=num_threads)
        self._start(source, config)

    @classmethod
    def of_loader(cls, source: DatasetSource, config: LoaderConfig) -> TorchDataset:
        """The samples a ``Loader`` makes from ``source`` with ``config``, before collation."""
        dataset = cls.__new__(cls)
        dataset._start(source, config)
        return dataset

    def _start(self, source: DatasetSource, config: LoaderConfig) -> None:
        self._engine = BatchEngine(source, config, "numpy")
        self._threads_set = config.num_threads is not None
        self._pid: int | None = None

    def _ready(self) -> BatchEngine:
        if self._pid != os.getpid():
            self._engine.source.flush()
            info = tud.get_worker_info()
            if info is not None and not self._threads_set:
                self._engine.num_threads = max(1, available_cpus() // info.num_workers)
            self._pid = os.getpid()
        return self._engine

    def __len__(self) -> int:
        return len(self._engine.source)

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"Index {index} is out of range for {n} samples.")
        samples = self._ready().samples(np.asarray([int(index) % n]))
        if not samples:
            raise CorruptSampleError(f"Sample index {int(self._engine.source.rows[int(index) % n])} cannot be read.")
        return samples[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        return self._ready().samples(np.asarray(indices, np.int64))

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None:
            engine.close()
