"""Running a pipeline: ``Pipeline.eval`` checks its arguments here, runs the workers, and lands
their outputs in ``ds_out``.

Without ``checkpoint_interval`` the whole transform lands at once at the end (one publish), so a
failure leaves ``ds_out`` as it was. With ``checkpoint_interval=N`` the inputs run in intervals
of N, each landed and published before the next starts; after a failure, what landed stays and
the error's ``samples_processed`` says where to resume.
"""

from __future__ import annotations

import math
import numbers
import reprlib
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from ..core import internal
from ..core.dataset import Dataset
from ..core.tensor import progress
from ..errors import TransformArgumentError, TransformError, TransformSkippedWarning, UnsupportedFeatureError
from . import land as _land
from . import schedulers, sources
from .worker import Failure, Job, Output

# Deep Lake v3 options of eval that only tuned its chunk engine: accepted, no effect here
V3_INTERNAL_OPTIONS = frozenset({"disable_label_sync", "extend_only", "disable_rechunk"})
# A pool's work is cut into shares that shrink as it runs out (guided self-scheduling): a share is
# 1/(GUIDED * workers) of the inputs not handed out yet, at most 1/(MOST_PER_WORKER * workers) of
# the interval (the progress bar moves as shares finish) and at least 1/(LEAST_PER_WORKER *
# workers) of it. Each share costs a pickled job and result, and on a cluster a task: a worker
# waited ~5 ms between two shares (processes, Ray and Dask alike, 2 workers resizing 2,000
# images). The last shares run while other workers have nothing left: the smaller they are, the
# shorter that tail (with 4 equal shares a worker one was idle for its last 0.15 s). 2,000 inputs
# on 2 workers: 23 shares, 125 inputs down to 16, where 16 equal shares a worker were 32 of 63.
GUIDED = 2
MOST_PER_WORKER = 8
LEAST_PER_WORKER = 64


@dataclass
class Options:
    num_workers: int = 0
    scheduler: str = "threaded"
    progressbar: bool = True
    skip_ok: bool = False
    check_lengths: bool = True
    pad_data_in: bool = False
    read_only_ok: bool = False
    checkpoint_interval: int = 0
    ignore_errors: bool = False


@dataclass
class Plan:
    """What ``run`` does: where outputs land and how."""

    target: Dataset
    replace: bool  # in place: the tensors written get the outputs instead of their samples
    lands: bool  # False: read-only pass (``read_only_ok``), outputs are dropped
    skip_ok: bool
    tensors: tuple[str, ...]
    links: frozenset[str]


def run(functions: Sequence[Any], data_in: Any, ds_out: Dataset | None, options: Options,
        extra: dict[str, Any]) -> dict[int, Exception]:
    """Run ``functions`` over ``data_in`` into ``ds_out`` (None: ``data_in`` in place). Returns the
    inputs skipped with ``ignore_errors`` (index -> error)."""
    plan = _plan(data_in, ds_out, options, extra)
    n = len(data_in)
    skipped: dict[int, Exception] = {}
    with schedulers.make(options.scheduler, options.num_workers) as scheduler:
        items = _items(data_in, scheduler)
        with _progress(functions, n, options) as bar:
            _run_intervals(functions, data_in, items, plan, options, scheduler, bar, skipped)
    _report_skipped(skipped, n, data_in)
    return skipped


def _run_intervals(functions: Sequence[Any], data_in: Any, items: Any, plan: Plan, options: Options,
                   scheduler: Any, bar: Any, skipped: dict[int, Exception]) -> None:
    """Run and land the inputs, all at once or one checkpoint interval after the other."""
    n = len(data_in)
    step = options.checkpoint_interval or max(n, 1)
    landed = 0
    for start in range(0, n, step):
        stop = min(start + step, n)
        jobs = _jobs(functions, data_in, items, start, stop, plan, options, scheduler)
        outputs, failed = _gather(scheduler, jobs, bar.update, skipped, landed, options)
        if failed is not None:
            raise _failed(failed, data_in, landed, options, scheduler) from failed.error
        if plan.lands:
            _land_interval(plan, outputs, data_in, landed, options, skipped)
            if options.checkpoint_interval:
                plan.target.flush()  # a checkpoint: published now, whatever happens later
        landed = stop


