"""TQL against SQL (DuckDB) semantics: ``%``, long AND/OR chains and deep nesting, LIKE/ILIKE,
IS [NOT] NULL, JSON fields in comparisons and arithmetic, set operations without parentheses,
aggregates with GROUP BY, and wrong queries that must say so (with a caret) instead of
returning rows. Where DuckDB is installed, the same queries run on it and must agree."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deeplake_nb as dl
from deeplake_nb.errors import DeepLakeNBError, QueryError
from deeplake_nb.query import View

N = 60
CLASSES = ["cat", "dog", "bird"]
WORDS = ["red cat", "Red Dog", "", "a_b", "a%b", "blue", "x\\y", "été"]


def make_rows(n: int) -> dict[str, list]:
    rng = np.random.default_rng(7)
    a = rng.integers(-20, 21, n)
    f = np.round(rng.uniform(-5, 5, n), 2)
    metas: list = []
    for i in range(n):
        kind = ["cat", "dog", None][i % 3]
        meta: dict = {} if i % 11 == 5 else {"score": round(float(rng.uniform(0, 1)), 3), "n": int(i % 4)}
        if kind is not None and meta:
            meta["kind"] = kind
        if i % 13 == 4:
            meta["score"] = None
        metas.append(meta)
    return {
        "a": [int(x) for x in a], "f": [float(x) for x in f],
        "labels": [CLASSES[i % 3] if i % 7 else CLASSES[2] for i in range(n)],
        "boxes": [np.full((i % 4, 4), i, np.float32) for i in range(n)],
        "tags": [[CLASSES[(i + k) % 3] for k in range(i % 3)] for i in range(n)],
        "txt": [WORDS[i % len(WORDS)] for i in range(n)],
        "meta": metas,
    }


ROWS = make_rows(N)


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> dl.Dataset:
    path = str(tmp_path_factory.mktemp("fidelity") / "ds")
    ds = dl.empty(path)
    with ds:
        ds.create_tensor("a", htype="generic", dtype="int64")
        ds.create_tensor("f", htype="generic", dtype="float64")
        ds.create_tensor("labels", htype="class_label", class_names=CLASSES)
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("tags", htype="class_label", class_names=CLASSES)
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("meta", htype="json")
        for i in range(N):
            ds.append({k: v[i] for k, v in ROWS.items()})
    return ds


@pytest.fixture(scope="module")
def ro(ds) -> dl.Dataset:
    """The same dataset read-only: cached chunks, repetitive text kept dictionary-encoded."""
    return dl.load(ds.path, read_only=True)


def rows(view: View) -> list[int]:
    return view.sample_indices.tolist()


def where(ds: dl.Dataset, cond: str) -> list[int]:
    return rows(ds.query(f"SELECT * WHERE {cond}"))


def caret(info: pytest.ExceptionInfo, text: str) -> str:
    """The query text under the error's caret."""
    err = info.value
    assert err.position is not None, str(err)
    width = str(err).splitlines()[-1].count("^")
    return text[err.position:err.position + width]


# -- % -------------------------------------------------------------------------------------------
def test_modulo_truncates_like_sql(ds):
    assert ds.query("SELECT -10 % 7 AS m").m.numpy().ravel()[0] == -3
    assert ds.query("SELECT 10 % -7 AS m").m.numpy().ravel()[0] == 3
    assert ds.query("SELECT -7.5 % 2 AS m").m.numpy().ravel()[0] == -1.5
    a = np.asarray(ROWS["a"])
    np.testing.assert_array_equal(ds.query("SELECT a % 7 AS m").m.numpy().ravel(), np.fmod(a, 7))
    np.testing.assert_array_equal(ds.query("SELECT -a % 3 AS m").m.numpy().ravel(), np.fmod(-a, 3))
    f = np.asarray(ROWS["f"])
    np.testing.assert_allclose(ds.query("SELECT f % 1.5 AS m").m.numpy().ravel(), np.fmod(f, 1.5))
    assert where(ds, "a % 2 == -1") == [i for i in range(N) if a[i] < 0 and a[i] % 2]


