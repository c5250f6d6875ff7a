"""Opening and creating datasets: ``empty``, ``load``, ``dataset``, ``exists``, ``delete``,
``copy``, ``deepcopy``, ``like``, ``read``, ``link``."""

from __future__ import annotations

import copy as _copy
import os
import posixpath
import re
from dataclasses import replace
from typing import Any, Literal, NoReturn

import zarr
from zarr.core.sync import sync

from .. import constants
from .._version import __version__
from ..errors import (DatasetError, DatasetExistsError, DatasetRenameError, DatasetNotFoundError, DatasetTooLargeError, DeepLakeNBError, DatasetOptionError, ReadOnlyError, StorageError,
                      UnsupportedFeatureError, VersionArgumentError, VersionError, ViewOperationError)
from ..format.meta import ATTR_KEY, DatasetMeta
from ..format.sample import LinkedSample, Sample
from ..storage import ByteStore, delete_location, is_memory, is_remote, normalize, normalize_new, open_store
from ..storage.cache import cache_folder
from ..storage.remote import options_of
from ..version import MAIN, Repository
from . import open_options
from .copy import copy_objects, copy_tensors, create_tensor_like, move_objects, tensors_to_copy
from .dataset import Dataset, DatasetState, open_state
from .undo import undone_on_failure
from .versioning import default_author, one_version, open_version, refuse_address, split_address

PathLike = str | os.PathLike[str]
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9_-]*$")
_LOCAL_NAME = re.compile(r"^[A-Za-z0-9_ .-]*$")
SAVED_VIEWS_DIR = ".queries"  # v3's folder of saved views, in the address save_view returns
_SAVED_VIEW_ADDRESS = re.compile(r"^(?P<source>.+)[/\\]\.queries[/\\](?P<id>[^/\\]+)[/\\]?$")


def _repository(url: str, read_only: bool, storage_options: dict[str, Any] | None,
                v3_options: dict[str, Any] | None = None) -> Repository:
    """The repository at ``url``, with the cache chain v3's ``memory_cache_size`` /
    ``local_cache_size`` in ``v3_options`` ask for (``open_options.cache_settings``)."""
    cache = open_options.cache_settings(url, v3_options or {})
    return Repository(open_store(url, read_only=read_only, storage_options=storage_options), cache)


def exists(path: PathLike, storage_options: dict[str, Any] | None = None, **v3_options: Any) -> bool:
    """True when ``path`` holds a deeplake_nb dataset (``"path@version"`` is refused, as in v3).
    A store that cannot be read (unreachable, a bucket that does not exist, access denied) raises
    its ``StorageError``: whether a dataset is there is unknown then. v3's ``creds``, ``token``,
    ``org_id``: see ``open_options``."""
    storage_options = open_options.parse("exists", path, v3_options, storage_options).storage_options
    refuse_address(path, "dl.exists")
    return _main_meta(normalize(path), storage_options) is not False


def _main_meta(url: str, storage_options: dict[str, Any] | None) -> DatasetMeta | None | Literal[False]:
    """The dataset document of branch main of the dataset at ``url``: False when no dataset is
    there, None for one whose document cannot be read (a newer format version, damaged metadata:
    still a dataset); a store that cannot be read raises its ``StorageError``."""
    if not (is_memory(url) or is_remote(url)) and not os.path.isdir(url):
        return False
    repo = _repository(url, True, storage_options)
    try:
        if not repo.is_initialized:
            return False
        return open_state(url, repo.open(MAIN, read_only=True)).meta
    except DatasetNotFoundError:
        return False
    except StorageError:
        raise
    except DeepLakeNBError:
        return None


def _is_empty_location(url: str, storage_options: dict[str, Any] | None) -> bool:
    if is_memory(url) or is_remote(url):
        return not ByteStore(open_store(url, read_only=True, storage_options=storage_options)).list_prefix("")
    return not os.path.exists(url) or (os.path.isdir(url) and not os.listdir(url))


