"""One pass over a batch of ``dl.read`` files for an image tensor whose sample compression is the
files' own format (JPEGs into a ``sample_compression="jpeg"`` tensor, the common ingest case):
each file is read, its header checked, and its bytes kept to be stored as they are, in one tight
loop instead of the per-sample path's chain of calls.

The files are read on the calling thread. A second thread reading ahead of the header checks made
a 5,000-JPEG ``extend`` slower (0.25 -> 0.32 s, benchmarks/RESULTS.md): each read gives the GIL up
and waits for it behind the checks, and two threads touching fresh memory in one process make the
kernel shoot down each other's TLB entries.

The result is exactly what ``SampleCodec.encode`` gives for every value (the same stored bytes
and shapes). Where the per-sample path would decide otherwise or must name the refused sample (a
file of another format or bit depth, which it decodes and re-encodes; an unreadable, corrupt or
oversized file; a channel count the htype refuses; a shape of other dimensions), ``encode``
returns None and the caller takes that path, which also raises the precise error. The files a
pass read stay read (``Sample`` keeps its bytes and header), so the fallback reads none twice.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import SampleError
from .columns import Encoded
from .compression import SAMPLE_COMPRESSIONS
from .sample import Sample
from .sample_codec import SampleCodec

MIN_BATCH = 2  # one value: the per-sample path costs the same


def applies(codec: SampleCodec) -> bool:
    """Whether the tensor stores image files as given: an array tensor of a known dtype whose sample
    compression is an image format, not a link or sequence tensor."""
    meta = codec.meta
    return (codec.spec.kind == "array" and meta.sample_compression in SAMPLE_COMPRESSIONS
            and meta.dtype is not None and not meta.link and not meta.sequence)


def encode(codec: SampleCodec, values: Sequence[Any]) -> tuple[list[Encoded], int] | None:
    """(the encoded samples, their number of dimensions) when every value is a ``Sample`` that the
    tensor stores byte-identical (its format is the tensor's sample compression, its pixels the
    tensor's dtype) and all have the tensor's dimensions; else None (see the module docstring).
    ``codec.ndim`` is left as it was."""
    if len(values) < MIN_BATCH or not applies(codec):
        return None
    fmt, dtype = codec.meta.sample_compression, np.dtype(codec.meta.dtype)
    ndim = codec.ndim
    out: list[Encoded] = []
    append = out.append
    try:
        for value in values:
            if type(value) is not Sample:
                return None
            head = value.header  # reads the file; SampleError for a corrupt one
            if value.compression != fmt or head.dtype != dtype:
                return None  # decoded and re-encoded by the per-sample path
            codec.check_file(value)
            shape = codec.image_dims(head.shape, ndim, file=True)
            if ndim is None:
                ndim = len(shape)
            elif len(shape) != ndim:
                return None
            append((value.buffer, shape))
    except SampleError:
        return None
    if ndim is None:  # no values (MIN_BATCH keeps this from happening)
        return None
    return out, ndim
