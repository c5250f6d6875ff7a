"""Schedulers: where the workers of a transform run.

A scheduler is a context manager with ``run(jobs, tick) -> list[ShareResult]`` (one result per
job, in job order). It runs ``worker.run_share`` on every job and calls ``tick(n)`` in the calling
thread, or under a lock, as inputs finish (for the progress bar). Once a job reports a failure,
jobs further along the input that have not started may be skipped: their results are then
missing, which is fine because nothing after the first failure lands.

``serial`` runs in the calling thread, ``threaded`` on a thread pool, ``processed`` on a process
pool (jobs are pickled with cloudpickle, results with pickle; see ``Remote`` and ``Processed``).
``register`` adds another: ``ray`` and ``dask`` (``ray_scheduler``, ``dask_scheduler``) are
registered here and import their cluster library only when used.
"""

from __future__ import annotations

import io
import multiprocessing
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable

import cloudpickle

from ..errors import SchedulerDependencyError, TransformArgumentError, TransformError
from ..storage.remote import runtime_started
from .worker import Job, ShareResult, run_pickled, run_share

Tick = Callable[[int], None]


class Serial:
    """Every job in the calling thread, in order; stops after the first failure."""

    def __init__(self, num_workers: int = 1) -> None:
        self.num_workers = 1

    def __enter__(self) -> Serial:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def run(self, jobs: list[Job], tick: Tick) -> list[ShareResult]:
        results = []
        for job in jobs:
            results.append(run_share(job, tick))
            if results[-1].failure is not None:
                break
        return results


class _Pool:
    """Jobs on a ``concurrent.futures`` executor, results gathered in job order."""

    executor: Executor

    def __init__(self, num_workers: int) -> None:
        self.num_workers = num_workers

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, job: Job, tick: Tick) -> Future:
        raise NotImplementedError

    def done(self, job: Job, result: ShareResult, tick: Tick) -> None:
        """Called in the calling thread when ``job`` finished."""

    def run(self, jobs: list[Job], tick: Tick) -> list[ShareResult]:
        futures = [self.submit(job, tick) for job in jobs]
        results: list[ShareResult] = []
        for job, future in zip(jobs, futures):
            if future.cancelled():
                continue
            result = future.result()
            self.done(job, result, tick)
            results.append(result)
            if result.failure is not None:
                for later in futures:  # inputs past the failure never land
                    self.cancel(later)
        return results

    def cancel(self, future: Any) -> None:
        """Drop a job not needed any more (it may still run; its result is not used)."""
        future.cancel()


class Threaded(_Pool):
    """A thread pool: good when the function waits on I/O or releases the GIL (NumPy, decoding)."""

    def __init__(self, num_workers: int) -> None:
        super().__init__(num_workers)
        self.executor = ThreadPoolExecutor(num_workers, thread_name_prefix="deeplake_nb-compute")
        self._lock = threading.Lock()

    def submit(self, job: Job, tick: Tick) -> Future:
        def locked_tick(n: int) -> None:
            with self._lock:
                tick(n)
        return self.executor.submit(run_share, job, locked_tick)


class Remote(_Pool):
    """Workers in other processes (a local process pool or a cluster's). Each job (the compute
    functions, their arguments and the inputs of its share) is pickled with ``cloudpickle``: what
    a worker can import travels by reference, and what it cannot (a function defined inside
    another, a lambda, one defined in a notebook cell) by value, with the globals it uses. Results
    come back pickled, errors made picklable (``worker.run_pickled``). A dataset input is reopened
    read-only by every worker (``sources.DatasetRef``, with the storage options it was opened
    with), so it must be where the workers can open it. Subclasses submit
    ``run_pickled(self.payload(job))``."""

    name = "processed"  # the scheduler's name, for messages
    by_value = False  # ship @dl.compute wrappers by value (workers that did not fork from this process)

    def payload(self, job: Job) -> bytes:
        """``job`` pickled for a worker process; a TransformArgumentError if it cannot be."""
        job.portable = True
        try:
            return _dumps(job, self.by_value)
        except Exception as exc:
            raise TransformArgumentError(
                f"scheduler={self.name!r} pickles the compute functions, their arguments, the globals they use and "
                f"the inputs to send them to worker processes, and this transform cannot be pickled "
                f"({type(exc).__name__}: {exc}). Pass what cannot be pickled (an open file, a lock, an in-memory "
                "dataset) some other way, such as a path the function opens, or use scheduler='threaded'.") from exc

    def done(self, job: Job, result: ShareResult, tick: Tick) -> None:
        tick(job.stop - job.start)


