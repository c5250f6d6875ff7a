"""Refs (branches and tags) as logs of numbered entries that change only by put-if-absent.

A ref ``<kind>/<name>`` is a folder of entries ``refs/<kind>/<name>/<seq:020d>``, each a small
JSON document; the entry with the highest number is the ref's value. To change a ref, a writer
that read entry ``n`` writes entry ``n + 1`` with put-if-absent: if that entry already exists,
another writer moved the ref first and this one gets :class:`VersionConflictError` (its attempt
landed nothing; the objects it wrote are orphans for gc). No lock files, so nothing goes stale.

Garbage collection prunes old entries (see :meth:`RefLog.prune`), so that listing a ref stays
cheap. Pruning frees numbers, and a writer still holding a pruned number could win
put-if-absent there; prune therefore only removes entries below one that was itself written
more than the grace period ago, so only a writer that held its base entry longer than the grace
period could be fooled (the same rule gc already imposes on unpublished writes).

Branch entries carry a :class:`BranchState`, or a tombstone when the branch was deleted (a later
entry may revive the name). Tags are written once at number 1 and never move.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRefNameError, VersionConflictError, VersionError
from .manifest import Stack, stack_from_json, stack_to_json
from .names import is_name
from .physical import PhysicalStore

BRANCHES = "refs/branches"
TAGS = "refs/tags"
_SEQ_DIGITS = 20
_VALID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


def is_ref_name(name: object) -> bool:
    """Whether ``name`` is a valid branch or tag name (see :func:`validate_name`)."""
    return (isinstance(name, str) and _VALID.fullmatch(name) is not None and ".." not in name
            and not name.startswith(".") and not is_name(name))


def validate_name(name: object, kind: str) -> str:
    """Return ``name`` if it is a usable branch or tag name, else raise InvalidRefNameError."""
    if not isinstance(name, str) or not name:
        raise InvalidRefNameError(f"A {kind} name must be a non-empty string, not {name!r}.")
    if "/" in name or "\\" in name:
        raise InvalidRefNameError(f"{kind.capitalize()} name {name!r} contains a slash; use '-' or '_' instead.")
    if name.startswith("."):
        raise InvalidRefNameError(f"{kind.capitalize()} name {name!r} starts with '.'; choose another name.")
    if ".." in name:
        raise InvalidRefNameError(f"{kind.capitalize()} name {name!r} contains '..'; choose another name.")
    if not _VALID.fullmatch(name):
        raise InvalidRefNameError(f"{kind.capitalize()} name {name!r} must be 1-200 characters from "
                                  "A-Z a-z 0-9 . _ -")
    if is_name(name):
        raise InvalidRefNameError(f"{kind.capitalize()} name {name!r} looks like a commit id; choose another name.")
    return name


@dataclass(frozen=True)
class BranchState:
    """A live branch: its head commit, the manifest of its working area, the id its next commit
    will get and when it was created."""

    head: str
    """The commit the working area is based on (the branch head)."""
    stack: Stack
    """The working area's manifest (equal to the head commit's manifest when ``dirty`` is False)."""
    dirty: bool
    """Whether uncommitted changes have been published to the working area."""
    pending: str | None = None
    """The id the next commit of the branch gets (Deep Lake v3's ``pending_commit_id``): drawn when
    the head is set (branch creation, commit, reset) and kept by publishes. None in entries
    written before pending ids existed."""
    created: float | None = None
    """When the branch was created (seconds since the epoch; orders ``branches``); None in
    entries written before it was recorded."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": self.head, "stack": stack_to_json(self.stack), "dirty": self.dirty}
        if self.pending is not None:
            out["pending"] = self.pending
        if self.created is not None:
            out["created"] = self.created
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BranchState | None:
        """The state in an entry, or None for a tombstone."""
        if data.get("deleted"):
            return None
        return cls(head=data["head"], stack=stack_from_json(data["stack"]), dirty=bool(data["dirty"]),
                   pending=data.get("pending"), created=data.get("created"))


class RefLog:
    """The numbered entries of one ref. Entry payloads are JSON objects."""

    def __init__(self, store: PhysicalStore, kind: str, name: str) -> None:
        self.store, self.kind, self.name = store, kind, name
        self.label = "branch" if kind == BRANCHES else "tag"
        self._folder = f"{kind}/{name}/"

    def _key(self, number: int) -> str:
        return f"{self._folder}{number:0{_SEQ_DIGITS}d}"

    def _numbers(self) -> list[int]:
        numbers = []
        for key in self.store.list_prefix(self._folder):
            tail = key.rsplit("/", 1)[-1]
            if len(tail) == _SEQ_DIGITS and tail.isdigit():  # skips a store's temporary files
                numbers.append(int(tail))
        return numbers

    def latest(self) -> tuple[int, dict[str, Any] | None]:
        """(number, payload) of the highest entry; (0, None) when the ref has no entry."""
        numbers = self._numbers()
        if not numbers:
            return 0, None
        top = max(numbers)
        data = self.store.get(self._key(top))  # the highest entry is never pruned
        if data is None:
            raise VersionError(f"Entry {top} of {self.label} {self.name!r} vanished while being read; "
                               "the store is damaged or not strongly consistent.")
        return top, json.loads(data)

    def advance(self, seen: int, payload: dict[str, Any]) -> int:
        """Write entry ``seen + 1``; return its number. Raises VersionConflictError when another
        writer already moved the ref past ``seen``."""
        number = seen + 1
        document = {**payload, "time": time.time(), "nonce": secrets.token_hex(8)}
        if not self.store.put_if_absent(self._key(number), json.dumps(document).encode()):
            raise VersionConflictError(
                f"Another writer moved {self.label} {self.name!r} since it was read "
                "(a commit, publish, reset or delete landed first); nothing of this attempt landed. "
                "Reopen it and retry.")
        return number

    def prune(self, cutoff: float) -> int:
        """Delete the entries below the newest entry written before ``cutoff`` (seconds since the
        epoch); return how many were deleted. Entry times are taken as increasing with numbers."""
        numbers = sorted(self._numbers())
        low, high = 0, len(numbers)  # find the first entry written at or after cutoff
        while low < high:
            middle = (low + high) // 2
            data = self.store.get(self._key(numbers[middle]))
            if data is None or json.loads(data)["time"] < cutoff:  # None: pruned meanwhile, so old
                low = middle + 1
            else:
                high = middle
        doomed = numbers[:max(low - 1, 0)]
        for number in doomed:
            self.store.delete(self._key(number))
        return len(doomed)


def ref_names(store: PhysicalStore, kind: str) -> list[str]:
    """Names with a folder under ``kind`` (BRANCHES or TAGS), sorted; may include deleted branches."""
    return sorted(name for name in store.list_dir(kind) if is_ref_name(name))
