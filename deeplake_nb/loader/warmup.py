"""Batches made in the main process while a cold fork server starts the loader's workers.

Workers of a dataset on an object store come from a fork server (obstore does not survive
``fork``), which imports torch and deeplake_nb before it forks any: seconds, during which
``DataLoader`` waits and the first epoch makes nothing. ``ServerReady`` watches the server start
(a no-op process started through it, on a thread: it returns once the server forks); meanwhile
``BridgedStream`` takes batches from the engine run in this process (its threads), and from the
first batch after the server is ready on, from the workers, started at that batch. The batches
are the same, in the same order, whoever makes them; the batches made here are not in
shared-memory slots (their ``slot`` is None).
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any, Callable, Generator, Iterator


def _nothing() -> None:
    """The probe process's work."""


def start_method(context: Any) -> str:
    """The start method of a multiprocessing ``context`` (a name, a context, or None: the default)."""
    if context is None:
        return multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return context if isinstance(context, str) else context.get_start_method()


class ServerReady:
    """``ready()``: whether the fork server has started: true once a process started through it
    exists (the server forks only after its imports). Watching starts when this is made."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._context = multiprocessing.get_context("forkserver")
        threading.Thread(target=self._probe, name="deeplake_nb-forkserver-probe", daemon=True).start()

    def _probe(self) -> None:
        try:
            process = self._context.Process(target=_nothing, daemon=True)
            process.start()
            process.join()
        except Exception:  # noqa: S110 - a probe that fails only ends the bridge; the workers report errors
            pass
        finally:
            self._done.set()

    def __call__(self) -> bool:
        return self._done.is_set()


Item = tuple[int, Any, list[int], Any]


class BridgedStream:
    """``(batch_id, batch, skipped, slot)`` items from batch ``start`` on: from ``here`` (an engine
    run in this process over the same plan) while ``ready`` is false, then from
    ``start_workers(next_batch)`` (the workers' items from that batch on); see the module doc.
    ``workers`` is the workers' iterator once they were started (None before)."""

    def __init__(self, here: Generator[Item, None, None], ready: Callable[[], bool], start: int,
                 start_workers: Callable[[int], Iterator[Item]]) -> None:
        self._here: Generator[Item, None, None] | None = here  # closed when the workers take over
        self._ready = ready
        self._next = start
        self._start_workers = start_workers
        self.workers: Iterator[Item] | None = None
        self.made_here = 0

    def __iter__(self) -> BridgedStream:
        return self

    def __next__(self) -> Item:
        if self.workers is None:
            if self._here is not None and not self._ready():
                item = next(self._here)  # StopIteration: the epoch ended before the server was ready
                self._next = item[0] + 1
                self.made_here += 1
                return item
            self._close_here()
            self.workers = self._start_workers(self._next)
        return next(self.workers)

    def _close_here(self) -> None:
        here, self._here = self._here, None
        if here is not None:
            here.close()

    def close(self) -> None:
        """Stop the batches made here (the caller shuts the workers down)."""
        self._close_here()
