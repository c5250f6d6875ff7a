"""Batches made in the main process while the loader's workers start from a fork server.

Workers come from a fork server when the user asks for one, or when they read linked files
through obstore after this process ran it (obstore does not survive ``fork``; a dataset on an
object store is read by forked workers through this process, ``storage.relay``, so its workers
fork). The server imports torch and deeplake_nb before it forks any (seconds), and each worker
then reopens the dataset (round trips) before its first batch; meanwhile ``DataLoader`` waits
and the epoch makes nothing. ``worker_method`` says which start method the workers get;
``start_server`` starts the fork server, which ``ds.pytorch`` does before it imports torch
itself, so that the two imports run side by side (each on one core) instead of one after the
other. ``ServerReady`` watches the server start (a no-op process started through it, on a
thread: it returns once the server forks). ``BridgedStream`` takes batches from the engine run
in this process (its threads) until the server is ready; then it starts the workers at once, at
the batch ``lead`` batches later, and makes the batches before that one here while they start.
The batches are the same, in the same order, whoever makes them; the batches made here are not
in shared-memory slots (their ``slot`` is None).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, Callable, Generator, Iterator

from ..storage.remote import runtime_started
from ..storage.url import is_memory

SERVER_PRELOAD = ["__main__", "deeplake_nb.loader.torch_loader"]
"""What the fork server imports before it forks workers (multiprocessing's own default is
``["__main__"]``): torch and deeplake_nb once, not in every worker."""
LEAD_PER_WORKER = 2
"""Batches per worker that this process makes while fresh workers start (``BridgedStream``'s
``lead``): a worker from the fork server reopens the dataset (round trips) before its first batch."""


_ready_server: int | None = None
"""The pid of the fork server a ``ServerReady`` probe saw start a process: a later loader's
``ServerReady`` for that same server is ready at once instead of probing it again (a probe is a
process forked through the server, during which its first batch was made here)."""


def _nothing() -> None:
    """The probe process's work."""


def _server_pid() -> int | None:
    """The pid of this process's fork server, None before one was started."""
    from multiprocessing import forkserver  # POSIX only, as the method is

    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)


def _forget_server() -> None:
    global _ready_server
    _ready_server = None  # a forked child's fork server is not its parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_server)


def start_method(context: Any) -> str:
    """The start method of a multiprocessing ``context`` (a name, a context, or None: the default)."""
    if context is None:
        return multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return context if isinstance(context, str) else context.get_start_method()


def worker_method(url: str, context: Any, links: bool = False) -> str:
    """The start method of the loader workers of the dataset at ``url`` for a multiprocessing
    ``context`` (see ``start_method``): that one, except that workers which would call obstore
    themselves (link tensors (``links``) once this process has run obstore) are never forked from
    this process, whose obstore runtime would not survive the fork: "fork" becomes "forkserver".
    Forked workers of a dataset on an object store read it through this process (``relay``)."""
    method = start_method(context)
    if method == "fork" and links and not is_memory(url) and runtime_started():
        return "forkserver"
    return method


def start_server() -> None:
    """Start the fork server now, with ``SERVER_PRELOAD`` (nothing when it runs already: its
    preload cannot change then); returns at once, while the server imports."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(SERVER_PRELOAD)
    from multiprocessing import forkserver  # POSIX only, as the method is

    forkserver.ensure_running()


def start_early(url: str, num_workers: Any, context: Any) -> None:
    """``start_server`` for a loader of the dataset at ``url`` whose workers will come from a fork
    server, before this process imports torch (``ds.pytorch``): the server imports it meanwhile.
    Nothing for options the loader refuses (it says why) or an in-memory dataset."""
    if isinstance(num_workers, int) and num_workers > 0 and not is_memory(url) and \
            worker_method(url, context) == "forkserver":
        start_server()


class ServerReady:
    """``ready()``: whether the fork server has started: true once a process started through it
    exists (the server forks only after its imports). Watching starts when this is made; a server
    an earlier probe in this process saw running (the same pid; ``start_server`` restarts one that
    ended, with another) is ready at once."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._context = multiprocessing.get_context("forkserver")
        if _ready_server is not None and _server_pid() == _ready_server:
            self._done.set()
            return
        threading.Thread(target=self._probe, name="deeplake_nb-forkserver-probe", daemon=True).start()

    def _probe(self) -> None:
        global _ready_server
        try:
            process = self._context.Process(target=_nothing, daemon=True)
            process.start()
            process.join()
            _ready_server = _server_pid()
        except Exception:  # noqa: S110 - a probe that fails only ends the bridge; the workers report errors
            pass
        finally:
            self._done.set()

    def __call__(self) -> bool:
        return self._done.is_set()


Item = tuple[int, Any, list[int], Any]


class BridgedStream:
    """``(batch_id, batch, skipped, slot)`` items from batch ``start`` on: from ``here`` (an engine
    run in this process over the same plan) while ``ready`` is false; once it is true, the workers
    are started at once, at the batch ``lead`` batches after the next one
    (``start_workers(takeover)``: their items from that batch on), and ``here`` makes the batches
    before it meanwhile, so that the workers' start (a process from the fork server that reopens
    the dataset) overlaps batches made here instead of stalling the epoch; see the module doc.
    ``workers`` is the workers' iterator once they were started (None before)."""

    def __init__(self, here: Generator[Item, None, None], ready: Callable[[], bool], start: int,
                 start_workers: Callable[[int], Iterator[Item]], lead: int = 0) -> None:
        self._here: Generator[Item, None, None] | None = here  # closed when the workers take over
        self._ready = ready
        self._next = start
        self._start_workers = start_workers
        self._lead = lead
        self._takeover: int | None = None  # the workers' first batch, once they were started
        self.workers: Iterator[Item] | None = None
        self.made_here = 0

    def __iter__(self) -> BridgedStream:
        return self

    def __next__(self) -> Item:
        if self._here is not None:
            if self._takeover is None and self._ready():
                self._takeover = self._next + self._lead
                self.workers = self._start_workers(self._takeover)
            if self._takeover is None or self._next < self._takeover:
                item = next(self._here)  # StopIteration: the epoch ended before the workers' first batch
                self._next = item[0] + 1
                self.made_here += 1
                return item
            self._close_here()
        assert self.workers is not None  # here is closed only once the workers were started
        return next(self.workers)

    def _close_here(self) -> None:
        here, self._here = self._here, None
        if here is not None:
            here.close()

    def close(self) -> None:
        """Stop the batches made here (the caller shuts the workers down)."""
        self._close_here()
