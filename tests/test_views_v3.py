"""Deep Lake v3 views: column views (``ds[["x", "z"]]``), out-of-range index lists, saving any
view (slices, index lists, steps, column subsets, chained filters and queries, views of saved
views), ``save_view(path=...)``, ``get_views``/``get_view``/``load_view``/``delete_view``,
``is_view``, and ``filter`` with a callable or a TQL string."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.query import View

N = 12


def build(path: str) -> dl.Dataset:
    """x[i] == i, z[i] == 100 + i, g/a[i] == 200 + i, g/b[i] == 300 + i, text[i] == f"t{i}"."""
    ds = dl.empty(path, overwrite=True)
    with ds:
        for name in ("x", "z", "g/a", "g/b"):
            ds.create_tensor(name, dtype="int64")
        ds.create_tensor("text", htype="text")
        ds.extend({"x": np.arange(N), "z": 100 + np.arange(N), "g/a": 200 + np.arange(N),
                   "g/b": 300 + np.arange(N), "text": [f"t{i}" for i in range(N)]})
    ds.commit("data")
    return ds


@pytest.fixture
def ds(tmp_path) -> dl.Dataset:
    return build(str(tmp_path / "ds"))


def values(view, name: str = "x") -> list[int]:
    return np.asarray(view[name].numpy()).reshape(-1).tolist()


# -- column views ------------------------------------------------------------------------------------
def test_column_view_shows_only_the_named_tensors_in_dataset_order(ds):
    view = ds[["z", "x"]]
    assert list(view.tensors) == ["x", "z"] and len(view) == N
    assert values(view[2:4], "z") == [102, 103]
    with pytest.raises(errors.TensorNotFoundError):
        view["text"]
    with pytest.raises(errors.TensorNotFoundError):
        view.text
    with pytest.raises(errors.TensorNotFoundError, match="nope"):
        ds[["x", "nope"]]


def test_column_view_of_groups(ds):
    assert list(ds[["g/a", "x"]].tensors) == ["x", "g/a"]
    assert list(ds[[("g", "b")]].tensors) == ["g/b"]
    assert list(ds[["g"]].tensors) == ["g/a", "g/b"]  # a group name shows all of its tensors
    inner = ds["g"][["b"]]
    assert list(inner.tensors) == ["b"] and values(inner, "b")[:2] == [300, 301]
    assert list(ds[["g/a", "z"]]["g"].tensors) == ["a"]  # the group keeps the selection


def test_column_view_refuses_row_writes_and_keeps_rows_aligned(tmp_path):
    ds = build(str(tmp_path / "w"))
    ds.checkout("edit", create=True)
    with pytest.raises(errors.SampleError, match="view"):
        ds[["x"]].append({"x": 1})
    ds[["x"]].pop()  # a row goes from every tensor, not only the shown ones
    assert len(ds.x) == len(ds.z) == len(ds.text) == N - 1


def test_rows_and_columns_compose(ds):
    view = ds[["x", "text"]][[5, 1]]
    assert list(view.tensors) == ["x", "text"] and values(view) == [5, 1]
    assert ds[3:9:2][["z"]].z.numpy().reshape(-1).tolist() == [103, 105, 107]


# -- out-of-range index lists ------------------------------------------------------------------------
def test_out_of_range_index_lists_raise_index_errors(ds):
    with pytest.raises(errors.SampleIndexError):
        ds[[0, 100]]
    with pytest.raises(IndexError):
        ds.x[[5, 99]]
    with pytest.raises(IndexError):
        ds[2:4][[0, 2]]
