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


def samples(tensor) -> list:
    return [np.asarray(sample).tolist() for sample in tensor.numpy(aslist=True)]


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


def test_rows_and_columns_compose_and_check_their_indices(ds):
    view = ds[["x", "text"]][[5, 1]]
    assert list(view.tensors) == ["x", "text"] and values(view) == [5, 1]
    assert ds[3:9:2][["z"]].z.numpy().reshape(-1).tolist() == [103, 105, 107]
    with pytest.raises(errors.SampleIndexError):  # out-of-range index lists fail when indexing
        ds[["x"]][[0, 100]]
    with pytest.raises(IndexError):
        ds[[0, 100]]
    with pytest.raises(IndexError):
        ds[["z"]].z[[5, 99]]
    with pytest.raises(IndexError):
        ds[2:4][["x"]][[0, 2]]


# -- saving any view ---------------------------------------------------------------------------------
VIEWS = {
    "slice": lambda ds: ds[1:5],
    "index-list": lambda ds: ds[[0, 3, 7, 3]],
    "step": lambda ds: ds[::3],
    "reversed-step": lambda ds: ds[10:2:-2],
    "columns": lambda ds: ds[["x", "text"]][2:6],
    "group": lambda ds: ds["g"][[1, 4]],
    "whole": lambda ds: ds,
}


@pytest.mark.parametrize("kind", list(VIEWS))
def test_any_dataset_view_can_be_saved_and_loaded(ds, kind):
    view = VIEWS[kind](ds)
    assert ds.save_view is not None and view.save_view(id=kind) == f"{ds.path}/.queries/{kind}"
    loaded = ds.load_view(kind)
    assert isinstance(loaded, View) and loaded.commit_id == ds.commit_id and loaded.is_view
    assert list(loaded.tensors) == list(view.tensors) and len(loaded) == len(view)
    for name in view.tensors:
        assert samples(loaded[name]) == samples(view[name])
    assert [e.id for e in ds.get_views()] == [kind]


def test_chained_filters_and_queries_are_saved(ds):
    even = ds.filter(lambda row: int(row.x.numpy()[0]) % 2 == 0)
    chained = even.query("SELECT * WHERE z > 103").filter("x < 10")
    assert chained.sample_indices.tolist() == [4, 6, 8]
    assert ds.filter(lambda row: int(row.x.numpy()[0]) % 2 == 0, num_workers=3).sample_indices.tolist() == \
        even.sample_indices.tolist()
    chained.save_view(id="chained", message="even, z > 103, x < 10")
    assert values(ds.load_view("chained")) == [4, 6, 8]
    assert ds.get_view("chained").message == "even, z > 103, x < 10"


@pytest.mark.parametrize("first,second,third", [(a, b, c) for a in (False, True) for b in (False, True)
                                                for c in (False, True)])
def test_views_of_saved_views(ds, first, second, third):
    ds[:10].save_view(id="first_10", optimize=first, progressbar=False)
    first_10 = ds.load_view("first_10")
    assert first_10.is_optimized == first
    first_10[2:8].save_view(id="mid", optimize=second, progressbar=False)
    mid = ds.load_view("mid")
    mid[[0, 5]].save_view(id="ends", optimize=third, progressbar=False)
    for handle in (ds, dl.load(ds.path)):
        assert values(handle.load_view("mid")) == [2, 3, 4, 5, 6, 7]
        assert values(handle.load_view("ends"), "z") == [102, 107]
    assert {e.id for e in ds.get_views()} == {"first_10", "mid", "ends"}


def test_a_view_of_an_older_commit_can_still_be_saved(tmp_path):
    ds = build(str(tmp_path / "old"))
    first = ds.commit_id
    ds[4:9].save_view(id="abcd")
    ds.x.extend(np.arange(N, N + 3))
    second = ds.commit("more x")
    old = ds.load_view("abcd")
    assert old.commit_id == first and ds.commit_id == second and not old.is_optimized
    old.save_view(id="efg", optimize=True, progressbar=False)
    assert ds.commit_id == second
    fast = ds.load_view("efg")
    assert fast.is_optimized and values(fast) == [4, 5, 6, 7, 8]
    assert [e.id for e in ds.get_views()] == [] and {e.id for e in ds.get_views(commit_id=first)} == {"abcd", "efg"}


def test_uncommitted_changes_must_be_committed_first(tmp_path):
    ds = build(str(tmp_path / "dirty"))
    view = ds[0:4]
    ds.z[0] = 999
    with pytest.raises(errors.ViewError, match="uncommitted"):
        view.save_view(id="first")
    with pytest.raises(errors.ViewError, match="uncommitted"):
        view.save_view(path=str(tmp_path / "elsewhere"))
    assert ds.get_views() == []
    ds.commit("z[0] changed")
    view.save_view(id="first")  # a row view is saved at the new commit, as v3 does
    assert ds.get_view("first").commit_id == ds.commit_id
    assert values(ds.load_view("first"), "z") == [999, 101, 102, 103]


