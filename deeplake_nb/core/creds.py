"""The Dataset mixin for creds keys of linked files (Deep Lake v3's ``add_creds_key``,
``populate_creds``, ``update_creds_key``, ``get_creds_keys``, ``link_creds``); the registry
itself is ``storage.link_creds.LinkCreds``, kept by ``DatasetState``."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import MissingCredsError, ReadOnlyError, UnsupportedFeatureError
from ..storage.link_creds import DOCUMENT, LinkCreds

if TYPE_CHECKING:
    from .dataset import DatasetState


def load(state: DatasetState) -> LinkCreds:
    """The creds keys stored beside the versions of ``state``'s dataset (no credentials)."""
    return LinkCreds.frombuffer(state.zarr_store.repository.physical.get(DOCUMENT))


def save(state: DatasetState) -> None:
    """Store the creds keys (never the credentials); ReadOnlyError on a read-only dataset."""
    repository = state.zarr_store.repository
    if repository.store.read_only:
        raise ReadOnlyError(f"Dataset {state.path!r} is open read-only; reopen it with dl.load(path, "
                            "read_only=False) to change its creds keys.")
    repository.physical.set(DOCUMENT, state.link_creds.tobytes())


def note_used(state: DatasetState, keys: set[str]) -> None:
    """Record that samples now use ``keys`` (stored when that is new and the dataset writable)."""
    creds = state.link_creds
    if any([creds.add_to_used_creds(key) for key in sorted(keys)]) and not state.zarr_store.repository.store.read_only:
        save(state)


class CredsKeys:
    """Creds keys: named credentials for the files of ``link[...]`` tensors. A key's name is
    kept with the dataset; its credentials are given each session with ``populate_creds``."""

    _state: DatasetState

    @property
    def link_creds(self) -> LinkCreds:
        """The dataset's ``LinkCreds``: its keys, the ones samples use, this session's credentials."""
        return self._state.link_creds

    def add_creds_key(self, creds_key: str, managed: bool = False) -> None:
        """Add a creds key (stored with the dataset, for every version); give its credentials with
        ``populate_creds``. ``managed=True`` (credentials kept by Activeloop's hub) is not
        available: UnsupportedFeatureError."""
        creds = self._state.link_creds
        before = list(creds.creds_keys)
        creds.add_creds_key(creds_key, managed=managed)
        try:
            save(self._state)
        except ReadOnlyError:
            creds.creds_keys = before
            raise

    def populate_creds(self, creds_key: str, creds: dict[str, Any] | None = None,
                       from_environment: bool = False) -> None:
        """Give the credentials of ``creds_key`` for this session (they are never stored): for
        s3:// links obstore's S3 options or v3's ``aws_access_key_id``, ``aws_secret_access_key``,
        ``aws_session_token``, ``endpoint_url``, ``aws_region``; for http(s):// links
        ``{"Authorization": ...}``. ``from_environment=True`` reads the environment (``AWS_*``)."""
        if creds and from_environment:
            raise MissingCredsError("Pass creds or from_environment=True, not both.")
        self._state.link_creds.populate_creds(creds_key, {} if from_environment or creds is None else creds)

    def update_creds_key(self, creds_key: str, new_creds_key: str | None = None, managed: bool | None = None) -> None:
        """Rename ``creds_key`` to ``new_creds_key``: the samples linked with it follow, and so do
        its credentials (when ``new_creds_key`` is a key already, both names mean it). ``managed``
        (hub-kept credentials) can only be False."""
        if managed:
            raise UnsupportedFeatureError(
                "Managed credentials (kept by Activeloop's hub) are a Deep Lake v3 feature that deeplake_nb does not "
                "have; give the key's credentials with ds.populate_creds(key, creds).")
        if new_creds_key is None and managed is None:
            raise MissingCredsError("update_creds_key needs new_creds_key (the new name).")
        if new_creds_key is None or new_creds_key == creds_key:
            self._state.link_creds.get_encoding(creds_key)  # an unknown key is still an error
            return
        creds = self._state.link_creds
        saved = copy.deepcopy(creds.__getstate__())
        creds.replace_creds(creds_key, new_creds_key)
        try:
            save(self._state)
        except ReadOnlyError:
            creds.__setstate__(saved)
            raise

    def change_creds_management(self, creds_key: str, managed: bool) -> None:
        """Deep Lake v3: move a key's credentials to or from Activeloop's hub. Keys here are never
        managed: ``managed=False`` only checks that the key exists; ``managed=True`` is
        UnsupportedFeatureError."""
        if managed:
            self.update_creds_key(creds_key, managed=True)
        self._state.link_creds.get_encoding(creds_key)

    def get_creds_keys(self) -> set[str]:
        """The names of the dataset's creds keys."""
        return set(self._state.link_creds.creds_keys)

    def get_managed_creds_keys(self) -> set[str]:
        """Keys whose credentials Activeloop's hub keeps: none here."""
        return set(self._state.link_creds.managed_creds_keys)


def carry(source: DatasetState, dest: DatasetState) -> None:
    """Give ``dest`` (a dataset that link samples of ``source`` are copied into as stored) the
    creds keys those samples' numbers name, with this session's credentials. A copy starts with
    no keys; one whose keys differ cannot take the samples (MissingCredsError)."""
    keys = source.link_creds
    if not keys.creds_keys or dest.link_creds.creds_keys == keys.creds_keys:
        return
    if dest.link_creds.creds_keys:
        raise MissingCredsError(f"{dest.path!r} has other creds keys ({dest.link_creds.creds_keys}) than "
                                f"{source.path!r} ({keys.creds_keys}); append the links with ds.<tensor>.extend instead.")
    dest._link_creds = copy.deepcopy(keys)
    save(dest)
