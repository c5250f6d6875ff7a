"""``ds.numpy_batches()``: the loader's planner and pipeline without torch. The same options give
the same batches as ``ds.pytorch(output="numpy")``; shuffle, shares and resume follow the plan."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_loader_support import build, check_batch

import deeplake_nb as dl
from deeplake_nb import errors


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("nb") / "ds"), n=45)


def _indices(batches) -> list[list[int]]:
    return [check_batch(b) for b in batches]


def _flat(batches) -> list[int]:
    return [i for batch in _indices(batches) for i in batch]


def test_batches_match_the_pytorch_loader_batch_for_batch(data):
    options = {"tensors": ["images", "labels", "captions", "vec", "boxes"], "batch_size": 8, "shuffle": True, "seed": 3}
    mine = list(data.numpy_batches(**options))
    theirs = list(data.pytorch(output="numpy", **options))
    assert len(mine) == len(theirs) == 6
    for a, b in zip(mine, theirs):
        assert type(a) is dict and list(a) == list(b.keys())
        check_batch(a)
        assert len(a["images"]) == len(b["images"])
        for x, y in zip(a["images"], b["images"]):
            np.testing.assert_array_equal(x, y)
        for key in ("index", "labels", "vec"):
            np.testing.assert_array_equal(a[key], b[key])
        assert a["captions"] == b["captions"]
        assert [x.tolist() for x in a["boxes"]] == [x.tolist() for x in b["boxes"]]


def test_each_iteration_is_the_next_epoch_and_shuffles_anew(data):
    batches = data.numpy_batches(tensors=["vec"], batch_size=10, shuffle=True, seed=5)
    first = _flat(batches)
    second = _flat(batches)
    assert sorted(first) == sorted(second) == list(range(45)) and first != second
    assert batches.epoch == 2
    assert _flat(data.numpy_batches(tensors=["vec"], batch_size=10)) == list(range(45))
    batches.set_epoch(0)
    assert _flat(batches) == first


def test_shares_are_disjoint_contiguous_slices_of_one_permutation(data):
    order = _flat(data.numpy_batches(tensors=["vec"], batch_size=45, shuffle=True, seed=9))
    shares = [_flat(data.numpy_batches(tensors=["vec"], batch_size=4, shuffle=True, seed=9, num_replicas=3, rank=r))
              for r in range(3)]
    assert shares == [order[0:15], order[15:30], order[30:45]]
    with pytest.raises(errors.LoaderOptionError, match="seed"):
        data.numpy_batches(tensors=["vec"], shuffle=True, num_replicas=2, rank=1)
    with pytest.raises(errors.LoaderOptionError, match="rank 2"):
        data.numpy_batches(tensors=["vec"], num_replicas=2, rank=2)


RESUME = textwrap.dedent("""
    import json, sys
    import deeplake_nb as dl
    path, options, state = json.loads(sys.stdin.read())
    batches = dl.load(path, read_only=True).numpy_batches(**options)
    batches.load_state_dict(state)
    print(json.dumps([[b["index"][:, 0].tolist() for b in batches] for _ in range(2)]))
    assert "torch" not in sys.modules and "tensorflow" not in sys.modules and "jax" not in sys.modules
""")


def test_resume_mid_epoch_in_a_new_process_without_torch(data):
    options = {"tensors": ["images", "vec", "labels"], "batch_size": 7, "shuffle": "chunks", "shuffle_block": 5, "seed": 11}
    batches = data.numpy_batches(**options)
    full = [_indices(batches) for _ in range(2)]
    again = data.numpy_batches(**options)
    seen = []
    for batch in again:
        seen.append(check_batch(batch))
        if len(seen) == 3:
            break
    state = json.loads(json.dumps(again.state_dict()))
    assert seen == full[0][:3] and state["batch"] == 3
    out = subprocess.run([sys.executable, "-c", RESUME], input=json.dumps([data.path, options, state]),
                         capture_output=True, text=True, check=True)
    rest, next_epoch = json.loads(out.stdout)
    assert rest == full[0][3:] and next_epoch == full[1]
    # the state of a pytorch loader planned the same way resumes here too
    loader = data.pytorch(output="numpy", **options)
    loader.load_state_dict(state)
    assert _indices(loader) == full[0][3:]
    with pytest.raises(errors.LoaderStateError, match="batch_size"):
        data.numpy_batches(**{**options, "batch_size": 8}).load_state_dict(state)


def test_views_transforms_and_options(data):
    view = data[10:20]
    assert _flat(view.numpy_batches(tensors=["vec"], batch_size=4)) == list(range(10, 20))
    out = list(data[:6].numpy_batches(tensors=["vec"], batch_size=3, transform={"vec": lambda v: v * 2},
                                      return_index=False))
    assert [list(b) for b in out] == [["vec"], ["vec"]]
    np.testing.assert_array_equal(out[1]["vec"][:, 0], [6, 8, 10])
    raw = next(iter(data.numpy_batches(tensors=["images"], batch_size=2, tobytes=True)))
    assert raw["images"] == [data.images[0].tobytes(), data.images[1].tobytes()]
    with pytest.raises(errors.LoaderOptionError, match="dali"):
        data.numpy_batches(tensors=["images"], decode_method={"images": "dali"})
    with pytest.raises(errors.TensorNotFoundError):
        data.numpy_batches(tensors=["nope"])
    assert len(data.numpy_batches(tensors=["vec"], batch_size=10, drop_last=True)) == 4


def test_corrupt_samples_are_skipped_with_ignore_errors(tmp_path):
    bad = build(str(tmp_path / "bad"), n=12, corrupt=(4,))
    with pytest.raises(errors.CorruptSampleError, match="sample index 4"):
        list(bad.numpy_batches(tensors=["images"], batch_size=4))
    batches = bad.numpy_batches(tensors=["images", "vec"], batch_size=4, ignore_errors=True)
    got = _flat(batches)
    assert got == [i for i in range(12) if i != 4] and batches.skipped == [4]


def test_import_loads_no_framework():
    code = ("import sys, deeplake_nb as dl; ds = dl.empty('mem://x'); "
            "print([m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert hasattr(dl.Dataset, "numpy_batches") and hasattr(dl.Dataset, "jax") and hasattr(dl.Dataset, "tensorflow")


def test_query_views_stream_their_rows_and_columns(data):
    view = data.query("SELECT vec, labels WHERE labels == 'c3'")
    batches = list(view.numpy_batches(batch_size=2))
    assert [list(b) for b in batches][0] == ["vec", "labels", "index"]
    assert _flat(view.numpy_batches(batch_size=2)) == [i for i in range(45) if i % 7 == 3]
