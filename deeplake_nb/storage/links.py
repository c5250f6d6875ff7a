"""Linked files: the stored reference of a linked sample, and fetching the bytes behind it.

A link's stored payload is its URL in UTF-8; a link made with a credentials key
(``dl.link(url, creds_key="k")``) is ``b"\\x00<n>\\x00" + url``, ``n`` being the key's number
in the dataset's ``LinkCreds`` (see ``link_creds``; a NUL never starts a URL).

URLs may be local paths, ``file://``, ``http(s)://`` (credentials: ``{"Authorization": ...}``,
sent as that header) or objects on a store: ``s3://bucket/key``, ``gs://bucket/key``,
``az://account/container/key`` (and v3's ``gcs://``, ``gcp://``, ``azure://``), read through
obstore with credentials as datasets on those stores take them (``remote.client_settings``: Deep
Lake v3's names, e.g. ``aws_access_key_id``, ``endpoint_url``, or obstore's own; ``{}`` reads the
``AWS_*`` / ``GOOGLE_*`` / ``AZURE_*`` environment).
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.request
from typing import Any

from ..errors import LinkError
from .bytestore import reason
from .remote import Location, RemoteStore, is_remote, locate

CLOUD_PREFIXES = ("s3://", "gcs://", "gcp://", "gs://", "az://", "azure://")
_STORES: dict[tuple[Any, str], RemoteStore] = {}  # (bucket's location, creds) -> its store, reused by every link there


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def pack(url: str, creds_index: int = 0) -> bytes:
    """The stored reference of a link to ``url`` made with credentials key number ``creds_index``
    (0: none)."""
    return url.encode() if not creds_index else b"\x00%d\x00" % creds_index + url.encode()


def unpack(ref: bytes | str) -> tuple[str, int]:
    """(url, credentials key number) of a stored reference (see ``pack``)."""
    text = ref.decode() if isinstance(ref, (bytes, bytearray, memoryview)) else ref
    if not text.startswith("\x00"):
        return text, 0
    number, _, url = text[1:].partition("\x00")
    return url, int(number)


def fetch(ref: bytes | str, creds: dict[str, Any] | None = None, timeout: float = 30.0) -> bytes:
    """All bytes of the linked file named by ``ref`` (a URL or a stored reference), read with
    ``creds``; LinkError says which URL failed and why."""
    url, _ = unpack(ref)
    try:
        if is_local(url):
            return _read_local(os.path.expanduser(local_path(url)))
        if url.startswith(("http://", "https://")):
            return _read_http(url, creds or {}, timeout)
        if is_remote(url):
            return _read_object(url, creds or {})
    except OSError as exc:
        raise LinkError(f"Cannot read linked file {url!r} ({exc}); fix the path or re-link the sample.") from exc
    raise LinkError(f"Unsupported link {url!r}; links may be local paths, file://, http(s)://, s3://, gs:// or "
                    "az:// URLs.")


def _read_local(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size)
        while len(data) < size:  # short reads happen on some file systems
            more = os.read(fd, size - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


def _read_http(url: str, creds: dict[str, Any], timeout: float) -> bytes:
    headers = {"Authorization": str(creds["Authorization"])} if "Authorization" in creds else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own link
        return response.read()


def _read_object(url: str, creds: dict[str, Any]) -> bytes:
    """The object at an object-store URL, through the client a dataset there would use (same
    credentials rule, timeouts, and refusal after a fork); OSError when it cannot be read."""
    try:
        import obstore
        from obstore.exceptions import BaseError
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise LinkError(f"Reading {url!r} needs obstore: pip install 'deeplake_nb[s3]'.") from exc
    location = locate(url)
    client = _bucket_store(location, creds).store
    try:
        return bytes(obstore.get(client, location.prefix).bytes())
    except (BaseError, TypeError, ValueError) as exc:
        raise OSError(f"{type(exc).__name__}: {reason(exc)}") from exc


def _bucket_store(location: Location, creds: dict[str, Any]) -> RemoteStore:
    """The store of ``location``'s bucket with ``creds``, made once per bucket and creds: links
    read one after another share its client and connections (it makes one client per process)."""
    scheme = location.url.split("://", 1)[0]
    where = f"{location.account}/{location.bucket}" if location.account else location.bucket
    bucket = dataclasses.replace(location, url=f"{scheme}://{where}", prefix="")
    key = (bucket, json.dumps(creds, sort_keys=True, default=repr))
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = RemoteStore(bucket, creds, read_only=True)
    return store
