"""``ORDER BY cosine_similarity(tensor, ARRAY[...]) [ASC|DESC] LIMIT k`` and ``ORDER BY
l2_norm | l1_norm | linf_norm(tensor - ARRAY[...]) [ASC|DESC] LIMIT k`` as one pass over the
tensor's stored chunks, keeping only the rows that can still be among the first ``k``.

Each chunk is scored where it lies (a view of the chunk, or of the read-only cache: no copy of
the column, no (rows, d) temporary beyond one chunk), and the rows whose score can still reach
the ``k`` best so far are kept (a running threshold: after the first few chunks almost nothing
is). The answer is then sorted exactly as the general ORDER BY would sort it (``execute``):
stable, NaN last.

On a read-only dataset each float32 chunk also gets a cached **8-bit copy** (made at the
second scan of the chunk, ``QUANTIZE_AFTER``: the first query after opening scores the float32
chunk it has just read exactly, which costs less than quantising it): every row scaled
to unit length and quantised with its own scale (``(codes - 128) * scale ~ x / |x|``, codes
stored as uint8, which NumPy widens to float32 faster than int8), a quarter of the bytes.
Scoring then reads the 8-bit copy (the scan is bound by memory bandwidth and by that widening,
so this is most of the speed-up) and gives, for every row, an interval that certainly holds its
exact float32 cosine: ``|approx - exact| <= scale * R * (0.501 + 256 * (d + 1) * 2**-24)
+ 8 * (d + 16) * 2**-24`` with ``R = |q|_1 / |q|_2`` (the quantisation error, at most half a
step per element, through Hoelder's inequality; the float32 rounding of the 8-bit dot product
with its 128 offset; the float32 rounding of the exact cosine). A row is kept while its interval
reaches the k-th best lower bound; the kept rows (about twice k) are then scored
exactly from the float32 chunks. So the result is the exact float32 answer, ties and order
included, not an approximation. Chunks with non-finite values or norms outside [1e-15, 1e18]
are scored exactly. (On 1M random 128-d rows, about 2k rows are rescored for k = 10 to 1000.)

**L2** uses the same 8-bit copy (which also keeps each row's float32 norm ``n``): with the
approximate cosine ``c`` of the row and the query ``q`` within ``e`` (the bound above) of the
true one, ``|x - q|^2 = |x|^2 + |q|^2 - 2 |x| |q| cos`` lies within ``2 n |q| (e + 2 delta) + 3 delta n^2``
of ``n^2 + |q|^2 - 2 n |q| c`` (``delta = (d + 4) * 2**-24`` bounds the float32 norm's relative
error), so every row gets a distance interval (widened by ``2 ** -40`` relative for the float64
rounding of the exact distance, which the query engine computes on float64 differences) and only
rows whose interval reaches the k-th best are computed exactly. A float32 pass over the interval
centres, less the group's largest spread and a bound of its own rounding, first rules out the
rows no interval of theirs could keep (``_l2_near``), so only the few near rows get float64
intervals. Without the 8-bit copy (a
writable dataset, a chunk's first scan) L2 of float32 rows is prefiltered the same way from the
float32 dot product with the query and the float32 squared norm, whose rounding is bounded too
(``_l2_float32``): two float32 passes over the chunk instead of a float64 difference array.
**L1 and L-inf** have no such cheap
bound from a dot product: their chunks are scored exactly in the same one pass (no copy of the
column, no float64 difference array beyond one chunk), on threads like the rest. Exact scores are
computed exactly as the general ORDER BY computes them (the float64 difference, then the norm), so
results, ties and order are the general path's.

Scores are oriented so that larger is better (the query vector is negated for ascending cosine
order, which negates every dot product exactly; distances are negated for ascending order), so one
code path serves both directions.

With a GPU (``backend``), the rows are scored exactly on the device in big batches instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import evaluate
from . import nodes as n
from .backend import GPU_BATCH_BYTES, module_for, on_device
from .evaluate import Evaluator, Rows
from .scan import ChunkReader, as_array
from .values import Key, widen
from .vector import as_float, cosine_rows, l1_rows, l2_rows, linf_rows, query_vector, run

QUANTIZE = True          # keep 8-bit copies of float32 vector chunks in the read-only cache
QUANTIZE_AFTER = 1       # scans of a chunk scored exactly before its 8-bit copy is made (the first
                         # query after opening reads and scores the float32 chunk: ~3x less work than
                         # quantising it; the copy pays off from the next query on)
_COMPACT_ROWS = 128      # candidates past 2k that make the threshold be raised again
_GROUP_ROWS = 16384      # 8-bit rows scored before their candidates are picked
_LOCAL = threading.local()


@dataclass(frozen=True)
class Quantized:
    """An 8-bit copy of one float32 chunk: ``x_i / |x_i| ~ scale[i] * (codes[i] - 128)``."""

    codes: np.ndarray   # (rows, d) uint8
    scale: np.ndarray   # (rows,) float32
    max_scale: float
    norms: np.ndarray   # (rows,) float32: each row's length (as float32 computes it)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.scale.nbytes + self.norms.nbytes


def quantize(chunk: np.ndarray) -> Quantized | None:
    """The 8-bit copy of a float32 chunk, or None when its error bound would not hold (values
    that are not finite, norms outside [1e-15, 1e18])."""
    x = chunk.reshape(len(chunk), -1)
    if x.dtype != np.float32 or x.shape[1] == 0:
        return None
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", x, x))  # NaN or inf anywhere in a row shows here
        work = np.abs(x)
        biggest = work.max(axis=1)
        positive = biggest > 0  # rows of zeros have cosine 0 and codes of 128
        if not (np.isfinite(norms) & (~positive | ((norms >= 1e-15) & (norms <= 1e18)))).all():
            return None
        factor = np.where(positive, np.float32(127) / np.where(positive, biggest, 1), 0).astype(np.float32)
        np.multiply(x, factor[:, None], out=work)  # in [-127, 127]
        work += np.float32(128.5)
        codes = work.astype(np.uint8)  # truncating a positive number: round(x * factor) + 128
        scale = np.where(positive, biggest / np.where(positive, norms, 1) / np.float32(127), 0).astype(np.float32)
    return Quantized(codes, scale, float(scale.max(initial=0)), norms.astype(np.float32, copy=False))


def _quantized(reader: ChunkReader, k: int) -> Quantized | None:
    def make(chunk: np.ndarray) -> tuple[Quantized | None, int]:
        found = quantize(chunk)
        return found, 0 if found is None else found.nbytes
    return reader.derived(k, "uint8", make, after=QUANTIZE_AFTER)


# -- matching the query -----------------------------------------------------------------------
_NORMS = {"l1_norm": l1_rows, "l2_norm": l2_rows, "linf_norm": linf_rows}


@dataclass
class Plan:
    reader: ChunkReader
    query: np.ndarray     # cosine: (d,) in the rows' float type, negated for ascending order; norms: the literal
    parallel_safe: bool
    kind: str = "cosine_similarity"   # or a key of _NORMS: the norm of (tensor - literal)
    descending: bool = True
    tensor_first: bool = True         # norms: tensor - literal (else literal - tensor)

    def exact(self, x: np.ndarray, xp: Any = np) -> np.ndarray:
        """Exact oriented scores of rows ``x`` (n, d), computed as the general ORDER BY computes
        the key (larger is better)."""
        if self.kind == "cosine_similarity":
            return run(cosine_rows, [as_float(x), self.query], xp)
        q = self.query
        diff = np.subtract(widen(x), q) if self.tensor_first else np.subtract(q, widen(x))
        dist = run(_NORMS[self.kind], [as_float(diff)], xp)
        return dist if self.descending else -dist


def distance_operands(expr: n.Expr) -> tuple[n.TensorRef, n.ArrayLiteral, bool] | None:
    """(tensor, constant vector, whether the tensor is written first) when ``expr`` is
    cosine_similarity(<tensor>, ARRAY[...]) or l1_norm / l2_norm / linf_norm(<tensor> - ARRAY[...])
    (either order); None otherwise. What the top-k scan and a vector index both answer."""
    if not isinstance(expr, n.Call):
        return None
    tensor_first = True
    if expr.name == "cosine_similarity" and len(expr.args) == 2:
        a, b = expr.args
    elif expr.name in _NORMS and len(expr.args) == 1 and isinstance(expr.args[0], n.Binary) \
            and expr.args[0].op == "-":
        a, b = expr.args[0].left, expr.args[0].right
    else:
        return None
    if isinstance(a, n.ArrayLiteral):
        a, b, tensor_first = b, a, False
    if not (isinstance(a, n.TensorRef) and isinstance(b, n.ArrayLiteral)):
        return None
    return a, b, tensor_first


def plan(ev: Evaluator, expr: n.Expr, descending: bool) -> Plan | None:
    """How to scan for ``expr``, or None when it is neither cosine_similarity(<dense tensor>,
    ARRAY[...]) nor l1_norm / l2_norm / linf_norm(<dense tensor> - ARRAY[...]) (either order)."""
    operands = distance_operands(expr)
    if operands is None:
        return None
    a, b, tensor_first = operands
    assert isinstance(expr, n.Call)
    scan = ev.scan(a.key)
    reader = scan.dense
    if scan.mode != "dense" or reader is None or reader.dtype.kind not in "biuf":
        return None
    d = int(np.prod(reader.row_shape, dtype=np.int64))
    value = np.asarray(b.value)
    if value.dtype.kind not in "biuf" or value.size != d or d == 0:
        return None  # the general path reports the mistake
    if expr.name != "cosine_similarity":
        if value.ndim != 1 or len(reader.row_shape) != 1:
            return None  # broadcasting of other shapes: the general path
        return Plan(reader, value, scan.parallel_safe, expr.name, descending, tensor_first)
    dtype = np.dtype(np.float64) if reader.dtype.kind != "f" else reader.dtype
    query = query_vector(value, dtype)
    return Plan(reader, query if descending else -query, scan.parallel_safe)


# -- the candidates ---------------------------------------------------------------------------
class Best:
    """Rows that can still be among the ``k`` best, kept in parts of (row numbers, scores, error
    bounds: None for exactly scored rows), and the rows whose score is NaN (they sort last)."""

    def __init__(self, k: int, shared: list[float] | None = None) -> None:
        self.k = k
        self.own = -np.inf            # the k-th best lower bound among these rows
        self.shared = shared          # [the best such bound of any part scanned at the same time]
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self.count = 0
        self.missing: list[np.ndarray] = []

    def add(self, rows: np.ndarray, score: np.ndarray, error: np.ndarray | None = None) -> None:
        if len(rows):
            self.parts.append((rows, score, error))
            self.count += len(rows)
            if self.count > 2 * self.k + _COMPACT_ROWS:
                self.compact()

    def add_exact(self, rows: np.ndarray, score: np.ndarray) -> None:
        nan = np.isnan(score)
        if nan.any():
            self.missing.append(rows[nan])
            rows, score = rows[~nan], score[~nan]
        keep = np.flatnonzero(score >= self.floor)
        self.add(rows[keep], score[keep])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Row numbers, scores (float64), error bounds and whether each score is exact."""
        parts = self.parts
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, bool)
        rows = np.concatenate([p[0] for p in parts])
        score = np.concatenate([p[1] for p in parts]).astype(np.float64, copy=False)
        error = np.concatenate([np.zeros(len(p[0])) if p[2] is None else p[2] for p in parts])
        exact = np.concatenate([np.full(len(p[0]), p[2] is None) for p in parts])
        return rows, score, error.astype(np.float64, copy=False), exact

    @property
    def floor(self) -> float:
        """Rows whose score cannot reach this are not among the k best (k rows are at least this
        good, here or in another part of the scan)."""
        return self.own if self.shared is None else max(self.own, self.shared[0])

    def compact(self) -> None:
        """Raise the floor to the k-th best lower bound; drop the rows that cannot reach it."""
        rows, score, error, exact = self.arrays()
        if len(rows) >= self.k:
            low = score - error
            self.own = max(self.own, float(np.partition(low, len(low) - self.k)[len(low) - self.k]))
            if self.shared is not None and self.own > self.shared[0]:
                self.shared[0] = self.own  # a race may keep a lower value: still a true bound
        floor = self.floor
        if len(rows) >= self.k or floor > -np.inf:
            keep = score + error >= floor
            rows, score, error, exact = rows[keep], score[keep], error[keep], exact[keep]
        self.parts = [(rows[exact], score[exact], None), (rows[~exact], score[~exact], error[~exact])]
        self.count = len(rows)

    def merge(self, other: Best) -> None:
        self.parts += other.parts
        self.missing += other.missing
        self.count += other.count
        self.own = max(self.own, other.own)


