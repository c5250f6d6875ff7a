"""Vector indexes over a dense vector tensor, kept in the dataset next to the version they index
and used by ``ORDER BY <distance> LIMIT k`` while they match the tensor's content.

Deep Lake v3's names: ``tensor.create_vdb_index("hnsw_1", distance="cosine_similarity" | "l2_norm",
additional_params={"M": 32, "efConstruction": 200, "efSearch": 200})``, ``tensor.delete_vdb_index(id)``,
``tensor.get_vdb_indexes()`` (``fetch_vdb_indexes()``). The graph is built with faiss (inner
product over unit rows for cosine, squared L2 for ``l2_norm``; chosen over hnswlib and usearch by
``benchmarks/bench_vdb_libs.py``, figures in ``benchmarks/RESULTS.md``); install it with
``pip install deeplake_nb[vdb]``.

**Two kinds.** By default (``additional_params`` naming neither ``M`` nor ``efConstruction``) an
index is no graph but every row as 4-bit product-quantisation codes scanned whole
(``SCAN_STORAGE`` "pq4fs", listed with ``type`` "pq4fs"): the ``efSearch`` rows nearest by their
codes are re-ranked on float32 copies. Its cost is the same whatever the data's spread, where a
graph's recall falls on unclustered data (1M isotropic 128-d rows: ~2-3 ms at recall@10 0.99,
against 10-14 ms at 0.94 for the graph) and it builds in seconds, not minutes; a scan is linear in
the rows (about 2 ms per million 128-d rows on one core). With ``M`` or ``efConstruction`` given
(v3's HNSW parameters) it is an HNSW graph (``type`` "hnsw"): new graphs (``STORAGE`` "sq8") are
walked over 8-bit codes (``IndexHNSWSQ``) and the ``REFINE`` x k rows found are re-ranked on
float32 copies (``IndexRefineFlat``); graphs built before (``IndexHNSWFlat``, record ``storage``
"flat") are read as they are.

**Where it lives.** The serialised index is one immutable object ``objects/<name>`` (a
time-stamped :mod:`deeplake_nb.version.names` name, like the version's own objects; for "pq4fs"
its codes alone, d/4 bytes a row, the float32 rows it re-ranks on being read back from the tensor
when it is loaded, see :func:`_load`) and a small
record ``vdb/<fingerprint>/<id>.json`` names it, with the version it was built at (the commit, or
the branch's pending commit id when the branch had uncommitted changes) and its parameters. The
*fingerprint* is a digest of the object names holding the tensor's data chunks in that version
(plus dtype, row shape and row count). Object names are never reused, so two versions with one
fingerprint hold the same vectors at the same rows: an index is used for every version whose
tensor content is the one it indexed (a branch made from it, a merge that did not touch the
tensor, a reopen). A read-only version keeps its fingerprints; a writable dataset keeps them
while its state's ``changes`` counter (bumped before every write, and at checkout, reset and
merge) is unchanged, so a query does not hash every chunk name again.

**Appends.** The record also keeps the indexed content's *prefix* (:func:`_prefix`: the object
names of the chunks its rows fill whole and a digest of the values of the rows in the chunk they
fill in part). A later version whose first ``rows`` rows have that prefix only had rows appended
since: its queries use the index for those rows and scan the appended ones exactly (``topk``'s
chunk scan over them, their best ``k`` merged with the graph's), while they are at most
``MAX_TAIL`` of the rows. ``create_vdb_index`` with the same id then *extends* the index: the
graph is loaded and only the appended rows are added (its parameters and search depth kept), and
the result is stored for the new content. A record written before records kept a prefix gets it
from the version it names, while that version still holds the content it indexed (same
fingerprint). An update or pop of indexed rows changes their chunks'
objects, so neither the fingerprint nor the prefix matches: queries scan exactly until
``create_vdb_index`` indexes the new content; for a "pq4fs" index it copies the codes of every
chunk whose object is unchanged from the newest index of that id and encodes only the other
chunks' rows with its codebooks (:func:`_updated_codes`; a row updated in a 1M-row tensor: one
chunk encoded), and builds afresh when more than ``MAX_TAIL`` of the rows changed (a pop near the
start moves every row after it). An index of another branch's rows never matches either. Garbage collection keeps the object while the version the record names is
reachable (``version.gc.register_attachments``) and removes record and object with that version.
Creating or deleting an index makes no commit (as a saved view): it adds to a version, it does not
change it, so it is allowed on a checked-out commit too.

**Queries.** ``ORDER BY cosine_similarity(t, ARRAY[...]) DESC LIMIT k`` and ``ORDER BY
l2_norm(t - ARRAY[...]) [ASC] LIMIT k`` over a tensor with a fresh index of that distance ask the
index for the ``k`` nearest rows (restricted to the query's rows when a WHERE or a view selects at
least ``MIN_SHARE`` of them: a graph by an id selector, a "pq4fs" index by taking the best of
those rows among proportionally more by their codes; a narrower selection is scanned exactly), then
compute those rows' keys exactly, as the general ORDER BY would, and sort them: scores and order
are exact, only the *set* of rows is approximate (recall@10 against the exact scan is measured
by ``benchmarks/bench_query.py --index``: clustered data reaches 1.0 at small depths, isotropic
Gaussians, the hardest case for a graph, need the deeper default). ``ds.query(q, exact=True)``
never uses an index.

**The recall / speed knob** is ``efSearch``: for a "pq4fs" index the rows re-ranked exactly for a
top-10 (a top-k re-ranks k/10 times as many; default ``SCAN_DEFAULT_DEPTH``), for a graph faiss's
HNSW search depth; more is slower and closer to exact. It is stored with the index and a query may override it
(``ds.query(q, ef_search=1024)``); the depth is never below ``k``. Given in ``additional_params``
it is used as it is; left out, the build *tunes* it: the last ``TUNE_QUERIES`` rows (at most a
tenth) are held out of the index, asked for their 10 nearest other rows at the depths
``TUNE_DEPTHS`` (``SCAN_TUNE_DEPTHS``) in turn against their exact neighbours (computed while the other rows are read for
the graph), and the first depth whose recall@10 reaches ``TUNE_RECALL`` is kept (the deepest when
none does); then they are added. The estimate is listed as ``estimated_recall``. Tuning never
goes below the default depth (queries unlike the rows need more than held-out rows show):
graphs of clustered data keep 512; of isotropic Gaussians, the hardest case for a graph, go deeper.
A graph's ``M`` (links per node) and ``efConstruction`` (build-time depth) trade build time and
size for recall.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator

import numpy as np

from ..core import internal
from ..core.dataset import Dataset
from ..errors import DeepLakeNBError, ReadOnlyError, VectorIndexError, VectorIndexNotFoundError
from ..version import gc as version_gc
from ..version.names import created_at, is_name, new_name
from ..version.store import OBJECTS
from . import nodes as n
from .scan import TensorScan, as_array
from .values import Key
from . import topk
from .topk import distance_operands

PREFIX = "vdb"
DISTANCES = ("cosine_similarity", "l2_norm")
PARAMETERS = ("M", "efConstruction", "efSearch", "partitions")
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF_SEARCH = 512  # recall@10 0.96 on 100k isotropic 128-d Gaussians at M=32 (0.85 at 256); clustered data needs far less
"""The search depth of an index built before depths were tuned (its record names none)."""
TUNE_QUERIES = 200
TUNE_DEPTHS = (DEFAULT_EF_SEARCH, 1024, 2048)
"""Tried shallowest first. Tuning only ever deepens the default: held-out rows are queries like the
rows, and queries unlike them need more depth than they show (200k clustered 128-d rows, queries
from other centres: recall@10 0.72 cosine / 0.82 L2 at depth 128, where held-out rows had 1.00;
0.95 / 0.99 at 512)."""
TUNE_RECALL = 0.97
"""Above the 0.95 aimed at: the estimate from TUNE_QUERIES rows is off by about 0.01-0.02."""
MIN_SHARE = 0.05
"""A query whose rows are fewer than this share of the tensor scans them exactly (a filtered graph
search is slow and loses recall when few rows pass)."""
STORAGE = "sq8"
"""What new graphs are walked over: "sq8" (8-bit codes, the rows found re-ranked on float32 copies:
~25-30% less CPU per query at equal recall on isotropic data, builds faster) or "flat" (float32)."""
REFINE = 2
"""Rows re-ranked on float32 per row asked, for "sq8" graphs."""
SCAN_STORAGE = "pq4fs"
"""What an index is when ``additional_params`` name neither ``M`` nor ``efConstruction`` (HNSW's
parameters): every row as 4-bit product-quantisation codes (``d/2`` sub-quantisers of 16
centroids: 32 bytes a 128-d row; stored as ``IndexPQ``, scanned whole with SIMD table lookups as
``IndexPQFastScan``), the
``efSearch`` rows nearest by their codes re-ranked on float32 copies (``IndexRefineFlat``; only
the codes are stored, the copies are read from the tensor when the index is loaded). No
graph: a full scan of the codes, whose cost does not depend on how the data is spread (1M
isotropic 128-d rows: ~2-3 ms for one query on one core at recall@10 0.99, where the SQ8 graph
needed 10-14 ms for 0.94), built in seconds instead of minutes; linear in the rows, so about
10 ms per 5M rows."""
SCAN_DEFAULT_DEPTH = 2000
"""Rows re-ranked exactly for a top-10 by a "pq4fs" index (a top-k re-ranks k/10 times as many):
1M rows, 128-d, recall@10 0.995 isotropic, 0.93-0.98 clustered with queries from other centres
at 1000-2000."""
SCAN_TUNE_DEPTHS = (SCAN_DEFAULT_DEPTH, 4000, 8000)
_PQ_TRAIN_ROWS = 65536  # rows the 4-bit codebooks are trained on, taken evenly over the tensor
LOADED_BYTES = 4 << 30  # deserialised indexes kept in memory, least recently used out first
_BUILD_ROWS = 65536     # rows added to the graph per step (one step of the progress bar)
_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """What ``vdb/<fingerprint>/<id>.json`` holds."""

    id: str
    distance: str
    params: dict[str, int]
    rows: int
    dim: int
    commit: str
    object: str
    nbytes: int
    seconds: float
    tensor: str = ""
    created: float = field(default=0.0)
    recall: float = -1.0
    """recall@10 of the held-out rows at the tuned depth (-1: the depth was given, not tuned)."""
    storage: str = "flat"
    """What the graph is walked over (``STORAGE`` when it was built); records without one: "flat"."""
    prefix: str = ""
    """``<rows per chunk>:<digest of the full chunks' object names>:<digest of the last partial
    chunk's rows>`` of the indexed content (:func:`_prefix`): a later version whose first
    ``rows`` rows have it (rows appended since) uses this index for them and scans the rest."""

    @property
    def graph(self) -> bool:
        """An HNSW graph ("flat", "sq8"), not a scan of 4-bit codes ("pq4fs")."""
        return self.storage != SCAN_STORAGE

    @property
    def ef_search(self) -> int:
        """The stored search depth; a tuned one (``recall`` >= 0) never below the default
        (``DEFAULT_EF_SEARCH`` for graphs, ``SCAN_DEFAULT_DEPTH`` for "pq4fs"): an earlier build
        tuned depths down to 128 where held-out rows promised recall 1.0, which queries unlike the
        rows did not get (0.72 on clustered data)."""
        default = DEFAULT_EF_SEARCH if self.graph else SCAN_DEFAULT_DEPTH
        depth = int(self.params.get("efSearch", default))
        return max(depth, default) if self.recall >= 0 else depth

    def public(self) -> dict[str, Any]:
        """v3's listing entry (``id``, ``type``, ``distance``, ``additional_params``) and ours."""
        return {"id": self.id, "type": "hnsw" if self.graph else SCAN_STORAGE, "distance": self.distance,
                "additional_params": {**self.params, "efSearch": self.ef_search},  # the depth queries use
                "rows": self.rows, "dim": self.dim, "commit_id": self.commit, "bytes": self.nbytes,
                "build_seconds": round(self.seconds, 3), "library": "faiss", "storage": self.storage,
                "estimated_recall": None if self.recall < 0 else round(self.recall, 3), "unindexed_rows": 0}

    def to_json(self) -> bytes:
        return json.dumps({"format": 1, "id": self.id, "distance": self.distance, "params": self.params,
                           "rows": self.rows, "dim": self.dim, "commit": self.commit, "object": self.object,
                           "nbytes": self.nbytes, "seconds": self.seconds, "tensor": self.tensor,
                           "created": self.created, "recall": self.recall, "prefix": self.prefix, "storage": self.storage}).encode()

    @classmethod
    def parse(cls, data: bytes | None) -> Record | None:
        """The record in ``data``, or None when it is absent or not exactly what we write (a damaged
        record makes its index unused, never a wrong answer)."""
        if data is None:
            return None
        try:
            doc = json.loads(data)
            record = cls(id=_check_id(doc["id"]), distance=doc["distance"],
                         params={str(k): int(v) for k, v in doc["params"].items()}, rows=int(doc["rows"]),
                         dim=int(doc["dim"]), commit=str(doc["commit"]), object=str(doc["object"]),
                         nbytes=int(doc["nbytes"]), seconds=float(doc["seconds"]), tensor=str(doc.get("tensor", "")),
                         created=float(doc.get("created", 0.0)), recall=float(doc.get("recall", -1.0)),
                         prefix=str(doc.get("prefix", "")), storage=str(doc.get("storage", "flat")))
        except (ValueError, KeyError, TypeError, AttributeError, VectorIndexError):
            return None
        if record.distance not in DISTANCES or not is_name(record.object) or not is_name(record.commit):
            return None
        return record


