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
  one background thread a batch ahead of the consumer (``run_ahead``), so DALI decodes batch
  ``b + 1`` while the training step runs on batch ``b``; ``key`` and
  ``seed`` (the loader's, which a ``load_state_dict`` may change) fix the batch's random
  augmentation, so it is the same after a resume and for any number of workers; ``dropped_rows``
  are dataset indices left out as unreadable (``ignore_errors``).
"""

from __future__ import annotations

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
    """``work(item)`` for every item, in order, on one background thread that runs up to
    ``depth`` items ahead of the consumer. An exception from ``work`` is raised when its result
    is due; closing the generator waits for the item in progress and drops the rest."""
    pending: list[Future[R]] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deeplake_nb-stage")
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) > depth:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
