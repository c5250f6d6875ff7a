"""The disk cache a loader reads a dataset on an object store through (Deep Lake v3's
``use_local_cache``), and the scratch cache it gets by default.

Read straight from an object store, a shuffled epoch costs one ranged request per sample: the
samples of a read-ahead window fall a few to a chunk object, too far apart to merge. Read
through a disk cache (``storage.cache``), each chunk object is fetched whole, once (the loader's
``prefetch`` starts while it starts up), and its samples are read from local disk; later epochs
read nothing from the store. ``read_through(ds, names, use_local_cache)`` gives the dataset a
loader reads:

- ``None`` (the default): through a *scratch* cache when the tensors read fit in it: a folder
  under ``scratch/`` of the cache root (``storage.cache.cache_root``: ``$DEEPLAKE_NB_CACHE``,
  else ``~/.cache/deeplake_nb``; not the temporary directory, often memory: ``tmpfs``), one per
  open dataset and shared by the loaders made on it, bounded by :data:`SCRATCH_MAX_BYTES` and
  :data:`FREE_FRACTION` of the free space there. It is removed once that dataset object and
  every loader reading through the folder are garbage collected, or when the process exits,
  and by the next process that makes one when the process that made it died. Tensors that do
  not fit are streamed (ranged reads, no cache), and so is a sharded loader (DDP ranks,
  replicas): each of its processes would fetch every object into a scratch folder of its own.
- ``True`` (v3): through the dataset's own disk cache, the folder ``local_cache_size`` uses
  (``storage.cache.settings_for``: under ``$DEEPLAKE_NB_CACHE``), kept across sessions, bounded
  likewise (least recently used objects are evicted beyond it).
- ``False``: ``ds`` itself: every read goes to the store.

A dataset opened with ``local_cache_size``, and one on local disk or in memory, is read as it
is. The dataset read through a cache is a read-only view of ``ds`` (its selection of the same
open version: ``core.internal.read_through``), so making it reads nothing; the rows a
writable ``ds`` buffers are flushed first (published: spawned workers reopen the dataset), and
objects written but not published are read from the store, never cached.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core import internal
from ..errors import DeepLakeNBError, LoaderOptionError
from ..storage.cache import CacheSettings, cache_folder, cache_root
from .config import distributed_share
from .numpy_batches import tensor_names
from .source import stored_nbytes, tensor_key

if TYPE_CHECKING:
    from ..core.dataset import Dataset

SCRATCH_MAX_BYTES = 100 << 30
"""The most a cache made for loaders holds (LitData's default cache bound)."""
FREE_FRACTION = 0.5
"""The share of the free space of its file system a cache made for loaders may take."""
SCRATCH_FOLDER = "scratch"
"""The folder of the cache root that holds the scratch caches."""
SCRATCH_PREFIX = "stream-"
"""Scratch folders are named ``<prefix><pid>-<random>`` (the pid of the process that owns it)."""
MARGIN_BYTES = 64 << 20
"""Room beyond the tensors' arrays (for the metadata and manifest documents read with them)."""

_SCRATCH: weakref.WeakKeyDictionary[Any, CacheSettings] = weakref.WeakKeyDictionary()
"""The scratch cache of each open dataset (its ``core.internal.state``) that has one."""
_LOCK = threading.Lock()


def read_through(ds: Dataset, names: Sequence[str], use_local_cache: bool | None, sharded: bool = False) -> Dataset:
    """The dataset a loader of tensors ``names`` of ``ds`` reads (see the module docstring):
    ``ds``, or ``ds``'s selection read through a disk cache. ``sharded``: the loader reads one
    share of several (DDP ranks, replicas), so by default it makes no scratch cache: each process
    would fetch every object into its own (``use_local_cache=True`` shares the dataset's folder).
    ``LoaderOptionError`` when ``use_local_cache`` is not True, False or None."""
    if use_local_cache is not None and not isinstance(use_local_cache, bool):
        raise LoaderOptionError(f"use_local_cache must be True, False or None (a scratch cache where it fits); "
                                f"got {use_local_cache!r}.")
    repository = internal.repository(ds)
    held = repository.cache
    if use_local_cache is False or (use_local_cache is None and sharded) or not repository.physical.round_trips \
            or (held is not None and held.local_bytes):
        return ds
    memory = held.memory_bytes if held is not None else 0
    if use_local_cache:
        folder = cache_folder(ds.path)
        bound = _bound(_root(folder))
        settings = CacheSettings(memory, bound, folder) if bound else None
    else:
        try:
            needed = _stored_bytes(ds, names)
        except DeepLakeNBError:  # a name that is no tensor, an unreadable store: the loader says so
            return ds
        settings = _scratch(ds, memory, needed)
    if settings is None:
        return ds
    if not ds.read_only:
        ds.flush()  # rows buffered in ds's tensors, which the view does not share, published for workers
    return internal.read_through(ds, settings)


def for_loader(ds: Dataset, options: dict[str, Any]) -> Dataset:
    """:func:`read_through` for a loader made with ``options`` (the keyword arguments of
    ``ds.pytorch()``, ``ds.numpy_batches()`` ...): of the tensors they name, with their
    ``use_local_cache``, which is taken out of them."""
    names = tensor_names(ds, options.get("tensors"), options.get("transform"))
    return read_through(ds, names, options.pop("use_local_cache", None), _sharded(options))


def _sharded(options: dict[str, Any]) -> bool:
    """Whether a loader made with ``options`` reads one share of several: ``num_replicas`` above 1
    (the numpy, TensorFlow and JAX loaders), or a world size above 1 as ``ds.pytorch()`` shards by
    (``config.distributed_share``: given, or an initialized torch process group)."""
    replicas = options.get("num_replicas")
    if isinstance(replicas, int) and replicas > 1:
        return True  # (a value that is no int is the loader's to refuse)
    return distributed_share(options.get("distributed"), options.get("rank"), options.get("world_size"))[1] > 1


def _stored_bytes(ds: Dataset, names: Sequence[str]) -> int:
    """At most the bytes the arrays of tensors ``names`` hold, uncompressed, and a margin."""
    return MARGIN_BYTES + sum(stored_nbytes(ds, tensor_key(ds, name)) for name in names)


def _root(folder: str) -> str:
    """The nearest existing folder at or above ``folder`` (where its free space is measured)."""
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def _bound(folder: str) -> int:
    """How much a cache made for loaders in ``folder`` may hold."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return 0
    return int(min(SCRATCH_MAX_BYTES, free * FREE_FRACTION))


def _scratch(ds: Dataset, memory: int, needed: int) -> CacheSettings | None:
    """``ds``'s open dataset's scratch cache, made now if it has none and ``needed`` bytes fit
    in one; None when they do not."""
    state = internal.state(ds)
    with _LOCK:
        settings = _SCRATCH.get(state)
        if settings is not None and os.path.isdir(settings.folder):
            return settings if needed <= settings.local_bytes else None
        root = os.path.join(cache_root(), SCRATCH_FOLDER)
        bound = _bound(_root(root))
        if needed > bound:
            return None
        _remove_orphans(root)
        try:
            os.makedirs(root, exist_ok=True)
            folder = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root)
        except OSError:  # an unwritable cache root: stream instead
            return None
        settings = CacheSettings(memory, bound, folder, scratch=True, owner=ScratchFolder(folder))
        _SCRATCH[state] = settings
        return settings


class ScratchFolder:
    """The owner of a scratch cache's folder (``CacheSettings.owner``): the folder is removed
    when this is garbage collected, or at exit, in the process that made it only (a forked child
    holds copies of the parent's objects, and may collect them while the parent still reads the
    folder). Held by the dataset object's entry in the registry and by every cache chain reading
    through the folder, so ``dl.load(url).pytorch()`` keeps it while the loader lives. A pickled
    copy (a spawned worker's) owns nothing: it unpickles as None."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        weakref.finalize(self, _remove, folder, os.getpid())

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _no_owner, ()


def _no_owner() -> None:
    return None


def _remove(folder: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans(root: str) -> None:
    """Remove the scratch folders in ``root`` whose process is gone (it died before removing them)."""
    try:
        entries = [entry for entry in os.scandir(root) if entry.name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(SCRATCH_PREFIX):].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True
