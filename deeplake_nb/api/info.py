"""Deep Lake v3's import path ``deeplake.api.info``: ``Info``, an info mapping on its own (not
attached to a dataset or tensor), with v3's ``tobytes`` / ``frombuffer``."""

from __future__ import annotations

import json
from typing import Any

from ..core.info import Info as _Info
from ..format.htypes import json_bytes


def _nothing() -> None:
    """A standalone Info checks nothing before a change and has nowhere to persist it."""


class Info(_Info):
    """A plain in-memory info mapping (keys, values, attribute access), as ``ds.info`` is."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        super().__init__(dict(data or {}), _nothing, _nothing)

    def tobytes(self) -> bytes:
        """The mapping as UTF-8 JSON; NumPy arrays and scalars become lists and numbers."""
        return json_bytes(dict(self))

    @classmethod
    def frombuffer(cls, buffer: bytes) -> Info:
        """The Info that ``tobytes`` wrote (arrays come back as lists)."""
        return cls(json.loads(bytes(buffer).decode()))
