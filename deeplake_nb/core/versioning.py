"""Version control on a Dataset, with Deep Lake v3's names and semantics: commit, checkout, log,
diff, merge, tags, reset, branches, commits, commit_id, pending_commit_id.

The storage half lives in :mod:`deeplake_nb.version` (immutable objects, manifests, put-if-absent
refs); this mixin drives it from the dataset and adds the sample-level parts (diff, merge).

As in v3, a write on a checked-out commit or tag that is not a branch head first makes a branch
``auto_<id>`` there and goes to it (``branch_off``, with an AutoBranchWarning); info changes there
raise instead (DetachedInfoError, v3's InfoError).

Where this differs from v3, on purpose:

- Uncommitted changes stay on their branch across checkouts and restarts; v3 auto-committed
  them when checking out another branch. (``checkout(create=True)`` and merging a branch that has
  uncommitted changes still auto-commit them first, as v3 did.)
- Every dataset starts from an empty root commit that ``commits`` and ``log()`` leave out:
  before the first commit ``commit_id`` is that root's id where v3 returned None.
"""

from __future__ import annotations

import getpass
import os
import secrets
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import (AutoBranchWarning, BranchNotFoundError, DeepLakeNBError, ReadOnlyError, VersionArgumentError,
                      VersionConflictError, VersionError)
from ..version import Commit, Repository, VersionedStore
from ..version.commits import CommitSummary
from ..version.lru import WeightedLRU
from . import change_log
from .diff import change_entries, dataset_diff, format_changes, match_tensors, tensor_diff
from .merge import RESOLUTIONS, merge_into

if TYPE_CHECKING:
    from os import PathLike

    from ..format.meta import DatasetMeta
    from .dataset import Dataset, DatasetState