def empty(path: PathLike, overwrite: bool = False, storage_options: dict[str, Any] | None = None,
          **v3_options: Any) -> Dataset:
    """Create a new, empty dataset on branch "main". An existing dataset is replaced only with
    ``overwrite=True``; a non-empty location that is not a dataset is never deleted. A bare
    ``"mem://"`` makes a fresh unnamed in-memory dataset. In-memory datasets follow Deep Lake v3:
    ``empty`` and ``dataset`` on a ``mem://`` name always make a new one (datasets already open on
    that name keep theirs; ``load`` opens the newest). The dataset's name (the last part of
    ``path``) follows v3's rule (``verify_dataset_name``). v3's ``creds``, ``token``, ``org_id``,
    ``verbose``, ``lock_timeout`` ...: see ``open_options``."""
    storage_options = open_options.parse("empty", path, v3_options, storage_options).storage_options
    refuse_address(path, "dl.empty")
    verify_dataset_name(path)
    url = normalize_new(path)
    if is_memory(url):
        delete_location(url)
    found = _main_meta(url, storage_options)
    if found is not False:
        if not overwrite:
            raise DatasetExistsError(f"A dataset already exists at {url!r}; load it with dl.load(path) or pass "
                                     "overwrite=True to replace it.")
        _refuse_protected(url, found)
        delete_location(url, storage_options)
    elif not _is_empty_location(url, storage_options):
        raise DatasetExistsError(f"{url!r} is not empty and is not a deeplake_nb dataset; pick an empty "
                                 "or new location.")
    repo = _repository(url, False, storage_options, v3_options)
    repo.init(author=default_author())
    store = repo.open(MAIN)
    meta = DatasetMeta(version=__version__)
    zarr.open_group(store=store, mode="w", attributes={ATTR_KEY: meta.to_json()})
    store.publish()
    return Dataset(DatasetState(url, store, meta))


def load(path: PathLike, read_only: bool | None = False, version: str | None = None,
         storage_options: dict[str, Any] | None = None, reset: bool = False, **v3_options: Any) -> Dataset:
    """Open an existing dataset at branch "main", or at ``version`` (a branch or its pending
    commit id, a tag, a commit id or 8+ leading characters of one; tags and commit ids open
    read-only: time travel). The version may also end the path, as in Deep Lake v3:
    ``dl.load("path@branch")``. ``reset=True`` resets a branch whose uncommitted state cannot be
    read to its head commit. DatasetNotFoundError if there is no dataset. A dataset copied from
    one row (``dl.copy(ds[3], ...)``) opens as that row, as in v3. A saved view's address
    (``"<dataset path>/.queries/<view id>"``, what ``save_view`` returns) opens that view,
    read-only whatever ``read_only`` says, as in v3 (``dl.load(dataset).load_view(id)``). v3's
    ``access_method``, ``check_integrity``, ``creds``, ``token``, ``org_id`` ...: see ``open_options``."""
    options = open_options.parse("load", path, v3_options, storage_options)
    saved_view = _saved_view_at(path, version, options.storage_options)
    if saved_view is not None:
        source, view_id = saved_view
        # v3: a saved view's address opens the view (a query View); typed Dataset for every other path
        return load(source, read_only=True, storage_options=storage_options, **v3_options).load_view(view_id)  # type: ignore[return-value]
    if options.access_method != "stream":
        return _load_local_copy(path, options, bool(read_only), version, reset)
    path, address = split_address(path)
    version = one_version(version, address)
    url = normalize(path)
    if not (is_memory(url) or is_remote(url)) and not os.path.isdir(url):
        raise DatasetNotFoundError(f"No dataset at {url!r} (no such directory); create one with dl.empty(path).")
    repo = _repository(url, bool(read_only), options.storage_options, v3_options)
    try:  # the branch entry is read once: no is_initialized check before (see Repository.open)
        store, meta = open_version(url, repo, version or MAIN, bool(read_only), reset=reset, lazy=True)
    except VersionError:
        if repo.is_initialized:
            raise
        raise DatasetNotFoundError(f"{url!r} is not a deeplake_nb dataset (it has no version history); "
                                   "create one with dl.empty(path) in an empty location.") from None
    ds = Dataset(DatasetState(url, store, meta))
    if options.check_integrity:
        check_integrity(ds)
    return ds[0] if meta.single_row and ds.max_len else ds


