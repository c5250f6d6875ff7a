"""One exception hierarchy for deeplake_nb; every error a user can trigger derives from DeepLakeNBError.

Messages say what went wrong *and* what to do about it.
"""

from __future__ import annotations


class DeepLakeNBError(Exception):
    """Root of every error raised by deeplake_nb."""


# --- datasets and storage -------------------------------------------------------------------
class DatasetError(DeepLakeNBError):
    """A dataset could not be created, opened or changed."""


class DatasetNotFoundError(DatasetError):
    """The path holds no deeplake_nb dataset."""


class DatasetExistsError(DatasetError):
    """A dataset already exists where a new one was asked for."""


class ReadOnlyError(DatasetError):
    """A write was attempted on a dataset (or version) opened read-only."""


class FormatVersionError(DatasetError):
    """The dataset was written by a newer, incompatible format version."""


class StorageError(DeepLakeNBError):
    """The storage location (URL, path, bucket) is unusable."""


# --- tensors --------------------------------------------------------------------------------
class TensorError(DeepLakeNBError):
    """A tensor could not be created or used."""


class InvalidNameError(TensorError):
    """A tensor or group name is empty, has '..', '//', a leading '/', or clashes with another."""


class TensorExistsError(InvalidNameError):
    """A tensor or group with that name already exists."""


class TensorNotFoundError(TensorError, KeyError):
    """No tensor with that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownHtypeError(TensorError):
    """The htype is not one deeplake_nb knows."""


class UnsupportedCompressionError(TensorError):
    """The sample or chunk compression is unknown or not allowed for this htype."""


class SampleError(DeepLakeNBError):
    """A sample does not fit its tensor; nothing was written."""


class DtypeMismatchError(SampleError):
    """The sample's dtype cannot be stored in the tensor's dtype without losing values."""


class ShapeMismatchError(SampleError):
    """The sample's shape or number of dimensions does not fit the htype."""


class ClassLabelError(SampleError):
    """A class name is not in the tensor's fixed class list, or an id is out of range."""


class CorruptSampleError(SampleError):
    """Encoded bytes (JPEG, PNG, WebP) are corrupt, truncated or not the declared format."""


class LinkError(SampleError):
    """A linked file could not be read."""


class DynamicShapeError(TensorError):
    """Samples of different shapes cannot be stacked into one array; ask for a list."""


class SampleIndexError(TensorError, IndexError):
    """An index is out of range for the tensor or dataset."""
