"""Schedulers: where the workers of a transform run.

A scheduler is a context manager with ``run(jobs, tick) -> list[ShareResult]`` (one result per
job, in job order). It runs ``worker.run_share`` on every job and calls ``tick(n)`` in the calling
thread, or under a lock, as inputs finish (for the progress bar). Once a job reports a failure,
jobs further along the input that have not started may be skipped: their results are then
missing, which is fine because nothing after the first failure lands.

``serial`` runs in the calling thread, ``threaded`` on a thread pool, ``processed`` on a process
pool (jobs are pickled with cloudpickle, results with pickle; see ``Processed``). ``register``
adds another (cluster schedulers such as Ray or Dask plug in here).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable

import cloudpickle

from ..errors import TransformArgumentError, UnsupportedFeatureError
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
                    later.cancel()
        return results


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


class Processed(_Pool):
    """A process pool: for functions that hold the GIL. Each job (the compute functions, their
    arguments and the inputs of its share) is pickled with ``cloudpickle``: what a worker can
    import travels by reference, and what it cannot (a function defined inside another, a
    lambda, one defined in a notebook cell) by value, with the globals it uses. A dataset input is
    reopened read-only by every worker. Worker processes are forked where the platform can (they
    then also see what the notebook defined) and spawned elsewhere."""

    def __init__(self, num_workers: int) -> None:
        super().__init__(num_workers)
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.executor = ProcessPoolExecutor(num_workers, mp_context=context)

    def submit(self, job: Job, tick: Tick) -> Future:
        job.portable = True
        try:
            payload = cloudpickle.dumps(job)
        except Exception as exc:
            raise TransformArgumentError(
                f"scheduler='processed' pickles the compute functions, their arguments, the globals they use and "
                f"the inputs to send them to worker processes, and this transform cannot be pickled "
                f"({type(exc).__name__}: {exc}). Pass what cannot be pickled (an open file, a lock, an in-memory "
                "dataset) some other way, such as a path the function opens, or use scheduler='threaded'.") from exc
        return self.executor.submit(run_pickled, payload)

    def done(self, job: Job, result: ShareResult, tick: Tick) -> None:
        tick(job.stop - job.start)


SCHEDULERS: dict[str, Callable[[int], Any]] = {"serial": Serial, "threaded": Threaded, "processed": Processed}
NOT_YET = {"ray": "Ray", "dask": "Dask"}


def register(name: str, factory: Callable[[int], Any]) -> None:
    """Make ``scheduler=name`` run transforms with ``factory(num_workers)``."""
    SCHEDULERS[name] = factory
    NOT_YET.pop(name, None)


def check(name: Any) -> None:
    if not isinstance(name, str):
        raise TransformArgumentError(f"scheduler is a name, one of {sorted(SCHEDULERS)}; got {name!r}.")
    if name in NOT_YET and name not in SCHEDULERS:
        raise UnsupportedFeatureError(
            f"scheduler={name!r} is not available yet: running transforms on {NOT_YET[name]} is planned (issue 14, "
            "ingestion at scale). Use scheduler='threaded' or 'processed' meanwhile.")
    if name not in SCHEDULERS:
        raise TransformArgumentError(f"Unknown scheduler {name!r}; use one of {sorted(SCHEDULERS)}.")


def make(name: str, num_workers: int) -> Any:
    """The scheduler ``name`` with ``num_workers`` workers (0: serial, whatever the name)."""
    check(name)
    if num_workers <= 0:
        return Serial()
    return SCHEDULERS[name](num_workers)