def _record_key(fingerprint: str, index_id: str) -> str:
    return f"{PREFIX}/{fingerprint}/{index_id}.json"


# -- checking arguments -------------------------------------------------------------------------
def _check_id(index_id: Any) -> str:
    if not isinstance(index_id, str) or index_id in (".", "..") or not _ID.match(index_id):
        raise VectorIndexError(f"Invalid vector index id {index_id!r}: use 1-128 letters, digits, '_', '-' or '.' "
                               "(not '.' or '..'), e.g. create_vdb_index('hnsw_1').")
    return index_id


def _check_distance(distance: Any) -> str:
    value = getattr(distance, "value", distance)  # v3's DistanceType enum
    if not isinstance(value, str) or value.lower() not in DISTANCES:
        raise VectorIndexError(f"Unknown distance {distance!r} for a vector index: use one of {list(DISTANCES)}.")
    return value.lower()


def _check_params(params: Any) -> dict[str, int]:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise VectorIndexError(f"additional_params must be a dict such as {{'M': 32, 'efConstruction': 200}}; "
                               f"got {type(params).__name__}.")
    unknown = sorted(str(k) for k in params if k not in PARAMETERS)
    if unknown:
        raise VectorIndexError(f"Unknown vector index parameter(s) {unknown}: use {list(PARAMETERS)}.")
    out = {"M": DEFAULT_M, "efConstruction": DEFAULT_EF_CONSTRUCTION, "efSearch": DEFAULT_EF_SEARCH}
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= 1 << 20:
            raise VectorIndexError(f"additional_params[{name!r}] must be a positive integer; got {value!r}.")
        out[name] = int(value)
    if out.get("partitions", 1) != 1:
        raise VectorIndexError("additional_params['partitions'] > 1 is not supported: one graph holds every row "
                               "(leave 'partitions' out, or set it to 1).")
    out.pop("partitions", None)
    if out["M"] < 2:
        raise VectorIndexError("additional_params['M'] must be at least 2.")
    return out