# -- long chains and deep nesting ----------------------------------------------------------------
def test_long_or_and_chains_run(ds, ro):
    a = np.asarray(ROWS["a"])
    for target in (ds, ro):
        wanted = [i for i in range(N) if a[i] % 5 == 0 or a[i] == 3]
        terms = [f"a == {k}" for k in range(-20, 21) if k % 5 == 0] + ["a == 3"] * 500
        assert where(target, " OR ".join(terms)) == wanted
        mixed = " OR ".join(f"(a == {k} AND f > -100)" for k in range(-1000, 1000))
        assert where(target, mixed) == list(range(N))
        assert where(target, " AND ".join(f"a != {k}" for k in range(1, 600))) == [i for i in range(N) if a[i] < 1]


def test_five_thousand_terms_are_fast(ds):
    start = time.perf_counter()
    assert where(ds, " OR ".join(f"a == {k}" for k in range(5000))) == [i for i in range(N) if ROWS["a"][i] >= 0]
    assert len(where(ds, " AND ".join(f"NOT (a == {k + 100})" for k in range(5000)))) == N
    assert time.perf_counter() - start < 20  # (well under a second on a quiet machine)


@pytest.mark.parametrize("query", [
    "SELECT * WHERE " + "(" * 10_000 + "a > 1" + ")" * 10_000,
    "SELECT * WHERE " + "NOT " * 10_000 + "a > 1",
    "SELECT * WHERE a > " + "- " * 10_000 + "1",
    "SELECT * WHERE " + " + ".join(["a"] * 5000) + " > 0",
    "SELECT * WHERE " + "any(" * 3000 + "a" + ")" * 3000,
    "SELECT * ORDER BY " + " * ".join(["f"] * 3000),
    "(" * 5000 + "SELECT *" + ")" * 5000,
])
def test_deep_queries_are_query_errors(ds, query):
    with pytest.raises(QueryError, match="nests too deeply") as info:
        ds.query(query)
    assert info.value.position is not None
    assert len(str(info.value)) < 1000  # the message quotes the spot, not the whole query


# -- LIKE / ILIKE -------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, ignore_case, expected", [
    ("%cat%", False, ["red cat"]),
    ("red%", False, ["red cat"]),
    ("red%", True, ["red cat", "Red Dog"]),
    ("_ed%", False, ["red cat", "Red Dog"]),
    ("a\\_b", False, ["a_b"]),           # backslash: a literal _
    ("a_b", False, ["a_b", "a%b"]),
    ("a\\%b", False, ["a%b"]),
    ("x\\\\y", False, ["x\\y"]),          # backslash: a literal backslash
    ("%", False, WORDS),
    ("", False, [""]),
    ("_", False, []),
    ("_t_", False, ["été"]),              # _ is one character, not one byte
    ("ÉTÉ", True, ["été"]),
])
def test_like_and_ilike_on_text(ds, ro, pattern, ignore_case, expected):
    op = "ILIKE" if ignore_case else "LIKE"
    literal = pattern.replace("'", "''")
    want = [i for i in range(N) if ROWS["txt"][i] in expected]
    for target in (ds, ro):
        assert where(target, f"txt {op} '{literal}'") == want
        assert where(target, f"txt NOT {op} '{literal}'") == [i for i in range(N) if i not in want]


