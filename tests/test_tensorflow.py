"""``ds.tensorflow()``: Deep Lake v3's ``tf.data.Dataset`` (CPU build of TensorFlow), over the
loader's planner: samples or batches, shuffle, shares and resume."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from test_loader_support import build

import deeplake_nb as dl
from deeplake_nb import errors

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build(str(tmp_path_factory.mktemp("tf") / "ds"), n=20)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """Same-shape PNG images, labels, text, json, list and a 2-D float tensor."""
    ds = dl.empty(str(tmp_path_factory.mktemp("tf") / "fixed"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png")
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("text", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("tags", htype="list")
        ds.create_tensor("grid", dtype="float32")
        rng = np.random.default_rng(0)
        ds.extend({"images": [rng.integers(0, 255, (6, 5, 3), dtype=np.uint8) for _ in range(10)],
                   "labels": [i % 2 for i in range(10)], "text": [f"t{i}" for i in range(10)],
                   "meta": [{"i": i} for i in range(10)], "tags": [["x"] * (i % 3) for i in range(10)],
                   "grid": [np.full((2, 3), i, np.float32) for i in range(10)]})
    return ds


def test_samples_have_v3_forms_and_a_signature_from_the_metadata(fixed):
    t = fixed.tensorflow()
    spec = t.element_spec
    assert spec["images"] == tf.TensorSpec((6, 5, 3), tf.uint8)
    assert spec["labels"] == tf.TensorSpec((1,), tf.uint32)
    assert spec["text"] == spec["meta"] == tf.TensorSpec((1,), tf.string)
    assert spec["tags"] == tf.TensorSpec((None,), tf.string)
    assert spec["grid"] == tf.TensorSpec((2, 3), tf.float32)
    samples = list(t)
    assert len(samples) == 10 and "index" not in samples[0]  # v3 gives no index
    for i, s in enumerate(samples):
        np.testing.assert_array_equal(s["images"].numpy(), fixed.images[i].numpy())
        assert s["labels"].numpy().tolist() == [i % 2]
        assert s["text"].numpy().tolist() == [f"t{i}".encode()]
        assert json.loads(s["meta"].numpy()[0]) == {"i": i}
        assert s["tags"].numpy().tolist() == [b"x"] * (i % 3)
        assert s["grid"].numpy().tolist() == [[float(i)] * 3] * 2
    raw = next(iter(fixed.tensorflow(tensors=["images"], tobytes=True)))
    assert raw["images"].dtype == tf.string and raw["images"].numpy()[0] == fixed.images[0].tobytes()
    assert raw["images"].numpy()[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_batch_size_gives_what_tf_batch_makes(fixed):
    names = ["images", "labels", "text", "meta", "grid"]
    ours = list(fixed.tensorflow(tensors=names, batch_size=4, return_index=True))
    theirs = list(fixed.tensorflow(tensors=names, return_index=True).batch(4))
    assert [len(b["labels"]) for b in ours] == [4, 4, 2]
    for a, b in zip(ours, theirs):
        for key in [*names, "index"]:
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert fixed.tensorflow(tensors=names, batch_size=4, drop_last=True).element_spec["grid"].shape == (4, 2, 3)


def test_ragged_tensors_need_sample_mode(data):
    with pytest.raises(errors.LoaderOptionError, match="ragged_batch"):
        data.tensorflow(tensors=["images", "vec"], batch_size=4)
    t = data.tensorflow(tensors=["images", "boxes", "captions"])
    assert t.element_spec["images"].shape.as_list() == [None, None, 3]
    batch = next(iter(t.ragged_batch(5)))
    assert isinstance(batch["images"], tf.RaggedTensor) and batch["images"].shape[0] == 5
    for i in range(5):
        np.testing.assert_array_equal(batch["images"][i].numpy(), data.images[i].numpy())
        np.testing.assert_array_equal(batch["boxes"][i].numpy(), data.boxes[i].numpy())


def test_epochs_shuffle_shares_and_resume(data):
    t = data.tensorflow(tensors=["vec"], batch_size=3, shuffle=True, seed=2, return_index=True, num_replicas=2,
                        rank=1)
    epoch0 = [b["index"].numpy()[:, 0].tolist() for b in t]
    epoch1 = [b["index"].numpy()[:, 0].tolist() for b in t]
    plan = data.numpy_batches(tensors=["vec"], batch_size=3, shuffle=True, seed=2, num_replicas=2, rank=1)
    assert epoch0 == [b["index"][:, 0].tolist() for b in plan]
    assert epoch1 == [b["index"][:, 0].tolist() for b in plan] and epoch0 != epoch1
    for rows in epoch0:
        for i in rows:
            assert i in range(20)
    again = data.tensorflow(tensors=["vec"], batch_size=3, shuffle=True, seed=2, return_index=True,
                            num_replicas=2, rank=1)
    it = iter(again)
    seen = [next(it)["index"].numpy()[:, 0].tolist() for _ in range(2)]
    state = again.loader.state_dict()
    assert seen == epoch0[:2] and state["batch"] == 2
    resumed = data.tensorflow(tensors=["vec"], batch_size=3, shuffle=True, seed=2, return_index=True,
                              num_replicas=2, rank=1)
    resumed.loader.load_state_dict(state)
    assert [b["index"].numpy()[:, 0].tolist() for b in resumed] == epoch0[2:]


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # Keras, at the end of an epoch of unknown length
def test_keras_fits_on_it(fixed):
    t = fixed.tensorflow(tensors=["grid", "labels"], batch_size=5).map(
        lambda s: (tf.reshape(s["grid"], (-1, 6)), tf.cast(s["labels"], tf.float32)))
    model = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(t, epochs=2, verbose=0, shuffle=False)  # the loader shuffles (shuffle=True, seed=...)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))


def test_refusals_are_ours(fixed, tmp_path):
    with pytest.raises(errors.LoaderOptionError, match="map"):
        fixed.tensorflow(transform=lambda s: s)
    with pytest.raises(errors.LoaderOptionError, match="batch_size"):
        fixed.tensorflow(batch_size=0)
    poly = dl.empty(str(tmp_path / "poly"))
    poly.create_tensor("p", htype="polygon")
    poly.p.append([np.zeros((3, 2), np.float32)])
    with pytest.raises(errors.LoaderOptionError, match="no tf.data form"):
        poly.tensorflow()
    assert poly.tensorflow(tobytes=True).element_spec["p"] == tf.TensorSpec((1,), tf.string)
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "import deeplake_nb as dl, numpy as np\n"
            "ds = dl.empty('mem://notf'); ds.create_tensor('x'); ds.x.extend(np.arange(3))\n"
            "try:\n    ds.tensorflow()\n"
            "except dl.errors.LoaderDependencyError as e:\n    print(isinstance(e, ImportError), e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("True") and "deeplake_nb[tensorflow]" in out.stdout


def test_query_views_give_their_rows(data):
    view = data.query("SELECT vec WHERE labels == 'c2'")
    got = [int(s["vec"].numpy()[0]) for s in view.tensorflow()]
    assert got == [i for i in range(20) if i % 7 == 2]
    assert list(view.tensorflow().element_spec) == ["vec"]


def test_linked_images_decode_to_uint8_of_any_shape(tmp_path):
    from PIL import Image

    ds = dl.empty(str(tmp_path / "links"))
    ds.create_tensor("img", htype="link[image]", sample_compression="png")
    for i in range(3):
        Image.fromarray(np.full((4 + i, 5, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    ds.img.extend([dl.link(str(tmp_path / f"{i}.png")) for i in range(3)])
    t = ds.tensorflow()
    assert t.element_spec["img"] == tf.TensorSpec(None, tf.uint8)  # shapes of linked files are not read ahead
    assert [tuple(s["img"].shape) for s in t] == [(4, 5, 3), (5, 5, 3), (6, 5, 3)]
    stored = [s["img"].numpy()[0] for s in ds.tensorflow(tobytes=True)]
    assert stored == [(tmp_path / f"{i}.png").read_bytes() for i in range(3)]


def test_unreadable_samples_name_their_index_or_are_skipped(tmp_path):
    from test_loader_support import build

    bad = build(str(tmp_path / "bad"), n=8, corrupt=(3,))
    with pytest.raises(tf.errors.InvalidArgumentError, match="CorruptSampleError: Tensor 'images', sample index 3"):
        list(bad.tensorflow(tensors=["images"]))
    t = bad.tensorflow(tensors=["images", "vec"], ignore_errors=True, return_index=True)
    assert [int(s["index"].numpy()[0]) for s in t] == [0, 1, 2, 4, 5, 6, 7] and t.loader.skipped == [3]
