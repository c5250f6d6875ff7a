"""Deep Lake v3's import path ``deeplake.util.diff``: the diff text and commit helpers.

v3's ``sanitize_commit`` and ``get_lowest_common_ancestor`` took its internal ``version_state``
and commit nodes; here they take the Dataset and commit ids (anything else raises
UnsupportedFeatureError)."""

from __future__ import annotations

from typing import Any

from ..core.dataset import Dataset
from ..core.diff import format_changes
from . import unsupported


def _dataset(ds: Any, v3_name: str) -> Dataset:
    if not isinstance(ds, Dataset):
        raise unsupported(f"{v3_name} over v3's version_state or commit nodes",
                          f"pass the Dataset and commit ids: {v3_name}(ds, ...).")
    return ds


def sanitize_commit(commit: str, ds: Dataset) -> str:
    """The full commit id that ``commit`` (a branch, tag, commit id or id prefix) names in ``ds``
    (a branch names its head commit); CommitNotFoundError, a KeyError, when none."""
    return _dataset(ds, "sanitize_commit").get_commit_details(commit)["commit"]


def _first_parents(ds: Dataset, commit: str) -> list[str]:
    chain = [ds.get_commit_details(commit)["commit"]]
    while parents := ds.get_commit_details(chain[-1])["parents"]:
        chain.append(parents[0])
    return chain


def get_lowest_common_ancestor(ds: Dataset, id_1: str, id_2: str | None = None) -> str:
    """The most recent commit on both ``id_1``'s and ``id_2``'s first-parent histories (``id_2``
    defaults to the current commit): the commit ``ds.diff(id_1, id_2)`` compares from, as v3's."""
    ds = _dataset(ds, "get_lowest_common_ancestor")
    other = set(_first_parents(ds, ds.commit_id if id_2 is None else id_2))
    return next(c for c in _first_parents(ds, id_1) if c in other)


def get_all_changes_string(ds_changes_1: list[dict[str, Any]] | None, ds_changes_2: list[dict[str, Any]] | None,
                           tensor_changes_1: list[dict[str, Any]] | None, tensor_changes_2: list[dict[str, Any]] | None,
                           msg_0: str | None, msg_1: str, msg_2: str) -> str:
    """The text ``ds.diff()`` prints for the given change entries (as ``ds.diff(as_dict=True)``
    returns them: per side, dataset entries and tensor entries, newest first): ``msg_0`` says how
    the sides relate, ``msg_1``/``msg_2`` head each side; a side whose tensor entries are None is
    left out."""
    sides = [(msg.rstrip("\n"), tensors, datasets)
             for msg, tensors, datasets in ((msg_1, tensor_changes_1, ds_changes_1), (msg_2, tensor_changes_2, ds_changes_2))
             if tensors is not None]
    return format_changes(msg_0 or None, sides)