# -- arguments ----------------------------------------------------------------------------------
def _plan(data_in: Any, ds_out: Dataset | None, options: Options, extra: dict[str, Any]) -> Plan:
    _check_options(data_in, options, extra)
    target, replace = _target(data_in, ds_out, options)
    lands = not (replace and options.read_only_ok)
    tensors = target.tensors
    if lands:
        internal.check_writable(target)
        lengths = {name: len(t) for name, t in tensors.items()}
        if options.check_lengths and len(set(lengths.values())) > 1:
            raise TransformArgumentError(f"The tensors of ds_out have different lengths {lengths}; the transform "
                                         "appends rows. Pass check_lengths=False to append anyway.")
    skip_ok = options.skip_ok or not options.check_lengths or not lands
    links = frozenset(name for name, t in tensors.items() if t.meta.link)
    return Plan(target, replace, lands, skip_ok, tuple(tensors), links)


def _check_options(data_in: Any, options: Options, extra: dict[str, Any]) -> None:
    unknown = set(extra) - V3_INTERNAL_OPTIONS
    if unknown:
        raise TransformArgumentError(f"eval() got unknown options {sorted(unknown)}.")
    sources.check_data_in(data_in)
    schedulers.check(options.scheduler)
    options.num_workers = _count(options.num_workers, "num_workers", "0 runs serially")
    options.checkpoint_interval = _count(options.checkpoint_interval, "checkpoint_interval", "0: no checkpoints")
    if options.pad_data_in and isinstance(data_in, Dataset) and data_in.max_len != data_in.min_len:
        raise UnsupportedFeatureError("pad_data_in=True (reading short tensors as padded with empty samples) is not "
                                      "available; pass data_in[:n] for the rows every tensor has, or pad the "
                                      "tensors first.")


def _target(data_in: Any, ds_out: Dataset | None, options: Options) -> tuple[Dataset, bool]:
    """(the dataset written, whether in place)."""
    replace = ds_out is None
    if replace and not isinstance(data_in, Dataset):
        raise TransformArgumentError("Pass ds_out, the dataset to write to: only a dataset given as data_in can be "
                                     "transformed in place (ds_out=None).")
    if replace and options.checkpoint_interval:
        raise TransformArgumentError("checkpoint_interval cannot be used in place (ds_out=None): an in-place "
                                     "transform replaces the tensors at once. Write to another dataset instead.")
    target = data_in if replace else ds_out
    if not isinstance(target, Dataset):
        raise TransformArgumentError(f"ds_out must be a deeplake_nb Dataset (or a group of one); got "
                                     f"{type(target).__name__}.")
    if target.index is not None:
        raise TransformArgumentError("The transform's output must be a whole dataset or group, not a row view: "
                                     + ("pass ds_out." if replace else "pass the dataset itself as ds_out."))
    return target, replace


