"""Deep Lake v3's keyword arguments of the dataset functions (``empty``, ``load``, ``dataset``,
``exists``, ``delete``, ``like``, ``copy``, ``deepcopy``) and what each one means here.

- ``creds``: v3's credentials of a dataset on an object store (``s3://``: a dict of
  ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, ``endpoint_url``,
  ``aws_region`` or ``region``; ``gs://``: a service-account dict or ``{"token": ...}``;
  ``az://``: ``account_key`` or ``sas_token``; ``{"anon": True}`` for public data; or
  ``"ENV"``: the environment, ``AWS_*`` ...); merged with ``storage_options`` (which win where
  both name a key; ``storage.remote`` translates the names for obstore, and an ``http://``
  endpoint is allowed plain HTTP, as v3 allows it). Ignored for local and ``mem://`` paths, as
  in v3.
- ``token``: Activeloop's token, used by v3 only for ``hub://`` datasets; accepted and unused
  (``hub://`` paths are refused by the storage layer).
- ``org_id``: v3's organisation id, which applies to local datasets only: a ``DatasetOptionError``
  (a ValueError, as in v3) for any other path; no effect on a local one.
- ``access_method``: ``"stream"`` reads the dataset where it is (what every dataset here does).
  ``"download"`` deep-copies it into ``$DEEPLAKE_DOWNLOAD_PATH`` first and opens the copy;
  ``"local"`` opens that copy, downloading it when there is none (``"download:2"``,
  ``"download:threaded:2"`` ... name v3's copy workers; the copy here is one pass).
- ``check_integrity``: ``True`` checks that every tensor's columns hold all of its rows.
  v3 checks by default; here a write publishes its data before the row count that shows it,
  so an interrupted write is never visible and the check runs only when asked for.
- ``runtime``: v3's Tensor Database (``{"tensor_db": True}``), a hub service: refused.
- ``unlink``: with ``"download"``, v3 fetches linked files into the copy: not done here
  (refused); with ``"stream"`` a ``DatasetOptionError``, as in v3.
- ``memory_cache_size``, ``local_cache_size`` (MB): v3's cache chain of ``load``, ``empty`` and
  ``dataset``: objects read from the store are kept in memory and in a folder on local disk
  (``$DEEPLAKE_NB_CACHE``, default ``~/.cache/deeplake_nb``, one folder per dataset location), at
  most that many MB each, so later epochs and re-opens read locally (``storage.cache``). Only
  objects that never change are kept (refs are always read from the store). Both default to 0
  (off): v3's 2000 MB default memory cache is not applied, since local datasets gain nothing
  from it; pass them for a remote dataset. Not applied to ``mem://`` datasets.
- ``verbose``, ``public``, ``lock_enabled``, ``lock_timeout``, ``index_params``, ``indra``,
  ``num_workers``, ``scheduler``: accepted, no effect. Writers never lock (concurrent writers are
  detected when they publish), and there is no hosted service or separate index engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import DatasetOptionError, UnsupportedFeatureError
from ..storage import is_memory, is_remote, normalize
from ..storage.cache import CacheSettings, settings_for

_NO_EFFECT = {"verbose", "public", "lock_enabled", "lock_timeout",
              "index_params", "indra", "num_workers", "scheduler", "token"}
_CREATE = {"runtime", "public", "memory_cache_size", "local_cache_size", "creds", "token", "org_id",
           "lock_enabled", "lock_timeout", "verbose", "index_params"}
_OPEN = {"memory_cache_size", "local_cache_size", "creds", "token", "org_id", "verbose", "access_method",
         "unlink", "indra", "check_integrity", "lock_timeout", "lock_enabled", "index_params"}
ACCEPTED: dict[str, frozenset[str]] = {
    "empty": frozenset(_CREATE),
    "load": frozenset(_OPEN),
    "dataset": frozenset(_CREATE | _OPEN | {"runtime"}),
    "exists": frozenset({"creds", "token", "org_id"}),
    "delete": frozenset({"creds", "token", "verbose", "org_id"}),
    "like": frozenset({"runtime", "creds", "token", "org_id", "public", "verbose"}),
    "copy": frozenset({"runtime", "src_creds", "dest_creds", "token", "num_workers", "scheduler", "public",
                       "verbose", "creds"}),
    "deepcopy": frozenset({"runtime", "src_creds", "dest_creds", "token", "num_workers", "scheduler", "public",
                           "verbose"}),
}
ACCESS_METHODS = ("stream", "download", "local")
DOWNLOAD_PATH_ENV = "DEEPLAKE_DOWNLOAD_PATH"
_UNUSED_CREDS = ("expiration",)  # v3's temporary-credential bookkeeping, not an S3 option


@dataclass(frozen=True)
class OpenOptions:
    """The v3 arguments of one call that change what it does here."""

    storage_options: dict[str, Any] | None = None
    access_method: str = "stream"
    check_integrity: bool = False


def parse(function: str, path: Any, options: Mapping[str, Any], storage_options: dict[str, Any] | None = None,
          creds_name: str = "creds", path_first: bool = True) -> OpenOptions:
    """Check the v3 keyword arguments ``options`` given to ``dl.<function>`` for ``path`` and say
    what they mean here. TypeError for a name ``dl.<function>`` does not take (as Python would
    say it), DatasetOptionError / UnsupportedFeatureError for values that do not apply.
    ``path_first``: an unusable path (``hub://``: StorageError) is reported before a misplaced
    ``org_id``, as v3 reports a hub path's token first (v3's ``like`` checks ``org_id`` first)."""
    unknown = sorted(set(options) - ACCEPTED[function])
    if unknown:
        raise TypeError(f"dl.{function}() got unexpected keyword arguments {unknown}; it takes "
                        f"{sorted(ACCEPTED[function])} besides its own.")
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else ""
    if path_first and text and text.rstrip("/") not in ("mem:", "mem:/"):
        normalize(text)
    if options.get("org_id") is not None and not is_local(text):
        raise DatasetOptionError(f"org_id applies to local datasets only (as in Deep Lake v3), not to {text!r}; "
                                 "leave it out.")
    _check_runtime(options.get("runtime"))
    access = _access_method(options.get("access_method", "stream"), bool(options.get("unlink")))
    return OpenOptions(storage_options=merge_creds(text, options.get(creds_name), storage_options),
                       access_method=access, check_integrity=bool(options.get("check_integrity")))


def cache_settings(url: str, options: Mapping[str, Any]) -> CacheSettings | None:
    """The cache chain that v3's ``memory_cache_size`` / ``local_cache_size`` in ``options`` ask
    for the dataset at the normalised ``url`` (None: no cache; always for ``mem://``)."""
    settings = settings_for(url, options.get("memory_cache_size"), options.get("local_cache_size"))
    return None if is_memory(url) else settings


def is_local(path: str) -> bool:
    """Whether v3 counts ``path`` as local: anything but a cloud or hub URL (``mem://`` too)."""
    return "://" not in path or path.startswith(("mem://", "file://"))


def merge_creds(path: str, creds: Any, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    """The storage options of ``path`` given v3's ``creds`` and our ``storage_options`` (which win
    where both name a key); ``creds`` matters only for object-store paths, as in v3."""
    if creds is None or creds == "ENV" or not is_remote(path):
        if creds is not None and creds != "ENV" and not isinstance(creds, Mapping):
            raise DatasetOptionError(f"creds must be a dict of credentials or the string 'ENV', not {creds!r}.")
        return storage_options
    if not isinstance(creds, Mapping):
        raise DatasetOptionError(f"creds must be a dict of credentials or the string 'ENV', not {creds!r}.")
    if "creds_key" in creds:
        raise UnsupportedFeatureError("creds={'creds_key': ...} names credentials managed by Activeloop, which "
                                      "deeplake_nb cannot reach; pass the keys themselves (aws_access_key_id, ...).")
    if "profile_name" in creds:
        raise UnsupportedFeatureError("creds={'profile_name': ...} (an AWS CLI profile) is not read here; pass "
                                      "the profile's keys, or set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.")
    options: dict[str, Any] = {k: v for k, v in creds.items() if v is not None and k not in _UNUSED_CREDS}
    return {**options, **(storage_options or {})}


def _check_runtime(runtime: Any) -> None:
    if runtime and (runtime.get("tensor_db") or runtime.get("db_engine")):
        raise UnsupportedFeatureError("runtime={'tensor_db': True} asks for Activeloop's hosted Tensor Database, "
                                      "which deeplake_nb does not have; leave runtime out (queries run locally).")


def _access_method(value: Any, unlink: bool) -> str:
    """v3's access method ("stream", "download", "local", with optional ":workers:scheduler")."""
    if not isinstance(value, str) or value.split(":")[0] not in ACCESS_METHODS:
        raise DatasetOptionError(f"Invalid access_method {value!r}; use 'stream', 'download' or 'local'.")
    method, *rest = value.split(":")
    digits = sum(part.isdigit() for part in rest)
    if (method == "stream" and rest) or len(rest) > 2 or (len(rest) == 2 and digits != 1):
        raise DatasetOptionError(f"Invalid access_method {value!r}; use 'download', 'download:<workers>', "
                                 "'download:<scheduler>' or 'download:<workers>:<scheduler>' (same for 'local').")
    if unlink:
        if method == "stream":
            raise DatasetOptionError("unlink=True applies to access_method='download' or 'local' only (as in Deep "
                                     "Lake v3); leave it out.")
        raise UnsupportedFeatureError("unlink=True (fetching linked files into the downloaded copy) is not done "
                                      "here; download without unlink, then copy the link tensors' data yourself.")
    return method


def download_location(path: str) -> str:
    """Where ``access_method="download"``/``"local"`` keeps the local copy of ``path`` (v3's
    naming: ``$DEEPLAKE_DOWNLOAD_PATH/<path with '://' and '/' as '_'>``)."""
    root = os.environ.get(DOWNLOAD_PATH_ENV)
    if not root:
        raise DatasetOptionError(f"access_method='download' and 'local' copy the dataset into the directory "
                                 f"named by the {DOWNLOAD_PATH_ENV} environment variable, which is not set; set it "
                                 "or use access_method='stream'.")
    name = path.replace("://", "_").replace("/", "_").replace("\\", "_")
    return os.path.join(root, name)
