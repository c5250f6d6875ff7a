"""A ring of reusable shared-memory batch buffers for worker processes.

Without it every batch a worker makes lives in fresh shared memory, as with PyTorch's default
collate: the kernel zero-fills and maps ~40 MB for a batch of 64 224x224 float32 images, about a
third of the CPU it takes to decode them. With it each worker keeps a few slots (shared storages)
and writes batch after batch into the same, already mapped pages; the main process hands the
batch to the user as tensors backed by the slot, and gives the slot back when the last of them,
and every view of them, has been garbage collected. Nothing is ever overwritten while the user
can still see it.

The slots bound the loader's batch memory: a worker owns ``per_worker`` of them, and when all are
taken (batches it made that are queued, or that the user holds) it waits for the user to let one
go instead of making another batch further ahead in fresh memory. So at most ``per_worker``
batches of each worker exist at once, the one the user holds included. It never waits where
that could stall the user: not for the batch the main process is due to hand over next (the user
may be waiting for it while holding the slots' batches), not while the user holds more than
``HELD`` batches (``list(loader)``, a list of past batches), not past ``PATIENCE`` seconds, and not
once the epoch ended; the batch then gets fresh shared memory, freed with it.

Protocol (``state`` and ``lease`` are shared arrays with one entry per slot; ``held``, ``due`` and
``closing`` shared values; worker ``w`` owns slots ``w*per_worker .. (w+1)*per_worker-1``):
- worker: takes slot ``s`` only when ``state[s] == FREE`` and no batch of its own is being made in
  it; sets ``state[s] = TAKEN``, bumps ``lease[s]`` and sends ``(s, lease)`` with the batch. A
  batch it never sends (an error, an abandoned epoch) gives its slot back at once. With no free
  slot it waits as above (``acquire(wait=True)``, only once every batch it finished was handed
  on), or not at all (``wait=False``: the caller then makes no batch yet); a batch without a slot
  gets fresh shared memory;
- main: ``adopt`` wraps the batch's slot tensors and counts it in ``held``; when all are
  collected, ``held`` drops and, if ``lease[s]`` is still the one received, ``state[s] = FREE``;
  ``due`` is the batch it hands over next (``set_due``), ``stop_waiting`` ends the waits of an epoch;
- ``reset`` (main, before an epoch starts on persistent workers) frees every slot the main
  process does not hold: batches PyTorch discarded while abandoning an epoch never come back;
- a slot first used by a batch bigger than its storage grows on its next use.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import weakref
from typing import Any

import numpy as np

FREE, TAKEN = 0, 1
_ALIGN = 64
PATIENCE = 5.0
"""Seconds a worker waits for one of its slots before it makes the batch in fresh memory: the
user held the batch of the slot that long (a long training step; the worker is ahead anyway)."""
HELD = 2
"""A worker waits for a slot only while the user holds at most this many batches: one, and the
next one while the loop variable still holds the one before."""
_POLL = 0.0005


class Lease:
    """One batch's claim on a slot (worker side): a bump allocator over the slot's storage."""

    def __init__(self, ring: SlotRing, slot: int, lease: int, storage: Any) -> None:
        self.ring, self.slot, self.lease, self.storage = ring, slot, lease, storage
        self.capacity = 0 if storage is None else storage.nbytes()
        self.needed = 0  # bytes every allocation of this batch would take together

    def alloc(self, shape: tuple[int, ...], dtype: np.dtype) -> Any | None:
        """A tensor of ``shape``/``dtype`` in the slot, or None when it does not fit."""
        import torch

        start = -(-self.needed // _ALIGN) * _ALIGN
        self.needed = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self.needed > self.capacity:
            return None
        tdtype = torch.from_numpy(np.empty(0, dtype)).dtype
        return torch.empty(0, dtype=tdtype).set_(self.storage, start // dtype.itemsize, shape)


class SlotRing:
    def __init__(self, num_workers: int, per_worker: int) -> None:
        self.per_worker = per_worker
        self.state = multiprocessing.RawArray("b", num_workers * per_worker)
        self.lease = multiprocessing.RawArray("q", num_workers * per_worker)
        self.held = multiprocessing.RawValue("q", 0)  # slot batches the user holds (main side writes)
        self.closing = multiprocessing.RawValue("b", 0)  # the epoch ended: waiting workers stop waiting
        self.due = multiprocessing.RawValue("q", -1)  # the batch the main process hands over next
        self._local()

    def _local(self) -> None:
        self._storages: dict[int, Any] = {}   # worker side: slot -> shared storage
        self._grow: dict[int, int] = {}       # worker side: slot -> bytes its next storage needs
        self._mine: set[int] = set()          # worker side: slots with a batch being made
        self._live: dict[int, int] = {}       # main side: slot -> lease of the batch the user holds
        self._lock = threading.RLock()  # the finalizer of a batch's arrays takes it, maybe from the collector

    def __getstate__(self) -> dict[str, Any]:
        return {"per_worker": self.per_worker, "state": self.state, "lease": self.lease, "held": self.held,
                "closing": self.closing, "due": self.due}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local()

    # -- worker side ------------------------------------------------------------------------------
    def acquire(self, worker: int, batch: int = -1, wait: bool = False) -> Lease | None:
        """A lease on a free slot of ``worker`` for batch ``batch``; None when it has none free:
        at once unless ``wait``, which waits for one as the module doc says (call it with ``wait``
        only when every batch this worker finished was handed on)."""
        lease = self._try_acquire(worker)
        if lease is None and wait:
            deadline = time.monotonic() + PATIENCE
            while lease is None and self.held.value <= HELD and self.due.value != batch and not self.closing.value \
                    and time.monotonic() < deadline:
                time.sleep(_POLL)
                lease = self._try_acquire(worker)
        return lease

    def _try_acquire(self, worker: int) -> Lease | None:
        import torch

        first = worker * self.per_worker
        for s in range(first, first + self.per_worker):
            if self.state[s] == FREE and s not in self._mine:
                self.state[s] = TAKEN
                self.lease[s] += 1
                self._mine.add(s)
                want = self._grow.pop(s, 0)
                if want:
                    self._storages[s] = torch.UntypedStorage._new_shared(want + want // 8)
                return Lease(self, s, int(self.lease[s]), self._storages.get(s))
        return None

    def finished(self, lease: Lease, sent: bool) -> None:
        """The batch is complete: sent to the main process, or dropped (the slot is free again)."""
        self._mine.discard(lease.slot)
        if lease.needed > lease.capacity:
            self._grow[lease.slot] = lease.needed
        if not sent:
            self.state[lease.slot] = FREE

    # -- main side --------------------------------------------------------------------------------
    def adopt(self, batch: Any, slot: int, lease: int, keys: list[Any]) -> Any:
        """Hand ``batch`` to the user: its slot tensors free the slot once all are collected."""
        import torch

        counter = [len(keys)]

        def dropped() -> None:
            with self._lock:
                counter[0] -= 1
                if counter[0] == 0:
                    self.held.value -= 1
                    if self._live.get(slot) == lease:
                        del self._live[slot]
                        if self.lease[slot] == lease:
                            self.state[slot] = FREE

        with self._lock:
            self._live[slot] = lease
            self.held.value += 1
        container = dict(enumerate(batch)) if isinstance(batch, tuple) else \
            batch if isinstance(batch, dict) else {None: batch}
        for key in keys:
            array = container[key].numpy()
            container[key] = torch.from_numpy(array)  # a storage of its own: collected with its last view
            weakref.finalize(array, dropped)
        if isinstance(batch, tuple):
            return tuple(container[i] for i in range(len(batch)))
        return container if isinstance(batch, dict) else container[None]

    def set_due(self, batch: int) -> None:
        """The batch the main process hands over next: no worker waits to make it."""
        self.due.value = batch

    def stop_waiting(self) -> None:
        """The epoch ends (the loop finished, broke or raised): workers waiting for a slot stop
        waiting, so that they can be shut down or start the next epoch at once."""
        self.closing.value = 1

    def reset(self) -> None:
        """Free every slot the user does not hold (call before an epoch starts)."""
        self.closing.value = 0
        with self._lock:
            for s in range(len(self.state)):
                if s not in self._live:
                    self.state[s] = FREE
