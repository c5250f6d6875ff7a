"""Deep Lake v3's ``deeplake.random``: one process-wide seed for the library's random choices.

``dl.random.seed(0)`` makes them reproducible; ``dl.random.seed()`` (None) makes them fresh again.
Who reads it: ``ds.pytorch(shuffle=True)`` without ``seed=`` plans its epochs from this seed when
one is set (so two loaders made after ``dl.random.seed(0)`` shuffle alike; each epoch is still a
new permutation). It does not touch NumPy's, Python's or torch's own generators.
"""

from __future__ import annotations

import numbers

from ..errors import RandomSeedError


class DeeplakeRandom:
    """The one seed holder (every ``DeeplakeRandom()`` is the same object, ``dl.random``)."""

    _instance: DeeplakeRandom | None = None
    internal_seed: int | None

    def __new__(cls) -> DeeplakeRandom:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance.internal_seed = None
        return cls._instance

    def seed(self, seed: int | None = None) -> None:
        """Set the seed (an int), or clear it (None)."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise RandomSeedError(f"The seed must be an int or None; got {type(seed).__name__} {seed!r}.")
        self.internal_seed = None if seed is None else int(seed)

    def get_seed(self) -> int | None:
        """The seed set with ``seed``, or None."""
        return self.internal_seed

    def __repr__(self) -> str:
        return f"DeeplakeRandom(seed={self.internal_seed!r})"
