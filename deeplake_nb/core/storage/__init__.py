"""Deep Lake v3's import path ``deeplake.core.storage``: storage providers, each the objects at
one location as a mutable mapping of key -> bytes (see ``provider``), and ``ds.storage``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import internal
from ..extensions import provide
from .azure import AzureProvider
from .gcs import GCSProvider
from .local import LocalProvider
from .memory import MemoryProvider
from .provider import StorageProvider
from .s3 import S3Provider

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["AzureProvider", "GCSProvider", "LocalProvider", "MemoryProvider", "S3Provider", "StorageProvider",
           "install", "provider_of"]


def provider_of(ds: Dataset) -> StorageProvider:
    """The provider over the location holding ``ds`` (every version's objects), of the class
    v3 gave it: MemoryProvider for mem://, S3Provider for s3://, else LocalProvider. Read-only
    when the dataset is; its ``autoflush`` is False inside ``with ds:``."""
    path, state = ds.path, internal.state(ds)
    cls = MemoryProvider if path.startswith("mem://") else S3Provider if path.startswith("s3://") else LocalProvider
    return cls.over(path, state.zarr_store.repository.store, read_only=ds.read_only,
                    publishes_each_write=lambda: state.batch_depth == 0)


def install() -> None:
    """Provide ``Dataset.storage``, v3's property (declared in ``core.extensions``): ``provider_of``."""
    provide(storage=provider_of)
