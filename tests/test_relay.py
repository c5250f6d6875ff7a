"""``storage.relay``: a forked child's reads made by its parent, over a private channel."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time

import pytest

from deeplake_nb import errors
from deeplake_nb.storage import relay


class Echo:
    """A store stand-in: what the parent runs for its children (picklable, like a RemoteStore)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, key: str, pause: float = 0.0) -> bytes:
        time.sleep(pause)
        return f"{self.name}:{key}:{os.getpid()}".encode()

    def fail(self, key: str) -> None:
        raise errors.StorageError(f"Cannot read {key!r}")

    def odd(self) -> None:
        raise _Unpicklable()


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no pickling")


def _pair() -> relay.Link:
    """A link whose far end is served by this process (as a parent serves a forked child)."""
    near, far = socket.socketpair()
    threading.Thread(target=relay._serve, args=(far,), daemon=True).start()
    return relay.Link(near)


def test_calls_from_many_threads_each_get_their_own_answer():
    link = _pair()
    store = Echo("a")
    results: dict[int, bytes] = {}

    def ask(i: int) -> None:
        results[i] = link.call(store, "read", f"k{i}", 0.2 if i % 2 else 0.0)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(40)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: f"a:k{i}:{os.getpid()}".encode() for i in range(40)}
    assert time.monotonic() - start < 1.5  # answered together, not one 200 ms wait after another (4 s)


def test_errors_come_back_as_raised_and_unpicklable_ones_as_storage_errors():
    link = _pair()
    with pytest.raises(errors.StorageError, match="Cannot read 'x'"):
        link.call(Echo("a"), "fail", "x")
    with pytest.raises(errors.StorageError, match="_Unpicklable"):
        link.call(Echo("a"), "odd")
    assert link.call(Echo("a"), "read", "after") .startswith(b"a:after")  # the channel still works


def test_a_parent_that_goes_away_fails_the_waiting_and_later_reads():
    near, far = socket.socketpair()
    link = relay.Link(near)
    failure: list[BaseException] = []

    def ask() -> None:
        try:
            link.call(Echo("a"), "read", "k")
        except errors.StorageError as exc:
            failure.append(exc)
    waiting = threading.Thread(target=ask)
    waiting.start()
    time.sleep(0.1)
    far.close()  # the parent ends without answering
    waiting.join(10)
    assert not waiting.is_alive() and "ended" in str(failure[0])
    with pytest.raises(errors.StorageError, match="ended"):
        link.call(Echo("a"), "read", "k")


def _child_reads(queue) -> None:
    link = relay.link()
    queue.put(None if link is None else link.call(Echo("b"), "read", "k"))


def test_a_fork_gets_a_link_only_when_wanted(monkeypatch):
    """A child forked while ``wanted()`` holds reads through its parent (the answer names the
    parent's pid); one forked otherwise has no link."""
    context = multiprocessing.get_context("fork")
    for wanted, expected in ((True, f"b:k:{os.getpid()}".encode()), (False, None)):
        monkeypatch.setattr(relay, "_wanted", lambda wanted=wanted: wanted)
        queue = context.Queue()
        child = context.Process(target=_child_reads, args=(queue,))
        child.start()
        assert queue.get(timeout=30) == expected
        child.join(10)
        assert child.exitcode == 0


def test_an_answer_that_cannot_be_read_fails_the_call_instead_of_hanging():
    from multiprocessing.connection import Connection

    near, far = socket.socketpair()
    link = relay.Link(near)
    parent = Connection(far.detach())

    def garble() -> None:
        parent.recv_bytes()
        parent.send_bytes(b"not a pickle")
    threading.Thread(target=garble, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(errors.StorageError, match="could not be read"):
        link.call(Echo("a"), "read", "k")
    assert time.monotonic() - start < 5


class Tracked(Echo):
    """A store whose copies report being freed, as an obstore client's drop would run."""

    def __del__(self) -> None:
        try:
            os.write(2, f"freed {self.name} in {os.getpid()}\n".encode())
        except Exception:  # noqa: BLE001 - at interpreter exit, os may be gone
            pass


def _child_reports_inheritance(queue) -> None:
    import gc

    kept = [getattr(store, "name", None) for served in relay._inherited for store in served.values()]  # (and
    # the stores of any loader an earlier test served: RemoteStores, which have no name)
    queue.put((os.getpid(), "t" in kept, gc.get_freeze_count() > 0))


def test_a_child_frees_none_of_the_stores_its_parent_served(monkeypatch, capfd):
    """Freeing a client of the parent's in a forked child can wait forever on a lock one of the
    parent's runtime threads held at the fork (a loader's fourth worker hung so, now and then,
    while the parent prefetched): the stores the parent served are kept in the child, and a
    linked child freezes what it inherited, so that no collection there frees one either."""
    monkeypatch.setattr(relay, "_wanted", lambda: True)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    first = context.Process(target=_child_reads_tracked, args=(queue,))
    first.start()
    assert queue.get(timeout=30) == f"t:k:{os.getpid()}".encode()  # the parent now serves a Tracked copy
    first.join(10)
    second = context.Process(target=_child_reports_inheritance, args=(queue,))
    second.start()
    pid, kept, frozen = queue.get(timeout=30)
    second.join(10)
    assert kept and frozen and second.exitcode == 0
    assert f"in {pid}" not in capfd.readouterr().err


def _child_reads_tracked(queue) -> None:
    queue.put(relay.link().call(Tracked("t"), "read", "k"))
