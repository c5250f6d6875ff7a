"""Source folders and files on object stores (``s3://``, ``gs://``, ``az://``), read with an
ingest's ``src_creds`` (Deep Lake v3's credential names or obstore's; see ``storage.remote``).

``RemoteFolder`` has ``files.Folder``'s methods; its images are fetched (on the ingest's reader
threads when ``num_workers`` > 0) and stored from their bytes. Storage errors name the URL.
"""

from __future__ import annotations

import posixpath
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import IngestionSourceNotFoundError
from ..format.sample import Sample
from ..storage import ByteStore, normalize
from ..storage.url import open_store


class RemoteFolder:
    """A folder (a key prefix) on an object store."""

    def __init__(self, url: str, creds: dict[str, Any] | None, what: str) -> None:
        self.url = normalize(url).rstrip("/")
        self.store = ByteStore(open_store(self.url, read_only=True, storage_options=dict(creds or {})))
        self._files = sorted(key for key in self.store.list_prefix("")
                             if not any(part.startswith(".") for part in key.split("/")))
        if not self._files:
            raise IngestionSourceNotFoundError(f"The {what} {url!r} holds no files; check the URL and src_creds.")

    @property
    def name(self) -> str:
        return posixpath.basename(self.url)

    def where(self, rel: str = "") -> str:
        return f"{self.url}/{rel}" if rel else self.url

    def files(self) -> list[str]:
        return list(self._files)

    def exists(self, rel: str) -> bool:
        return rel in self._files

    def read(self, rel: str) -> bytes:
        data = self.store.get(rel)
        if data is None:
            raise IngestionSourceNotFoundError(f"{self.where(rel)!r} does not exist; check the URL.")
        return data

    def samples(self, rels: list[str], pool: ThreadPoolExecutor | None) -> list[Sample]:
        """The image files' bytes as samples (fetched on ``pool``'s threads when given)."""
        fetched = pool.map(self.read, rels) if pool is not None else map(self.read, rels)
        return [Sample(buffer=data) for data in fetched]


def read_object(url: str, creds: dict[str, Any] | None, what: str) -> bytes:
    """The bytes of one object (an annotation file)."""
    parent, name = url.rstrip("/").rsplit("/", 1)
    store = ByteStore(open_store(normalize(parent), read_only=True, storage_options=dict(creds or {})))
    data = store.get(name)
    if data is None:
        raise IngestionSourceNotFoundError(f"The {what} {url!r} does not exist; check the URL and src_creds.")
    return data
