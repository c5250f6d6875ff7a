"""Deep Lake v3's import path ``deeplake.core.index.index``: ``IndexEntry``, one sample index
(an int, a slice, or a sequence of ints) resolved by deeplake_nb's own index rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import resolve


class IndexEntry:
    """One index into samples, as ``ds[value]`` takes it (default: every sample)."""

    def __init__(self, value: Any = slice(None)) -> None:
        self.value = value

    def indices(self, length: int) -> Iterator[int]:
        """The positions the index selects among ``length`` samples, in order (negative ints
        count from the end; SampleIndexError, an IndexError, for ints out of range)."""
        yield from resolve(self.value, length)[0].tolist()

    def length(self, parent_length: int) -> int:
        """How many samples the index selects among ``parent_length``."""
        return len(resolve(self.value, parent_length)[0]) if parent_length else 0

    def validate(self, parent_length: int) -> None:
        """SampleIndexError (an IndexError) when an int of the index is out of range."""
        resolve(self.value, parent_length)

    def is_trivial(self) -> bool:
        """Whether the index selects every sample (``slice(None)`` or an equivalent ``[0::1]``)."""
        v = self.value
        return isinstance(v, slice) and not v.start and v.stop is None and (v.step or 1) == 1

    def subscriptable(self) -> bool:
        """Whether the index selects several samples (not one int)."""
        return not isinstance(self.value, int)

    def __repr__(self) -> str:
        return f"IndexEntry({self.value})"
