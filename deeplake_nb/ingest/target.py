"""The dataset an ingest writes into, and undoing the ingest when it fails.

``target(dest, ...)`` yields the dataset to write: a new one made at ``dest`` (a path, with
``dl.empty``'s arguments), or ``dest`` itself when it is an open dataset. If the block raises,
nothing of the ingest stays: a dataset the ingest made is deleted; a dataset given open is put
back as it was (``core.undo``: its new tensors deleted, the rows appended to the others popped). (With
``overwrite=True`` the dataset that was at ``dest`` is replaced before the ingest starts, so a
failed ingest leaves nothing there, not the old dataset.) Errors
that are not deeplake_nb's come out as ``IngestionError`` naming the source.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from ..core import api
from ..core.dataset import Dataset
from ..core.undo import undone_on_failure
from ..errors import DeepLakeNBError, IngestionError, UnsupportedFeatureError


@contextmanager
def target(dest: Any, source: str, dest_creds: Any = None, token: str | None = None,
           connect_kwargs: dict[str, Any] | None = None, **dataset_kwargs: Any) -> Iterator[Dataset]:
    """The dataset to ingest ``source`` (its name, for messages) into; see the module docstring.
    ``token`` goes to ``dl.empty`` (which says what it means here); v3's ``connect_kwargs``
    (connecting the dataset to Activeloop's hub) has no equivalent."""
    if connect_kwargs is not None:
        raise UnsupportedFeatureError("connect_kwargs connects a dataset to Activeloop's hub, which deeplake_nb "
                                      "has no equivalent of; leave it out (the dataset is written at dest).")
    if token is not None:
        dataset_kwargs["token"] = token
    if isinstance(dest, Dataset):
        with undone_on_failure(dest), _ours(source):
            yield dest
        return
    if dest_creds is not None:
        dataset_kwargs["creds"] = dest_creds
    dataset_kwargs.setdefault("verbose", False)
    ds = api.empty(dest, **dataset_kwargs)
    try:
        with ds, _ours(source):  # the tensors made and the rows land in one publish (fsyncs are per publish)
            yield ds
    except BaseException:
        ds.delete(large_ok=True)
        raise


@contextmanager
def _ours(source: str) -> Iterator[None]:
    """Let deeplake_nb's errors through; any other (an OSError of the source, a parser's error)
    becomes an IngestionError naming ``source``."""
    try:
        yield
    except (DeepLakeNBError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise IngestionError(f"Ingesting {source} failed: {type(exc).__name__}: {exc}. Nothing was written; "
                             "fix the source and run the ingest again.") from exc


def add_link_creds(ds: Dataset, creds_key: str | None, creds: dict[str, Any] | None) -> None:
    """Give ``ds`` creds key ``creds_key`` (for linked sources) with ``creds`` for this session;
    nothing when no key is named."""
    if creds_key is None:
        return
    if creds_key not in ds.get_creds_keys():
        ds.add_creds_key(creds_key)
    if creds:
        ds.populate_creds(creds_key, dict(creds))


def source_name(path: Any) -> str:
    """A source path (str or os.PathLike) as text, for messages."""
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else type(path).__name__