def test_like_on_json_class_labels_and_constants(ds):
    assert where(ds, "meta['kind'] LIKE 'c%'") == [i for i in range(N) if ROWS["meta"][i].get("kind") == "cat"]
    assert where(ds, "meta['kind'] ILIKE 'DO_'") == [i for i in range(N) if ROWS["meta"][i].get("kind") == "dog"]
    assert where(ds, "labels LIKE 'b%'") == [i for i in range(N) if ROWS["labels"][i] == "bird"]
    assert where(ds, "labels NOT LIKE '%o%'") == [i for i in range(N) if ROWS["labels"][i] != "dog"]
    assert len(where(ds, "'abc' LIKE 'a%'")) == N
    with pytest.raises(QueryError, match="LIKE needs text") as info:
        ds.query("SELECT * WHERE a LIKE '1%'")
    assert caret(info, "SELECT * WHERE a LIKE '1%'") == "a LIKE '1%'"
    with pytest.raises(QueryError, match="text pattern") as info:
        ds.query("SELECT * WHERE txt LIKE txt")
    assert info.value.column == 25


# -- IS NULL -------------------------------------------------------------------------------------
def test_is_null_means_empty(ds, ro):
    for target in (ds, ro):
        assert where(target, "txt IS NULL") == [i for i in range(N) if ROWS["txt"][i] == ""]
        assert where(target, "txt IS NOT NULL") == [i for i in range(N) if ROWS["txt"][i] != ""]
        assert where(target, "boxes IS NULL") == [i for i in range(N) if i % 4 == 0]  # (0, 4): no boxes
        assert where(target, "tags IS NULL") == [i for i in range(N) if i % 3 == 0]   # no labels
        assert where(target, "meta IS NULL") == [i for i in range(N) if not ROWS["meta"][i]]  # {}
        assert where(target, "meta['kind'] IS NULL") == [i for i in range(N) if ROWS["meta"][i].get("kind") is None]
        assert where(target, "meta['score'] IS NULL") == [i for i in range(N) if ROWS["meta"][i].get("score") is None]
        assert where(target, "a IS NULL") == [] and len(where(target, "a IS NOT NULL")) == N
        assert where(target, "boxes[0] IS NULL") == where(target, "boxes IS NULL")  # past the end: empty
    assert where(ds, "(0.0 / 0.0) IS NULL") == []  # NaN is a value, not null


# -- JSON fields ---------------------------------------------------------------------------------
def test_json_fields_compare_with_text_and_compute(ds):
    metas = ROWS["meta"]
    assert where(ds, "meta['kind'] == 'cat'") == [i for i in range(N) if metas[i].get("kind") == "cat"]
    assert where(ds, "'dog' = meta['kind']") == [i for i in range(N) if metas[i].get("kind") == "dog"]
    assert where(ds, "meta['kind'] != 'cat'") == [i for i in range(N) if metas[i].get("kind") not in ("cat",)]
    assert where(ds, "meta['kind'] IN ('cat', 'dog')") == [i for i in range(N) if metas[i].get("kind")]
    score = [m.get("score") for m in metas]
    assert where(ds, "meta['score'] * 2 > 1") == [i for i in range(N) if score[i] is not None and score[i] * 2 > 1]
    assert where(ds, "meta['n'] + a > 3") == [i for i in range(N)
                                              if "n" in metas[i] and metas[i]["n"] + ROWS["a"][i] > 3]
    assert where(ds, "-meta['n'] < -2") == [i for i in range(N) if metas[i].get("n", 0) > 2]
    assert where(ds, "abs(meta['n'] - 2) == 1") == [i for i in range(N) if metas[i].get("n") in (1, 3)]
    ordered = rows(ds.query("SELECT * WHERE meta['score'] > 0.5 ORDER BY meta['score'] * -1"))
    assert ordered == sorted([i for i in range(N) if (score[i] or 0) > 0.5], key=lambda i: -score[i])
    with pytest.raises(QueryError, match="needs numbers; row 0 holds text") as info:
        ds.query("SELECT * WHERE meta['kind'] * 2 > 1")
    assert caret(info, "SELECT * WHERE meta['kind'] * 2 > 1") == "meta['kind'] * 2"


