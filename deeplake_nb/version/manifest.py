"""Manifests: which physical object holds each logical zarr key, as a stack of deltas.

A version's manifest is a *stack* of immutable delta objects (``manifests/<name>``), bottom
first. A delta maps logical keys to object names, or to ``null`` for a key deleted relative to
the deltas below it. Reading a version loads its stack once into one dict (later deltas win),
so a read afterwards is one dict lookup.

Writing new changes pushes one delta holding only the changed keys, then merges it with the
deltas just below while the merged part would be at least half the size of the next delta
down (an LSM-tree's size-tiered rule). Stacks stay O(log n) deep, every entry is rewritten
O(log n) times over its life, and a commit that changes k keys of a large version writes O(k)
bytes (amortised), never a copy of the unchanged entries. Deltas are shared by every commit,
branch and working area whose stack contains them, so unchanged manifest parts are
copy-on-write like the data objects. Tombstones are dropped when a merge reaches the bottom.

Deltas are zlib-compressed JSON objects; keys share long prefixes, so they compress well.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping

from ..errors import VersionError
from . import documents, patches
from .lru import WeightedLRU
from .names import new_name
from .physical import PhysicalStore

MANIFESTS = "manifests/"

Level = tuple[str, int]
"""One stack level: (delta name, number of entries in the delta)."""
Stack = tuple[Level, ...]
"""A manifest: delta levels, bottom first. The empty stack is the empty manifest."""


def stack_to_json(stack: Stack) -> list[list[str | int]]:
    return [[name, size] for name, size in stack]


def stack_from_json(data: object, what: str) -> Stack:
    """The stack stored as ``data`` in document ``what``; CorruptDatasetError unless every level
    is ``[delta name, entry count]``."""
    if not isinstance(data, list):
        raise documents.damaged(what, "its manifest stack is not a list")
    levels = []
    for level in data:
        if (not isinstance(level, list) or len(level) != 2 or isinstance(level[1], bool)
                or not isinstance(level[1], int) or level[1] < 0):
            raise documents.damaged(what, f"manifest level {level!r} is not [name, size]")
        levels.append((documents.name(level[0], what, "manifest delta"), level[1]))
    return tuple(levels)


def _encode(entries: Mapping[str, str | None]) -> bytes:
    return zlib.compress(json.dumps(entries, separators=(",", ":")).encode())


class DeltaCache(WeightedLRU[dict[str, str | None]]):
    """Checked manifest deltas by name (they never change), up to ``capacity`` entries in all,
    least recently used first out. The versions a diff or merge opens (both sides and their
    common ancestor) share most of their deltas, so each is read and checked once. Cached deltas
    are shared: callers never mutate them. Thread-safe."""

    def __init__(self, capacity: int = 1 << 21) -> None:
        super().__init__(capacity, len)


def _read_deltas(store: PhysicalStore, stack: Stack, cache: DeltaCache | None = None) -> list[dict[str, str | None]]:
    """The checked deltas of ``stack``, bottom first (from ``cache`` where it has them; the others
    in one batch of reads, then kept there)."""
    deltas: list[dict[str, str | None] | None] = [None if cache is None else cache.get(name) for name, _ in stack]
    missing = [i for i, delta in enumerate(deltas) if delta is None]
    blobs = store.get_many([MANIFESTS + stack[i][0] for i in missing]) if missing else []
    for i, blob in zip(missing, blobs, strict=True):
        name = stack[i][0]
        if blob is None:
            raise VersionError(f"Manifest delta {name!r} is missing from the store: this version was "
                               "garbage-collected or the store is damaged. A branch whose uncommitted changes "
                               "cannot be read opens at its last commit with dl.load(path, reset=True).")
        delta = deltas[i] = _checked_delta(blob, store.describe(MANIFESTS + name))
        if cache is not None:
            cache.put(name, delta)
    return deltas  # type: ignore[return-value]  # every None was filled


def _checked_delta(blob: bytes, what: str) -> dict[str, str | None]:
    """A delta's entries; CorruptDatasetError unless every key is a relative zarr key and every
    value an object name or null (so no entry can point outside ``objects/``)."""
    delta = documents.json_object(blob, what, compressed=True)
    # all entries in one pass (a version's manifest is read on its first data read); the walk
    # below only names what is wrong
    if documents.all_logical_keys(list(delta)) and patches.all_values([v for v in delta.values() if v is not None]):
        return delta
    for key, value in delta.items():
        documents.logical_key(key, what)
        if value is not None and (not isinstance(value, str) or not patches.is_value(value)):
            raise documents.damaged(what, f"the object of {key!r}, {value!r}, is not an object name")
    return delta


def _apply(target: dict[str, str | None], delta: Mapping[str, str | None]) -> None:
    target.update(delta)
    for key in [key for key, name in delta.items() if name is None]:
        del target[key]


def load(store: PhysicalStore, stack: Stack, cache: DeltaCache | None = None) -> dict[str, str]:
    """The whole manifest of ``stack``: logical key -> object name (deleted keys absent); a new
    dict the caller owns. Deltas come from ``cache`` when given and it has them."""
    merged: dict[str, str | None] = {}
    for delta in _read_deltas(store, stack, cache):
        _apply(merged, delta)
    return merged  # type: ignore[return-value]  # _apply leaves no None values


def push(store: PhysicalStore, stack: Stack, changes: Mapping[str, str | None],
         cache: DeltaCache | None = None) -> Stack:
    """Write ``changes`` (key -> object name, None = deleted) on top of ``stack``; return the new
    stack. Writes one new delta (merging the small deltas on top, see the module docstring; the
    deltas merged are read through ``cache`` when given); the caller makes it durable
    (:func:`new_deltas` names it) before a ref names the stack. The new delta is not cached: a
    version is read back from the store, so a delta lost since is reported, not hidden."""
    if not changes:
        return stack
    first = len(stack)
    merged_size = len(changes)
    while first > 0 and 2 * merged_size >= stack[first - 1][1]:
        first -= 1
        merged_size += stack[first][1]
    entries: dict[str, str | None] = {}
    for delta in _read_deltas(store, stack[first:], cache):
        entries.update(delta)
    entries.update(changes)
    if first == 0:
        entries = {key: name for key, name in entries.items() if name is not None}
        if not entries:
            return ()
    name = new_name()
    store.put_new(MANIFESTS + name, _encode(entries))
    return stack[:first] + ((name, len(entries)),)


def new_deltas(before: Stack, after: Stack) -> list[str]:
    """The physical keys of the deltas in ``after`` that ``before`` does not have."""
    old = set(before)
    return [MANIFESTS + level[0] for level in after if level not in old]


def referenced_objects(store: PhysicalStore, stack: Stack) -> set[str]:
    """Every object name any delta of ``stack`` mentions (what garbage collection must keep)."""
    return {name for delta in _read_deltas(store, stack) for value in delta.values() if value is not None
            for name in patches.parts(value)}
