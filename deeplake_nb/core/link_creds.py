"""Deep Lake v3's import path ``deeplake.core.link_creds``: ``LinkCreds``, a dataset's named
credentials for linked files (``storage.link_creds``)."""

from __future__ import annotations

from ..storage.link_creds import LinkCreds

__all__ = ["LinkCreds"]
