"""Commits: immutable JSON documents ``commits/<id>`` (zlib-compressed since format 3,
:func:`documents.encode`) forming a DAG, and walks over it.

A commit records its parents (one; two for a merge; none for the root), message, author, time
(seconds since the epoch), the manifest stack of the version it freezes (and the name of its
consolidated metadata document, :mod:`metadata`), and ``changes``: an
opaque JSON object supplied by the caller (the dataset layer records appended / updated /
deleted sample ids per tensor there). Commit ids are :mod:`names` (time-stamped, so gc can give
a commit that lost a race its grace period).

**History that does not slow the present.** A commit also carries what a log shows (id, parents,
author, time, message: a :class:`CommitSummary`) of its nearest first-parent ancestors, so that
walking a log reads a few documents instead of one per commit. How many it carries follows its
first-parent ``depth`` like a Fenwick tree: ``min(lowbit(depth), LOG_SPAN) - 1`` (the ancestors
down to depth ``depth - min(lowbit(depth), LOG_SPAN)``, the next document a walk reads). A log of
``n`` commits then reads about ``log2(n)`` documents (plus ``n / LOG_SPAN``), while a commit
carries about 4 summaries on average and at most ``LOG_SPAN - 1``. Documents written before this
have no depth and carry nothing: a walk reads them one by one, and a commit on top of one counts
its depth from there.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import CommitNotFoundError
from . import documents
from .manifest import Stack, stack_from_json, stack_to_json
from .names import is_name
from .physical import PhysicalStore

COMMITS = "commits/"
LOG_SPAN = 256
"""The most first-parent ancestors a commit's document summarises, plus one (a power of two)."""


def commit_key(commit_id: str) -> str:
    """The store key of commit ``commit_id``'s document."""
    return COMMITS + commit_id


def carried(depth: int) -> int:
    """How many first-parent ancestors a commit at first-parent ``depth`` summarises."""
    return min(depth & -depth, LOG_SPAN) - 1 if depth > 0 else 0


@dataclass(frozen=True)
class CommitSummary:
    """What a log shows of one commit; carried by its descendants' documents."""

    id: str
    parents: tuple[str, ...]
    message: str
    author: str
    time: float

    def to_json(self) -> list[Any]:
        return [self.id, list(self.parents), self.author, self.time, self.message]

    @classmethod
    def from_json(cls, data: object, what: str) -> CommitSummary:
        """The summary in ``data`` (the list :meth:`to_json` writes); CorruptDatasetError naming
        ``what`` otherwise."""
        if not isinstance(data, list) or len(data) != 5:
            raise documents.damaged(what, f"an ancestor summary is {data!r:.80}")
        cid, parents, author, stamp, message = data
        if (not isinstance(parents, list) or not isinstance(author, str) or not isinstance(message, str)
                or isinstance(stamp, bool) or not isinstance(stamp, (int, float))):
            raise documents.damaged(what, f"an ancestor summary is {data!r:.80}")
        return cls(id=documents.name(cid, what, "ancestor id"), message=message, author=author, time=float(stamp),
                   parents=tuple(documents.name(parent, what, "ancestor parent") for parent in parents))


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
    depth: int | None = None
    """Position on the first-parent line (the root: 0), counted from the first commit written
    with depths; None in documents written before (see the module docstring)."""
    ancestry: tuple[CommitSummary, ...] = ()
    """Summaries of the nearest :func:`carried` first-parent ancestors, newest first."""
    meta: str | None = None
    """The version's consolidated metadata document (see :mod:`metadata`); None when it has none."""

    @property
    def summary(self) -> CommitSummary:
        return CommitSummary(self.id, self.parents, self.message, self.author, self.time)

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "parents": list(self.parents), "message": self.message, "author": self.author,
               "time": self.time, "manifest": stack_to_json(self.manifest), "changes": self.changes}
        if self.depth is not None:
            out["depth"] = self.depth
            out["ancestry"] = [summary.to_json() for summary in self.ancestry]
        if self.meta is not None:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], what: str = "a commit document") -> Commit:
        """The commit in ``data``; CorruptDatasetError (naming ``what``) unless it has every field
        in the form :meth:`to_json` writes."""
        parents = documents.field(data, "parents", list, what)
        depth, ancestry, meta = data.get("depth"), data.get("ancestry", []), data.get("meta")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
            raise documents.damaged(what, f"'depth' is {depth!r}")
        if not isinstance(ancestry, list):
            raise documents.damaged(what, f"'ancestry' is a {type(ancestry).__name__}")
        return cls(id=documents.name(data.get("id"), what, "id"),
                   parents=tuple(documents.name(parent, what, "parent") for parent in parents),
                   message=documents.field(data, "message", str, what),
                   author=documents.field(data, "author", str, what),
                   time=float(documents.field(data, "time", (int, float), what)),
                   manifest=stack_from_json(data.get("manifest"), what),
                   changes=documents.field(data, "changes", dict, what), depth=depth,
                   meta=None if meta is None else documents.name(meta, what, "metadata document"),
                   ancestry=_chained(tuple(CommitSummary.from_json(item, what) for item in ancestry),
                                     tuple(parents), what))


