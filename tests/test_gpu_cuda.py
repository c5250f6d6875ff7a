"""GPU-only checks: each CuPy kernel against its NumPy twin, the transforms on CUDA against the
same transforms on the CPU, DLPack hand-off without copies, and DALI ``mixed`` decoding against
DALI on the CPU. Skipped (with the reason) on machines without a CUDA device, CuPy or DALI."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

import deeplake_nb as dl
from deeplake_nb.demo.synthetic import generate
from deeplake_nb.gpu import params, twins
from deeplake_nb.gpu.device import cupy_device_count, has_package, torch_cuda_available

pytestmark = pytest.mark.skipif(cupy_device_count() == 0,
                                reason="needs a CUDA device and cupy-cuda12x (pip install 'deeplake_nb[gpu]')")
needs_dali = pytest.mark.skipif(not has_package("nvidia.dali"), reason="nvidia-dali-cuda120 is not installed")
needs_torch_cuda = pytest.mark.skipif(not torch_cuda_available(), reason="needs a CUDA device and a CUDA build of torch")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ATOL = 1e-3   # on the [0, 255] scale: float32 rounding, no FMA contraction in the kernels


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [s.jpeg for s in generate(16, seed=3)]


@pytest.fixture(scope="module")
def decoded(jpegs) -> list[np.ndarray]:
    return [simplejpeg.decode_jpeg(j) for j in jpegs]


@pytest.fixture(scope="module")
def kernels():
    from deeplake_nb.gpu import kernels

    return kernels


def test_resized_crop_kernel_matches_its_twin(kernels, decoded):
    import cupy

    images = decoded[:8] + [decoded[8][..., :1].copy()]            # a gray one is broadcast
    rng = np.random.default_rng(0)
    boxes = params.resized_crop_boxes([i.shape for i in images], rng)
    boxes[0] = [3.25, 7.5, 40.0, 90.75]                                # fractional box
    flips = params.flip_flags(len(images), rng)
    got = kernels.resized_crop(images, boxes, flips, (224, 200))
    assert isinstance(got, cupy.ndarray) and got.shape == (9, 224, 200, 3)
    np.testing.assert_allclose(got.get(), twins.resized_crop(images, boxes, flips, (224, 200)), atol=ATOL)
    # device inputs (ragged and dense) give the same result
    on_device = kernels.resized_crop([cupy.asarray(i) for i in images], boxes, flips, (224, 200))
    np.testing.assert_array_equal(on_device.get(), got.get())
    dense = np.stack([i[:150, :150] for i in decoded[:4]])
    np.testing.assert_allclose(kernels.resized_crop(cupy.asarray(dense), boxes[:4], flips[:4], (64, 64)).get(),
                               twins.resized_crop(dense, boxes[:4], flips[:4], (64, 64)), atol=ATOL)


def test_color_jitter_kernel_matches_its_twin(kernels):
    import cupy

    x = np.random.default_rng(1).uniform(0, 255, (6, 64, 48, 3)).astype(np.float32)
    b, c = params.jitter_factors(6, np.random.default_rng(2), 0.5, 0.8)
    np.testing.assert_allclose(kernels.color_jitter(cupy.asarray(x), b, c).get(), twins.color_jitter(x, b, c), atol=ATOL)
    gray = x[..., :1].copy()
    np.testing.assert_allclose(kernels.color_jitter(cupy.asarray(gray), b, c).get(), twins.color_jitter(gray, b, c),
                               atol=ATOL)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_normalize_kernel_matches_its_twin(kernels, dtype):
    import cupy

    x = np.random.default_rng(3).uniform(0, 255, (5, 33, 17, 3)).astype(dtype)
    got = kernels.normalize(cupy.asarray(x), MEAN, STD)
    assert got.shape == (5, 3, 33, 17) and got.flags.c_contiguous
    np.testing.assert_allclose(got.get(), twins.normalize(x, MEAN, STD), atol=1e-5)


def test_flip_matches_its_twin(kernels):
    import cupy

    x = np.random.default_rng(4).uniform(0, 255, (4, 8, 9, 3)).astype(np.float32)
    flags = np.array([True, False, True, False])
    np.testing.assert_array_equal(kernels.flip(cupy.asarray(x), flags).get(), twins.flip(x, flags))


@needs_torch_cuda
def test_compose_on_cuda_equals_compose_on_cpu_with_the_same_seed(decoded):
    import torch

    steps = lambda: [dl.gpu.RandomResizedCrop(224), dl.gpu.RandomFlip(), dl.gpu.ColorJitter(0.4, 0.4),  # noqa: E731
                     dl.gpu.Normalize(MEAN, STD)]
    on_gpu = dl.gpu.Compose(steps(), device="cuda", seed=7)
    on_cpu = dl.gpu.Compose(steps(), device="cpu", seed=7)
    for start in (0, 8):
        got, want = on_gpu(decoded[start:start + 8]), on_cpu(decoded[start:start + 8])
        assert got.is_cuda and got.shape == (8, 3, 224, 224)
        torch.testing.assert_close(got.cpu(), want, rtol=0, atol=1e-4)


@needs_torch_cuda
def test_cupy_results_reach_torch_without_a_copy(decoded):
    import cupy
    import torch

    tf = dl.gpu.Compose([dl.gpu.RandomResizedCrop(32), dl.gpu.Normalize()], device="cuda", seed=0, output="array")
    arr = tf(decoded[:2])
    tensor = torch.from_dlpack(arr)
    assert tensor.data_ptr() == arr.data.ptr
    # torch CUDA tensors go in through DLPack as well
    images = torch.from_numpy(np.stack([d[:100, :100] for d in decoded[:2]])).cuda()
    out = dl.gpu.Compose([dl.gpu.Normalize()], device="cuda")(images)
    assert out.is_cuda and out.shape == (2, 3, 100, 100)
    assert isinstance(cupy.from_dlpack(out), cupy.ndarray)


@needs_dali
@needs_torch_cuda
def test_dali_mixed_decode_matches_dali_cpu(jpegs):
    gpu = dl.gpu.DaliImagePipeline(8, device="cuda")
    cpu = dl.gpu.DaliImagePipeline(8, device="cpu")
    for a, b in zip(gpu.decode(jpegs[:8]), cpu.decode(jpegs[:8])):
        assert a.shape == b.shape
        # nvJPEG's IDCT and chroma upsampling may differ from libjpeg-turbo by a few levels
        assert np.abs(a.astype(int) - b).mean() < 1.0 and np.abs(a.astype(int) - b).max() <= 16


@needs_dali
@needs_torch_cuda
def test_dali_cuda_pipeline_matches_the_cpu_pipeline(jpegs):
    gpu = dl.gpu.DaliImagePipeline(8, size=224, device="cuda", seed=5)
    cpu = dl.gpu.DaliImagePipeline(8, size=224, device="cpu", seed=5)
    for start in (0, 8):
        got, want = gpu.run(jpegs[start:start + 8]), cpu.run(jpegs[start:start + 8])
        assert got.is_cuda and got.shape == want.shape
        assert (got.cpu() - want).abs().mean() < 0.02
    epochs = [[len(t) for t in gpu.iterate([jpegs[:8], jpegs[8:13]])] for _ in range(2)]
    assert epochs == [[8, 5], [8, 5]]


@needs_dali
@needs_torch_cuda
def test_the_dali_loader_on_cuda_matches_the_cpu_loader(tmp_path, jpegs):
    import torch

    ds = dl.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
        ds.extend({"images": [dl.Sample(buffer=j) for j in jpegs], "labels": [i % 3 for i in range(len(jpegs))]})

    def loader(device, *steps):
        return ds.pytorch(tensors=["images", "labels"], batch_size=6, shuffle=True, seed=4, device=device,
                          decode_method={"images": "dali"},
                          transform=dl.gpu.Compose(list(steps), device="cpu") if steps else None)

    all_in_dali = (dl.gpu.RandomResizedCrop(64), dl.gpu.RandomFlip(), dl.gpu.Normalize(MEAN, STD))
    with_kernels = (dl.gpu.RandomResizedCrop(64), dl.gpu.ColorJitter(0.3, 0.3), dl.gpu.Normalize(MEAN, STD))
    for steps in (all_in_dali, with_kernels):
        for got, want in zip(loader("cuda", *steps), loader("cpu", *steps)):
            assert got["images"].is_cuda and got["labels"].is_cuda and got["index"].is_cuda
            assert got["images"].shape == want["images"].shape == (len(want["index"]), 3, 64, 64)
            assert torch.equal(got["index"].cpu(), want["index"]) and torch.equal(got["labels"].cpu(), want["labels"])
            # nvJPEG may differ from libjpeg-turbo by a few levels; the crops and flips are the same
            assert (got["images"].cpu() - want["images"]).abs().mean() < 0.02
    for got, want in zip(loader("cuda"), loader("cpu")):           # decode only: uint8 HWC images on the GPU
        for a, b in zip(got["images"], want["images"]):
            assert a.is_cuda and a.dtype == torch.uint8 and a.shape == b.shape
            diff = (a.cpu().int() - b.int()).abs()
            assert diff.float().mean() < 1.0 and diff.max() <= 16
