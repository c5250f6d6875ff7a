"""Deep Lake v3's import path ``deeplake.core.meta.encode.creds``: ``CredsEncoder``, v3's per-sample
creds-key index of link tensors, which deeplake_nb does not have."""

from __future__ import annotations

from typing import Any, NoReturn

from ....util import unsupported

_INSTEAD = ("deeplake_nb keeps each link's creds key in the link itself; read it with tensor[i].creds_key() and "
            "manage keys with ds.add_creds_key / ds.populate_creds / ds.update_creds_key.")


class CredsEncoder:
    """v3's creds-key encoder; not available here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise unsupported("CredsEncoder (creds keys of linked samples)", _INSTEAD)

    @classmethod
    def frombuffer(cls, buffer: bytes) -> NoReturn:
        raise unsupported("CredsEncoder.frombuffer (creds keys of linked samples)", _INSTEAD)
