"""``scheduler="ray"``: a transform's jobs as Ray tasks.

Uses the Ray cluster this process is connected to (``ray.is_initialized()``, e.g. after
``ray.init(address="auto")``); otherwise starts a local one with ``num_workers`` CPUs for the
transform and shuts it down after. Jobs travel pickled as for ``"processed"`` (``schedulers.Remote``)
and each task returns its share's outputs; nothing is written by the workers, so the outputs land
through the caller's single publish and a failed task lands nothing. Tasks are not retried: a
failure is reported like any other (with ``checkpoint_interval`` what landed stays).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .schedulers import Remote, Tick, cluster_failed, require
from .worker import Job, run_pickled


class RayScheduler(Remote):
    name = "ray"
    by_value = True

    def __init__(self, num_workers: int) -> None:
        super().__init__(num_workers)
        self._ray = ray = require("ray", "ray", self.name)
        self._started = not ray.is_initialized()
        if self._started:  # local workers import what this process can
            path = os.pathsep.join(p or os.getcwd() for p in sys.path)
            try:
                ray.init(num_cpus=num_workers, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                         runtime_env={"env_vars": {"PYTHONPATH": path}})
            except Exception as exc:  # e.g. its node's start timed out on a loaded machine
                ray.shutdown()
                raise cluster_failed(self.name, "Ray cluster (ray.init(num_cpus=...))", exc) from exc
        self._task = ray.remote(num_cpus=1, max_retries=0)(run_pickled)
        self._refs: dict[int, Any] = {}  # id(future) -> the task's ObjectRef

    def __exit__(self, *exc: Any) -> None:
        for ref in list(self._refs.values()):  # tasks still running after a failure or an interrupt
            self._cancel_ref(ref)
        self._refs.clear()
        if self._started:
            self._ray.shutdown()

    def submit(self, job: Job, tick: Tick) -> Any:
        ref = self._task.remote(self.payload(job))
        future = ref.future()
        self._refs[id(future)] = ref
        future.add_done_callback(lambda f: self._refs.pop(id(f), None))
        return future

    def cancel(self, future: Any) -> None:
        future.cancel()
        ref = self._refs.pop(id(future), None)
        if ref is not None:
            self._cancel_ref(ref)

    def _cancel_ref(self, ref: Any) -> None:
        try:
            self._ray.cancel(ref)
        except Exception:  # already finished, or the cluster went away: nothing to stop
            pass
