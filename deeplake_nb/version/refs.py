"""Refs (branches and tags) as logs of numbered entries that change only by put-if-absent.

A ref ``<kind>/<name>`` is a folder of entries ``refs/<kind>/<name>/<seq:020d>``, each a small
JSON document (zlib-compressed since format 3, :func:`documents.encode`; plain JSON before); the entry with the highest number is the ref's value. To change a ref, a writer
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

**Reading a branch in two requests.** After each entry lands, the writer overwrites the branch's
*hint* (``<ref folder>/latest``) with the entry's number and payload. A reader gets the hint and
checks that the next number is absent: then the hint's copy is the branch's value (a current
hint), without reading the entry or listing. The hint is written only after the entry it copies
is durable, so it never names an entry a crash tore; a stale, damaged or missing hint (a crash
between the two writes, two writers' hints landing out of order) costs only the fallback: a
gallop from the hint's number with existence checks, or a listing. It is rewritten in place
(``PhysicalStore.overwrite_advisory``), not by a rename: a reader that catches it mid-write gets
a zlib stream whose structure and Adler-32 checksum fail, i.e. a damaged hint.
"""

from __future__ import annotations

import math
import re
import secrets
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import (CorruptDatasetError, DamagedRefWarning, InvalidRefNameError, StorageError, VersionConflictError,
                      VersionError)
from . import documents
from .manifest import Stack, stack_from_json, stack_to_json
from .names import is_name
from .physical import PhysicalStore

