"""Deep Lake v3's import path ``deeplake.util.htype``: ``parse_complex_htype``."""

from __future__ import annotations

import re

from ..format import htypes

_LINK_OF_SEQUENCE = re.compile(r"^link\[sequence\[(.+)\]\]$")


def parse_complex_htype(htype: str | None) -> tuple[bool, bool, str | None]:
    """``(is_sequence, is_link, base htype)`` of an htype such as ``"sequence[link[image]]"``
    (v3's order; ``link[sequence[X]]`` means the same as ``sequence[link[X]]``). A bare
    ``"sequence"`` and an empty htype have base None. Unknown htypes or wrappers raise
    UnknownHtypeError (a ValueError, v3's TensorMetaInvalidHtype)."""
    if not htype:
        return False, False, None
    text = str(htype).replace(" ", "")
    if text == "sequence":
        return True, False, None
    base, sequence, link = htypes.parse(_LINK_OF_SEQUENCE.sub(r"sequence[link[\1]]", text))
    return sequence, link, base
