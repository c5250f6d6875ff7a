"""Reads of a forked child made for it by its parent, whose object-store client cannot cross ``fork``.

obstore's runtime (tokio threads) does not survive ``fork``, so a process forked from one that
used an object store cannot call obstore at all. Instead of refusing such children, each fork of
a process where ``install``'s ``wanted()`` holds gets a private channel to its parent (a Unix
socket pair made just before the fork): in the child, ``link()`` is the ``Link`` over it, and the
parent answers on a thread of its own (``_serve``): it runs each request in its
``SERVE_THREADS``-thread pool, on the parent's copy of the store, and sends the answer back. So a
loader's workers forked from the main process (the fast start: torch and the dataset are already
there) read the object store through the main process's client, with as many requests in flight
as the workers ask for.

- A request names its store by the store's pickle (its location and options: the parent opens
  its own copy once per distinct pickle), a method of the store and plain arguments; the answer
  is the method's plain result, or the exception it raised (a ``StorageError`` for any store
  failure), raised again in the child.
- The channel belongs to one child: a child of the child (``fork`` again) gets no link of its own
  unless its own ``wanted()`` holds; the inherited one is dropped in it.
- A parent that ends, or a channel that breaks, fails every read waiting on it, and every later
  one, with ``StorageError``; a read gets its answer within ``ANSWER_SECONDS`` or fails the same
  way. Nothing waits forever.
- Only the calls the store relays go through the channel (its reads); a child still cannot write.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import pickle
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Callable

from ..errors import StorageError

SERVE_THREADS = 128
"""The parent's threads answering its children's requests (each blocks on one store call): enough
for the loader's workers to keep their reads in flight together."""
ANSWER_SECONDS = 600.0
"""The longest a child waits for one answer (the parent's store calls have their own, shorter
timeouts; this bounds a parent that is stuck or stopped)."""

_wanted: Callable[[], bool] = lambda: False  # noqa: E731 - set by install
_pair: tuple[socket.socket, socket.socket] | None = None  # made before a fork, parted after it
_link: Link | None = None  # this process's channel to its parent, when it was forked with one
_served: dict[bytes, Any] = {}  # the parent's copy of each store its children named (by pickle)
_inherited: list[Any] = []  # in a child: what the parent served, kept (see _after_fork_in_child)
_served_lock = threading.Lock()
_serving: set[Connection] = set()  # the parent's ends of its children's channels, while served
_pool: ThreadPoolExecutor | None = None


def install(wanted: Callable[[], bool]) -> None:
    """Give each later fork of this process a channel whenever ``wanted()`` holds just before it."""
    global _wanted
    _wanted = wanted


def link() -> Link | None:
    """This process's channel to the parent that reads for it; None when it has none."""
    return _link


class Link:
    """The child's end: ``call(store, method, *args)`` runs ``store.method(*args)`` in the parent.
    Calls from many threads share the channel; each waits for its own answer."""

    def __init__(self, sock: socket.socket) -> None:
        self._connection = Connection(sock.detach())
        self._send_lock = threading.Lock()
        self._waiting: dict[int, Future] = {}
        self._waiting_lock = threading.Lock()
        self._ids = itertools.count()
        self._broken: str | None = None
        self._reader: threading.Thread | None = None
        self._names: dict[int, tuple[Any, bytes]] = {}  # id(store) -> (store, its pickle)

    def _name(self, store: Any) -> bytes:
        known = self._names.get(id(store))
        if known is None or known[0] is not store:
            known = self._names[id(store)] = (store, pickle.dumps(store))
        return known[1]

    def call(self, store: Any, method: str, *args: Any) -> Any:
        answer: Future = Future()
        with self._waiting_lock:
            if self._broken is not None:
                raise StorageError(self._broken)
            if self._reader is None:
                self._reader = threading.Thread(target=self._read_answers, name="deeplake_nb-relay-answers",
                                                daemon=True)
                self._reader.start()
            number = next(self._ids)
            self._waiting[number] = answer
        try:
            message = pickle.dumps((number, self._name(store), method, args), protocol=5)
            with self._send_lock:
                self._connection.send_bytes(message)
        except OSError as exc:
            self._fail(f"the channel to the parent process broke ({exc})")
        try:
            ok, value = answer.result(timeout=ANSWER_SECONDS)
        except TimeoutError:
            with self._waiting_lock:
                self._waiting.pop(number, None)
            raise StorageError(f"The parent process did not answer a read of {store} within {ANSWER_SECONDS:.0f} s; "
                               "check that it is still running and that the store is reachable.") from None
        if not ok:
            raise value
        return value

    def _read_answers(self) -> None:
        try:
            while True:
                number, ok, value = pickle.loads(self._connection.recv_bytes())
                with self._waiting_lock:
                    answer = self._waiting.pop(number, None)
                if answer is not None:
                    answer.set_result((ok, value))
        except (EOFError, OSError) as exc:
            self._fail(f"the parent process that reads the object store for this one ended or closed the channel "
                       f"({type(exc).__name__}); reopen the dataset in a process started with 'spawn' or "
                       "'forkserver'")
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be read breaks the channel, never hangs it
            self._fail(f"an answer of the parent process could not be read ({type(exc).__name__}: {exc})")

    def _fail(self, why: str) -> None:
        with self._waiting_lock:
            self._broken = self._broken or f"Cannot read from the object store: {why}."
            waiting, self._waiting = self._waiting, {}
        for answer in waiting.values():
            answer.set_result((False, StorageError(self._broken)))


