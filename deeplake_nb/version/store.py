"""VersionedStore: a zarr v3 Store over a physical store, at one version (branch or commit).

Logical zarr keys ("zarr.json", "images/c/0/3", ...) map to immutable physical objects
``objects/<name>`` through the version's manifest, loaded into one dict on the first read of a
key that is not metadata: a read is then one dict lookup plus one physical get (byte ranges pass
straight through), and the sync methods (``get_sync``/``set_sync``/``delete_sync``) call the
physical store's sync methods when it has them, so the format layer's hot path never enters
zarr's event loop. Metadata keys (``zarr.json`` ...) are answered from the version's
consolidated document (:mod:`metadata`), read once, so opening a dataset and reading its
tensors' metadata costs one read, not one per key, and needs no manifest.

On a branch, a write stores a new object at once and records key -> object in memory
(``pending``). :meth:`VersionedStore.publish` makes the pending changes durable and visible to
later openers of the branch, atomically: it writes one manifest delta, then one put-if-absent
branch entry naming the new working manifest. :meth:`VersionedStore.commit` does the same but
also writes a commit document and moves the branch head in that same single entry, so a commit
lands completely or not at all. A crash before the entry lands leaves the previous state intact
(the objects already written are orphans for gc). If another writer moved the branch since this
store read it, both raise VersionConflictError and land nothing.

An object written since the last publish is referenced only by this store's memory, so
rewriting its key (the last chunk of a growing array, say) overwrites it in place instead of
leaving garbage; objects become immutable once published.

A store opened at a commit or tag is read-only; writes raise DetachedHeadError. A store is not
thread-safe against publishing while writes are in flight on the same checkout.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import mmap
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.sync import sync

from ..errors import DetachedHeadError, ReadOnlyError, VersionError
from ..storage.bytestore import as_bytes
from ..storage.cache import CacheChain, CacheSettings
from . import documents, manifest, metadata, patches
from .commits import Commit, commit_key
from .manifest import Stack
from .names import new_name
from .refs import BranchState

if TYPE_CHECKING:
    from .repository import Repository

OBJECTS = "objects/"
_PROTOTYPE = default_buffer_prototype()
_ABSENT = object()


@dataclass
class Checkout:
    """The mutable state of one opened version, shared by its read-only and writable views."""

    branch: str | None
    """The branch, or None for a commit or tag checkout (detached, read-only)."""
    head: str
    """The commit the version is based on."""
    seq: int
    """Number of the branch entry this state was read from or last wrote (0 when detached)."""
    stack: Stack
    """The published manifest (the branch's working area, or the commit's manifest)."""
    dirty: bool
    """Whether the published working area holds uncommitted changes."""
    load_keys: Callable[[], dict[str, str]]
    """Reads the published manifest (called once, on the first use of :attr:`keys`)."""
    pending: dict[str, str | None] = field(default_factory=dict)
    """Changes since the last publish: key -> object name, or None for a deletion."""
    fresh: set[str] = field(default_factory=set)
    """Names of objects written since the last publish (still private, so rewritable)."""
    pack: dict[str, patches.Ranges] = field(default_factory=dict)
    """The patches made since the last publish, by the base object they patch: written as one
    pack object named ``pack_name`` when the publish is (see :mod:`patches`)."""
    pack_name: str | None = None
    """The name the pending chains give this publish's pack (None while it has no patch)."""
    next_id: str | None = None
    """The id the branch's next commit gets (see ``refs.BranchState.pending``); None when detached."""
    created: float | None = None
    """When the branch was created (carried into every entry this checkout writes)."""
    meta: str | None = None
    """The consolidated metadata document of the published state (None: it has none, or it
    could not be read)."""
    documents: metadata.Documents | None = None
    """Metadata key -> bytes of the shown state (published and pending); None until ``meta``
    is read, and while the version has no usable document."""
    loaded_keys: dict[str, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def keys(self) -> dict[str, str]:
        """Logical key -> object name: the published manifest with pending changes applied
        (read on first use)."""
        keys = self.loaded_keys
        if keys is None:
            with self._lock:
                if self.loaded_keys is None:
                    self.loaded_keys = self.load_keys()
                keys = self.loaded_keys
        return keys

    def show(self, stack: Stack, meta: str | None, load_keys: Callable[[], dict[str, str]]) -> None:
        """Show the published state ``stack`` (read lazily by ``load_keys``) with metadata ``meta``."""
        self.stack, self.meta, self.documents = stack, meta, None
        self.load_keys, self.loaded_keys = load_keys, None


class VersionedStore(Store):
    """A zarr v3 Store showing one version of a repository; see the module docstring."""

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, repository: Repository, checkout: Checkout, *, read_only: bool) -> None:
        super().__init__(read_only=read_only or checkout.branch is None or repository.store.read_only)
        self._repo = repository
        self._co = checkout
        physical = repository.store
        self._physical = physical
        self._get_sync = getattr(physical, "get_sync", None)
        self._read_bytes = getattr(physical, "read_bytes", None)  # a bytes-level read, no Buffer (RemoteStore)
        self._set_sync = getattr(physical, "set_sync", None)

    # -- identity ---------------------------------------------------------------------------------
    @property
    def repository(self) -> Repository:
        return self._repo

    @property
    def branch(self) -> str | None:
        """The branch this store writes to, or None for a commit or tag checkout."""
        return self._co.branch

    @property
    def head(self) -> str:
        """The commit this version is based on (the branch head, or the checked-out commit)."""
        return self._co.head

    @property
    def pending_id(self) -> str:
        """The id the next commit on this branch will get (v3's ``pending_commit_id``); the
        checked-out commit when detached. A branch entry written before pending ids existed gets
        one drawn now, kept from the next write of the branch on."""
        co = self._co
        if co.branch is None:
            return co.head
        if co.next_id is None:
            co.next_id = new_name()
        return co.next_id

    @property
    def has_changes(self) -> bool:
        """Whether there are uncommitted changes (published or still pending in memory)."""
        return self._co.dirty or bool(self._co.pending)

    def with_read_only(self, read_only: bool = False) -> VersionedStore:
        """A view of the same checkout (sharing its pending changes) with another read-only flag."""
        if not read_only and self._co.branch is None:
            raise DetachedHeadError(self._detached_message())
        return VersionedStore(self._repo, self._co, read_only=read_only)

    def through(self, cache: CacheSettings | None) -> VersionedStore:
        """A read-only view of the same checkout whose published objects are read through the
        cache chain ``cache`` (``Repository.through``) instead of this repository's."""
        return VersionedStore(self._repo.through(cache), self._co, read_only=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionedStore) and other._co is self._co and other.read_only == self.read_only

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by checkout

    def __repr__(self) -> str:
        at = f"branch={self._co.branch!r}" if self._co.branch else f"commit={self._co.head!r}"
        return f"VersionedStore({self._physical}, {at}, read_only={self.read_only})"

    def _detached_message(self) -> str:
        return (f"This version is commit {self._co.head!r}, not a branch head, so it is read-only; "
                "create a branch at it to write (Repository.create_branch(name, commit)).")

    def _check_writable(self) -> None:
        if self.read_only:
            if self._co.branch is None:
                raise DetachedHeadError(self._detached_message())
            raise ReadOnlyError(f"Branch {self._co.branch!r} was opened read-only (or its store is read-only); "
                                "open it with read_only=False to write.")

    # -- reads ------------------------------------------------------------------------------------
    def _missing(self, key: str, name: str) -> VersionError:
        return VersionError(f"Object {name!r} holding {key!r} is missing from the store: this version was "
                            "garbage-collected or the store is damaged.")

    # -- consolidated metadata (see the metadata module) ----------------------------------------
    def metadata_documents(self) -> metadata.Documents | None:
        """Every metadata key's bytes in this version (read once), or None when the version has
        no usable consolidated document (its metadata is then read key by key)."""
        co = self._co
        name = co.meta
        if co.documents is None and name is not None:
            physical, cache = self._repo.physical, self._repo.document_cache
            documents_ = cache.copy_of(name)
            if documents_ is None:
                documents_ = metadata.parse(physical, name, physical.get(metadata.METADATA + name))
                if documents_ is not None:
                    cache.put(name, dict(documents_))
            with co._lock:
                if co.meta == name and co.documents is None:
                    co.documents = documents_
                    if documents_ is None:
                        co.meta = None  # missing or damaged: read key by key; the next publish writes one
        return co.documents

    async def _documents_async(self) -> metadata.Documents | None:
        if self._co.documents is None and self._co.meta is not None:
            await _off_loop(self.metadata_documents)  # the physical read may go through zarr's loop
        return self._co.documents

    async def _keys_async(self) -> dict[str, str]:
        """:attr:`Checkout.keys`, read off zarr's event loop when not read yet."""
        if self._co.loaded_keys is None:
            await _off_loop(lambda: self._co.keys)
        return self._co.keys

    def _before_change(self, key: str) -> None:
        """Before ``key`` changes: read the metadata documents when it is a metadata key, so that
        the change is applied to them (:meth:`_track`)."""
        if metadata.is_metadata_key(key):
            self.metadata_documents()

    async def _before_change_async(self, key: str) -> None:
        await self._keys_async()
        if metadata.is_metadata_key(key):
            await self._documents_async()

    def _track(self, key: str, data: Buffer | bytes | None) -> None:
        """Keep the known metadata documents in step with a write (None: a deletion)."""
        documents_ = self._co.documents
        if documents_ is not None and metadata.is_metadata_key(key):
            if data is None:
                documents_.pop(key, None)
            else:
                documents_[key] = data if isinstance(data, bytes) else data.to_bytes()

    def _read_documents(self) -> metadata.Documents:
        """Every metadata key's bytes, read from the objects the manifest names: one after
        another from a store with synchronous reads (a local or memory store: a trip through
        zarr's event loop cost more than the reads, ~0.5 ms per publish that consolidates), else
        concurrently."""
        keys = [key for key in self._co.keys if metadata.is_metadata_key(key)]
        if self._get_sync is not None:
            found = [self._object_read_sync(key) for key in keys]
        else:
            async def collect() -> list[Buffer | None]:
                return await asyncio.gather(*(self._object_get(key, _PROTOTYPE, None) for key in keys))

            found = [None if buf is None else buf.to_bytes() for buf in sync(collect())]
        return {key: data for key, data in zip(keys, found, strict=True) if data is not None}

    def _consolidate(self, changes: Mapping[str, str | None]) -> str | None:
        """The consolidated document of the state after ``changes`` are published: the current
        one when they change no metadata key, else a new one (written here)."""
        co = self._co
        if co.meta is not None and not any(metadata.is_metadata_key(key) for key in changes):
            return co.meta
        documents_ = self.metadata_documents()
        if documents_ is None:
            documents_ = co.documents = self._read_documents()
        name = metadata.write(self._repo.physical, documents_)
        if name is not None:  # the version it names is opened next by a merge, a diff or a view
            self._repo.document_cache.put(name, dict(documents_))
        return name

    def read_manifest(self) -> None:
        """Read the version's manifest now (it is otherwise read when first needed), so that a
        damaged one raises here."""
        self._co.keys

    @property
    def is_empty_version(self) -> bool:
        """Whether this version holds no key (the empty root commit, or a branch reset to it)."""
        co = self._co
        if co.loaded_keys is not None:
            return not co.loaded_keys
        if not co.stack:
            return True
        return not self.metadata_documents() and not co.keys

    def get_sync(self, key: str, *, prototype: BufferPrototype | None = None,
                 byte_range: ByteRequest | None = None) -> Buffer | None:
        """Synchronous :meth:`get` (no event loop when the physical store has ``get_sync``):
        :meth:`read_bytes` in a Buffer."""
        data = self.read_bytes(key, byte_range)
        return None if data is None else (prototype or _PROTOTYPE).buffer.from_bytes(data)

    def read_bytes(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """``key``'s bytes (the part ``byte_range`` asks for), or None when it is absent, read on
        the calling thread with no Buffer made around them (what ``ByteStore`` reads)."""
        if metadata.is_metadata_key(key):
            documents_ = self.metadata_documents()
            if documents_ is not None:
                data = documents_.get(key)
                return None if data is None else _slice(data, byte_range)
        return self._object_read_sync(key, byte_range)

    def _object_read_sync(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """``key``'s bytes read from the object(s) the manifest names (None when absent)."""
        value = self._co.keys.get(key)
        if value is None:
            return None
        names = patches.parts(value)
        self._prefetch_patches(key, names)
        data = self._object_sync(key, names[0], byte_range)
        if len(names) == 1:
            return data
        ranges = [self._patch_sync(key, name, names[0]) for name in names[1:]]
        size = self._base_size_sync(names[0], byte_range)
        return bytes(self._patched(key, data, ranges, byte_range, size))

    def get_buffer_sync(self, key: str) -> mmap.mmap | memoryview | None:
        """``key``'s bytes for a reader that keeps them, copied as little as can be: a read-only
        memory map (``ByteStore.map``) when they are one whole published object (immutable: a
        private one may still be rewritten in place), else the map of the chain's base copied
        once (by NumPy, which lets other threads run meanwhile) with its patches applied; None
        otherwise (metadata, an absent key, a base that is not mapped: small, private, or not on
        local disk): read those with :meth:`get_sync`."""
        if metadata.is_metadata_key(key):
            return None
        value = self._co.keys.get(key)
        if value is None:
            return None
        names = patches.parts(value)
        if names[0] in self._co.fresh:
            return None
        mapped = self._repo.physical.map(OBJECTS + names[0])
        if mapped is None or len(names) == 1:
            return mapped
        ranges = [self._patch_sync(key, name, names[0]) for name in names[1:]]
        data = memoryview(np.frombuffer(mapped, np.uint8).copy())
        self._apply_patches(key, data, ranges, 0, whole=True)
        return data

    def get_many_sync(self, keys: Sequence[str]) -> list[Buffer | None]:
        """Whole values of ``keys`` (None for absent ones), as :meth:`get_sync` gives them: on an
        object store read together (every key's objects and patches concurrently: about one
        round trip for all instead of one or more per key), else one after another."""
        if not self._repo.physical.round_trips or len(keys) < 2:
            return [self.get_sync(key) for key in keys]

        async def collect() -> list[Buffer | None]:
            return list(await asyncio.gather(*(self.get(key, _PROTOTYPE) for key in keys)))

        return sync(collect())

    def _prefetch_patches(self, key: str, names: Sequence[str]) -> None:
        """On an object store, read the patches of ``key``'s chain over ``names[0]`` that are
        neither known nor private in one ``PhysicalStore.get_many`` call (concurrently: one
        round trip, not one each), parsed into the patch cache where ``_patch_sync`` finds them."""
        if len(names) < 3 or not self._repo.physical.round_trips:
            return
        base = names[0]
        unknown = [name for name in names[1:] if name not in self._co.fresh and self._known_patch(name, base) is None]
        if len(unknown) < 2:
            return
        for name, blob in zip(unknown, self._repo.physical.get_many([OBJECTS + name for name in unknown])):
            self._patch_ranges(key, name, base, blob)

    def cached_ranges_sync(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """:meth:`get_ranges_sync`'s answer when the key's one published object (no patch chain)
        is in the repository's cache chain; None otherwise (see ``ByteStore.cached_ranges``)."""
        if self._repo.physical.cache is None:  # (asked per chunk and window by a loader: no lookup then)
            return None
        names = self._data_objects(key)
        if len(names) != 1 or self._cache_for(names[0]) is None:
            return None
        return self._repo.physical.cached_ranges(OBJECTS + names[0], ranges)

    def _data_objects(self, key: str) -> list[str]:
        """The object names of a data key's value (``[base, *patches]``); empty for a metadata
        document or an absent key."""
        value = None if metadata.is_metadata_key(key) else self._co.keys.get(key)
        return patches.parts(value) if value is not None else []

    def get_ranges_sync(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes] | None:
        """Bytes ``[lo, hi)`` of ``key`` for each of ``ranges`` (None when absent): one
        ``PhysicalStore.get_ranges`` call for the key's base object (a local file is opened once;
        a published one through the cache chain), with its patch chain applied to each range;
        :meth:`read_bytes` per range for a metadata document."""
        names = self._data_objects(key)
        if names:
            self._prefetch_patches(key, names)
            found = self._repo.physical.get_ranges(OBJECTS + names[0], ranges,
                                                   cached=self._cache_for(names[0]) is not None)
            if found is None:
                raise self._missing(key, names[0])
            if len(names) == 1:
                return found
            pieces = [bytearray(base) for base in found]
            for name in names[1:]:
                patches.apply_to_pieces(pieces, [lo for lo, _ in ranges], self._patch_sync(key, name, names[0]))
            return [bytes(piece) for piece in pieces]
        out = []
        for lo, hi in ranges:
            data = self.read_bytes(key, RangeByteRequest(lo, hi))
            if data is None:
                return None
            out.append(data)
        return out

    async def get(self, key: str, prototype: BufferPrototype | None = None,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        if metadata.is_metadata_key(key):
            documents_ = await self._documents_async()
            if documents_ is not None:
                return _document(documents_.get(key), byte_range, prototype or _PROTOTYPE)
        await self._keys_async()
        return await self._object_get(key, prototype, byte_range)

    async def _object_get(self, key: str, prototype: BufferPrototype | None,
                          byte_range: ByteRequest | None) -> Buffer | None:
        """``key``'s bytes read from the object(s) the manifest names."""
        value = self._co.keys.get(key)
        if value is None:
            return None
        names = patches.parts(value)
        if len(names) == 1:
            return await self._object_async(key, names[0], prototype or _PROTOTYPE, byte_range)
        # the base and its patches together: one round trip on an object store, not one each
        buf, *ranges = await asyncio.gather(self._object_async(key, names[0], prototype or _PROTOTYPE, byte_range),
                                            *(self._patch_async(key, name, names[0]) for name in names[1:]))
        size = await self._physical.getsize(OBJECTS + names[0]) if isinstance(byte_range, SuffixByteRequest) else None
        patched = self._patched(key, buf.as_buffer_like(), ranges, byte_range, size)
        return (prototype or _PROTOTYPE).buffer.from_bytes(patched)

    def prefetch(self, prefixes: Sequence[str], expected_bytes: int | None = None) -> threading.Thread | None:
        """Start filling the repository's cache chain, in the background, with the published
        objects of this version's keys under ``prefixes`` (logical key prefixes, such as a
        tensor's ``"images/"``), prefix by prefix, each in key order (``CacheChain.prefetch``:
        bounded by the caches' size; ``expected_bytes``: about what they hold, see there); the
        thread that fills it, or None when there is nothing to do (no cache chain, a store without
        round trips such as local disk, or every object cached already)."""
        cache = self._repo.physical.cache
        if cache is None or not self._repo.physical.round_trips:
            return None
        co = self._co
        keys = sorted(co.keys)
        under = (keys[bisect.bisect_left(keys, prefix):bisect.bisect_left(keys, prefix + "\U0010ffff")]
                 for prefix in prefixes)  # the sorted keys that start with each prefix
        names = dict.fromkeys(name for found in under for key in found for name in self._data_objects(key)
                              if name not in co.fresh)  # (metadata is read from the consolidated document)
        return cache.prefetch([(OBJECTS + name, functools.partial(self._fetch_whole, name)) for name in names],
                              expected_bytes)

    def _fetch_whole(self, name: str) -> bytes | None:
        """Object ``name``'s bytes from the physical store (None when absent), not through the cache."""
        return self._fetch_sync(name, None)

    def _cache_for(self, name: str) -> CacheChain | None:
        """The repository's cache, for an object that is published (a private one may still be
        rewritten, so it is never cached)."""
        cache = self._repo.physical.cache
        return cache if cache is not None and name not in self._co.fresh else None

    def _object_sync(self, key: str, name: str, byte_range: ByteRequest | None = None) -> bytes:
        """Object ``name``'s bytes (the part ``byte_range`` asks for), through the cache chain
        when the object is published; CorruptDatasetError naming ``key`` when it is missing."""
        cache = self._cache_for(name)
        if cache is None:
            data = self._fetch_sync(name, byte_range)
        elif isinstance(byte_range, RangeByteRequest):  # the cache reads just the range where it can
            data = cache.read(OBJECTS + name, functools.partial(self._fetch_whole, name), byte_range.start,
                              byte_range.end, fetch_range=functools.partial(self._fetch_sync, name, byte_range))
        else:
            data = cache.read(OBJECTS + name, functools.partial(self._fetch_whole, name))
            data = None if data is None else _slice(data, byte_range)
        if data is None:
            raise self._missing(key, name)
        return data

    def _fetch_sync(self, name: str, byte_range: ByteRequest | None) -> bytes | None:
        """Object ``name``'s bytes from the physical store (None when absent): its bytes-level
        read where it has one, else a Buffer's bytes (not copied when it wraps them whole)."""
        if self._read_bytes is not None:
            return self._read_bytes(OBJECTS + name, byte_range)  # type: ignore[no-any-return]
        if self._get_sync is not None:
            buf = self._get_sync(OBJECTS + name, prototype=_PROTOTYPE, byte_range=byte_range)
        else:
            buf = sync(self._physical.get(OBJECTS + name, _PROTOTYPE, byte_range))
        return None if buf is None else as_bytes(buf)

    async def _object_async(self, key: str, name: str, prototype: BufferPrototype,
                            byte_range: ByteRequest | None = None) -> Buffer:
        cache = self._cache_for(name)
        if cache is None:
            buf = await self._physical.get(OBJECTS + name, prototype, byte_range)
            if buf is None:
                raise self._missing(key, name)
            return buf
        data = cache.get(OBJECTS + name)
        if data is None:
            buf = await self._physical.get(OBJECTS + name, prototype)
            if buf is None:
                raise self._missing(key, name)
            data = buf.to_bytes()
            cache.put(OBJECTS + name, data)
        return prototype.buffer.from_bytes(_slice(data, byte_range))

    def _base_size_sync(self, name: str, byte_range: ByteRequest | None) -> int | None:
        """The base object's size when a suffix request needs it to place the patches."""
        if not isinstance(byte_range, SuffixByteRequest):
            return None
        return self._repo.physical.size(OBJECTS + name)

    def _patch_ranges(self, key: str, name: str, base: str, blob: bytes | None) -> patches.Ranges:
        """The ranges patch object ``name`` holds for ``key``'s chain over ``base`` (every section
        of a pack is cached); CorruptDatasetError naming the object when it is damaged."""
        if blob is None:
            raise self._missing(key, name)
        try:
            if patches.is_pack(blob):
                sections = patches.decode_pack(blob)
                for section_base, section in sections.items():
                    self._repo.patch_cache.put(_section_name(name, section_base), section)
                if base not in sections:
                    raise ValueError(f"the pack holds no patch of object {base}")
                return sections[base]
            ranges = patches.decode(blob)
        except ValueError as exc:
            raise documents.damaged(self._repo.physical.describe(OBJECTS + name), f"a patch of {key!r}: {exc}") from None
        self._repo.patch_cache.put(name, ranges)
        return ranges

    def _known_patch(self, name: str, base: str) -> patches.Ranges | None:
        """The ranges of ``name`` for a chain over ``base`` without reading: this publish's pack
        (not written yet), or a parsed patch or pack section in the repository's cache."""
        co = self._co
        if name == co.pack_name:
            found = co.pack.get(base)
            if found is None:
                raise VersionError(f"The patch of object {base} is not in this publish's pack (an internal error).")
            return found
        cache = self._repo.patch_cache
        return cache.get(name) or cache.get(_section_name(name, base))

    def _patch_sync(self, key: str, name: str, base: str) -> patches.Ranges:
        known = self._known_patch(name, base)
        if known is not None:
            return known
        return self._patch_ranges(key, name, base, self._object_sync(key, name))

    async def _patch_async(self, key: str, name: str, base: str) -> patches.Ranges:
        known = self._known_patch(name, base)
        if known is not None:
            return known
        buf = await self._object_async(key, name, _PROTOTYPE)
        return self._patch_ranges(key, name, base, buf.to_bytes())

    def _patched(self, key: str, base: bytes | memoryview, ranges: list[patches.Ranges],
                 byte_range: ByteRequest | None, size: int | None) -> bytearray:
        """``base`` (the base object, or the asked part of it) with the patch ``ranges`` applied, in
        one copy of its bytes."""
        data = bytearray(base)
        if isinstance(byte_range, RangeByteRequest):
            start = byte_range.start
        elif isinstance(byte_range, OffsetByteRequest):
            start = byte_range.offset
        elif isinstance(byte_range, SuffixByteRequest):
            start = (size or 0) - len(data)
        else:
            start = 0
        self._apply_patches(key, data, ranges, start, whole=byte_range is None)
        return data

    def _apply_patches(self, key: str, data: bytearray | memoryview, ranges: list[patches.Ranges], start: int, *,
                       whole: bool) -> None:
        """``patches.apply`` of each of ``ranges`` in order; a patch that does not fit its object
        (``whole``: ``data`` is all of it) is damage, named."""
        try:
            for part in ranges:
                patches.apply(data, part, start, whole=whole)
        except ValueError as exc:
            raise documents.damaged(self.describe(key), f"a patch does not fit its object: {exc}") from None

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(key, prototype, byte_range) for key, byte_range in key_ranges)))

    async def exists(self, key: str) -> bool:
        if metadata.is_metadata_key(key):
            documents_ = await self._documents_async()
            if documents_ is not None:
                return key in documents_
        return key in await self._keys_async()

    async def getsize(self, key: str) -> int:
        if metadata.is_metadata_key(key):
            documents_ = await self._documents_async()
            if documents_ is not None:
                if key not in documents_:
                    raise FileNotFoundError(key)
                return len(documents_[key])
        value = (await self._keys_async()).get(key)
        if value is None:
            raise FileNotFoundError(key)
        return await self._physical.getsize(OBJECTS + patches.parts(value)[0])  # patches keep the size

    # -- listing ----------------------------------------------------------------------------------
    async def list(self) -> AsyncIterator[str]:
        for key in list(await self._keys_async()):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in [key for key in await self._keys_async() if key.startswith(prefix)]:
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        await self._keys_async()
        prefix = prefix.rstrip("/")
        if prefix:
            start = prefix + "/"
            names = {key[len(start):].split("/", 1)[0] for key in self._co.keys if key.startswith(start)}
        else:
            names = {key.split("/", 1)[0] for key in self._co.keys}
        for name in names:
            yield name

    # -- writes -----------------------------------------------------------------------------------
    def _name_for(self, key: str) -> str:
        return self._private_name(key)[0]

    def _private_name(self, key: str) -> tuple[str, bool]:
        """The object a write of ``key`` goes to: its private object (written since the last
        publish, rewritten in place), else a new name; and whether the name is new (no file yet)."""
        current = self._co.pending.get(key)
        if current is not None and current in self._co.fresh:
            return current, False
        name = new_name()
        self._co.fresh.add(name)
        return name, True

    def _record(self, key: str, name: str) -> None:
        self._co.keys[key] = name
        self._co.pending[key] = name

    def _drop_private_patches(self, key: str) -> None:
        """Before ``key`` gets a whole new object or goes: drop its patch from this publish's
        pack (the only patch of a chain that is not published yet)."""
        value = self._co.pending.get(key)
        if value is not None and patches.parts(value)[-1] == self._co.pack_name:
            self._co.pack.pop(patches.parts(value)[0], None)

    def set_ranges_sync(self, key: str, ranges: patches.Ranges) -> None:
        """Write each ``(offset, bytes)`` of ``ranges`` over the existing object of ``key``
        (its size does not change). A private object is rewritten in place; a published one gets
        a patch (see :mod:`patches`) in this publish's pack, written when the publish is: the
        bytes written are about those of ``ranges``, not of the object. A chain grown past its
        limits is folded into one new object. A metadata key gets a whole new object (its bytes
        are kept in the consolidated document too)."""
        self._check_writable()
        co = self._co
        value = co.keys.get(key)
        if value is None:
            raise KeyError(key)
        if metadata.is_metadata_key(key):
            whole = bytearray(self.get_sync(key).to_bytes())
            patches.apply(whole, ranges, whole=True)
            self.set_sync(key, _PROTOTYPE.buffer.from_bytes(bytes(whole)))
            return
        names = patches.parts(value)
        if len(names) == 1 and names[0] in co.fresh:
            data = bytearray(self._object_sync(key, names[0]))
            patches.apply(data, ranges, whole=True)
            self._physical_set(names[0], bytes(data))
            return
        self._repo.prepare_write()
        base, chain = names[0], names[1:]
        if chain and chain[-1] == co.pack_name:  # patched before in this publish: one patch of both
            ranges = patches.merged(co.pack.pop(base), ranges)
            chain.pop()
        # size-tiered: take the patches on top into the new one while it is at least their size
        while chain and patches.size(ranges) >= patches.size(self._patch_sync(key, chain[-1], base)):
            ranges = patches.merged(self._patch_sync(key, chain[-1], base), ranges)
            chain.pop()
        base_size = self._repo.physical.size(OBJECTS + base)
        held = patches.size(ranges) + sum(patches.size(self._patch_sync(key, part, base)) for part in chain)
        if len(chain) < patches.MAX_PATCHES and held <= patches.MAX_PATCH_FRACTION * base_size \
                and base not in co.pack:  # (keys never share a base; if one did, it would get a whole object)
            if co.pack_name is None:
                co.pack_name = new_name()
            co.pack[base] = ranges
            self._record(key, patches.chain(base, [*chain, co.pack_name]))
        else:  # fold the chain and the new ranges into one whole object
            whole = bytearray(self._object_sync(key, base))
            for ranges_below in [*(self._patch_sync(key, part, base) for part in chain), ranges]:
                patches.apply(whole, ranges_below, whole=True)
            folded = new_name()
            co.fresh.add(folded)
            self._physical_set(folded, bytes(whole))
            self._record(key, folded)

    def _physical_set(self, name: str, data: bytes) -> None:
        buf = _PROTOTYPE.buffer.from_bytes(data)
        if self._set_sync is not None:
            self._set_sync(OBJECTS + name, buf)
        else:
            sync(self._physical.set(OBJECTS + name, buf))

    def set_sync(self, key: str, value: Buffer) -> None:
        """Synchronous :meth:`set`."""
        self._check_writable()
        self._before_change(key)
        self._drop_private_patches(key)
        name = self._name_for(key)
        if self._set_sync is not None:
            self._set_sync(OBJECTS + name, value)
        else:
            sync(self._physical.set(OBJECTS + name, value))
        self._record(key, name)
        self._track(key, value)

    def set_parts_sync(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """:meth:`set_sync` of the concatenation of ``parts``. A new object is created from the
        parts in place (``PhysicalStore.put_new``: on local disk one ``writev``, no joined copy
        in memory, no temporary file: nothing names the object until it is published, after it
        is flushed); a private object being rewritten, or a metadata key, gets them joined."""
        if metadata.is_metadata_key(key):
            self.set_sync(key, _PROTOTYPE.buffer.from_bytes(b"".join(parts)))
            return
        self._check_writable()
        self._drop_private_patches(key)
        name, new = self._private_name(key)
        if new:
            self._repo.physical.put_new(OBJECTS + name, parts)
        else:
            self._physical_set(name, b"".join(parts))
        self._record(key, name)

    def flush_soon(self, key: str) -> None:
        """Start making the object of ``key`` durable now (``ByteStore.flush_soon``) when it is a
        private whole object, which the next publish flushes; nothing otherwise."""
        value = self._co.pending.get(key)
        if value is not None and value in self._co.fresh:
            self._repo.physical.flush_soon(OBJECTS + value)

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._before_change_async(key)
        self._drop_private_patches(key)
        name = self._name_for(key)
        await self._physical.set(OBJECTS + name, value)
        self._record(key, name)
        self._track(key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if key not in await self._keys_async():
            await self.set(key, value)

    def _forget(self, key: str) -> list[str]:
        """Drop ``key`` from the version; return the names of its objects that are private
        (written since the last publish) and so can be deleted at once."""
        self._drop_private_patches(key)
        value = self._co.keys.pop(key, None)
        if value is None:
            return []
        self._co.pending[key] = None
        self._track(key, None)
        private = [name for name in patches.parts(value) if name in self._co.fresh]
        self._co.fresh.difference_update(private)
        return private

    def delete_sync(self, key: str) -> None:
        """Synchronous :meth:`delete`."""
        self._check_writable()
        self._before_change(key)
        for name in self._forget(key):
            self._repo.physical.delete(OBJECTS + name)

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._before_change_async(key)
        for name in self._forget(key):
            await self._physical.delete(OBJECTS + name)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        await self._keys_async()
        for key in self._keys_under(prefix):
            await self.delete(key)

    def delete_dir_sync(self, prefix: str) -> None:
        """Synchronous :meth:`delete_dir`."""
        self._check_writable()
        for key in self._keys_under(prefix):
            self.delete_sync(key)

    def _keys_under(self, prefix: str) -> list[str]:
        """The keys under folder ``prefix`` (every key for "")."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return [key for key in self._co.keys if key.startswith(prefix)]

    async def clear(self) -> None:
        await self.delete_dir("")

    def move_prefix(self, source: str, target: str) -> int:
        """Move every key under ``source`` to the same place under ``target`` (both prefixes end
        with '/'); returns how many keys moved. No bytes are copied: the moved keys name the same
        objects (immutable once published; a private object just stops being rewritable in place).
        Keys already under ``target`` are replaced."""
        self._check_writable()
        if not (source.endswith("/") and target.endswith("/")) or target.startswith(source) or source.startswith(target):
            raise ValueError(f"Cannot move {source!r} to {target!r}: prefixes must end with '/' and not nest.")
        co = self._co
        for key in [key for key in co.keys if key.startswith(target)]:
            self.delete_sync(key)
        moved = [(key, co.keys[key]) for key in co.keys if key.startswith(source)]
        documents_ = self.metadata_documents()
        for key, name in moved:
            co.fresh.difference_update(patches.parts(name))
            del co.keys[key]
            co.pending[key] = None
            self._record(target + key[len(source):], name)
            if documents_ is not None and key in documents_:
                documents_[target + key[len(source):]] = documents_.pop(key)
        return len(moved)

    # -- publishing and committing ----------------------------------------------------------------
    def _push_pending(self) -> tuple[Stack, str | None, dict[str, str | None], list[str]]:
        """Write the pending changes as a manifest delta, and a consolidated metadata document
        when they change metadata; return (new stack, its document, the changes written, the
        keys written). The caller flushes those keys to disk before the ref entry that names
        them lands (with any other document of the same landing: one round of fsyncs)."""
        co = self._co
        if co.pack_name is not None:  # this publish's patches, as one object
            if co.pack:
                self._repo.physical.put_new(OBJECTS + co.pack_name, patches.encode_pack(co.pack))
                co.fresh.add(co.pack_name)
                for base, ranges in co.pack.items():
                    self._repo.patch_cache.put(_section_name(co.pack_name, base), ranges, replace=True)
            co.pack, co.pack_name = {}, None
        snapshot = dict(self._co.pending)
        named = {name for value in snapshot.values() if value is not None for name in patches.parts(value)}
        written = [OBJECTS + name for name in named if name in self._co.fresh]
        stack = manifest.push(self._repo.physical, self._co.stack, snapshot, self._repo.delta_cache)
        meta = self._consolidate(snapshot) if stack else None
        if meta is not None and meta != self._co.meta:
            written.append(metadata.METADATA + meta)
        self._co.fresh.difference_update(named)  # published objects are immutable
        return stack, meta, snapshot, written + manifest.new_deltas(self._co.stack, stack)

    def _state(self, head: str, stack: Stack, meta: str | None, dirty: bool, pending: str | None) -> BranchState:
        return BranchState(head, stack, dirty, pending=pending, created=self._co.created, meta=meta)

    def _land(self, state: BranchState, written: Mapping[str, str | None], after: Sequence[str] = ()) -> None:
        """Advance the branch to ``state`` (one put-if-absent entry, once the just written keys
        ``after`` that it names are durable), then forget ``written``."""
        co = self._co
        assert co.branch is not None
        co.seq = self._repo.write_branch_state(co.branch, co.seq, state, after)
        co.head, co.stack, co.dirty, co.next_id = state.head, state.stack, state.dirty, state.pending
        co.meta = state.meta
        for key, name in written.items():
            if co.pending.get(key, _ABSENT) == name:
                del co.pending[key]

    @property
    def held_patch_bytes(self) -> int:
        """Bytes of the patches this publish holds in memory (its pack, written when it lands)."""
        return sum(patches.size(ranges) for ranges in self._co.pack.values())

    def publish(self) -> None:
        """Make pending changes durable and visible on this branch, atomically (a no-op when
        nothing is pending). Raises VersionConflictError if another writer moved the branch."""
        self._check_writable()
        if self._co.pending:
            self._repo.prepare_write()
            stack, meta, written, keys = self._push_pending()
            self._land(self._state(self._co.head, stack, meta, True, self.pending_id), written, keys)

    def commit(self, message: str = "", author: str = "", changes: Mapping[str, Any] | None = None,
               extra_parents: Sequence[str] = ()) -> str:
        """Commit the working area (published and pending changes); return the new commit id:
        :attr:`pending_id` (a fresh id only when a writer that lost a race or crashed already
        used it). The branch gets a new pending id.

        ``changes`` is recorded verbatim (must be JSON-serialisable). ``extra_parents`` are the
        other parents of a merge commit. The commit lands in one put-if-absent branch entry, or
        not at all (VersionConflictError when another writer moved the branch).
        """
        self._check_writable()
        changes = dict(changes or {})
        try:
            json.dumps(changes)
        except (TypeError, ValueError) as exc:
            raise VersionError(f"Commit changes must be JSON-serialisable: {exc}") from None
        parents = (self._co.head, *(self._repo.commits.get(parent).id for parent in extra_parents))
        self._repo.prepare_write()
        if self._co.pending:
            stack, meta, written, keys = self._push_pending()
        else:
            stack, meta, written, keys = self._co.stack, self._co.meta, {}, []
        commit = Commit(id=self.pending_id, parents=parents, message=message, author=author, time=time.time(),
                        manifest=stack, changes=changes, meta=meta)
        while not self._repo.commits.create(commit, durable=False):
            commit = replace(commit, id=new_name())
        # objects, manifest deltas, documents and the commit reach the disk before the ref entry
        self._land(self._state(commit.id, stack, meta, False, new_name()), written, [*keys, commit_key(commit.id)])
        return commit.id

    def reset(self) -> None:
        """Drop every uncommitted change (pending and published); the store shows its head commit
        and the branch gets a new pending id (one put-if-absent entry)."""
        self._check_writable()
        co = self._co
        head = self._repo.commits.get(co.head)
        self._land(self._state(head.id, head.manifest, head.meta, False, new_name()), {})
        for name in co.fresh:
            self._repo.physical.delete(OBJECTS + name)
        co.pending.clear()
        co.fresh.clear()
        co.pack, co.pack_name = {}, None
        co.show(head.manifest, head.meta, self._repo.manifest_loader(head.manifest))

    def describe(self, key: str) -> str:
        """Where logical ``key`` is stored, for messages: the key and its object's file or URL."""
        value = self._co.keys.get(key)
        if value is None:
            return f"{key!r} (absent in this version)"
        names = patches.parts(value)
        extra = f" with {len(names) - 1} patch object(s)" if len(names) > 1 else ""
        return f"{key!r} (object {self._repo.physical.describe(OBJECTS + names[0])}{extra})"

    def object_of(self, key: str) -> str | None:
        """The name of the object holding logical ``key`` in this version (None when absent).
        Two versions whose keys name the same object hold the same bytes there."""
        return self._co.keys.get(key)

    def patched_bytes(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``[start, stop)`` of ``key`` when one range of the newest patch that writes any of
        them writes them all (they are then final, and as authentic as the patch object, whose
        own checksum was verified), without reading the base object; None otherwise (no chain,
        bytes from several ranges, or patches with many ranges: read the object)."""
        value = self._co.keys.get(key)
        if value is None or patches.SEPARATOR not in value or stop <= start:
            return None
        names = patches.parts(value)
        self._prefetch_patches(key, names)
        for name in reversed(names[1:]):
            ranges = self._patch_sync(key, name, names[0])
            if len(ranges) > _PATCH_LOOKUP_RANGES:
                return None
            hits = [(offset, data) for offset, data in ranges if offset < stop and offset + len(data) > start]
            if not hits:
                continue
            offset, data = hits[0]
            if len(hits) == 1 and offset <= start and offset + len(data) >= stop:
                return bytes(data[start - offset: stop - offset])
            return None
        return None

    def changed_ranges(self, key: str, other: str | None) -> list[tuple[int, int]] | None:
        """Byte ranges ``(offset, length)`` outside which ``key``'s bytes in this version equal
        those of the object value ``other`` (another version's :meth:`object_of` of the key),
        found from their patch chains without reading the objects: when both chains start from
        the same base, a differing byte lies in a patch that only one of them has. None when that
        cannot tell (different bases, a key absent on one side); [] for the same value."""
        mine = self._co.keys.get(key)
        if mine is None or other is None:
            return None
        if mine == other:
            return []
        a, b = patches.parts(mine), patches.parts(other)
        if a[0] != b[0]:
            return None
        common = 0
        while common + 1 < min(len(a), len(b)) and a[common + 1] == b[common + 1]:
            common += 1
        return [(offset, len(data)) for name in a[common + 1:] + b[common + 1:]
                for offset, data in self._patch_sync(key, name, a[0])]

    def manifest_diff(self, other: VersionedStore | str) -> set[str]:
        """Logical keys whose content differs between this version and ``other`` (a store, or a
        branch / tag / commit id, read at its head commit or published working area)."""
        theirs = other._co.keys if isinstance(other, VersionedStore) else self._repo.manifest_of(other)
        mine = self._co.keys
        return {key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key)}


_LOADERS: tuple[int, ThreadPoolExecutor] | None = None


async def _off_loop(function: Callable[[], object]) -> None:
    """Run ``function`` (a first read of a version's manifest or metadata, which makes blocking
    store calls) on a small pool of this process's own, so that it never waits for a thread of
    the event loop's default pool, which the store calls it makes need (a store's many
    concurrent reads may all be waiting for the same first read)."""
    global _LOADERS
    if _LOADERS is None or _LOADERS[0] != os.getpid():  # threads do not survive a fork
        _LOADERS = (os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="deeplake_nb-version"))
    await asyncio.get_running_loop().run_in_executor(_LOADERS[1], function)


_PATCH_LOOKUP_RANGES = 64
"""``patched_bytes`` looks at patches of at most this many ranges (a few updated samples)."""


def _section_name(pack: str, base: str) -> str:
    """The patch cache's name for the section of pack ``pack`` that patches object ``base``."""
    return f"{pack}:{base}"


def _document(data: bytes | None, byte_range: ByteRequest | None, prototype: BufferPrototype) -> Buffer | None:
    """A metadata document's bytes (the part ``byte_range`` asks for) as a Buffer; None when absent."""
    return None if data is None else prototype.buffer.from_bytes(_slice(data, byte_range))


def _slice(data: bytes, byte_range: ByteRequest | None) -> bytes:
    """The part of ``data`` that ``byte_range`` asks for (all of it for None)."""
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start: byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset:]
    if isinstance(byte_range, SuffixByteRequest):
        return data[len(data) - min(byte_range.suffix, len(data)):]
    return data
