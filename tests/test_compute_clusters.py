"""``@dl.compute`` on a Ray or Dask cluster (``scheduler="ray"`` / ``"dask"``): real local clusters
(``ray.init(num_cpus=2)``, a two-process ``dask.distributed.LocalCluster``), each started once
for the file. Workers of those clusters did not fork from this process, so this module's
compute functions travel by value (``cloudpickle.register_pickle_by_value``), as a user's
notebook functions do."""

from __future__ import annotations

import os
import sys
import warnings

import cloudpickle
import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.errors import SchedulerDependencyError, TransformError, TransformSkippedWarning
from deeplake_nb.ingest import dask_scheduler

ray = pytest.importorskip("ray")
distributed = pytest.importorskip("distributed")

cloudpickle.register_pickle_by_value(sys.modules[__name__])
CLUSTERS = ["ray", "dask"]


@dl.compute
def fill(x, out, scale=1):
    out.images.append(np.full((3, 4), (x * scale) % 256, np.uint8))
    out.labels.append(x % 3)


@dl.compute
def fail_on(x, out, bad):
    if x in bad:
        raise ValueError(f"input {x} is bad")
    out.images.append(np.full((3, 4), x, np.uint8))
    out.labels.append(x % 3)


@dl.compute
def where_run(x, out):
    out.images.append(np.full((3, 4), x, np.uint8))
    out.labels.append(os.getpid())


@dl.compute
def doubled(sample_in, out):
    out.images.append(sample_in.images.numpy() * 2)
    out.labels.append(sample_in.labels.numpy())


# -- clusters -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ray_shutdown():
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def cluster(request, ray_shutdown):
    """The name of a scheduler whose cluster is running (the user's own, as after ``ray.init``
    or inside ``client.as_current()``)."""
    name = request.param
    if name == "ray":
        start_ray()
        yield name
    else:
        with request.getfixturevalue("dask_client").as_current():
            yield name


def start_ray() -> None:
    """``ray.init(num_cpus=2)`` unless running. Ray gives its node 30 s to start, which a machine
    loaded by other jobs can exceed: one retry, then the Ray tests are skipped saying so."""
    for attempt in range(2):
        if ray.is_initialized():
            return
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        except Exception as exc:
            ray.shutdown()
            if "timed out during startup" not in str(exc):
                raise
    pytest.skip("Ray's local node did not start within Ray's 30 s limit twice (the machine is overloaded)")


def image_ds(path) -> dl.Dataset:
    ds = dl.empty(path, overwrite=True)
    ds.create_tensor("images", dtype="uint8")
    ds.create_tensor("labels", htype="class_label")
    return ds


# -- tests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_outputs_land_in_input_order(tmp_path, cluster):
    ds = image_ds(tmp_path / "out")
    ds.images.append(np.zeros((3, 4), np.uint8))
    ds.labels.append(0)
    fill(scale=3).eval(list(range(30)), ds, num_workers=2, scheduler=cluster, progressbar=False)
    assert len(ds) == 31
    np.testing.assert_array_equal(ds.images.numpy()[1:, 0, 0], [(3 * x) % 256 for x in range(30)])
    np.testing.assert_array_equal(ds.labels.numpy().ravel()[1:], [x % 3 for x in range(30)])
    reopened = dl.load(ds.path, read_only=True)
    np.testing.assert_array_equal(reopened.images.numpy(), ds.images.numpy())


@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_local_functions_and_a_dataset_input(tmp_path, cluster):
    src = image_ds(tmp_path / "src")
    fill().eval(list(range(12)), src, progressbar=False)
    out = image_ds(tmp_path / "out")
    offset = 5

    @dl.compute
    def shifted(sample_in, sample_out):  # a closure: travels by value with what it uses
        sample_out.images.append(sample_in.images.numpy() + offset)
        sample_out.labels.append(sample_in.labels.numpy())

    dl.compose([doubled(), shifted()]).eval(src, out, num_workers=2, scheduler=cluster, progressbar=False)
    np.testing.assert_array_equal(out.images.numpy(), src.images.numpy() * 2 + offset)
    np.testing.assert_array_equal(out.labels.numpy(), src.labels.numpy())


@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_a_failing_input_lands_nothing(tmp_path, cluster, unchanged):
    ds = image_ds(tmp_path / "out")
    fill().eval([1, 2], ds, progressbar=False)
    check = unchanged(ds)
    with pytest.raises(TransformError) as info:
        fail_on(bad={17}).eval(list(range(40)), ds, num_workers=2, scheduler=cluster, progressbar=False)
    err = info.value
    assert (err.index, err.sample, err.samples_processed) == (17, 17, 0)
    assert "ds_out was left as it was" in str(err)
    assert isinstance(err.__cause__, ValueError)
    assert any("In the worker process" in note for note in err.__cause__.__notes__)
    check()


@dl.compute
def crash_on(x, out, bad):
    if x == bad:
        os._exit(3)  # the worker process dies: no Python error comes back
    out.images.append(np.full((3, 4), x, np.uint8))
    out.labels.append(x % 3)


