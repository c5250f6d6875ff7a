"""Consolidated metadata: every metadata document of a version in one object.

Opening a dataset reads the root group's document and, for ``len(ds)``, each tensor's group and
array documents (``<tensor>/zarr.json``, ``<tensor>/_id/zarr.json`` ...), and zarr probes for the
v2 names (``.zgroup``, ``.zattrs``, ``.zmetadata``) too: about four reads per tensor, each a
round trip on an object store. A publish therefore also writes ``metadata/<name>``: the bytes of
every key of the version whose last part is one of :data:`NAMES` (JSON, keys sorted, zlib with
the preset :data:`DICTIONARY` since format 3, without one before), and the branch entry and
commit document name it. A version whose document is known
answers every metadata key from memory after one read, and says a metadata key it does not list
is absent, without loading the manifest.

The document is written only when a publish changed a metadata key (updates of samples in place,
which change no shape, reuse the previous one by name), or when the version had none (datasets
written before consolidated documents: their first publish reads their metadata keys once).
Like every name under ``objects/``, a document is written once and never changed; gc keeps
the documents reachable branches and commits name.

The document is redundant (the manifest and the objects it names hold the same bytes), so a
missing or damaged one is not an error: the version is then read key by key as before and its
next publish writes a fresh document. Only documents of the exact form written here are used.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import CorruptDatasetError
from . import documents
from .lru import WeightedLRU
from .names import new_name
from .physical import PhysicalStore

METADATA = "metadata/"
NAMES = frozenset({"zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata"})
"""The last parts of the keys a document holds: zarr v3's and v2's metadata documents."""
FORMAT = 1

Documents = dict[str, bytes]
"""Metadata key -> its bytes, for every metadata key of one version."""


def is_metadata_key(key: str) -> bool:
    """Whether ``key`` is a metadata key (its last part is one of :data:`NAMES`)."""
    return key.rsplit("/", 1)[-1] in NAMES


DICTIONARY = (
    b'{"format":1,"documents":{"a/zarr.json":"{\\n  \\"attributes\\": {},\\n  \\"zarr_format\\": 3,\\n  \\"nod'
    b'e_type\\": \\"group\\"\\n}","b/_id/zarr.json":"{\\n  \\"shape\\": [\\n    1000\\n  ],\\n  \\"data_type\\": \\'
    b'"uint64\\",\\n  \\"chunk_grid\\": {\\n    \\"name\\": \\"regular\\",\\n    \\"configuration\\": {\\n      \\"c'
    b'hunk_shape\\": [\\n        32768\\n      ]\\n    }\\n  },\\n  \\"chunk_key_encoding\\": {\\n    \\"name\\":'
    b' \\"default\\",\\n    \\"configuration\\": {\\n      \\"separator\\": \\"/\\"\\n    }\\n  },\\n  \\"fill_value'
    b'\\": 0,\\n  \\"codecs\\": [\\n    {\\n      \\"name\\": \\"bytes\\",\\n      \\"configuration\\": {\\n        '
    b'\\"endian\\": \\"little\\"\\n      }\\n    },\\n    {\\n      \\"name\\": \\"crc32c\\"\\n    }\\n  ],\\n  \\"att'
    b'ributes\\": {},\\n  \\"zarr_format\\": 3,\\n  \\"node_type\\": \\"array\\",\\n  \\"storage_transformers\\": '
    b'[]\\n}","zarr.json":"{\\n  \\"attributes\\": {\\n    \\"deeplake_nb\\": {\\n      \\"format_version\\": 3,'
    b'\\n      \\"tensors\\": {\\n        \\"images\\": {\\n          \\"htype\\": \\"image\\",\\n          \\"base'
    b'_htype\\": \\"image\\",\\n          \\"kind\\": \\"array\\",\\n          \\"dtype\\": \\"uint8\\",\\n         '
    b' \\"sample_compression\\": \\"jpeg\\",\\n          \\"chunk_compression\\": null,\\n          \\"sequence'
    b'\\": false,\\n          \\"link\\": false,\\n          \\"hidden\\": false,\\n          \\"verify\\": true'
    b',\\n          \\"layout\\": \\"ragged\\",\\n          \\"items_layout\\": null,\\n          \\"ndim\\": 3,\\'
    b'n          \\"max_chunk_size\\": null,\\n          \\"info\\": {}\\n        },"}}'
)
"""The preset zlib dictionary of metadata documents (format 3 on): one group, one array and the
start of a dataset root document as zarr writes them, whose text every version's documents
repeat (it takes a small dataset's document from ~680 to ~240 bytes, which a commit that changes
metadata writes). Documents name it by Adler-32, so it never changes; documents written before
format 3 have no dictionary and read as well."""


def encode(values: Mapping[str, bytes]) -> bytes | None:
    """The stored form of ``values``; None when one of them is not UTF-8 text (no zarr metadata
    document is binary, so such a version keeps no consolidated document)."""
    try:
        texts = {key: values[key].decode("utf-8") for key in sorted(values)}
    except UnicodeDecodeError:
        return None
    return documents.encode({"format": FORMAT, "documents": texts}, DICTIONARY)


def decode(blob: bytes, what: str) -> Documents:
    """The documents stored in ``blob``; CorruptDatasetError (naming ``what``) unless it has the
    form :func:`encode` writes: every key a relative metadata key, every value text."""
    data = documents.json_object(blob, what, compressed=True, dictionary=DICTIONARY)
    if data.get("format") != FORMAT or not isinstance(data.get("documents"), dict):
        raise documents.damaged(what, f"format {data.get('format')!r} with no 'documents' object")
    out = {}
    for key, text in data["documents"].items():
        if not is_metadata_key(documents.logical_key(key, what)) or not isinstance(text, str):
            raise documents.damaged(what, f"entry {key!r} is not a metadata document")
        out[key] = text.encode("utf-8")
    return out


def write(store: PhysicalStore, values: Mapping[str, bytes]) -> str | None:
    """Write ``values`` as a new document; its name, or None when they cannot be stored
    (see :func:`encode`). The caller makes it durable before a ref names it."""
    blob = encode(values)
    if blob is None:
        return None
    name = new_name()
    store.set(METADATA + name, blob)
    return name


def parse(store: PhysicalStore, name: str, blob: bytes | None) -> Documents | None:
    """The documents of ``name`` read as ``blob``; None when it is missing or damaged (the
    version is then read key by key, see the module docstring)."""
    if blob is None:
        return None
    try:
        return decode(blob, store.describe(METADATA + name))
    except CorruptDatasetError:
        return None


class DocumentCache(WeightedLRU[Documents]):
    """Parsed consolidated documents by name (they never change), up to ``capacity`` bytes of
    documents, least recently used first out: a merge opens its two sides and their ancestor,
    whose documents this repository just read or wrote. Cached documents are shared: callers
    take a copy (:meth:`copy_of`) before changing it. Thread-safe."""

    def __init__(self, capacity: int = 16 << 20) -> None:
        super().__init__(capacity, lambda docs: sum(len(k) + len(v) for k, v in docs.items()))

    def copy_of(self, name: str) -> Documents | None:
        """A private copy of document ``name``'s entries, or None when it is not cached."""
        found = self.get(name)
        return None if found is None else dict(found)
