"""``@dl.compute`` and ``dl.compose``: Deep Lake v3's transforms.

::

    @dl.compute
    def upload(sample_in, sample_out, scale=1):      # extra arguments are bound when called
        sample_out.images.append(dl.read(sample_in))
        sample_out.labels.append(scale)

    upload(scale=2).eval(paths, ds, num_workers=4)   # one row per path, in the order of paths
    dl.compose([upload(), augment(k=3)]).eval(paths, ds, scheduler="processed", num_workers=4)

A compute function is called once per input with a ``sample_in`` (an item of ``data_in``; for a
dataset, a one-row view of it) and a ``sample_out`` (a ``TransformDataset`` of ``ds_out``'s
tensors) to append rows to; what it returns is ignored. In a pipeline each later function gets
every row the previous one wrote, as its ``sample_in``. See ``Pipeline.eval`` for how the outputs
land in ``ds_out``.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable, Sequence

from ..core.dataset import Dataset
from ..errors import TransformArgumentError
from . import evaluate


class ComputeFunction:
    """A compute function with its extra arguments bound (``fn(x=1)``); run it with ``eval`` or
    put it in a pipeline (``dl.compose``). ``skipped`` maps the inputs the last ``eval`` skipped
    with ``ignore_errors=True`` to their errors."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 name: str | None = None) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(func, "__name__", "transform")
        self.skipped: dict[int, Exception] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # a decorated function's name refers to its ``Compute``, which pickles by reference
        source = getattr(self.func, "__compute__", self.func)
        return _bound, (source, self.args, self.kwargs, self.name)

    def __call__(self, sample_in: Any, sample_out: Any) -> Any:
        return self.func(sample_in, sample_out, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"ComputeFunction({self.name})"

    def eval(self, data_in: Any, ds_out: Dataset | None = None, num_workers: int = 0, scheduler: str = "threaded",
             progressbar: bool = True, skip_ok: bool = False, check_lengths: bool = True, pad_data_in: bool = False,
             read_only_ok: bool = False, cache_size: int = 16, checkpoint_interval: int = 0,
             ignore_errors: bool = False, verbose: bool = True, **kwargs: Any) -> None:
        """Run this function over ``data_in`` into ``ds_out``; see ``Pipeline.eval``."""
        pipeline = Pipeline([self])
        try:
            pipeline.eval(data_in, ds_out, num_workers, scheduler, progressbar, skip_ok, check_lengths, pad_data_in,
                          read_only_ok, cache_size, checkpoint_interval, ignore_errors, verbose, **kwargs)
        finally:
            self.skipped = pipeline.skipped


class Pipeline:
    """Compute functions run one after the other on every input (``dl.compose``)."""

    def __init__(self, functions: Sequence[ComputeFunction]) -> None:
        self.functions = list(functions)
        self.skipped: dict[int, Exception] = {}

    def __len__(self) -> int:
        return len(self.functions)

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(fn.name for fn in self.functions)}])"

    def eval(self, data_in: Any, ds_out: Dataset | None = None, num_workers: int = 0, scheduler: str = "threaded",
             progressbar: bool = True, skip_ok: bool = False, check_lengths: bool = True, pad_data_in: bool = False,
             read_only_ok: bool = False, cache_size: int = 16, checkpoint_interval: int = 0,
             ignore_errors: bool = False, verbose: bool = True, **kwargs: Any) -> None:
        """Run the pipeline on every input of ``data_in`` and append what it writes to ``ds_out``.

        ``data_in``: anything with ``len`` and indexing (a list, a dataset or a view of one).
        ``ds_out``: the dataset (or group) whose tensors the functions write; its tensors must
        exist. The rows land after any it has, in the order of ``data_in`` whatever the
        scheduler. ``ds_out=None`` transforms the dataset ``data_in`` in place: every tensor the
        functions write gets their output instead of its samples (the others stay).

        Outputs are buffered in memory and land at the end through the dataset's normal write
        path, all checked before any is written, in one publish: if an input fails, nothing lands
        (``ds_out`` stays exactly as it was). ``checkpoint_interval=N`` lands (and publishes) every
        N inputs instead, which also bounds the memory the outputs take: after a failure what
        landed stays, and ``TransformError.samples_processed`` says where to resume.

        ``num_workers`` (0: serial) and ``scheduler``: ``"serial"``, ``"threaded"`` (threads),
        ``"processed"`` (processes; the functions, their arguments and the inputs are pickled,
        and a dataset input is reopened read-only by each worker, so it cannot be in memory), or
        ``"ray"`` / ``"dask"`` (as ``"processed"``, on the running Ray cluster or current Dask
        client, else on a local cluster of ``num_workers`` started for the call; extras
        ``deeplake_nb[ray]``, ``deeplake_nb[dask]``).
        ``skip_ok``: the functions may leave some tensors of ``ds_out`` unwritten (otherwise
        every tensor must get values). ``check_lengths``: refuse a ``ds_out`` whose tensors
        differ in length (``False`` also implies ``skip_ok``). ``read_only_ok`` with
        ``ds_out=None``: only read ``data_in`` (for functions that collect results elsewhere);
        nothing is written. ``ignore_errors``: skip the inputs whose function raises or whose
        output the dataset refuses; they are listed in ``self.skipped`` (index -> error) and
        counted in a ``TransformSkippedWarning``. ``progressbar``: show a tqdm bar.
        ``pad_data_in`` is accepted while ``data_in``'s tensors have one length (padding short
        tensors is not available). ``cache_size`` and ``verbose`` are accepted for Deep Lake v3
        code and have no effect.

        Raises ``TransformError`` for a failing input (``index``: its position in ``data_in``,
        ``sample``: the input; the cause is chained) and ``TransformArgumentError`` (also a
        ``ValueError``) for arguments it cannot run with.
        """
        self.skipped = {}
        if not self.functions:
            raise TransformArgumentError("This pipeline has no compute functions to run.")
        options = evaluate.Options(num_workers, scheduler, progressbar, skip_ok, check_lengths, pad_data_in,
                                   read_only_ok, checkpoint_interval, ignore_errors)
        skipped: dict[int, Exception] = {}
        try:
            skipped = evaluate.run(self.functions, data_in, ds_out, options, kwargs)
        finally:
            self.skipped = skipped


