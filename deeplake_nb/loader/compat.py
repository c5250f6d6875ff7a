"""Deep Lake v3 options of ``ds.pytorch()`` and what each one means for this loader.

- ``batch_size=None``: single samples without a batch dimension, as PyTorch's
  ``DataLoader(batch_size=None)`` gives them: the loader plans batches of one sample and yields
  each batch's only sample (``first_sample``: a tensor loses its leading dimension of 1, a list
  gives its only item, so text comes as a ``str``); a ``collate_fn`` gets each sample on its own,
  as PyTorch's does (``EachSample``);
- ``buffer_size`` (MB; v3's default 2048): v3 shuffled through a buffer of that size, so a small
  buffer meant a less random order. ``shuffle=True`` here is a seeded uniform permutation of the
  whole epoch, planned before anything is read (``sampler``), which is what a buffer as large as
  the dataset approaches: the value is checked (an int >= 0) and changes nothing;
- ``use_local_cache``: as in v3, a copy of a remote dataset's chunks on local disk; ``None``, the
  default here, keeps a scratch copy where it fits (``local_cache``);
- ``progressbar`` (v3's ``use_progress_bar``): a tqdm bar over the batches of each iteration;
- ``transform_kwargs``: keyword arguments bound to a callable ``transform``;
- ``tobytes``: ``True`` (every tensor) or a list of tensors: ``decode_method`` ``"tobytes"`` for
  them, unless ``decode_method`` names them itself.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import LoaderOptionError


def check_buffer_size(buffer_size: Any) -> None:
    """Raise ``LoaderOptionError`` for a ``buffer_size`` v3 would not have taken either."""
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 0:
        raise LoaderOptionError(f"buffer_size must be an int >= 0 (MB); got {buffer_size!r}.")


def bind_kwargs(transform: Any, transform_kwargs: Mapping[str, Any] | None) -> Any:
    """``transform`` with ``transform_kwargs`` bound (a callable transform only)."""
    if not transform_kwargs:
        return transform
    if not callable(transform) or isinstance(transform, Mapping):
        raise LoaderOptionError("transform_kwargs go with a single transform callable, not a dict or None.")
    return functools.partial(transform, **transform_kwargs)


def tobytes_methods(tobytes: bool | Sequence[str], names: Sequence[str],
                    decode_method: Mapping[str, str] | None) -> dict[str, str]:
    """``decode_method`` with ``"tobytes"`` added for the tensors ``tobytes`` names."""
    methods = dict(decode_method or {})
    if tobytes is True:
        chosen = list(names)
    elif tobytes is False or tobytes is None:
        chosen = []
    elif isinstance(tobytes, str):
        chosen = [tobytes]
    else:
        chosen = list(tobytes)
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise LoaderOptionError(f"tobytes names {unknown}, which are not among the loaded tensors {list(names)}.")
    for name in chosen:
        methods.setdefault(name, "tobytes")
    return methods


class EachSample:
    """With ``batch_size=None``: the user's ``collate_fn`` applied to the one sample of a batch
    (None for a batch whose sample was skipped). Picklable for worker processes."""

    def __init__(self, collate_fn: Callable[[Any], Any]) -> None:
        self.collate_fn = collate_fn

    def __call__(self, samples: list[Any]) -> Any:
        return self.collate_fn(samples[0]) if samples else None


def first_sample(batch: Any) -> Any:
    """The only sample of a collated one-sample batch (a dict, tuple or single value of tensors,
    arrays or lists), without the batch dimension."""
    if isinstance(batch, dict):
        return type(batch)((key, value[0]) for key, value in batch.items())
    if isinstance(batch, tuple):
        return tuple(value[0] for value in batch)
    return batch[0]


def with_progress(items: Iterator[Any], total: int, desc: str) -> Iterator[Any]:
    """``items`` with a tqdm bar of ``total`` steps; closing this closes ``items``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="batch")
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()
        items.close()  # type: ignore[attr-defined]
