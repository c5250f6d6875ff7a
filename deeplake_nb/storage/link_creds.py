"""``LinkCreds``: named credentials for a dataset's linked files (Deep Lake v3's creds keys).

``ds.add_creds_key("k")`` names a set of credentials; ``dl.link(url, creds_key="k")`` links a
file read with them; ``ds.populate_creds("k", {...})`` gives them for this session. The key
names, and which of them samples use, are kept with the dataset; the credentials never are: a
reopened dataset needs ``populate_creds`` again, and a sample whose key has no credentials
cannot be read (MissingCredsError).

Keys are numbered from 1 in the order they were added (0: no key); a link stores its key's
number (``links.pack``), so renaming a key (``replace_creds``) renames it for every sample. The
document lives beside the versions (``DOCUMENT`` at the dataset's root, as v3 kept it), shared
by every branch and commit, so numbers never change meaning between versions.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import CredsKeyExistsError, CredsKeyNotFoundError, MissingCredsError, UnsupportedFeatureError
from .links import CLOUD_PREFIXES

DOCUMENT = "link_creds.json"


class LinkCreds:
    """The creds keys of one dataset (``creds_keys``, in order, and ``used_creds_keys``) and the
    credentials given for them in this session (``creds_dict``)."""

    def __init__(self) -> None:
        self.creds_keys: list[str] = []
        self.creds_dict: dict[str, dict[str, Any]] = {}
        self.used_creds_keys: set[str] = set()
        self.managed_creds_keys: set[str] = set()  # credentials kept by Activeloop's hub: never here

    # -- keys -------------------------------------------------------------------------------------
    @property
    def creds_mapping(self) -> dict[str, int]:
        """Each key's number (the first key added is 1)."""
        return {key: self.creds_keys.index(key) + 1 for key in self.creds_keys}

    def __len__(self) -> int:
        return len(self.creds_keys)

    @property
    def missing_keys(self) -> list[str]:
        """The keys without credentials in this session, in order."""
        return [key for key in self.creds_keys if key not in self.creds_dict]

    def add_creds_key(self, creds_key: str, managed: bool = False) -> None:
        if managed:
            raise UnsupportedFeatureError(
                "Managed credentials (kept by Activeloop's hub) are a Deep Lake v3 feature that deeplake_nb does not "
                "have; add the key with managed=False and give its credentials with ds.populate_creds(key, creds).")
        if not isinstance(creds_key, str) or not creds_key or "\x00" in creds_key:
            raise CredsKeyExistsError(f"A creds key is a non-empty name; got {creds_key!r}.")
        if creds_key in self.creds_keys:
            raise CredsKeyExistsError(f"The creds key {creds_key!r} already exists; give its credentials with "
                                      "populate_creds, or pick another name.")
        self.creds_keys.append(creds_key)

    def replace_creds(self, old: str, new: str) -> None:
        """Rename the key ``old`` to ``new`` (the samples linked with it follow). When ``new`` is
        a key already, both numbers mean ``new`` (its credentials stay)."""
        if old not in self.creds_keys:
            raise CredsKeyNotFoundError(f"No creds key {old!r}; keys: {self.creds_keys}.")
        if new in self.creds_keys:
            self.creds_dict.pop(old, None)
        elif old in self.creds_dict:
            self.creds_dict[new] = self.creds_dict.pop(old)
        self.creds_keys = [new if key == old else key for key in self.creds_keys]
        if old in self.used_creds_keys:
            self.used_creds_keys = (self.used_creds_keys - {old}) | {new}

    def get_encoding(self, creds_key: str | None = None, path: str | None = None) -> int:
        """The number a link to ``path`` made with ``creds_key`` stores; MissingCredsError for an
        unknown key, and for a cloud URL without a key (its credentials must be named)."""
        if creds_key is None:
            if path and path.startswith(CLOUD_PREFIXES):
                raise MissingCredsError(f"Linking {path!r} needs a creds key: ds.add_creds_key('k'), "
                                        "ds.populate_creds('k', creds) (or from_environment=True), then "
                                        "dl.link(url, creds_key='k').")
            return 0
        if creds_key not in self.creds_keys:
            raise MissingCredsError(f"No creds key {creds_key!r}; add it first with ds.add_creds_key({creds_key!r}) "
                                    f"(keys: {self.creds_keys}).")
        return self.creds_keys.index(creds_key) + 1

    def get_creds_key(self, number: int) -> str | None:
        """The key of a stored number (None for 0)."""
        if not 0 <= number <= len(self.creds_keys):
            raise CredsKeyNotFoundError(f"No creds key number {number}; this dataset has {len(self.creds_keys)}.")
        return None if number == 0 else self.creds_keys[number - 1]

    # -- credentials ------------------------------------------------------------------------------
    def populate_creds(self, creds_key: str, creds: dict[str, Any]) -> None:
        if creds_key not in self.creds_keys:
            raise MissingCredsError(f"No creds key {creds_key!r} to populate; add it first with "
                                    f"ds.add_creds_key({creds_key!r}) (keys: {self.creds_keys}).")
        if not isinstance(creds, dict):
            raise MissingCredsError(f"Credentials are a dict (such as {{'aws_access_key_id': ..., "
                                    f"'aws_secret_access_key': ...}}); got {type(creds).__name__}.")
        self.creds_dict[creds_key] = dict(creds)

    def get_creds(self, creds_key: str | None) -> dict[str, Any]:
        """The credentials of ``creds_key`` ({} for None); MissingCredsError when the key is
        unknown or has none in this session."""
        if creds_key is None:
            return {}
        if creds_key not in self.creds_dict:
            if creds_key not in self.creds_keys:
                raise MissingCredsError(f"No creds key {creds_key!r} (keys: {self.creds_keys}).")
            raise MissingCredsError(f"The credentials of creds key {creds_key!r} are not given in this session; "
                                    f"call ds.populate_creds({creds_key!r}, creds) (or from_environment=True) first.")
        return self.creds_dict[creds_key]

    def creds_of(self, number: int) -> dict[str, Any] | None:
        """The credentials a link storing key number ``number`` is read with (None for 0)."""
        return None if number == 0 else self.get_creds(self.get_creds_key(number))

    def add_to_used_creds(self, creds_key: str | None) -> bool:
        """Record that a sample uses ``creds_key``; True when that is new (the document changed)."""
        if creds_key is None or creds_key in self.used_creds_keys:
            return False
        self.used_creds_keys.add(creds_key)
        return True

    # -- the stored document (key names only, never credentials) ----------------------------------
    def tobytes(self) -> bytes:
        return json.dumps({"creds_keys": self.creds_keys, "used_creds_keys": sorted(self.used_creds_keys)}).encode()

    @property
    def nbytes(self) -> int:
        return len(self.tobytes())

    @classmethod
    def frombuffer(cls, buffer: bytes | None) -> LinkCreds:
        """The keys stored by ``tobytes`` (none given: no keys); no credentials."""
        creds = cls()
        if buffer:
            doc = json.loads(bytes(buffer).decode())
            creds.creds_keys = [str(key) for key in doc.get("creds_keys", [])]
            creds.used_creds_keys = {str(key) for key in doc.get("used_creds_keys", [])}
        return creds

    # pickling keeps the credentials given, as in v3 (a copy of the dataset reads what it read)
    def __getstate__(self) -> dict[str, Any]:
        return {"creds_keys": self.creds_keys, "creds_dict": self.creds_dict, "used_creds_keys": self.used_creds_keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        LinkCreds.__init__(self)
        self.creds_keys, self.creds_dict = list(state["creds_keys"]), dict(state["creds_dict"])
        self.used_creds_keys = set(state["used_creds_keys"])