def saved_view_address(dataset_path: str, view_id: str) -> str:
    """The address of the saved view ``view_id`` of the dataset at ``dataset_path``: Deep Lake
    v3's path of a saved view, ``<dataset path>/.queries/<view id>``, which ``load`` and
    ``dataset`` open. Only an address: the view's record is kept where ``query.saved`` keeps it."""
    return f"{dataset_path.rstrip('/')}/{SAVED_VIEWS_DIR}/{view_id}"


def split_saved_view_address(path: PathLike, storage_options: dict[str, Any] | None = None
                             ) -> tuple[str, str] | None:
    """``(dataset path, view id)`` when ``path`` is a saved view's address
    (``saved_view_address``) and no dataset lies at ``path`` itself; None otherwise."""
    text = os.fspath(path)
    match = _SAVED_VIEW_ADDRESS.match(text) if isinstance(text, str) else None
    if match is None or exists(text, storage_options):
        return None
    return match["source"], match["id"]


def _saved_view_at(path: PathLike, version: str | None, storage_options: dict[str, Any] | None
                   ) -> tuple[str, str] | None:
    """``split_saved_view_address`` of a path given to ``load``/``dataset``; a version (``@...``
    or ``version=``) is refused: a saved view is bound to the commit it was saved at."""
    head, address = split_address(path)
    found = split_saved_view_address(head, storage_options)
    if found is not None and (address or version) is not None:
        raise VersionArgumentError(f"{os.fspath(path)!r} names saved view {found[1]!r}, which is bound to the "
                                   "commit it was saved at; load it without a version ('@...' or version=).")
    return found


def _load_local_copy(path: PathLike, options: open_options.OpenOptions, read_only: bool, version: str | None,
                     reset: bool) -> Dataset:
    """v3's ``access_method="download"`` (deep-copy ``path`` into ``$DEEPLAKE_DOWNLOAD_PATH``,
    replacing an earlier copy, and open the copy) and ``"local"`` (open that copy; download it
    first when there is none)."""
    head, address = split_address(path)
    url = normalize(head)
    local = open_options.download_location(url)
    if options.access_method == "download" or not exists(local):
        if not exists(url, options.storage_options):
            raise DatasetNotFoundError(f"No dataset at {url!r} to download; check the path.")
        deepcopy(url, local, overwrite=True, src_storage_options=options.storage_options)
    return load(local, read_only=read_only, version=one_version(version, address), reset=reset,
                check_integrity=options.check_integrity)


def check_integrity(ds: Dataset) -> None:
    """CorruptDatasetError unless every tensor's columns hold all of its rows (what v3's
    ``check_integrity`` verifies of its chunk encoders); opening each tensor's arrays also checks
    that their documents are readable."""
    from ..errors import CorruptDatasetError

    state = ds._state
    for key in state.meta.tensors:
        store = state.tensor_store(key)
        if store.column.nrows < store.stored_length:
            raise CorruptDatasetError(f"Tensor {key!r} of {ds.path!r} lists {store.stored_length} rows but its "
                                      f"data holds {store.column.nrows}; check out an earlier version, or call "
                                      "ds.reset() to drop the branch's uncommitted changes.")


