"""Fetch the bytes behind a linked sample's URL (local path, file://, http(s)://)."""

from __future__ import annotations

import os
import urllib.request

from ..errors import LinkError


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def fetch(url: str, timeout: float = 30.0) -> bytes:
    """All bytes of the linked file; LinkError says which URL failed and why."""
    try:
        if is_local(url):
            fd = os.open(os.path.expanduser(local_path(url)), os.O_RDONLY)
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
        if url.startswith(("http://", "https://")):
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - user's own link
                return response.read()
    except OSError as exc:
        raise LinkError(f"Cannot read linked file {url!r} ({exc}); fix the path or re-link the sample.") from exc
    raise LinkError(f"Unsupported link {url!r}; links may be local paths, file:// or http(s):// URLs.")
