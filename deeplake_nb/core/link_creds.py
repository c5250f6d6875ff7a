"""Deep Lake v3's import path ``deeplake.core.link_creds``: ``LinkCreds``, v3's named credentials
for linked files, which deeplake_nb does not have."""

from __future__ import annotations

from typing import Any, NoReturn

from ..util import unsupported

_INSTEAD = ("deeplake_nb reads linked files (dl.link) from local paths, file:// and http(s):// URLs without "
            "credential keys; copy files that need credentials to one of those first.")


class LinkCreds:
    """v3's creds-key registry of a dataset; not available here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise unsupported("LinkCreds (creds keys for linked files)", _INSTEAD)

    @classmethod
    def frombuffer(cls, buffer: bytes) -> NoReturn:
        raise unsupported("LinkCreds.frombuffer (creds keys for linked files)", _INSTEAD)