def dataset(path: PathLike, read_only: bool | None = False, overwrite: bool = False,
            storage_options: dict[str, Any] | None = None, reset: bool = False, **v3_options: Any) -> Dataset:
    """Open the dataset at ``path`` (``"path@version"`` opens that version, as ``load``),
    creating an empty one when there is none; a saved view's address opens the view, as ``load``.
    v3's keyword arguments of ``empty`` and ``load``
    (``creds``, ``token``, ``org_id``, ``access_method``, ``check_integrity`` ...) are taken:
    see ``open_options``."""
    options = open_options.parse("dataset", path, v3_options, storage_options)
    saved_view = _saved_view_at(path, None, options.storage_options)
    if saved_view is not None:
        if overwrite:
            raise UnsupportedFeatureError(f"{os.fspath(path)!r} is saved view {saved_view[1]!r} of dataset "
                                          f"{saved_view[0]!r}; to replace it, delete it there "
                                          f"(ds.delete_view({saved_view[1]!r})) and save the new view.")
        return load(path, read_only, None, storage_options, reset, **_only("load", v3_options))
    path, address = split_address(path)
    path = normalize_new(path)
    if options.access_method != "stream":
        if overwrite:
            raise DatasetOptionError(f"access_method={options.access_method!r} reads a local copy of an existing "
                                     "dataset and cannot overwrite it (as in Deep Lake v3); leave overwrite out.")
        return load(path, read_only, address, storage_options, reset, **_only("load", v3_options))
    if not overwrite and not is_memory(path) and exists(path, options.storage_options):
        return load(path, read_only, address, storage_options, reset, **_only("load", v3_options))
    if address is not None:
        raise VersionArgumentError(f"dl.dataset cannot create a dataset at version {address!r}: "
                                   + (f"overwrite=True replaces {path!r}" if overwrite else f"there is none at {path!r}")
                                   + f"; pass the path without '@{address}'.")
    return empty(path, overwrite=overwrite, storage_options=storage_options, **_only("empty", v3_options))


def _only(function: str, v3_options: dict[str, Any]) -> dict[str, Any]:
    """The v3 keyword arguments that ``dl.<function>`` takes, of those given to another call."""
    return {k: v for k, v in v3_options.items() if k in open_options.ACCEPTED[function]}


def verify_dataset_name(path: PathLike) -> None:
    """StorageError (v3's InvalidDatasetNameException) unless the last part of ``path`` is a
    name Deep Lake v3 creates: letters, digits, '_' and '-' for remote paths (``s3://`` ...), also
    spaces and '.' for local and ``mem://`` ones. Remote copies of saved views (under
    ``/views/``, v3's ``/queries/``) are exempt, as in v3: a view id may have '.'."""
    text = os.fspath(path)
    name = os.path.split(text)[-1]
    remote = not open_options.is_local(text)
    if remote and ("/queries/" in text or "/views/" in text):
        return
    if not (_REMOTE_NAME if remote else _LOCAL_NAME).match(name):
        allowed = "letters, digits, '_' and '-'" + ("" if remote else ", spaces and '.'")
        raise StorageError(f"Invalid dataset name {name!r} in {text!r}: a {'remote' if remote else 'local'} "
                           f"dataset name may use {allowed} only; rename it.")


def delete(path: PathLike, force: bool = False, large_ok: bool = False,
           storage_options: dict[str, Any] | None = None, **v3_options: Any) -> None:
    """Delete the dataset at ``path``. Locations that are not datasets are refused unless
    ``force=True`` (which deletes whatever is there). As in Deep Lake v3, a dataset storing more
    than ``deeplake_nb.constants.DELETE_SAFETY_SIZE`` bytes (all versions; 1 GiB unless changed)
    is deleted only with ``large_ok=True`` (DatasetTooLargeError otherwise). v3's ``creds``,
    ``token``, ``verbose``, ``org_id``: see ``open_options``."""
    storage_options = open_options.parse("delete", path, v3_options, storage_options).storage_options
    refuse_address(path, "dl.delete")
    saved_view = split_saved_view_address(path, storage_options)
    if saved_view is not None:
        raise UnsupportedFeatureError(f"{os.fspath(path)!r} is saved view {saved_view[1]!r} of dataset "
                                      f"{saved_view[0]!r}; deleting a saved view by its path is not done (as in v3): "
                                      f"dl.load({saved_view[0]!r}).delete_view({saved_view[1]!r}).")
    url = normalize(path)
    found = _main_meta(url, storage_options)
    if found is False:
        if force and not _is_empty_location(url, storage_options):
            delete_location(url, storage_options)
            return
        raise DatasetNotFoundError(f"No dataset at {url!r} to delete; pass force=True to delete whatever is there.")
    _refuse_protected(url, found)
    if not large_ok:
        _check_deletable_size(url, storage_options)
    delete_location(url, storage_options)


