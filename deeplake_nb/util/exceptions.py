"""Deep Lake v3's exception names (``from deeplake.util.exceptions import ...``), each bound to the
deeplake_nb class raised in the same situation.

Where v3 had several classes for one situation that deeplake_nb raises as one class (or a family
under one base), the v3 names point at that class or base, so ``except`` and ``pytest.raises``
written against v3 catch what deeplake_nb raises. Nothing here is raised under its v3 name alone;
the messages are deeplake_nb's.
"""

from __future__ import annotations

from .. import errors as _e

# datasets and storage
DatasetHandlerError = _e.DatasetError
PathNotEmptyException = _e.DatasetExistsError
DatasetTooLargeToDelete = _e.DatasetTooLargeError
ReadOnlyModeError = _e.ReadOnlyError
InvalidOperationError = _e.DeepLakeNBError
RenameError = _e.DatasetRenameError
CorruptedMetaError = _e.DatasetError
MemoryDatasetCanNotBePickledError = _e.DatasetPickleError
# damaged data surfaces as DatasetError (metadata) or VersionError (missing objects); both are
# DeepLakeNBErrors, which is also what ``dl.load(..., reset=True)`` treats as unreadable
DatasetCorruptError = _e.DeepLakeNBError
InvalidDatasetNameException = _e.StorageError
S3Error = S3GetError = S3SetError = S3DeletionError = S3ListError = _e.StorageError
InvalidPathException = _e.StorageError

# tensors and groups
TensorDoesNotExistError = _e.TensorNotFoundError
TensorGroupDoesNotExistError = _e.TensorNotFoundError
TensorAlreadyExistsError = _e.TensorExistsError
TensorGroupAlreadyExistsError = _e.TensorExistsError
InvalidTensorNameError = _e.InvalidNameError
InvalidTensorGroupNameError = _e.InvalidNameError
TensorMetaInvalidHtype = _e.UnknownHtypeError
TensorMetaInvalidHtypeOverwriteValue = _e.TensorError
TensorMetaInvalidHtypeOverwriteKey = _e.TensorError
TensorMetaMissingRequiredValue = _e.TensorError
TensorMetaMutuallyExclusiveKeysError = _e.TensorError
MetaError = _e.TensorError
InfoError = _e.TensorError
GroupInfoNotSupportedError = _e.TensorError
DynamicTensorNumpyError = _e.DynamicShapeError
InvalidKeyTypeError = _e.SampleIndexError
EmptyTensorError = _e.EmptyTensorError
IncompatibleHtypeError = _e.IncompatibleHtypeError

# samples
SampleAppendError = _e.SampleError
SampleExtendError = _e.SampleError
SampleUpdateError = _e.SampleError
SampleAppendingError = _e.SampleError
SampleExtendingError = _e.SampleError
SampleHtypeMismatchError = _e.SampleError
TensorUnsupportedSampleType = _e.SampleError
UnsupportedTensorTypeError = _e.SampleError
TensorDtypeMismatchError = _e.DtypeMismatchError
TensorInvalidSampleShapeError = _e.ShapeMismatchError
InvalidShapeIntervalError = _e.ShapeMismatchError
InvalidImageDimensions = _e.ShapeMismatchError
CompressionError = _e.UnsupportedCompressionError
UnsupportedCompressionError = _e.UnsupportedCompressionError
SampleCompressionError = _e.SampleError
SampleDecompressionError = _e.CorruptSampleError
CorruptedSampleError = _e.CorruptSampleError
BadLinkError = _e.LinkError
UnableToReadFromUrlError = _e.LinkError
MissingCredsError = _e.LinkError  # a linked file whose credentials are missing cannot be read

# version control
VersionControlError = _e.VersionError
CheckoutError = _e.VersionError
CommitError = _e.VersionError
EmptyCommitError = _e.VersionError
MergeError = _e.MergeConflictError
MergeConflictError = _e.MergeConflictError
MergeMismatchError = _e.MergeConflictError
MergeNotSupportedError = _e.MergeConflictError
TensorModifiedError = _e.VersionError

# views, queries, loader, transforms
DatasetViewSavingError = _e.ViewError
InvalidViewException = _e.ViewError
FilterError = _e.QueryError
TransformError = _e.TransformError
# dl.compute: bad arguments are TransformArgumentErrors (also ValueErrors), failures TransformErrors
InvalidInputDataError = InvalidOutputDatasetError = UnsupportedSchedulerError = _e.TransformArgumentError
HubComposeEmptyListError = HubComposeIncompatibleFunction = _e.TransformArgumentError
AllSamplesSkippedError = TensorMismatchError = InvalidTransformDataset = _e.TransformError
DatasetUnsupportedPytorch = _e.LoaderError
ModuleNotInstalledException = _e.MissingDependencyError
LoaderOptionError = _e.LoaderOptionError
ViewNotFoundError = _e.ViewNotFoundError

# Activeloop's hub (tokens, login, its backend, managed credentials): deeplake_nb has none, and
# these situations are storage locations it cannot use
BadRequestException = _e.StorageError
InvalidTokenException = _e.StorageError
TokenPermissionError = _e.StorageError
UserNotLoggedInException = _e.StorageError
ManagedCredentialsNotFoundError = _e.StorageError
# v3 options that deeplake_nb does not have (hub tokens, managed credentials ...)
UnsupportedParameterException = _e.UnsupportedFeatureError

__all__ = [name for name in dir() if name[0].isupper()]
