"""``ds.jax()``: the loader's batches as JAX arrays (CPU build of JAX), handed over by DLPack."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from test_loader_support import build

from deeplake_nb import errors

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("jax") / "ds"), n=30)


def test_batches_are_jax_arrays_equal_to_the_numpy_batches(data):
    options = {"tensors": ["images", "labels", "vec", "captions", "boxes"], "batch_size": 8, "shuffle": True,
               "seed": 4}
    plain = list(data.numpy_batches(**options))
    got = list(data.jax(**options))
    assert len(got) == len(plain) == 4
    for a, b in zip(got, plain):
        assert list(a) == list(b)
        for key in ("labels", "vec", "index"):
            assert isinstance(a[key], jax.Array)
            np.testing.assert_array_equal(np.asarray(a[key]), b[key])
        assert a["index"].dtype == jnp.int32  # JAX's default: 64-bit values as 32-bit ones
        assert a["vec"].dtype == jnp.float32 and a["labels"].dtype == jnp.uint32
        assert all(isinstance(x, jax.Array) for x in a["images"])  # ragged: one array per sample
        for x, y in zip(a["images"], b["images"]):
            np.testing.assert_array_equal(np.asarray(x), y)
        assert a["captions"] == b["captions"]


def test_a_jax_training_step_runs_on_the_batches(data):
    @jax.jit
    def step(w, x, y):
        def loss(w):
            return jnp.mean((x @ w - y) ** 2)
        return w - 1e-4 * jax.grad(loss)(w)

    w = jnp.zeros((4,))
    for batch in data.jax(tensors=["vec", "labels"], batch_size=10, drop_last=True, return_index=False):
        w = step(w, batch["vec"], batch["labels"][:, 0].astype(jnp.float32))
    assert w.shape == (4,) and bool(jnp.all(jnp.isfinite(w)))


def test_dlpack_shares_aligned_host_buffers():
    from deeplake_nb.loader.jax_loader import ToJax

    convert = ToJax()
    raw = np.empty(64 * 1024 + 64, np.uint8)
    skip = (-raw.ctypes.data) % 64  # XLA takes host buffers aligned to 64 bytes without a copy
    aligned = raw[skip:skip + 64 * 1024].view(np.float32).reshape(128, 128)
    aligned[:] = np.arange(128 * 128, dtype=np.float32).reshape(128, 128)
    out = convert({"x": aligned, "t": ["a"], "b": [b"z"]})
    assert out["x"].unsafe_buffer_pointer() == aligned.ctypes.data
    assert out["t"] == ["a"] and out["b"] == [b"z"]
    readonly = np.arange(6, dtype=np.int16)[::2]
    readonly.flags.writeable = False  # neither contiguous nor writable: copied, still right
    assert np.asarray(convert.array(readonly)).tolist() == [0, 2, 4]


def test_resume_and_shares_follow_the_plan(data):
    options = {"tensors": ["vec"], "batch_size": 4, "shuffle": True, "seed": 8, "num_replicas": 2, "rank": 1}
    full = [np.asarray(b["index"])[:, 0].tolist() for b in data.jax(**options)]
    assert full == [b["index"][:, 0].tolist() for b in data.numpy_batches(**options)]
    first = data.jax(**options)
    it = iter(first)
    next(it)
    next(it)
    state = first.state_dict()
    again = data.jax(**options)
    again.load_state_dict(state)
    assert [np.asarray(b["index"])[:, 0].tolist() for b in again] == full[2:]


def test_device_option_and_missing_jax():
    with pytest.raises(errors.LoaderOptionError, match="no 'tpu' device"):
        from deeplake_nb.loader.jax_loader import ToJax
        ToJax("tpu")
    code = ("import sys; sys.modules['jax'] = None\n"
            "import deeplake_nb as dl, numpy as np\n"
            "ds = dl.empty('mem://nojax'); ds.create_tensor('x'); ds.x.extend(np.arange(3))\n"
            "try:\n    ds.jax(batch_size=2)\n"
            "except dl.errors.LoaderDependencyError as e:\n    print(isinstance(e, ImportError), e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("True") and "deeplake_nb[jax]" in out.stdout


def test_query_views_give_their_rows(data):
    view = data.query("SELECT vec WHERE labels == 'c1'")
    rows = [np.asarray(b["index"])[:, 0].tolist() for b in view.jax(batch_size=3)]
    assert rows == [[1, 8, 15], [22, 29]]


def test_batches_reach_jax_without_a_copy(data):
    batch = next(iter(data.numpy_batches(tensors=["vec", "labels"], batch_size=8)))
    assert all(batch[k].ctypes.data % 64 == 0 for k in ("vec", "labels", "index"))
    from deeplake_nb.loader.jax_loader import ToJax

    vec = batch["vec"]
    assert ToJax()(batch)["vec"].unsafe_buffer_pointer() == vec.ctypes.data  # the loader's own buffer


SHARE = """
import json, sys, jax
jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
import deeplake_nb as dl
batches = dl.load(sys.argv[3], read_only=True).jax(tensors=["vec"], batch_size=4, shuffle=True, seed=6)
print(json.dumps([batches.rank, batches.num_replicas, [[int(i) for i in b["index"][:, 0]] for b in batches]]))
jax.distributed.shutdown()
"""


def test_each_jax_process_reads_its_share(data):
    import json
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    procs = [subprocess.Popen([sys.executable, "-c", SHARE, address, str(r), data.path], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for r in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    for rank, (got_rank, world, batches) in enumerate(outs):
        expected = data.numpy_batches(tensors=["vec"], batch_size=4, shuffle=True, seed=6, num_replicas=2, rank=rank)
        assert (got_rank, world) == (rank, 2)
        assert batches == [b["index"][:, 0].tolist() for b in expected]
    assert not set(sum(outs[0][2], [])) & set(sum(outs[1][2], []))