# -- set operations ------------------------------------------------------------------------------
def test_set_operations_without_parentheses(ds):
    a = ROWS["a"]
    low = [i for i in range(N) if a[i] < -10]
    high = [i for i in range(N) if a[i] > 10]
    assert rows(ds.query("SELECT * WHERE a < -10 UNION SELECT * WHERE a > 10")) == low + high
    assert rows(ds.query("SELECT * WHERE a < 0 INTERSECT SELECT * WHERE a > -10")) == [
        i for i in range(N) if -10 < a[i] < 0]
    assert rows(ds.query("SELECT * WHERE a < 0 EXCEPT SELECT * WHERE a > -10")) == [i for i in range(N) if a[i] <= -10]
    # ORDER BY / LIMIT after the last query apply to the whole result, as in SQL
    both = ds.query("SELECT * WHERE a < -10 UNION SELECT * WHERE a > 10 ORDER BY a DESC LIMIT 3")
    assert rows(both) == sorted(low + high, key=lambda i: -a[i])[:3]
    mixed = ds.query("(SELECT * WHERE a < -10 LIMIT 2) UNION ALL SELECT * WHERE a < -10 LIMIT 4")
    assert rows(mixed) == (low[:2] + low)[:4]
    assert rows(ds.query("SELECT * WHERE a > 10 UNION (SELECT * WHERE a < -10)")) == high + low
    text = "SELECT * WHERE a < 0 ORDER BY a LIMIT 2 UNION SELECT * WHERE a > 0"
    with pytest.raises(QueryError, match="parentheses") as info:
        ds.query(text)
    assert caret(info, text) == "ORDER"


# -- aggregates ----------------------------------------------------------------------------------
def reference_groups(key: list) -> dict:
    groups: dict = {}
    for i, k in enumerate(key):
        groups.setdefault(k, []).append(i)
    return groups


def test_group_by_count_is_a_result_table(ds, ro):
    for target in (ds, ro):
        v = target.query("SELECT labels, COUNT(*) AS n GROUP BY labels")
        groups = reference_groups(ROWS["labels"])
        assert not v.is_grouped and len(v) == len(groups)
        assert list(v.tensors) == ["labels", "n"]
        assert rows(v) == [g[0] for g in groups.values()]  # each row: its group's first sample
        assert v.n.numpy().tolist() == [len(g) for g in groups.values()]
        assert v["n"].numpy().dtype == np.int64
        assert [CLASSES[int(x)] for x in v.labels.numpy().ravel()] == list(groups)
        table = v.to_arrow()
        assert table.column("labels").to_pylist() == list(groups)
        assert table.column("n").to_pylist() == [len(g) for g in groups.values()]
        assert v[1].n.numpy().tolist() == len(list(groups.values())[1])
        assert v[1:].n.numpy().tolist() == [len(g) for g in groups.values()][1:]
        assert v.query("SELECT * WHERE n > 20").n.numpy().tolist() == [len(g) for g in groups.values() if len(g) > 20]


def test_aggregates_match_a_reference(ds, ro):
    a, f, metas = ROWS["a"], ROWS["f"], ROWS["meta"]
    parity = [int(np.fmod(x, 2)) for x in a]  # TQL's a % 2: -1, 0 or 1
    for target in (ds, ro):
        v = target.query("SELECT txt, COUNT(*) AS n, SUM(a) AS s, AVG(f) AS m, MIN(a) AS lo, MAX(f) AS hi, "
                         "COUNT(meta['kind']) AS kinds, SUM(boxes) AS box_sum, MAX(txt) AS top GROUP BY txt")
        groups = reference_groups(ROWS["txt"])
        table = v.to_arrow()
        assert table.column("txt").to_pylist() == list(groups)
        assert table.column("n").to_pylist() == [len(g) for g in groups.values()]
        assert table.column("s").to_pylist() == [sum(a[i] for i in g) for g in groups.values()]
        np.testing.assert_allclose(table.column("m").to_numpy(), [np.mean([f[i] for i in g]) for g in groups.values()])
        assert table.column("lo").to_pylist() == [min(a[i] for i in g) for g in groups.values()]
        assert table.column("hi").to_pylist() == [max(f[i] for i in g) for g in groups.values()]
        assert table.column("kinds").to_pylist() == [sum(metas[i].get("kind") is not None for i in g)
                                                     for g in groups.values()]
        assert table.column("box_sum").to_pylist() == [float(sum(ROWS["boxes"][i].sum() for i in g))
                                                       for g in groups.values()]
        assert table.column("top").to_pylist() == list(groups)
        two = target.query("SELECT a % 2 AS p, labels, COUNT(*) AS n, AVG(meta['score']) AS score "
                           "GROUP BY a % 2, labels ORDER BY n DESC, p LIMIT 4")
        keys = list(zip(parity, ROWS["labels"]))
        ref = reference_groups(keys)
        order = sorted(ref, key=lambda k: (-len(ref[k]), k[0]))[:4]
        assert two.n.numpy().tolist() == [len(ref[k]) for k in order]
        scores = [[metas[i].get("score") for i in ref[k] if metas[i].get("score") is not None] for k in order]
        np.testing.assert_allclose(two.score.numpy(), [np.mean(s) if s else np.nan for s in scores])


