"""One pass over a batch of ``dl.read`` files for an image tensor whose sample compression is the
files' own format (JPEGs into a ``sample_compression="jpeg"`` tensor, the common ingest case):
each file is read, its header checked, and its bytes kept to be stored as they are, in one tight
loop instead of the per-sample path's chain of calls.

Local files are read ahead on a second thread (``READ_AHEAD``): it reads from the last file of
the batch backwards while the calling thread checks headers (reading the files it reaches first)
from the first forwards. File reads release the GIL, so on a machine with a core to spare the
reads overlap the checks.

The result is exactly what ``SampleCodec.encode`` gives for every value (the same stored bytes
and shapes). Where the per-sample path would decide otherwise or must name the refused sample (a
file of another format or bit depth, which it decodes and re-encodes; an unreadable, corrupt or
oversized file; a channel count the htype refuses; a shape of other dimensions), ``encode``
returns None and the caller takes that path, which also raises the precise error. The files a
pass read stay read (``Sample`` keeps its bytes and header), so the fallback reads none twice.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

import numpy as np

from ..errors import SampleError
from .columns import Encoded
from .compression import SAMPLE_COMPRESSIONS
from .sample import Sample
from .sample_codec import SampleCodec

MIN_BATCH = 2  # one value: the per-sample path costs the same
READ_AHEAD = 64  # files in a batch from which a second thread reads ahead (0: never); fewer are not worth a thread


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
    ahead = _ReadAhead.start_for(values)
    try:
        for position, value in enumerate(values):
            if ahead is not None:
                ahead.position = position
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
    finally:
        if ahead is not None:
            ahead.stop()
    if ndim is None:  # no values (MIN_BATCH keeps this from happening)
        return None
    return out, ndim


class _ReadAhead(threading.Thread):
    """Reads the files of ``samples`` from the last backwards until it meets ``position``, where
    the calling thread is; a file both threads reach is read by both (the same bytes kept)."""

    def __init__(self, samples: Sequence[Any]) -> None:
        super().__init__(name="deeplake_nb-read-ahead", daemon=True)
        self.samples = samples
        self.position = 0

    @classmethod
    def start_for(cls, values: Sequence[Any]) -> _ReadAhead | None:
        """A started reader for a batch worth one (``READ_AHEAD`` files or more, more than one
        core), else None."""
        if not READ_AHEAD or len(values) < READ_AHEAD or (os.cpu_count() or 1) < 2:
            return None
        reader = cls(values)
        reader.start()
        return reader

    def run(self) -> None:
        samples = self.samples
        i = len(samples) - 1
        while i > self.position + 1:
            sample = samples[i]
            if type(sample) is Sample:
                sample.read_ahead()
            i -= 1

    def stop(self) -> None:
        """Stop reading (the calling thread is done with the batch) and wait for the file being read."""
        self.position = len(self.samples)
        self.join()
