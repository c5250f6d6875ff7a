"""Deep Lake v3's import path ``deeplake.api`` (``deeplake.api.info.Info``)."""

from . import info

__all__ = ["info"]
