"""Which HNSW library the vector index is built with: usearch, hnswlib and faiss-cpu side by side.

    python benchmarks/bench_vdb_libs.py [--n 200000] [--dim 128] [--queries 200] [--libs usearch,hnswlib,faiss]

For each data set (isotropic Gaussian; clustered: 1,000 Gaussian centres with noise of a third of
their spread) and each distance (cosine, L2), every library builds an HNSW graph with the same
parameters (M = 32, efConstruction = 200 unless given, all cores, float32 vectors) and answers ``--queries``
held-out query vectors one at a time on one thread at several search depths (ef). Reported: build
time, bytes of the saved index, median top-10 latency and recall@10 against exact brute force.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

K = 10
M, EF_CONSTRUCTION = 32, 200  # set by --m / --ef-construction
EF_SEARCH = (64, 128, 256, 512)


def data(kind: str, n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "isotropic":
        x = rng.standard_normal((n + queries, dim), dtype=np.float32)
    else:
        centres = rng.standard_normal((1000, dim), dtype=np.float32) * 3
        x = centres[rng.integers(0, 1000, n + queries)] + rng.standard_normal((n + queries, dim), dtype=np.float32)
    return x[:n], x[n:]


def truth(x: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cos":
        xs = x / np.linalg.norm(x, axis=1, keepdims=True)
        score = -(q / np.linalg.norm(q, axis=1, keepdims=True)) @ xs.T
    else:
        score = (x * x).sum(1)[None, :] - 2 * q @ x.T
    return np.argsort(score, axis=1, kind="stable")[:, :K]


class Usearch:
    name = "usearch"

    def __init__(self, dim: int, metric: str) -> None:
        from usearch.index import Index
        self.index = Index(ndim=dim, metric="cos" if metric == "cos" else "l2sq", dtype="f32", connectivity=M,
                           expansion_add=EF_CONSTRUCTION)

    def build(self, x: np.ndarray) -> None:
        self.index.add(np.arange(len(x)), x, threads=os.cpu_count() or 1)

    def ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q, K, threads=1).keys

    def size(self, path: str) -> int:
        self.index.save(path)
        return os.path.getsize(path)


class Hnswlib:
    name = "hnswlib"

    def __init__(self, dim: int, metric: str) -> None:
        import hnswlib
        self.index = hnswlib.Index(space="cosine" if metric == "cos" else "l2", dim=dim)
        self.index.set_num_threads(os.cpu_count() or 1)

    def build(self, x: np.ndarray) -> None:
        self.index.init_index(max_elements=len(x), ef_construction=EF_CONSTRUCTION, M=M)
        self.index.add_items(x, np.arange(len(x)))
        self.index.set_num_threads(1)

    def ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def search(self, q: np.ndarray) -> np.ndarray:
        return self.index.knn_query(q, k=K)[0][0]

    def size(self, path: str) -> int:
        self.index.save_index(path)
        return os.path.getsize(path)


class Faiss:
    name = "faiss"

    def __init__(self, dim: int, metric: str) -> None:
        import faiss
        self.faiss = faiss
        self.cos = metric == "cos"
        self.index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT if self.cos else faiss.METRIC_L2)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION

    def _prep(self, x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True) if self.cos else x

    def build(self, x: np.ndarray) -> None:
        self.faiss.omp_set_num_threads(os.cpu_count() or 1)
        self.index.add(np.ascontiguousarray(self._prep(x)))
        self.faiss.omp_set_num_threads(1)

    def ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def search(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(np.ascontiguousarray(self._prep(q[None])), K)[1][0]

    def size(self, path: str) -> int:
        self.faiss.write_index(self.index, path)
        return os.path.getsize(path)


LIBS = {"usearch": Usearch, "hnswlib": Hnswlib, "faiss": Faiss}


def main() -> None:
    global M, EF_CONSTRUCTION
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--libs", default="usearch,hnswlib,faiss")
    parser.add_argument("--m", type=int, default=M)
    parser.add_argument("--ef-construction", type=int, default=EF_CONSTRUCTION)
    args = parser.parse_args()
    M, EF_CONSTRUCTION = args.m, args.ef_construction
    print(f"n={args.n} dim={args.dim} M={M} efConstruction={EF_CONSTRUCTION} cores={os.cpu_count()}")
    print("| data | metric | library | build s | MiB | " + " | ".join(f"ef={e} ms / recall" for e in EF_SEARCH) + " |")
    print("|---|---|---|---:|---:|" + "---|" * len(EF_SEARCH))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("clustered", "isotropic"):
            x, q = data(kind, args.n, args.dim, args.queries)
            for metric in ("cos", "l2"):
                exact = truth(x, q, metric)
                for lib in args.libs.split(","):
                    index = LIBS[lib](args.dim, metric)
                    start = time.perf_counter()
                    index.build(x)
                    build = time.perf_counter() - start
                    size = index.size(os.path.join(tmp, f"{lib}.bin")) / 2 ** 20
                    cells = []
                    for ef in EF_SEARCH:
                        index.ef(ef)
                        times, hits = [], 0
                        for i in range(len(q)):
                            start = time.perf_counter()
                            found = index.search(q[i])
                            times.append(time.perf_counter() - start)
                            hits += len(np.intersect1d(np.asarray(found, np.int64), exact[i]))
                        cells.append(f"{statistics.median(times) * 1e3:.2f} / {hits / (K * len(q)):.3f}")
                    print(f"| {kind} | {metric} | {lib} | {build:.1f} | {size:.0f} | " + " | ".join(cells) + " |",
                          flush=True)
                    del index


if __name__ == "__main__":
    main()
