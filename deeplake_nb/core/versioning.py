"""Version control on a Dataset (Deep Lake v3 names): commit, checkout, log, diff, merge, tags, reset.

The storage half lives in :mod:`deeplake_nb.version` (immutable objects, manifests, put-if-absent
refs); this mixin drives it from the dataset and adds the sample-level parts (diff, merge).
"""

from __future__ import annotations

import getpass
import os
import time
from typing import TYPE_CHECKING, Any

from ..errors import ReadOnlyError, VersionError
from ..version import Commit, Repository, VersionedStore
from .diff import TensorDiff, dataset_diff
from .merge import merge_into

if TYPE_CHECKING:
    from .dataset import Dataset, DatasetState


def default_author() -> str:
    """The commit author: $DEEPLAKE_NB_AUTHOR, else the login name."""
    try:
        return os.environ.get("DEEPLAKE_NB_AUTHOR") or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _commit_dict(commit: Commit) -> dict[str, Any]:
    return {"commit": commit.id, "author": commit.author, "time": commit.time, "message": commit.message,
            "parents": list(commit.parents)}


class VersionControl:
    """Mixed into Dataset; every method acts on the dataset's current branch or version."""

    _state: DatasetState

    @property
    def _vstore(self) -> VersionedStore:
        return self._state.zarr_store

    @property
    def _repo(self) -> Repository:
        return self._vstore.repository

    def _open_version(self, ref: str) -> Dataset:
        from .dataset import Dataset, open_state  # the class this mixin is part of
        return Dataset(open_state(self._state.path, self._repo.open(ref, read_only=True)))

    def _show(self, store: VersionedStore) -> None:
        from .dataset import read_meta
        self._state.switch(store, read_meta(self._state.path, store))

    # -- where we are -----------------------------------------------------------------------------
    @property
    def branch(self) -> str | None:
        """The checked-out branch, or None when a commit or tag is checked out (read-only)."""
        return self._vstore.branch

    @property
    def commit_id(self) -> str:
        """The commit the current version is based on (the branch head)."""
        return self._vstore.head

    @property
    def branches(self) -> list[str]:
        return sorted(self._repo.branches)

    @property
    def version_tags(self) -> dict[str, str]:
        """Tag name -> commit id."""
        return self._repo.tags

    @property
    def has_head_changes(self) -> bool:
        """Whether the branch has uncommitted changes."""
        if any(s.has_pending for s in self._state._stores.values()):
            return True
        return self._vstore.has_changes

    @property
    def commits(self) -> list[dict[str, Any]]:
        """Commits reachable from the current version by first parents, newest first."""
        return [_commit_dict(c) for c in self._repo.log(self.commit_id)]

    def log(self) -> None:
        """Print the commit history of the current branch."""
        print(f"---------------\ndeeplake_nb log ({self.branch or 'detached'})\n---------------")
        if self.has_head_changes:
            print("(uncommitted changes)\n")
        for c in self._repo.log(self.commit_id):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.time))
            merge = f"Merge  : {' '.join(c.parents)}\n" if len(c.parents) > 1 else ""  # ids start with a time stamp
            print(f"Commit : {c.id}\n{merge}Author : {c.author}\nTime   : {stamp}\nMessage: {c.message}\n")

    # -- changing history ---------------------------------------------------------------------------
    def commit(self, message: str = "", allow_empty: bool = False) -> str:
        """Commit the uncommitted changes of the branch; returns the new commit id. Raises
        VersionConflictError if another writer moved the branch (reload and retry)."""
        self._state.check_writable()
        self._state.flush(publish=False)  # the commit lands the buffered writes in its own entry
        if not allow_empty and not self._vstore.has_changes:
            raise VersionError("Nothing to commit: the branch has no changes. Pass allow_empty=True to commit anyway.")
        return self._vstore.commit(message, author=default_author())

    def checkout(self, address: str, create: bool = False) -> str:
        """Switch to a branch, tag or commit id (tags and commits are read-only). With
        ``create=True`` make branch ``address`` at the current version first; uncommitted changes
        are committed before ("auto commit"). Returns the commit id now checked out."""
        state = self._state
        if not state.read_only:
            state.flush(publish=not create)
        if create:
            if state.read_only and self.branch is not None:
                raise ReadOnlyError("This dataset was opened read-only; load it writable to create branches.")
            self._repo.check_new_branch(address)  # before the auto commit: a bad name changes nothing
            if self.branch is not None and self._vstore.has_changes:
                self._vstore.commit(f"auto commit before checkout of {address!r}", author=default_author())
            elif not state.read_only:
                state.flush()
            self._repo.create_branch(address, self.commit_id)
        writable = not state.read_only or (create and self.branch is None) or (self.branch is None and
                                                                               address in self._repo.branches)
        self._show(self._repo.open(address, read_only=not writable))
        return self.commit_id

    def tag(self, name: str) -> str:
        """Tag the current commit (uncommitted changes are not part of it); returns the commit id."""
        self._repo.tag(name, self.commit_id)
        return self.commit_id

    def reset(self) -> None:
        """Drop every uncommitted change on this branch."""
        self._state.check_writable()
        self._vstore.reset()
        self._show(self._vstore)  # fresh tensor stores: buffered appends are dropped too

    def delete_branch(self, name: str) -> None:
        """Delete a branch (not "main", not the checked-out one). Its commits stay until gc."""
        if name == self.branch:
            raise VersionError(f"Branch {name!r} is checked out; check out another branch first.")
        self._repo.delete_branch(name)

    # -- comparing and merging --------------------------------------------------------------------
    def diff(self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False) -> Any:
        """Sample-level changes per tensor. No ids: uncommitted changes against the head commit;
        one id: from that version to the current state; two ids: from ``id_1`` to ``id_2``.
        Prints a summary, or returns ``{tensor: {...}}`` with ``as_dict=True``."""
        if not self._state.read_only:
            self._state.flush()
        if id_2 is not None:
            old, new, label = self._open_version(id_1 or self.commit_id), self._open_version(id_2), f"{id_1} -> {id_2}"
        else:
            old, new = self._open_version(id_1 or self.commit_id), self
            label = f"{id_1 or self.commit_id} -> current state"
        changes = dataset_diff(old, new)
        if as_dict:
            return {key: d.as_dict() for key, d in changes.items()}
        print(_format_diff(label, changes))
        return None

    def merge(self, target_id: str, conflict_resolution: str | None = None, message: str | None = None) -> str:
        """Three-way merge of branch, tag or commit ``target_id`` into the current branch, at
        sample granularity; makes a merge commit with two parents and returns its id."""
        self._state.check_writable()
        self._state.flush()
        repo = self._repo
        theirs_id = repo.resolve(target_id)
        base_id = repo.common_ancestor(self.commit_id, theirs_id)
        if base_id is None:
            raise VersionError(f"{target_id!r} shares no history with branch {self.branch!r}; nothing to merge.")
        if base_id == theirs_id:
            raise VersionError(f"{target_id!r} is already merged into {self.branch!r}.")
        state = self._state
        state.batch_depth += 1  # nothing is published until the merge commit lands it all in one entry
        try:
            merge_into(self, self._open_version(theirs_id), self._open_version(base_id), conflict_resolution)
            state.flush(publish=False)
        except BaseException:
            self._show(repo.open(self.branch))  # drop the half-applied merge (it was never published)
            raise
        finally:
            state.batch_depth -= 1
        return self._vstore.commit(message or f"Merge {target_id} into {self.branch}", author=default_author(),
                                   extra_parents=(theirs_id,))


def _format_diff(label: str, changes: dict[str, TensorDiff]) -> str:
    lines = [f"Diff {label}"]
    if not changes:
        lines.append("  no changes")
    for key, d in changes.items():
        lines.append(f"  {key}: {d.summary()}")
    return "\n".join(lines)
