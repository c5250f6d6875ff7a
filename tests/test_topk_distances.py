"""``ORDER BY l2_norm | l1_norm | linf_norm(tensor - ARRAY[...]) LIMIT k`` through the one-pass
chunk scan (``query.topk``): the same rows, order and ties as the full sort, on writable datasets
(exact scores) and read-only ones (L2 prefiltered by the 8-bit copy with a proven bound)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.format import columns
from deeplake_nb.query import topk

D = 8


def rows(view) -> list[int]:
    return view.sample_indices.tolist()


def array(q: np.ndarray) -> str:
    return "ARRAY[" + ", ".join(repr(float(x)) for x in np.asarray(q).reshape(-1)) + "]"


def make(path: str, vectors: np.ndarray, monkeypatch, dtype: str = "float32") -> dl.Dataset:
    monkeypatch.setattr(columns, "DENSE_CHUNK_BYTES", 64 * vectors.shape[1] * 4)  # 64 rows per chunk
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("emb", htype="generic", dtype=dtype)
        ds.create_tensor("labels", htype="generic", dtype="int32")
        ds.extend({"emb": vectors.astype(dtype), "labels": np.arange(len(vectors)) % 7})
    monkeypatch.undo()
    return ds


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """Halves in [-2, 2] (distances tie exactly: repeats, zero rows) and a read-only copy."""
    rng = np.random.default_rng(11)
    x = (rng.integers(-4, 5, (2500, D)) * 0.5).astype(np.float32)
    x[rng.integers(0, 2500, 100)] = 0
    x[1::97] = x[0]
    mp = pytest.MonkeyPatch()
    path = str(tmp_path_factory.mktemp("dist") / "grid")
    ds = make(path, x, mp)
    return ds, dl.load(path, read_only=True), x


QUERIES = [np.array([1, 0, 0.5, 0, -1, 2, 0, 1]), np.array([0.25] * D), np.zeros(D)]


@pytest.mark.parametrize("norm", ["l2_norm", "l1_norm", "linf_norm"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_distance_top_k_matches_the_full_sort(grid, norm, direction):
    writable, read_only, _ = grid
    for q in QUERIES:
        for key in (f"{norm}(emb - {array(q)})", f"{norm}({array(q)} - emb)"):
            for where in ["", "WHERE labels != 3 "]:
                full = rows(writable.query(f"SELECT * {where}ORDER BY {key} {direction}"))
                for k in (1, 7, 64):
                    for ds in (writable, read_only):
                        got = rows(ds.query(f"SELECT * {where}ORDER BY {key} {direction} LIMIT {k}"))
                        assert got == full[:k], (key, where, direction, k)


def test_l2_uses_the_8bit_copy_on_read_only_datasets(grid, monkeypatch):
    writable, read_only, x = grid
    calls: list[int] = []
    original = topk._l2_group
    monkeypatch.setattr(topk, "_l2_group", lambda *a: calls.append(1) or original(*a))
    query = f"SELECT * ORDER BY l2_norm(emb - {array(QUERIES[0])}) LIMIT 5"
    writable.query(query)
    assert calls == []
    first = rows(read_only.query(query))  # a chunk's first scan is exact (topk.QUANTIZE_AFTER)
    got = rows(read_only.query(query))
    assert calls and got == first
    dist = np.linalg.norm(x.astype(np.float64) - QUERIES[0], axis=1)
    assert got == np.argsort(dist, kind="stable")[:5].tolist()


def test_the_first_scan_after_opening_is_exact_and_later_ones_use_the_8bit_copy(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1000, D)).astype(np.float32)
    path = str(tmp_path / "ds")
    make(path, x, monkeypatch)
    calls: list[int] = []
    original = topk._score_group
    monkeypatch.setattr(topk, "_score_group", lambda *a: calls.append(1) or original(*a))
    ro = dl.load(path, read_only=True)
    query = f"SELECT * ORDER BY cosine_similarity(emb, {array(x[5])}) DESC LIMIT 3"
    first = rows(ro.query(query))
    assert calls == [] and first[0] == 5
    assert rows(ro.query(query)) == first and calls


def test_l2_top_k_of_random_vectors_agrees_with_float64(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4000, 32)).astype(np.float32)
    x[::7] *= 1000  # varied norms
    x[5] = x[9]
    path = str(tmp_path / "ds")
    ds = make(path, x, monkeypatch)
    ro = dl.load(path, read_only=True)
    for q in (rng.standard_normal(32), x[9].astype(np.float64) + 1e-3, x[77].astype(np.float64)):
        dist = np.linalg.norm(x.astype(np.float64) - q, axis=1)
        expected = np.argsort(dist, kind="stable")[:25].tolist()
        for k, asc in ((25, "ASC"), (25, "")):
            assert rows(ro.query(f"SELECT * ORDER BY l2_norm(emb - {array(q)}) {asc} LIMIT {k}")) == expected
        assert rows(ds.query(f"SELECT * ORDER BY l2_norm(emb - {array(q)}) LIMIT 25")) == expected
        far = np.argsort(-dist, kind="stable")[:10].tolist()
        assert rows(ro.query(f"SELECT * ORDER BY l2_norm(emb - {array(q)}) DESC LIMIT 10")) == far


def _approximate_cosines(packed, q):
    """The 8-bit scorer of query ``q`` and its approximate cosines of every row of ``packed``."""
    scorer = topk.Scorer(q)
    out = np.empty(len(packed.scale), np.float32)
    scorer.approx(packed, slice(0, len(packed.scale)), out)
    return scorer, (out - scorer.offset) * packed.scale


def _varied_cases(rng):
    """Rows of varied lengths at three scales, three queries each: ``(x, packed, q, scorer, cosine)``."""
    for scale in (1e-6, 1.0, 1e6):
        x = (rng.standard_normal((3000, 48)) * scale).astype(np.float32)
        x[::11] = x[::11] * rng.uniform(0, 30, (len(x[::11]), 1)).astype(np.float32)
        packed = topk.quantize(x)
        assert packed is not None
        for q in (rng.standard_normal(48) * scale, x[4].astype(np.float64), x[4].astype(np.float64) * 1.0001):
            yield (x, packed, q, *_approximate_cosines(packed, q))


def test_l2_bounds_hold(monkeypatch):
    for x, packed, q, scorer, cosine in _varied_cases(np.random.default_rng(8)):
        low, high = topk.l2_bounds(scorer, q, packed.norms, cosine, packed.scale)
        exact = np.sqrt(np.einsum("ij,ij->i", x - q, x - q))  # as the engine computes it (float64)
        assert (low <= exact).all() and (exact <= high).all()
        assert np.median(high - low) < 0.05 * np.median(exact)  # tight enough to prefilter


def test_odd_values(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((700, D)).astype(np.float32)
    x[3] = np.nan
    x[200:264] = np.inf        # a whole chunk scored exactly
    x[400] = 3e38
    x[500] = 1e-30
    path = str(tmp_path / "ds")
    ds = make(path, x, monkeypatch)
    ro = dl.load(path, read_only=True)
    for q in (np.ones(D), np.zeros(D), np.full(D, 1e30)):
        for norm in ("l2_norm", "l1_norm", "linf_norm"):
            for direction in ("ASC", "DESC"):
                order = f"ORDER BY {norm}(emb - {array(q)}) {direction}"
                full = rows(ds.query(f"SELECT * {order}"))
                for d in (ds, ro):
                    assert rows(d.query(f"SELECT * {order} LIMIT 20")) == full[:20], (norm, direction)


def test_integer_tensors_and_threads(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.integers(-50, 50, (3000, D)).astype(np.int16)
    path = str(tmp_path / "ds")
    ds = make(path, x, monkeypatch, dtype="int16")
    ro = dl.load(path, read_only=True)
    from deeplake_nb.query import evaluate
    monkeypatch.setattr(evaluate, "PARALLEL_MIN_BYTES", 1)  # several threads, each a share of the chunks
    q = array(np.arange(D) - 3.5)
    for norm in ("l2_norm", "l1_norm", "linf_norm"):
        full = rows(ds.query(f"SELECT * ORDER BY {norm}(emb - {q})"))
        for d in (ds, ro):
            assert rows(d.query(f"SELECT * ORDER BY {norm}(emb - {q}) LIMIT 30")) == full[:30]


def test_float32_l2_prefilter_bounds_hold():
    rng = np.random.default_rng(9)
    for scale in (1e-20, 1e-3, 1.0, 1e8):
        x = (rng.standard_normal((2000, 64)) * scale).astype(np.float32)
        x[::13] *= np.float32(50)
        for q in (rng.standard_normal(64) * scale, x[7].astype(np.float64), x[7] * (1 + 1e-6)):
            found = topk.Plan(reader=None, query=np.asarray(q, np.float64), parallel_safe=True, kind="l2_norm",
                              descending=False)
            best = topk.Best(len(x))
            assert topk._l2_float32(found, x, np.arange(len(x)), best)
            rows_, score, error, _ = best.arrays()
            exact = found.exact(x)[rows_]  # oriented: minus the distance
            assert len(rows_) == len(x) and (np.abs(exact - score) <= error).all()


def test_the_float32_pass_of_l2_keeps_every_row_its_interval_keeps(monkeypatch):
    rng = np.random.default_rng(9)
    for x, packed, q, scorer, cosine in _varied_cases(rng):
        low, _ = topk.l2_bounds(scorer, q, packed.norms, cosine, packed.scale)
        for reach in np.quantile(low, [0.0, 0.001, 0.01, 0.1, 0.5]):
            near = topk._l2_near(scorer, q, packed.norms, cosine, packed.scale, float(reach))
            assert set(np.flatnonzero(low <= reach)) <= set(near.tolist())  # nothing the interval keeps is lost
    assert topk._l2_near(scorer, q, packed.norms, cosine, packed.scale, float("inf")) is None
    x = rng.standard_normal((3000, 48)).astype(np.float32)  # rows of similar lengths, as embeddings are
    packed, q = topk.quantize(x), rng.standard_normal(48)
    scorer, cosine = _approximate_cosines(packed, q)
    low, _ = topk.l2_bounds(scorer, q, packed.norms, cosine, packed.scale)
    near = topk._l2_near(scorer, q, packed.norms, cosine, packed.scale, float(np.quantile(low, 0.001)))
    assert len(near) < len(x) / 10  # most rows are ruled out without their intervals