def _chained(ancestry: tuple[CommitSummary, ...], parents: tuple[str, ...], what: str) -> tuple[CommitSummary, ...]:
    """``ancestry`` if each summary is the first parent of the one before it (the first: of the
    commit with ``parents``)."""
    expected = parents[0] if parents else None
    for summary in ancestry:
        if summary.id != expected:
            raise documents.damaged(what, f"ancestor {summary.id} is not the first parent {expected}")
        expected = summary.parents[0] if summary.parents else None
    return ancestry


class CommitGraph:
    """Reads, writes and walks commit documents; documents and the summaries they carry are
    cached (they never change)."""

    def __init__(self, store: PhysicalStore, known: CommitGraph | None = None) -> None:
        """``known``: a graph of the same repository whose cached documents this one shares."""
        self.store = store
        self._cache: dict[str, Commit] = {} if known is None else known._cache
        self._summaries: dict[str, CommitSummary] = {} if known is None else known._summaries

    def _placed(self, commit: Commit) -> Commit:
        """``commit`` with its first-parent depth and the ancestor summaries it carries."""
        if not commit.parents:
            return replace(commit, depth=0, ancestry=())
        parent = self.get(commit.parents[0])
        depth = (parent.depth or 0) + 1
        return replace(commit, depth=depth, ancestry=tuple(self.first_parent_log(parent.id, carried(depth))))

    def _remember(self, commit: Commit) -> None:
        self._cache[commit.id] = commit
        for summary in (commit.summary, *commit.ancestry):
            self._summaries.setdefault(summary.id, summary)

    def write(self, commit: Commit) -> None:
        """Write ``commit`` (with its depth and ancestry filled in), replacing any document of its id."""
        commit = self._placed(commit)
        self.store.set(commit_key(commit.id), documents.encode(commit.to_json()))
        self.store.flush_to_disk([commit_key(commit.id)])
        self._remember(commit)

    def create(self, commit: Commit, *, durable: bool = True) -> bool:
        """Write ``commit`` only if no document has its id yet (put-if-absent); whether it landed.
        A commit document is never overwritten: a branch's pending id can be claimed by a writer
        that then lost the race for the branch or crashed. Depth and ancestry are filled in.
        ``durable=False``: the caller flushes :func:`commit_key` ``(commit.id)`` to disk itself (with
        the other objects its ref entry will name) before that entry lands."""
        commit = self._placed(commit)
        if not self.store.put_if_absent(commit_key(commit.id), documents.encode(commit.to_json()), durable=durable):
            return False
        self._remember(commit)
        return True

    def ids(self) -> list[str]:
        """The ids of every commit document in the store (reachable or not)."""
        return [key[len(COMMITS):] for key in self.store.list_prefix(COMMITS) if is_name(key[len(COMMITS):])]

    def find(self, commit_id: str) -> Commit | None:
        """The commit with this id, or None when there is none."""
        cached = self._cache.get(commit_id)
        if cached is not None or not is_name(commit_id):
            return cached
        data = self.store.get(commit_key(commit_id))
        what = self.store.describe(commit_key(commit_id))
        if data is None:
            return None
        commit = Commit.from_json(documents.json_object(data, what), what)
        if commit.id != commit_id:
            raise documents.damaged(what, f"it holds commit {commit.id!r}")
        self._remember(commit)
        return commit

    def get(self, commit_id: str) -> Commit:
        commit = self.find(commit_id)
        if commit is None:
            raise CommitNotFoundError(f"No commit {commit_id!r} in this dataset.")
        return commit

    def summary(self, commit_id: str) -> CommitSummary:
        """What a log shows of commit ``commit_id`` (from a descendant's document when one was
        read; CommitNotFoundError when there is no such commit)."""
        known = self._summaries.get(commit_id)
        return known if known is not None else self.get(commit_id).summary

    def first_parent_log(self, commit_id: str, limit: int | None = None) -> list[CommitSummary]:
        """``commit_id`` and its first-parent ancestors, newest first (the first ``limit`` of
        them). Reads one document per carried run (see the module docstring), not one per commit."""
        out: list[CommitSummary] = []
        current: str | None = commit_id
        while current is not None and (limit is None or len(out) < limit):
            commit = self.get(current)
            out.append(commit.summary)
            out.extend(commit.ancestry)
            current = out[-1].parents[0] if out[-1].parents else None
        return out if limit is None else out[:limit]

    def _paint_down(self, a: str, b: str) -> str | None:
        """:meth:`merge_base` by a newest-first walk from both sides; None when the walk cannot
        vouch for its answer (no common ancestor, several candidates, or a parent newer than its
        child: the caller then compares whole ancestries)."""
        if a == b:
            return a
        side_a, side_b, stale = 1, 2, 4
        flags = {a: side_a, b: side_b}
        queue = [(-self.summary(a).time, a), (-self.summary(b).time, b)]
        heapq.heapify(queue)
        found: list[str] = []
        while any(not flags[cid] & stale for _, cid in queue):
            minus_time, cid = heapq.heappop(queue)
            mark = flags[cid]
            if mark & (side_a | side_b) == side_a | side_b and not mark & stale:
                found.append(cid)
                mark |= stale  # what lies below a common ancestor is not the best one
                flags[cid] = mark
            for parent in self.summary(cid).parents:
                had = flags.get(parent, 0)
                if had | mark != had:
                    flags[parent] = had | mark
                    parent_time = self.summary(parent).time
                    if parent_time >= -minus_time:
                        return None  # clock skew (or a tie): the newest-first order cannot be trusted
                    heapq.heappush(queue, (-parent_time, parent))
        return found[0] if len(found) == 1 else None

    def ancestors(self, commit_ids: list[str] | tuple[str, ...]) -> set[str]:
        """Every commit reachable from ``commit_ids`` through parents, including themselves."""
        seen: set[str] = set()
        queue = deque(commit_ids)
        while queue:
            current = queue.popleft()
            if current not in seen:
                seen.add(current)
                queue.extend(self.summary(current).parents)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of ``a`` and ``b``: a common ancestor that is not a proper
        ancestor of another common ancestor (the newest one if history is criss-crossed); None
        when the two share no history.

        Walks down from both commits newest first (by commit time, as git's merge-base does),
        marking what each reaches, and stops once every commit still to visit lies below a
        common ancestor found: the cost follows the commits since the fork, not the history.
        When that walk finds several candidates (criss-crossed history) or commit times run
        backwards along the way, the whole ancestries are compared instead."""
        found = self._paint_down(a, b)
        if found is not None:
            return found
        common = self.ancestors([a]) & self.ancestors([b])
        if not common:
            return None
        below = self.ancestors([parent for cid in common for parent in self.summary(cid).parents])
        best = common - below
        return max(best, key=lambda cid: (self.summary(cid).time, cid))
