"""``dl.ingest_dataframe``: a table (pandas DataFrame, pyarrow Table, Parquet file or folder) into a
tensor per column.

Every source is read as Arrow record batches (a DataFrame through ``pyarrow.Table.from_pandas``),
and a column's Arrow type decides its tensor (``columns.infer``); ``column_params={"col": {...}}``
gives ``create_tensor`` arguments instead (``name``, ``htype`` ...): an ``image`` column holds
encoded bytes or file paths, a ``link[...]`` column URLs (read with ``creds_key``). Rows go in
one ``ds.extend`` per record batch.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from ..core.dataset import Dataset
from ..errors import IngestionError, IngestionSourceNotFoundError, UnsupportedFeatureError
from ..storage import is_remote
from ..storage.bytestore import reason
from . import batches, columns, extras
from .target import add_link_creds, target

IMAGE_BATCH_ROWS = batches.BATCH_ROWS  # rows per batch when a column holds images
BATCH_ROWS = 8192                      # rows per batch otherwise


def ingest_dataframe(src: Any, dest: Any, column_params: dict[str, dict[str, Any]] | None = None,
                     src_creds: dict[str, Any] | None = None, dest_creds: Any = None, creds_key: str | None = None,
                     progressbar: bool = True, token: str | None = None,
                     connect_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> Dataset:
    """Ingest table ``src`` into ``dest`` (a path for a new dataset, with ``dl.empty``'s
    ``**dataset_kwargs``; or an open dataset, where tensors of the columns' names that exist get
    the rows); see the module docstring. ``src``: a pandas DataFrame, a pyarrow Table or
    ``pyarrow.dataset.Dataset``, or the path of a Parquet file or folder (``s3://`` with
    ``src_creds``: v3's ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``,
    ``endpoint_url``, ``aws_region``). ``creds_key``: the creds key link columns are read with
    (added to the dataset when missing, with ``src_creds`` as its credentials for this session).
    On any error nothing of the ingest stays in ``dest``; the message names the column or the row."""
    source, name = _arrow_source(src, src_creds)
    plans = columns.plans(source.schema, column_params or {}, creds_key, name)
    with _reading(name):
        columns.add_class_names(plans, source)
        rows = source.num_rows if _is_table(source) else source.count_rows()
    size = IMAGE_BATCH_ROWS if any(p.holds_files for p in plans) else BATCH_ROWS
    with target(dest, name, dest_creds, token, connect_kwargs, **dataset_kwargs) as ds:
        for plan in plans:
            if plan.tensor not in ds.tensors:
                ds.create_tensor(plan.tensor, **plan.params)
        if any(plan.links for plan in plans):
            add_link_creds(ds, creds_key, src_creds)
        batches.write(ds, _batches(source, plans, size, name), rows, f"ingesting {name}", progressbar)
    return ds


def _arrow_source(src: Any, src_creds: dict[str, Any] | None) -> tuple[Any, str]:
    """``src`` as a pyarrow Table or Dataset, and its name for messages."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    if isinstance(src, (pa.Table, pads.Dataset)):
        return src, f"a pyarrow {type(src).__name__}"
    if isinstance(src, (str, os.PathLike)):
        return _parquet(os.fspath(src), src_creds), os.fspath(src)
    pd = extras.loaded("pandas")
    if pd is not None and isinstance(src, pd.DataFrame):
        return _from_pandas(src), "a DataFrame"
    raise IngestionError(f"ingest_dataframe takes a pandas DataFrame, a pyarrow Table or Dataset, or a Parquet "
                         f"path; got {type(src).__name__}.")


def _parquet(path: str, src_creds: dict[str, Any] | None) -> Any:
    """The Parquet file or folder at ``path`` (local or ``s3://``) as a pyarrow Dataset;
    IngestionSourceNotFoundError when there is none, UnsupportedFeatureError for other stores."""
    import pyarrow.dataset as pads

    filesystem, where = None, path
    if path.startswith("s3://"):
        filesystem, where = _s3(src_creds), path[len("s3://"):]
    elif is_remote(path):
        raise UnsupportedFeatureError(f"The Parquet source {path!r} is on a store ingest_dataframe does not read "
                                      "Parquet from; local paths and s3:// are read (or pass a pyarrow Dataset "
                                      "opened with its filesystem).")
    elif not os.path.exists(path):
        raise IngestionSourceNotFoundError(f"The Parquet source {path!r} does not exist; pass the path of an existing "
                                           "file or folder.")
    try:
        return pads.dataset(where, format="parquet", filesystem=filesystem)
    except FileNotFoundError as exc:
        raise IngestionSourceNotFoundError(f"The Parquet source {path!r} does not exist; check the URL and "
                                           "src_creds.") from exc
    except Exception as exc:
        raise IngestionError(f"Could not read {path!r} as Parquet: {exc}.") from exc


def _s3(creds: dict[str, Any] | None) -> Any:
    from pyarrow import fs

    creds = creds or {}
    return fs.S3FileSystem(access_key=creds.get("aws_access_key_id"), secret_key=creds.get("aws_secret_access_key"),
                           session_token=creds.get("aws_session_token"), region=creds.get("aws_region"),
                           endpoint_override=creds.get("endpoint_url"))


def _from_pandas(frame: Any) -> Any:
    """A DataFrame as a pyarrow Table (its index left out); IngestionError naming a column Arrow cannot hold."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        for column in frame.columns:
            try:
                pa.array(frame[column], from_pandas=True)
            except (pa.ArrowException, ValueError, TypeError) as column_exc:
                raise IngestionError(f"Column {column!r} of the DataFrame mixes value types or holds arrays of more "
                                     f"than one dimension ({column_exc}); give it one type (nested lists for "
                                     "arrays).") from exc
        raise IngestionError(f"The DataFrame could not be read as a table: {exc}.") from exc


def _is_table(source: Any) -> bool:
    import pyarrow as pa

    return isinstance(source, pa.Table)


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Reads of the source table: pyarrow's and the file system's errors (a Parquet file on a store that went
    away, a damaged file) come out as IngestionError naming the source."""
    import pyarrow as pa

    try:
        yield
    except (OSError, pa.ArrowException) as exc:
        raise IngestionError(f"Could not read {name}: {reason(exc)}. Check that the source is reachable (and "
                             "src_creds for a store) and that its files are whole Parquet files.") from exc


def _batches(source: Any, plans: list[columns.Plan], size: int, name: str) -> Iterator[batches.Batch]:
    start = 0
    chunks = iter(source.to_batches(max_chunksize=size) if _is_table(source) else source.to_batches(batch_size=size))
    while True:
        with _reading(name):
            record_batch = next(chunks, None)
        if record_batch is None:
            return
        n = record_batch.num_rows
        if not n:
            continue
        values = {plan.tensor: plan.values(record_batch.column(plan.column)) for plan in plans}
        yield values, [f"{name} row {start + i}" for i in range(n)]
        start += n
