"""Turn a dataset URL into a zarr v3 Store.

- a plain path or ``file://`` URL -> ``zarr.storage.LocalStore`` (the default);
- ``mem://name`` -> ``zarr.storage.MemoryStore`` over a per-process dict kept by name, so
  ``load("mem://x")`` sees what the newest ``empty("mem://x")`` wrote in the same process;
- ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``az://account/container/prefix`` (and Deep Lake
  v3's ``gcs://``, ``gcp://``, ``azure://``) -> ``remote.RemoteStore``, zarr's ``ObjectStore`` over
  ``obstore`` (extra ``s3``), with the storage options (v3's ``creds``) the location was opened with.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from zarr.abc.store import Store
from zarr.storage import LocalStore, MemoryStore

from ..errors import StorageError
from .remote import KINDS, is_remote, open_remote

_MEMORY: dict[str, dict[str, Any]] = {}
_SCHEMES = ("mem", *KINDS)


def normalize(url: str | os.PathLike[str]) -> str:
    """The canonical form of a dataset URL (absolute path for local directories)."""
    text = os.fspath(url)
    if not text:
        raise StorageError("The dataset path is empty; pass a directory, 'mem://name' or 's3://bucket/prefix'.")
    if text.startswith("file://"):
        text = text[len("file://"):]
    for scheme in _SCHEMES:  # a URL that went through pathlib.Path lost one '/'
        if text.startswith(f"{scheme}:/") and not text.startswith(f"{scheme}://"):
            text = f"{scheme}://{text[len(scheme) + 2:]}"
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme not in _SCHEMES:
            raise StorageError(f"Unsupported storage scheme {scheme!r} in {text!r}; use a local path, mem://, s3://, "
                               "gs:// or az://.")
        rest = rest.strip("/")
        if not rest:
            raise StorageError(f"{text!r} names no location; use {scheme}://name (for memory, "
                               "dl.empty('mem://') alone makes a fresh unnamed in-memory dataset).")
        return f"{scheme}://{rest}"
    return os.path.abspath(os.path.expanduser(text))


def normalize_new(url: str | os.PathLike[str]) -> str:
    """Like :func:`normalize`, for a dataset about to be created: a bare ``mem://`` names a fresh,
    unused in-memory location."""
    if os.fspath(url).rstrip("/") in ("mem:", "mem:/"):
        while True:
            fresh = f"mem://unnamed-{uuid.uuid4().hex[:12]}"
            if fresh not in _MEMORY:
                return fresh
    return normalize(url)


def is_memory(url: str) -> bool:
    return url.startswith("mem://")


def open_store(url: str, *, read_only: bool = False, storage_options: dict[str, Any] | None = None) -> Store:
    """Open the zarr Store behind a normalised URL. Local directories are created on write."""
    if is_memory(url):
        data = _MEMORY.setdefault(url, {})
        return MemoryStore(store_dict=data, read_only=read_only)
    if is_remote(url):
        return open_remote(url, read_only=read_only, options=storage_options)
    if not read_only:
        try:
            os.makedirs(url, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the dataset directory {url!r} ({exc}); choose a path "
                               "you can write to.") from exc
    return LocalStore(url, read_only=read_only)


def rename_location(url: str, new_url: str) -> None:
    """Give a local folder or an in-memory dataset a new name (``new_url``: nothing there, or an
    empty folder); StorageError when the file system refuses. Object stores have no rename (see
    ``core.copy.move_objects``)."""
    if is_remote(url) or is_remote(new_url):
        raise StorageError(f"An object store cannot rename {url!r}; its objects are copied instead.")
    if is_memory(url):
        _MEMORY[new_url] = _MEMORY.pop(url, {})
        return
    try:
        os.rename(url, new_url)
    except OSError as exc:
        raise StorageError(f"Cannot rename {url!r} to {new_url!r} ({exc}); check that both are on a file system "
                           "you can write to and that nothing is at the new path.") from exc


def delete_location(url: str, storage_options: dict[str, Any] | None = None) -> None:
    """Remove everything at a URL (used by ``overwrite=True`` and ``dl.delete``)."""
    if is_memory(url):
        _MEMORY.pop(url, None)
        return
    if is_remote(url):
        from zarr.core.sync import sync

        sync(open_store(url, storage_options=storage_options).clear())
        return
    import shutil

    if os.path.isdir(url):
        shutil.rmtree(url)

