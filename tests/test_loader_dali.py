"""``ds.pytorch(decode_method={"images": "dali"}, device=..., transform=dl.gpu.Compose(...))`` on the
CPU (DALI's CPU operators, the same pipeline as on a GPU): outputs equal the CPU loader plus the
NumPy twins, batches keep the loader's order, labels, shuffling, worker independence, resume and
DDP shares; no GPU means a clear error or a warned fallback; bad options and unreadable samples
are reported with what to do."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.gpu.device import cuda_available, has_package
from test_loader_support import check_batch, jpeg

pytestmark = [pytest.mark.skipif(not has_package("nvidia.dali"), reason="nvidia-dali-cuda120 is not installed"),
              pytest.mark.filterwarnings("ignore::deeplake_nb.errors.GPUFallbackWarning")]
no_gpu = pytest.mark.skipif(cuda_available(), reason="checks the behaviour on a machine without a GPU")
N = 40
SIZE = 16


def bad_table_jpeg(i: int) -> bytes:
    """A JPEG whose header is intact (it passes the write-time checks) but whose scan names an
    undefined Huffman table: every decoder (libjpeg-turbo, DALI, nvJPEG) rejects it."""
    data = bytearray(jpeg(i))
    sos = data.index(b"\xff\xda")
    data[sos + 6] = 0x33
    return bytes(data)


def png(i: int) -> bytes:
    rng = np.random.default_rng(i)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (10 + i % 3, 12, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def make(path: str, n: int = N, bad: tuple[int, ...] = ()) -> dl.Dataset:
    """images (ragged JPEGs whose pixel [4, 4] encodes the row), square (24x24 JPEGs), pngs,
    labels (row % 7) and vec (row * [1, 2, 3, 4]), as in ``test_loader_support``."""
    ds = dl.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("square", htype="image", sample_compression="jpeg")
        ds.create_tensor("pngs", htype="image", sample_compression="png")
        ds.create_tensor("labels", htype="class_label", class_names=[f"c{k}" for k in range(7)])
        ds.create_tensor("vec", dtype="float32")
        square = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
        ds.extend({
            "images": [dl.Sample(buffer=bad_table_jpeg(i) if i in bad else jpeg(i)) for i in range(n)],
            "square": [square] * n,
            "pngs": [dl.Sample(buffer=png(i)) for i in range(n)],
            "labels": [i % 7 for i in range(n)],
            "vec": [np.arange(1, 5, dtype=np.float32) * i for i in range(n)],
        })
    return dl.load(path, read_only=True)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return make(str(tmp_path_factory.mktemp("dali") / "ds"))


@pytest.fixture(scope="module")
def bad_ds(tmp_path_factory):
    return make(str(tmp_path_factory.mktemp("dali") / "bad"), n=24, bad=(5, 17))


def steps(jitter: bool = False) -> list:
    middle = [dl.gpu.ColorJitter(0.4, 0.4)] if jitter else []
    return [dl.gpu.RandomResizedCrop(SIZE, scale=(0.3, 1.0)), dl.gpu.RandomFlip(), *middle, dl.gpu.Normalize()]


def dali_loader(ds, jitter: bool = False, **options) -> dl.loader.torch_loader.Loader:
    options = {"tensors": ["images", "labels"], "batch_size": 8, "shuffle": True, "seed": 3, "num_threads": 2,
               **options}
    return ds.pytorch(decode_method={"images": "dali"},
                      transform=dl.gpu.Compose(steps(jitter), device="cpu"), **options)


def run(loader) -> list[dict]:
    return [dict(b) for b in loader]


# -- equal to the CPU path ------------------------------------------------------------------------
def test_decode_only_equals_the_cpu_decoder(ds):
    dali = ds.pytorch(tensors=["images", "square", "pngs", "labels", "vec"], batch_size=8, shuffle=True, seed=1,
                      decode_method={"images": "dali", "square": "dali", "pngs": "dali"})
    cpu = ds.pytorch(tensors=["images", "square", "pngs", "labels", "vec"], batch_size=8, shuffle=True, seed=1)
    batches = run(dali)
    assert len(batches) == len(cpu) == N // 8
    for got, want in zip(batches, cpu):
        check_batch(got)
        assert torch.equal(got["index"], want["index"]) and torch.equal(got["labels"], want["labels"])
        assert isinstance(got["images"], list)                      # ragged: a list of HWC uint8 tensors
        for a, b in zip(got["images"], want["images"]):
            assert a.dtype == torch.uint8 and a.shape == b.shape
            assert (a.int() - b.int()).abs().max() <= 1
        assert got["square"].shape == (8, 24, 24, 3) and got["square"].dtype == torch.uint8  # one shape: NHWC
        assert (got["square"].int() - want["square"].int()).abs().max() <= 1
        for a, b in zip(got["pngs"], want["pngs"]):
            assert torch.equal(a, b)                                # PNG is lossless


@pytest.mark.parametrize("jitter", [False, True], ids=["all-in-dali", "dali-decode+twins"])
def test_augmented_output_equals_the_cpu_loader_plus_the_numpy_twins(ds, jitter):
    loader = dali_loader(ds, jitter)
    assert ("decode+transform" in repr(loader._stage)) == (not jitter)
    reference = ds.pytorch(tensors=["images", "labels"], batch_size=8, shuffle=True, seed=3)
    twins = dl.gpu.Compose(steps(jitter), device="cpu", seed=loader.seed)   # unseeded Compose: the loader's seed
    for epoch in range(2):
        for b, (got, want) in enumerate(zip(loader, reference)):
            assert torch.equal(got["index"], want["index"]) and torch.equal(got["labels"], want["labels"])
            expected = twins(want["images"], key=(epoch, 0, b))
            assert got["images"].shape == (8, 3, SIZE, SIZE) and got["images"].dtype == torch.float32
            torch.testing.assert_close(got["images"], expected, rtol=0, atol=0.02)   # one decoded level is 0.017


def test_a_seeded_compose_keeps_its_seed(ds):
    seeded = ds.pytorch(tensors=["images"], batch_size=8, seed=3, decode_method={"images": "dali"},
                        transform=dl.gpu.Compose(steps(), device="cpu", seed=11))
    other_loader_seed = ds.pytorch(tensors=["images"], batch_size=8, seed=4, decode_method={"images": "dali"},
                                   transform=dl.gpu.Compose(steps(), device="cpu", seed=11))
    unseeded = ds.pytorch(tensors=["images"], batch_size=8, seed=3, decode_method={"images": "dali"},
                          transform=dl.gpu.Compose(steps(), device="cpu"))
    a, b, c = (next(iter(x))["images"] for x in (seeded, other_loader_seed, unseeded))
    assert torch.equal(a, b) and not torch.equal(a, c)


# -- order, workers, resume, shares ---------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [0, 2])
def test_same_order_and_labels_as_the_normal_loader(ds, num_workers):
    loader = dali_loader(ds, num_workers=num_workers)
    normal = ds.pytorch(tensors=["images", "labels"], batch_size=8, shuffle=True, seed=3, num_workers=num_workers)
    epochs = []
    for _ in range(2):
        got, want = run(loader), run(normal)
        assert [b["index"][:, 0].tolist() for b in got] == [b["index"][:, 0].tolist() for b in want]
        assert all(torch.equal(g["labels"], w["labels"]) for g, w in zip(got, want))
        assert [b["labels"][:, 0].tolist() for b in got] == [[i % 7 for i in b["index"][:, 0].tolist()] for b in got]
        epochs.append(got)
    assert epochs[0][0]["index"][:, 0].tolist() != epochs[1][0]["index"][:, 0].tolist()   # reshuffled every epoch
    if num_workers:                                  # the workers do not change what the user gets
        single = dali_loader(ds, num_workers=0)
        for e in epochs:
            for g, w in zip(e, run(single)):
                assert torch.equal(g["images"], w["images"])


def test_resume_mid_epoch_gives_the_same_remaining_batches(ds):
    first = dali_loader(ds, seed=None, jitter=True)        # no seed: the resumed loader adopts the saved one
    run(first)                                              # epoch 0
    it = iter(first)
    head = [next(it), next(it)]
    state = first.state_dict()
    rest = list(it)
    resumed = dali_loader(ds, seed=None, jitter=True, num_workers=2)
    resumed.load_state_dict(state)
    again = run(resumed)
    assert len(head) + len(again) == len(first) and len(again) == len(rest)
    for g, w in zip(again, rest):
        assert torch.equal(g["index"], w["index"]) and torch.equal(g["images"], w["images"])


def test_ddp_shares_cover_the_epoch_disjointly(ds):
    shares = [run(dali_loader(ds, rank=r, world_size=2)) for r in range(2)]
    indices = [[i for b in share for i in b["index"][:, 0].tolist()] for share in shares]
    assert len(indices[0]) == len(indices[1]) == N // 2
    assert sorted(indices[0] + indices[1]) == list(range(N))
    whole = dali_loader(ds).epoch_indices(0).tolist()
    assert indices[0] + indices[1] == whole                  # contiguous shares of the one shuffled order
    for share in shares:
        for b in share:
            assert b["images"].shape[1:] == (3, SIZE, SIZE)
            assert b["labels"][:, 0].tolist() == [i % 7 for i in b["index"][:, 0].tolist()]
    # each rank has its own augmentation stream: batch 0 of rank 1 is not cropped like batch 0 of rank 0
    twins = dl.gpu.Compose(steps(), device="cpu", seed=3)
    images = ds.pytorch(tensors=["images"], batch_size=8, return_index=False)
    first = next(iter(images))["images"]
    assert not torch.equal(twins(first, key=(0, 0, 0)), twins(first, key=(0, 1, 0)))


# -- devices --------------------------------------------------------------------------------------
@no_gpu
def test_cuda_without_a_gpu_raises_at_construction(ds):
    with pytest.raises(errors.GPUUnavailableError, match='device="auto"'):
        dali_loader(ds, device="cuda")
    with pytest.raises(errors.GPUUnavailableError):
        ds.pytorch(tensors=["labels"], device="cuda")


@no_gpu
def test_auto_without_a_gpu_warns_and_runs_on_the_cpu(ds):
    with pytest.warns(errors.GPUFallbackWarning, match="runs on the CPU"):
        loader = dali_loader(ds, device="auto")
    batch = next(iter(loader))
    assert batch["images"].device.type == "cpu" and batch["images"].shape == (8, 3, SIZE, SIZE)
    reference = next(iter(dali_loader(ds)))
    assert torch.equal(batch["images"], reference["images"])


def test_device_without_dali_or_gpu_transforms_keeps_the_batch(ds):
    plain = next(iter(ds.pytorch(tensors=["labels", "vec"], batch_size=8, device="cpu")))
    assert plain["vec"].device.type == "cpu" and check_batch(plain) == list(range(8))


def test_a_compose_on_a_cpu_decoded_tensor_runs_on_the_batch(ds):
    loader = ds.pytorch(tensors=["images", "labels"], batch_size=8, seed=2, return_index=False,
                        transform={"images": dl.gpu.Compose(steps(), device="cpu"), "labels": None})
    reference = ds.pytorch(tensors=["images"], batch_size=8)
    twins = dl.gpu.Compose(steps(), device="cpu", seed=2)
    for b, (got, want) in enumerate(zip(loader, reference)):
        assert list(got.keys()) == ["images", "labels"]
        torch.testing.assert_close(got["images"], twins(want["images"], key=(0, 0, b)), rtol=0, atol=0)


# -- refused options ------------------------------------------------------------------------------
def test_per_sample_transforms_on_a_dali_tensor_are_refused(ds):
    with pytest.raises(errors.LoaderError, match="use dl.gpu transforms|Use dl.gpu transforms"):
        ds.pytorch(tensors=["images"], decode_method={"images": "dali"}, transform={"images": lambda x: x})
    with pytest.raises(errors.LoaderError, match="dl.gpu.Compose"):
        ds.pytorch(tensors=["images", "labels"], decode_method={"images": "dali"}, transform=lambda s: s)
    # per-sample callables for the other tensors are fine
    loader = ds.pytorch(tensors=["images", "vec"], batch_size=4, decode_method={"images": "dali"},
                        transform={"images": None, "vec": lambda v: v * 2})
    assert next(iter(loader))["vec"][:, 0].tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.parametrize("tensor", ["labels", "vec"])
def test_dali_on_a_non_image_tensor_is_refused(ds, tensor):
    with pytest.raises(errors.LoaderError, match="decode_method 'dali' is for image tensors"):
        ds.pytorch(tensors=[tensor], decode_method={tensor: "dali"})


def test_other_misuses_say_what_to_do(ds):
    with pytest.raises(errors.LoaderError, match="decode_method={'images': 'dali'}"):
        ds.pytorch(tensors=["images"], transform=dl.gpu.Compose(steps(), device="cpu"))
    with pytest.raises(errors.LoaderError, match="collate_fn"):
        ds.pytorch(tensors=["images"], decode_method={"images": "dali"}, collate_fn=list)
    with pytest.raises(errors.LoaderError, match="output='numpy'"):
        ds.dataloader().numpy(tensors=["images"], decode_method={"images": "dali"})
    with pytest.raises(errors.LoaderError, match="device must be one of"):
        ds.pytorch(tensors=["images"], device="gpu")
    with pytest.raises(errors.LoaderError, match="ds.pytorch"):
        ds.torch_dataset(tensors=["images"], decode_method={"images": "dali"})
    with pytest.raises(errors.LoaderError, match="batched image transforms"):
        ds.pytorch(tensors=["vec"], transform={"vec": dl.gpu.Compose([dl.gpu.Normalize()], device="cpu")})


def test_the_builder_forwards_dali_and_device(ds):
    loader = (ds.dataloader().batch(8).shuffle(seed=3)
              .transform(dl.gpu.Compose(steps(), device="cpu"))
              .pytorch(tensors=["images", "labels"], decode_method={"images": "dali"}, device="cpu", num_threads=2))
    for got, want in zip(loader, dali_loader(ds)):
        assert torch.equal(got["images"], want["images"])


# -- unreadable samples ---------------------------------------------------------------------------
@pytest.mark.parametrize("transform", [None, "compose"])
def test_a_corrupt_jpeg_raises_with_its_index(bad_ds, transform):
    options = {"transform": dl.gpu.Compose(steps(), device="cpu")} if transform else {}
    loader = bad_ds.pytorch(tensors=["images", "labels"], batch_size=8, decode_method={"images": "dali"}, **options)
    with pytest.raises(errors.CorruptSampleError, match=r"sample index 5\b.*ignore_errors=True"):
        run(loader)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_corrupt_jpeg_is_dropped_from_every_tensor_with_ignore_errors(bad_ds, num_workers):
    loader = dali_loader(bad_ds, shuffle=False, ignore_errors=True, num_workers=num_workers,
                         tensors=["images", "labels", "vec"])
    batches = run(loader)
    assert sorted(loader.skipped) == [5, 17]
    seen = [check_batch(b) for b in batches]
    assert [i for b in seen for i in b] == [i for i in range(24) if i not in (5, 17)]
    assert [len(b["images"]) for b in batches] == [7, 8, 7]
    reference = bad_ds.pytorch(tensors=["images"], batch_size=8, ignore_errors=True)
    twins = dl.gpu.Compose(steps(), device="cpu", seed=loader.seed)
    for b, (got, want) in enumerate(zip(batches, reference)):      # the kept rows are augmented as on the CPU
        torch.testing.assert_close(got["images"], twins(want["images"], key=(0, 0, b)), rtol=0, atol=0.02)
