"""Query benchmark: deeplake_nb TQL side by side with DuckDB (its own file format, and the same
data as an in-memory Arrow table) and, when its virtualenv exists, Deep Lake 4.x.

    python benchmarks/bench_query.py [--n 1000000] [--repeats 5] [--queries abcde] [--results benchmarks/RESULTS.md]

Data: ``n`` rows of an int32 label (0..9), a 128-d float32 embedding and a short caption
("a red fox near the park"), generated from ``--seed``. The same rows go into a deeplake_nb
dataset, a DuckDB database file and an Arrow table (plus a Deep Lake 4 dataset); they are built
once under ``--data-dir`` and reused.

Queries (each returns row indices or the requested values, and all systems must agree):
  (a) WHERE labels == 3
  (b) the same, then fetch the matching embeddings as one (m, 128) float32 array
  (c) ORDER BY cosine_similarity(emb, ARRAY[...]) DESC LIMIT 100 (brute force; Deep Lake 4 over
      an un-indexed array column, its indexed Embedding column reported in the note)
  (d) WHERE contains(caption, 'x')
  (e) SELECT labels, COUNT(*) AS n GROUP BY labels: the groups and their counts, read back
      (our View's ``labels`` and ``n`` columns; DuckDB's result as an Arrow table)

Every query runs once to warm up, then ``--repeats`` times per system, interleaved so that a
noisy machine slows every system alike; the table shows medians and the ratio to DuckDB.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DIM = 128
ADJECTIVES = ["red", "green", "blue", "small", "large", "old", "new", "bright", "dark", "wooden"]
NOUNS = ["cat", "dog", "car", "tree", "house", "boat", "fox", "bird", "chair", "lamp"]
PLACES = ["park", "street", "table", "beach", "road", "field", "box", "room", "garden", "lake"]
PREPOSITIONS = ["in the", "near the", "on the", "by the"]
READING = ("Reading the table: the queries are warm queries for every system (DuckDB keeps its pages in its "
           "buffer pool too). Without the cache, deeplake_nb reads every chunk from storage on every query: "
           "text is stored as a byte heap plus a 16-byte index entry per row and is read and searched in full, "
           "while DuckDB's file keeps these strings dictionary- and FSST-compressed (DICT_FSST), so (d) is then "
           "several times slower. "
           "On a shared 2-core machine single timings vary by tens of percent; the ratios of interleaved runs "
           "are steadier.")
QUERIES = {
    "a": "WHERE labels == 3",
    "b": "WHERE labels == 3, fetch emb",
    "c": "ORDER BY cosine_similarity(emb, q) DESC LIMIT 100",
    "d": "WHERE contains(caption, 'x')",
    "e": "GROUP BY labels, COUNT(*)",
}


# -- data -------------------------------------------------------------------------------------
def generate(n: int, seed: int, start: int, stop: int) -> dict[str, Any]:
    """Rows [start, stop) of the benchmark data (each block has its own deterministic stream)."""
    rng = np.random.default_rng([seed, start])
    m = stop - start
    words = rng.integers(0, 10, (m, 3))
    preps = rng.integers(0, len(PREPOSITIONS), m)
    captions = [f"a {ADJECTIVES[a]} {NOUNS[b]} {PREPOSITIONS[p]} {PLACES[c]}"
                for (a, b, c), p in zip(words.tolist(), preps.tolist())]
    return {"labels": rng.integers(0, 10, m).astype(np.int32),
            "emb": rng.standard_normal((m, DIM)).astype(np.float32),
            "caption": captions}


def blocks(n: int, size: int = 100_000) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def query_vector(seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 7]).standard_normal(DIM).astype(np.float32)


def arrow_table(n: int, seed: int) -> Any:
    import pyarrow as pa

    parts = []
    for a, b in blocks(n):
        rows = generate(n, seed, a, b)
        parts.append(pa.table({
            "idx": pa.array(np.arange(a, b, dtype=np.int64)),
            "labels": pa.array(rows["labels"]),
            "emb": pa.FixedSizeListArray.from_arrays(pa.array(rows["emb"].reshape(-1)), DIM),
            "caption": pa.array(rows["caption"], pa.string()),
        }))
    return pa.concat_tables(parts).combine_chunks()


def build(data_dir: str, n: int, seed: int, table: Any, peers_python: str | None) -> dict[str, str]:
    import duckdb

    import deeplake_nb as dl

    paths = {"nb": os.path.join(data_dir, "deeplake_nb"), "duck": os.path.join(data_dir, "duckdb.db"),
             "dl4": os.path.join(data_dir, "deeplake4")}
    marker = os.path.join(data_dir, "built.json")
    if os.path.exists(marker):
        with open(marker) as f:
            done = json.load(f)
    else:
        done = {}
    if done.get("nb"):
        try:
            done["nb"] = len(dl.load(paths["nb"], read_only=True)) == n
        except dl.errors.DeepLakeNBError:  # written by an older format: build it again
            done["nb"] = False
    if not done.get("nb"):
        print(f"building deeplake_nb dataset ({n:,} rows) ...", flush=True)
        shutil.rmtree(paths["nb"], ignore_errors=True)
        ds = dl.empty(paths["nb"])
        with ds:
            ds.create_tensor("labels", htype="generic", dtype="int32")
            ds.create_tensor("emb", htype="embedding")
            ds.create_tensor("caption", htype="text")
            for a, b in blocks(n):
                ds.extend(generate(n, seed, a, b))
        done["nb"] = True
    if not done.get("duck"):
        print("building DuckDB database ...", flush=True)
        if os.path.exists(paths["duck"]):
            os.remove(paths["duck"])
        con = duckdb.connect(paths["duck"])
        con.register("src", table)
        con.execute("CREATE TABLE t AS SELECT idx, labels, emb::FLOAT[128] AS emb, caption FROM src")
        con.execute("CHECKPOINT")
        con.close()
        done["duck"] = True
    if peers_python and not done.get("dl4_flat"):  # "dl4_flat": built with the un-indexed emb_flat column
        print("building Deep Lake 4 dataset ...", flush=True)
        peer(peers_python, "build", paths["dl4"], str(n), str(seed))
        done["dl4_flat"] = True
    with open(marker, "w") as f:
        json.dump(done, f)
    return paths


# -- Deep Lake 4 (peer virtualenv, one subprocess) ---------------------------------------------
PEER_CODE = r'''
import json, sys, time, shutil
import numpy as np
sys.path.insert(0, sys.argv[1])
import bench_query as b
import deeplake
cmd, path = sys.argv[2], sys.argv[3]
if cmd == "build":
    n, seed = int(sys.argv[4]), int(sys.argv[5])
    shutil.rmtree(path, ignore_errors=True)
    ds = deeplake.create(path)
    ds.add_column("labels", deeplake.types.Int32())
    ds.add_column("emb", deeplake.types.Embedding(b.DIM))             # gets its default (clustered) index
    ds.add_column("caption", deeplake.types.Text())
    ds.add_column("emb_flat", deeplake.types.Array("float32", shape=[b.DIM]))  # no index: brute force
    for a, z in b.blocks(n):
        rows = b.generate(n, seed, a, z)
        rows["emb_flat"] = rows["emb"]
        ds.append(rows)
    ds.commit()
    print(json.dumps({"version": deeplake.__version__}))
else:
    repeats, seed = int(sys.argv[4]), int(sys.argv[5])
    ds = deeplake.open_read_only(path)
    q = b.query_vector(seed)
    array = "ARRAY[" + ",".join(f"{x:.8g}" for x in q) + "]"
    runs = {
        "a": lambda: len(ds.query("SELECT * WHERE labels == 3")),
        "b": lambda: np.asarray(ds.query("SELECT emb WHERE labels == 3")["emb"][:]).shape,
        "c": lambda: len(ds.query(f"SELECT * ORDER BY COSINE_SIMILARITY(emb_flat, {array}) DESC LIMIT 100")),
        "c_indexed": lambda: len(ds.query(f"SELECT * ORDER BY COSINE_SIMILARITY(emb, {array}) DESC LIMIT 100")),
        "d": lambda: len(ds.query("SELECT * WHERE contains(caption, 'x')")),
        "e": lambda: len(ds.query("SELECT labels, COUNT(*) AS n GROUP BY labels")),
    }
    out = {"version": deeplake.__version__}
    for key, run in runs.items():
        try:
            run()
        except Exception:  # a query this version does not run: no timing
            out[key] = None
            continue
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
        out[key] = times
    print(json.dumps(out))
'''


def peer(python: str, *args: str) -> dict:
    done = subprocess.run([python, "-c", PEER_CODE, HERE, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def peers_python_if_usable(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    probe = subprocess.run([path, "-c", "import deeplake; print(deeplake.__version__)"], capture_output=True, text=True)
    return path if probe.returncode == 0 else None


# -- the systems ------------------------------------------------------------------------------
def ours(path: str, seed: int, cache: bool) -> dict[str, Callable[[], Any]]:
    """The four queries on deeplake_nb; ``cache=False`` reads storage every time."""
    import deeplake_nb as dl
    from deeplake_nb.query import scan

    ds = dl.load(path, read_only=True)
    array = "ARRAY[" + ", ".join(f"{x:.8g}" for x in query_vector(seed)) + "]"
    budget = scan.CACHE_BYTES

    def run(query: Callable[[], Any]) -> Callable[[], Any]:
        def timed() -> Any:
            scan.CACHE_BYTES = budget if cache else 0
            try:
                return query()
            finally:
                scan.CACHE_BYTES = budget
        return timed
    return {
        "a": run(lambda: ds.query("SELECT * WHERE labels == 3").sample_indices),
        "b": run(lambda: ds.query("SELECT emb WHERE labels == 3").emb.numpy()),
        "c": run(lambda: ds.query(f"SELECT * ORDER BY cosine_similarity(emb, {array}) DESC LIMIT 100")
                 .sample_indices),
        "d": run(lambda: ds.query("SELECT * WHERE contains(caption, 'x')").sample_indices),
        "e": run(lambda: group_counts(ds.query("SELECT labels, COUNT(*) AS n GROUP BY labels"))),
    }


def group_counts(view: Any) -> dict[int, int]:
    """{label: count} of an aggregate query's result, read back from its columns."""
    return dict(zip(view.labels.numpy().reshape(-1).tolist(), view.n.numpy().tolist()))