class Processed(Remote):
    """A process pool: for functions that hold the GIL. Worker processes are forked where the
    platform can, unless this process has run obstore (a dataset on an object store, linked
    files on one), whose runtime would not survive the fork: they then start from a fork server
    (or are spawned where there is no fork), and ``@dl.compute`` wrappers travel by value."""

    def __init__(self, num_workers: int) -> None:
        super().__init__(num_workers)
        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods and not runtime_started():
            method = "fork"
        else:
            method = "forkserver" if "forkserver" in methods else "spawn"
        self.by_value = method != "fork"
        self.executor = ProcessPoolExecutor(num_workers, mp_context=multiprocessing.get_context(method))

    def submit(self, job: Job, tick: Tick) -> Future:
        return self.executor.submit(run_pickled, self.payload(job))


class _ByValue(cloudpickle.Pickler):
    """cloudpickle, with every ``@dl.compute`` wrapper sent with its function: workers of a cluster
    did not fork from this process, so a wrapper defined in ``__main__`` (a notebook, a script)
    cannot be found there by name. The function itself follows cloudpickle's rules (by value from
    ``__main__`` or a module passed to ``cloudpickle.register_pickle_by_value``, else by
    reference: the workers import its module)."""

    def reducer_override(self, obj: Any) -> Any:
        from .compute import Compute

        if isinstance(obj, Compute):
            return obj.by_value()
        return super().reducer_override(obj)


def _dumps(job: Job, by_value: bool) -> bytes:
    if not by_value:
        return cloudpickle.dumps(job)
    buffer = io.BytesIO()
    _ByValue(buffer).dump(job)
    return buffer.getvalue()


def _ray(num_workers: int) -> Any:
    from .ray_scheduler import RayScheduler

    return RayScheduler(num_workers)


def _dask(num_workers: int) -> Any:
    from .dask_scheduler import DaskScheduler

    return DaskScheduler(num_workers)


SCHEDULERS: dict[str, Callable[[int], Any]] = {"serial": Serial, "threaded": Threaded, "processed": Processed,
                                               "ray": _ray, "dask": _dask}


def register(name: str, factory: Callable[[int], Any]) -> None:
    """Make ``scheduler=name`` run transforms with ``factory(num_workers)``."""
    SCHEDULERS[name] = factory


def check(name: Any) -> None:
    if not isinstance(name, str):
        raise TransformArgumentError(f"scheduler is a name, one of {sorted(SCHEDULERS)}; got {name!r}.")
    if name not in SCHEDULERS:
        raise TransformArgumentError(f"Unknown scheduler {name!r}; use one of {sorted(SCHEDULERS)}.")


def make(name: str, num_workers: int) -> Any:
    """The scheduler ``name`` with ``num_workers`` workers (0: serial, whatever the name)."""
    check(name)
    if num_workers <= 0:
        return Serial()
    return SCHEDULERS[name](num_workers)


def cluster_failed(scheduler: str, what: str, exc: BaseException) -> TransformError:
    """The error for a local cluster that would not start (nothing was run or written)."""
    return TransformError(f"scheduler={scheduler!r} could not start a local {what} for this transform "
                          f"({type(exc).__name__}: {exc}); nothing was written. Start one yourself before eval "
                          f"(it is then used as it is), or use scheduler='processed' on this machine.")


def require(module: str, extra: str, scheduler: str) -> Any:
    """Import the optional package a cluster scheduler runs on, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SchedulerDependencyError(
            f"scheduler={scheduler!r} needs the {module!r} package, which is not installed ({exc}). Install it "
            f"with: pip install 'deeplake_nb[{extra}]' (or use scheduler='processed' on this machine).") from exc