def _refuse_protected(url: str, meta: DatasetMeta | None) -> None:
    """DatasetError when the dataset at ``url`` (its document ``meta``) has v3's ``allow_delete``
    set to False. One whose document cannot be read (None) is not protected: deleting a damaged
    dataset must stay possible."""
    if meta is not None and not meta.allow_delete:
        raise DatasetError(f"The dataset at {url!r} is protected from deletion (ds.allow_delete is False); set "
                           "ds.allow_delete = True first to delete or overwrite it.")


def delete_open(ds: Dataset, large_ok: bool = False) -> None:
    """``ds.delete()``: delete an open dataset's storage through the store it was opened with
    (no storage options needed again), with ``delete``'s size guard."""
    ds._check_repo_writable("delete it")
    _refuse_protected(ds.path, ds._state.meta)
    store = ds._repo.store
    if not large_ok:
        _check_deletable_size(ds.path, None, store)
    if is_memory(ds.path):
        delete_location(ds.path)
        return
    with ByteStore(store).failures("delete", ""):
        sync(store.clear())
    if not is_remote(ds.path):
        os.rmdir(ds.path)  # clear() leaves the directory, empty


def _check_deletable_size(url: str, storage_options: dict[str, Any] | None, store: Any = None) -> None:
    store = store or open_store(url, read_only=True, storage_options=storage_options)
    with ByteStore(store).failures("measure", ""):
        size = sync(store.getsize_prefix(""))
    limit = constants.DELETE_SAFETY_SIZE
    if size > limit:
        raise DatasetTooLargeError(f"The dataset at {url!r} stores {size} bytes, more than "
                                   f"deeplake_nb.constants.DELETE_SAFETY_SIZE ({limit}); pass large_ok=True to "
                                   "delete it anyway.")


def rename(old_path: PathLike, new_path: PathLike, storage_options: dict[str, Any] | None = None,
           **v3_options: Any) -> Dataset:
    """Deep Lake v3's ``deeplake.rename``: move the dataset at ``old_path`` to ``new_path`` in the
    same folder or bucket (only its name changes) and return it open there (see
    :meth:`Dataset.rename`). v3's ``creds``, ``token``: see ``open_options``."""
    ds = load(old_path, storage_options=storage_options, **v3_options)
    ds.rename(new_path)
    return ds


def rename_open(ds: Dataset, path: PathLike, progressbar: bool = True) -> None:
    """``ds.rename(path)``: move an open dataset's storage (every version, branch, tag and saved
    view) to ``path``, then show the same version from there. Refused, with nothing moved, for a
    read-only dataset (``ReadOnlyError``), a ``path`` in another folder or store
    (``DatasetRenameError``) and a ``path`` where something is (``DatasetExistsError``)."""
    ds._check_repo_writable("rename it")
    old = ds.path
    refuse_address(path, "rename")
    new = normalize(path)
    if ("://" in new) != ("://" in old) or posixpath.dirname(new) != posixpath.dirname(old):  # (dirname keeps the scheme)
        raise DatasetRenameError(f"A dataset is renamed within its folder: {os.fspath(path)!r} is not next to "
                                 f"{old!r}. Give a path that differs in its last part only, or copy the dataset "
                                 "elsewhere with dl.deepcopy(src, dest).")
    options = options_of(ds._repo.store)
    if new == old or not _is_empty_location(new, options):  # (a dataset there is no empty location)
        raise DatasetExistsError(f"Cannot rename {old!r} to {new!r}: something is there already; pick a new name "
                                 "(or dl.delete that path first).")
    verify_dataset_name(new)
    ds.flush()
    ref = ds._vstore.branch or ds.commit_id
    settings = ds._repo.physical.cache.settings if ds._repo.physical.cache is not None else None
    move_objects(old, new, options, progressbar)
    cache = None if settings is None or settings.scratch else replace(settings, folder=cache_folder(new))
    repo = Repository(open_store(new, storage_options=options), cache)
    store, meta = open_version(new, repo, ref, read_only=ds._vstore.read_only)
    ds._state.path = new
    ds._state.switch(store, meta)


