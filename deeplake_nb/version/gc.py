"""Garbage collection: delete objects, manifest deltas, metadata documents and commits that nothing reaches.

Roots are the live branches (their head commit, working manifest and metadata document), the tags, and the
commits that higher layers name through :func:`register_roots` (saved views: ``query.saved``
registers one, since this package must not import it). Objects that belong to a version without being
in its manifest (a vector index: ``query.vector_index``) are kept through :func:`register_attachments`
while that version is reachable, and swept with it.
Everything reachable from a root's commit through parents is kept, with every delta in those
commits' manifests and every object those deltas name. Unreachable items are deleted only when
their name's embedded creation time is older than the grace period, which protects a writer's
objects between writing and publishing them, commit documents between writing and landing the
branch entry, and readers of a version that was superseded. A commit document named by a live
branch's pending id is kept too: that id was drawn when the head was set, possibly long before the
commit that uses it, so its time stamp does not protect the document until the entry lands. The grace period must therefore
exceed the longest time a writer keeps changes unpublished and a reader keeps a superseded
version open. Branch entries superseded for longer than the grace period are pruned (see
:mod:`refs` for why that is safe). A store's leftover temporary files (``<name>.<suffix>.partial`` on LocalStore)
are swept by the time in their name too.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .commits import COMMITS, CommitGraph
from .manifest import MANIFESTS, referenced_objects
from .metadata import METADATA
from .names import created_at
from .physical import PhysicalStore
from .refs import BRANCHES, TAGS, BranchState, RefLog, ref_names
from .store import OBJECTS


RootProvider = Callable[[PhysicalStore], Iterable[str]]
_ROOT_PROVIDERS: list[RootProvider] = []
AttachmentProvider = Callable[[PhysicalStore, set[str], float], Iterable[str]]
_ATTACHMENT_PROVIDERS: list[AttachmentProvider] = []


def register_roots(provider: RootProvider) -> None:
    """Make ``provider(store)`` (commit ids) roots of every collection, with their history.
    Ids that are not (or no longer) commits of the store are ignored."""
    if provider not in _ROOT_PROVIDERS:
        _ROOT_PROVIDERS.append(provider)


def register_attachments(provider: AttachmentProvider) -> None:
    """Make ``provider(store, live, cutoff)`` name the objects (names under ``objects/``) that stay
    because they belong to a version in ``live`` (the reachable commits and the branches' pending
    ids). The provider owns its own documents naming such objects and may delete those of versions
    not in ``live`` whose objects were created before ``cutoff``: the objects then go too."""
    if provider not in _ATTACHMENT_PROVIDERS:
        _ATTACHMENT_PROVIDERS.append(provider)


def collect(store: PhysicalStore, commits: CommitGraph, *, grace_seconds: float, now: float) -> dict[str, int]:
    """Run one collection; return how many objects, manifests, metadata documents, commits and ref
    entries went."""
    cutoff = now - grace_seconds
    heads, stacks, metas, pending, pruned = [], [], set(), set(), 0
    for name in ref_names(store, BRANCHES):
        log = RefLog(store, BRANCHES, name)
        payload = log.latest()[1]
        pruned += log.prune(cutoff)
        state = None if payload is None else BranchState.from_json(payload)
        if state is not None:
            heads.append(state.head)
            stacks.append(state.stack)
            metas.add(state.meta)
            if state.pending is not None:
                pending.add(state.pending)
    for name in ref_names(store, TAGS):
        payload = RefLog(store, TAGS, name).latest()[1]
        if payload is not None:
            heads.append(payload["commit"])
    for provider in _ROOT_PROVIDERS:
        heads.extend(commit_id for commit_id in provider(store) if commits.find(commit_id) is not None)
    reachable_commits = commits.ancestors(heads)
    stacks.extend(commits.get(commit_id).manifest for commit_id in reachable_commits)
    metas.update(commits.get(commit_id).meta for commit_id in reachable_commits)
    levels = tuple({level for stack in stacks for level in stack})
    attached = {name for provider in _ATTACHMENT_PROVIDERS
                for name in provider(store, reachable_commits | pending, cutoff)}
    return {
        "objects": _sweep(store, OBJECTS, referenced_objects(store, levels) | attached, cutoff),
        "manifests": _sweep(store, MANIFESTS, {name for name, _ in levels}, cutoff),
        "metadata": _sweep(store, METADATA, {m for m in metas if m is not None}, cutoff),
        "commits": _sweep(store, COMMITS, reachable_commits | pending, cutoff),
        "ref_entries": pruned,
    }


def _sweep(store: PhysicalStore, prefix: str, keep: set[str], cutoff: float) -> int:
    """Delete keys under ``prefix`` that are not in ``keep`` and were created before ``cutoff``."""
    removed = 0
    for key in store.list_prefix(prefix):
        tail = key[len(prefix):]
        born = created_at(tail)
        if born is not None and born < cutoff and tail not in keep:
            store.delete(key)
            removed += 1
    return removed
