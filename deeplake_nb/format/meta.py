"""Dataset and tensor metadata: one JSON document in the root zarr group's attributes.

Keeping every tensor's meta in one document makes opening a dataset with many tensors a
single read. The format version is recorded there and checked on open.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ChunkSizeError, FormatVersionError

FORMAT_VERSION = 3
"""1: the first format; 2: arrays may end each stored chunk with zarr's crc32c checksum; 3:
``chunk_compression="lz4"`` arrays are zarr's ``blosc`` (LZ4) instead of the ``deeplake_nb.lz4``
codec, so every new array uses only codecs of the Zarr v3 specification (``codecs``). A
dataset's root document is written with the current version, so a dataset that may hold such
arrays says so, and readers of older versions refuse it cleanly instead of misreading a chunk
(arrays describe their own codecs, so this version reads all three)."""
ATTR_KEY = "deeplake_nb"


@dataclass
class TensorMeta:
    """Everything about one tensor except its samples. ``layout`` is None until first write.
    ``htype`` is None for an untyped tensor (created without one, as Deep Lake v3 keeps it) until
    its first non-empty sample makes it generic, text or json; its ``base_htype`` is "generic", so
    the htype table treats it as generic meanwhile."""

    htype: str | None
    base_htype: str
    kind: str
    dtype: str | None
    sample_compression: str | None = None
    chunk_compression: str | None = None
    sequence: bool = False
    link: bool = False
    hidden: bool = False
    verify: bool = True  # link tensors: read each linked file when it is added (existence, shape)
    layout: str | None = None
    items_layout: str | None = None
    ndim: int | None = None
    max_chunk_size: int | None = None  # bytes per chunk of the sample data (v3's option); None: the format's
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def htype_name(self) -> str:
        """The htype messages name and comparisons use: ``htype``, "generic" for an untyped tensor."""
        return self.htype or "generic"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], owned: bool = False) -> TensorMeta:
        """The meta ``data`` describes; ``owned``: ``data`` is a document the caller just parsed
        and hands over (taken as is, not copied)."""
        return cls(**(data if owned else _json_copy(data)))


def _json_copy(value: Any) -> Any:
    """A copy of a JSON-like value sharing no dict or list with it (what ``copy.deepcopy`` gives,
    several times faster for the plain dicts, lists and scalars a parsed document holds)."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def check_chunk_size(value: object) -> int | None:
    """A tensor's ``max_chunk_size``: None, or a positive whole number of bytes (ChunkSizeError)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ChunkSizeError(f"max_chunk_size must be a positive number of bytes (e.g. 8 * 2**20); got {value!r}.")
    return int(value)


@dataclass
class DatasetMeta:
    """The root document: format version, tensor metas in creation order, groups, dataset info.
    ``single_row``: the dataset is a copy of one row (``dl.copy(ds[3], ...)``) and opens as that
    row, as in Deep Lake v3 (written only when set; readers that do not know it see one row).
    ``version``: the deeplake_nb version that created the dataset (v3's ``ds.meta.version``);
    None for datasets made before it was recorded. ``allow_delete``: v3's deletion guard (written
    only when False)."""

    tensors: dict[str, TensorMeta] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    single_row: bool = False
    version: str | None = None
    allow_delete: bool = True

    def to_json(self) -> dict[str, Any]:
        doc = {
            "format_version": max(self.format_version, FORMAT_VERSION),
            "tensors": {name: meta.to_json() for name, meta in self.tensors.items()},
            "groups": list(self.groups),
            "info": copy.deepcopy(self.info),
        }
        if self.single_row:
            doc["single_row"] = True
        if self.version is not None:
            doc["version"] = self.version
        if not self.allow_delete:
            doc["allow_delete"] = False
        return doc

    @classmethod
    def from_json(cls, data: dict[str, Any], owned: bool = False) -> DatasetMeta:
        """The meta ``data`` describes (copied, sharing nothing with it, unless ``owned``: a
        document the caller just parsed and hands over; a dataset's root document with 100
        tensors is copied in ~2 ms)."""
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise FormatVersionError(
                f"This dataset has format version {version!r}; this deeplake_nb reads versions up to "
                f"{FORMAT_VERSION}. Upgrade deeplake_nb to open it."
            )
        return cls(
            tensors={name: TensorMeta.from_json(m, owned) for name, m in data.get("tensors", {}).items()},
            groups=list(data.get("groups", [])),
            info=data.get("info", {}) if owned else _json_copy(data.get("info", {})),
            format_version=version,
            single_row=data.get("single_row") is True,
            version=data["version"] if isinstance(data.get("version"), str) else None,
            allow_delete=data.get("allow_delete") is not False,
        )


class DatasetMetaView:
    """Deep Lake v3's ``ds.meta``: a read-only look at a ``DatasetMeta``. ``version``: the
    deeplake_nb version that created the dataset (None if made before versions were recorded);
    ``tensors``: every tensor's key in creation order, hidden ones included; ``hidden_tensors``:
    the hidden ones' keys; ``groups``: the groups' keys."""

    __slots__ = ("_meta",)

    def __init__(self, meta: DatasetMeta) -> None:
        self._meta = meta

    @property
    def version(self) -> str | None:
        return self._meta.version

    @property
    def tensors(self) -> list[str]:
        return list(self._meta.tensors)

    @property
    def hidden_tensors(self) -> list[str]:
        return [key for key, meta in self._meta.tensors.items() if meta.hidden]

    @property
    def groups(self) -> list[str]:
        return list(self._meta.groups)

    def __repr__(self) -> str:
        return (f"DatasetMeta(version={self.version!r}, tensors={self.tensors!r}, "
                f"hidden_tensors={self.hidden_tensors!r}, groups={self.groups!r})")
