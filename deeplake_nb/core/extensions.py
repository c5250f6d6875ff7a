"""The methods of ``Dataset`` that higher packages implement: declared here, provided there.

``Dataset`` inherits ``Extensions``, so ``ds.query``, ``ds.pytorch``, ``ds.visualize`` ... have
their full signatures and contracts where type checkers, IDEs, ``help()``, ``inspect.signature``
and ``typing.get_type_hints`` see them. Each body calls the function a higher package hands to
``provide`` when ``deeplake_nb`` is imported (``query``: TQL and saved views; ``loader``: the
PyTorch, NumPy, JAX and TensorFlow loaders; ``ui``: the widgets; ``ingest.huggingface``:
``to_huggingface``), so ``core`` never imports those packages and importing ``deeplake_nb`` still loads neither torch nor
anywidget.

Return types name the higher packages' classes through the package root
(``deeplake_nb.query.View``): with ``from __future__ import annotations`` they are text that type
checkers resolve statically, and that ``typing.get_type_hints`` evaluates only when asked (then
``deeplake_nb.loader.Loader`` imports torch, as using it would). The root package is bound here
for that purpose alone; nothing of a higher package runs at import.

``TensorExtensions`` does the same for ``Tensor`` (the vector-index methods of ``query``).

Adding a method: declare it in ``Extensions`` or ``TensorExtensions`` (signature, docstring, body ``return
_provided("name")(self, ...)``), and ``provide(name=function)`` from the package implementing it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import deeplake_nb  # the package root, named by return annotations only (see the module docstring)

from ..errors import DatasetError

__all__ = ["Extensions", "TensorExtensions", "provide", "provided"]

_PROVIDED: dict[str, Callable[..., Any]] = {}


def provide(**implementations: Callable[..., Any]) -> None:
    """Register the functions behind methods declared in ``Extensions`` or ``TensorExtensions`` (by
    method name; the names of both are distinct); each is called with the dataset (or tensor)
    first, then the method's arguments. Called once per package from
    its ``install``; a name not declared is a ``DatasetError`` (a method users cannot see)."""
    declared = {*vars(Extensions), *vars(TensorExtensions)}
    unknown = sorted(name for name in implementations if name.startswith("_") or name not in declared)
    if unknown:
        raise DatasetError(f"provide() got {unknown}, which neither Extensions nor TensorExtensions declares; "
                           "declare each method in deeplake_nb/core/extensions.py first.")
    _PROVIDED.update(implementations)


def provided() -> frozenset[str]:
    """The names of the methods whose implementation has been provided."""
    return frozenset(_PROVIDED)


def _provided(name: str) -> Callable[..., Any]:
    try:
        return _PROVIDED[name]
    except KeyError:
        raise DatasetError(f"ds.{name}() is implemented by a deeplake_nb package that has not been loaded; "
                           "import deeplake_nb (import deeplake_nb as dl) before using it.") from None


class Extensions:
    """The declared methods (see the module docstring); mixed into ``Dataset``."""

    # -- TQL and saved views (deeplake_nb.query) ---------------------------------------------------
    def query(self, query: str, seed: int | None = None, exact: bool = False,
              ef_search: int | None = None) -> deeplake_nb.query.View:
        """Run a TQL query over this dataset's rows, e.g.
        ``ds.query("SELECT * WHERE labels == 'cat' ORDER BY random() LIMIT 100")``; returns a View.
        ``seed`` makes ``random()`` and ``SAMPLE BY`` reproducible. The language: ``help(dl.query)``.
        ``exact=True``: ``ORDER BY <distance> LIMIT k`` never uses a vector index
        (``tensor.create_vdb_index``); ``ef_search``: the index's search depth (recall vs speed)."""
        return _provided("query")(self, query, seed, exact, ef_search)

    def filter(self, function: Callable[[Any], Any] | str, num_workers: int = 0, scheduler: str = "threaded",
               progressbar: bool = False, save_result: bool = False, result_path: str | None = None,
               result_ds_args: dict[str, Any] | None = None) -> deeplake_nb.query.View:
        """Rows for which ``function(row)`` is true (called once per row with a one-row dataset, on
        ``num_workers`` threads when > 0; ``scheduler`` is accepted), or for which a TQL condition
        string holds (``ds.filter("labels == 2")``); returns a View. ``save_result``: also save it
        (``save_view(path=result_path, **result_ds_args)``)."""
        return _provided("filter")(self, function, num_workers=num_workers, scheduler=scheduler,
                                   progressbar=progressbar, save_result=save_result, result_path=result_path,
                                   result_ds_args=result_ds_args)

    def sample_by(self, weights: str | Sequence[float] | Any, replace: bool = True, size: int | None = None,
                  seed: int | None = None) -> deeplake_nb.query.View:
        """Deep Lake v3: ``size`` rows (default: ``len(self)``) drawn at random, each with a
        probability proportional to its weight, with or without ``replace``; a View. ``weights``: a
        TQL expression, ``"max_weight(labels == 5: 10, labels == 6: 5)"`` or ``"sum_weight(...)"``,
        or any numeric expression such as ``"labels"`` (each row's weight), or one weight per row
        (list, tuple, array). ``seed`` makes the draw reproducible."""
        return _provided("sample_by")(self, weights, replace, size, seed)

    def save_view(self, message: str | None = None, path: str | None = None, id: str | None = None,  # noqa: A002
                  optimize: bool = False, tensors: Sequence[str] | None = None, num_workers: int = 0,
                  scheduler: str = "threaded", verbose: bool = True, progressbar: bool = True,
                  **ds_args: Any) -> str:
        """Save this view (``ds[1:5]``, ``ds[[0, 3, 7]]``, ``ds[["x", "z"]]``, or the whole dataset): in
        the dataset under ``id`` (returns its address ``<dataset path>/.queries/<id>``, which
        ``dl.load`` opens; needs no uncommitted changes), or with ``path`` as a dataset of its own
        (returns the path). See ``deeplake_nb.query.saved``."""
        return _provided("save_view")(self, message=message, path=path, id=id, optimize=optimize, tensors=tensors,
                                      num_workers=num_workers, scheduler=scheduler, verbose=verbose,
                                      progressbar=progressbar, **ds_args)

    def get_views(self, commit_id: str | None = None) -> list[deeplake_nb.query.saved.ViewEntry]:
        """The views saved in this dataset (``view.save_view(...)``) that are bound to ``commit_id``
        (default: the current commit), as ``ViewEntry`` objects (``entry["id"]``, ``entry.load()``)."""
        return _provided("get_views")(self, commit_id)

    def get_view(self, id: str) -> deeplake_nb.query.saved.ViewEntry:  # noqa: A002
        """The saved view ``id`` as a ``ViewEntry``; ``ViewNotFoundError`` (a KeyError) if none."""
        return _provided("get_view")(self, id)

    def load_view(self, id: str, optimize: bool = False, tensors: Sequence[str] | None = None,  # noqa: A002
                  num_workers: int = 0, scheduler: str = "threaded", progressbar: bool = True) -> deeplake_nb.query.View:
        """The saved view ``id``, read-only at the commit it was saved at (or its optimized copy);
        ``optimize=True`` first stores that copy (``tensors``: only those columns)."""
        return _provided("load_view")(self, id, optimize=optimize, tensors=tensors, num_workers=num_workers,
                                      scheduler=scheduler, progressbar=progressbar)

    def delete_view(self, id: str) -> None:  # noqa: A002
        """Delete the saved view ``id`` and its optimized copy, if any. Makes no commit."""
        _provided("delete_view")(self, id)

    def to_arrow(self, columns: Sequence[str] | None = None) -> Any:
        """The rows this shows as a ``pyarrow.Table``: ``sample_index``, then every tensor (or those
        named in ``columns``) in its Arrow form: encoded images and other media as their stored
        bytes (``large_binary``), text as strings, json as ``arrow.json``, class labels as
        dictionaries, N-D arrays as ``fixed_shape_tensor``. See ``deeplake_nb.query.arrow``."""
        return _provided("to_arrow")(self, columns)

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """``to_arrow(columns)`` as a pandas DataFrame (class labels as Categorical, media as bytes,
        N-D samples as one array per row); needs pandas."""
        return _provided("to_pandas")(self, columns)

    # -- streaming (deeplake_nb.loader) -------------------------------------------------------------
    def pytorch(self, tensors: Sequence[str] | None = None, batch_size: int | None = 1, shuffle: bool | str = False,
                seed: int | None = None, num_workers: int = 0,
                transform: Callable[..., Any] | Mapping[str, Callable[..., Any] | None] | None = None,
                collate_fn: Callable[..., Any] | None = None, pin_memory: bool = False, drop_last: bool = False,
                decode_method: Mapping[str, str] | None = None, return_index: bool = True,
                ignore_errors: bool = False, persistent_workers: bool = False, prefetch_factor: int | None = 2,
                distributed: bool | None = None, device: str | None = None, buffer_size: int = 2048,
                use_local_cache: bool | None = None, progressbar: bool = False, use_progress_bar: bool = False,
                transform_kwargs: Mapping[str, Any] | None = None, tobytes: bool | Sequence[str] = False,
                **options: Any) -> deeplake_nb.loader.Loader:
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
        - ``num_workers``, ``pin_memory``, ``persistent_workers``, ``prefetch_factor``: as in PyTorch,
          except that ``prefetch_factor`` bounds a worker's batches in memory with the one the user
          holds (a worker that is that far ahead waits for the user to let one go);
          worker processes of an in-memory (``mem://``) dataset must be forked (``LoaderError``
          otherwise); with ``num_workers=0`` (threads) it loads like any other. Forked workers of a
          dataset on an object store read it through this process (obstore does not survive fork;
          ``storage.relay``); "spawn" and "forkserver" workers reopen it with its credentials and
          their own client, and transforms travel by value (lambdas work);
        - ``use_local_cache``: how a dataset on an object store is read (``deeplake_nb.loader.local_cache``).
          ``None`` (default): through a scratch disk cache (under ``$DEEPLAKE_NB_CACHE``) where the
          tensors fit (removed with the dataset object): each chunk is fetched whole once, and later
          epochs read local disk; ``True`` (v3): through the dataset's disk cache, kept across
          sessions (``$DEEPLAKE_NB_CACHE``); ``False``: ranged reads from the store, nothing on disk.
          A sharded loader (DDP) streams unless ``True``, whose folder its ranks share. A dataset
          opened with ``local_cache_size`` reads through its own cache. With a disk cache the
          loader starts fetching its tensors' objects into it when made;
        - more ``options``: ``num_threads`` (decode threads per process), ``fetch_batches`` (batches
          per read-ahead window; default 1 on local disk, 4 on an object store), ``max_gap`` (bytes
          of gap merged into one read), ``rank``/``world_size``, ``multiprocessing_context``,
          ``timeout``, ``output="numpy"``;
        - Deep Lake v3's ``buffer_size``, ``progressbar`` (``use_progress_bar``), ``transform_kwargs``
          and ``tobytes``: see ``deeplake_nb.loader.compat`` for what each means here (``buffer_size``
          is accepted and changes nothing: the shuffle is a full planned permutation).

        ``loader.state_dict()`` / ``loader.load_state_dict(state)`` resume mid-epoch exactly;
        ``loader.dataset`` is the samples as a map-style torch Dataset (``len(loader.dataset)``).
        """
        return _provided("pytorch")(self, tensors=tensors, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                    num_workers=num_workers, transform=transform, collate_fn=collate_fn,
                                    pin_memory=pin_memory, drop_last=drop_last, decode_method=decode_method,
                                    return_index=return_index, ignore_errors=ignore_errors,
                                    persistent_workers=persistent_workers, prefetch_factor=prefetch_factor,
                                    distributed=distributed, device=device, buffer_size=buffer_size,
                                    use_local_cache=use_local_cache, progressbar=progressbar or use_progress_bar,
                                    transform_kwargs=transform_kwargs, tobytes=tobytes, **options)

    def torch_dataset(self, tensors: Sequence[str] | None = None,
                      transform: Callable[..., Any] | Mapping[str, Callable[..., Any] | None] | None = None,
                      decode_method: Mapping[str, str] | None = None, return_index: bool = True,
                      ignore_errors: bool = False, num_threads: int | None = None) -> deeplake_nb.loader.TorchDataset:
        """A map-style ``torch.utils.data.Dataset`` of sample dicts, for a plain ``DataLoader``
        (which then does shuffling, batching and workers); batches are fetched and decoded together.
        Text and json values come as str and objects, list and tag values as lists, so torch's
        ``default_collate`` batches them."""
        return _provided("torch_dataset")(self, tensors=tensors, transform=transform, decode_method=decode_method,
                                          return_index=return_index, ignore_errors=ignore_errors,
                                          num_threads=num_threads)

    def dataloader(self) -> deeplake_nb.loader.DataLoaderBuilder:
        """The Deep Lake v3 builder: ``ds.dataloader().transform(f).batch(64).shuffle(seed=0).pytorch()``."""
        return _provided("dataloader")(self)

    def numpy_batches(self, *, tensors: Sequence[str] | str | None = None, batch_size: int = 1,
                      shuffle: bool | str = False, seed: int | None = None, drop_last: bool = False,
                      transform: Callable[..., Any] | Mapping[str, Callable[..., Any] | None] | None = None,
                      decode_method: Mapping[str, str] | None = None, tobytes: bool | Sequence[str] = False,
                      return_index: bool = True, ignore_errors: bool = False, num_replicas: int = 1, rank: int = 0,
                      num_threads: int | None = None, shuffle_block: int | None = None, shuffle_window: int = 8,
                      fetch_batches: int | None = None, max_gap: int | None = None,
                      progressbar: bool = False) -> deeplake_nb.loader.NumpyBatches:
        """The loader's batches as dicts of NumPy arrays, read in this process without torch: the
        same plan as ``pytorch`` (``shuffle`` True or ``"chunks"``, ``seed``, ``drop_last``), coalesced
        reads and decoding on ``num_threads`` threads. Options as ``pytorch``'s where they share a
        name; sharding is explicit (``num_replicas``/``rank``; a shuffled, sharded loader needs a
        ``seed`` every rank shares). Each iteration is one epoch; ``state_dict()`` /
        ``load_state_dict()`` resume at the next batch. See ``deeplake_nb.loader.numpy_batches``."""
        return _provided("numpy_batches")(self, tensors=tensors, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                          drop_last=drop_last, transform=transform, decode_method=decode_method,
                                          tobytes=tobytes, return_index=return_index, ignore_errors=ignore_errors,
                                          num_replicas=num_replicas, rank=rank, num_threads=num_threads,
                                          shuffle_block=shuffle_block, shuffle_window=shuffle_window,
                                          fetch_batches=fetch_batches, max_gap=max_gap, progressbar=progressbar)

    def jax(self, *, device: Any = None, **options: Any) -> deeplake_nb.loader.NumpyBatches:
        """``numpy_batches(**options)`` whose numeric arrays arrive as ``jax.Array`` s, handed over by
        DLPack (no copy on the CPU; copied to ``device`` when one is given, e.g. ``"gpu"``). Text,
        json and bytes stay as they are. In a multi-process JAX program each process reads its share
        (``jax.process_count()`` / ``process_index()``) unless ``num_replicas``/``rank`` are given.
        ``LoaderDependencyError`` without JAX. See ``deeplake_nb.loader.jax_loader``."""
        return _provided("jax")(self, device=device, **options)

    def tensorflow(self, tensors: Sequence[str] | None = None, tobytes: bool | Sequence[str] = False,
                   fetch_chunks: bool = True, *, batch_size: int | None = None, shuffle: bool | str = False,
                   seed: int | None = None, drop_last: bool = False, num_replicas: int = 1, rank: int = 0,
                   return_index: bool = False, **options: Any) -> Any:
        """Deep Lake v3's ``ds.tensorflow()``: a ``tf.data.Dataset`` of this dataset's samples (one
        dict per sample; ``batch_size=n``: the loader's own batches), with an ``output_signature``
        from the tensors' metadata. ``fetch_chunks`` is accepted as in v3. Each iteration is one
        epoch of the plan; ``tf_dataset.loader`` resumes (``state_dict``). ``LoaderDependencyError``
        without TensorFlow. See ``deeplake_nb.loader.tf_loader``."""
        return _provided("tensorflow")(self, tensors, tobytes, fetch_chunks, batch_size=batch_size, shuffle=shuffle,
                                       seed=seed, drop_last=drop_last, num_replicas=num_replicas, rank=rank,
                                       return_index=return_index, **options)

    # -- notebook widgets (deeplake_nb.ui) ---------------------------------------------------------
    def visualize(self, width: int | str | None = None, height: int | str | None = None, *,
                  image_tensor: str | None = None, overlays: list[str] | None = None, page_size: int = 48,
                  thumb_size: int = 160, labels: dict[str, str] | None = None,
                  poll_seconds: float = 3.0) -> deeplake_nb.ui.DatasetBrowser:
        """A widget that pages through this dataset (or view) as a grid of thumbnails.

        - ``image_tensor``: the tensor shown as pictures (default: the first image tensor);
        - ``overlays``: tensors drawn over them — class labels, boxes, masks, text (default: all);
        - ``labels``: which class_label tensor names the objects of a box or binary-mask tensor, e.g.
          ``{"boxes": "categories"}`` (default: the class_label tensor in the same group, preferring
          one named ``labels``/``categories``); each box and mask is drawn with its class name, and
          a class has one colour everywhere;
        - ``page_size``: samples per page; ``thumb_size``: longer side of a thumbnail in pixels;
        - ``width``/``height``: of the grid area, in pixels (int) or any CSS size (str); the grid
          scrolls inside its height (default 640 px; ``height="none"``: no limit);
        - ``poll_seconds``: while displayed, how often the browser asks whether the dataset changed
          (appends, commits, a checkout: the grid, its length and ``branch@commit`` then follow; 0 =
          never); ``widget.refresh()`` re-reads it from Python.

        Display it (last expression of a cell); ``widget.selected_indices`` follows the selection made
        in the browser. Without a widget front end the widget shows a text/HTML summary instead.
        ``WidgetDependencyError`` without the notebook extras.
        """
        return _provided("visualize")(self, width=width, height=height, image_tensor=image_tensor, overlays=overlays,
                                      page_size=page_size, thumb_size=thumb_size, labels=labels,
                                      poll_seconds=poll_seconds)

    def commit_graph(self, *, max_commits: int = 300, poll_seconds: float = 3.0,
                     height: int | str | None = None) -> deeplake_nb.ui.CommitGraphWidget:
        """A widget that draws this dataset's commit graph: branches in lanes, merges, tags, HEAD and
        uncommitted changes. Click a commit for its message, author, time and diff against its parent;
        the buttons check it out, create a branch there, or diff two selected commits (Ctrl-click the
        second) — on this dataset, in the kernel.

        - ``max_commits``: the newest commits drawn; ``height``: of the graph area (px or CSS size);
        - ``poll_seconds``: while displayed, how often the browser asks whether the history changed (a
          commit or checkout made in another cell then shows without re-running this one; 0 = never);
          ``widget.refresh()`` re-reads it from Python.
        """
        return _provided("commit_graph")(self, max_commits=max_commits, poll_seconds=poll_seconds, height=height)

    # -- Deep Lake v3's storage provider (deeplake_nb.core.storage) ---------------------------------
    @property
    def storage(self) -> deeplake_nb.core.storage.StorageProvider:
        """v3's ``ds.storage``: the location holding this dataset (every version's objects) as a
        mapping of bytes, of the provider class v3 gave it (``MemoryProvider`` for mem://,
        ``S3Provider`` for s3://, else ``LocalProvider``); read-only when the dataset is."""
        return _provided("storage")(self)

    # -- interchange (deeplake_nb.ingest) ----------------------------------------------------------
    def to_huggingface(self) -> Any:
        """The dataset (or view) as a Hugging Face ``datasets.Dataset``, one column per tensor
        (groups as ``group/tensor``); every value is read into memory. See
        ``deeplake_nb.ingest.huggingface.to_huggingface`` for how each htype maps."""
        return _provided("to_huggingface")(self)


class TensorExtensions:
    """The declared methods of ``Tensor`` that higher packages implement; mixed into ``Tensor``."""

    # -- vector indexes (Deep Lake v3's names; deeplake_nb.query.vector_index) -------------------------
    def create_vdb_index(self, id: str = "hnsw_1", distance: Any = "cosine_similarity",  # noqa: A002
                         additional_params: dict[str, int] | None = None) -> dict[str, Any]:
        """Build an HNSW index of this tensor's vectors, kept with the current version; ``ORDER BY
        cosine_similarity(t, ARRAY[...]) DESC`` / ``l2_norm(t - ARRAY[...]) LIMIT k`` then use it.
        ``distance``: "cosine_similarity" or "l2_norm"; ``additional_params``: "M",
        "efConstruction", "efSearch". Returns its ``get_vdb_indexes()`` entry."""
        return _provided("create_vdb_index")(self, id, distance, additional_params)

    def delete_vdb_index(self, id: str) -> None:  # noqa: A002
        """Remove the vector index ``id`` of this tensor's current content."""
        _provided("delete_vdb_index")(self, id)

    def get_vdb_indexes(self) -> list[dict[str, Any]]:
        """The vector indexes of this tensor's current content (``id``, ``type``, ``distance``,
        ``additional_params``, ...); after an append, update or pop, none until one is created."""
        return _provided("get_vdb_indexes")(self)

    def fetch_vdb_indexes(self) -> list[dict[str, Any]]:
        """Deep Lake v3's other name of ``get_vdb_indexes``."""
        return self.get_vdb_indexes()
