"""``scheduler="dask"``: a transform's jobs as tasks of a ``dask.distributed`` cluster.

Uses the current ``Client`` if there is one (the default client that ``distributed.Client(...)``
makes, e.g. connected to a remote scheduler, or one made current with ``client.as_current()``);
otherwise starts a ``LocalCluster`` of
``num_workers`` single-threaded worker processes for the transform and closes it after. Jobs
travel pickled as for ``"processed"`` (``schedulers.Remote``) and each task returns its share's
outputs; nothing is written by the workers, so the outputs land through the caller's single
publish and a failed task lands nothing.
"""

from __future__ import annotations

from typing import Any

from .schedulers import Remote, Tick, cluster_failed, require
from .worker import Job, run_pickled


class DaskScheduler(Remote):
    name = "dask"
    by_value = True

    def __init__(self, num_workers: int) -> None:
        super().__init__(num_workers)
        distributed = require("distributed", "dask", self.name)
        self._cluster = None
        try:
            self._client = distributed.Client.current(allow_global=True)
        except ValueError:  # no client yet: a local cluster for this transform
            self._start_local(distributed, num_workers)
        self._futures: list[Any] = []

    def _start_local(self, distributed: Any, num_workers: int) -> None:
        try:
            self._cluster = distributed.LocalCluster(n_workers=num_workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0")
            self._client = distributed.Client(self._cluster, set_as_default=False)
        except Exception as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise cluster_failed(self.name, "Dask cluster (distributed.LocalCluster)", exc) from exc

    def __exit__(self, *exc: Any) -> None:
        for future in self._futures:  # tasks still running after a failure or an interrupt
            if not future.done():
                future.cancel()
        self._futures.clear()
        if self._cluster is not None:
            self._client.close()
            self._cluster.close()

    def submit(self, job: Job, tick: Tick) -> Any:
        future = self._client.submit(run_pickled, self.payload(job), pure=False, retries=0)
        self._futures.append(future)
        return future