def _store_of(name: bytes) -> Any:
    with _served_lock:
        store = _served.get(name)
        if store is None:
            store = _served[name] = pickle.loads(name)
        return store


def _answer(connection: Connection, lock: threading.Lock, request: bytes) -> None:
    number = -1
    try:
        number, name, method, args = pickle.loads(request)
        reply = (number, True, getattr(_store_of(name), method)(*args))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the child that asked
        reply = (number, False, exc)
    try:
        message = pickle.dumps(reply, protocol=5)
    except Exception as exc:  # noqa: BLE001 - an exception that does not pickle goes back as its text
        message = pickle.dumps((number, False, StorageError(f"{type(reply[2]).__name__}: {exc}")), protocol=5)
    try:
        with lock:
            connection.send_bytes(message)
    except OSError:
        pass  # the child ended; its reader is gone


def _serve(sock: socket.socket) -> None:
    """The parent's end of one child's channel, until the child closes it."""
    connection = Connection(sock.detach())
    lock = threading.Lock()
    pool = _serving_pool()
    _serving.add(connection)
    try:
        while True:
            message = connection.recv_bytes()
            try:
                pool.submit(_answer, connection, lock, message)
            except RuntimeError:  # this interpreter is exiting: no new work (the channel closes)
                return
    except (EOFError, OSError):
        pass
    finally:
        _serving.discard(connection)
        connection.close()


def _serving_pool() -> ThreadPoolExecutor:
    """The one pool of this process (children forked together start their serving threads together)."""
    global _pool
    with _served_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SERVE_THREADS, thread_name_prefix="deeplake_nb-relay")
        return _pool


def _before_fork() -> None:
    global _pair
    _pair = socket.socketpair() if _wanted() else None


def _after_fork_in_parent() -> None:
    global _pair
    pair, _pair = _pair, None
    if pair is not None:
        pair[1].close()
        threading.Thread(target=_serve, args=(pair[0],), name="deeplake_nb-relay", daemon=True).start()


def _after_fork_in_child() -> None:
    """Drop the parent's serving state and take the link made for this child. Nothing of the
    parent's object-store clients may be freed here: freeing a client (its Rust side) can wait
    forever on a lock that one of the parent's runtime threads held at the fork. So the stores
    the parent served are kept, and where this child is linked the objects it inherited are
    frozen (``gc.freeze``): no collection here frees an unreachable client of the parent's (and
    none writes to the inherited objects' pages, which the parent shares)."""
    global _pair, _link, _pool, _served, _served_lock
    pair, _pair = _pair, None
    _pool = None  # the parent's threads are not here
    _served_lock = threading.Lock()  # one of them may have held it at the fork
    _inherited.append(_served)
    _served = {}
    for connection in list(_serving):  # the parent's ends of its other children's channels: closed here, so
        with contextlib.suppress(OSError):  # that a child whose parent ended sees the end of its channel
            connection.close()  # (through the object, which then never closes that number again)
    _serving.clear()
    _link = None
    if pair is not None:
        gc.freeze()
        pair[0].close()
        _link = Link(pair[1])


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
