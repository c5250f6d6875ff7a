"""Deep Lake v3's import path ``deeplake.core.link_creds``: ``LinkCreds``, a dataset's named
credentials for linked files (``storage.link_creds``), with v3's ``get_storage_provider``."""

from __future__ import annotations

from ..errors import StorageError
from ..storage.link_creds import LinkCreds as _LinkCreds
from .storage import AzureProvider, GCSProvider, S3Provider, StorageProvider

__all__ = ["LinkCreds"]

_PROVIDERS = {"s3": S3Provider, "gcs": GCSProvider, "azure": AzureProvider}
_S3_ARGUMENTS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url", "aws_region")
V3_ROOT = "s3://bucket/path"
"""The root Deep Lake v3 gave the providers of linked files (it read full URLs through them)."""


class LinkCreds(_LinkCreds):
    """The creds keys of linked files (see ``storage.link_creds.LinkCreds``), plus v3's storage
    providers made with a key's credentials."""

    def get_storage_provider(self, key: str | None, provider_type: str, root: str = V3_ROOT) -> StorageProvider:
        """A ``provider_type`` ("s3", "gcs" or "azure") storage provider over ``root`` reading
        with the credentials of ``key`` (None: the environment's). MissingCredsError when ``key``
        is unknown or its credentials were not given in this session (``populate_creds``);
        UnsupportedFeatureError for "gcs" and "azure", which deeplake_nb has no providers for.
        A new provider each call, so credentials given later are used."""
        cls = _PROVIDERS.get(provider_type)
        if cls is None:
            raise StorageError(f"Unknown provider type {provider_type!r}; use one of {sorted(_PROVIDERS)}.")
        creds = self.get_creds(key)
        if cls is not S3Provider:
            return cls(root)
        return S3Provider(root, **{name: creds[name] for name in _S3_ARGUMENTS if creds.get(name) is not None})