# -- the scan ---------------------------------------------------------------------------------
def candidates(ev: Evaluator, expr: n.Expr, rows: Rows, descending: bool, k: int) -> tuple[np.ndarray, Key] | None:
    """Row numbers (ascending) that hold the first ``k`` rows of ``ORDER BY expr`` and their
    exact keys (oriented: sort them descending); None when ``expr`` is not a scan this module
    does."""
    found = plan(ev, expr, descending)
    if found is None or rows.offsets is not None or rows.n == 0 or k <= 0:
        return None
    with np.errstate(all="ignore"):  # NaN and infinities score as the general path scores them
        return _candidates(found, rows, k)


def _candidates(found: Plan, rows: Rows, k: int) -> tuple[np.ndarray, Key]:
    reader = found.reader
    positions = rows.positions
    row_bytes = int(np.prod(reader.row_shape, dtype=np.int64)) * reader.dtype.itemsize
    xp = module_for(row_bytes * rows.n)
    if on_device(xp):
        best = _scan_device(found, positions, k, xp, row_bytes)
    else:
        pieces = list(_pieces(reader, positions))
        quantized = QUANTIZE and reader.cache is not None and _scorer_for(found) is not None
        big = row_bytes * rows.n >= evaluate.PARALLEL_MIN_BYTES
        pool = evaluate._pool() if big and found.parallel_safe else None
        if pool is None or len(pieces) < 4:
            best = _scan(found, pieces, k, quantized)
        else:
            parts = 4 * pool._max_workers  # type: ignore[attr-defined]  # small parts balance busy cores
            step = -(-len(pieces) // parts)
            groups = [pieces[a:a + step] for a in range(0, len(pieces), step)]
            shared = [-np.inf]
            results = list(pool.map(lambda group: _scan(found, group, k, quantized, shared), groups))
            best = results[0]
            for other in results[1:]:
                best.merge(other)
            best.shared = None
    return _finish(best, found, positions, k)


def _pieces(reader: ChunkReader, positions: np.ndarray | range):
    """(chunk, rows in it: a slice or an index array, first row number or row numbers)."""
    r = reader.rows_per_chunk
    if isinstance(positions, range) and positions.step == 1:
        start, stop = positions.start, positions.stop
        for k in range(start // r, (stop - 1) // r + 1 if stop > start else 0):
            lo, hi = max(start, k * r), min(stop, k * r + r)
            yield k, slice(lo - k * r, hi - k * r), lo - start
        return
    positions = as_array(positions)
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    chunk_of = ordered // r
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    bounds = np.concatenate([[0], cuts, [len(ordered)]]).tolist()
    for a, b in zip(bounds[:-1], bounds[1:]):
        k = int(chunk_of[a])
        local = ordered[a:b] - k * r
        if local[-1] - local[0] == b - a - 1:  # consecutive (they are sorted)
            yield k, slice(int(local[0]), int(local[-1]) + 1), order[a:b]
        else:
            yield k, local, order[a:b]


def _buffer(rows: int, d: int) -> np.ndarray:
    buf = getattr(_LOCAL, "buf", None)
    if buf is None or buf.shape[0] < rows or buf.shape[1] != d:
        buf = _LOCAL.buf = np.empty((max(rows, 1), d), np.float32)
    return buf[:rows]


class Scorer:
    """Approximate scores of 8-bit rows against one query vector, with their error bounds."""

    def __init__(self, query: np.ndarray) -> None:
        q64 = query.astype(np.float64)
        norm = float(np.linalg.norm(q64))
        d = q64.size
        unit64 = q64 / norm
        self.unit = unit64.astype(np.float32)
        self.offset = np.float32(128 * unit64.sum())
        self.spread = float(np.abs(q64).sum() / norm) * (0.501 + 256 * (d + 1) * 2.0 ** -24)
        self.slack = 8.0 * (d + 16) * 2.0 ** -24

    @staticmethod
    def usable(query: np.ndarray) -> bool:
        return query.dtype == np.float32 and 1e-15 <= float(np.linalg.norm(query.astype(np.float64))) <= 1e18


    def approx(self, packed: Quantized, where: slice | np.ndarray, out: np.ndarray) -> int:
        """Write ``codes @ unit`` of the rows ``where`` into ``out`` (without the offset and the
        scale, which the caller applies to many pieces at once); returns the row count."""
        codes = packed.codes[where]
        buf = _buffer(len(codes), codes.shape[1])
        np.copyto(buf, codes)
        np.matmul(buf, self.unit, out=out[:len(codes)])
        return len(codes)

    def scores(self, packed: Quantized, where: slice | np.ndarray) -> np.ndarray:
        """Approximate scores of the rows ``where`` (each within ``error(scale)`` of the exact one)."""
        out = np.empty(len(packed.scale[where]), np.float32)
        self.approx(packed, where, out)
        out -= self.offset
        out *= packed.scale[where]
        return out

    def error(self, scale: np.ndarray | float) -> np.ndarray | float:
        """The most a row with this scale can be off its exact float32 cosine."""
        return scale * self.spread + self.slack


def _scorer_for(found: Plan) -> Scorer | None:
    """The 8-bit scorer of a plan: cosine of float32 rows, or L2 of float32 rows from a query of
    finite length in [1e-15, 1e18] (a zero query has nothing to prefilter); None: score exactly."""
    if found.reader.dtype != np.float32:
        return None
    if found.kind == "cosine_similarity":
        return Scorer(found.query) if Scorer.usable(found.query) else None
    if found.kind != "l2_norm":
        return None
    q = found.query.astype(np.float64)
    with np.errstate(all="ignore"):
        norm = float(np.sqrt(q @ q))
    return Scorer(q) if np.isfinite(q).all() and 1e-15 <= norm <= 1e18 else None


def _scan(found: Plan, pieces: list, k: int, quantized: bool, shared: list[float] | None = None) -> Best:
    best = Best(k, shared)
    reader = found.reader
    d = int(np.prod(reader.row_shape, dtype=np.int64))
    scorer = _scorer_for(found) if quantized else None
    group: list[tuple[Quantized, Any, Any]] = []  # 8-bit pieces scored together
    rows = 0
    for k_chunk, where, numbers in pieces:
        packed = _quantized(reader, k_chunk) if scorer is not None else None
        if packed is None:
            x = reader.chunk(k_chunk)[where].reshape(-1, d)
            ids = numbers + np.arange(len(x)) if isinstance(numbers, int) else numbers
            if not (found.kind == "l2_norm" and _l2_float32(found, x, ids, best)):
                best.add_exact(ids, found.exact(x))
            continue
        group.append((packed, where, numbers))
        rows += len(packed.scale[where]) if isinstance(where, np.ndarray) else where.stop - where.start
        if rows >= _GROUP_ROWS:
            _score_group(scorer, found, group, rows, best)
            group, rows = [], 0
    if group:
        _score_group(scorer, found, group, rows, best)
    return best


def _score_group(scorer: Any, found: Plan, group: list, rows: int, best: Best) -> None:
    """Score some 8-bit pieces into one array, then keep the rows that can reach the floor."""
    out = _scratch("approx", rows)
    scales = _scratch("scale", rows)
    a = 0
    top = 0.0
    for packed, where, _ in group:
        b = a + scorer.approx(packed, where, out[a:])
        scales[a:b] = packed.scale[where]
        top = max(top, packed.max_scale)
        a = b
    out -= scorer.offset
    out *= scales
    if found.kind == "l2_norm":
        _l2_group(scorer, found, group, out, scales, best)
        return
    limit = best.floor - scorer.error(top)  # no row's error is larger
    if out.max() < limit:
        return
    keep = np.flatnonzero(out >= limit)
    ids = _row_numbers(group, keep)
    best.add(ids, out[keep].copy(), scorer.error(scales[keep]))


def l2_bounds(scorer: Scorer, query: np.ndarray, norms: np.ndarray, cosine: np.ndarray, scales: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (float64 low, high) that hold each row's exact ``l2_norm(row - query)`` as the
    query engine computes it, from the rows' float32 norms, approximate cosines and 8-bit scales."""
    norms = norms.astype(np.float64)
    q = query.astype(np.float64)
    nq = float(np.sqrt(q @ q))
    delta = (q.size + 4) * 2.0 ** -24
    error = scorer.error(scales.astype(np.float64)) + 2 * delta
    centre = norms * norms + nq * nq - 2 * nq * norms * cosine.astype(np.float64)
    spread = 2 * nq * norms * error + 3 * delta * norms * norms + 1e-15 * (norms + nq) ** 2
    return _widened(centre - spread, centre + spread, q.size)


def _widened(low2: np.ndarray, high2: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Distance bounds from bounds of the squared distance, widened by the relative rounding of
    the exact float64 distance (``(d + 4) * 2**-52``, at least ``2**-40``)."""
    slack = max(2.0 ** -40, (d + 4) * 2.0 ** -52)
    return np.sqrt(np.maximum(low2, 0)) * (1 - slack), np.sqrt(np.maximum(high2, 0)) * (1 + slack)


def _l2_float32(found: Plan, x: np.ndarray, ids: np.ndarray, best: Best) -> bool:
    """L2 of float32 rows prefiltered from float32 dot products and norms (two passes over the
    chunk, as exact cosine takes, instead of a float64 difference array): with ``g = (d + 2) *
    2**-24`` bounding the relative error of a float32 sum of d products (any order),
    ``|x - q|^2`` lies within ``g * (|x|^2 + 2 |x| |q|) + 2**-23 * 2 |x| |q|`` (the second term:
    ``q`` rounded to float32) of ``|x|^2 + |q|^2 - 2 x.q`` as computed; rows whose interval
    reaches the floor are kept and computed exactly at the end. False (nothing added) when the
    bound does not apply: not float32, or values whose squares overflow float32."""
    if x.dtype != np.float32 or not len(x):
        return False
    q = found.query.astype(np.float64)
    with np.errstate(all="ignore"):
        q32 = q.astype(np.float32)
        nq2 = float(q @ q)
        if not (np.isfinite(q32).all() and np.isfinite(nq2)):
            return False
        dot = np.einsum("ij,j->i", x, q32)
        n2 = np.einsum("ij,ij->i", x, x)
        if not (np.isfinite(dot).all() and np.isfinite(n2).all()):
            return False
    d = x.shape[1]
    g = (d + 2) * 2.0 ** -24 * 1.01
    n2 = n2.astype(np.float64) * (1 + g)          # an upper bound of |x|^2
    nx, nq = np.sqrt(n2), np.sqrt(nq2)
    centre = n2 + nq2 - 2 * dot.astype(np.float64)
    spread = g * (2 * n2 + 2 * nx * nq) + 2.0 ** -22 * nx * nq + 1e-15 * (nx + nq) ** 2 + d * 1e-44
    low, high = _widened(centre - spread, centre + spread, d)
    score = (high + low) / 2 if found.descending else -(high + low) / 2
    error = (high - low) / 2
    keep = np.flatnonzero(score + error >= best.floor)
    if len(keep):
        best.add(ids[keep], score[keep], error[keep])
    return True


def _l2_group(scorer: Scorer, found: Plan, group: list, cosine: np.ndarray, scales: np.ndarray, best: Best) -> None:
    """Distance intervals of a group's rows from their approximate cosines (module docstring),
    for the rows that a float32 pass (``_l2_near``) does not rule out."""
    norms = np.concatenate([packed.norms[where] for packed, where, _ in group])
    near = None if found.descending else _l2_near(scorer, found.query, norms, cosine, scales, -best.floor)
    if near is not None:
        if not len(near):
            return
        norms, cosine, scales = norms[near], cosine[near], scales[near]
    low, high = l2_bounds(scorer, found.query, norms, cosine, scales)
    score = (high + low) / 2 if found.descending else -(high + low) / 2
    error = (high - low) / 2
    keep = np.flatnonzero(score + error >= best.floor)
    if len(keep):
        best.add(_row_numbers(group, keep if near is None else near[keep]), score[keep], error[keep])


def _l2_near(scorer: Scorer, query: np.ndarray, norms: np.ndarray, cosine: np.ndarray, scales: np.ndarray,
             reach: float) -> np.ndarray | None:
    """Positions of the rows whose lower distance bound (``l2_bounds``, ``_widened``) may be within
    ``reach`` (the k-th best distance so far), from a float32 pass: a row's interval centre
    ``n^2 + |q|^2 - 2 n |q| c`` computed in float32 (off by at most ``2**-20 (n + |q|)^2``: a few
    roundings of magnitude below that) less the group's largest spread (it grows with a row's norm
    and scale) must reach ``(reach / (1 - slack))^2``; the other rows' intervals are beyond it.
    None: no such pass (no k-th best yet)."""
    if not np.isfinite(reach) or reach < 0 or not len(norms):
        return None
    q = query.astype(np.float64)
    nq = float(np.sqrt(q @ q))
    delta = (q.size + 4) * 2.0 ** -24
    largest = float(norms.max())
    error = float(scorer.error(float(scales.max()))) + 2 * delta
    spread = 2 * nq * largest * error + 3 * delta * largest * largest + 1e-15 * (largest + nq) ** 2
    rounding = 2.0 ** -20 * (largest + nq) ** 2
    slack = max(2.0 ** -40, (q.size + 4) * 2.0 ** -52)
    limit = (reach / (1 - slack)) ** 2 * (1 + 1e-9) + spread + rounding - nq * nq
    centre = norms * (norms - np.float32(2 * nq) * cosine)  # float32: n^2 - 2 n |q| c
    return np.flatnonzero(centre <= np.float32(limit + abs(limit) * 2.0 ** -20))  # (float32 rounds the limit)


def _row_numbers(group: list, keep: np.ndarray) -> np.ndarray:
    """The row numbers of positions ``keep`` of a group's concatenated pieces."""
    first, last = group[0][2], group[-1][2]
    if isinstance(first, int) and isinstance(last, int):  # pieces of one range of rows
        where = group[-1][1]
        if last + where.stop - where.start - first == sum(p[1].stop - p[1].start for p in group):
            return keep + first
    parts, a = [], 0
    for _packed, where, numbers in group:
        size = len(where) if isinstance(where, np.ndarray) else where.stop - where.start
        lo, hi = np.searchsorted(keep, [a, a + size])
        if hi > lo:
            local = keep[lo:hi] - a
            parts.append(numbers + local if isinstance(numbers, int) else numbers[local])
        a += size
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _scratch(name: str, rows: int) -> np.ndarray:
    buf = getattr(_LOCAL, name, None)
    if buf is None or len(buf) < rows:
        buf = np.empty(max(rows, _GROUP_ROWS * 2), np.float32)
        setattr(_LOCAL, name, buf)
    return buf[:rows]


def _scan_device(found: Plan, positions: np.ndarray | range, k: int, xp: Any, row_bytes: int) -> Best:
    """Exact scores on the device, in batches of about GPU_BATCH_BYTES of rows."""
    reader = found.reader
    best = Best(k)
    count = len(positions)
    step = max(reader.rows_per_chunk, GPU_BATCH_BYTES // max(row_bytes, 1))
    d = int(np.prod(reader.row_shape, dtype=np.int64))
    for a in range(0, count, step):
        part = positions[a:a + step]
        x = reader.take(part).reshape(-1, d)
        best.add_exact(np.arange(a, a + len(x)), found.exact(x, xp))
    return best


def _finish(best: Best, found: Plan, positions: np.ndarray | range, k: int) -> tuple[np.ndarray, Key]:
    best.compact()
    rows, score, _, exact = best.arrays()
    score = score.copy()
    if not exact.all():  # score the quantised candidates exactly
        pick = np.flatnonzero(~exact)
        where = as_array(positions)[rows[pick]] if not isinstance(positions, range) else \
            rows[pick] + positions.start
        score[pick] = found.exact(found.reader.take(where).reshape(len(pick), -1))
    missing = np.sort(np.concatenate(best.missing))[:k] if best.missing else np.zeros(0, np.int64)
    rows = np.concatenate([rows, missing])
    score = np.concatenate([score, np.full(len(missing), np.nan)])
    order = np.argsort(rows, kind="stable")
    rows, score = rows[order], score[order]
    return rows, Key(score, np.isnan(score))
