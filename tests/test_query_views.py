"""Saved views: save/load/delete, bound to a commit, no commits made, clean HEAD required,
optimize=True materialised copies, listing, id checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import (DatasetNotFoundError, ReadOnlyError, UnsupportedFeatureError, VersionArgumentError,
                                ViewError, ViewNotFoundError)
from deeplake_nb.query import View, saved

LABELS = ["cat", "dog", "bird", "cat", "dog", "cat", "bird", "cat"]
N = len(LABELS)


def build(path: str) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    rng = np.random.default_rng(0)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird"])
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("captions", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("score", htype="generic", dtype="float32")
        for i in range(N):
            ds.append({"images": rng.integers(0, 255, (8 + i, 10, 3), dtype=np.uint8), "labels": LABELS[i],
                       "boxes": np.full((i % 3, 4), i, np.float32), "captions": f"caption {i}",
                       "meta": {"i": i}, "score": np.float32(i / 2)})
    ds.commit("data")
    return ds


@pytest.fixture
def ds(tmp_path) -> dl.Dataset:
    return build(str(tmp_path / "ds"))


CATS = [i for i, label in enumerate(LABELS) if label == "cat"]


def test_save_load_delete_makes_no_commit(ds):
    head, commits = ds.commit_id, len(ds.commits)
    v = ds.query("SELECT * WHERE labels == 'cat'")
    assert v.save_view(id="cats", message="cats only", optimize=False) == f"{ds.path}/.queries/cats"
    assert ds.commit_id == head and not ds.has_head_changes
    assert len(ds.commits) == commits  # saving made none
    loaded = ds.load_view("cats")
    assert isinstance(loaded, View)
    assert loaded.sample_indices.tolist() == CATS
    assert loaded.commit_id == head and loaded.query_string == v.query_string
    assert loaded.labels.numpy().reshape(-1).tolist() == [0] * len(CATS)
    np.testing.assert_array_equal(loaded.score.numpy(), v.score.numpy())
    assert loaded.dataset.read_only
    [info] = ds.get_views()
    assert info["id"] == "cats" and info["message"] == "cats only" and info["commit"] == head
    assert info["length"] == len(CATS) and info["optimized"] is False
    ds.delete_view("cats")
    assert ds.get_views() == []
    with pytest.raises(ViewError, match="cats"):
        ds.load_view("cats")
    assert ds.commit_id == head and len(ds.commits) == commits


def test_view_is_bound_to_its_commit(ds):
    ds.query("SELECT labels AS l, score WHERE score > 1").save_view(id="big")
    saved_at = ds.commit_id
    ds.score[5] = np.float32(-100)
    ds.append({"images": np.zeros((4, 4, 3), np.uint8), "labels": "cat", "boxes": np.zeros((0, 4), np.float32),
               "captions": "new", "meta": {}, "score": np.float32(99)})
    ds.commit("changed")
    ds.delete_tensor("captions")
    ds.commit("dropped captions")
    v = dl.load(ds.path).load_view("big")  # also from a fresh handle
    assert v.commit_id == saved_at
    assert list(v.tensors) == ["l", "score"]
    assert v.sample_indices.tolist() == [3, 4, 5, 6, 7]
    np.testing.assert_allclose(v.score.numpy().reshape(-1), [1.5, 2.0, 2.5, 3.0, 3.5])
    assert v.l.numpy().reshape(-1).tolist() == [0, 1, 0, 2, 0]


def test_dirty_head_refused(ds):
    v = ds.query("SELECT * WHERE labels == 'dog'")
    ds.score[0] = np.float32(7)
    with pytest.raises(ViewError, match="commit"):
        v.save_view(id="dogs")
    ds.commit("edit")
    with pytest.raises(ViewError, match="run the query again"):  # computed before that commit
        v.save_view(id="dogs")
    assert ds.query("SELECT * WHERE labels == 'dog'").save_view(id="dogs").endswith("/.queries/dogs")
    assert [x["id"] for x in ds.get_views()] == ["dogs"]


def test_save_view_returns_an_address_load_opens(ds):
    head = ds.commit_id
    address = ds.query("SELECT * WHERE labels == 'cat'").save_view(id="cats")
    assert address == f"{ds.path}/.queries/cats"
    ds.score[0] = np.float32(-1)  # later changes to the branch do not reach the saved view
    ds.commit("edit")
    for opened in (dl.load(address), dl.load(address, read_only=False), dl.dataset(address),
                   dl.load(Path(address))):
        assert isinstance(opened, View) and opened.commit_id == head
        assert opened.sample_indices.tolist() == CATS and opened.read_only
        assert opened.score.numpy().reshape(-1).tolist()[0] == 0.0
        with pytest.raises(ReadOnlyError):
            opened.score[0] = np.float32(5)
    assert ds.score[0].numpy().tolist() == [-1.0] and [v["id"] for v in dl.load(ds.path).get_views(head)] == ["cats"]
    assert not os.path.exists(address)  # an address: the record is kept with the dataset's other views
    random_id = ds[[1, 4]].save_view()
    assert random_id.startswith(f"{ds.path}/.queries/view-")
    assert dl.load(random_id).sample_indices.tolist() == [1, 4]


def test_saved_view_address_errors(ds):
    address = ds[2:4].save_view(id="two")
    with pytest.raises(ViewNotFoundError, match="'two'"):  # the message lists the known ids
        dl.load(f"{ds.path}/.queries/none")
    with pytest.raises(VersionArgumentError, match="without a version"):
        dl.load(address + "@main")
    with pytest.raises(VersionArgumentError, match="without a version"):
        dl.load(address, version="main")
    with pytest.raises(UnsupportedFeatureError, match="delete_view"):
        dl.delete(address)
    with pytest.raises(UnsupportedFeatureError, match="delete_view"):
        dl.dataset(address, overwrite=True)
    assert [v["id"] for v in ds.get_views()] == ["two"]  # refused calls changed nothing
    assert dl.load(address).sample_indices.tolist() == [2, 3]
    with pytest.raises(DatasetNotFoundError):
        dl.load(str(Path(ds.path).parent / "nothing" / ".queries" / "two"))


def test_a_dataset_at_a_queries_path_opens_as_a_dataset(tmp_path):
    inner = dl.empty(str(tmp_path / "outer" / ".queries" / "x"))  # not an address: a dataset is there
    inner.create_tensor("t")
    inner.t.extend([1, 2])
    again = dl.load(inner.path)
    assert isinstance(again, dl.Dataset) and again.t.numpy().ravel().tolist() == [1, 2]


def test_memory_and_optimized_views_have_addresses(ds):
    mem = dl.empty("mem://saved_view_address")
    mem.create_tensor("x")
    mem.x.extend(np.arange(5))
    mem.commit("five")
    address = mem.query("SELECT * WHERE x > 2").save_view(id="big")
    assert address == "mem://saved_view_address/.queries/big"
    assert dl.load(address).x.numpy().ravel().tolist() == [3, 4]
    fast = ds[[6, 0]].save_view(id="fast", optimize=True, progressbar=False)
    assert fast == f"{ds.path}/.queries/fast"
    opened = dl.load(fast)
    assert opened.is_optimized and opened.read_only and opened.score.numpy().ravel().tolist() == [3.0, 0.0]
    with pytest.raises(ReadOnlyError, match="save_view"):  # opened by its address: read-only
        opened[1:].save_view(id="fast-tail")
    again = ds.load_view("fast")[1:].save_view(id="fast-tail")  # a view of the copy: saved in the source
    assert again == f"{ds.path}/.queries/fast-tail" and dl.load(again).sample_indices.tolist() == [0]


def test_optimize_copies_the_views_data(ds):
    v = ds.query("SELECT * WHERE labels != 'dog' ORDER BY score DESC")
    v.save_view(id="cats-fast", optimize=True, progressbar=False)
    fast = ds.load_view("cats-fast")
    assert len(fast) == len(v) and list(fast.tensors) == list(v.tensors)
    assert fast.dataset.path != ds.path
    for name in v.tensors:
        want, got = v[name].numpy(aslist=True), fast[name].numpy(aslist=True)
        assert len(want) == len(got)
        for a, b in zip(want, got):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        src, dst = ds[name].meta, fast.dataset[name].meta
        assert (dst.htype, dst.sample_compression, dst.dtype, dst.info) == (
            src.htype, src.sample_compression, src.dtype, src.info)
    assert fast.dataset.labels.info.class_names == ["cat", "dog", "bird"]
    assert ds.get_views()[0]["optimized"] is True
    # stored payloads are copied as they are
    rows = v.sample_indices[:2]
    assert ds.images._store.take(rows) == fast.dataset.images._store.take(np.arange(2))
    ds.delete_view("cats-fast")
    assert not dl.exists(saved._copy_path(ds.path, "cats-fast"))


def test_computed_columns_need_optimize(ds):
    v = ds.query("SELECT score * 2 AS double, labels WHERE labels == 'bird'")
    with pytest.raises(ViewError, match="computed"):
        v.save_view(id="double")
    assert ds.get_views() == []
    v.save_view(id="double", optimize=True, progressbar=False)
    fast = ds.load_view("double")
    np.testing.assert_allclose(np.asarray(fast.double.numpy()).reshape(-1), [2.0, 6.0])
    assert fast.labels.numpy().reshape(-1).tolist() == [2, 2]


def test_bad_and_unknown_ids(ds):
    v = ds.query("SELECT * WHERE labels == 'cat'")
    for bad in ["", "/", "..", ".", "a/b", "../x", 3]:
        with pytest.raises(ViewError):
            v.save_view(id=bad)
    v.save_view(id="cats")
    v.save_view(id="cats-2")
    with pytest.raises(ViewError, match="already exists"):
        v.save_view(id="cats")
    with pytest.raises(ViewError, match="'cats', 'cats-2'"):
        ds.load_view("dogs")
    with pytest.raises(ViewError, match="known views"):
        ds.delete_view("dogs")
    with pytest.raises(ViewError):
        ds.load_view("../cats")


def test_large_and_grouped_views_and_mem(monkeypatch):
    monkeypatch.setattr(saved, "INLINE_ROWS", 3)
    ds = build("mem://saved-views-test")
    v = ds.query("SELECT * WHERE labels != 'bird'")
    v.save_view(id="many", optimize=True, progressbar=False)
    assert ds._repo.physical.get("views/many.rows") is not None
    assert ds.load_view("many").sample_indices.tolist() == list(range(len(v)))
    g = ds.query("SELECT labels, score GROUP BY labels")
    g.save_view(id="grouped")
    back = ds.load_view("grouped")
    assert back.is_grouped and len(back) == len(g)
    assert [x.tolist() for x in back.groups] == [x.tolist() for x in g.groups]
    with pytest.raises(ViewError, match="Grouped"):
        g.save_view(id="grouped-fast", optimize=True)
    assert [x["id"] for x in ds.get_views()] == ["grouped", "many"]
    ds.delete_view("many")
    assert ds._repo.physical.get("views/many.rows") is None
    assert not dl.exists(saved._copy_path(ds.path, "many"))


def test_gc_keeps_the_commits_of_saved_views(ds):
    ds.checkout("scratch", create=True)
    ds.captions[0] = "changed on scratch"
    ds.extend({"labels": ["dog"] * 3, "captions": ["more"] * 3, "score": np.zeros(3, np.float32)}, skip_ok=True)
    scratch = ds.commit("scratch work")
    v = ds.query("SELECT captions WHERE labels == 'dog'")
    v.save_view(id="scratch-dogs")
    ds.checkout("main")
    ds.delete_branch("scratch")
    removed = dl.gc(ds.path, grace_seconds=0)
    assert removed["commits"] == 0  # only the saved view reaches "scratch work", and that keeps it
    loaded = ds.load_view("scratch-dogs")
    assert loaded.commit_id == scratch
    assert loaded.captions.data()["value"] == v.captions.data()["value"]
    ds.delete_view("scratch-dogs")
    assert dl.gc(ds.path, grace_seconds=0)["commits"] == 1  # no view holds it now
    assert saved.view_commits(ds._repo.physical) == []


def test_a_store_finalizer_run_under_the_cache_lock_does_not_wait_for_itself():
    """The collector may run a read-only store's finalizer (which forgets its scan cache) on a
    thread that holds the caches' lock, inside any allocation there: it must not deadlock."""
    import threading
    import weakref

    from deeplake_nb.query import scan

    class Store:
        pass

    store = Store()
    ref = weakref.ref(store)

    def collect_under_the_lock() -> None:
        with scan._CACHES_LOCK:
            scan._CACHES[id(store)] = (ref, scan.Cache())
            scan._forget(id(store), ref)  # what the finalizer does

    worker = threading.Thread(target=collect_under_the_lock, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the finalizer waited for a lock its own thread holds"
    assert id(store) not in scan._CACHES


# -- sample_by (Deep Lake v3) ---------------------------------------------------------------------
def _labelled(n: int = 300) -> dl.Dataset:
    ds = dl.empty(f"mem://sample-by-{n}")
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(np.arange(n) % 3)
    return ds


def test_sample_by_a_tql_weighting_draws_rows_in_proportion():
    ds = _labelled()
    view = ds.sample_by("max_weight(labels == 1: 10, labels == 2: 30)", size=4000, seed=1)
    counts = np.bincount(view.labels.numpy().ravel(), minlength=3)
    assert len(view) == 4000 and counts[0] == 0
    assert 2.6 < counts[2] / counts[1] < 3.4
    by_value = ds.sample_by("labels", size=4000, seed=1)  # an expression: each row's weight
    counts = np.bincount(by_value.labels.numpy().ravel(), minlength=3)
    assert counts[0] == 0 and 1.7 < counts[2] / counts[1] < 2.3
    assert by_value.sample_indices.tolist() == ds.sample_by("labels", size=4000, seed=1).sample_indices.tolist()


def test_sample_by_one_weight_per_row():
    ds = _labelled(10)
    weights = [0.0] * 10
    weights[3], weights[7] = 1.0, 3.0
    drawn = ds.sample_by(weights, size=2000, seed=0).sample_indices
    assert set(drawn.tolist()) == {3, 7} and 2.5 < np.count_nonzero(drawn == 7) / np.count_nonzero(drawn == 3) < 3.5
    once = ds.sample_by(np.array(weights), replace=False, seed=0).sample_indices  # at most the rows weighted
    assert sorted(once.tolist()) == [3, 7]
    assert len(ds.sample_by(weights, seed=0)) == 10  # size defaults to the number of rows
    assert len(ds[2:].sample_by([1.0] * 8, size=5, seed=0)) == 5
    for bad in ([1.0] * 9, [-1.0] + [1.0] * 9, [float("nan")] * 10, ["x"] * 10):
        with pytest.raises(dl.errors.QueryError):
            ds.sample_by(bad)
    with pytest.raises(dl.errors.QueryError):
        ds.sample_by(weights, size=-1)


def test_a_view_samples_its_own_rows():
    ds = _labelled(30)
    view = ds.query("SELECT * WHERE labels == 2").sample_by("labels", size=50, seed=3)
    assert len(view) == 50 and set(view.labels.numpy().ravel().tolist()) == {2}