# -- save_view(path=...) -----------------------------------------------------------------------------
def test_save_view_at_a_path_is_a_dataset_of_its_own(ds, tmp_path):
    target = str(tmp_path / "ext")
    got = ds[2:6].save_view(path=target, id="ext", message="rows 2-5", progressbar=False)
    assert got == target
    ext = dl.load(target)
    assert list(ext.tensors) == list(ds.tensors) and values(ext) == [2, 3, 4, 5]
    assert ext.text.data()["value"] == ["t2", "t3", "t4", "t5"]
    assert ext.info["source-dataset"] == ds.path and ext.info["source-dataset-version"] == ds.commit_id
    assert ext.info["message"] == "rows 2-5" and ext.info["view-id"] == "ext"
    assert ds.get_views() == []  # external: not listed by the source
    with pytest.raises(errors.DatasetExistsError):
        ds[0:1].save_view(path=target, progressbar=False)
    ds[0:1].save_view(path=target, overwrite=True, progressbar=False)
    assert values(dl.load(target)) == [0]
    with pytest.raises(errors.ViewError, match="source dataset"):
        ds[0:1].save_view(path=ds.path)
    with pytest.raises(errors.ViewError, match="path="):
        ds[0:1].save_view(id="a", overwrite=True)


def test_read_only_datasets_save_views_only_at_a_path(ds, tmp_path):
    ro = dl.load(ds.path, read_only=True)
    with pytest.raises(errors.ReadOnlyError, match="path="):
        ro[0:3].save_view(id="nope")
    ro.query("SELECT x, z WHERE x >= 9").save_view(path=str(tmp_path / "ro-ext"), progressbar=False)
    assert values(dl.load(str(tmp_path / "ro-ext")), "z") == [109, 110, 111]


# -- listing, loading, deleting ------------------------------------------------------------------------
def test_view_entries(ds):
    ds[0:3].save_view("first three", id="a")  # v3 order: the message comes first
    [entry] = ds.get_views()
    assert (entry.id, entry.message, entry.virtual, entry["id"], entry["length"]) == ("a", "first three", True, "a", 3)
    assert entry.commit_id == ds.commit_id and entry.source_dataset_path == ds.path
    assert values(entry.load()) == [0, 1, 2]
    assert entry.optimize(progressbar=False) is entry and not entry.virtual
    assert ds.load_view("a").is_optimized and ds.get_view("a").optimized
    entry.delete()
    assert ds.get_views() == []
    with pytest.raises(KeyError):
        ds.get_view("a")
    with pytest.raises(KeyError, match="known views"):
        ds.load_view("a")
    with pytest.raises(errors.ViewNotFoundError):
        ds.delete_view("a")


def test_load_view_can_optimize_and_pick_tensors(ds):
    ds[[5, 1]].save_view(id="pair")
    fast = ds.load_view("pair", optimize=True, tensors=["x", "g"], progressbar=False)
    assert fast.is_optimized and list(fast.tensors) == ["x", "g/a", "g/b"]
    assert values(fast) == [5, 1] and values(fast, "g/b") == [305, 301]
    ds[0:2].save_view(id="only-z", tensors=["z"])
    assert list(ds.load_view("only-z").tensors) == ["z"]
    with pytest.raises(errors.ViewError, match="nope"):
        ds[0:2].save_view(id="bad", tensors=["nope"])


def test_is_view(ds):
    assert not ds.is_view and not ds["g"].is_view
    assert ds[1:3].is_view and ds[[2]].is_view and ds[0].is_view and ds[["x"]].is_view
    assert ds.query("SELECT * WHERE x > 3").is_view


def test_filter_can_save_its_result(ds, tmp_path):
    view = ds.filter("x % 5 == 0", save_result=True, result_ds_args={"id": "fives"})
    assert values(view) == [0, 5, 10] and values(ds.load_view("fives")) == [0, 5, 10]
    ds.filter(lambda row: row.text.data()["value"] == "t7", save_result=True,
              result_path=str(tmp_path / "seven"), result_ds_args={"progressbar": False})
    assert values(dl.load(str(tmp_path / "seven"))) == [7]


# -- streaming views --------------------------------------------------------------------------------------
def test_query_and_saved_views_stream_to_pytorch(ds):
    view = ds.query("SELECT x, text WHERE x > 7")
    batch = next(iter(view.pytorch(batch_size=8)))
    assert list(batch.keys()) == ["x", "text", "index"]
    assert batch["index"][:, 0].tolist() == [8, 9, 10, 11] and batch["text"] == ["t8", "t9", "t10", "t11"]
    view.save_view(id="late")
    loaded = ds.load_view("late")
    assert [int(s["index"][0]) for s in loaded.pytorch(batch_size=None)] == [8, 9, 10, 11]
    assert next(iter(loaded.dataloader().batch(4).pytorch()))["x"].reshape(-1).tolist() == [8, 9, 10, 11]
    with pytest.raises(errors.LoaderError, match="renamed"):
        ds.query("SELECT x AS y").pytorch()
    with pytest.raises(errors.LoaderError, match="GROUP BY"):
        ds.query("SELECT x GROUP BY x % 2").pytorch()