BRANCHES = "refs/branches"
TAGS = "refs/tags"
_SEQ_DIGITS = 20
HINT = "latest"
"""The hint object in a branch's folder: the number and payload of a recent entry (see :class:`RefLog`)."""
_WARNED: set[tuple[str, int]] = set()
"""(damaged top entry, entry used) pairs already warned about in this process (warned once)."""
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
    meta: str | None = None
    """The consolidated metadata document of the working area (see :mod:`metadata`); None when
    it has none (entries written before such documents, or a version without metadata)."""
    format: int | None = None
    """The version-control format of the writer of the entry (``repository.FORMAT_VERSION``);
    None in entries written before it was recorded, whose readers read ``repo.json`` instead."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": self.head, "stack": stack_to_json(self.stack), "dirty": self.dirty}
        for key in ("pending", "created", "meta", "format"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], what: str = "a branch entry") -> BranchState | None:
        """The state in an entry, or None for a tombstone; CorruptDatasetError (naming ``what``)
        unless the entry has the form :meth:`to_json` writes."""
        if data.get("deleted") is True:
            return None
        pending, created, meta, form = data.get("pending"), data.get("created"), data.get("meta"), data.get("format")
        if created is not None and (isinstance(created, bool) or not isinstance(created, (int, float))):
            raise documents.damaged(what, f"'created' is {created!r}")
        if form is not None and (isinstance(form, bool) or not isinstance(form, int)):
            raise documents.damaged(what, f"'format' is {form!r}")
        return cls(head=documents.name(data.get("head"), what, "head"), stack=stack_from_json(data.get("stack"), what),
                   dirty=documents.field(data, "dirty", bool, what),
                   pending=None if pending is None else documents.name(pending, what, "pending id"),
                   created=created, meta=None if meta is None else documents.name(meta, what, "metadata document"),
                   format=form)


class RefLog:
    """The numbered entries of one ref. Entry payloads are JSON objects.

    Finding the newest entry does not list the ref: every branch entry also overwrites the
    branch's *hint* (``<ref folder>/latest``: the entry's number and payload), and
    :meth:`latest` takes the hint's copy when the next number is absent, or else gallops forward
    from the hint's number with existence checks, so its cost does not grow with the ref's
    history. The hint is advisory: a missing, stale, damaged or pruned hint only falls back to
    the gallop or to listing. Entries above an existing entry are never missing (writers only add
    ``seen + 1``; pruning removes the lowest numbers), which is what makes the gallop exact.

    A damaged newest entry (torn by a crash, empty, garbled) is skipped with a
    :class:`~deeplake_nb.errors.DamagedRefWarning` naming it, and the entry below it is the
    ref's value; the next write still goes above the damaged one, so put-if-absent is intact.
    """

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
            if len(tail) == _SEQ_DIGITS and tail.isdigit():  # skips a store's temporary files and the hint
                numbers.append(int(tail))
        return numbers

    def _exists(self, number: int) -> bool:
        return self.store.exists(self._key(number))

    def _read_hint(self) -> tuple[int, dict[str, Any] | None] | None:
        """(number, payload) from the hint (payload None in a hint holding only a number, as
        written before hints carried payloads); None when there is none or it is unreadable, and
        for a tag without a request (a tag has one entry and never had a hint)."""
        if self.kind != BRANCHES:
            return None
        data = self.store.get(self._folder + HINT)
        if data is None:
            return None
        if data.isdigit() and len(data) <= _SEQ_DIGITS:
            return (int(data), None) if int(data) > 0 else None
        try:
            hint = documents.json_object(data, "hint")
            number, payload = hint["number"], hint["entry"]
            if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
                return None
            BranchState.from_json(payload, "hint")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError, CorruptDatasetError):
            return None
        return number, payload

    def _hint(self, hint: tuple[int, dict[str, Any] | None] | None) -> int | None:
        """The hint's number when that entry exists."""
        return hint[0] if hint is not None and self._exists(hint[0]) else None

    def top(self, hint: tuple[int, dict[str, Any] | None] | None) -> int:
        """The highest entry number (0 when the ref has no entry), galloping up from ``hint``
        (what :meth:`_read_hint` returned) when its entry exists, else from a listing."""
        low = self._hint(hint)
        if low is None:
            return max(self._numbers(), default=0)
        step = 1
        while self._exists(low + step):  # gallop: low exists, so every number above it up to the top does
            low, step = low + step, step * 2
        high = low + step  # absent
        while high - low > 1:
            middle = (low + high) // 2
            if self._exists(middle):
                low = middle
            else:
                high = middle
        return low

    def _decode(self, number: int, data: bytes) -> dict[str, Any]:
        """The payload of entry ``number``; CorruptDatasetError when it is not a valid entry."""
        what = self.store.describe(self._key(number))
        payload = documents.json_object(data, what)
        if self.kind == BRANCHES:
            BranchState.from_json(payload, what)
        else:
            documents.name(payload.get("commit"), what, "commit")
        return payload

    def latest(self) -> tuple[int, dict[str, Any] | None]:
        """(number, payload): the highest entry number and the payload of the newest valid entry;
        (0, None) when the ref has no entry. A current hint answers with two requests (the hint,
        the absence of the next number). Damaged entries on top are skipped with a warning;
        when no entry is valid, a branch raises CorruptDatasetError and a tag counts as absent."""
        hint = self._read_hint()
        if hint is not None and hint[1] is not None and not self._exists(hint[0] + 1):
            return hint[0], hint[1]
        top = self.top(hint)
        if top == 0:
            return 0, None
        skipped: list[str] = []
        for number in range(top, 0, -1):
            data = self.store.get(self._key(number))
            if data is None:
                if number == top:
                    raise VersionError(f"Entry {top} of {self.label} {self.name!r} vanished while being read; "
                                       "the store is damaged or not strongly consistent.")
                break  # pruned below here
            try:
                payload = self._decode(number, data)
            except CorruptDatasetError as exc:
                skipped.append(f"{self.store.describe(self._key(number))!r} ({getattr(exc, 'why', exc)})")
                continue
            if skipped and (self.store.describe(self._key(top)), number) not in _WARNED:
                _WARNED.add((self.store.describe(self._key(top)), number))
                warnings.warn(DamagedRefWarning(
                    f"The newest entries of {self.label} {self.name!r} are unreadable and were skipped: "
                    f"{', '.join(skipped)}; using entry {number} (what those writes did is lost). "
                    "The next write goes above them; gc prunes them later."), stacklevel=3)
            return top, payload
        if self.kind == TAGS:
            _WARNED.add((self.store.describe(self._key(top)), 0))
            warnings.warn(DamagedRefWarning(f"Tag {self.name!r} is unreadable and was ignored: {', '.join(skipped)}; "
                                            "delete that file and tag the commit again."), stacklevel=3)
            return top, None
        raise documents.damaged(self._folder.rstrip("/"), f"no readable entry: {', '.join(skipped)}")

    def advance(self, seen: int, payload: dict[str, Any], after: Sequence[str] = ()) -> int:
        """Write entry ``seen + 1``; return its number. Raises VersionConflictError when another
        writer already moved the ref past ``seen``. ``after``: the keys the entry names that were
        just written, made durable before it appears (``PhysicalStore.put_if_absent``)."""
        number = seen + 1
        document = {**payload, "time": time.time(), "nonce": secrets.token_hex(8)}
        if not self.store.put_if_absent(self._key(number), documents.encode(document), durable=True, after=after):
            raise VersionConflictError(
                f"Another writer moved {self.label} {self.name!r} since it was read "
                "(a commit, publish, reset or delete landed first); nothing of this attempt landed. "
                "Reopen it and retry.")
        if self.kind == BRANCHES:
            self._write_hint(number, payload)
        return number

    def _write_hint(self, number: int, payload: dict[str, Any]) -> None:
        """Copy entry ``number``'s payload into the hint. Advisory: the entry has landed, so a
        failed write here only makes the next reader fall back (see the class docstring)."""
        try:
            self.store.overwrite_advisory(self._folder + HINT, documents.encode({"number": number, "entry": payload}))
        except StorageError:
            pass

    def _written_at(self, number: int) -> float:
        """When entry ``number`` was written; infinity for a damaged entry (never pruned as old)
        and minus infinity for one already pruned."""
        data = self.store.get(self._key(number))
        if data is None:
            return -math.inf
        try:
            written = self._decode(number, data).get("time")
        except CorruptDatasetError:
            return math.inf
        return written if isinstance(written, (int, float)) and not isinstance(written, bool) else math.inf

    def prune(self, cutoff: float) -> int:
        """Delete the entries below the newest valid entry written before ``cutoff`` (seconds
        since the epoch); return how many were deleted. Entry times are taken as increasing with
        numbers."""
        numbers = sorted(self._numbers())
        low, high = 0, len(numbers)  # find the first entry written at or after cutoff
        while low < high:
            middle = (low + high) // 2
            if self._written_at(numbers[middle]) < cutoff:
                low = middle + 1
            else:
                high = middle
        doomed = numbers[:max(low - 1, 0)]
        if doomed and self.kind == BRANCHES:
            self._refresh_hint(numbers[-1])
        for number in doomed:
            self.store.delete(self._key(number))
        return len(doomed)

    def _refresh_hint(self, top: int) -> None:
        """Before pruning: make the hint copy entry ``top`` (or delete it when that entry is
        damaged). A hint left stale by a crash must not outlive the entries above it: once
        they are pruned, the absence of its next number would make it look current. A writer
        landing an entry meanwhile leaves that entry above the hint, which pruning never removes."""
        data = self.store.get(self._key(top))
        try:
            payload = self._decode(top, data) if data is not None else None
        except CorruptDatasetError:
            payload = None
        if payload is None:
            self.store.delete(self._folder + HINT)
        else:
            self._write_hint(top, {k: v for k, v in payload.items() if k not in ("time", "nonce")})


def ref_names(store: PhysicalStore, kind: str) -> list[str]:
    """Names with a folder under ``kind`` (BRANCHES or TAGS), sorted; may include deleted branches."""
    return sorted(name for name in store.list_dir(kind) if is_ref_name(name))