def _open_source(src: PathLike | Dataset, storage_options: dict[str, Any] | None) -> Dataset:
    return src if isinstance(src, Dataset) else load(src, read_only=True, storage_options=storage_options)


def copy(src: PathLike | Dataset, dest: PathLike | Dataset, tensors: list[str] | None = None, overwrite: bool = False,
         src_storage_options: dict[str, Any] | None = None, dest_storage_options: dict[str, Any] | None = None,
         progressbar: bool = True, **v3_options: Any) -> Dataset:
    """A new dataset at ``dest`` holding the samples of ``src`` (a path, a dataset, or a view: its
    rows and tensors) at its current version, without history. Samples are copied as stored
    (no re-encoding). A view of one row (``ds[3]``) makes a one-row dataset that opens as that
    row, as in Deep Lake v3. ``dest`` may also be an open, writable dataset without tensors (v3:
    "a Dataset instance ... expected to be empty"): the samples land in it. A copy that fails
    (a damaged source, an interrupt) leaves no dataset at a path, and an open ``dest`` as it was
    (``undo``). v3's ``src_creds``,
    ``dest_creds``, ``num_workers``, ``scheduler``, ``token`` ...: see ``open_options``."""
    _refuse_v3_tokens(v3_options)
    if "creds" in v3_options:  # ds.copy(dest, creds=...): the destination's, as in v3
        v3_options = {**v3_options, "dest_creds": v3_options["creds"]}
    options = open_options.parse("copy", _path_text(dest), v3_options, dest_storage_options, creds_name="dest_creds")
    if isinstance(dest, Dataset):
        _check_empty_destination(dest)
    src_options = open_options.merge_creds(_path_text(src), v3_options.get("src_creds"), src_storage_options)
    source = _open_source(src, src_options)
    names = tensors_to_copy(source, tensors)  # a bad name fails before anything is created
    if isinstance(dest, Dataset):
        with undone_on_failure(dest):  # a failed copy leaves the open destination as it was
            _copy_into(source, dest, names, progressbar)
    else:
        target = empty(dest, overwrite=overwrite, storage_options=options.storage_options)
        try:
            _copy_into(source, target, names, progressbar)
        except BaseException:  # a failed copy leaves no partial dataset at dest
            target.delete(large_ok=True)
            raise
        dest = target
    return dest[0] if source._single else dest


def _copy_into(source: Dataset, target: Dataset, names: list[str], progressbar: bool) -> None:
    copy_tensors(source, target, names, progressbar=progressbar)
    target.info.update(source._state.meta.info)
    if source._single:
        mark_single_row(target)


def _check_empty_destination(dest: Dataset) -> None:
    """``copy`` into an open dataset: it must be writable and hold no tensors or groups yet."""
    if dest.read_only:
        raise ReadOnlyError(f"Cannot copy into {dest.path!r}: it is open read-only; open it with read_only=False.")
    if dest._group or dest.index is not None or list(dest.tensors) or dest._state.meta.groups:
        raise DatasetExistsError(f"Cannot copy into {dest!r}: a destination dataset must be a whole, empty dataset "
                                 "(no tensors or groups); pass an empty one, or a path (with overwrite=True to "
                                 "replace what is there).")


def _path_text(path: PathLike | Dataset) -> str:
    return path.path if isinstance(path, Dataset) else os.fspath(path)


def _refuse_v3_tokens(v3_options: dict[str, Any]) -> None:
    for name in ("src_token", "dest_token"):
        if name in v3_options:
            raise UnsupportedFeatureError(f"{name} is no longer taken (Deep Lake v3 dropped it); pass token=... "
                                          "(only hub:// datasets use one) or leave it out.")


def mark_single_row(ds: Dataset) -> None:
    """Record that ``ds`` (a new one-row dataset) holds one row: ``load`` opens it as ``ds[0]``."""
    ds._state.meta.single_row = True
    ds._state.meta_changed()


