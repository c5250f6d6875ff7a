"""Version control for datasets: immutable objects, manifests, commits, put-if-absent refs, and
a zarr Store (VersionedStore) that shows one version. repository.py has the physical layout.

Design choices, and why:

- **Objects are immutable and uniquely named** with their creation time in the name
  (:mod:`names`), so every version shares unchanged chunks, and gc can apply a grace period on
  any store without modification times.
- **Manifests are stacks of deltas with size-tiered merging** (:mod:`manifest`) rather than one
  document per commit or shards per array: a commit that changes k keys writes O(k) manifest
  bytes however large the version is (a per-array shard would still copy every chunk entry of
  a big array), while the first data read of a version loads O(log n) small objects into one
  dict, so reads stay one lookup.
- **Opening is a fixed few requests** whatever the tensor count: the branch's hint carries a
  copy of its newest entry (:mod:`refs`) and a version's metadata documents are one object
  (:mod:`metadata`), so ``dl.load`` + ``len(ds)`` reads the hint, checks that no newer entry
  exists and reads that object. Both are redundant copies: a stale, missing or damaged one
  costs only the slower path (a gallop or listing; key-by-key reads through the manifest).
- **The working area lives in the branch ref** (:mod:`refs`): a branch entry names the head
  commit *and* the working manifest, so publish, commit, reset and delete are each a single
  put-if-absent write. A commit cannot half-land (working area published but head not moved),
  and two writers on one branch always see a clean conflict instead of a lost update. No locks.
- **Small writes are patches** (:mod:`patches`): a write into part of a published object is a
  small patch object, and the manifest names the key ``base+patch+...``; reads apply the chain, so
  every reader (stock zarr too) sees the new bytes while a change writes O(change) bytes.
- **Nothing stored is trusted** (:mod:`documents`): ref entries, manifests and commits are read
  only in the exact form written here, so damage is named instead of misread and a crafted
  manifest cannot point outside the store; a damaged newest ref entry falls back to the previous.
- **Commits are small JSON documents** (:mod:`commits`) with an opaque ``changes`` object that
  the dataset layer fills with sample-level changes for diff and merge.

Depends only on deeplake_nb.storage and deeplake_nb.errors (and zarr).
"""

from .commits import Commit
from .repository import MAIN, Repository
from .store import VersionedStore

__all__ = ["MAIN", "Commit", "Repository", "VersionedStore"]