def test_aggregates_over_many_batches(tmp_path, monkeypatch):
    """Rows read in many batches (small chunks and batches, on the thread pool) aggregate the same."""
    from deeplake_nb.format import columns
    from deeplake_nb.query import evaluate

    rng = np.random.default_rng(3)
    count = 3000
    key = rng.integers(0, 40, count)
    x = rng.integers(-1000, 1000, count)
    words = [f"w{k:03d}" for k in rng.integers(0, 500, count)]
    monkeypatch.setattr(columns, "DENSE_CHUNK_BYTES", 64 * 8)
    ds = dl.empty(str(tmp_path / "many"))
    with ds:
        ds.create_tensor("key", htype="generic", dtype="int64")
        ds.create_tensor("x", htype="generic", dtype="int64")
        ds.create_tensor("word", htype="text")
        ds.extend({"key": key, "x": x, "word": words})
    monkeypatch.setattr(evaluate, "BATCH_BYTES", 64 * 16)
    monkeypatch.setattr(evaluate, "PARALLEL_MIN_ROWS", 100)
    groups = reference_groups(key.tolist())
    for target in (ds, dl.load(ds.path, read_only=True)):
        table = target.query("SELECT key, COUNT(*) AS n, SUM(x) AS s, MIN(x) AS lo, MAX(word) AS hi, "
                             "AVG(x) AS m, MIN(word) AS first GROUP BY key").to_arrow()
        assert table.column("key").to_pylist() == list(groups)
        assert table.column("n").to_pylist() == [len(g) for g in groups.values()]
        assert table.column("s").to_pylist() == [int(x[g].sum()) for g in groups.values()]
        assert table.column("lo").to_pylist() == [int(x[g].min()) for g in groups.values()]
        assert table.column("hi").to_pylist() == [max(words[i] for i in g) for g in groups.values()]
        assert table.column("first").to_pylist() == [min(words[i] for i in g) for g in groups.values()]
        np.testing.assert_allclose(table.column("m").to_numpy(), [x[g].mean() for g in groups.values()])


def test_global_aggregates_and_empty_input(ds):
    v = ds.query("SELECT COUNT(*) AS n, SUM(a) AS s, MIN(txt) AS lo, AVG(f) * 2 AS twice WHERE a > 0")
    kept = [i for i in range(N) if ROWS["a"][i] > 0]
    assert len(v) == 1 and rows(v) == [kept[0]]
    assert v.n.numpy().tolist() == [len(kept)] and v.s.numpy().tolist() == [sum(ROWS["a"][i] for i in kept)]
    assert v.lo.data()["value"] == [min(ROWS["txt"][i] for i in kept if ROWS["txt"][i])]
    np.testing.assert_allclose(v.twice.numpy(), [2 * np.mean([ROWS["f"][i] for i in kept])])
    none = ds.query("SELECT COUNT(*) AS n, SUM(a) AS s, MAX(f) AS hi WHERE a > 1000")
    assert len(none) == 1 and rows(none) == [-1]  # one row that stands for no sample
    assert none.n.numpy().tolist() == [0] and none.s.numpy().tolist() == [0] and np.isnan(none.hi.numpy()[0])
    assert len(ds.query("SELECT labels, COUNT(*) GROUP BY labels WHERE a > 1000")) == 0


