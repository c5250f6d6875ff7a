"""Commits: immutable JSON documents ``commits/<id>`` forming a DAG, and walks over it.

A commit records its parents (one; two for a merge; none for the root), message, author, time
(seconds since the epoch), the manifest stack of the version it freezes, and ``changes``: an
opaque JSON object supplied by the caller (the dataset layer records appended / updated /
deleted sample ids per tensor there). Commit ids are :mod:`names` (time-stamped, so gc can give
a commit that lost a race its grace period).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import CommitNotFoundError
from . import documents
from .manifest import Stack, stack_from_json, stack_to_json
from .names import is_name
from .physical import PhysicalStore

COMMITS = "commits/"


@dataclass(frozen=True)
class Commit:
    """One commit document."""

    id: str
    parents: tuple[str, ...]
    message: str
    author: str
    time: float
    manifest: Stack
    changes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "parents": list(self.parents), "message": self.message, "author": self.author,
                "time": self.time, "manifest": stack_to_json(self.manifest), "changes": self.changes}

    @classmethod
    def from_json(cls, data: dict[str, Any], what: str = "a commit document") -> Commit:
        """The commit in ``data``; CorruptDatasetError (naming ``what``) unless it has every field
        in the form :meth:`to_json` writes."""
        parents = documents.field(data, "parents", list, what)
        return cls(id=documents.name(data.get("id"), what, "id"),
                   parents=tuple(documents.name(parent, what, "parent") for parent in parents),
                   message=documents.field(data, "message", str, what),
                   author=documents.field(data, "author", str, what),
                   time=float(documents.field(data, "time", (int, float), what)),
                   manifest=stack_from_json(data.get("manifest"), what),
                   changes=documents.field(data, "changes", dict, what))


class CommitGraph:
    """Reads, writes and walks commit documents; documents are cached (they never change)."""

    def __init__(self, store: PhysicalStore) -> None:
        self.store = store
        self._cache: dict[str, Commit] = {}

    def write(self, commit: Commit) -> None:
        self.store.set(COMMITS + commit.id, json.dumps(commit.to_json()).encode())
        self.store.flush_to_disk([COMMITS + commit.id])
        self._cache[commit.id] = commit

    def create(self, commit: Commit) -> bool:
        """Write ``commit`` only if no document has its id yet (put-if-absent); whether it landed.
        A commit document is never overwritten: a branch's pending id can be claimed by a writer
        that then lost the race for the branch or crashed."""
        if not self.store.put_if_absent(COMMITS + commit.id, json.dumps(commit.to_json()).encode(), durable=True):
            return False
        self._cache[commit.id] = commit
        return True

    def ids(self) -> list[str]:
        """The ids of every commit document in the store (reachable or not)."""
        return [key[len(COMMITS):] for key in self.store.list_prefix(COMMITS) if is_name(key[len(COMMITS):])]

    def find(self, commit_id: str) -> Commit | None:
        """The commit with this id, or None when there is none."""
        cached = self._cache.get(commit_id)
        if cached is not None or not is_name(commit_id):
            return cached
        data = self.store.get(COMMITS + commit_id)
        what = self.store.describe(COMMITS + commit_id)
        if data is None:
            return None
        commit = Commit.from_json(documents.json_object(data, what), what)
        if commit.id != commit_id:
            raise documents.damaged(what, f"it holds commit {commit.id!r}")
        self._cache[commit_id] = commit
        return commit

    def get(self, commit_id: str) -> Commit:
        commit = self.find(commit_id)
        if commit is None:
            raise CommitNotFoundError(f"No commit {commit_id!r} in this dataset.")
        return commit

    def first_parent_log(self, commit_id: str) -> list[Commit]:
        """``commit_id`` and its first-parent ancestors, newest first."""
        out = [self.get(commit_id)]
        while out[-1].parents:
            out.append(self.get(out[-1].parents[0]))
        return out

    def ancestors(self, commit_ids: list[str] | tuple[str, ...]) -> set[str]:
        """Every commit reachable from ``commit_ids`` through parents, including themselves."""
        seen: set[str] = set()
        queue = deque(commit_ids)
        while queue:
            current = queue.popleft()
            if current not in seen:
                seen.add(current)
                queue.extend(self.get(current).parents)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of ``a`` and ``b``: a common ancestor that is not a proper
        ancestor of another common ancestor (the newest one if history is criss-crossed); None
        when the two share no history."""
        common = self.ancestors([a]) & self.ancestors([b])
        if not common:
            return None
        below = self.ancestors([parent for cid in common for parent in self.get(cid).parents])
        best = common - below
        return max(best, key=lambda cid: (self.get(cid).time, cid))