def duck(con: Any, source: str, seed: int) -> dict[str, Callable[[], Any]]:
    vector = "[" + ", ".join(f"{x:.8g}" for x in query_vector(seed)) + f"]::FLOAT[{DIM}]"

    def ids(sql: str) -> np.ndarray:
        return con.sql(sql).to_arrow_table().column(0).to_numpy()

    def counts(sql: str) -> dict[int, int]:
        table = con.sql(sql).to_arrow_table()
        return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist()))

    def embeddings(sql: str) -> np.ndarray:
        column = con.sql(sql).to_arrow_table().column(0).combine_chunks()
        return column.flatten().to_numpy().reshape(-1, DIM)

    return {
        "a": lambda: ids(f"SELECT idx FROM {source} WHERE labels = 3"),
        "b": lambda: embeddings(f"SELECT emb FROM {source} WHERE labels = 3"),
        "c": lambda: ids(f"SELECT idx FROM {source} ORDER BY array_cosine_similarity(emb::FLOAT[{DIM}], {vector}) "
                         "DESC LIMIT 100"),
        "d": lambda: ids(f"SELECT idx FROM {source} WHERE contains(caption, 'x')"),
        "e": lambda: counts(f"SELECT labels, count(*) AS n FROM {source} GROUP BY labels"),
    }