@pytest.mark.slow
@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_a_dead_worker_lands_nothing(tmp_path, cluster, unchanged):
    ds = image_ds(tmp_path / "out")
    fill().eval([1, 2], ds, progressbar=False)
    check = unchanged(ds)
    with pytest.raises(TransformError, match="failed outside the compute functions") as info:
        crash_on(bad=9).eval(list(range(16)), ds, num_workers=2, scheduler=cluster, progressbar=False)
    assert info.value.samples_processed == 0 and "ds_out was left as it was" in str(info.value)
    check()
    fill().eval([3], ds, num_workers=2, scheduler=cluster, progressbar=False)  # the cluster still serves
    assert len(ds) == 3


@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_ignore_errors_skips_failing_inputs(tmp_path, cluster):
    ds = image_ds(tmp_path / "out")
    pipeline = dl.compose([fail_on(bad={2, 7, 19})])
    with pytest.warns(TransformSkippedWarning, match="skipped 3 of 20"):
        pipeline.eval(list(range(20)), ds, num_workers=2, scheduler=cluster, ignore_errors=True, progressbar=False)
    assert sorted(pipeline.skipped) == [2, 7, 19]
    assert isinstance(pipeline.skipped[7], ValueError) and "input 7 is bad" in str(pipeline.skipped[7])
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], [x for x in range(20) if x not in (2, 7, 19)])


@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_checkpoints_land_partial_work_and_resume(tmp_path, cluster):
    ds = image_ds(tmp_path / "out")
    data = list(range(30))
    with pytest.raises(TransformError) as info:
        fail_on(bad={23}).eval(data, ds, num_workers=2, scheduler=cluster, checkpoint_interval=10, progressbar=False)
    assert (info.value.index, info.value.samples_processed) == (23, 20)
    assert len(dl.load(ds.path, read_only=True)) == 20  # two intervals published before the failure
    fail_on(bad=set()).eval(data[20:], ds, num_workers=2, scheduler=cluster, checkpoint_interval=10,
                            progressbar=False)
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], data)


@pytest.mark.parametrize("cluster", CLUSTERS, indirect=True)
def test_runs_on_the_users_cluster_and_leaves_it_running(tmp_path, cluster, dask_client):
    ds = image_ds(tmp_path / "out")
    where_run().eval(list(range(16)), ds, num_workers=2, scheduler=cluster, progressbar=False)
    pids = set(ds.labels.numpy().ravel().tolist())
    assert os.getpid() not in pids
    if cluster == "ray":
        assert ray.is_initialized()
    else:
        assert pids <= set(dask_client.run(os.getpid).values())
        assert dask_client.status == "running"


@pytest.mark.parametrize("name,module", [("ray", "ray"), ("dask", "distributed")])
def test_missing_package_names_the_extra(tmp_path, monkeypatch, unchanged, name, module):
    ds = image_ds(tmp_path / "out")
    check = unchanged(ds)
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    with pytest.raises(SchedulerDependencyError, match=rf"pip install 'deeplake_nb\[{name}\]'") as info:
        fill().eval([1, 2], ds, num_workers=2, scheduler=name, progressbar=False)
    assert isinstance(info.value, ImportError)
    check()


def test_a_local_cluster_that_does_not_start_is_our_error(tmp_path, monkeypatch, unchanged):
    ds = image_ds(tmp_path / "out")
    check = unchanged(ds)

    def refuse(*args, **kwargs):
        raise OSError("no ports left")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    with pytest.raises(TransformError, match="could not start a local Dask cluster .*no ports left"):
        fill().eval([1, 2], ds, num_workers=2, scheduler="dask", progressbar=False)
    check()


def test_dask_starts_a_local_cluster_and_closes_it(tmp_path):
    with pytest.raises(ValueError):
        distributed.Client.current(allow_global=True)  # no cluster of the user's
    ds = image_ds(tmp_path / "out")
    where_run().eval(list(range(8)), ds, num_workers=2, scheduler="dask", progressbar=False)
    assert len(ds) == 8 and os.getpid() not in set(ds.labels.numpy().ravel().tolist())
    with pytest.raises(ValueError):
        distributed.Client.current(allow_global=True)  # closed after


def test_dask_local_cluster_workers_keep_the_adaptive_malloc_threshold(monkeypatch):
    # a default LocalCluster (the dask_client fixture) has put Dask's worker environment in ours
    monkeypatch.delenv(dask_scheduler.MALLOC_TRIM, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cluster, client = dask_scheduler.local_cluster(2)
    try:
        with pytest.raises(ValueError):
            distributed.Client.current(allow_global=True)  # not made the default client
        envs = client.run(lambda: (os.environ.get(dask_scheduler.MALLOC_TRIM), os.environ.get("OMP_NUM_THREADS")))
        assert list(envs.values()) == [(None, "1"), (None, "1")]  # Dask's other settings are kept
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_ray_starts_a_local_cluster_and_shuts_it_down(tmp_path, ray_shutdown):
    if ray.is_initialized():
        ray.shutdown()
    ds = image_ds(tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fill(scale=2).eval(list(range(8)), ds, num_workers=2, scheduler="ray", progressbar=False)
    np.testing.assert_array_equal(ds.images.numpy()[:, 0, 0], [2 * x for x in range(8)])
    assert not ray.is_initialized()
