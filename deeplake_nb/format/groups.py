"""Zarr groups opened from their stored documents, without zarr's event loop.

``zarr.open_group`` reads a group's ``zarr.json`` through zarr's asynchronous store API: a trip
through its event-loop thread (about 0.3-1 ms on a busy machine) for a document a version already
holds in memory. :func:`open_stored_group` reads the document through the dataset's
:class:`ByteStore` and builds the same ``zarr.Group`` over the same store, so writes through it
(attributes, child groups and arrays) go where zarr's own would. :func:`update_attributes`
writes a group's new attributes through the ``ByteStore`` too.
"""

from __future__ import annotations

import json
from typing import Any

import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import AsyncGroup, GroupMetadata
from zarr.storage import StorePath

from ..storage import ByteStore


def open_stored_group(store: ByteStore, zarr_store: Store, path: str = "") -> zarr.Group | None:
    """The existing zarr v3 group at ``path`` of ``zarr_store`` (``store`` reads the same
    keys), or None when its document is absent or not a zarr v3 group document: callers then
    ask zarr, which reports the problem in its words. Storage errors are raised as
    ``ByteStore.get`` raises them."""
    doc = v3_document(store.get(f"{path}/zarr.json" if path else "zarr.json"), "group")
    if doc is None:
        return None
    try:
        metadata = GroupMetadata.from_dict(doc)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return zarr.Group(AsyncGroup(metadata, StorePath(zarr_store, path)))


def update_attributes(store: ByteStore, group: zarr.Group, attributes: dict[str, Any]) -> None:
    """``group.update_attributes(attributes)`` written through ``store`` (over the group's own
    store) instead of a trip through zarr's event loop: the group's metadata takes the
    attributes and its documents are written as zarr writes them (``to_buffer_dict``). Storage
    errors are raised as ``ByteStore.set`` raises them."""
    metadata = group.metadata
    metadata.attributes.update(attributes)
    for name, document in metadata.to_buffer_dict(default_buffer_prototype()).items():
        key = f"{group.path}/{name}" if group.path else name
        if document is None:
            store.delete(key)
        else:
            store.set(key, document.to_bytes())


def v3_document(raw: bytes | None, node_type: str) -> dict[str, Any] | None:
    """The zarr v3 metadata document of a ``node_type`` ("group" or "array") that ``raw`` holds;
    None when it is absent, not JSON, or not such a document."""
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") != node_type:
        return None
    return doc