def check_ef_search(value: Any) -> int | None:
    """A query's ``ef_search`` override: None or a positive integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= 1 << 20:
        raise VectorIndexError(f"ef_search must be a positive integer (the graph search depth); got {value!r}.")
    return int(value)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise VectorIndexError("Vector indexes need faiss: pip install 'deeplake_nb[vdb]' (faiss-cpu).") from None
    return faiss


# -- the tensor's content ----------------------------------------------------------------------
def fingerprint(store: Any, handle: Any) -> str | None:
    """A digest of the object names that hold ``handle``'s chunks in the version ``store`` shows
    (None when the store is not versioned). Equal fingerprints mean equal rows."""
    object_of = getattr(store, "object_of", None)
    if object_of is None:
        return None
    rows, step = int(handle.nrows), int(handle.rows_per_chunk)
    digest = hashlib.sha256(f"{np.dtype(handle.dtype).str}|{tuple(handle.row_shape)}|{rows}|{step}".encode())
    for k in range(-(-rows // step)):
        digest.update(b"|" + str(object_of(handle.chunk_key(k))).encode())
    return digest.hexdigest()[:32]


@dataclass
class _Target:
    """A tensor as an index sees it: its dense rows, version store and content fingerprint."""

    scan: TensorScan
    store: Any
    physical: Any
    fingerprint: str

    @property
    def reader(self) -> Any:
        return self.scan.dense

    @property
    def dim(self) -> int:
        return int(np.prod(self.reader.row_shape, dtype=np.int64))


_MEMO: weakref.WeakKeyDictionary[Any, dict[Any, tuple[int, Any, Any]]] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


def _memo(dataset: Any, cache: Any, key: tuple, compute: Callable[[], Any], store: Any = None) -> Any:
    """``compute()`` of ``dataset``'s current content, kept: in a read-only version's ``cache``
    (its content cannot change), or per writable dataset state while its ``changes`` counter
    (bumped before every write, after a flush lands one, and at every checkout, reset or merge)
    and its store are the ones it was computed under, and were before and after computing; neither:
    computed every time. ``store``: the version store ``compute`` reads, when the caller took it
    earlier (a value computed from another store than the state's is never kept)."""
    if cache is not None:
        found = cache.get(("vdb", *key))
        if found is None:
            found = (compute(),)
            cache.put(("vdb", *key), found, 256)
        return found[0]
    state = internal.state(dataset) if isinstance(dataset, Dataset) else None
    if state is None:
        return compute()
    with _MEMO_LOCK:
        hit = _MEMO.get(state, {}).get(key)
    if hit is not None and hit[0] == state.changes and hit[1] is state.zarr_store:
        return hit[2]
    changes, current = state.changes, state.zarr_store  # read before computing: a write bumps them
    value = compute()
    with _MEMO_LOCK:  # kept only when no write or switch (of any thread) moved them meanwhile
        if state.changes == changes and state.zarr_store is current and (store is None or store is current):
            _MEMO.setdefault(state, {})[key] = (changes, current, value)
    return value


def _target(dataset: Any, key: str, scan: TensorScan | None = None, quiet: bool = False) -> _Target | None:
    store = dataset.zarr_store()  # buffered writes are published first, so every object name is final
    scan = scan if scan is not None else TensorScan(dataset, key)
    found = _memo(dataset, scan.cache, ("target", key), lambda: _identify(store, scan), store)
    if isinstance(found, str):
        if quiet:
            return None
        raise VectorIndexError(f"Tensor {key!r} {found}: a vector index needs a tensor of "
                               "fixed-length numeric vectors (e.g. htype='embedding', one shape for every row).")
    return _Target(scan, store, *found)  # (physical store, fingerprint): no reference to the version's store


def _identify(store: Any, scan: TensorScan) -> tuple[Any, str] | str:
    """(physical store, fingerprint) of the tensor ``scan`` reads, or why it cannot be indexed."""
    reader = scan.dense
    problem = None
    if scan.mode != "dense" or reader is None:
        problem = "is not a tensor of fixed-shape numeric rows"
    elif reader.dtype.kind not in "biuf" or not reader.row_shape:
        problem = "does not hold numeric vectors"
    physical = getattr(getattr(store, "repository", None), "physical", None)
    if problem is None and physical is None:
        problem = "is not in a versioned dataset"
    found = None if problem is not None or reader is None else fingerprint(store, reader.handle)
    if found is None:
        return problem or "cannot be indexed"
    return physical, found


_LISTED: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, Any]]] = weakref.WeakKeyDictionary()
"""Listings of a writable dataset state's indexes by fingerprint, with the ``_EPOCH`` they were read at."""
_EPOCH = [0]
"""Bumped by every index created or deleted in this process: cached listings are read again."""


