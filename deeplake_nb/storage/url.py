"""Turn a dataset URL into a zarr v3 Store.

- a plain path or ``file://`` URL -> ``zarr.storage.LocalStore`` (the default);
- ``mem://name`` -> ``zarr.storage.MemoryStore`` over a per-process dict kept by name, so
  ``load("mem://x")`` sees what the newest ``empty("mem://x")`` wrote in the same process;
- ``s3://bucket/prefix`` -> ``zarr.storage.ObjectStore`` over ``obstore`` (extra ``s3``).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from zarr.abc.store import Store
from zarr.storage import LocalStore, MemoryStore

from ..errors import StorageError
from .bytestore import reason

_MEMORY: dict[str, dict[str, Any]] = {}


def normalize(url: str | os.PathLike[str]) -> str:
    """The canonical form of a dataset URL (absolute path for local directories)."""
    text = os.fspath(url)
    if not text:
        raise StorageError("The dataset path is empty; pass a directory, 'mem://name' or 's3://bucket/prefix'.")
    if text.startswith("file://"):
        text = text[len("file://"):]
    for scheme in ("mem", "s3"):  # a URL that went through pathlib.Path lost one '/'
        if text.startswith(f"{scheme}:/") and not text.startswith(f"{scheme}://"):
            text = f"{scheme}://{text[len(scheme) + 2:]}"
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme not in ("mem", "s3"):
            raise StorageError(f"Unsupported storage scheme {scheme!r} in {text!r}; use a local path, mem:// or s3://.")
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
    if url.startswith("s3://"):
        return _open_s3(url, read_only=read_only, options=storage_options or {})
    if not read_only:
        try:
            os.makedirs(url, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the dataset directory {url!r} ({exc}); choose a path "
                               "you can write to.") from exc
    return LocalStore(url, read_only=read_only)


def delete_location(url: str, storage_options: dict[str, Any] | None = None) -> None:
    """Remove everything at a URL (used by ``overwrite=True`` and ``dl.delete``)."""
    if is_memory(url):
        _MEMORY.pop(url, None)
        return
    if url.startswith("s3://"):
        from zarr.core.sync import sync

        sync(open_store(url, storage_options=storage_options).clear())
        return
    import shutil

    if os.path.isdir(url):
        shutil.rmtree(url)


def _open_s3(url: str, *, read_only: bool, options: dict[str, Any]) -> Store:
    try:
        from obstore.exceptions import BaseError
        from obstore.store import S3Store
        from zarr.storage import ObjectStore
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise StorageError("s3:// datasets need the 's3' extra: pip install 'deeplake_nb[s3]'.") from exc
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise StorageError(f"{url!r} names no bucket; use s3://bucket/prefix.")
    try:
        s3 = S3Store(bucket, prefix=prefix or None, **options)
    except (BaseError, TypeError, ValueError) as exc:
        raise StorageError(f"Cannot open {url!r} with storage_options {sorted(options)} ({reason(exc)}); pass "
                           "the options obstore's S3Store takes (region, endpoint, credentials ...).") from exc
    return ObjectStore(s3, read_only=read_only)
