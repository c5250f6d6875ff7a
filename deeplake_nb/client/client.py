"""Deep Lake v3's import path ``deeplake.client.client``: ``DeepLakeBackendClient``, v3's client of
Activeloop's hub, which deeplake_nb does not talk to."""

from __future__ import annotations

from typing import Any

from ..util import unsupported


class DeepLakeBackendClient:
    """v3's Activeloop backend client (tokens, login, hub:// datasets); not available here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise unsupported("DeepLakeBackendClient (Activeloop's hub: tokens, login, hub:// datasets)",
                          "deeplake_nb keeps datasets at local paths, mem:// or s3:// and needs no account.")
