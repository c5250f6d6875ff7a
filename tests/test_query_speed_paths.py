"""The query engine's fast paths give the same answers as its general ones.

- ``ORDER BY cosine_similarity(tensor, ARRAY[...]) LIMIT k``: one chunk-by-chunk scan with a
  running threshold (``query/topk.py``), on read-only datasets over a cached 8-bit copy with
  certified error bounds; checked against the full sort (no LIMIT), which evaluates every row.
- ``ORDER BY <any key> LIMIT k``: batches keep only their own first k rows (``execute.top_k``).
- The device (CuPy) code path, run here with NumPy standing in for CuPy.
- Text read without the cache goes through one Arrow array over the heap.

Chunks are made small (``DENSE_CHUNK_BYTES``) so that a few thousand rows span many chunks.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import types

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import QueryError
from deeplake_nb.format import columns
from deeplake_nb.query import backend, evaluate, execute, scan, topk, values
from deeplake_nb.query.vector import cosine_rows

D = 8


def rows(view) -> list[int]:
    return view.sample_indices.tolist()


def array(q: np.ndarray) -> str:
    return "ARRAY[" + ", ".join(repr(float(x)) for x in np.asarray(q).reshape(-1)) + "]"


def grid_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Halves in [-2, 2]: every dot product and norm is exact in float32, so values tie exactly
    (scaled copies, repeats) and every path computes bit-identical scores."""
    x = (rng.integers(-4, 5, (n, D)) * 0.5).astype(np.float32)
    x[rng.integers(0, n, n // 20)] = 0                   # zero rows: cosine 0
    x[1::97] = x[0]                                      # repeats: exact ties
    x[2::89] = 2 * x[3]                                  # scaled copies: the same cosine
    return x


def make(path: str, vectors: np.ndarray, monkeypatch, labels: np.ndarray | None = None) -> dl.Dataset:
    monkeypatch.setattr(columns, "DENSE_CHUNK_BYTES", 64 * D * 4)  # 64 rows per chunk
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("labels", htype="generic", dtype="int32")
        ds.extend({"emb": vectors, "labels": labels if labels is not None else np.arange(len(vectors)) % 7})
    monkeypatch.undo()
    return ds


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = str(tmp_path_factory.mktemp("speed") / "grid")
    vectors = grid_vectors(np.random.default_rng(5), 3000)
    ds = make(path, vectors, mp)
    return ds, dl.load(path, read_only=True), vectors


QUERIES = [np.array([1, 0, 0.5, 0, -1, 2, 0, 1], np.float32), np.array([0.5] * D, np.float32),
           np.array([-2, 1, 0, 0, 0, 0, 1.5, -0.5], np.float32)]


@pytest.mark.parametrize("k", [1, 7, 64, 300])
@pytest.mark.parametrize("direction", ["DESC", "ASC"])
def test_cosine_top_k_matches_the_full_sort(grid, k, direction):
    writable, read_only, vectors = grid
    for q in QUERIES:
        order = f"ORDER BY cosine_similarity(emb, {array(q)}) {direction}"
        for where in ["", "WHERE labels != 3 "]:
            full = rows(writable.query(f"SELECT * {where}{order}"))
            for ds in (writable, read_only):
                assert rows(ds.query(f"SELECT * {where}{order} LIMIT {k}")) == full[:k], (where, order)
                assert rows(ds.query(f"SELECT * {where}{order} LIMIT {k} OFFSET 3")) == full[3:3 + k]
        flipped = f"SELECT * ORDER BY cosine_similarity({array(q)}, emb) {direction} LIMIT {k}"
        assert rows(read_only.query(flipped)) == rows(writable.query(f"SELECT * {order}"))[:k]


def test_the_fast_scan_is_used_and_quantised_on_read_only_datasets(grid, monkeypatch):
    writable, read_only, _ = grid
    calls = []
    original = topk._score_group
    monkeypatch.setattr(topk, "_score_group", lambda *a: calls.append(1) or original(*a))
    query = f"SELECT * ORDER BY cosine_similarity(emb, {array(QUERIES[0])}) DESC LIMIT 5"
    writable.query(query)
    assert calls == []          # writable: exact scores, chunk by chunk
    read_only.query(query)      # (a first scan of a chunk scores it exactly: topk.QUANTIZE_AFTER)
    read_only.query(query)
    assert calls                # read-only: the 8-bit copy, kept in the cache
    cache = scan.cache_for(read_only)
    assert any(isinstance(key, tuple) and key[-1] == "uint8" for key in cache._items)


def test_cosine_top_k_on_views_with_repeated_and_shuffled_rows(grid):
    writable, read_only, _ = grid
    q = array(QUERIES[2])
    for ds in (writable, read_only):
        view = ds.query("(SELECT * WHERE labels == 1) UNION ALL (SELECT * WHERE labels <= 2 ORDER BY random())",
                        seed=3)
        full = rows(view.query(f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC"))
        assert rows(view.query(f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC LIMIT 40")) == full[:40]


def test_cosine_top_k_with_odd_values(tmp_path, monkeypatch):
    """NaN rows sort last; rows with infinities, huge or tiny values are scored exactly."""
    rng = np.random.default_rng(2)
    vectors = grid_vectors(rng, 1000)
    vectors[10] = np.nan
    vectors[400, 3] = np.nan
    vectors[700, 0] = np.inf
    vectors[200] = vectors[201] * 1e30
    vectors[300] = vectors[301] * 1e-30
    ds = make(str(tmp_path / "odd"), vectors, monkeypatch)
    ro = dl.load(ds.path, read_only=True)
    for q in QUERIES + [np.zeros(D, np.float32)]:
        for direction in ("DESC", "ASC"):
            order = f"ORDER BY cosine_similarity(emb, {array(q)}) {direction}"
            full = rows(ds.query(f"SELECT * {order}"))
            for k in (3, 50, 240):
                assert rows(ro.query(f"SELECT * {order} LIMIT {k}")) == full[:k]
                assert rows(ds.query(f"SELECT * {order} LIMIT {k}")) == full[:k]
    nan_last = rows(ro.query(f"SELECT * WHERE labels < 2 OR emb[3] != emb[3] "
                             f"ORDER BY cosine_similarity(emb, {array(QUERIES[0])}) DESC LIMIT 200"))
    assert len(nan_last) == 200


def test_cosine_top_k_on_random_vectors_agrees_with_float64(tmp_path, monkeypatch):
    """Random data: the float32 answer is the float64 one up to float32 rounding."""
    rng = np.random.default_rng(9)
    vectors = rng.standard_normal((4000, D)).astype(np.float32) * rng.uniform(0.01, 100, (4000, 1)).astype(np.float32)
    ds = make(str(tmp_path / "random"), vectors, monkeypatch)
    ro = dl.load(ds.path, read_only=True)
    q = rng.standard_normal(D).astype(np.float32)
    exact = vectors.astype(np.float64) @ q / np.linalg.norm(vectors.astype(np.float64), axis=1) / np.linalg.norm(q)
    got = rows(ro.query(f"SELECT * ORDER BY cosine_similarity(emb, {array(q)}) DESC LIMIT 25"))
    assert len(got) == 25
    values = exact[got]
    assert (np.diff(values) <= 1e-6).all()
    others = np.delete(exact, got)
    assert others.max() <= values.min() + 1e-6
    assert got == rows(ds.query(f"SELECT * ORDER BY cosine_similarity(emb, {array(q)}) DESC LIMIT 25"))


def test_quantised_scores_stay_within_their_error_bound():
    rng = np.random.default_rng(0)
    for scale in (1e-9, 1e-3, 1.0, 1e6, 1e12):
        for d in (1, 3, 8, 128):
            x = rng.standard_normal((500, d))
            x = ((x + np.sign(x) * 0.05) * scale).astype(np.float32)  # no row near the 1e-15 limit
            x[::7] *= rng.uniform(0.01, 3, (len(x[::7]), 1)).astype(np.float32)
            x[5] = 0
            x[6, 0] = x[6, 0] * 1e3 if d > 1 else x[6, 0]
            packed = topk.quantize(x)
            assert packed is not None and packed.codes.dtype == np.uint8
            for q in (rng.standard_normal(d), rng.uniform(0, 1, d), np.eye(d)[0] * 7):
                q = q.astype(np.float32)
                scorer = topk.Scorer(q)
                approx = scorer.scores(packed, slice(0, len(x)))
                exact = cosine_rows(x, q)
                error = scorer.error(packed.scale)
                assert (np.abs(approx.astype(np.float64) - exact) <= error).all(), (scale, d)
                also = scorer.scores(packed, np.arange(0, len(x), 3))  # BLAS may round these apart
                assert (np.abs(also.astype(np.float64) - exact[::3]) <= error[::3]).all()
    assert topk.quantize(np.array([[1, np.nan]], np.float32)) is None
    assert topk.quantize(np.array([[1e30, 1]], np.float32)) is None    # its norm overflows float32
    assert topk.quantize(np.array([[1e-30, 0]], np.float32)) is None   # too small for the bound
    assert topk.quantize(np.ones((2, 2), np.float64)) is None


def test_threads_and_batches_give_the_same_cosine_top_k(grid, monkeypatch):
    writable, read_only, _ = grid
    query = f"SELECT * ORDER BY cosine_similarity(emb, {array(QUERIES[1])}) ASC LIMIT 33"
    expected = rows(writable.query(query.replace(" LIMIT 33", "")))[:33]
    monkeypatch.setattr(evaluate, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(evaluate, "WORKERS", 3)
    monkeypatch.setattr(topk, "_GROUP_ROWS", 100)
    monkeypatch.setattr(topk, "_COMPACT_ROWS", 1)
    for ds in (writable, read_only):
        assert rows(ds.query(query)) == expected


def test_other_order_keys_keep_k_rows_per_batch(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    n = 3000
    ds = dl.empty(str(tmp_path / "keys"))
    with ds:
        ds.create_tensor("i", htype="generic", dtype="int16")
        ds.create_tensor("u", htype="generic", dtype="uint64")
        ds.create_tensor("f", htype="generic", dtype="float32")
        ds.create_tensor("b", htype="generic", dtype="bool")
        ds.create_tensor("t", htype="text")
        f = rng.integers(-3, 4, n).astype(np.float32)
        f[rng.integers(0, n, 200)] = np.nan
        ds.extend({"i": rng.integers(-5, 5, n).astype(np.int16), "u": rng.integers(0, 2 ** 63, n).astype(np.uint64),
                   "f": f, "b": rng.integers(0, 2, n).astype(bool), "t": [f"w{x}" for x in rng.integers(0, 9, n)]})
    monkeypatch.setattr(evaluate, "BATCH_BYTES", 256)  # many batches
    for key in ["i", "u", "f", "b", "t", "-i", "f * 2", "len(t)", "i DESC", "f DESC", "b DESC", "t DESC"]:
        full = rows(ds.query(f"SELECT * ORDER BY {key}"))
        for k, offset in [(1, 0), (10, 0), (40, 7), (300, 100)]:
            got = rows(ds.query(f"SELECT * ORDER BY {key} LIMIT {k} OFFSET {offset}"))
            assert got == full[offset:offset + k], (key, k)
        assert rows(ds.query(f"SELECT * WHERE i > 0 ORDER BY {key} LIMIT 5")) == \
            rows(ds.query(f"SELECT * WHERE i > 0 ORDER BY {key}"))[:5]
    assert rows(ds.query("SELECT * ORDER BY i LIMIT 0")) == []


def test_order_by_keys_of_two_kinds_is_an_error_with_a_limit(tmp_path, monkeypatch):
    ds = dl.empty(str(tmp_path / "mixed"))
    ds.create_tensor("js", htype="json")
    ds.js.extend([{"k": i} for i in range(300)] + [{"k": f"s{i}"} for i in range(300)])
    monkeypatch.setattr(evaluate, "BATCH_BYTES", 256)
    for query in ["SELECT * ORDER BY js['k']", "SELECT * ORDER BY js['k'] LIMIT 5"]:
        with pytest.raises(QueryError, match="one kind"):
            ds.query(query)


# -- the device path ----------------------------------------------------------------------------
class Recording(types.ModuleType):
    """NumPy under another name, counting what is copied to it: a stand-in for CuPy."""

    def __init__(self) -> None:
        super().__init__("recording_numpy")
        self.copies = 0

    def asarray(self, a, *args, **kwargs):
        self.copies += 1
        return np.asarray(a, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(np, name)


def test_the_device_path_gives_the_numpy_answers(grid):
    writable, read_only, vectors = grid
    q = array(QUERIES[0])
    queries = [f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC LIMIT 20",
               f"SELECT * WHERE cosine_similarity(emb, {q}) > 0.3 AND l2_norm(emb) < 3",
               "SELECT * ORDER BY l1_norm(emb) DESC, linf_norm(emb) LIMIT 50",
               "SELECT * WHERE cosine_similarity(emb, emb * 2) < 0.5"]
    expected = [rows(writable.query(query)) for query in queries]
    fake = Recording()
    with backend.forced(fake):
        assert backend.module_for(1) is fake
        for ds in (writable, read_only):
            assert [rows(ds.query(query)) for query in queries] == expected
    assert fake.copies > 0
    assert backend.module_for(1) is np


def test_the_device_is_chosen_by_size_and_setting(monkeypatch):
    monkeypatch.setattr(backend, "gpu_module", lambda: None)  # as if no GPU were found
    monkeypatch.setattr(backend, "DEVICE", "gpu")
    assert backend.module_for(1 << 40) is np
    fake = object()
    monkeypatch.setattr(backend, "gpu_module", lambda: fake)
    assert backend.module_for(1) is fake
    monkeypatch.setattr(backend, "DEVICE", "auto")
    assert backend.module_for(backend.GPU_MIN_BYTES - 1) is np
    assert backend.module_for(backend.GPU_MIN_BYTES) is fake
    monkeypatch.setattr(backend, "DEVICE", "cpu")
    assert backend.module_for(1 << 40) is np
    assert backend.to_host(np.arange(3)).tolist() == [0, 1, 2]


def test_a_small_query_never_asks_for_a_gpu():
    """Asking CuPy for a device starts the CUDA driver (slow, and unsafe before a loader forks its
    workers), so a query below GPU_MIN_BYTES never asks. Whether CuPy is imported is not ours to say:
    zarr imports it, when installed, for its GPU buffers."""
    code = ("import deeplake_nb as dl, deeplake_nb.cuda as c; ds = dl.empty('mem://x');"
            "ds.create_tensor('e', htype='embedding'); ds.e.extend([[1.0, 2.0]] * 3);"
            "ds.query('SELECT * ORDER BY l2_norm(e) LIMIT 1');"
            "print(c.cupy_device_count.cache_info().currsize, c.usable_cupy.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def _cuda() -> bool:
    return importlib.util.find_spec("cupy") is not None and backend.gpu_module() is not None


@pytest.mark.skipif(not _cuda(), reason="needs CuPy and a CUDA device")
def test_cupy_gives_the_numpy_answers(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((5000, D)).astype(np.float32)
    ds = make(str(tmp_path / "cuda"), vectors, monkeypatch)
    q = array(vectors[17])
    queries = [f"SELECT * ORDER BY cosine_similarity(emb, {q}) DESC LIMIT 20",
               "SELECT * WHERE l2_norm(emb) > 3", "SELECT * ORDER BY l1_norm(emb) LIMIT 10"]
    expected = [rows(ds.query(query)) for query in queries]
    monkeypatch.setattr(backend, "DEVICE", "gpu")
    got = [rows(ds.query(query)) for query in queries]
    assert got[1] == expected[1]
    for a, b in zip(got[::2], expected[::2]):  # float32 sums in another order: allow near-ties
        assert len(set(a) & set(b)) >= len(b) - 2


# -- text without the cache ---------------------------------------------------------------------
def test_text_read_in_bulk_matches_python(tmp_path, monkeypatch):
    """Heaps of many chunks, rows rewritten (their bytes no longer back to back), many batches."""
    rng = np.random.default_rng(3)
    words = ["fox", "box", "a", "", "xx", "red fox", "ox", "boxes and foxes", "é-x", "x"]
    text = [" ".join(rng.choice(words, rng.integers(0, 4))) for _ in range(2000)]
    monkeypatch.setattr(columns, "HEAP_CHUNK_BYTES", 512)
    monkeypatch.setattr(columns, "TABLE_CHUNK_BYTES", 16 * 64)
    ds = dl.empty(str(tmp_path / "text"))
    ds.create_tensor("t", htype="text")
    ds.t.extend(text)
    for i in rng.integers(0, len(text), 50).tolist():
        text[i] = f"rewritten {i} fox"
        ds.t[i] = text[i]
    monkeypatch.undo()
    monkeypatch.setattr(evaluate, "BATCH_BYTES", 700)
    monkeypatch.setattr(scan, "DICTIONARY_RATIO", 0.0)  # read the heap even when the cache is on
    ro = dl.load(ds.path, read_only=True)
    for needle in ["x", "fox", "ox b", "s and f", "é", "rewritten 1", "zzz", ""]:
        expected = [i for i, s in enumerate(text) if needle in s]
        assert rows(ds.query(f"SELECT * WHERE contains(t, '{needle}')")) == expected, needle
        assert rows(ro.query(f"SELECT * WHERE contains(t, '{needle}')")) == expected, needle
    assert rows(ds.query("SELECT * WHERE t == 'fox' OR len(t) > 30")) == \
        [i for i, s in enumerate(text) if s == "fox" or len(s) > 30]
    assert ds.query("SELECT t WHERE contains(t, 'rewritten')").t.data()["value"] == \
        [s for s in text if "rewritten" in s]


@pytest.mark.parametrize("dtype", ["float64", "int64", "uint64", "bool"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_order_with_a_stop_matches_the_full_sort(dtype, descending):
    from deeplake_nb.query.execute import sort_order
    from deeplake_nb.query.values import Key

    rng = np.random.default_rng(3)
    values = rng.integers(0, 7, 400).astype(dtype)         # many ties
    missing = rng.random(400) < 0.1
    if dtype == "float64":
        values[missing] = np.nan
    key = Key(values, missing)
    full = sort_order([key], [descending])
    for stop in (1, 5, 40, 99):                              # below count // 4: the partial path
        assert sort_order([key], [descending], stop).tolist() == full[:stop].tolist()
    everything_missing = Key(values, np.ones(400, bool))
    assert sort_order([everything_missing], [descending], 10).tolist() == list(range(10))


def test_rows_from_many_chunks_are_read_in_parallel_and_in_order(tmp_path, monkeypatch):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3000, D)).astype(np.float32)
    ds = make(str(tmp_path / "ds"), x, monkeypatch)
    ro = dl.load(str(tmp_path / "ds"), read_only=True)
    monkeypatch.setattr(scan, "PARALLEL_READ_BYTES", 1)
    threads: set[str] = set()
    original = scan.ChunkReader.chunk
    monkeypatch.setattr(scan.ChunkReader, "chunk",
                        lambda self, k: threads.add(threading.current_thread().name) or original(self, k))
    for d in (ds, ro):
        view = d.query("SELECT emb WHERE labels == 2")
        assert np.array_equal(view.emb.numpy(), x[np.arange(3000) % 7 == 2])
        picked = rng.permutation(3000)[:500]
        assert np.array_equal(d.emb[picked.tolist()].numpy(), x[picked])
        assert np.array_equal(d.query("SELECT emb WHERE labels >= 0").emb.numpy(), x)
    if evaluate._pool() is not None:
        assert any(name.startswith("deeplake_nb-query") for name in threads)


def test_true_positions_match_flatnonzero_at_every_share_of_true_values():
    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 1000, 65_536, 250_003):
        for share in (0, 0.01, 0.04, 0.05, 0.07, 0.0999, 0.1, 0.2, 1):
            mask = rng.random(n) < share
            got = execute.true_positions(mask)
            assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(mask)), (n, share)
    assert np.array_equal(execute.true_positions(np.array([0, 3, 0, 1])), [1, 3])  # not bool: as flatnonzero


def test_masks_four_to_ten_percent_true_take_numpys_branchless_loop(monkeypatch):
    """NumPy's nonzero branches on every value of masks at most 10% true (a random label filter
    at 7-10% took ~3x as long); those are padded past the share where it stops branching."""
    shares: list[float] = []
    real = np.flatnonzero
    monkeypatch.setattr(np, "flatnonzero", lambda a: shares.append(np.count_nonzero(a) / a.size) or real(a))
    execute.true_positions(np.random.default_rng(1).random(100_000) < 0.07)
    assert shares and shares[-1] > execute.SPARSE_LOOP_MAX
    shares.clear()
    execute.true_positions(np.random.default_rng(1).random(100_000) < 0.01)  # rare: the branching loop is fast
    assert shares and shares[-1] < 0.02


def test_a_filter_of_a_few_percent_of_many_batches_gives_every_row(tmp_path, monkeypatch):
    labels = np.random.default_rng(4).integers(0, 14, 3000).astype(np.int32)  # ~7% per label
    ds = make(str(tmp_path / "ds"), np.zeros((3000, D), np.float32), monkeypatch, labels)
    monkeypatch.setattr(evaluate, "_MAX_BATCH", 256)  # batches with offsets
    for d in (ds, dl.load(str(tmp_path / "ds"), read_only=True)):
        for label in (0, 5, 13):
            assert rows(d.query(f"SELECT * WHERE labels == {label}")) == np.flatnonzero(labels == label).tolist()


def test_integer_constants_are_compared_in_the_columns_own_dtype_when_they_fit_it():
    """NumPy compares an int32 column with an int64 constant by widening every value first (~4x
    slower); a constant the column's dtype holds exactly is compared in that dtype instead."""
    column = values.Dense(np.array([1, 3, 5], np.int32))
    narrowed = values.in_dtype_of(values.Const(np.asarray(3)), column)
    assert isinstance(narrowed, values.Const) and narrowed.value.dtype == np.int32 and narrowed.value == 3
    for dtype, constant in ((np.int32, 2 ** 40), (np.uint8, -1), (np.uint8, 256), (np.float16, 70_001),
                            (np.float32, 2 ** 24 + 1)):  # not held exactly: left as it is
        kept = values.Const(np.asarray(constant))
        assert values.in_dtype_of(kept, values.Dense(np.zeros(2, dtype))) is kept, (dtype, constant)
    real = values.Const(np.asarray(0.1))  # a float constant keeps its precision against float32 numbers
    assert values.in_dtype_of(real, values.Dense(np.zeros(2, np.float32))) is real


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint32, np.int64, np.float16, np.float32])
def test_comparisons_with_integer_constants_match_numpy_at_and_past_the_dtypes_range(tmp_path, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    low, high = (int(info.min), int(info.max)) if info is not None else (-2048, 2048)
    data = np.array([low, low + 1, 0, 1, high - 1, high] * 3, dtype)
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", htype="generic", dtype=np.dtype(dtype).name)
    ds.x.extend(data)
    for constant in {c for c in (low - 1, low, 0, 1, high, high + 1, 1 - 2 ** 63, 2 ** 63 - 1) if abs(c) < 2 ** 63}:
        for op, numpy_op in (("==", np.equal), ("<", np.less), (">=", np.greater_equal), ("!=", np.not_equal)):
            expected = np.flatnonzero(numpy_op(data.astype(np.float64 if info is None else object), constant))
            assert rows(ds.query(f"SELECT * WHERE x {op} {constant}")) == expected.tolist(), (constant, op)