def test_group_by_without_aggregates_still_gives_groups(ds):
    v = ds.query("SELECT * GROUP BY labels ORDER BY COUNT(*) DESC")
    sizes = sorted((len(g) for g in reference_groups(ROWS["labels"]).values()), reverse=True)
    assert v.is_grouped and [len(g) for g in v.groups] == sizes
    counted = ds.query("SELECT * GROUP BY labels ORDER BY COUNT(meta['kind']) DESC LIMIT 1")
    best = max(reference_groups(ROWS["labels"]).values(),
               key=lambda g: sum(ROWS["meta"][i].get("kind") is not None for i in g))
    assert counted.groups[0].tolist() == best


@pytest.mark.parametrize("query, spot, message", [
    ("SELECT labels, a, COUNT(*) GROUP BY labels", "a", "neither in GROUP BY nor aggregated"),
    ("SELECT labels, COUNT(*) GROUP BY labels ORDER BY a", "a", "neither in GROUP BY nor aggregated"),
    ("SELECT *, COUNT(*) GROUP BY labels", "*", "SELECT \\* cannot be combined"),
    ("SELECT * WHERE COUNT(*) > 1", "COUNT(*)", "counts the rows of a group"),
    ("SELECT labels, SUM(txt) GROUP BY labels", "SUM(txt)", "needs numbers"),
    ("SELECT COUNT() AS n", ")", "COUNT takes \\*"),
])
def test_aggregate_mistakes(ds, query, spot, message):
    with pytest.raises(QueryError, match=message) as info:
        ds.query(query)
    assert caret(info, query) == spot


# -- wrong queries must say so -------------------------------------------------------------------
@pytest.mark.parametrize("query, spot, message", [
    ("SELECT * WHERE any(boxes[:, 9] > 0)", "boxes[:, 9]", "dimension 1 of boxes has length 4"),
    ("SELECT * WHERE boxes[0, -5] > 0", "boxes[0, -5]", "out of range"),
    ("SELECT * WHERE shape(boxes)[5] > 1", "shape(boxes)[5]", "dimension 0 of shape\\(boxes\\) has length 2"),
    ("SELECT * ORDER BY a[1]", "a[1]", "out of range"),
    ("SELECT * WHERE a IN ()", "()", "IN needs at least one value"),
    ("SELECT * WHERE labels NOT IN []", "[]", "IN needs at least one value"),
    ('SELECT * FROM "other" WHERE a > 1', '"other"', "FROM names 'other'"),
    ("SELECT * FROM other_ds", "other_ds", "FROM names"),
])
def test_wrong_queries_are_errors_with_a_caret(ds, query, spot, message):
    with pytest.raises(QueryError, match=message) as info:
        ds.query(query)
    assert caret(info, query) == spot


def test_indices_within_samples_still_work(ds, ro):
    for target in (ds, ro):
        # boxes vary in number: a box past a sample's last one is empty, not an error
        assert where(target, "boxes[2, 0] >= 0") == [i for i in range(N) if i % 4 == 3]
        assert where(target, "tags[1] == 'dog'") == [i for i in range(N) if i % 3 == 2 and ROWS["tags"][i][1] == "dog"]
        assert where(target, "shape(boxes)[1] == 4") == list(range(N))


def test_from_may_name_the_dataset_itself(ds):
    name = ds.path.rstrip("/").rsplit("/", 1)[-1]
    for source in (f'"{ds.path}"', name, f"'{ds.path}/'"):
        assert rows(ds.query(f"SELECT * FROM {source} WHERE a > 15")) == [i for i in range(N) if ROWS["a"][i] > 15]


