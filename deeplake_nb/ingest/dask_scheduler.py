"""``scheduler="dask"``: a transform's jobs as tasks of a ``dask.distributed`` cluster.

Uses the current ``Client`` if there is one (the default client that ``distributed.Client(...)``
makes, e.g. connected to a remote scheduler, or one made current with ``client.as_current()``);
otherwise starts a local cluster for the transform (``local_cluster``) and closes it after. Jobs
travel pickled as for ``"processed"`` (``schedulers.Remote``) and each task returns its share's
outputs; nothing is written by the workers, so the outputs land through the caller's single
publish and a failed task lands nothing.
"""

from __future__ import annotations

from typing import Any

from .schedulers import Remote, Tick, cluster_failed, require
from .worker import Job, run_pickled

# Dask's default worker environment (``distributed.nanny.pre-spawn-environ``) sets this so that
# workers hand freed memory back to the system at once. Setting it at all also turns off glibc's
# adaptive mmap threshold, so every allocation over 128 KiB (a decoded image, a resized copy of
# it) is served from freshly mapped pages: resizing 1,000 JPEGs of ~285x264 px per worker took
# 126,000 page faults in a new cluster's first transform (14,000-40,000 in later ones) against a
# few thousand without it, ~0.1-0.3 CPU-s a worker. The workers of a local cluster started for a
# transform live as long as the transform, so they keep the adaptive threshold.
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"


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
            self._start_local(num_workers)
        self._futures: list[Any] = []

    def _start_local(self, num_workers: int) -> None:
        try:
            self._cluster, self._client = local_cluster(num_workers)
        except Exception as exc:
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


def local_cluster(num_workers: int) -> tuple[Any, Any]:
    """Start the cluster ``scheduler="dask"`` runs a transform on when there is no current client,
    and a client of it (not made the default one): a ``distributed.LocalCluster`` of
    ``num_workers`` single-threaded worker processes whose environment is Dask's configured one
    (``distributed.nanny.pre-spawn-environ``) without ``MALLOC_TRIM_THRESHOLD_`` (see
    ``MALLOC_TRIM``; a value already in this process's environment is still inherited). Returns
    ``(cluster, client)``; close the client, then the cluster. Raises what Dask raises when the
    cluster does not start, having closed what had started."""
    import dask
    import distributed

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop(MALLOC_TRIM, None)
    cluster = None
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = distributed.LocalCluster(n_workers=num_workers, threads_per_worker=1, processes=True,
                                               dashboard_address=":0")
        return cluster, distributed.Client(cluster, set_as_default=False)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
