"""Repository: version control over one physical zarr Store (branches, tags, commits, checkouts).

Physical layout (every name below ``objects/``, ``manifests/`` and ``commits/`` is a
time-stamped :mod:`names` name, written once and never changed):

    repo.json                              {"format": "deeplake_nb.version", "version": 4}
    objects/<name>                         the bytes of one logical zarr key at one version
    manifests/<name>                       a manifest delta (see :mod:`manifest`)
    metadata/<name>                        a version's metadata documents in one (see :mod:`metadata`)
    commits/<id>                           a commit document (see :mod:`commits`)
    refs/branches/<branch>/<seq:020d>      branch entries: head, working manifest, metadata, dirty flag
    refs/branches/<branch>/latest          the hint: a copy of a recent entry (see :mod:`refs`)
    refs/tags/<tag>/00000000000000000001   a tag: the commit it names

Objects, manifest deltas, metadata documents and commit documents are never rewritten once a
ref names them (:func:`immutable` says which keys those are: caches may keep them); refs,
hints and ``repo.json`` change.

The highest branch entry is the branch's whole state, so the working area (uncommitted but
published changes) lives in the branch ref itself: it survives restarts, is visible only on its
branch, and a commit replaces it and moves the head in one put-if-absent write (see :mod:`refs`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from zarr.abc.store import Store

from ..storage.cache import CacheChain, CacheSettings
from ..errors import (BranchExistsError, BranchNotFoundError, CommitNotFoundError, CorruptDatasetError,
                      FormatVersionError, TagExistsError, VersionConflictError, VersionError)
from . import documents
from . import gc as gc_module
from . import manifest, metadata
from .commits import COMMITS, Commit, CommitGraph, CommitSummary
from .manifest import MANIFESTS
from .metadata import METADATA
from .names import NAME_LENGTH, TIME_DIGITS, is_name, new_name
from .patches import SEPARATOR, PatchCache
from .physical import PhysicalStore
from .refs import BRANCHES, TAGS, BranchState, RefLog, is_ref_name, ref_names, validate_name
from .store import OBJECTS, Checkout, VersionedStore

FORMAT_KEY = "repo.json"
FORMAT = "deeplake_nb.version"
FORMAT_VERSION = 4
"""1: manifests name whole objects; 2: a manifest value may be a patch chain (:mod:`patches`);
3: ref entries, hints and commit documents are zlib-compressed JSON (:func:`documents.encode`);
4: a chain may name a patch pack (one object holding a publish's patches, :func:`patches.encode_pack`).
New repositories are written as 4; an older one is raised to 4 in ``repo.json`` before this
library's first write into it (:meth:`Repository.prepare_write`), so that older readers refuse
it cleanly instead of taking compressed entries or packs for damaged ones. Readers read every form."""
_FORMAT_DOCUMENT = json.dumps({"format": FORMAT, "version": FORMAT_VERSION}).encode()
"""What ``repo.json`` holds in a repository this library made or wrote into."""
MAIN = "main"
MIN_PREFIX = 8
"""The fewest leading characters of a commit id that name it (when no other id starts with them)."""
_HEX = re.compile(r"[0-9a-f]+")


def immutable(key: str) -> bool:
    """Whether physical ``key`` holds bytes that never change once a ref names them: an object,
    a manifest delta, a metadata document or a commit document (every one under a
    :mod:`names` name; refs, hints and ``repo.json`` change). An object is rewritten only
    before its first publish, by the one writer that knows its name."""
    folder, _, name = key.partition("/")
    return folder + "/" in (OBJECTS, MANIFESTS, METADATA, COMMITS) and is_name(name)


class Landing(NamedTuple):
    """Where a writer's changes went after other writers moved its branch (:meth:`Repository.landing_of`)."""

    moved: bool
    """Whether the branch's head moved (a commit landed) since the writer read it."""
    commit: CommitSummary | None
    """The first commit made on the branch's first-parent line after the writer's head (None when
    the head did not move, or moved to a line that does not pass through it)."""
    held: set[str]
    """The writer's changed keys that ``commit`` (or, when the head did not move, the branch's
    working area) holds as the writer left them, or with patches written on top."""


class Repository:
    """Branches, tags and commits of the versioned dataset stored in ``store`` (any zarr Store
    with an atomic ``set_if_not_exists``). ``physical`` is the sync facade over ``store``;
    ``commits`` reads and walks commit documents. ``cache``: a cache chain of the keys that
    never change (:func:`immutable`), in memory and on local disk (``storage.cache``)."""

    def __init__(self, store: Store, cache: CacheSettings | None = None) -> None:
        self.store = store
        self.cache = cache
        self.physical = PhysicalStore(store, None if cache is None else CacheChain(cache, immutable))
        self.commits = CommitGraph(self.physical)
        self.patch_cache = PatchCache()
        """Parsed patch objects, shared by every version opened from this repository."""
        self.delta_cache = manifest.DeltaCache()
        """Checked manifest deltas, shared likewise (a diff or merge opens three versions)."""
        self.document_cache = metadata.DocumentCache()
        """Parsed consolidated metadata documents, shared likewise."""
        self._format_checked = False
        self._format_raised = False

    def through(self, cache: CacheSettings | None) -> Repository:
        """This repository read through the cache chain ``cache`` instead: the same store, and the
        parsed commits, deltas, patches and documents this one holds, shared (they never change)."""
        other = Repository(self.store, cache)
        other.commits = CommitGraph(other.physical, known=self.commits)
        other.patch_cache, other.delta_cache, other.document_cache = \
            self.patch_cache, self.delta_cache, self.document_cache
        other._format_checked, other._format_raised = self._format_checked, self._format_raised
        return other

    # -- setup ------------------------------------------------------------------------------------
    @property
    def is_initialized(self) -> bool:
        """Whether :meth:`init` has run (branch 'main' exists; it can never be deleted)."""
        return self._branch_entry(MAIN)[1] is not None

    def init(self, author: str = "") -> str:
        """Create branch 'main' at an empty root commit; return the root commit id."""
        if self.is_initialized:
            raise VersionError("This store already has version control (branch 'main' exists).")
        self.physical.set(FORMAT_KEY, _FORMAT_DOCUMENT)
        self._format_checked = self._format_raised = True
        root = Commit(id=new_name(), parents=(), message="initial commit", author=author, time=time.time(),
                      manifest=())
        self.commits.write(root)
        state = BranchState(root.id, (), dirty=False, pending=new_name(), created=root.time, format=FORMAT_VERSION)
        try:
            RefLog(self.physical, BRANCHES, MAIN).advance(0, state.to_json())
        except VersionConflictError:
            raise VersionError("Another process initialised version control here at the same time.") from None
        return root.id

    def _stored_format(self) -> int:
        """The version in ``repo.json`` (1 when the file is absent, as in the first repositories)."""
        data = self.physical.get(FORMAT_KEY)
        if data is None:
            return 1
        version = documents.json_object(data, self.physical.describe(FORMAT_KEY)).get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise _newer_format(version)
        return version

    def check_format(self) -> None:
        """FormatVersionError when ``repo.json`` names a newer format than this library's (read
        once per repository object). Called when opening a version whose entry does not say which
        format wrote it; before a write, :meth:`prepare_write` checks it."""
        if not self._format_checked:
            self._stored_format()
            self._format_checked = True

    def _check_entry_format(self, state: BranchState) -> None:
        """Check the format of the repository a branch entry was written in: the entry's own
        record when it has one (no read), else ``repo.json``."""
        if state.format is None:
            self.check_format()
        elif state.format > FORMAT_VERSION:
            raise _newer_format(state.format)

    def manifest_loader(self, stack: manifest.Stack) -> Callable[[], dict[str, str]]:
        """What reads the manifest of ``stack`` when a version first needs it."""
        return lambda: manifest.load(self.physical, stack, self.delta_cache)

    def prepare_write(self) -> None:
        """Called before anything is written (an object, a patch, a document, an entry):
        FormatVersionError when ``repo.json`` names a newer format; when it names an older one,
        rewrite it as :data:`FORMAT_VERSION` (durably, once per repository object), so that
        readers which know neither patches nor compressed documents refuse the repository
        instead of misreading it."""
        if self._format_raised:
            return
        if self._stored_format() < FORMAT_VERSION:
            self.physical.set(FORMAT_KEY, _FORMAT_DOCUMENT)
            self.physical.flush_to_disk([FORMAT_KEY])
        self._format_checked = self._format_raised = True

    # -- refs -------------------------------------------------------------------------------------
    def _branch_entry(self, name: str) -> tuple[int, BranchState | None]:
        number, payload = RefLog(self.physical, BRANCHES, name).latest()
        return number, None if payload is None else BranchState.from_json(payload)

    def _live_branch(self, name: str) -> tuple[int, BranchState]:
        validate_name(name, "branch")
        number, state = self._branch_entry(name)
        if state is None:
            raise BranchNotFoundError(f"Branch {name} does not exist; branches: {sorted(self.branches)}.")
        return number, state

    def _tag_commit(self, name: str) -> str | None:
        payload = RefLog(self.physical, TAGS, name).latest()[1]
        return None if payload is None else payload["commit"]

    def branch_states(self) -> dict[str, BranchState]:
        """Live branch name -> its state: "main" first, then in creation order (branches from
        before creation times were recorded come after "main", by name)."""
        states = {}
        for name in ref_names(self.physical, BRANCHES):
            state = self._branch_entry(name)[1]
            if state is not None:
                states[name] = state
        order = sorted(states, key=lambda name: (name != MAIN, states[name].created or 0.0, name))
        return {name: states[name] for name in order}

    @property
    def branches(self) -> dict[str, str]:
        """Live branch name -> head commit id, in the order of :meth:`branch_states`."""
        return {name: state.head for name, state in self.branch_states().items()}

    @property
    def tags(self) -> dict[str, str]:
        """Tag name -> commit id."""
        out = {}
        for name in ref_names(self.physical, TAGS):
            commit = self._tag_commit(name)
            if commit is not None:
                out[name] = commit
        return out

    def locate(self, ref: str) -> tuple[str | None, str]:
        """(branch, commit id) that ``ref`` stands for. ``ref`` is a branch name or a branch's
        pending commit id (the branch, at its head commit), a tag or a commit id (branch None),
        or at least 8 leading characters of a commit id or pending id, or of its random part
        (the 20 characters after the 12-digit time stamp, which short ids show). Raises
        CommitNotFoundError when it is none of these or when a prefix fits several commits."""
        if is_ref_name(ref):
            state = self._branch_entry(ref)[1]
            if state is not None:
                return ref, state.head
            commit = self._tag_commit(ref)
            if commit is not None:
                return None, commit
        if isinstance(ref, str) and is_name(ref):
            return self._locate_id(ref)
        if isinstance(ref, str) and MIN_PREFIX <= len(ref) < NAME_LENGTH and _HEX.fullmatch(ref):
            return self._locate_id(self._expand_prefix(ref))
        raise self._not_found(ref)

    def _locate_id(self, commit_id: str) -> tuple[str | None, str]:
        if self.commits.find(commit_id) is not None:
            return None, commit_id
        for name, state in self.branch_states().items():
            if state.pending == commit_id:
                return name, state.head
        raise self._not_found(commit_id)

    def _expand_prefix(self, prefix: str) -> str:
        """The one commit or pending id that ``prefix`` begins, or whose random part it begins."""
        ids = set(self.commits.ids())
        ids.update(state.pending for state in self.branch_states().values() if state.pending is not None)
        found = sorted(i for i in ids if i.startswith(prefix) or i[TIME_DIGITS:].startswith(prefix))
        if len(found) == 1:
            return found[0]
        if not found:
            raise self._not_found(prefix)
        raise CommitNotFoundError(f"{prefix!r} is the start of {len(found)} commit ids ({', '.join(found[:5])}"
                                  f"{' ...' if len(found) > 5 else ''}); give more characters.")

    def _not_found(self, ref: object) -> VersionError:
        branches = list(self.branches)
        if not branches:
            return VersionError("This store has no version control yet; call Repository.init() first.")
        return CommitNotFoundError(f"{ref!r} is not a branch, tag or commit id of this dataset; "
                                   f"branches: {branches}, tags: {sorted(self.tags)}.")

    def resolve(self, ref: str) -> str:
        """The commit id ``ref`` stands for (a branch's head commit; see :meth:`locate`)."""
        return self.locate(ref)[1]

    def write_branch_state(self, branch: str, seen: int, state: BranchState, after: Sequence[str] = ()) -> int:
        """Advance ``branch`` from entry ``seen`` to ``state`` (stamped with this library's
        format); return the new entry number. Raises VersionConflictError when another writer
        moved it first, FormatVersionError when the repository has a newer format. ``after``:
        the just written keys the state names (made durable before the entry appears)."""
        self.prepare_write()
        return RefLog(self.physical, BRANCHES, branch).advance(seen, replace(state, format=FORMAT_VERSION).to_json(),
                                                              after)

    def check_new_branch(self, name: str) -> int:
        """Raise InvalidRefNameError / BranchExistsError unless a branch ``name`` could be created
        now; return the number of its latest entry (0, or a deleted branch's tombstone)."""
        validate_name(name, "branch")
        if self._tag_commit(name) is not None:
            raise BranchExistsError(f"A tag named {name!r} exists; branches and tags share names.")
        number, state = self._branch_entry(name)
        if state is not None:
            raise BranchExistsError(f"Branch {name!r} already exists (at commit {state.head}).")
        return number

    def create_branch(self, name: str, from_ref: str) -> str:
        """Create branch ``name`` at the commit ``from_ref`` stands for (a branch's head, not its
        uncommitted changes); return that commit id."""
        number = self.check_new_branch(name)
        commit = self.commits.get(self.resolve(from_ref))
        state = BranchState(commit.id, commit.manifest, dirty=False, pending=new_name(), created=time.time(),
                            meta=commit.meta)
        try:
            self.write_branch_state(name, number, state)
        except VersionConflictError:
            raise BranchExistsError(f"Branch {name!r} was created by another writer just now.") from None
        return commit.id

    def delete_branch(self, name: str) -> None:
        """Delete branch ``name`` and its uncommitted changes (its commits stay while reachable)."""
        if name == MAIN:
            raise VersionError("Cannot delete the main branch: 'main' cannot be deleted.")
        number, _ = self._live_branch(name)
        self.prepare_write()
        RefLog(self.physical, BRANCHES, name).advance(number, {"deleted": True})

    def tag(self, name: str, ref: str) -> str:
        """Tag the commit ``ref`` stands for as ``name`` (tags never move); return the commit id.
        Tagging the same commit again is a no-op."""
        validate_name(name, "tag")
        if self._branch_entry(name)[1] is not None:
            raise BranchExistsError(f"A branch named {name!r} exists; branches and tags share names.")
        commit_id = self.resolve(ref)
        existing = self._tag_commit(name)
        if existing is None:
            self.prepare_write()
            try:
                RefLog(self.physical, TAGS, name).advance(0, {"commit": commit_id})
                return commit_id
            except VersionConflictError:
                existing = self._tag_commit(name)
        if existing != commit_id:
            raise TagExistsError(f"Tag {name!r} already names commit {existing}; tags never move.")
        return commit_id

    # -- history ----------------------------------------------------------------------------------
    def commit_doc(self, ref: str) -> Commit:
        """The commit document of a commit id (or of the commit a branch or tag stands for)."""
        return self.commits.get(self.resolve(ref))

    def history(self, ref: str = MAIN) -> list[CommitSummary]:
        """What a log shows of ``ref``'s commit and its first-parent ancestors, newest first: a
        few document reads however long the history is (see :mod:`commits`)."""
        return self.commits.first_parent_log(self.resolve(ref))

    def log(self, ref: str = MAIN) -> list[Commit]:
        """The documents of ``ref``'s commit and its first-parent ancestors, newest first (one
        read per commit not read before; :meth:`history` when the summaries are enough)."""
        return [self.commits.get(summary.id) for summary in self.history(ref)]

    def landing_of(self, branch: str, head: str, mine: Mapping[str, str | None]) -> Landing:
        """Where the changes ``mine`` (logical key -> object name, None for a deletion) made on
        ``branch`` from commit ``head`` went after another writer moved the branch (for conflict
        messages): into the commit made right after ``head``, or still in the working area.
        BranchNotFoundError when the branch was deleted."""
        state = self._live_branch(branch)[1]
        commit = None
        if state.head != head:
            commit = next((c for c in self.history(state.head) if c.parents[:1] == (head,)), None)
            if commit is None:
                return Landing(True, None, set())
        theirs = manifest.load(self.physical, self.commits.get(commit.id).manifest if commit else state.stack,
                               self.delta_cache)
        held = {key for key, value in mine.items()
                if theirs.get(key) == value or (value is not None and str(theirs.get(key)).startswith(value + SEPARATOR))}
        return Landing(commit is not None, commit, held)

    def common_ancestor(self, a: str, b: str) -> str | None:
        """The merge base of two refs (see :meth:`CommitGraph.merge_base`)."""
        return self.commits.merge_base(self.resolve(a), self.resolve(b))

    def manifest_of(self, ref: str) -> dict[str, str]:
        """The manifest (logical key -> object name) a fresh :meth:`open` of ``ref`` would show."""
        branch, commit_id = self.locate(ref)
        if branch is not None:
            state = self._branch_entry(branch)[1]
            if state is not None:
                return manifest.load(self.physical, state.stack, self.delta_cache)
        return manifest.load(self.physical, self.commits.get(commit_id).manifest, self.delta_cache)

    # -- checkouts --------------------------------------------------------------------------------
    def open(self, ref: str = MAIN, read_only: bool = False) -> VersionedStore:
        """A zarr Store at ``ref``: a branch or its pending commit id (its working area; writable
        unless ``read_only``) or a tag / commit id (always read-only); see :meth:`locate`.
        Opening a branch reads its entry (two requests with a current hint) and nothing else:
        the version's metadata document and its manifest are read when first needed."""
        try:
            branch, number, state = (ref, *self._branch_entry(ref)) if is_ref_name(ref) else (None, 0, None)
        except CorruptDatasetError:
            self.check_format()  # an entry of a newer format is not damaged, only newer
            raise
        if state is None:  # not a live branch's name: the branch's entry is read once either way
            self.check_format()
            branch, commit_id = self.locate(ref)
            number, state = self._branch_entry(branch) if branch is not None else (0, None)
        if state is not None:
            self._check_entry_format(state)
            checkout = Checkout(branch=branch, head=state.head, seq=number, stack=state.stack, dirty=state.dirty,
                                load_keys=self.manifest_loader(state.stack), next_id=state.pending,
                                created=state.created, meta=state.meta)
            return VersionedStore(self, checkout, read_only=read_only)
        commit = self.commits.get(commit_id)
        checkout = Checkout(branch=None, head=commit.id, seq=0, stack=commit.manifest, dirty=False,
                            load_keys=self.manifest_loader(commit.manifest), meta=commit.meta)
        return VersionedStore(self, checkout, read_only=True)

    def has_changes(self, branch: str) -> bool:
        """Whether ``branch`` has published uncommitted changes (an open store's unpublished
        writes are not visible here)."""
        return self._live_branch(branch)[1].dirty

    def reset(self, branch: str) -> None:
        """Drop ``branch``'s published uncommitted changes (stores open on it will then conflict);
        the branch gets a new pending commit id. A no-op when it has none."""
        number, state = self._live_branch(branch)
        if state.dirty:
            head = self.commits.get(state.head)
            self.write_branch_state(branch, number, BranchState(head.id, head.manifest, dirty=False, pending=new_name(),
                                                                created=state.created, meta=head.meta))

    def gc(self, grace_seconds: float = 3600.0, now: float | None = None) -> dict[str, int]:
        """Delete what no branch, working area, tag or their history reaches and is older than
        ``grace_seconds``; prune superseded ref entries. Returns counts per kind."""
        return gc_module.collect(self.physical, self.commits, grace_seconds=grace_seconds,
                                 now=time.time() if now is None else now)


def _newer_format(version: object) -> FormatVersionError:
    """The error for a repository or entry of a format newer than :data:`FORMAT_VERSION`."""
    return FormatVersionError(f"This dataset's version-control format is {version!r}; this deeplake_nb "
                              f"reads up to {FORMAT_VERSION}. Upgrade deeplake_nb to open it.")