def check(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every system must return the same rows (top-100: same ids, allowing float ties) and the
    same group counts."""
    problems = []
    base = results["duckdb file"]
    for system, got in results.items():
        for key in ("a", "d"):
            if key in got and not np.array_equal(np.sort(np.asarray(got[key])), np.sort(np.asarray(base[key]))):
                problems.append(f"{system} ({key}) differs from DuckDB")
        if "b" in got and (got["b"].shape != base["b"].shape
                           or not np.allclose(np.sort(got["b"].sum(1)), np.sort(base["b"].sum(1)))):
            problems.append(f"{system} (b) differs from DuckDB")
        if "c" in got:
            overlap = len(set(np.asarray(got["c"]).tolist()) & set(np.asarray(base["c"]).tolist()))
            if overlap < 98:
                problems.append(f"{system} (c) shares only {overlap} of 100 rows with DuckDB")
        if "e" in got and got["e"] != base["e"]:
            problems.append(f"{system} (e) differs from DuckDB")
    return problems


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        model = platform.processor()
    load = f", load average {os.getloadavg()[0]:.1f} at the end (shared machine)" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}{load}"


def render(n: int, medians: dict[str, dict[str, float]], versions: dict[str, str], note: str,
           queries: str = "".join(QUERIES)) -> str:
    systems = list(medians)
    dl4 = "deeplake 4" in medians
    head = ["query"] + [f"{s} (ms)" for s in systems] + ["ours / DuckDB file", "ours / DuckDB Arrow",
                                                          "no cache / DuckDB file"] + (["ours / Deep Lake 4"] if dl4 else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, title in QUERIES.items():
        if key not in queries:
            continue
        ours_t = medians["deeplake_nb"][key]
        cells = [f"({key}) {title}"] + [f"{medians[s][key] * 1e3:,.1f}" for s in systems]
        cells += [f"{ours_t / medians['duckdb file'][key]:.2f}x", f"{ours_t / medians['duckdb arrow'][key]:.2f}x",
                  f"{medians['deeplake_nb, no cache'][key] / medians['duckdb file'][key]:.2f}x"]
        if dl4:
            theirs = medians["deeplake 4"].get(key)
            cells.append(f"{ours_t / theirs:.2f}x" if theirs else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    out = [f"{n:,} rows (int32 label, {DIM}-d float32 embedding, short caption); medians of interleaved runs.",
           "", *lines, "", f"Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}."]
    if note:
        out += ["", note]
    out += ["", READING]
    return "\n".join(out)


def write_results(path: str, body: str, command: str) -> None:
    """Put ``body`` under a '## Queries' heading of ``path``, replacing only that section."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    section = (f"## Queries\n\nMachine: {machine()}. Date: {stamp}. Command: `{command}`.\n\n{body}\n")
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    start = text.find("\n## Queries\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start + 1] + section + (text[end:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query and system (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None,
                        help="where the datasets are built (default benchmarks/data/query-N-seedS)")
    parser.add_argument("--peers-python", default=os.path.join(REPO, ".venv-peers", "bin", "python"))
    parser.add_argument("--rebuild", action="store_true", help="rebuild the datasets")
    parser.add_argument("--results", help="write the table into the '## Queries' section of this markdown file")
    parser.add_argument("--no-cache", action="store_true", help="turn deeplake_nb's read-only chunk cache off")
    parser.add_argument("--queries", default="".join(QUERIES),
                        help="which queries to run, e.g. 'e' (default: all, %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="worker threads for deeplake_nb's batches (default: one per CPU; 1 = none)")
    args = parser.parse_args()

    import duckdb
    import pyarrow as pa

    import deeplake_nb

    keys = [k for k in QUERIES if k in args.queries]
    if not keys:
        parser.error(f"--queries names none of {''.join(QUERIES)}")
    if args.results and len(keys) < len(QUERIES):
        parser.error("--results rewrites the whole '## Queries' section: run every query for it")
    from deeplake_nb.query import evaluate, scan

    if args.no_cache:
        scan.CACHE_BYTES = 0
    if args.threads is not None:
        evaluate.PARALLEL = args.threads > 1
        evaluate.WORKERS = args.threads
    data_dir = args.data_dir or os.path.join(HERE, "data", f"query-{args.n}-seed{args.seed}")
    if args.rebuild and os.path.exists(data_dir):
        shutil.rmtree(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    peers = peers_python_if_usable(args.peers_python)
    table = arrow_table(args.n, args.seed)
    paths = build(data_dir, args.n, args.seed, table, peers)

    file_con = duckdb.connect(paths["duck"], read_only=True)
    arrow_con = duckdb.connect()
    arrow_con.register("tbl", table)
    systems = {"deeplake_nb": ours(paths["nb"], args.seed, cache=not args.no_cache),
               "deeplake_nb, no cache": ours(paths["nb"], args.seed, cache=False),
               "duckdb file": duck(file_con, "t", args.seed), "duckdb arrow": duck(arrow_con, "tbl", args.seed)}
    results: dict[str, dict[str, Any]] = {name: {} for name in systems}
    first: dict[str, dict[str, float]] = {name: {} for name in systems}
    for name, runs in systems.items():  # the first run of each query (deeplake_nb fills its cache here)
        for key, run in runs.items():
            if key not in keys:
                continue
            t0 = time.perf_counter()
            results[name][key] = run()
            first[name][key] = time.perf_counter() - t0
    problems = check(results)
    times: dict[str, dict[str, list[float]]] = {name: {key: [] for key in keys} for name in systems}
    for key in keys:
        for _ in range(args.repeats):
            for name, runs in systems.items():
                t0 = time.perf_counter()
                runs[key]()
                times[name][key].append(time.perf_counter() - t0)
    medians = {name: {key: statistics.median(v) for key, v in per.items()} for name, per in times.items()}
    versions = {"deeplake_nb": deeplake_nb.__version__, "duckdb": duckdb.__version__, "pyarrow": pa.__version__}
    note = ""
    dl4 = None
    for _ in range(2 if peers else 0):  # Deep Lake 4 has been seen to crash now and then: one retry
        try:
            dl4 = peer(peers, "run", paths["dl4"], str(args.repeats), str(args.seed))
            break
        except subprocess.CalledProcessError as exc:
            failure = f"exit status {exc.returncode}"
    if dl4 is not None:
        versions["deeplake"] = dl4.pop("version")
        indexed = statistics.median(dl4.pop("c_indexed"))
        medians["deeplake 4"] = {key: statistics.median(v) for key, v in dl4.items() if v}
        note = ("Deep Lake 4 runs in its own process (peers virtualenv), after the others; no result check. "
                "Its (c) is brute force over an un-indexed `Array(float32, [128])` column; over its default "
                f"`Embedding` column (clustered index, approximate) the same query took {indexed * 1e3:,.1f} ms.")
    elif peers:
        note = f"Deep Lake 4: its run crashed twice ({failure}); not shown."
    else:
        note = "Deep Lake 4: not run (no .venv-peers with `import deeplake` working)."
    if args.no_cache:
        note += " deeplake_nb ran with its read-only chunk cache off (--no-cache)."
    else:
        note += (" deeplake_nb keeps the chunks of a read-only dataset in memory (like DuckDB's buffer "
                 "pool) and dictionary-encodes repetitive text; 'no cache' reads storage on every query. "
                 "First runs (cache being filled): "
                 + ", ".join(f"({k}) {first['deeplake_nb'][k] * 1e3:,.0f} ms" for k in keys)
                 + "; DuckDB file: " + ", ".join(f"({k}) {first['duckdb file'][k] * 1e3:,.0f} ms" for k in keys)
                 + ".")
    body = render(args.n, medians, versions, note, "".join(keys))
    print(body)
    if problems:
        print("\nRESULT MISMATCH:\n  " + "\n  ".join(problems))
    if args.results:
        write_results(args.results, body, "python benchmarks/bench_query.py " + " ".join(sys.argv[1:]))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
