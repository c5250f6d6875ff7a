"""Test helper: read or replace the root document of a dataset's branch main."""

from __future__ import annotations

import json
from typing import Any

from deeplake_nb.storage import ByteStore


def root_document(path: str, new: dict[str, Any] | None = None) -> dict[str, Any]:
    """The root zarr.json document of branch main (as stored through the version overlay);
    with ``new``, replace it and publish (to simulate other writers or damage)."""
    from deeplake_nb.storage import open_store
    from deeplake_nb.version import Repository

    store = Repository(open_store(path)).open("main")
    raw = ByteStore(store)
    if new is not None:
        raw.set("zarr.json", json.dumps(new).encode())
        store.publish()
    return json.loads(raw.get("zarr.json"))
