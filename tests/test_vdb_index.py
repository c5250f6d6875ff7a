"""Vector indexes (``tensor.create_vdb_index``): recall against exact scans, use by ORDER BY ...
LIMIT k, life across reopen / branch / merge / gc, never a stale index, and bad arguments."""

from __future__ import annotations

import os

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.query import vector_index

pytest.importorskip("faiss")

DIM = 16
SMALL = {"M": 16, "efConstruction": 64}


def _data(kind: str, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "isotropic":
        return rng.standard_normal((n, DIM), dtype=np.float32)
    centres = rng.standard_normal((20, DIM), dtype=np.float32) * 3
    return (centres[rng.integers(0, 20, n)] + rng.standard_normal((n, DIM), dtype=np.float32)).astype(np.float32)


def _array(q: np.ndarray) -> str:
    return "ARRAY[" + ", ".join(repr(float(v)) for v in q) + "]"


def _order(distance: str, q: np.ndarray, k: int = 10, where: str = "") -> str:
    key = (f"cosine_similarity(emb, {_array(q)}) DESC" if distance == "cosine_similarity"
           else f"l2_norm(emb - {_array(q)})")
    return f"SELECT * {where} ORDER BY {key} LIMIT {k}"


def _dataset(path: str, x: np.ndarray, max_chunk_size: int | None = None) -> dl.Dataset:
    ds = dl.empty(path)
    ds.create_tensor("emb", htype="embedding", dtype="float32", max_chunk_size=max_chunk_size)
    ds.create_tensor("label", htype="class_label")
    with ds:
        ds.emb.extend(x)
        ds.label.extend((np.arange(len(x)) % 4).astype(np.uint32))
    ds.commit("data")
    return ds


def _used(ds: dl.Dataset) -> bool:
    """Whether some index of ``ds.emb``'s current content is loaded (a query used it)."""
    objects = {entry["object"] for entry in _records(ds)}
    return bool(objects) and any(name in vector_index._LOADED.items for name in objects)


def _records(ds: dl.Dataset) -> list[dict]:
    target = vector_index._target(ds, "emb", quiet=True)
    return [] if target is None else [{"object": r.object, "id": r.id}
                                      for r in vector_index._records(target.physical, target.fingerprint)]


def _sample_ids(view) -> list[int]:
    return view.sample_indices.tolist()


@pytest.mark.parametrize("kind", ["clustered", "isotropic"])
@pytest.mark.parametrize("distance", ["cosine_similarity", "l2_norm"])
@pytest.mark.parametrize("params", [None, SMALL], ids=["pq4fs", "hnsw"])
def test_recall_against_exact_scan(tmp_path, kind, distance, params):
    """The default index (4-bit codes scanned, the best re-ranked) and an HNSW graph (asked for by
    its parameters) find the exact scan's rows, and their rows come ordered by exact keys."""
    x = _data(kind, 3000)
    ds = _dataset(str(tmp_path / "ds"), x)
    entry = ds.emb.create_vdb_index("hnsw_1", distance=distance, additional_params=params)
    assert entry["id"] == "hnsw_1" and entry["distance"] == distance and entry["rows"] == 3000
    assert (entry["type"], entry["storage"]) == (("pq4fs", "pq4fs") if params is None else ("hnsw", "sq8"))
    queries = _data(kind, 20, seed=1)
    vector_index._LOADED.items.clear()
    vector_index._LOADED.nbytes = 0
    hits = 0
    for q in queries:
        found = ds.query(_order(distance, q))
        exact = ds.query(_order(distance, q), exact=True)
        hits += len(set(_sample_ids(found)) & set(_sample_ids(exact)))
        rows = x[_sample_ids(found)]
        # the rows found are ordered by their exact keys
        if distance == "cosine_similarity":
            score = rows @ q / np.linalg.norm(rows, axis=1) / np.linalg.norm(q)
            assert (np.diff(score) <= 1e-6).all()
        else:
            dist = np.linalg.norm(rows - q, axis=1)
            assert (np.diff(dist) >= -1e-5).all()
    assert _used(ds)
    assert hits / (10 * len(queries)) >= 0.95


def test_search_depth_knob_and_exact_flag(tmp_path):
    x = _data("isotropic", 3000)
    ds = _dataset(str(tmp_path / "ds"), x)
    ds.emb.create_vdb_index("h", distance="l2_norm", additional_params={"M": 8, "efConstruction": 16, "efSearch": 10})
    queries = _data("isotropic", 30, seed=2)

    def recall(**kwargs) -> float:
        hits = 0
        for q in queries:
            exact = set(_sample_ids(ds.query(_order("l2_norm", q), exact=True)))
            hits += len(exact & set(_sample_ids(ds.query(_order("l2_norm", q), **kwargs))))
        return hits / (10 * len(queries))

    shallow, deep, exact = recall(), recall(ef_search=2000), recall(exact=True)
    assert exact == 1.0
    assert shallow < deep  # a tiny graph searched at depth k misses neighbours; a deep search finds them
    assert deep >= 0.95


def test_index_of_filtered_rows_and_narrow_filters(tmp_path):
    x = _data("clustered", 3000)
    ds = _dataset(str(tmp_path / "ds"), x)
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    q = _data("clustered", 1, seed=3)[0]
    found = _sample_ids(ds.query(_order("cosine_similarity", q, where="WHERE label == 1")))
    assert len(found) == 10 and all(i % 4 == 1 for i in found)
    exact = _sample_ids(ds.query(_order("cosine_similarity", q, where="WHERE label == 1"), exact=True))
    assert len(set(found) & set(exact)) >= 9
    narrow = _sample_ids(ds.query(_order("cosine_similarity", q, where="WHERE sample_index < 60")))
    assert narrow == _sample_ids(ds.query(_order("cosine_similarity", q, where="WHERE sample_index < 60"),
                                          exact=True))
    view = ds[100:2900]
    found = _sample_ids(view.query(_order("cosine_similarity", q)))
    assert all(0 <= i < 2800 for i in found) and len(found) == 10
    ones = ds.query("SELECT * WHERE label == 1")  # a View: the same keywords
    exact = _sample_ids(ones.query(_order("cosine_similarity", q), exact=True))
    assert len(set(_sample_ids(ones.query(_order("cosine_similarity", q), ef_search=64))) & set(exact)) >= 9


@pytest.fixture
def loads(monkeypatch):
    """The records whose graphs queries load (``vector_index._load`` calls), cleared by the test."""
    seen: list = []
    real = vector_index._load

    def spy(physical, record, reader, copy=False):
        seen.append(record)
        return real(physical, record, reader, copy)

    monkeypatch.setattr(vector_index, "_load", spy)
    return seen


def test_stale_index_is_never_used(tmp_path, loads):
    x = _data("clustered", 2000)
    ds = _dataset(str(tmp_path / "ds"), x)
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    q = _data("clustered", 1, seed=4)[0]
    query = _order("cosine_similarity", q)
    assert _sample_ids(ds.query(query))  # fresh: used
    assert _used(ds) and [r.rows for r in loads] == [2000]

    ds.append({"emb": q, "label": 0})  # the new row is the best match, and not in the graph
    assert [(e["rows"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [(2000, 1)]
    loads.clear()
    result = _sample_ids(ds.query(query))  # the graph for rows 0-1999, row 2000 scanned exactly
    assert result[0] == 2000 and result == _sample_ids(ds.query(query, exact=True))
    assert [r.rows for r in loads] == [2000]

    ds.emb[7] = q * 2  # an update of an indexed row: row 7 now ties with row 2000 (cosine 1)
    assert ds.emb.get_vdb_indexes() == []
    loads.clear()
    result = _sample_ids(ds.query(query))
    assert result[:2] == [7, 2000] and result == _sample_ids(ds.query(query, exact=True))
    assert loads == []

    ds.pop(7)  # a pop shifts the rows after it
    result = _sample_ids(ds.query(query))
    assert result[0] == 1999 and result == _sample_ids(ds.query(query, exact=True))
    assert loads == []
    ds.commit("changed")

    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)  # the new content gets its own index
    assert [(e["id"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [("hnsw_1", 0)]
    assert _sample_ids(ds.query(query))[0] == 1999


def _chunked(path: str, x: np.ndarray, rows_per_chunk: int = 256) -> dl.Dataset:
    """``_dataset`` with small chunks (``rows_per_chunk`` rows), so that the indexed rows fill
    some chunks whole and one in part."""
    return _dataset(path, x, max_chunk_size=rows_per_chunk * DIM * 4)


def test_appended_rows_are_searched_beside_the_index_and_added_to_it(tmp_path, loads, monkeypatch):
    x = _data("clustered", 3500, seed=7)
    path = str(tmp_path / "ds")
    ds = _chunked(path, x[:2000])  # 7 full chunks of 256 rows and one of 208
    assert vector_index._target(ds, "emb").reader.rows_per_chunk == 256
    ds.emb.create_vdb_index("hnsw_1", distance="l2_norm", additional_params=SMALL)
    ds.extend({"emb": x[2000:2400], "label": np.zeros(400, np.uint32)})
    queries = np.concatenate([x[2000:2010] + 0.01, _data("clustered", 10, seed=8)])  # near new rows, and others

    def recall(view) -> float:
        hits = 0
        for q in queries:
            found = _sample_ids(view.query(_order("l2_norm", q)))
            exact = _sample_ids(view.query(_order("l2_norm", q), exact=True))
            assert found[0] == exact[0]  # the nearest row, new or indexed, is found
            hits += len(set(found) & set(exact))
        return hits / (10 * len(queries))

    loads.clear()
    assert recall(ds) >= 0.95
    assert {r.rows for r in loads} == {2000}  # the index of the first 2000 rows answered
    ro = dl.load(path, read_only=True)  # the appended rows are published: another reader sees them too
    assert len(ro) == 2400 and recall(ro) >= 0.95

    def no_build(*args, **kwargs):
        raise AssertionError("the index should have been extended, not built again")

    monkeypatch.setattr(vector_index, "_build", no_build)
    entry = ds.emb.create_vdb_index("hnsw_1", distance="l2_norm")  # extends it: only the new rows are added
    assert entry["rows"] == 2400 and entry["additional_params"]["M"] == SMALL["M"]
    assert [(e["rows"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [(2400, 0)]
    loads.clear()
    assert recall(ds) >= 0.95 and {r.rows for r in loads} == {2400}
    monkeypatch.undo()

    ds.extend({"emb": x[2400:], "label": np.zeros(1100, np.uint32)})  # over MAX_TAIL of the rows unindexed: unused
    assert ds.emb.get_vdb_indexes() == []
    loads.clear()
    assert _sample_ids(ds.query(_order("l2_norm", x[3450])))[0] == 3450 and loads == []


def test_index_of_another_branch_is_never_used(tmp_path, loads):
    x = _data("clustered", 2700, seed=9)
    path = str(tmp_path / "ds")
    ds = _chunked(path, x[:2000])
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    ds.checkout("a", create=True)
    ds.extend({"emb": x[2000:2300], "label": np.zeros(300, np.uint32)})
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)  # extended to a's 2300 rows
    ds.commit("a rows")
    ds.checkout("main")
    ds.checkout("b", create=True)
    ds.extend({"emb": x[2300:2700], "label": np.zeros(400, np.uint32)})  # other rows where a has its own
    ds.commit("b rows")
    assert [(e["rows"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [(2000, 400)]
    for i in (2300, 2450, 2699, 5):
        loads.clear()
        found = _sample_ids(ds.query(_order("cosine_similarity", x[i])))
        assert found == _sample_ids(ds.query(_order("cosine_similarity", x[i]), exact=True))
        assert found[0] == (i if i < 2000 else i - 300) and {r.rows for r in loads} == {2000}

    ds.checkout("main")
    ds.merge("b")  # main gets b's rows: the index of its first 2000 rows serves, b's rows are scanned
    assert [(e["rows"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [(2000, 400)]
    loads.clear()
    assert _sample_ids(ds.query(_order("cosine_similarity", x[2500])))[0] == 2200
    assert {r.rows for r in loads} == {2000}
    dl.gc(path, grace_seconds=0)
    loads.clear()
    reopened = dl.load(path, read_only=True)
    assert _sample_ids(reopened.query(_order("cosine_similarity", x[2500])))[0] == 2200
    assert {r.rows for r in loads} == {2000}


def test_content_fingerprint_is_kept_until_a_write(tmp_path, loads, monkeypatch):
    """A writable dataset hashes its chunk names once per content, not per query; a write, a reset
    and a checkout make the next query hash again (and an update stops the index being used)."""
    x = _data("clustered", 1500)
    ds = _chunked(str(tmp_path / "ds"), x)
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    calls = []
    real = vector_index.fingerprint
    monkeypatch.setattr(vector_index, "fingerprint", lambda *a: calls.append(1) or real(*a))
    query = _order("cosine_similarity", x[3])
    for _ in range(4):
        assert _sample_ids(ds.query(query))[0] == 3
    assert len(calls) <= 1 and loads
    calls.clear()
    loads.clear()
    ds.emb[3] = -x[3]  # no commit: the working area changes
    assert _sample_ids(ds.query(query))[0] != 3 and calls and not loads
    assert _sample_ids(ds.query(query)) == _sample_ids(ds.query(query, exact=True))
    calls.clear()
    ds.reset()  # back to the committed rows: the index applies again
    assert _sample_ids(ds.query(query))[0] == 3 and calls and loads
    calls.clear()
    with ds:  # a write inside a block, queried before the block publishes it
        ds.emb[3] = -x[3]
        loads.clear()
        assert _sample_ids(ds.query(query))[0] != 3 and not loads
    calls.clear()
    ds.checkout("other", create=True)
    ds.query(query)
    assert calls


def test_index_survives_reopen_branch_merge_and_gc(tmp_path):
    path = str(tmp_path / "ds")
    x = _data("clustered", 2000)
    ds = _dataset(path, x)
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    q = _data("clustered", 1, seed=5)[0]
    query = _order("cosine_similarity", q)
    expected = _sample_ids(ds.query(query))

    reopened = dl.load(path, read_only=True)
    assert [e["id"] for e in reopened.emb.get_vdb_indexes()] == ["hnsw_1"]
    vector_index._LOADED.items.clear()
    vector_index._LOADED.nbytes = 0
    assert _sample_ids(reopened.query(query)) == expected and _used(reopened)

    ds.checkout("side", create=True)  # same content: the index applies
    assert [e["id"] for e in ds.emb.get_vdb_indexes()] == ["hnsw_1"]
    ds.label[0] = 3  # another tensor changes
    ds.commit("labels")
    ds.checkout("main")
    ds.merge("side")
    assert ds.label[0].numpy().tolist() == [3]
    assert [e["id"] for e in ds.emb.get_vdb_indexes()] == ["hnsw_1"]
    assert _sample_ids(ds.query(query)) == expected and _used(ds)

    objects = set(os.listdir(os.path.join(path, "objects")))
    kept = {r["object"] for r in _records(ds)}
    assert kept <= objects
    dl.gc(path, grace_seconds=0)
    assert kept <= set(os.listdir(os.path.join(path, "objects")))  # its version is reachable
    assert [e["id"] for e in dl.load(path).emb.get_vdb_indexes()] == ["hnsw_1"]


def test_index_goes_with_its_version_at_gc(tmp_path):
    path = str(tmp_path / "ds")
    ds = _dataset(path, _data("clustered", 1500))
    ds.checkout("scratch", create=True)
    ds.emb.append(np.ones(DIM, np.float32))  # content only this branch has
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)  # built on the uncommitted working state
    made = {r["object"] for r in _records(ds)}
    ds.commit("scratch work")
    assert {r["object"] for r in _records(ds)} == made
    dl.gc(path, grace_seconds=0)
    assert made <= set(os.listdir(os.path.join(path, "objects")))  # the pending id became the commit
    ds.checkout("main")
    ds.delete_branch("scratch")
    dl.gc(path, grace_seconds=0)
    assert not made & set(os.listdir(os.path.join(path, "objects")))
    assert not [key for key in os.listdir(path) if key == "vdb"] or not any(
        files for _, _, files in os.walk(os.path.join(path, "vdb")))


def test_delete_and_listing(tmp_path):
    ds = _dataset(str(tmp_path / "ds"), _data("clustered", 1000))
    ds.emb.create_vdb_index("a", additional_params=SMALL)
    ds.emb.create_vdb_index("b", distance="l2_norm", additional_params=SMALL)
    assert sorted(e["id"] for e in ds.emb.fetch_vdb_indexes()) == ["a", "b"]
    entry = ds.emb.get_vdb_indexes()[0]
    assert entry["type"] == "hnsw" and entry["additional_params"]["M"] == 16 and entry["bytes"] > 0
    ds.emb.delete_vdb_index("a")
    assert [e["id"] for e in ds.emb.get_vdb_indexes()] == ["b"]
    with pytest.raises(errors.VectorIndexNotFoundError, match="get_vdb_indexes"):
        ds.emb.delete_vdb_index("a")
    with pytest.raises(KeyError):
        ds.emb.delete_vdb_index("a")


def test_bad_arguments(tmp_path):
    ds = _dataset(str(tmp_path / "ds"), _data("clustered", 300))
    ds.create_tensor("text", htype="text")
    ds.text.extend(["a"] * 300)
    with pytest.raises(errors.VectorIndexError, match="Invalid vector index id"):
        ds.emb.create_vdb_index("a/b")
    with pytest.raises(errors.VectorIndexError, match="Unknown distance"):
        ds.emb.create_vdb_index("x", distance="dot")
    with pytest.raises(errors.VectorIndexError, match="Unknown vector index parameter"):
        ds.emb.create_vdb_index("x", additional_params={"ef": 3})
    with pytest.raises(errors.VectorIndexError, match="positive integer"):
        ds.emb.create_vdb_index("x", additional_params={"M": -1})
    with pytest.raises(errors.VectorIndexError, match="partitions"):
        ds.emb.create_vdb_index("x", additional_params={"partitions": 4})
    with pytest.raises(errors.VectorIndexError, match="numeric vectors"):
        ds.text.create_vdb_index("x")
    ds.emb.create_vdb_index("x", additional_params=SMALL)
    with pytest.raises(errors.VectorIndexError, match="already has"):
        ds.emb.create_vdb_index("x")
    q = _array(np.ones(DIM))
    with pytest.raises(errors.VectorIndexError, match="ef_search"):
        ds.query(f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC LIMIT 3", ef_search=0)
    with pytest.raises(errors.QueryError, match="exact"):
        ds.query(f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC LIMIT 3", exact="yes")
    ds.create_tensor("bad", dtype="float32")
    ds.bad.extend(np.full((4, DIM), np.nan, np.float32))
    with pytest.raises(errors.VectorIndexError, match="NaN"):
        ds.bad.create_vdb_index("x")
    assert ds.bad.get_vdb_indexes() == []
    ds.commit("more")
    ro = dl.load(str(tmp_path / "ds"), read_only=True)
    with pytest.raises(errors.ReadOnlyError):
        ro.emb.create_vdb_index("y")


def test_damaged_index_falls_back_to_exact(tmp_path):
    path = str(tmp_path / "ds")
    x = _data("clustered", 800)
    ds = _dataset(path, x)
    ds.emb.create_vdb_index("hnsw_1", additional_params=SMALL)
    (record,) = _records(ds)
    with open(os.path.join(path, "objects", record["object"]), "r+b") as f:
        f.truncate(100)
    vector_index._LOADED.items.clear()
    vector_index._LOADED.nbytes = 0
    reopened = dl.load(path, read_only=True)
    query = _order("cosine_similarity", x[3])
    with pytest.warns(RuntimeWarning, match="damaged"):
        result = _sample_ids(reopened.query(query))
    assert result == _sample_ids(reopened.query(query, exact=True)) and result[0] == 3


def test_faiss_thread_setting_is_given_back(tmp_path):
    """Building uses every core and a query one thread, but the caller's OpenMP setting for faiss
    is what it was before either (it is the calling thread's setting for all its later faiss work)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)
    try:
        x = _data("clustered", 600)
        ds = _dataset(str(tmp_path / "ds"), x)
        ds.emb.create_vdb_index("h", distance="l2_norm", additional_params=SMALL)
        assert faiss.omp_get_max_threads() == 3
        vector_index._LOADED.items.clear()
        ds.query(_order("l2_norm", x[5]))
        assert _used(ds)
        assert faiss.omp_get_max_threads() == 3
    finally:
        faiss.omp_set_num_threads(before)


@pytest.mark.parametrize("distance", ["cosine_similarity", "l2_norm"])
def test_search_depth_is_tuned_on_held_out_rows(tmp_path, distance):
    """Without an efSearch, the build picks the shallowest depth from the default up whose recall@10
    on held-out rows reaches the target; queries from the same distribution then find their
    neighbours about as well, and a graph too sparse for the default is searched deeper."""
    depths = {}
    for kind in ("clustered", "isotropic"):
        both = _data(kind, 4030, seed=3)  # rows and queries from one distribution (same centres)
        x, queries = both[:4000], both[4000:]
        ds = _dataset(str(tmp_path / kind), x)
        entry = ds.emb.create_vdb_index("h", distance=distance, additional_params={"M": 8, "efConstruction": 32})
        depth = entry["additional_params"]["efSearch"]
        assert depth in vector_index.TUNE_DEPTHS
        assert entry["estimated_recall"] >= vector_index.TUNE_RECALL or depth == vector_index.TUNE_DEPTHS[-1]
        assert ds.emb.get_vdb_indexes()[0]["estimated_recall"] == entry["estimated_recall"]  # kept in the record
        depths[kind] = depth
        hits = 0
        for q in queries:
            exact = set(_sample_ids(ds.query(_order(distance, q), exact=True)))
            hits += len(exact & set(_sample_ids(ds.query(_order(distance, q)))))
        assert _used(ds)
        assert hits / (10 * len(queries)) >= 0.9
    assert depths["clustered"] <= depths["isotropic"] and depths["clustered"] >= vector_index.DEFAULT_EF_SEARCH
    poor = _dataset(str(tmp_path / "poor"), _data("isotropic", 4000, seed=5))  # a graph too sparse for 512
    entry = poor.emb.create_vdb_index("h", distance=distance, additional_params={"M": 2, "efConstruction": 4})
    assert entry["additional_params"]["efSearch"] > vector_index.DEFAULT_EF_SEARCH
    assert 0 < entry["estimated_recall"] < 1
    given = _dataset(str(tmp_path / "given"), _data("isotropic", 500))
    entry = given.emb.create_vdb_index("h", additional_params={"M": 8, "efSearch": 40})
    assert entry["additional_params"]["efSearch"] == 40 and entry["estimated_recall"] is None


def test_a_depth_tuned_below_the_default_is_searched_at_the_default(tmp_path, monkeypatch):
    """Records an earlier build tuned down to depth 128 are searched at DEFAULT_EF_SEARCH at least;
    a depth given by the caller is kept as given."""
    ds = _dataset(str(tmp_path / "ds"), _data("clustered", 800))
    ds.emb.create_vdb_index("h", additional_params=SMALL)
    (record,) = vector_index._records(vector_index._target(ds, "emb").physical, vector_index._target(ds, "emb").fingerprint)
    import dataclasses

    old = dataclasses.replace(record, params={**record.params, "efSearch": 128}, recall=1.0)
    assert old.ef_search == vector_index.DEFAULT_EF_SEARCH
    assert dataclasses.replace(old, recall=-1.0).ef_search == 128
    assert old.public()["additional_params"]["efSearch"] == vector_index.DEFAULT_EF_SEARCH  # listed as used
    depths = []
    real = vector_index._faiss

    class Spy:
        def __init__(self, faiss):
            self.faiss = faiss

        def __getattr__(self, name):
            return getattr(self.faiss, name)

        def SearchParametersHNSW(self, efSearch, **kwargs):  # noqa: N802, N803
            depths.append(efSearch)
            return self.faiss.SearchParametersHNSW(efSearch=efSearch, **kwargs)

    monkeypatch.setattr(vector_index, "_faiss", lambda: Spy(real()))
    monkeypatch.setattr(vector_index, "_records", lambda *a, **k: [old])
    ds.query(_order("cosine_similarity", _data("clustered", 1, seed=2)[0]))
    assert depths == [vector_index.DEFAULT_EF_SEARCH]


def test_l2_rows_are_keyed_from_the_graph_without_reading_chunks(tmp_path, monkeypatch):
    """An L2 graph of float32 rows holds bit-identical copies of them: the rows it finds are keyed
    from it (no chunk read) with the keys the exact scan gives, so order and ties are the same."""
    from deeplake_nb.query import scan

    x = _data("clustered", 3000, seed=11)
    x[17] = x[16]  # a tie: equal rows sort by position
    path = str(tmp_path / "ds")
    _dataset(path, x).emb.create_vdb_index("l2", distance="l2_norm", additional_params=SMALL)
    reads = []
    real = scan.ChunkReader._read_chunk
    monkeypatch.setattr(scan.ChunkReader, "_read_chunk", lambda self, k: reads.append(k) or real(self, k))
    ds = dl.load(path)  # writable: no chunk cache, so keying from the tensor would read chunks every query
    for q in [x[16] + 0.001, *_data("clustered", 10, seed=12)]:
        reads.clear()
        found = _sample_ids(ds.query(_order("l2_norm", q)))
        assert reads == []
        exact = _sample_ids(ds.query(_order("l2_norm", q), exact=True))
        if set(found) == set(exact):
            assert found == exact
        dist = np.linalg.norm(x[found].astype(np.float64) - q, axis=1)
        assert (np.diff(dist) >= 0).all()
    found = _sample_ids(ds.query(_order("l2_norm", x[16] + 0.001)))
    assert found[:2] == [16, 17]
    ds.emb.create_vdb_index("cos", additional_params=SMALL)
    reads.clear()
    ds.query(_order("cosine_similarity", x[5]))
    assert reads  # a cosine graph holds unit rows: its rows are keyed from the tensor


def _strip_prefixes(path: str) -> None:
    """Rewrite every index record as a build before records kept a prefix wrote it."""
    import json

    for folder, _, files in os.walk(os.path.join(path, vector_index.PREFIX)):
        for name in files:
            with open(os.path.join(folder, name)) as f:
                doc = json.load(f)
            doc.pop("prefix", None)
            with open(os.path.join(folder, name), "w") as f:
                json.dump(doc, f)


def test_records_without_a_prefix_get_it_from_their_version(tmp_path, loads):
    """An index built before records kept a prefix serves appended rows too, its prefix read from
    the version it names; never when that version no longer holds what was indexed."""
    x = _data("clustered", 1300, seed=13)
    path = str(tmp_path / "ds")
    ds = _chunked(path, x[:1000])
    ds.emb.create_vdb_index("hnsw_1", distance="l2_norm", additional_params=SMALL)
    _strip_prefixes(path)
    ds = dl.load(path)
    ds.extend({"emb": x[1000:1100], "label": np.zeros(100, np.uint32)})
    assert [(e["rows"], e["unindexed_rows"]) for e in ds.emb.get_vdb_indexes()] == [(1000, 100)]
    loads.clear()
    assert _sample_ids(ds.query(_order("l2_norm", x[1050])))[0] == 1050 and {r.rows for r in loads} == {1000}

    other = str(tmp_path / "other")  # indexed while uncommitted: the record names the pending id
    ds = _chunked(other, x[:1000])
    ds.emb.extend(x[1000:1100])
    ds.label.extend(np.zeros(100, np.uint32))
    ds.emb.create_vdb_index("hnsw_1", distance="l2_norm", additional_params=SMALL)
    _strip_prefixes(other)
    ds = dl.load(other)
    ds.emb[5] = x[1200]  # then an indexed row changes and rows are appended, and it is committed
    ds.extend({"emb": x[1100:1120], "label": np.zeros(20, np.uint32)})
    ds.commit("changed under the index")  # the pending id the record names is this commit now
    assert ds.emb.get_vdb_indexes() == []
    loads.clear()
    assert _sample_ids(ds.query(_order("l2_norm", x[1200])))[0] == 5 and loads == []


@pytest.mark.parametrize("storage", ["flat", "sq8"])
def test_both_graph_storages_answer_and_extend(tmp_path, monkeypatch, loads, storage):
    """Graphs over float32 rows (what builds before SQ8 made, still read) and over 8-bit codes with
    a float32 re-rank give the recall of the exact scan's rows; an extension keeps the storage."""
    monkeypatch.setattr(vector_index, "STORAGE", storage)
    x = _data("isotropic", 2600, seed=14)
    ds = _dataset(str(tmp_path / "ds"), x[:2400])
    entry = ds.emb.create_vdb_index("h", distance="l2_norm", additional_params=SMALL)
    assert entry["storage"] == storage
    monkeypatch.setattr(vector_index, "STORAGE", "sq8" if storage == "flat" else "flat")
    ds.extend({"emb": x[2400:], "label": np.zeros(200, np.uint32)})
    assert ds.emb.create_vdb_index("h", distance="l2_norm")["storage"] == storage
    hits = 0
    queries = _data("isotropic", 20, seed=15)
    for q in queries:
        found = _sample_ids(ds.query(_order("l2_norm", q), ef_search=256))
        exact = _sample_ids(ds.query(_order("l2_norm", q), exact=True))
        hits += len(set(found) & set(exact))
    assert loads and hits / (10 * len(queries)) >= 0.95


def test_no_bump_of_the_changes_counter_is_lost_between_threads(tmp_path):
    """``DatasetState.changes`` is bumped atomically: threads writing at once lose none of the
    bumps that tell caches of derived values (content fingerprints) that the content moved."""
    import sys
    import threading

    from deeplake_nb.core import internal

    ds = _dataset(str(tmp_path / "ds"), _data("clustered", 50))
    state = internal.state(ds)
    before, interval = state.changes, sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        threads = [threading.Thread(target=lambda: [state.check_writable() for _ in range(20000)]) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert state.changes == before + 80000


def test_a_write_overlapping_a_fingerprint_is_never_taken_for_the_new_content(tmp_path, loads, monkeypatch):
    """Another thread's write that overlaps a query's fingerprint of the content never leaves that
    fingerprint cached as the content after the write (the index would then answer for rows it
    does not hold): (a) a write announced before the fingerprint is read and landed after it; (b)
    a write buffered in another thread's ``with ds:`` between the query's flush and its
    fingerprint, landed when the block ends."""
    import threading

    from deeplake_nb.core import internal
    from deeplake_nb.core.dataset import DatasetState

    x = _data("clustered", 1500, seed=22)
    ds = _chunked(str(tmp_path / "ds"), x)
    ds.emb.create_vdb_index("h", distance="l2_norm", additional_params=SMALL)
    query = _order("l2_norm", x[3])
    state = internal.state(ds)

    def current() -> str:
        target = vector_index._target(ds, "emb")
        assert target is not None
        return target.fingerprint

    def check(rows_changed: bool) -> None:
        loads.clear()
        found = _sample_ids(ds.query(query))
        assert found == _sample_ids(ds.query(query, exact=True))
        assert not loads if rows_changed else loads

    # (a): the writer announces (check_writable), the query fingerprints, then the write lands
    indexed = current()
    state.check_writable()
    assert current() == indexed  # read between the announcement and the write: still the old rows
    with monkeypatch.context() as patch:
        patch.setattr(DatasetState, "check_writable", lambda self: None)  # announced above already
        ds.emb[3] = -x[3]
    assert current() != indexed
    check(rows_changed=True)
    ds.reset()
    assert current() == indexed
    check(rows_changed=False)

    # (b): another thread's block buffers a write after the query's flush, before its fingerprint
    buffered, release = threading.Event(), threading.Event()

    def writer() -> None:
        with ds:
            ds.emb[3] = -x[3]
            buffered.set()
            release.wait(30)

    real_memo = vector_index._memo
    thread = threading.Thread(target=writer)

    def memo_after_write(*args, **kwargs):  # runs in the query after its flush, before the fingerprint
        if not thread.is_alive() and not buffered.is_set():
            thread.start()
            assert buffered.wait(30)
        return real_memo(*args, **kwargs)

    vector_index._MEMO.clear()
    with monkeypatch.context() as patch:
        patch.setattr(vector_index, "_memo", memo_after_write)
        assert current() == indexed  # the buffered row is not in the store yet
    release.set()
    thread.join(30)
    assert current() != indexed
    check(rows_changed=True)


def test_default_index_knob_filters_appends_and_few_rows(tmp_path, loads):
    """The default "pq4fs" index: its depth (rows re-ranked) is the recall knob; a WHERE keeps only
    its rows; appended rows are scanned beside it and then added to it; a tensor of fewer rows than
    a codebook has centroids is indexed too, and answered exactly."""
    x = _data("isotropic", 3200, seed=31)
    ds = _dataset(str(tmp_path / "ds"), x[:3000])
    entry = ds.emb.create_vdb_index("v", distance="l2_norm")
    assert entry["additional_params"] == {"efSearch": vector_index.SCAN_DEFAULT_DEPTH}
    assert entry["estimated_recall"] >= vector_index.TUNE_RECALL
    queries = _data("isotropic", 20, seed=32)

    def recall(where: str = "", **kwargs) -> float:
        hits = 0
        for q in queries:
            exact = set(_sample_ids(ds.query(_order("l2_norm", q, where=where), exact=True)))
            found = _sample_ids(ds.query(_order("l2_norm", q, where=where), **kwargs))
            assert len(found) == 10 and (not where or all(i % 4 == 1 for i in found))
            hits += len(exact & set(found))
        return hits / (10 * len(queries))

    assert recall(ef_search=10) < recall() and recall() >= 0.95
    assert loads and all(r.storage == "pq4fs" for r in loads)
    assert recall("WHERE label == 1") >= 0.95
    vector_index._LOADED.items.clear()  # loaded again through a view: its rows are read from the tensor
    vector_index._LOADED.nbytes = 0
    view = ds[100:2900]
    loads.clear()
    for q in queries[:5]:
        found = _sample_ids(view.query(_order("l2_norm", q)))
        assert len(found) == 10 and found == _sample_ids(view.query(_order("l2_norm", q), exact=True))
    assert loads
    ds.extend({"emb": x[3000:], "label": (np.arange(3000, 3200) % 4).astype(np.uint32)})
    loads.clear()
    assert recall() >= 0.95 and loads  # the index answers for its rows, the appended ones are scanned
    assert ds.emb.get_vdb_indexes()[0]["unindexed_rows"] == 200
    extended = ds.emb.create_vdb_index("v", distance="l2_norm")
    assert (extended["rows"], extended["storage"], extended["unindexed_rows"]) == (3200, "pq4fs", 0)
    few = _dataset(str(tmp_path / "few"), x[:15])
    few.emb.create_vdb_index("v", distance="cosine_similarity")
    loads.clear()
    for q in queries[:3]:
        query = _order("cosine_similarity", q, k=2)  # under a quarter of the rows: the top-k path
        assert _sample_ids(few.query(query)) == _sample_ids(few.query(query, exact=True))
    assert loads


def test_code_index_stores_its_codes_and_reads_the_rows_back(tmp_path, loads, monkeypatch):
    """A "pq4fs" index's object holds its 4-bit codes only (d/4 bytes a row against 4d for the
    rows); the rows it re-ranks on are read from the tensor when it is loaded, in a reopened
    dataset too; objects that held the rows as well (written before) are still used whole."""
    x = _data("clustered", 3000, seed=41)
    path = str(tmp_path / "ds")
    ds = _dataset(path, x)
    entry = ds.emb.create_vdb_index("v", distance="l2_norm")
    assert entry["bytes"] < 3000 * DIM  # codes and codebooks: a quarter of the float32 rows' bytes
    queries = _data("clustered", 10, seed=42)

    def recall(dataset) -> float:
        hits = 0
        for q in queries:
            exact = set(_sample_ids(dataset.query(_order("l2_norm", q), exact=True)))
            hits += len(exact & set(_sample_ids(dataset.query(_order("l2_norm", q)))))
        return hits / (10 * len(queries))

    vector_index._LOADED.items.clear()
    vector_index._LOADED.nbytes = 0
    reopened = dl.load(path, read_only=True)
    assert recall(reopened) >= 0.95 and loads
    monkeypatch.setattr(vector_index, "_stored_part", lambda faiss, index, storage: index)  # the whole index
    whole = ds.emb.create_vdb_index("w", distance="cosine_similarity")
    assert whole["bytes"] > 3000 * DIM * 4
    loads.clear()
    hits = 0
    for q in queries:
        query = _order("cosine_similarity", q)
        hits += len(set(_sample_ids(ds.query(query, exact=True))) & set(_sample_ids(ds.query(query))))
    assert hits >= 95 and [r.id for r in loads] == ["w"] * len(queries)


def test_code_index_after_updates_and_pops_keeps_the_codes_of_unchanged_chunks(tmp_path, loads, monkeypatch):
    """``create_vdb_index`` after an update or a pop near the end re-encodes only the chunks whose
    objects changed, with the earlier codebooks and depth (no build: ``_build`` is not called);
    the result answers as the exact scan would, the updated row included. A pop near the start
    changes most chunks: then the index is built afresh."""
    x = _data("isotropic", 3000, seed=51)
    ds = _chunked(str(tmp_path / "ds"), x)
    first = ds.emb.create_vdb_index("v", distance="l2_norm")
    builds = []
    real_build = vector_index._build
    monkeypatch.setattr(vector_index, "_build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    queries = _data("isotropic", 10, seed=52)

    def check() -> None:
        loads.clear()
        hits = 0
        for q in queries:
            exact = set(_sample_ids(ds.query(_order("l2_norm", q), exact=True)))
            hits += len(exact & set(_sample_ids(ds.query(_order("l2_norm", q)))))
        assert loads and hits >= 95

    target = x[2000] + 0.01
    ds.emb[5] = target
    ds.commit("update")
    assert ds.emb.get_vdb_indexes() == []  # the index of the rows before is never used for these
    entry = ds.emb.create_vdb_index("v", distance="l2_norm")
    assert builds == [] and entry["rows"] == 3000
    assert entry["additional_params"] == first["additional_params"] and entry["estimated_recall"] == first["estimated_recall"]
    assert _sample_ids(ds.query(_order("l2_norm", target, k=2))) == [5, 2000]  # row 5's new codes found it
    check()
    ds.emb.pop(2950)
    ds.commit("pop near the end")
    assert ds.emb.create_vdb_index("v", distance="l2_norm")["rows"] == 2999 and builds == []
    check()
    ds.emb.pop(3)
    ds.commit("pop near the start")
    assert ds.emb.create_vdb_index("v", distance="l2_norm")["rows"] == 2998 and builds == [1]
    check()
