"""Deep Lake v3 behaviours of views across version changes: a row or column view keeps reading
the version it was made on once its dataset commits or checks out another version (v3's view
commit and checkout hooks), and is read-only from then on."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors


@pytest.fixture
def ds(tmp_path) -> dl.Dataset:
    """x == [0, 1, 2, 3, 4] committed on main."""
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5))
    ds.commit("first")
    return ds


def values(obj) -> list[int]:
    return np.asarray(obj.numpy()).reshape(-1).tolist()


def test_view_stays_on_the_commit_its_dataset_makes(ds):
    ds.x[0] = 10
    view, columns = ds[0:3], ds[["x"]]
    assert values(view.x) == [10, 1, 2]  # before the commit a view shows the branch as it is
    made = ds.commit("second")
    ds.x[0] = 20  # the dataset moves on: the views do not
    ds.checkout("other", create=True)
    ds.x[1] = 21
    assert values(view.x) == [10, 1, 2]
    assert values(columns.x) == [10, 1, 2, 3, 4]
    assert view.commit_id == made and view.branch is None
    assert values(ds.x) == [20, 21, 2, 3, 4]


def test_view_made_after_a_commit_follows_the_writes_until_the_next(ds):
    ds.commit("nothing new", allow_empty=True)
    view = ds[1:3]
    ds.x[1] = 11  # made after the commit: it still follows the branch
    assert values(view.x) == [11, 2]
    ds.commit("second")
    ds.x[1] = 12
    assert values(view.x) == [11, 2]


def test_view_stays_on_its_branch_when_the_dataset_checks_out_elsewhere(ds):
    ds.checkout("other", create=True)
    ds.x[2] = 30  # uncommitted on "other"
    view = ds[2:4]
    ds.checkout("main")
    assert values(ds.x[2:4]) == [2, 3]
    assert values(view.x) == [30, 3]


def test_view_of_a_checked_out_commit_stays_there(ds):
    first = ds.commit_id
    ds.x[0] = 10
    ds.commit("second")
    ds.checkout(first)
    view = ds[0:2]
    ds.checkout("main")
    assert values(view.x) == [0, 1]
    assert values(ds.x[0:2]) == [10, 1]


def test_pinned_view_refuses_writes_and_the_dataset_is_unchanged(ds):
    view = ds[0:2]
    ds.x[0] = 10
    ds.commit("second")
    with pytest.raises(errors.ReadOnlyError, match="stays on the version"):
        view.x[0] = 99
    with pytest.raises(errors.ReadOnlyError, match="stays on the version"):
        view[["x"]].x[1] = 99  # views of a pinned view are pinned too
    assert view.read_only
    assert values(ds.x) == [10, 1, 2, 3, 4]
    assert values(view.x) == [10, 1]


def test_dataset_and_its_tensors_follow_checkouts(ds):
    tensor, group = ds.x, ds
    ds.x[0] = 10
    ds.commit("second")
    ds.checkout("other", create=True)
    ds.x[0] = 11
    assert values(tensor) == [11, 1, 2, 3, 4]
    assert values(group.x) == [11, 1, 2, 3, 4]
    assert not ds.read_only


def test_checkout_of_the_same_version_keeps_views_live(ds):
    view = ds[0:2]
    ds.checkout("main")
    ds.x[0] = 10
    assert values(view.x) == [10, 1]


def test_merge_commit_pins_views_made_before_it(ds):
    ds.checkout("other", create=True)
    ds.x.append(5)
    ds.commit("append")
    ds.checkout("main")
    view = ds[["x"]]
    ds.merge("other")
    ds.x.append(6)
    assert values(view.x) == [0, 1, 2, 3, 4, 5]
    assert values(ds.x) == [0, 1, 2, 3, 4, 5, 6]


def test_write_through_a_view_of_a_checked_out_commit_branches_off(ds):
    first = ds.commit_id
    ds.checkout(first)
    view = ds[0:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.AutoBranchWarning)
        view.x[0] = 7  # v3's auto checkout, as on the dataset itself
    assert ds.branch.startswith("auto_")
    assert values(view.x) == [7, 1]
    assert values(ds.x[0:2]) == [7, 1]


def test_pinned_view_pickles_at_its_commit(ds):
    view = ds[1:3]
    ds.x[1] = 11
    made = ds.commit("second")
    ds.x[1] = 12
    copy = pickle.loads(pickle.dumps(view))
    assert copy.commit_id == made
    assert values(copy.x) == [11, 2]
