"""The batch stage: an optional step a ``Loader`` runs in the main process on every collated batch,
in the loader's order, after the engine (threads or workers) made it. It carries out what the
engine does not: ``decode_method`` ``"dali"`` (one DALI pipeline per loader over the batch's
stored bytes), batched ``dl.gpu`` transforms, and ``device`` (moving the batch to a GPU).

The loader does not import the GPU package. ``deeplake_nb.gpu`` provides the stage and registers
its factory here when it is imported (``deeplake_nb`` imports it first), so this module only
defines the hand-off:

- ``stage_for(config, source, output)`` asks the factory once, at loader construction: it
  validates the options (raising ``LoaderError`` / ``GPUUnavailableError`` there, not mid-epoch)
  and returns a ``BatchStage``, or None when there is nothing for it to do;
- ``stage(batch, seed=..., key=(epoch, rank, batch_id))`` -> ``(batch, dropped_rows)``, called on
  one background thread a batch ahead of the consumer while another takes the engine's batches
  (``run_ahead``), so the engine makes batch ``b + 2`` while DALI decodes batch ``b + 1`` and the
  training step runs on batch ``b``; ``key`` and
  ``seed`` (the loader's, which a ``load_state_dict`` may change) fix the batch's random
  augmentation, so it is the same after a resume and for any number of workers; ``dropped_rows``
  are dataset indices left out as unreadable (``ignore_errors``).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, TypeVar

from ..errors import LoaderError
from .config import LoaderConfig

if TYPE_CHECKING:
    from .source import DatasetSource


class BatchStage(Protocol):
    sample_transform: Any
    """The transform the engine still applies per sample (the stage takes its batched parts)."""
    needs_index: bool
    """The engine must add ``"index"`` to every sample (the stage removes it unless asked for)."""
    on_device: bool
    """Batches come out on a GPU (the loader then does not pin them)."""

    def __call__(self, batch: Any, *, seed: int, key: tuple[int, ...]) -> tuple[Any, list[int]]: ...


StageFactory = Callable[[LoaderConfig, "DatasetSource", str], "BatchStage | None"]
_factory: StageFactory | None = None


def register(factory: StageFactory | None) -> None:
    """Install the factory every new ``Loader`` asks for its batch stage (``deeplake_nb.gpu`` does)."""
    global _factory
    _factory = factory


def stage_for(config: LoaderConfig, source: DatasetSource, output: str) -> BatchStage | None:
    """The batch stage for a loader's options, or None when the engine's batches are final."""
    if _factory is None:
        if config.device is not None or config.dali_tensors:
            raise LoaderError("device= and decode_method 'dali' are provided by deeplake_nb.gpu, which is not "
                              "registered; import deeplake_nb (it loads deeplake_nb.gpu) before making the loader.")
        return None
    return _factory(config, source, output)


T = TypeVar("T")
R = TypeVar("R")


def run_ahead(items: Iterator[T], work: Callable[[T], R], depth: int = 1) -> Iterator[R]:
    """``work(item)`` for every item, in order, overlapped with the producer and the consumer:
    a feeder thread takes the items (so the engine makes batch ``b + 2`` while the stage works on
    ``b + 1`` and the consumer holds ``b``), and one stage thread runs ``work`` up to ``depth``
    items ahead of the item the consumer holds; one more item may be taken and wait its turn.
    An exception from ``items`` or ``work`` is raised when its result is due. Closing the
    generator stops the feeder after the item it is taking, closes ``items`` on the feeder's
    thread, waits for the work in progress and drops the rest; then nothing of it runs on."""
    room = threading.Semaphore(depth)
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deeplake_nb-stage")

    def feed() -> None:
        try:
            for item in items:
                while not room.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                ready.put(pool.submit(work, item))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failed: Future[R] = Future()
            failed.set_exception(exc)
            ready.put(failed)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            ready.put(_END)

    feeder = threading.Thread(target=feed, name="deeplake_nb-stage-feed", daemon=True)
    feeder.start()
    try:
        while True:
            future = ready.get()
            if future is _END:
                break
            room.release()
            yield future.result()
    finally:
        stop.set()
        feeder.join()
        while not ready.empty():
            future = ready.get()
            if future is not _END:
                future.cancel()
        pool.shutdown(wait=True)


_END = object()