def _records(physical: Any, fp: str, cache: Any = None, state: Any = None) -> list[Record]:
    """The records of content ``fp``; ``cache``: a read-only version's, which keeps the listing,
    ``state``: a writable dataset's, which keeps it until this process creates or deletes an index
    (an index created or deleted by another process shows after reopening, as other changes do)."""
    found = cache.get(("vdb-records", fp)) if cache is not None else None
    if found is not None:
        return found
    epoch = _EPOCH[0]
    if state is not None:
        listed = _LISTED.get(state, {}).get(fp)
        if listed is not None and listed[0] == epoch:
            return listed[1]
    keys = [f"{PREFIX}/{fp}/{name}" for name in sorted(physical.list_dir(f"{PREFIX}/{fp}")) if name.endswith(".json")]
    records = [record for record in map(Record.parse, physical.get_many(keys) if keys else []) if record is not None]
    if cache is not None:
        cache.put(("vdb-records", fp), records, 1024)
    elif state is not None:
        _LISTED.setdefault(state, {})[fp] = (epoch, records)
    return records


def _prefix(store: Any, reader: Any, rows: int) -> str:
    """What :attr:`Record.prefix` holds for the first ``rows`` rows of ``reader``'s tensor in the
    version ``store`` shows: the object names of the chunks they fill (never reused, so equal names
    mean equal bytes) and a digest of the values of the rows in the chunk they fill in part."""
    step = int(reader.rows_per_chunk)
    full, part = divmod(rows, step)
    handle = reader.handle
    names = hashlib.sha256(f"{np.dtype(handle.dtype).str}|{tuple(handle.row_shape)}|{step}".encode())
    for k in range(full):
        names.update(b"|" + str(store.object_of(handle.chunk_key(k))).encode())
    values = hashlib.sha256(np.ascontiguousarray(reader.read_range(rows - part, rows)).tobytes()).hexdigest()[:32] \
        if part else ""
    return f"{step}:{names.hexdigest()[:32]}:{values}"


def _all_records(physical: Any, cache: Any = None, state: Any = None) -> list[tuple[str, Record]]:
    """Every index record of the dataset (any content) with its fingerprint, kept as :func:`_records`
    keeps a listing."""
    found = cache.get(("vdb-records", "*")) if cache is not None else None
    if found is not None:
        return found
    epoch = _EPOCH[0]
    if state is not None:
        listed = _LISTED.get(state, {}).get("*")
        if listed is not None and listed[0] == epoch:
            return listed[1]
    keys = [key for key in sorted(physical.list_prefix(PREFIX + "/")) if key.endswith(".json")]
    records = [(key.split("/")[1], record) for key, record in zip(keys, map(Record.parse, physical.get_many(keys)
                                                                                 if keys else []))
               if record is not None]
    if cache is not None:
        cache.put(("vdb-records", "*"), records, 1024 * (1 + len(records)))
    elif state is not None:
        _LISTED.setdefault(state, {})["*"] = (epoch, records)
    return records


MAX_TAIL = 0.25
"""An index of a version's first rows serves a later version with rows appended while those rows
are at most this share of it (they are scanned exactly beside the graph search); more, and queries
scan exactly until ``create_vdb_index`` extends the index."""


def _extended(dataset: Any, target: _Target, distance: str | None = None, index_id: str | None = None,
              max_tail: float = MAX_TAIL) -> list[tuple[str, Record]]:
    """(fingerprint, record) of indexes built over an earlier content of which the tensor's first
    rows are unchanged and to which rows were only appended (at most ``max_tail`` of the rows),
    the most rows first; checked by :func:`_prefix`, kept as the fingerprint is."""
    reader = target.reader
    nrows, step, dim = int(reader.nrows), int(reader.rows_per_chunk), target.dim
    state = internal.state(dataset) if isinstance(dataset, Dataset) else None
    cache = target.scan.cache
    found = []
    for fp, record in _all_records(target.physical, cache, state):
        if record.dim != dim or not 0 < record.rows < nrows or nrows - record.rows > max_tail * nrows \
                or (distance is not None and record.distance != distance) \
                or (index_id is not None and record.id != index_id):
            continue
        prefix = record.prefix or _memo(dataset, cache, ("legacy prefix", record.object),
                                        partial(_legacy_prefix, dataset, record, fp))
        if not prefix.startswith(f"{step}:"):
            continue
        mine = _memo(dataset, cache, ("prefix", target.scan.key, record.rows),
                     partial(_prefix, target.store, reader, record.rows), target.store)
        if mine == prefix:
            found.append((fp, record if record.prefix else dataclasses.replace(record, prefix=prefix)))
    return sorted(found, key=lambda item: -item[1].rows)


def _legacy_prefix(dataset: Any, record: Record, fp: str) -> str:
    """The prefix of a record written before records kept one, from the version it names while
    that version still holds the content it indexed (its fingerprint is ``fp``); "" otherwise
    (the version is gone, or was committed with more changes than were indexed)."""
    try:
        old = internal.open_version(dataset, record.commit)
        reader = TensorScan(old, record.tensor).dense
        store = internal.versioned_store(old)
        if reader is None or int(reader.nrows) != record.rows or fingerprint(store, reader.handle) != fp:
            return ""
        return _prefix(store, reader, record.rows)
    except (DeepLakeNBError, KeyError, ValueError, TypeError, AttributeError):
        return ""


