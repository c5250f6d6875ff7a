"""Unique, time-stamped names for immutable objects (data objects, manifest deltas, commits).

A name is 32 lowercase hex digits: 12 for the creation time in milliseconds since the epoch,
then 20 random ones (80 bits). The embedded time lets garbage collection apply its grace period
from the name alone, without file modification times (which object stores do not all keep), and
makes names sort by creation time.
"""

from __future__ import annotations

import re
import secrets
import time

NAME_LENGTH = 32
TIME_DIGITS = 12
"""Leading hex digits that hold the creation time; the rest are random."""
NAME_PATTERN = r"[0-9a-f]{32}"
"""What a name is, as a regular expression."""
_NAME = re.compile(NAME_PATTERN)


def new_name(now: float | None = None) -> str:
    """A fresh name stamped with ``now`` (seconds since the epoch; default: the current time)."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"{ms:012x}{secrets.token_hex(10)}"


def is_name(text: str) -> bool:
    """Whether ``text`` is exactly a name made by :func:`new_name`."""
    return len(text) == NAME_LENGTH and _NAME.fullmatch(text) is not None


def created_at(text: str) -> float | None:
    """Creation time (seconds) of a name, or of a file whose base name starts with one (such as a
    store's temporary ``<name>.<suffix>.partial``); None when ``text`` does not start with a name."""
    head = text[:NAME_LENGTH]
    if not is_name(head):
        return None
    return int(head[:TIME_DIGITS], 16) / 1000