def deepcopy(src: PathLike | Dataset, dest: PathLike, overwrite: bool = False,
             src_storage_options: dict[str, Any] | None = None, dest_storage_options: dict[str, Any] | None = None,
             progressbar: bool = True, tensors: list[str] | None = None, **v3_options: Any) -> Dataset:
    """A copy of ``src`` at ``dest`` with its whole history: every commit, branch, tag and saved
    view. Opens the copy at branch "main". Uncommitted changes of an open ``src`` are written first.
    ``src`` is a path or a whole dataset (ViewOperationError for a view or a group: copy those
    with ``dl.copy``). A copy that fails leaves nothing at ``dest``. v3's ``tensors`` (a subset of
    tensors with history) is not done here. v3's
    ``src_creds``, ``dest_creds``, ``token``, ``num_workers`` ...: see ``open_options``."""
    _refuse_v3_tokens(v3_options)
    if tensors is not None:
        raise UnsupportedFeatureError("dl.deepcopy copies every tensor with its history; to copy some tensors, "
                                      "use dl.copy(src, dest, tensors=...) (one version), or deepcopy and then "
                                      "delete the others.")
    options = open_options.parse("deepcopy", dest, v3_options, dest_storage_options, creds_name="dest_creds")
    dest_options = options.storage_options
    src_options = open_options.merge_creds(_path_text(src), v3_options.get("src_creds"), src_storage_options)
    if isinstance(src, Dataset) and (src.index is not None or src._columns is not None or src.group_index):
        raise ViewOperationError(f"dl.deepcopy copies whole datasets, not views or groups ({src!r}); copy this "
                                 "with dl.copy(view, dest), or deep-copy the dataset itself.")
    source = _open_source(src, src_options)
    if not source.read_only:
        source.flush()
    verify_dataset_name(dest)
    url = normalize_new(dest)
    if exists(url, dest_options):
        if not overwrite:
            raise DatasetExistsError(f"A dataset already exists at {url!r}; pass overwrite=True to replace it.")
        delete_location(url, dest_options)
    elif not _is_empty_location(url, dest_options):
        raise DatasetExistsError(f"{url!r} is not empty and is not a deeplake_nb dataset; pick an empty location.")
    try:
        copy_objects(source.path, url, src_options, dest_options, progressbar=progressbar)
    except BaseException:  # the objects copied so far are no dataset, and would block the next try
        delete_location(url, dest_options)
        raise
    return load(url, storage_options=dest_options)


def like(dest: PathLike | Dataset, src: PathLike | Dataset, tensors: list[str] | None = None,
         overwrite: bool = False, storage_options: dict[str, Any] | None = None,
         src_storage_options: dict[str, Any] | None = None, **v3_options: Any) -> Dataset:
    """A dataset shaped like ``src`` (Deep Lake v3's ``like``): its tensors (all visible ones, or
    ``tensors``: names of tensors or groups) with the same names, htypes, dtypes, compressions
    and info, and its dataset info, but no samples. ``dest`` is a path (a new dataset there;
    ``overwrite=True`` replaces one) or an open dataset to add the tensors to. When ``dest`` is
    ``src`` itself (the same path or dataset), ``overwrite=True`` empties its tensors in place.
    v3's ``creds`` (of ``dest``), ``token``, ``org_id``, ``public`` ...: see ``open_options``."""
    options = open_options.parse("like", _path_text(dest), v3_options, storage_options, path_first=False)
    source = _open_source(src, src_storage_options)
    metas = source._state.meta.tensors
    templates = {name: _copy.deepcopy(metas[source[name].key]) for name in _tensor_names(source, tensors)}
    info = _copy.deepcopy(dict(source.info))  # read before an in-place like deletes anything
    if isinstance(dest, Dataset):
        target = dest
    elif normalize(dest) == source.path:
        target = load(dest, storage_options=options.storage_options)
    else:
        target = empty(dest, overwrite=overwrite, storage_options=options.storage_options)
    with target:
        for name, meta in templates.items():
            if overwrite and name in target.tensors:
                target.delete_tensor(name)
            create_tensor_like(target, name, meta)
        target.info.update(info)
    return target