def _count(value: Any, name: str, zero: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise TransformArgumentError(f"{name} must be an int >= 0 ({zero}); got {value!r}.")
    return int(value)


# -- running ------------------------------------------------------------------------------------
def _items(data_in: Any, scheduler: Any) -> Any:
    """``data_in`` as this scheduler's workers index it (a dataset's buffered appends are written
    to its store first, where the workers' own readers see them)."""
    if isinstance(data_in, Dataset) and isinstance(scheduler, schedulers.Threaded):
        sources.prepare_reads(data_in, publish=False)
        return sources.ThreadReaders(data_in)
    if isinstance(data_in, Dataset) and isinstance(scheduler, schedulers.Remote):
        sources.prepare_reads(data_in, publish=True)  # worker processes open the published state
        return sources.DatasetRef.of(data_in)
    return data_in


def shares(start: int, stop: int, workers: int) -> list[tuple[int, int]]:
    """The shares ``[a, b)`` that a pool of ``workers`` runs inputs ``[start, stop)`` in: contiguous,
    in input order, each no larger than the one before (see ``GUIDED``)."""
    n = stop - start
    most = max(1, math.ceil(n / (MOST_PER_WORKER * workers)))
    least = max(1, math.ceil(n / (LEAST_PER_WORKER * workers)))
    bounds = []
    a = start
    while a < stop:
        size = min(most, max(least, math.ceil((stop - a) / (GUIDED * workers))), stop - a)
        bounds.append((a, a + size))
        a += size
    return bounds


def _jobs(functions: Sequence[Any], data_in: Any, items: Any, start: int, stop: int, plan: Plan,
          options: Options, scheduler: Any) -> list[Job]:
    serial = isinstance(scheduler, schedulers.Serial)
    jobs = []
    for a, b in [(start, stop)] if serial else shares(start, stop, scheduler.num_workers):
        share, offset = items, 0
        if isinstance(scheduler, schedulers.Remote) and not isinstance(items, sources.DatasetRef):
            share, offset = [data_in[i] for i in range(a, b)], a
        jobs.append(Job(tuple(functions), share, offset, a, b, plan.tensors, plan.links, options.ignore_errors))
    return jobs


def _gather(scheduler: Any, jobs: list[Job], tick: Any, skipped: dict[int, Exception],
            landed: int, options: Options) -> tuple[list[tuple[int, Output]], Failure | None]:
    """Run ``jobs``; (every output in input order, the first failure or None)."""
    try:
        results = scheduler.run(jobs, tick)
    except TransformError:
        raise
    except Exception as exc:
        raise TransformError(f"A worker of the transform failed outside the compute functions ({type(exc).__name__}: "
                             f"{exc}). With worker processes (scheduler={options.scheduler!r}) what the functions "
                             "write must be picklable. "
                             f"{_resume(landed, options)}", samples_processed=landed) from exc
    outputs: list[tuple[int, Output]] = []
    failures = []
    for result in sorted(results, key=lambda r: r.start):
        outputs += result.outputs
        skipped.update((f.index, f.error) for f in result.skipped)
        if result.failure is not None:
            failures.append(result.failure)
    first = min(failures, key=lambda f: f.index) if failures else None
    return outputs, first


def _land_interval(plan: Plan, outputs: list[tuple[int, Output]], data_in: Any, landed: int, options: Options,
                   skipped: dict[int, Exception]) -> None:
    if not plan.skip_ok:
        _check_written(plan, outputs)
    try:
        skipped.update(_land.land(plan.target, outputs, replace=plan.replace, ignore_errors=options.ignore_errors))
    except _land.Refused as refused:
        index, error = next(iter(refused.errors.items()))
        raise TransformError(f"ds_out refused what input {index} of data_in ({_short(data_in, index)}) produced: "
                             f"{error} {_resume(landed, options)}", index, sample=_input(data_in, index),
                             samples_processed=landed) from error


def _check_written(plan: Plan, outputs: list[tuple[int, Output]]) -> None:
    written = {name for _, output in outputs for name in output}
    missing = sorted(set(plan.tensors) - written)
    if written and missing:
        raise TransformError(f"The transform wrote no values to the tensors {missing} of ds_out (it wrote to "
                             f"{sorted(written)}); ds_out was left as it was. Write to every tensor, or pass "
                             "skip_ok=True to .eval(...) to leave those tensors as they are.")


# -- reporting ----------------------------------------------------------------------------------
def _progress(functions: Sequence[Any], n: int, options: Options) -> Any:
    return progress(n, description(functions), options.progressbar, unit="it")


def description(functions: Sequence[Any]) -> str:
    """The progress bar's title: ``Evaluating fn`` or ``Evaluating [fn1, fn2]``."""
    names = [fn.name for fn in functions]
    return f"Evaluating {names[0]}" if len(names) == 1 else f"Evaluating [{', '.join(names)}]"


def _input(data_in: Any, index: int) -> Any:
    try:
        return data_in[index]
    except Exception:
        return None


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 4


def _short(data_in: Any, index: int) -> str:
    return _REPR.repr(_input(data_in, index))


def _resume(landed: int, options: Options) -> str:
    if options.checkpoint_interval and landed:
        return (f"Checkpoints landed the first {landed} inputs in ds_out; resume with data_in[{landed}:] "
                "after fixing the input. Pass ignore_errors=True to skip inputs that fail.")
    return "ds_out was left as it was. Pass ignore_errors=True to skip inputs that fail."


def _failed(failure: Failure, data_in: Any, landed: int, options: Options, scheduler: Any) -> TransformError:
    """The error for an input whose function raised (raise it from ``failure.error``)."""
    error = failure.error
    if isinstance(scheduler, schedulers.Remote):  # the traceback stayed in the worker process
        error.add_note(f"In the worker process:\n{failure.trace}")
    return TransformError(f"The transform failed on input {failure.index} of data_in "
                          f"({_short(data_in, failure.index)}): {type(error).__name__}: {error}. "
                          f"{_resume(landed, options)}", failure.index, sample=_input(data_in, failure.index),
                          samples_processed=landed)


def _report_skipped(skipped: dict[int, Exception], n: int, data_in: Any) -> None:
    if not skipped:
        return
    if len(skipped) == n:
        index = min(skipped)
        error = skipped[index]
        raise TransformError(f"Every input of data_in failed with ignore_errors=True (input {index}: "
                             f"{type(error).__name__}: {error}); nothing was written.", index,
                             sample=_input(data_in, index)) from error
    indices = sorted(skipped)
    shown = ", ".join(map(str, indices[:10])) + (", ..." if len(indices) > 10 else "")
    warnings.warn(f"The transform skipped {len(indices)} of {n} inputs that failed ({shown}); "
                  "the pipeline's .skipped maps each index to its error.", TransformSkippedWarning, stacklevel=4)