# -- only QueryError escapes ----------------------------------------------------------------------
TOKENS = st.sampled_from([
    "SELECT", "*", "WHERE", "GROUP BY", "ORDER BY", "LIMIT 2", "UNION", "INTERSECT", "EXCEPT", "AND", "OR", "NOT",
    "LIKE", "ILIKE", "IS", "NULL", "IN", "(", ")", "[", "]", ",", "%", "'c%'", "'a\\_b'", "a", "f", "txt", "labels",
    "boxes", "meta['kind']", "meta['score']", "COUNT(*)", "COUNT(", "SUM(", "AVG(", "MIN(", "MAX(", "AS n", "n",
    "1", "-3", "0", "FROM", '"x"', "shape(boxes)", ":", "9"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=14))
def test_fuzz_new_syntax_only_raises_query_error(ds, tokens):
    query = " ".join(tokens) if tokens[:1] == ["SELECT"] else "SELECT * WHERE " + " ".join(tokens)
    try:
        view = ds.query(query, seed=0)
    except QueryError:
        return
    for column in view.tensors.values():
        try:
            column.numpy(aslist=True)
        except QueryError:
            pass
        except DeepLakeNBError as exc:  # reading a column may say it cannot stack shapes
            assert "shapes" in str(exc)


# -- against DuckDB, where it is installed --------------------------------------------------------
def test_agrees_with_duckdb(ds):
    duckdb = pytest.importorskip("duckdb")
    table = pa.table({"i": pa.array(range(N), pa.int64()), "a": pa.array(ROWS["a"], pa.int64()),
                      "f": pa.array(ROWS["f"]), "txt": pa.array(ROWS["txt"]), "labels": pa.array(ROWS["labels"])})
    con = duckdb.connect()
    con.register("t", table)

    def duck(sql: str) -> list:
        return con.sql(sql).fetchall()

    assert ds.query("SELECT a % 7 AS m").m.numpy().ravel().tolist() == [r[0] for r in duck("SELECT a % 7 FROM t")]
    np.testing.assert_allclose(ds.query("SELECT f % 1.5 AS m").m.numpy().ravel(),
                               [r[0] for r in duck("SELECT f % 1.5 FROM t")])
    for pattern in ["%cat%", "a\\_b", "_ed%", "%", "a_b"]:
        literal = pattern.replace("'", "''")
        expected = [r[0] for r in duck(f"SELECT i FROM t WHERE txt LIKE '{literal}' ESCAPE '\\' ORDER BY i")]
        assert where(ds, f"txt LIKE '{literal}'") == expected, pattern
        expected = [r[0] for r in duck(f"SELECT i FROM t WHERE txt ILIKE '{literal}' ESCAPE '\\' ORDER BY i")]
        assert where(ds, f"txt ILIKE '{literal}'") == expected, pattern
    ours = ds.query("SELECT labels, COUNT(*) AS n, SUM(a) AS s, AVG(f) AS m, MIN(a) AS lo, MAX(txt) AS hi "
                    "GROUP BY labels").to_arrow()
    got = {r["labels"]: (r["n"], r["s"], round(r["m"], 9), r["lo"], r["hi"]) for r in ours.to_pylist()}
    want = {r[0]: (r[1], r[2], round(r[3], 9), r[4], r[5]) for r in
            duck("SELECT labels, count(*), sum(a), avg(f), min(a), max(txt) FROM t GROUP BY labels")}
    assert got == want
    union = ds.query("SELECT * WHERE a < -10 UNION SELECT * WHERE a > 10 ORDER BY a DESC, sample_index LIMIT 5")
    expected = [r[0] for r in duck("SELECT i FROM t WHERE a < -10 UNION SELECT i FROM t WHERE a > 10")]
    expected = sorted(expected, key=lambda i: (-ROWS["a"][i], i))[:5]
    assert rows(union) == expected