def _tensor_names(source: Dataset, names: list[str] | None) -> list[str]:
    """Visible tensor names of ``source``, or ``names`` with each group replaced by its tensors."""
    if names is None:
        return list(source.tensors)
    out: list[str] = []
    for name in names:
        item = source[name]
        out += [f"{name}/{inner}" for inner in item.tensors] if isinstance(item, Dataset) else [name]
    return out


def read(path: PathLike, verify: bool = False) -> Sample:
    """A media file to append as is: stored byte-identical when its format matches the tensor's
    sample compression. ``verify=True`` decodes it once now to catch corruption early."""
    return Sample(path, verify=verify)


def link(url: PathLike, creds_key: str | None = None) -> LinkedSample:
    """A reference to a file outside the dataset, for ``link[...]`` tensors; ``creds_key`` names
    the dataset's credentials it is read with (``ds.add_creds_key`` / ``ds.populate_creds``)."""
    return LinkedSample(url, creds_key)


def tiled(sample_shape: tuple[int, ...], tile_shape: tuple[int, ...] | None = None, dtype: Any = "uint8") -> Any:
    """Deep Lake v3's ``deeplake.tiled``: an empty (all zero) sample of ``sample_shape`` to append,
    then to fill region by region (``ds.image[i][y0:y1, x0:x1] = patch``). The sample is stored
    whole, as any other: ``tile_shape`` is checked and not used, and each region written rewrites
    the whole sample (so keep such samples to what fits in memory a few times)."""
    import numpy as np

    def shape_of(value: Any, name: str) -> tuple[int, ...]:
        if (not isinstance(value, (tuple, list)) or not value
                or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in value)):
            raise DatasetOptionError(f"{name} must be a tuple of positive ints, e.g. (1000, 1000, 3); got {value!r}.")
        return tuple(int(d) for d in value)
    shape = shape_of(sample_shape, "sample_shape")
    if tile_shape is not None and len(shape_of(tile_shape, "tile_shape")) != len(shape):
        raise DatasetOptionError(f"tile_shape {tile_shape!r} must have as many dimensions as sample_shape {shape!r}.")
    try:
        kind = np.dtype(dtype)
    except TypeError as exc:
        raise DatasetOptionError(f"dtype {dtype!r} is not a NumPy dtype.") from exc
    return np.zeros(shape, kind)


def connect(*args: Any, **kwargs: Any) -> NoReturn:
    """Deep Lake v3's ``deeplake.connect`` (and ``ds.connect``) registered a dataset with
    Activeloop's platform as ``hub://org/name``; there is no platform here."""
    raise UnsupportedFeatureError("dl.connect registers a dataset with Activeloop's platform (hub://), which "
                                  "deeplake_nb does not use: open a dataset by its own URL, e.g. "
                                  "dl.load('s3://bucket/path', creds={...}).")


def list_datasets(*args: Any, **kwargs: Any) -> NoReturn:
    """Deep Lake v3's ``deeplake.list(org_id)`` listed an organization's datasets on Activeloop's
    platform; there is no platform here (``dl.list``)."""
    raise UnsupportedFeatureError("dl.list lists the datasets of an organization on Activeloop's platform, which "
                                  "deeplake_nb does not use: datasets are folders or object-store prefixes; "
                                  "dl.exists(path) tells whether one is at a path.")


def link_tiled(*args: Any, **kwargs: Any) -> NoReturn:
    """Deep Lake v3's ``deeplake.link_tiled`` (a big image linked as a grid of image files) is not
    here."""
    raise UnsupportedFeatureError("dl.link_tiled (one image linked as a grid of files) is not available: link "
                                  "each tile as a sample (dl.link(path)), or read the tiles, join them with "
                                  "np.block and append the image.")


def gc(path: PathLike, grace_seconds: float = 3600.0, storage_options: dict[str, Any] | None = None
       ) -> dict[str, int]:
    """Remove stored objects that no branch, tag or commit reaches and that are older than
    ``grace_seconds`` (so writers in flight are safe); returns what was removed, by kind."""
    url = normalize(path)
    repo = _repository(url, False, storage_options)
    if not repo.is_initialized:
        raise DatasetNotFoundError(f"No dataset at {url!r}.")
    return repo.gc(grace_seconds=grace_seconds)
