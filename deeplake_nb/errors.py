"""One exception hierarchy for deeplake_nb; every error a user can trigger derives from DeepLakeNBError.

Messages say what went wrong *and* what to do about it.
"""

from __future__ import annotations


class DeepLakeNBError(Exception):
    """Root of every error raised by deeplake_nb.

    Classes also derive from the built-in exception a Python user would catch for the same
    situation (``KeyError`` for a missing name, ``ValueError``/``TypeError`` for a bad value,
    ``IndexError``, ``FileNotFoundError``, ``OSError`` for storage ...), so generic handlers work.
    """


class _MissingKey(KeyError):
    """A ``KeyError`` whose ``str()`` is its message (plain KeyError would ``repr()`` it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RandomSeedError(DeepLakeNBError, TypeError):
    """``dl.random.seed(...)`` was given something other than an int or None."""


# --- datasets and storage -------------------------------------------------------------------
class DatasetError(DeepLakeNBError):
    """A dataset could not be created, opened or changed."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The path holds no deeplake_nb dataset."""


class DatasetExistsError(DatasetError, FileExistsError):
    """A dataset already exists where a new one was asked for."""


class DatasetRenameError(DatasetError, ValueError):
    """``ds.rename`` / ``dl.rename`` were asked to move a dataset to another folder or store: as in
    Deep Lake v3, only the last part of its path (its name) may change (``dl.deepcopy`` copies a
    dataset anywhere)."""


class ReadOnlyError(DatasetError, PermissionError):
    """A write was attempted on a dataset (or version) opened read-only."""


class FormatVersionError(DatasetError):
    """The dataset was written by a newer, incompatible format version."""


class CorruptDatasetError(DatasetError, ValueError):
    """A stored object of the dataset (a manifest, a commit document, a ref entry, a data chunk)
    is damaged or not in the exact form deeplake_nb writes; the message names the object.
    Nothing was changed; restore the object from a backup, or check out another version."""

    why: str | None = None  # what is wrong with the object, when a document check found it


class DamagedRefWarning(UserWarning):
    """The newest entry of a branch or tag was unreadable (torn by a crash, empty or garbled) and
    was skipped; the ref's previous entry is in use. The warning names the file."""


class DatasetTooLargeError(DatasetError):
    """``dl.delete`` of a dataset storing more than ``deeplake_nb.constants.DELETE_SAFETY_SIZE``
    bytes, without ``large_ok=True``."""


class ViewTooLargeError(DatasetError, ValueError):
    """A summary of a view of 10000 rows or more (which reads every sample's shape) was asked
    for without ``force=True``."""


class ViewOperationError(DatasetError, ValueError):
    """A change to the dataset's structure (tensors, groups, read-only mode) was asked of a row
    or column view; make it on the dataset (or group) itself."""


class DatasetOptionError(DatasetError, ValueError):
    """An argument of ``empty``/``load``/``dataset``/``like``/... does not apply to that path or
    is not one of its values (Deep Lake v3's ``org_id`` on a non-local path, an unknown
    ``access_method``, ``access_method="download"`` without ``DEEPLAKE_DOWNLOAD_PATH``)."""


class DatasetPickleError(DatasetError, TypeError):
    """An in-memory (``mem://``) dataset was pickled: its samples live in this process only."""


class StorageError(DeepLakeNBError, OSError):
    """The storage location (URL, path, bucket) is unusable, or a read/write on it failed (disk
    full, permission, network). ``errno`` is the failed call's, when there was one."""


class UnsafeStoreError(StorageError):
    """An object store does not honour put-if-absent writes, on which safe concurrent commits
    rest (``storage.probe``); the message names the ``single_writer`` opt-in."""


class ExportError(DeepLakeNBError, ValueError):
    """``dl.export_zarr`` was given something it cannot export (a grouped view, computed columns,
    ``version=`` with a row selection, a target overlapping the dataset)."""


class ExportExistsError(ExportError, FileExistsError):
    """The target of ``dl.export_zarr`` already holds data; pass ``overwrite=True`` to replace it."""


class ObjectNotFoundError(DeepLakeNBError, _MissingKey):
    """No stored object under that key at a storage location (``ds.storage[key]``)."""


class UnsupportedFeatureError(DeepLakeNBError, NotImplementedError):
    """A Deep Lake v3 feature deeplake_nb has no equivalent of (Activeloop's hub and its tokens,
    managed or linked credentials, GCS/Azure storage, v3's internal storage layout); the message
    names the v3 feature and what deeplake_nb offers instead."""


