"""Streaming loader: planned order (shuffle, shard, resume), coalesced fetch, threaded decode,
zero-copy collate, PyTorch front ends.

Importing this package does not import torch; ``Dataset.pytorch``/``dataloader``/``torch_dataset``
(attached by ``install``) import it when called.

Modules: ``sampler`` (order, DDP shards, resume state), ``fetch`` (coalesced range reads),
``decode`` (decode methods), ``collate`` (batch buffers), ``engine`` (the per-process pipeline),
``compat`` (Deep Lake v3's options: ``batch_size=None``, ``buffer_size``, ``tobytes`` ...),
``torch_loader`` (``Loader``, ``TorchDataset``), ``stage`` (the main-process batch stage hook that
``deeplake_nb.gpu`` fills: DALI decoding, batched GPU transforms, ``device``), ``builder``
(``ds.dataloader()``), ``transforms``, ``throughput`` (``stream_epoch_images_per_s``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .builder import DataLoaderBuilder
from .collate import TensorDict
from .throughput import stream_epoch_images_per_s
from .transforms import CropNormalize

if TYPE_CHECKING:
    from .torch_loader import Loader, TorchDataset


def pytorch(self: Any, tensors: Sequence[str] | None = None, batch_size: int | None = 1, shuffle: bool | str = False,
            seed: int | None = None, num_workers: int = 0,
            transform: Callable | Mapping[str, Callable | None] | None = None, collate_fn: Callable | None = None,
            pin_memory: bool = False, drop_last: bool = False, decode_method: Mapping[str, str] | None = None,
            return_index: bool = True, ignore_errors: bool = False, persistent_workers: bool = False,
            prefetch_factor: int | None = 2, distributed: bool | None = None, device: str | None = None,
            buffer_size: int = 2048, use_local_cache: bool = False, progressbar: bool = False,
            use_progress_bar: bool = False, transform_kwargs: Mapping[str, Any] | None = None,
            tobytes: bool | Sequence[str] = False, **options: Any) -> Loader:
    """A PyTorch loader over this dataset (or view); iterate it for batches.

    - ``tensors``: names to load (default: every visible tensor, or the keys of a dict transform).
      Every tensor loaded must exist (``TensorNotFoundError``) and hold samples (``EmptyTensorError``
      here otherwise). ``"index"`` is not a tensor (``LoaderOptionError``): see ``return_index``;
    - ``batch_size``: samples per batch; ``None`` yields single samples without a batch dimension
      (as PyTorch's ``DataLoader(batch_size=None)``: text as ``str``, ``index`` as a (1,) tensor);
    - ``shuffle``: ``False``; ``True`` (a fresh seeded global permutation every epoch, read with
      coalesced look-ahead reads); ``"chunks"`` (blocks of rows that share storage chunks,
      permuted, mixed ``shuffle_window`` blocks at a time: fewer, larger reads, less random;
      ``shuffle_block`` sets the rows per block; default: the smallest rows-per-chunk of the loaded
      tensors, so a block never straddles a chunk of the heaviest one). ``seed`` fixes the order
      (if None: ``dl.random.seed(...)``'s when one is set, else a random one);
    - ``transform``: a callable on the whole sample dict (``"index"`` included), whose result is the
      sample; or ``{tensor: callable or None}``, which also names what each sample keeps (as in
      Deep Lake v3): the tensors (unless ``tensors`` is given: then the others pass through as
      decoded), and ``"index"`` only if it names it; a
      ``dl.gpu.Compose`` (for one tensor, or as the whole transform: for every ``"dali"`` tensor)
      is a batch transform, run on each whole batch in the main process (by DALI when it can);
    - ``decode_method``: ``{tensor: "numpy" | "pil" | "tobytes" | "data" | "dali"}``; ``"numpy"``
      (default) gives what ``tensor[i].numpy()`` gives (text: a (1,) str array, json: a (1,)
      object array); ``"data"`` gives ``{"value": ...}`` (the str for text, the object for json,
      else the ``"numpy"`` value), plus ``"text"`` for class labels; ``"dali"`` (image
      tensors stored as JPEG/PNG): the workers read the stored bytes and one DALI pipeline per
      loader decodes each batch in the main process (``mixed`` on a GPU, DALI's CPU operators
      otherwise); per-sample callables are refused for such tensors. Without a transform it
      gives uint8 RGB images: (N, H, W, 3) when they share a shape, else a list of (H, W, 3);
    - ``device``: None (host tensors), ``"cpu"``, ``"cuda"`` (every tensor of the batch on the GPU;
      ``GPUUnavailableError`` here without one) or ``"auto"`` (the GPU if usable, else the CPU with
      a ``GPUFallbackWarning``); see ``deeplake_nb.gpu.loader_stage``. E.g.::

          ds.pytorch(tensors=["images", "labels"], batch_size=256, shuffle=True, device="auto",
                     decode_method={"images": "dali"},
                     transform=dl.gpu.Compose([dl.gpu.RandomResizedCrop(224), dl.gpu.RandomFlip(),
                                               dl.gpu.Normalize()]))  # images: (N, 3, 224, 224) float32

      Augmentation is keyed by (epoch, rank, batch): the same after a resume, for any ``num_workers``;
    - ``collate_fn``: replaces the built-in collation (a list of sample dicts -> batch; with
      ``batch_size=None``, one sample dict -> item);
    - batches of dict samples are ``TensorDict`` s: dicts of torch tensors (lists for ragged tensors
      and non-numeric values: text as a list of str, json as a list of objects, list and tag
      samples as lists; ``collate.plain_value``) whose iteration yields the values, as Deep
      Lake v3's do (``for images, labels in loader``; ``batch.items()`` for pairs); a transform
      returning tuples gives tuples of batched values;
    - ``return_index``: each sample gets ``"index"``, its dataset index as a (1,) int64 array
      (batched: (N, 1)), before the transforms (a dict transform keeps it only if it names it);
    - ``ignore_errors``: skip unreadable samples (``loader.skipped`` lists them) instead of raising;
    - ``distributed``: shard by ``torch.distributed`` rank/world size: contiguous shares of
      ``len // world_size`` samples, the rest left out; None (default): shard when a process
      group is initialized (Deep Lake v3), False: never. Every rank must make the loader;
    - ``num_workers``, ``pin_memory``, ``persistent_workers``, ``prefetch_factor``: as in PyTorch;
      worker processes of an in-memory (``mem://``) dataset must be forked (``LoaderError``
      otherwise); with ``num_workers=0`` (threads) it loads like any other. Workers of a dataset
      on an object store are never forked from a process that used obstore (it does not survive
      fork): "fork" (the default on Linux) starts them from a fork server instead; they reopen the
      dataset with its credentials, and transforms travel by value (lambdas work);
    - more ``options``: ``num_threads`` (decode threads per process), ``fetch_batches`` (batches
      per read-ahead window), ``max_gap`` (bytes of gap merged into one read), ``rank``/``world_size``,
      ``multiprocessing_context``, ``timeout``, ``output="numpy"``;
    - Deep Lake v3's ``buffer_size``, ``use_local_cache``, ``progressbar`` (``use_progress_bar``),
      ``transform_kwargs`` and ``tobytes``: see ``deeplake_nb.loader.compat`` for what each means
      here (``buffer_size`` and ``use_local_cache`` are accepted and change nothing: the shuffle is
      a full planned permutation).

    ``loader.state_dict()`` / ``loader.load_state_dict(state)`` resume mid-epoch exactly;
    ``loader.dataset`` is the samples as a map-style torch Dataset (``len(loader.dataset)``).
    """
    from .torch_loader import Loader

    return Loader(self, tensors=tensors, batch_size=batch_size, shuffle=shuffle, seed=seed,
                  num_workers=num_workers, transform=transform, collate_fn=collate_fn, pin_memory=pin_memory,
                  drop_last=drop_last, decode_method=decode_method, return_index=return_index,
                  ignore_errors=ignore_errors, persistent_workers=persistent_workers,
                  prefetch_factor=prefetch_factor, distributed=distributed, device=device,
                  buffer_size=buffer_size, use_local_cache=use_local_cache,
                  progressbar=progressbar or use_progress_bar, transform_kwargs=transform_kwargs,
                  tobytes=tobytes, **options)


def torch_dataset(self: Any, tensors: Sequence[str] | None = None,
                  transform: Callable | Mapping[str, Callable | None] | None = None,
                  decode_method: Mapping[str, str] | None = None, return_index: bool = True,
                  ignore_errors: bool = False, num_threads: int | None = None) -> TorchDataset:
    """A map-style ``torch.utils.data.Dataset`` of sample dicts, for a plain ``DataLoader``
    (which then does shuffling, batching and workers); batches are fetched and decoded together.
    Text and json values come as str and objects, list and tag values as lists, so torch's
    ``default_collate`` batches them."""
    from .torch_loader import TorchDataset

    return TorchDataset(self, tensors=tensors, transform=transform, decode_method=decode_method,
                        return_index=return_index, ignore_errors=ignore_errors, num_threads=num_threads)


def dataloader(self: Any) -> DataLoaderBuilder:
    """The Deep Lake v3 builder: ``ds.dataloader().transform(f).batch(64).shuffle(seed=0).pytorch()``."""
    return DataLoaderBuilder(self)


def install(dataset_cls: type) -> None:
    """Attach ``pytorch``, ``torch_dataset`` and ``dataloader`` to the Dataset class."""
    dataset_cls.pytorch = pytorch
    dataset_cls.torch_dataset = torch_dataset
    dataset_cls.dataloader = dataloader


__all__ = ["CropNormalize", "DataLoaderBuilder", "TensorDict", "install", "stream_epoch_images_per_s"]
