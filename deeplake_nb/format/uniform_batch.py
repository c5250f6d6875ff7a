"""One-array encoding of a batch of same-shape small arrays (boxes ``(1, 4)``, points, numeric
labels, embeddings) for an uncompressed array tensor: the batch is stacked once and validated,
converted and shaped as one array, instead of sample by sample.

The result is exactly what ``SampleCodec.encode`` gives for every value (the same stored rows and
shapes); where the per-sample path could decide differently or must name the refused sample,
``encode`` returns None and the caller takes that path, which also raises the precise error. That
holds because every step here is element-wise (dtype conversion and its range checks) or depends
only on the shape (the htype's shape rule), which all values share.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import SampleError
from . import htypes
from .columns import Encoded
from .sample_codec import SampleCodec

MIN_BATCH = 2  # one value: the per-sample path costs the same


def applies(codec: SampleCodec) -> bool:
    """Whether the tensor's samples are plain stored arrays of a known dtype: not images, links,
    sequences, byte-compressed or dtype-less (whose first sample picks the dtype)."""
    meta = codec.meta
    return (codec.spec.kind == "array" and meta.dtype is not None and meta.sample_compression is None
            and not meta.link and not meta.sequence and not codec.spec.name.startswith("image"))


def encode(codec: SampleCodec, values: Sequence[Any]) -> tuple[list[Encoded], int] | None:
    """(the encoded samples, their number of dimensions) of ``values`` when they are NumPy arrays
    of one shape and one numeric dtype, non-empty, and pass as one array; else None."""
    if len(values) < MIN_BATCH or not applies(codec):
        return None
    stacked = _stack(values)
    if stacked is None:
        return None
    meta, spec = codec.meta, codec.spec
    try:
        if meta.base_htype == "class_label":  # ids only (names are strings): checked against a fixed list
            htypes.class_ids(stacked, meta.info.get("class_names", []), meta.info.get("fixed_class_names", False))
        arr = htypes.to_array(stacked, meta.dtype, spec.name)
        shape = spec.shaped(arr[0]).shape
    except SampleError:
        return None  # the per-sample path decides (and names the sample)
    if codec.ndim is not None and len(shape) != codec.ndim:
        return None
    rows = np.ascontiguousarray(arr).reshape(len(values), *shape)
    return [(row, shape) for row in rows], len(shape)


def _stack(values: Sequence[Any]) -> np.ndarray | None:
    """The values stacked on a new first axis, or None unless all are non-empty numeric ndarrays of
    one shape and dtype."""
    first = values[0]
    if type(first) is not np.ndarray or first.dtype.kind not in "biuf" or first.size == 0:
        return None
    shape, dtype = first.shape, first.dtype
    for value in values:
        if type(value) is not np.ndarray or value.shape != shape or value.dtype != dtype:
            return None
    return np.stack(values)