# -- Tensor methods ----------------------------------------------------------------------------
def create_vdb_index(tensor: Any, id: str = "hnsw_1", distance: Any = "cosine_similarity",  # noqa: A002
                     additional_params: dict[str, int] | None = None) -> dict[str, Any]:
    """Build an HNSW index of ``tensor``'s rows as they are now and store it with this version;
    returns its listing entry (``get_vdb_indexes``). See the module docstring."""
    index_id, distance, params = _check_id(id), _check_distance(distance), _check_params(additional_params)
    tune = not (isinstance(additional_params, dict) and "efSearch" in additional_params)
    target = _target(tensor.dataset, tensor.key)
    assert target is not None
    physical, reader = target.physical, target.reader
    if physical.read_only:
        raise ReadOnlyError(f"Dataset {getattr(tensor.dataset, 'path', '')!r} is opened read-only: open it writable "
                            "to create a vector index.")
    if reader.nrows == 0:
        raise VectorIndexError(f"Tensor {tensor.key!r} has no rows to index; append some first.")
    if physical.get(_record_key(target.fingerprint, index_id)) is not None:
        raise VectorIndexError(f"Tensor {tensor.key!r} already has a vector index {index_id!r} for its current "
                               f"content; delete_vdb_index({index_id!r}) first, or choose another id.")
    faiss = _faiss()
    start = time.perf_counter()
    given = {k: v for k, v in (additional_params or {}).items() if k in ("M", "efConstruction")}
    earlier = next((r for _, r in _extended(tensor.dataset, target, distance, index_id, max_tail=1.0)
                    if all(r.params.get(k) == v for k, v in given.items())), None)
    graph = None if earlier is None else _load(physical, earlier, reader, copy=True)
    storage = STORAGE if given else SCAN_STORAGE  # HNSW's parameters given: a graph
    if graph is not None and earlier is not None:  # rows were appended to what it indexes: add them
        storage = earlier.storage
        params = {**earlier.params, **({"efSearch": params["efSearch"]} if not tune else {})}
        recall = None if not tune else (earlier.recall if earlier.recall >= 0 else None)
        _extend(faiss, graph, target, distance, earlier.rows, tensor.key)
    elif storage == SCAN_STORAGE and (updated := _updated_codes(faiss, tensor.dataset, target, index_id, distance,
                                                                 tensor.key)) is not None:
        graph, before = updated  # rows updated, popped or appended: the codes of the unchanged chunks kept
        params = {"efSearch": params["efSearch"] if not tune else before.ef_search}
        recall = None if not tune or before.recall < 0 else before.recall
    else:
        if storage == SCAN_STORAGE:
            params = {"efSearch": params["efSearch"] if not tune else SCAN_DEFAULT_DEPTH}
        graph, recall = _build(faiss, target, distance, params, tensor.key, tune, storage)
    blob = faiss.serialize_index(_stored_part(faiss, graph, storage))
    del graph
    store = target.store
    commit = store.pending_id if store.has_changes else store.head
    name = new_name()
    record = Record(index_id, distance, params, int(reader.nrows), target.dim, commit, name, int(blob.nbytes),
                    time.perf_counter() - start, tensor.key, time.time(), -1.0 if recall is None else recall,
                    storage=storage,
                    prefix=_prefix(store, reader, int(reader.nrows)))
    physical.set(OBJECTS + name, blob.data)  # the object first, its record last
    del blob
    key = _record_key(target.fingerprint, index_id)
    physical.set(key, record.to_json())
    _EPOCH[0] += 1
    physical.flush_to_disk([OBJECTS + name, key])
    return record.public()