def default_author() -> str:
    """The commit author: $DEEPLAKE_NB_AUTHOR, else the login name."""
    try:
        return os.environ.get("DEEPLAKE_NB_AUTHOR") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def utc_text(stamp: float) -> str:
    """A commit time as v3 shows it: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def _commit_dict(commit: Commit | CommitSummary) -> dict[str, Any]:
    return {"commit": commit.id, "author": commit.author, "time": utc_text(commit.time), "message": commit.message,
            "parents": list(commit.parents)}


# -- "path@version" and opening a version ------------------------------------------------------------
def split_address(path: str | PathLike[str]) -> tuple[str | PathLike[str], str | None]:
    """``"path@version"`` -> ``("path", "version")`` (a branch, tag, commit id or pending id), as
    Deep Lake v3 reads dataset paths; ``(path, None)`` when there is no version. An ``@`` belongs
    to the path when the whole string names an existing local directory or a ``/`` follows it
    (``user@host`` in a URL)."""
    text = os.fspath(path)
    if not isinstance(text, str) or "@" not in text or os.path.isdir(text):
        return path, None
    head, _, address = text.rpartition("@")
    if not head or not address or "/" in address or "\\" in address:
        return path, None
    return head, address


def refuse_address(path: str | PathLike[str], action: str) -> None:
    """VersionArgumentError (a ValueError) when ``path`` names a version (``"path@version"``):
    ``action`` (``dl.empty``, ``dl.exists``, ``dl.delete``) acts on a whole dataset, as in v3."""
    head, address = split_address(path)
    if address is not None:
        raise VersionArgumentError(f"{action} takes a dataset path without a version; got {os.fspath(path)!r} "
                                   f"(version {address!r}). Pass {os.fspath(head)!r}; an '@' may end a path "
                                   "only to name a version for dl.load.")


def one_version(version: str | None, address: str | None) -> str | None:
    """The version asked for by ``version=`` and/or ``path@address`` (they must agree)."""
    if version is not None and address is not None and version != address:
        raise VersionArgumentError(f"The path names version {address!r} and version={version!r} names another; "
                                   "give one of them.")
    return version if version is not None else address


def open_version(path: str, repo: Repository, ref: str, read_only: bool, reset: bool = False, lazy: bool = False
                 ) -> tuple[VersionedStore, DatasetMeta]:
    """The store and dataset document of version ``ref`` (branch, pending id, tag or commit id;
    only a branch opens writable). With ``reset=True``, a branch whose uncommitted state cannot
    be read loses its uncommitted changes and opens at its head commit (v3's ``reset``); that
    needs write access (ReadOnlyError otherwise). ``lazy``: the version's manifest is read when
    first needed (``dl.load``: opening is then a few requests), so damage there surfaces at the
    first read instead of here (``reset=True`` still reads it here)."""
    from .dataset import read_meta  # the module that builds on this one

    try:
        store = repo.open(ref, read_only=read_only)
        if reset or not lazy:
            store.read_manifest()
        return store, read_meta(path, store)
    except DeepLakeNBError:
        branch = repo.locate(ref)[0] if reset else None  # only now: opening reads the branch entry once
        if branch is None or not repo.has_changes(branch):
            raise
        if read_only or repo.store.read_only:
            raise ReadOnlyError(f"Branch {branch!r} of {path!r} cannot be read and resetting it needs write "
                                "access; load the dataset with read_only=False and reset=True.") from None
        repo.reset(branch)
    store = repo.open(branch, read_only=read_only)
    return store, read_meta(path, store)


AUTO_BRANCH_PREFIX = "auto_"
_VISIBLE: WeightedLRU[tuple[str, ...]] = WeightedLRU(1 << 20, lambda names: 1 + len(names))
"""The visible tensors of a version, by the name of its consolidated metadata document (which
never changes, and which commits that change no metadata share): ``diff`` of a logged commit
then opens no version (a 100-tensor dataset's root document takes ~1 ms to read into metas)."""


def branch_off(state: DatasetState) -> str:
    """Deep Lake v3's auto checkout: ``state`` shows a checked-out commit (not a branch head) of a
    writable dataset and is about to be written, so make branch ``auto_<40 hex digits>`` at that
    commit, show it instead (same contents, the same meta document) and say so with an
    AutoBranchWarning. Returns the branch name."""
    store = state.zarr_store
    repo, head = store.repository, store.head
    name = AUTO_BRANCH_PREFIX + secrets.token_hex(20)
    repo.create_branch(name, head)
    state.switch(repo.open(name), state.meta)
    warnings.warn(AutoBranchWarning(
        f"Dataset {state.path!r} was checked out at commit {head}, which is not a branch head; the write "
        f"went to a new branch {name!r} made there (now checked out). To write to a branch, check it out "
        "first (ds.checkout('main')); ds.delete_branch(...) removes an unwanted one."), stacklevel=4)
    return name


class VersionControl:
    """Mixed into Dataset; every method acts on the dataset's current branch or version."""

    _state: DatasetState

    @property
    def _vstore(self) -> VersionedStore:
        return self._state.zarr_store

    @property
    def _repo(self) -> Repository:
        return self._vstore.repository

    def _whole(self) -> Dataset:
        """This dataset as a whole (not a group or a row selection of it)."""
        from .dataset import Dataset
        return Dataset(self._state)

    def _open_version(self, ref: str) -> Dataset:
        """Version ``ref`` opened only to be read: read-only, and no write there branches off."""
        from .dataset import Dataset, open_state  # the class this mixin is part of
        return Dataset(open_state(self._state.path, self._repo.open(ref, read_only=True), frozen=True))

    def _show(self, store: VersionedStore, meta: DatasetMeta | None = None) -> None:
        from .dataset import read_meta
        self._state.switch(store, read_meta(self._state.path, store) if meta is None else meta)

    def _check_repo_writable(self, action: str) -> None:
        """ReadOnlyError when the dataset was opened read-only (a checked-out commit is not)."""
        if self._repo.store.read_only:
            raise ReadOnlyError(f"Dataset {self._state.path!r} is open read-only; reopen it with "
                                f"dl.load(path, read_only=False) to {action}.")

    # -- where we are -----------------------------------------------------------------------------
    @property
    def branch(self) -> str | None:
        """The checked-out branch. After checking out a commit id or tag (a read-only view) it is
        the branch whose head that commit is, as in v3 ("main" first, then the oldest branch),
        or None when the commit heads no branch."""
        store = self._vstore
        if store.branch is not None:
            return store.branch
        return next((name for name, head in self._repo.branches.items() if head == store.head), None)

    @property
    def is_head_node(self) -> bool:
        """Deep Lake v3: whether this is a branch's head, where writes go (False with a past
        commit or a tag checked out)."""
        return self._vstore.branch is not None

    @property
    def commit_id(self) -> str:
        """The last commit of the current version: the branch's head commit, or the checked-out
        commit. Before the first commit, the id of the empty version every dataset starts from."""
        return self._vstore.head

    @property
    def pending_commit_id(self) -> str:
        """The id the next commit on this branch will get (``commit()`` returns it; it is drawn
        anew after each commit and reset). On a checked-out commit or tag: ``commit_id``."""
        return self._vstore.pending_id

    @property
    def branches(self) -> list[str]:
        """Branch names, "main" first, then in the order they were created."""
        return list(self._repo.branches)

    @property
    def version_tags(self) -> dict[str, str]:
        """Tag name -> commit id."""
        return self._repo.tags

    @property
    def has_head_changes(self) -> bool:
        """Whether the checked-out branch has uncommitted changes (False on a checked-out commit)."""
        if any(s.has_pending for s in self._state._stores.values()):
            return True
        return self._vstore.has_changes

    def _history(self) -> list[CommitSummary]:
        """The current version's commit and its first parents, newest first, without the empty
        root commit every dataset starts from."""
        return [c for c in self._repo.history(self.commit_id) if c.parents]

    @property
    def commits(self) -> list[dict[str, Any]]:
        """The commits leading to the current version, newest first: dicts with ``commit``,
        ``author``, ``time`` (UTC, ``YYYY-MM-DD HH:MM:SS``), ``message`` and ``parents``.
        Uncommitted changes are not a commit; the empty root commit is left out."""
        return [_commit_dict(c) for c in self._history()]

    def get_commit_details(self, commit_id: str) -> dict[str, Any]:
        """The ``commits`` entry of one commit (any branch, tag, id or unique id prefix);
        CommitNotFoundError (a KeyError) when there is none."""
        return _commit_dict(self._repo.commit_doc(commit_id))

    def log(self) -> None:
        """Print the commit history of the current version, newest first."""
        lines = ["---------------", "Deep Lake Version Log", "---------------", "",
                 f"Current Branch: {self.branch}"]
        if self.has_head_changes:
            lines.append("** There are uncommitted changes on this branch.")
        lines.append("")
        for c in self._history():
            merge = [f"Merge  : {' '.join(c.parents)}"] if len(c.parents) > 1 else []
            lines += [f"Commit : {c.id}", *merge, f"Author : {c.author}", f"Time   : {utc_text(c.time)}",
                      f"Message: {c.message}", ""]
        print("\n".join(lines))

    # -- changing history ---------------------------------------------------------------------------
    def commit(self, message: str | None = None, allow_empty: bool = False) -> str:
        """Commit the uncommitted changes of the branch; returns the new commit id (the
        ``pending_commit_id`` it had). VersionError when there is nothing to commit, unless
        ``allow_empty``. VersionConflictError if another writer moved the branch first: nothing of
        this call landed, and its message says where the branch's uncommitted writes went (another
        writer's commit takes the writes it saw published, so they must not be written again; see
        ``_conflict``). On a checked-out commit (nothing uncommitted), ``allow_empty=True`` commits on a new branch
        made there, as any write does (v3's auto checkout)."""
        if self._vstore.branch is not None or allow_empty:
            self._state.check_writable()
        if not self._state.read_only:
            self._state.flush(publish=False)  # the commit lands the buffered writes in its own entry
        if not allow_empty and not self._vstore.has_changes:
            raise VersionError("Nothing to commit: the branch has no changes. Pass allow_empty=True to commit anyway.")
        try:
            commit_id = self._vstore.commit(message or "", author=default_author(), changes=self._change_log())
        except VersionConflictError:
            raise self._conflict() from None
        self._pin_views(commit_id)
        self._remember_visible(commit_id)
        return commit_id

    def _remember_visible(self, commit_id: str) -> None:
        """Keep the visible tensors of ``commit_id``, just committed from this state (whose meta
        is the commit's), for ``diff``: it then opens no version to list them."""
        meta = self._repo.commit_doc(commit_id).meta
        if meta is not None and _VISIBLE.get(meta) is None:
            _VISIBLE.put(meta, tuple(k for k, m in self._state.meta.tensors.items() if not m.hidden))

    def _pin_views(self, ref: str) -> None:
        """Views made since the last commit or checkout stay on version ``ref`` from now on
        (``DatasetState.pin_views``): the commit just made, or before a checkout the version left."""
        self._state.pin_views(ref, f"This view of {self._state.path!r} was made before its dataset committed or "
                                   f"checked out another version, so it stays on the version it showed ({ref}), "
                                   "read-only. Take a new view of the dataset (ds[...]) to write.")

    def _conflict(self) -> VersionConflictError:
        """The error for a commit that another writer beat: what of this branch's uncommitted
        writes landed (in the other writer's commit, or still uncommitted on the branch) and what
        to do, so that a retry never writes them twice."""
        store, repo, path = self._vstore, self._repo, self._state.path
        branch, head = store.branch, store.head
        mine = {key: store.object_of(key) for key in store.manifest_diff(head)}
        start = (f"Another writer moved branch {branch!r} of {path!r} before this commit() landed; nothing of "
                 "this commit() call landed (no commit was made).")
        reload = f"Reload the dataset (dl.load({path!r}))"
        try:
            landing = repo.landing_of(branch, head, mine)
        except BranchNotFoundError:
            return VersionConflictError(f"{start} The branch was deleted, with its uncommitted writes; none of them "
                                        "is in any version. Check out another branch and write them there.")
        lost = len(mine) - len(landing.held)
        if landing.commit is not None:
            c = landing.commit
            where = f"commit {c.id} ({c.message!r} by {c.author or 'an unnamed author'})"
            if not lost:
                return VersionConflictError(f"{start} Every write you made on the branch since commit {head} is "
                                            f"already part of {where}, which the other writer made from the "
                                            f"published state: do not write it again. {reload}; it continues "
                                            "from that commit.")
            if landing.held:
                return VersionConflictError(f"{start} Your writes published before the other writer's commit are "
                                            f"part of {where}; the rest ({lost} of {len(mine)} changed objects: "
                                            "writes not yet published, as inside `with ds:`) did not land. "
                                            f"{reload}, check what is there (len, ds.diff()) and redo only the "
                                            "missing writes, then commit.")
            return VersionConflictError(f"{start} None of your uncommitted writes is in {where}. {reload} and "
                                        "redo them, then commit.")
        if landing.moved:
            return VersionConflictError(f"{start} The branch now follows another line of commits; {reload} and "
                                        "check ds.log() and ds.diff() before redoing anything.")
        if not lost:
            return VersionConflictError(f"{start} Another writer published on the branch after you; your writes "
                                        f"are still uncommitted there, with theirs. {reload} and commit() again: "
                                        "do not write them again.")
        return VersionConflictError(f"{start} Another writer changed the branch's uncommitted state after you "
                                    f"({lost} of your {len(mine)} changed objects differ there now: rewritten by "
                                    "their writes, or dropped by a reset). Your writes are still uncommitted there "
                                    f"unless a reset dropped them: {reload}, check what is there (len, ds.diff()) "
                                    "and redo only what is missing, then commit.")

    def _change_log(self) -> dict[str, Any]:
        """The change log of the branch's uncommitted changes, for the commit that takes them
        (``change_log.record``)."""
        return change_log.record(self._open_version(self.commit_id), self._whole())

    def _changes_since(self, ancestor: str) -> change_log.NetChanges | None:
        """The current branch's changes (uncommitted ones included) since commit ``ancestor``,
        from the change logs; None when the logs cannot say."""
        net = change_log.path_changes(self._repo, ancestor, self.commit_id)
        if net is not None and self._vstore.has_changes:
            net = change_log.compose(net, change_log.from_diff(self._open_version(self.commit_id), self._whole()))
        return net

    def checkout(self, address: str, create: bool = False, reset: bool = False) -> str:
        """Switch to a branch (or its pending commit id), a tag or a commit id (any id printed by
        ``log``, ``commits`` or the commit graph, or 8+ leading characters of one). Branches open
        writable, tags and commits as read-only views. With ``create=True`` make branch
        ``address`` at the current version first; the current branch's uncommitted changes are
        committed before ("auto commit"). With ``reset=True`` a branch whose uncommitted state
        cannot be read is reset to its head commit. Returns ``commit_id``."""
        state = self._state
        if not state.read_only:
            state.flush(publish=not create)
        if create:
            self._check_repo_writable("create branches")
            self._repo.check_new_branch(address)  # before the auto commit: a bad name changes nothing
            if self._vstore.branch is not None and self._vstore.has_changes:
                self._vstore.commit(f"auto commit before checkout of {address!r}", author=default_author(),
                                    changes=self._change_log())
            self._repo.create_branch(address, self.commit_id)
        store, meta = open_version(state.path, self._repo, address, self._repo.store.read_only, reset=reset)
        old = self._vstore
        if (store.branch, store.head) != (old.branch, old.head):
            self._pin_views(old.branch if old.branch is not None and old.has_changes else old.head)
        self._show(store, meta)
        return self.commit_id

    def tag(self, name: str) -> str:
        """Tag the current commit (uncommitted changes are not part of it); returns the commit id."""
        self._check_repo_writable("tag commits")
        self._repo.tag(name, self.commit_id)
        return self.commit_id

    def reset(self, force: bool = False) -> None:
        """Drop every uncommitted change on this branch; the branch gets a new
        ``pending_commit_id``. Without changes it does nothing unless ``force``; on a
        checked-out commit there are none."""
        if self._vstore.branch is None:
            self._check_repo_writable("reset")
            return
        self._state.check_writable()
        if not force and not self.has_head_changes:
            return
        self._vstore.reset()
        self._show(self._vstore)  # fresh tensor stores: buffered appends are dropped too

    def delete_branch(self, name: str) -> None:
        """Delete a branch (not "main", not the checked-out one) with its uncommitted changes.
        Its commits stay while another branch, tag or saved view reaches them (see ``dl.gc``)."""
        self._check_repo_writable("delete branches")
        if name == self._vstore.branch:
            raise VersionError(f"Cannot delete the currently checked out branch: {name}. Check out another branch "
                               "first.")
        self._repo.delete_branch(name)

    # -- comparing --------------------------------------------------------------------------------
    def _chain(self, ref: str | None) -> list[tuple[str, str | None]]:
        """First-parent history of ``ref`` (None: the current version), newest first, as
        (id, branch): a branch's uncommitted state comes first as (its pending id, branch)."""
        repo = self._repo
        if ref is None:
            branch, head, pending = self._vstore.branch, self.commit_id, self.pending_commit_id
        else:
            branch, head = repo.locate(ref)
            pending = None if branch is None else repo.branch_states()[branch].pending or f"HEAD of {branch}"
        chain = [] if branch is None else [(pending, branch)]
        return chain + [(c.id, None) for c in repo.history(head)]

    def _step(self, node: tuple[str, str | None], versions: dict[str, Dataset]) -> tuple[dict, dict]:
        """v3's (tensor, dataset) diff entries of one history node against its first parent."""
        def version(ref: str) -> Dataset:
            if ref not in versions:
                versions[ref] = self._open_version(ref)
            return versions[ref]

        node_id, branch = node
        if branch is not None:  # uncommitted changes of a branch against its head commit
            new = self._whole() if branch == self._vstore.branch else version(branch)
            step = {"commit_id": node_id, "author": None, "message": None, "date": None}
            return change_entries(version(new.commit_id), new, step)
        doc = self._repo.commit_doc(node_id)
        step = {"commit_id": doc.id, "author": doc.author, "message": doc.message, "date": utc_text(doc.time)}
        if change_log.has_log(doc.changes):  # recorded at commit time: no sample is read
            visible = _VISIBLE.get(doc.meta) if doc.meta is not None else None
            if visible is None:
                visible = tuple(k for k, m in version(doc.id)._state.meta.tensors.items() if not m.hidden)
                if doc.meta is not None:
                    _VISIBLE.put(doc.meta, visible)
            return change_log.entries(doc.changes, visible, step)
        return change_entries(version(doc.parents[0]) if doc.parents else None, version(doc.id), step)

    def _sides(self, ref_1: str | None, ref_2: str) -> tuple[str, list[tuple[str, str | None]],
                                                              list[tuple[str, str | None]]]:
        """(common ancestor id, the nodes of each side above it) for ``ref_1`` (None: the current
        version) and ``ref_2``: the ancestor is the first node of the first side's chain that the
        second side's chain also has (first parents only, as v3)."""
        first, second = self._chain(ref_1), self._chain(ref_2)
        keys = [i if b is None else b for i, b in second]  # a branch's uncommitted state is known by its name
        cut = next(k for k, (i, b) in enumerate(first) if (i if b is None else b) in keys)
        lca_key = first[cut][1] or first[cut][0]
        return first[cut][0], first[:cut], second[:keys.index(lca_key)]

    def diff(self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False) -> dict[str, Any] | None:
        """Deep Lake v3's diff: what changed, commit by commit.

        No ids: the current version's own changes (uncommitted changes at a branch head, else the
        checked-out commit's against its parent). One id: the current state and ``id_1``, each
        from their most recent common ancestor. Two ids: ``id_1`` and ``id_2`` likewise.
        Prints the changes, or with ``as_dict=True`` returns ``{"tensor": ..., "dataset": ...}``:
        lists of per-commit entries newest first (no ids), or a pair of such lists (one per side).
        Tensor entries hold ``commit_id`` and per tensor ``created``, ``cleared``,
        ``info_updated``, ``data_added`` ([start, end) rows), ``data_updated`` and ``data_deleted``
        (sets of rows), ``data_transformed_in_place``; dataset entries hold ``commit_id``,
        ``author``, ``message``, ``date``, ``info_updated``, ``renamed`` and ``deleted``."""
        if id_1 is None and id_2 is not None:
            raise VersionArgumentError("diff(id_2=...) needs id_1 as well: diff(id_1, id_2).")
        if not self._state.read_only:
            self._state.flush()
        versions: dict[str, Dataset] = {}
        at_head = self._vstore.branch is not None
        here = "HEAD" if at_head else f"{self.commit_id} (current commit)"
        if id_1 is None:
            step = self._chain(None)[0]
            entries = [self._step(step, versions)] if at_head or self._repo.commit_doc(step[0]).parents else []
            tensor, dataset = [e[0] for e in entries], [e[1] for e in entries]
            if as_dict:
                return {"tensor": tensor, "dataset": dataset}
            print(format_changes(None, [(f"Diff in {here} relative to the previous commit:", tensor, dataset)]))
            return None
        lca, first, second = self._sides(None, id_1) if id_2 is None else self._sides(id_1, id_2)
        sides = [[self._step(node, versions) for node in nodes] for nodes in (first, second)]
        tensors = tuple([e[0] for e in side] for side in sides)
        datasets = tuple([e[1] for e in side] for side in sides)
        if as_dict:
            return {"tensor": tensors, "dataset": datasets}
        what = "two commits passed" if id_2 is not None else "current state and the commit passed"
        heads = ((f"Diff in {id_1} (target id 1):", f"Diff in {id_2} (target id 2):") if id_2 is not None
                 else (f"Diff in {here}:", f"Diff in {id_1} (target id):"))
        title = f"The 2 diffs are calculated relative to the most recent common ancestor ({lca}) of the {what}."
        print(format_changes(title, [(heads[0], tensors[0], datasets[0]), (heads[1], tensors[1], datasets[1])]))
        return None

    def _sample_changes(self, id_1: str, id_2: str) -> dict[str, dict[str, Any]]:
        """Sample-level changes from version ``id_1`` to ``id_2`` per changed tensor, by hidden
        sample id (``TensorDiff.as_dict``): what the commit graph shows."""
        if not self._state.read_only:
            self._state.flush()
        changes = dataset_diff(self._open_version(id_1), self._open_version(id_2))
        return {key: d.as_dict() for key, d in changes.items()}

    def _diff_base(self) -> str | None:
        """The commit the current version's own changes are counted from: a branch's head commit
        (its uncommitted changes), a checked-out commit's first parent (None for the root)."""
        if self._vstore.branch is not None:
            return self.commit_id
        return next(iter(self._repo.commit_doc(self.commit_id).parents), None)

    def _modified_rows(self, key: str, target_id: str | None = None) -> np.ndarray:
        """Rows of tensor ``key`` (positions in the current version, ascending) added or updated
        since ``target_id`` (a branch's head, tag or commit that the current version descends
        from; VersionError otherwise). Default: since the previous commit (a branch's head
        commit; for a checked-out commit, its first parent). A tensor created since has every
        row modified; a renamed one is followed to its old name."""
        if not self._state.read_only:
            self._state.flush()
        repo, here = self._repo, self._whole()
        if target_id is not None:
            since = repo.resolve(target_id)
            if repo.common_ancestor(since, self.commit_id) != since:
                raise VersionError(f"{target_id!r} is not an ancestor of the current version ({self.commit_id}); "
                                   "modified_samples compares with a commit this version descends from.")
        else:
            since = self._diff_base()
        old = None if since is None else self._open_version(since)
        source = {new: old_key for old_key, new in match_tensors(old, here).items()} if old is not None else {}
        if key not in source:
            return np.arange(len(here[key]), dtype=np.int64)
        d = tensor_diff(old[source[key]], here[key])
        return np.union1d(d.added_indices, d.updated_indices).astype(np.int64)

    # -- merging ----------------------------------------------------------------------------------
    def _removed_since_fork(self, theirs_id: str) -> list[str]:
        """Tensors we still have that ``theirs_id`` removed (deleted or renamed) since the last
        commit of our first-parent line that it descends from (v3's common ancestor)."""
        line = {c.id for c in self._repo.history(theirs_id)}
        fork = self._open_version(next(c.id for c in self._repo.history(self.commit_id) if c.id in line))
        kept = match_tensors(fork, self._open_version(theirs_id))
        return sorted(k for k in fork._state.meta.tensors if k in self._state.meta.tensors and k not in kept)

    def merge(self, target_id: str, conflict_resolution: str | None = None, delete_removed_tensors: bool = False,
              force: bool = False, message: str | None = None, delete_removed_samples: bool = False) -> str | None:
        """Three-way merge of a branch, tag or commit into the current branch, at sample
        granularity (v3's ``merge``); makes a merge commit with two parents and returns its id.
        Uncommitted changes on both sides take part: the current branch's land in the merge
        commit, the target branch's are committed there first ("auto commit", as v3).

        Nothing happens (None is returned) when the target is already part of this branch, except
        that ``delete_removed_tensors=True`` then still deletes here the tensors the target
        removed since it forked from this branch's first-parent line (v3 ran such merges again
        from that fork point).

        Samples the target appended are appended, its updates land here, and a sample deleted
        here that the target updated comes back with its value. Samples the target deleted stay
        here (v3), unless ``delete_removed_samples=True``: then they go here too, and a sample
        updated on one side and deleted on the other is a conflict. ``conflict_resolution``
        (None, "ours" or "theirs") settles conflicts (samples updated differently on both
        sides); without it they raise MergeConflictError. A tensor the target deleted is kept
        unless ``delete_removed_tensors``; one deleted here comes back when the target changed it.
        ``force=True`` settles tensor-level conflicts: a tensor renamed on both sides, or renamed
        on the target but deleted here, comes over as a new tensor under the target's name, and a
        rename onto a name used here merges the two tensors. Tensors of one name whose htype,
        dtype or compression differ on the two sides cannot merge (MergeConflictError)."""
        if conflict_resolution not in RESOLUTIONS:
            raise VersionArgumentError(f"conflict_resolution must be None, 'ours' or 'theirs'; "
                                       f"got {conflict_resolution!r}.")
        state, repo = self._state, self._repo
        their_branch, theirs_id = repo.locate(target_id)
        state.check_writable()  # on a checked-out commit: merges into a new branch there (v3)
        state.flush()
        branch = self._vstore.branch
        assert branch is not None  # check_writable: not a commit checkout
        if their_branch not in (None, branch) and repo.has_changes(their_branch):
            theirs_id = repo.open(their_branch).commit(f"auto commit before merging into {branch}",
                                                       author=default_author())
        base_id = repo.common_ancestor(self.commit_id, theirs_id)
        if base_id is None:
            raise VersionError(f"{target_id!r} shares no history with branch {branch!r}; nothing to merge.")
        gone = self._removed_since_fork(theirs_id) if base_id == theirs_id and delete_removed_tensors else []
        if base_id == theirs_id and not gone:
            print(f"No merge needed: {target_id} is already part of branch {branch!r}.")
            return None
        pending = self._vstore.has_changes  # uncommitted changes of ours land in the merge commit too
        written = None
        state.batch_depth += 1  # nothing is published until the merge commit lands it all in one entry
        try:
            if gone:
                for key in gone:
                    self._whole().delete_tensor(key)
            else:
                written = merge_into(self._whole(), self._open_version(theirs_id), self._open_version(base_id),
                                     conflict_resolution, delete_removed_tensors=delete_removed_tensors, force=force,
                                     delete_removed_samples=delete_removed_samples,
                                     ours_changes=self._changes_since(base_id),
                                     theirs_changes=change_log.path_changes(repo, base_id, theirs_id))
            state.flush(publish=False)
        except BaseException:
            self._show(repo.open(branch))  # drop the half-applied merge (it was never published)
            raise
        finally:
            state.batch_depth -= 1
        # the merge commit's log: what merge_into wrote, when that is all it changed (no re-reading)
        log = change_log.record_samples(written) if written is not None and not pending else self._change_log()
        commit_id = self._vstore.commit(message or f"Merge {target_id} into {branch}", author=default_author(),
                                        extra_parents=(theirs_id,), changes=log)
        self._pin_views(commit_id)
        self._remember_visible(commit_id)
        return commit_id

