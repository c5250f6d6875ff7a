"""Does an object store honour put-if-absent? Checked before a dataset there is first written.

Version control publishes by put-if-absent (a numbered ref entry, a commit document written
only if absent: ``If-None-Match: *`` on S3). A store (or a proxy in front of it) that ignores
the condition lets two writers both "win", and one's commits silently vanish. So before the
first write through a ``RemoteStore`` the store is probed: a fresh object is written under
``.deeplake_nb_probe/<random>`` at the dataset's prefix, then written again with put-if-absent,
which must be refused as "already exists" (any other answer, such as a server that does not
implement the condition, fails the probe too). It is deleted afterwards. The verdict is kept for the process,
per service and bucket (``RemoteStore.verdict_key``). A store that fails the probe is refused
with ``UnsafeStoreError`` unless the dataset was opened with the storage option
``single_writer=True`` (the user's promise that one process at a time writes it).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UnsafeStoreError
from .bytestore import reason

if TYPE_CHECKING:
    from .remote import RemoteStore

PROBE_PREFIX = ".deeplake_nb_probe/"


@dataclass(frozen=True)
class Verdict:
    safe: bool
    detail: str = ""


_verdicts: dict[tuple[Any, ...], Verdict] = {}
_locks: dict[tuple[Any, ...], asyncio.Lock] = {}


def known_verdict(store: RemoteStore) -> Verdict | None:
    """This process's verdict on ``store``'s service and bucket, if it was probed."""
    return _verdicts.get(store.verdict_key)


async def check_conditional_writes(store: RemoteStore) -> None:
    """Probe ``store`` once per process (per service and bucket); ``UnsafeStoreError`` when it
    ignores put-if-absent and ``single_writer`` was not given. Errors of the probe's first write
    (no permission, unreachable) are the store's ``StorageError`` for that write."""
    key = store.verdict_key
    verdict = _verdicts.get(key)
    if verdict is None:
        lock = _locks.setdefault(key, asyncio.Lock())  # one probe at a time per bucket on zarr's loop
        async with lock:
            verdict = _verdicts.get(key)
            if verdict is None:
                verdict = _verdicts[key] = await _probe(store)
    if not verdict.safe and not store.single_writer:
        raise UnsafeStoreError(
            f"The store behind {store.location.url!r} does not honour put-if-absent writes ({verdict.detail}): two "
            "writers could both commit, and one's commits would be lost without an error. Use a store that supports "
            "conditional writes (If-None-Match), or, if only one process at a time will ever write this dataset, "
            "open it with storage_options={'single_writer': True}.")


async def _probe(store: RemoteStore) -> Verdict:
    import obstore
    from obstore.exceptions import AlreadyExistsError, BaseError

    client = store.store
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    await store._call("write", key, obstore.put_async(client, key, b"1"))  # a plain write: can we write at all?
    try:
        await obstore.put_async(client, key, b"2", mode="create")
        return Verdict(False, "a put-if-absent of an existing object succeeded")
    except AlreadyExistsError:
        return Verdict(True)
    except BaseError as exc:
        return Verdict(False, f"a put-if-absent of an existing object failed with: {reason(exc)}")
    finally:
        try:
            await obstore.delete_async(client, key)
        except (BaseError, OSError):
            pass  # a leftover probe object harms nothing: nothing reads that prefix