class Compute:
    """What ``@dl.compute`` makes of a function: calling it with the extra arguments gives a
    ``ComputeFunction``. Defined at the top of a module or notebook it pickles by reference (as
    the function would); defined inside a function (or a lambda) it pickles with its function,
    which ``cloudpickle`` (``scheduler="processed"``) sends by value."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        if not callable(fn):
            raise TransformArgumentError(f"dl.compute decorates a function; got {type(fn).__name__}.")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "transform")
        try:
            fn.__compute__ = self  # how a ComputeFunction of fn finds what to pickle
        except (AttributeError, TypeError):
            pass

    def __call__(self, *args: Any, **kwargs: Any) -> ComputeFunction:
        _check_arguments(self.fn, self.name, args, kwargs)
        return ComputeFunction(self.fn, args, kwargs, self.name)

    def __reduce__(self) -> str | tuple[Any, ...]:
        if _reachable(self):
            return self.__qualname__  # by reference, as its module or notebook names it
        return self.by_value()  # local or lambda: travels with its function (cloudpickle)

    def by_value(self) -> tuple[Any, ...]:
        """The pickle reduction that carries the function itself (for workers that cannot find
        this object by name, such as a cluster's, for one defined in a notebook)."""
        return Compute, (self.fn, self.name)

    def __repr__(self) -> str:
        return f"<compute function {self.name}>"


def _reachable(compute: Compute) -> bool:
    """Whether ``compute`` is what its module's global of its qualified name holds (so an
    importing process, or a forked one for ``__main__``, finds it by name)."""
    target: Any = sys.modules.get(compute.__module__)
    for part in getattr(compute, "__qualname__", "<unnamed>").split("."):
        target = getattr(target, part, None)
    return target is compute


def _bound(source: Any, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> ComputeFunction:
    """A ComputeFunction back from a pickle (``source``: its Compute, or a plain function)."""
    return ComputeFunction(source.fn if isinstance(source, Compute) else source, args, kwargs, name)


def _check_arguments(fn: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or extension: it will tell when called
    try:
        signature.bind(None, None, *args, **kwargs)
    except TypeError as exc:
        raise TransformArgumentError(f"{name}{signature} is called with (sample_in, sample_out) followed by the "
                                     f"arguments given to {name}(...), and those do not fit: {exc}.") from None


def compute(fn: Callable[..., Any] | None = None, name: str | None = None) -> Any:
    """Decorate ``fn(sample_in, sample_out, *args, **kwargs)`` as a compute function:
    ``fn(*args, **kwargs)`` then binds the extra arguments and ``.eval(data_in, ds_out, ...)``
    runs it (see ``Pipeline.eval``). ``name`` titles the progress bar (default: the function's
    name). Also usable as ``@dl.compute(name="...")``."""
    if fn is None:
        return lambda f: Compute(f, name)
    return Compute(fn, name)


def compose(functions: Sequence[ComputeFunction]) -> Pipeline:
    """A pipeline of compute functions called with their arguments (``dl.compose([f(), g(x=1)])``):
    each one is called on every row the previous one wrote."""
    if isinstance(functions, (ComputeFunction, Compute)) or not isinstance(functions, (list, tuple)):
        raise TransformArgumentError("dl.compose takes a list of compute functions: dl.compose([f(), g(x=1)]).")
    if not functions:
        raise TransformArgumentError("dl.compose needs at least one compute function: dl.compose([f(), g(x=1)]).")
    for i, fn in enumerate(functions):
        if isinstance(fn, Compute):
            raise TransformArgumentError(f"Item {i} of the list given to dl.compose is {fn.name} itself; call it "
                                         f"with its arguments: {fn.name}().")
        if not isinstance(fn, ComputeFunction):
            raise TransformArgumentError(f"Item {i} of the list given to dl.compose is a {type(fn).__name__}, not a "
                                         "function decorated with @dl.compute and called: fn().")
    return Pipeline(functions)
