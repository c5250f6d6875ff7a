"""``ds.dataloader()``: the Deep Lake v3 builder, ``.transform(...).batch(...).shuffle(...).pytorch(...)``.

Each step returns a new builder (the original is unchanged); ``.pytorch()`` / ``.numpy()`` make
a ``Loader`` with the collected options. Order of the steps does not matter.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

from ..errors import LoaderError


class DataLoaderBuilder:
    def __init__(self, ds: Any, options: dict[str, Any] | None = None) -> None:
        self._ds = ds
        self._options: dict[str, Any] = dict(options or {})

    def _with(self, **options: Any) -> DataLoaderBuilder:
        return DataLoaderBuilder(self._ds, {**self._options, **options})

    def transform(self, transform: Callable | Mapping[str, Callable | None], **kwargs: Any) -> DataLoaderBuilder:
        """A callable on the whole sample dict, or ``{tensor: callable or None}``; ``kwargs`` are
        passed to a single callable."""
        if kwargs:
            if not callable(transform):
                raise LoaderError("Keyword arguments go with a single transform callable, not a dict.")
            transform = functools.partial(transform, **kwargs)
        return self._with(transform=transform)

    def batch(self, batch_size: int, drop_last: bool = False) -> DataLoaderBuilder:
        return self._with(batch_size=batch_size, drop_last=drop_last)

    def shuffle(self, shuffle: bool | str = True, seed: int | None = None, block: int | None = None,
                window: int | None = None) -> DataLoaderBuilder:
        """``True``: a global permutation per epoch; ``"chunks"``: chunk-aware (``block`` rows per
        block, ``window`` blocks mixed at a time; see ``sampler``)."""
        options: dict[str, Any] = {"shuffle": shuffle, "seed": seed}
        if block is not None:
            options["shuffle_block"] = block
        if window is not None:
            options["shuffle_window"] = window
        return self._with(**options)

    def pytorch(self, num_workers: int = 0, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """A ``Loader`` yielding torch tensors; ``options`` as for ``Dataset.pytorch``."""
        return self._loader({**self._options, "num_workers": num_workers, "tensors": tensors, **options})

    def numpy(self, num_workers: int = 0, tensors: Sequence[str] | None = None, **options: Any) -> Any:
        """A ``Loader`` yielding NumPy arrays and lists instead of torch tensors."""
        return self._loader({**self._options, "num_workers": num_workers, "tensors": tensors, "output": "numpy",
                             **options})

    def _loader(self, options: dict[str, Any]) -> Any:
        from . import pytorch_loader  # (the package imports this module)

        return pytorch_loader(self._ds, **options)

    def __repr__(self) -> str:
        return f"DataLoaderBuilder({self._options})"