def _build(faiss: Any, target: _Target, distance: str, params: dict[str, int], key: str,
           tune: bool, storage: str) -> tuple[Any, float | None]:
    """The index (``storage``: see ``STORAGE`` and ``SCAN_STORAGE``) of every row, and (when
    ``tune``) the recall@10 of the depth it chose for ``params["efSearch"]`` (set in place); see
    the module docstring."""
    from tqdm.auto import tqdm

    reader, d = target.reader, target.dim
    metric = faiss.METRIC_INNER_PRODUCT if distance == "cosine_similarity" else faiss.METRIC_L2
    rows = reader.nrows
    threads = os.cpu_count() or 1
    if storage == SCAN_STORAGE:  # 4-bit codes of every row, the best re-ranked on float32 rows
        codes = faiss.IndexPQ(d, d // 2 if d % 2 == 0 else d, 4, metric)  # stored; searched as IndexPQFastScan
        codes.pq.cp.min_points_per_centroid = 1  # few rows train too (no warning): a re-rank of them all
        graph = faiss.IndexRefineFlat(codes)
        threads = 1  # small steps: OpenMP's threads would wait for each other (training 0.7 s on one, 5-15 s on two busy cores)
        with _threads(faiss, threads):
            graph.train(_training_rows(reader, d, distance, key))
    elif storage == "sq8":  # the graph walked over 8-bit codes, its candidates re-ranked on float32 rows
        base = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, params["M"], metric)
        base.hnsw.efConstruction = params["efConstruction"]
        graph = faiss.IndexRefineFlat(base)
        graph.train(_vectors(reader, 0, min(rows, _BUILD_ROWS), d, distance, key))
    else:
        graph = faiss.IndexHNSWFlat(d, params["M"], metric)
        graph.hnsw.efConstruction = params["efConstruction"]
    held = min(TUNE_QUERIES, rows // 10) if tune else 0
    body = rows - held
    queries = _vectors(reader, body, rows, d, distance, key) if held else None
    truth = _Nearest(faiss, queries, distance) if queries is not None else None
    with _threads(faiss, threads), \
            tqdm(total=rows, desc=f"vdb index {key}", unit="row", leave=False) as bar:
        for a in range(0, body, _BUILD_ROWS):
            b = min(body, a + _BUILD_ROWS)
            x = _vectors(reader, a, b, d, distance, key)
            if truth is not None:
                truth.add(x, a)
            _add(graph, x, key, a)
            bar.update(b - a)
        recall = None
        if queries is not None and truth is not None:
            searched = _searchable(faiss, graph) if storage == SCAN_STORAGE else graph
            params["efSearch"], recall = _tune(faiss, searched, storage, queries, truth.rows())
            del searched
            _add(graph, queries, key, body)
            bar.update(held)
    return graph, recall


def _updated_codes(faiss: Any, dataset: Any, target: _Target, index_id: str, distance: str,
                   key: str) -> tuple[Any, Record] | None:
    """The codes (``IndexPQ``) of every row of ``target`` made from the newest "pq4fs" index
    ``index_id`` of tensor ``key`` (same distance and row length) built for another content: the
    codes of each whole chunk whose object the two versions share are copied (one object name
    means the same rows at the same places), the other chunks' rows encoded with its codebooks;
    and that record (its depth and estimate are kept). None (build afresh) when there is no such
    index, its version is gone or holds another content than it indexed, its object is not plain
    codes, chunk sizes differ, or more than ``MAX_TAIL`` of the rows would be encoded (codebooks
    trained on other rows)."""
    state = internal.state(dataset) if isinstance(dataset, Dataset) else None
    found = [(fp, r) for fp, r in _all_records(target.physical, target.scan.cache, state)
             if r.id == index_id and r.tensor == key and r.distance == distance and r.dim == target.dim
             and r.storage == SCAN_STORAGE and fp != target.fingerprint]
    if not found:
        return None
    fp, record = max(found, key=lambda item: item[1].created)
    reader, store = target.reader, target.store
    step, rows = int(reader.rows_per_chunk), int(reader.nrows)
    try:
        old = internal.open_version(dataset, record.commit)
        old_reader = TensorScan(old, key).dense
        old_store = internal.versioned_store(old)
        if old_reader is None or int(old_reader.nrows) != record.rows or int(old_reader.rows_per_chunk) != step \
                or fingerprint(old_store, old_reader.handle) != fp:
            return None
        kept = [k for k in range(min(rows, record.rows) // step)
                if store.object_of(reader.handle.chunk_key(k)) == old_store.object_of(old_reader.handle.chunk_key(k))]
    except (DeepLakeNBError, KeyError, ValueError, TypeError, AttributeError):
        return None
    if rows - len(kept) * step > MAX_TAIL * rows:
        return None
    data = target.physical.get(OBJECTS + record.object)
    try:
        if data is None or len(data) != record.nbytes:
            return None
        codes = faiss.deserialize_index(np.frombuffer(data, np.uint8))
    except RuntimeError:
        return None
    if not isinstance(codes, faiss.IndexPQ) or codes.ntotal != record.rows or codes.d != target.dim:
        return None
    old_codes = faiss.vector_to_array(codes.codes).reshape(record.rows, codes.code_size)
    out = np.empty((rows, codes.code_size), np.uint8)
    keep = np.zeros(-(-rows // step), bool)
    keep[kept] = True
    with _threads(faiss, 1):
        for k in range(len(keep)):
            a, b = k * step, min(rows, (k + 1) * step)
            out[a:b] = old_codes[a:b] if keep[k] else codes.sa_encode(_vectors(reader, a, b, target.dim, distance, key))
        codes.reset()
        codes.add_sa_codes(out)
    return codes, record


def _training_rows(reader: Any, d: int, distance: str, key: str) -> np.ndarray:
    """Up to ``_PQ_TRAIN_ROWS`` rows in 16 runs spread evenly over the tensor (rows sorted by class
    or time train codebooks for all of them), at least 16 (repeated when the tensor has fewer)."""
    rows = int(reader.nrows)
    if rows <= _PQ_TRAIN_ROWS:
        x = _vectors(reader, 0, rows, d, distance, key)
    else:
        run = _PQ_TRAIN_ROWS // 16
        x = np.concatenate([_vectors(reader, a, a + run, d, distance, key)
                            for a in np.linspace(0, rows - run, 16).astype(np.int64).tolist()])
    return x if len(x) >= 16 else np.resize(x, (16, d))


def _extend(faiss: Any, graph: Any, target: _Target, distance: str, first: int, key: str) -> None:
    """Add rows ``first`` onwards to ``graph`` (an index of the rows before them)."""
    from tqdm.auto import tqdm

    reader, d, rows = target.reader, target.dim, int(target.reader.nrows)
    with _threads(faiss, os.cpu_count() or 1), \
            tqdm(total=rows - first, desc=f"vdb index {key} (appended rows)", unit="row", leave=False) as bar:
        for a in range(first, rows, _BUILD_ROWS):
            b = min(rows, a + _BUILD_ROWS)
            _add(graph, _vectors(reader, a, b, d, distance, key), key, a)
            bar.update(b - a)


def _vectors(reader: Any, a: int, b: int, d: int, distance: str, key: str) -> np.ndarray:
    """Rows ``[a, b)`` as float32 vectors as the graph holds them (unit rows for cosine);
    VectorIndexError naming the first row that is not finite."""
    x = np.ascontiguousarray(reader.read_range(a, b).reshape(b - a, d), dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise VectorIndexError(f"Row {a + int(np.flatnonzero(bad)[0])} of tensor {key!r} holds NaN or "
                               "infinity (or a value beyond float32): fix it, or query without an index.")
    return _unit(x) if distance == "cosine_similarity" else x


def _add(graph: Any, x: np.ndarray, key: str, a: int) -> None:
    try:
        graph.add(x)
    except (RuntimeError, MemoryError) as exc:  # faiss's own checks (e.g. memory for the graph)
        raise VectorIndexError(f"Building the vector index of tensor {key!r} failed at row {a}: {exc}. "
                               "Free memory or pass a smaller additional_params['M'], then try "
                               "again; the dataset is unchanged.") from None


class _Nearest:
    """The exact 10 nearest rows of each query vector among the rows shown to :meth:`add`, kept
    as they stream past (inner product of unit rows for cosine, squared L2 otherwise; faiss's
    brute-force ``knn`` of each batch, float32)."""

    K = 10

    def __init__(self, faiss: Any, queries: np.ndarray, distance: str) -> None:
        self.faiss = faiss
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.cosine = distance == "cosine_similarity"
        self.ids = np.empty((len(queries), 0), np.int64)
        self.keys = np.empty((len(queries), 0), np.float32)  # smaller is nearer

    def add(self, x: np.ndarray, first: int) -> None:
        metric = self.faiss.METRIC_INNER_PRODUCT if self.cosine else self.faiss.METRIC_L2
        keys, ids = self.faiss.knn(self.queries, np.ascontiguousarray(x, dtype=np.float32), min(self.K, len(x)),
                                   metric=metric)
        keys, ids = np.hstack([self.keys, -keys if self.cosine else keys]), np.hstack([self.ids, ids + first])
        if keys.shape[1] > self.K:
            keep = np.argpartition(keys, self.K - 1, axis=1)[:, :self.K]
            keys, ids = np.take_along_axis(keys, keep, 1), np.take_along_axis(ids, keep, 1)
        self.keys, self.ids = keys, ids

    def rows(self) -> np.ndarray:
        return self.ids


def _search_params(faiss: Any, graph: Any, depth: int, selector: Any = None) -> Any:
    """Search parameters of ``graph`` at ``depth``: an HNSW graph's, or for a refined graph its base
    graph's with ``REFINE`` times the rows asked re-ranked on the float32 rows."""
    hnsw = faiss.SearchParametersHNSW(efSearch=depth, sel=selector)
    if isinstance(graph, faiss.IndexRefine):
        return faiss.IndexRefineSearchParameters(k_factor=REFINE, base_index_params=hnsw)
    return hnsw


def _nearest(faiss: Any, index: Any, storage: str, queries: np.ndarray, want: int, depth: int,
             subset: np.ndarray | None = None) -> np.ndarray:
    """(len(queries), want) row numbers of the index's nearest rows to each of ``queries`` (float32,
    as the index holds rows), -1 where fewer were found; only rows in ``subset`` (ascending) when
    given. A graph is searched at ``depth``; a "pq4fs" index ranks every row by its codes and
    re-ranks the ``depth`` (per 10 asked) best of ``subset`` on its float32 rows."""
    if storage != SCAN_STORAGE:
        selector = None if subset is None else faiss.IDSelectorBatch(subset)
        _, labels = index.search(queries, want, params=_search_params(faiss, index, max(depth, want), selector))
        return np.asarray(labels)
    total = int(index.ntotal)
    depth = min(total, max(want, -(-depth * max(want, 10) // 10)))
    if subset is None:  # faiss's own re-rank of the ``depth`` best by their codes
        params = faiss.IndexRefineSearchParameters(k_factor=depth / want)
        _, labels = index.search(queries, want, params=params)
        return np.asarray(labels)
    # proportionally more rows by their codes, those of ``subset`` kept, their ``depth`` best re-ranked
    _, codes_best = faiss.downcast_index(index.base_index).search(queries, min(total, -(-depth * total // len(subset))))
    rows = faiss.downcast_index(index.refine_index)
    l2 = index.metric_type == faiss.METRIC_L2
    out = np.full((len(queries), want), -1, np.int64)
    for i, found in enumerate(codes_best):
        found = found[found >= 0]
        at = np.minimum(np.searchsorted(subset, found), len(subset) - 1)
        found = found[subset[at] == found][:depth]
        x = rows.reconstruct_batch(found)
        near = x @ queries[i]
        key = np.einsum("ij,ij->i", x, x) - 2 * near if l2 else -near  # the order of the distances
        best = found[np.argsort(key, kind="stable")[:want]]
        out[i, :len(best)] = best
    return out


def _tune(faiss: Any, index: Any, storage: str, queries: np.ndarray, truth: np.ndarray) -> tuple[int, float]:
    """The first of ``TUNE_DEPTHS`` (``SCAN_TUNE_DEPTHS`` for "pq4fs") whose recall@10 of ``truth``
    reaches ``TUNE_RECALL`` (else the deepest), and that recall."""
    k = truth.shape[1]
    recall = 0.0
    depths = TUNE_DEPTHS if storage != SCAN_STORAGE else SCAN_TUNE_DEPTHS
    for depth in depths:
        found = _nearest(faiss, index, storage, queries, k, max(depth, k))
        recall = float(np.mean([len(np.intersect1d(f, t)) / k for f, t in zip(found, truth)]))
        if recall >= TUNE_RECALL:
            return depth, recall
    return depths[-1], recall


@contextmanager
def _threads(faiss: Any, count: int) -> Iterator[None]:
    """faiss's OpenMP threads set to ``count`` for the block and given back after it (the setting
    is process-wide: other users of OpenMP in the process keep theirs)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (rows of zeros stay zeros: their cosine is 0, as the query engine's)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x.astype(np.float64), x.astype(np.float64)))
    out = x / np.where(norms > 0, norms, 1)[:, None]
    return np.ascontiguousarray(out, dtype=np.float32)


def _usable(tensor: Any, target: _Target) -> list[tuple[Record, str]]:
    """The indexes queries of ``tensor``'s current content use, with their record keys: those of
    this content, then (for other ids) the one of an earlier content with the most rows of which
    rows were only appended since (``unindexed_rows`` in the listing; they are scanned exactly)."""
    state = internal.state(tensor.dataset) if isinstance(tensor.dataset, Dataset) else None
    found = [(r, _record_key(target.fingerprint, r.id))
             for r in _records(target.physical, target.fingerprint, target.scan.cache, state)]
    ids = {r.id for r, _ in found}
    for fp, record in _extended(tensor.dataset, target):
        if record.id not in ids:
            ids.add(record.id)
            found.append((record, _record_key(fp, record.id)))
    return found


def get_vdb_indexes(tensor: Any) -> list[dict[str, Any]]:
    """The indexes queries of ``tensor``'s current content use: those built for it and those of an
    earlier content to which rows were appended since (see :func:`_usable`); none after an update
    or pop of indexed rows."""
    target = _target(tensor.dataset, tensor.key, quiet=True)
    if target is None:
        return []
    out = []
    for record, _ in _usable(tensor, target):
        entry = record.public()
        entry["unindexed_rows"] = int(target.reader.nrows) - record.rows
        out.append(entry)
    return out


def delete_vdb_index(tensor: Any, id: str) -> None:  # noqa: A002
    """Remove the index ``id`` that queries of ``tensor``'s current content use (its object goes at
    the next gc). An index of an earlier content used for its rows goes for that content too."""
    index_id = _check_id(id)
    target = _target(tensor.dataset, tensor.key, quiet=True)
    key = None if target is None else next((k for r, k in _usable(tensor, target) if r.id == index_id), None)
    if target is None or key is None or target.physical.get(key) is None:
        raise VectorIndexNotFoundError(f"Tensor {tensor.key!r} has no vector index {index_id!r} for its current "
                                       "content; get_vdb_indexes() lists the ones it has.")
    if target.physical.read_only:
        raise ReadOnlyError("The dataset is opened read-only: open it writable to delete a vector index.")
    target.physical.delete(key)
    _EPOCH[0] += 1


# -- queries -----------------------------------------------------------------------------------
def _match(expr: n.Expr, descending: bool) -> tuple[n.TensorRef, str, np.ndarray] | None:
    """(tensor, distance, query vector) when ``expr`` orders by a distance an index answers:
    cosine_similarity best first, l2_norm nearest first (``topk.distance_operands``)."""
    operands = distance_operands(expr)
    if operands is None or not isinstance(expr, n.Call) \
            or (expr.name, descending) not in (("cosine_similarity", True), ("l2_norm", False)):
        return None
    a, b, _ = operands
    distance = expr.name
    value = np.asarray(b.value)
    if value.dtype.kind not in "biuf":
        return None
    return a, distance, value.reshape(-1)


def candidates(ev: Any, expr: n.Expr, rows: Any, descending: bool, k: int, ef_search: int | None = None
               ) -> np.ndarray | tuple[np.ndarray, Key] | None:
    """Row numbers (ascending, into ``rows``) of the ``k`` rows the tensor's fresh index finds
    nearest, for the caller to key exactly and sort, or (row numbers, their exact oriented keys:
    sort descending) when they could be keyed here without reading the tensor (``_graph_keys``);
    None when no index applies (then the caller scans exactly): no matching expression or index,
    grouped rows, too narrow a selection, or fewer than ``min(k, rows)`` rows found."""
    found = _match(expr, descending)
    if found is None or rows.offsets is not None or k <= 0 or rows.n == 0:
        return None
    ref, distance, vector = found
    scan = ev.scan(ref.key)
    reader = scan.dense
    if scan.mode != "dense" or reader is None or vector.size != int(np.prod(reader.row_shape, dtype=np.int64)):
        return None
    nrows = reader.nrows
    positions = rows.positions
    subset = None
    if not (isinstance(positions, range) and positions.step == 1 and positions.start == 0 and positions.stop == nrows):
        subset = as_array(positions)
        if len(subset) < MIN_SHARE * nrows or not (np.diff(subset) > 0).all() or subset[0] < 0 or subset[-1] >= nrows:
            return None
    query = vector.astype(np.float64)
    if not np.isfinite(query).all() or (distance == "cosine_similarity" and not np.any(query)):
        return None  # NaN scores or all ties: the exact path orders those
    target = _target(ev.dataset, ref.key, scan, quiet=True)
    if target is None:
        return None
    state = internal.state(ev.dataset) if isinstance(ev.dataset, Dataset) else None
    record = next((r for r in _records(target.physical, target.fingerprint, scan.cache, state) if r.distance == distance
                   and r.rows == nrows and r.dim == vector.size), None)
    if record is None:  # an index of the rows before the last appends: they are scanned exactly
        record = next((r for _, r in _extended(ev.dataset, target, distance)), None)
    graph = None if record is None else _load(target.physical, record, reader)
    if graph is None or record is None:
        return None
    indexed = record.rows  # the graph holds rows [0, indexed); the rest are scanned exactly
    cut = indexed if subset is None else int(np.searchsorted(subset, indexed))  # first row number >= indexed
    want = min(k, cut)
    faiss = _faiss()
    depth = max(ef_search or record.ef_search, want)
    if distance == "cosine_similarity":
        query = query / np.sqrt(query @ query)
    labels: Any = np.zeros((1, 0), np.int64)
    try:
        with _threads(faiss, 1):  # one query: OpenMP's threads would only wait for each other
            if want:
                labels = _nearest(faiss, graph, record.storage, np.ascontiguousarray(query[None], dtype=np.float32),
                                  want, depth, None if subset is None else subset[:cut])
    except (RuntimeError, MemoryError) as exc:
        warnings.warn(f"Vector index {record.id!r} could not answer ({exc}); the query scans exactly. If this "
                      "repeats, delete the index with delete_vdb_index and create it again.", RuntimeWarning,
                      stacklevel=4)
        return None
    labels = labels[0][labels[0] >= 0]
    if len(labels) < want:
        return None
    labels = np.unique(labels)
    near = labels if subset is None else np.searchsorted(subset, labels)
    key = _graph_keys(ev, expr, descending, graph, labels, distance, reader)
    if cut < rows.n:  # the appended rows: their own best k, exactly (topk's chunk scan)
        tail = np.arange(cut, rows.n, dtype=np.int64)
        best = topk.candidates(ev, expr, rows.take(tail), descending, k)
        if best is None or key is None:
            near, key = np.union1d(near, tail if best is None else tail[best[0]]), None
        else:  # graph rows all come before the appended ones: concatenated, still ascending
            near = np.concatenate([near, tail[best[0]]])
            key = Key(np.concatenate([key.values, best[1].values]), np.concatenate([key.missing, best[1].missing]))
    return near if key is None else (near, key)


def _graph_keys(ev: Any, expr: n.Expr, descending: bool, graph: Any, labels: np.ndarray, distance: str,
                reader: Any) -> Key | None:
    """The exact oriented keys (``topk``'s: larger is better) of rows ``labels`` of an L2 index of
    float32 rows, from the rows the graph holds (bit-identical copies of the stored rows: no chunk
    is read to key them); None otherwise (a cosine graph holds unit rows, other dtypes were
    converted), and the caller keys the rows from the tensor."""
    if distance != "l2_norm" or np.dtype(reader.dtype) != np.float32 or not len(labels):
        return None
    found = topk.plan(ev, expr, descending)
    if found is None:
        return None
    try:
        x = graph.reconstruct_batch(labels.astype(np.int64))
    except (RuntimeError, AttributeError):  # a graph whose storage cannot give rows back
        return None
    score = np.asarray(found.exact(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float64)
    return Key(score, np.isnan(score))


class _Loaded:
    """Deserialised graphs by object name (objects never change), least recently used out first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.nbytes = 0

    def get(self, name: str) -> Any:
        with self.lock:
            item = self.items.get(name)
            if item is None:
                return None
            self.items.move_to_end(name)
            return item[0]

    def put(self, name: str, graph: Any, nbytes: int) -> None:
        with self.lock:
            if name in self.items or nbytes > LOADED_BYTES:
                return
            self.items[name] = (graph, nbytes)
            self.nbytes += nbytes
            while self.nbytes > LOADED_BYTES:
                _, (_, size) = self.items.popitem(last=False)
                self.nbytes -= size


_LOADED = _Loaded()


def _stored_part(faiss: Any, index: Any, storage: str) -> Any:
    """What the object of an index holds: a "pq4fs" index's codes alone (``IndexPQ``, one row of
    d/4 bytes per row, which :func:`_updated_codes` can copy row by row; its float32 rows are the
    tensor's, read back by :func:`_load`), any other index whole."""
    if storage == SCAN_STORAGE and isinstance(index, faiss.IndexRefine):
        return faiss.downcast_index(index.base_index)
    return index


def _searchable(faiss: Any, index: Any) -> Any:
    """A "pq4fs" index of ``IndexPQ`` codes over float32 rows (``IndexRefine``) as queries search
    it: the codes repacked for SIMD scans (``IndexPQFastScan``, 0.1 s a million rows), the same rows."""
    codes = faiss.downcast_index(index.base_index)
    if not isinstance(codes, faiss.IndexPQ):
        return index
    out = faiss.IndexRefine(faiss.IndexPQFastScan(codes), faiss.downcast_index(index.refine_index))
    out.referenced_objects = [*getattr(out, "referenced_objects", []), index]  # owns the rows it re-ranks on
    return out


def _load(physical: Any, record: Record, reader: Any, copy: bool = False) -> Any:
    """The index ``record`` names (None, with a warning, when its object is damaged); ``copy``: one
    of the caller's own to change, never the one queries share. The object of a "pq4fs" index
    holds its codes; the float32 rows it re-ranks on are rows ``[0, record.rows)`` of ``reader``
    (the tensor in a version whose first rows are the ones indexed: the callers' fingerprint or
    prefix check), read here once (objects written when they held the rows too are used whole)."""
    graph = None if copy else _LOADED.get(record.object)
    if graph is not None:
        return graph
    data = physical.get(OBJECTS + record.object)
    faiss = _faiss()
    nbytes = record.nbytes
    try:
        if data is None or len(data) != record.nbytes:
            raise ValueError("missing or cut short")
        graph = faiss.deserialize_index(np.frombuffer(data, np.uint8))
        del data
        if graph.ntotal != record.rows or graph.d != record.dim:
            raise ValueError("of another size")
        if record.storage == SCAN_STORAGE and not isinstance(graph, faiss.IndexRefine):
            if int(reader.nrows) < record.rows:
                raise ValueError("longer than its tensor")
            rows = faiss.IndexFlat(record.dim, graph.metric_type)
            for a in range(0, record.rows, _BUILD_ROWS):
                b = min(record.rows, a + _BUILD_ROWS)
                rows.add(_vectors(reader, a, b, record.dim, record.distance, record.tensor))
            graph = faiss.IndexRefine(graph, rows)
            if not copy:
                graph = _searchable(faiss, graph)
            nbytes += record.rows * record.dim * 4
    except (ValueError, RuntimeError, VectorIndexError) as exc:
        warnings.warn(f"Vector index {record.id!r} (object {record.object}) is damaged ({exc}); queries scan "
                      "exactly. Delete it with delete_vdb_index and create it again.", RuntimeWarning, stacklevel=4)
        return None
    if not copy:
        _LOADED.put(record.object, graph, nbytes)
    return graph


# -- garbage collection ------------------------------------------------------------------------
def _attached(physical: Any, live: set[str], cutoff: float) -> set[str]:
    """The index objects of live versions; records of dead versions older than ``cutoff`` go."""
    keep: set[str] = set()
    for key in physical.list_prefix(PREFIX + "/"):
        if not key.endswith(".json"):
            continue
        record = Record.parse(physical.get(key))
        if record is None:
            continue
        if record.commit in live:
            keep.add(record.object)
        elif (created_at(record.object) or cutoff) < cutoff:
            physical.delete(key)
            _EPOCH[0] += 1
    return keep


version_gc.register_attachments(_attached)