# --- tensors --------------------------------------------------------------------------------
class TensorError(DeepLakeNBError):
    """A tensor could not be created or used."""


class InvalidNameError(TensorError, ValueError):
    """A tensor or group name is empty (besides '/'), has '.' or '..' parts or other characters
    than letters, digits, '_', '-', '.' and spaces, or clashes with another."""


class TensorExistsError(InvalidNameError):
    """A tensor or group with that name already exists."""


class TensorNotFoundError(TensorError, _MissingKey, AttributeError):
    """No tensor with that name (``ds["x"]`` and ``ds.x`` alike, so ``hasattr`` works)."""


class UnknownHtypeError(TensorError, ValueError):
    """The htype is not one deeplake_nb knows."""


class ChunkSizeError(TensorError, ValueError):
    """``max_chunk_size`` is not a positive number of bytes."""


class UnsupportedCompressionError(TensorError, ValueError):
    """The sample or chunk compression is unknown or not allowed for this htype."""


class BboxCoordsError(TensorError, TypeError):
    """A bbox tensor's ``coords`` is not a dict, or names an unknown unit or convention."""


class UnknownInfoKeyError(TensorError, KeyError):
    """An htype setting (such as bbox ``coords``) has a key the htype does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InfoTypeError(TensorError, TypeError):
    """``info`` was set to something that is not a mapping."""


class GroupInfoError(TensorError, TypeError):
    """A group has no ``info`` of its own (as in v3); keep it in the dataset's or a tensor's info."""


class SampleError(DeepLakeNBError, ValueError):
    """A sample does not fit its tensor; nothing was written."""


class MissingTensorValuesError(SampleError, KeyError):
    """A row write left out tensors of the dataset (pass them, ``skip_ok=True`` or ``append_empty=True``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ItemAssignmentError(SampleError, TypeError):
    """An assignment a dataset does not take: ``ds[3] = value`` (assign to a tensor:
    ``ds[3].x = value``), a value for a group, or an array for a name that is no tensor."""


class DtypeMismatchError(SampleError, TypeError):
    """The sample's dtype cannot be stored in the tensor's dtype without losing values (also a
    ``ValueError``, through SampleError, for values out of the dtype's range)."""


class ShapeMismatchError(SampleError):
    """The sample's shape or number of dimensions does not fit the htype."""


class ClassLabelError(SampleError):
    """A class name is not in the tensor's fixed class list, or an id is out of range."""


class CorruptSampleError(SampleError):
    """Encoded bytes (JPEG, PNG, WebP) are corrupt, truncated or not the declared format."""


class CorruptChunkError(CorruptDatasetError, CorruptSampleError):
    """A stored chunk of a tensor is damaged (cannot be decompressed, has the wrong size, or
    fails its checksum); the message names the chunk and the file. Also a CorruptSampleError, so
    a loader's ``ignore_errors`` skips the samples it holds."""


class SampleTooLargeError(SampleError):
    """An image's header promises more pixels than ``deeplake_nb.format.compression.MAX_IMAGE_PIXELS``."""


class LinkError(SampleError, OSError):
    """A linked file could not be read."""


class MissingCredsError(LinkError):
    """A linked file's creds key is unknown, or its credentials were not given in this session
    (``ds.populate_creds``)."""


class CredsKeyExistsError(DeepLakeNBError, ValueError):
    """``ds.add_creds_key`` got a name that is taken (or empty)."""


class CredsKeyNotFoundError(DeepLakeNBError, _MissingKey):
    """No creds key of that name (or number) in this dataset."""


class DynamicShapeError(TensorError, ValueError):
    """Samples of different shapes cannot be stacked into one array; ask for a list."""


class EmptyTensorError(TensorError, ValueError):
    """A tensor has nothing to give: a generic tensor holding only empty samples (None) has no
    shape yet; a tensor with no samples cannot be loaded (``ds.pytorch()``: fill it, or leave it
    out with ``tensors=[...]``)."""


class SampleIndexError(TensorError, IndexError):
    """An index is out of range for the tensor or dataset."""


class DuplicateIndexError(SampleIndexError, ValueError):
    """``pop`` was given the same index more than once (v3 raised ValueError)."""


class IncompatibleHtypeError(TensorError, ShapeMismatchError):
    """A tensor cannot take the htype asked for (``t.htype = "image"``): its stored samples'
    shapes or dtype do not fit that htype, or it would become a sequence or link; nothing changed."""


class HtypeChangeError(TensorError, NotImplementedError):
    """A change of htype that is not supported at all (as in Deep Lake v3): only generic and image
    tensors change htype, and only to an array htype with shape rules; nothing changed."""


# --- version control ------------------------------------------------------------------------
class VersionError(DeepLakeNBError):
    """A version-control operation (commit, branch, tag, checkout, gc) failed."""


class VersionConflictError(VersionError):
    """Another writer moved the branch (committed, published or reset) since this one opened it.

    Nothing of this writer's attempt landed; reopen the branch and retry.
    """


class BranchNotFoundError(VersionError, _MissingKey):
    """No live branch with that name."""


class BranchExistsError(VersionError, ValueError):
    """A branch (or tag) with that name already exists."""


class TagExistsError(VersionError, ValueError):
    """A tag with that name already exists and points elsewhere (tags never move)."""


class CommitNotFoundError(VersionError, _MissingKey):
    """The name is not a branch, a tag or a commit id of this dataset (or a commit id prefix
    that several commits share)."""


class InvalidRefNameError(VersionError, ValueError):
    """A branch or tag name is empty, has '/', '..', a leading '.', or characters outside [A-Za-z0-9._-]."""


class VersionArgumentError(VersionError, ValueError):
    """Arguments of a version-control call that do not fit together (``diff(id_2=...)`` without
    ``id_1``, an unknown ``conflict_resolution``, a version both in the path and in ``version=``)."""


class DetachedHeadError(VersionError, ReadOnlyError):
    """A write was attempted on a commit or tag checkout; create a branch there to write."""


class DetachedInfoError(DetachedHeadError, TensorError):
    """``info`` was changed on a checked-out commit that is not a branch head: as in Deep Lake v3
    (its ``InfoError``), info changes do not make a branch; check out a branch to change it."""


class AutoBranchWarning(UserWarning):
    """A write on a checked-out commit that is not a branch head made a new branch there
    (``auto_<id>``, as Deep Lake v3's auto checkout) and went to it; the message names it."""


# --- loader ---------------------------------------------------------------------------------
class LoaderError(DeepLakeNBError):
    """The streaming loader was given options it cannot honour, or could not read its dataset."""


class LoaderStateError(LoaderError):
    """A ``state_dict`` does not belong to this loader (other dataset length, seed, batch size ...)."""


class LoaderOptionError(LoaderError, ValueError):
    """An option of ``ds.pytorch()`` / ``ds.dataloader()`` has a value the loader cannot take."""


class LoaderDependencyError(LoaderError, ImportError):
    """A loader front end needs a framework that is not installed (TensorFlow for ``ds.tensorflow()``,
    JAX for ``ds.jax()``); the message names the pip extra that installs it."""


class TransformError(LoaderError):
    """A user transform raised on one sample; ``index`` is that sample's dataset index.

    The loader's messages always contain ``sample index N`` so the index survives re-raising
    across worker processes (PyTorch rebuilds worker exceptions from their message).
    ``dl.compute`` raises it for an input of ``data_in`` (``index``, ``sample``: that input) whose
    function raised or whose outputs the dataset refused; ``samples_processed`` counts the inputs
    landed before it by checkpoints (resume with ``data_in[samples_processed:]``)."""

    def __init__(self, message: str, index: int | None = None, *, sample: object = None,
                 samples_processed: int = 0) -> None:
        super().__init__(message)
        self.sample = sample
        self.samples_processed = samples_processed
        if index is None:
            import re

            found = re.search(r"sample index (\d+)", message)
            index = int(found.group(1)) if found else None
        self.index = index


class TransformArgumentError(TransformError, ValueError):
    """``dl.compute`` / ``dl.compose`` were given something they cannot run: not a compute
    function, an unknown scheduler, ``data_in`` without ``__len__``/``__getitem__``, a ``ds_out``
    view, or inputs and functions a process pool cannot pickle."""


class SchedulerDependencyError(TransformArgumentError, ImportError):
    """``scheduler="ray"`` or ``"dask"`` was asked for, but that optional package is not installed;
    the message names the pip extra that installs it (``deeplake_nb[ray]``, ``deeplake_nb[dask]``)."""


class TransformSkippedWarning(UserWarning):
    """``dl.compute(...).eval(..., ignore_errors=True)`` skipped inputs that failed; the message
    counts them, and the pipeline's ``skipped`` maps each one's index to its error."""


# --- ingestion (dl.ingest_*) -----------------------------------------------------------------
class IngestionError(DeepLakeNBError, ValueError):
    """A source given to ``dl.ingest_*`` is malformed or does not fit (an annotation file without
    its required keys, a label out of range, a column of values no tensor takes); the message
    names the input file (and line, annotation or column). Nothing was written to ``dest``."""


class IngestionSourceNotFoundError(IngestionError, StorageError, FileNotFoundError):
    """A file or folder given to ``dl.ingest_*`` does not exist, or holds no file to ingest (also a
    ``StorageError``, what v3's ``InvalidPathException`` names here)."""


class IngestionDependencyError(DeepLakeNBError, ImportError):
    """An ingest needs a package that is not installed (pycocotools, pandas, datasets); the message
    names the pip command (``pip install deeplake_nb[ingest]`` installs them all)."""


class IngestionWarning(UserWarning):
    """``dl.ingest_*`` left something out or changed it on the way (a feature no tensor takes,
    extra polygons of an object kept only in its mask); the message says what and where."""


# --- queries --------------------------------------------------------------------------------
class QueryError(DeepLakeNBError, ValueError):
    """A query is malformed, names an unknown tensor or function, or cannot be evaluated.

    ``line`` and ``column`` (1-based) point at the offending spot of ``query``; the message
    repeats that line of the query with a caret under the spot.
    """

    def __init__(self, message: str, query: str | None = None, start: int | None = None,
                 end: int | None = None) -> None:
        self.message = message
        self.query = query
        self.position = start
        self.line: int | None = None
        self.column: int | None = None
        text = message
        if query is not None and start is not None:
            start = max(0, min(start, len(query)))
            line_start = query.rfind("\n", 0, start) + 1
            line_end = query.find("\n", start)
            line_end = len(query) if line_end < 0 else line_end
            self.line = query.count("\n", 0, start) + 1
            self.column = start - line_start + 1
            width = max(1, min(end if end is not None else start + 1, line_end) - start)
            source = query[line_start:line_end].replace("\t", " ")
            offset = start - line_start
            if len(source) > 160:  # a long line: quote the part around the spot
                low = max(0, offset - 40)
                high = min(len(source), low + 160)
                width = max(1, min(width, high - offset))
                source = ("..." if low else "") + source[low:high] + ("..." if high < len(source) else "")
                offset += 3 - low if low else 0
            text = (f"{message} (line {self.line}, column {self.column})\n    {source}\n"
                    f"    {' ' * offset}{'^' * width}")
        super().__init__(text)


# --- ui -------------------------------------------------------------------------------------
class WidgetError(DeepLakeNBError):
    """A notebook widget could not be built or answer a request from the browser."""


class WidgetDependencyError(WidgetError, ImportError):
    """The widget packages (anywidget, ipywidgets) are missing; install ``deeplake_nb[notebook]``."""


class WidgetRequestError(WidgetError, ValueError):
    """A request from the browser names an unknown tensor, an index out of range, or a bad field."""


# --- gpu ------------------------------------------------------------------------------------
class GPUError(DeepLakeNBError):
    """A GPU feature (DALI pipeline, CuPy kernel, device transform) cannot run as asked."""


class GPUUnavailableError(GPUError):
    """``device="cuda"`` was asked for, but there is no usable CUDA device (or no CuPy / DALI to
    drive it). Use ``device="auto"`` to fall back to the CPU, or install ``deeplake_nb[gpu]``."""


class MissingDependencyError(GPUError, ImportError):
    """An optional package (``nvidia-dali-cuda120``, ``cupy-cuda12x``, ``torch``) is not installed;
    the message names the pip command that installs it."""


class KernelSourceNotFoundError(GPUError, FileNotFoundError):
    """A CUDA source from ``kernels/`` is missing from both the installed package and the checkout."""


class GPUFallbackWarning(UserWarning):
    """``device="auto"`` found no usable GPU and runs on the CPU instead."""


# --- merge
class MergeConflictError(DeepLakeNBError):
    """The same samples changed on both sides of a merge; resolve with conflict_resolution."""

    def __init__(self, message: str, conflicts: dict[str, list[int]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


# --- saved views
class ViewError(DeepLakeNBError):
    """A saved view cannot be saved, loaded or deleted as asked (bad id, unknown id, uncommitted
    changes, a view that cannot be stored)."""


class ViewNotFoundError(ViewError, _MissingKey):
    """No saved view with that id in the dataset (at the commit asked for)."""


# --- vector indexes
class VectorIndexError(DeepLakeNBError, ValueError):
    """A vector index cannot be created, used or deleted as asked (bad id, distance or parameter,
    a tensor that is not a dense numeric one, an id already taken); the message says what to do."""


class VectorIndexNotFoundError(VectorIndexError, _MissingKey):
    """No vector index with that id for the tensor's current content (``get_vdb_indexes()`` lists them)."""
