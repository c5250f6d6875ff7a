"""The GPU data path, tested on the CPU: parameter sampling, every NumPy twin of the CUDA kernels
against a direct reference, the transforms, device resolution without a GPU, the shipped kernel
sources, and the DALI pipeline with ``device="cpu"`` (same pipeline code as on a GPU)."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import simplejpeg
import torch

import deeplake_nb as dl
from deeplake_nb import cuda, errors
from deeplake_nb.demo.synthetic import generate
from deeplake_nb.gpu import device as gpu_device
from deeplake_nb.gpu import params, resources, twins
from deeplake_nb.gpu.device import cuda_available, has_package

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
no_gpu = pytest.mark.skipif(cuda_available(), reason="checks the behaviour on a machine without a GPU")
needs_dali = pytest.mark.skipif(not has_package("nvidia.dali"),
                                reason="nvidia-dali-cuda120 is not installed (pip install 'deeplake_nb[gpu]')")


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [s.jpeg for s in generate(12, seed=7)]


@pytest.fixture(scope="module")
def decoded(jpegs) -> list[np.ndarray]:
    return [simplejpeg.decode_jpeg(j) for j in jpegs]


@pytest.fixture
def cpu() -> None:
    """Silence the auto->cpu fallback warning for tests that ask for device='cpu' anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GPUFallbackWarning)
        yield


def compose(*transforms, seed=0, **kw) -> dl.gpu.Compose:
    return dl.gpu.Compose(list(transforms), device="cpu", seed=seed, **kw)


# -- parameters -----------------------------------------------------------------------------------
def test_same_seed_gives_same_params_and_another_seed_others():
    shapes = [(250, 260), (200, 300), (300, 210)] * 5
    a = params.resized_crop_boxes(shapes, np.random.default_rng(3))
    b = params.resized_crop_boxes(shapes, np.random.default_rng(3))
    c = params.resized_crop_boxes(shapes, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(params.flip_flags(50, np.random.default_rng(1)),
                                  params.flip_flags(50, np.random.default_rng(1)))
    for x, y in zip(params.jitter_factors(9, np.random.default_rng(2), 0.4, 0.3),
                    params.jitter_factors(9, np.random.default_rng(2), 0.4, 0.3)):
        np.testing.assert_array_equal(x, y)


def test_resized_crop_boxes_follow_torchvision_rules():
    shapes = np.array([[250, 260], [200, 300], [300, 210], [224, 224]] * 200)
    boxes = params.resized_crop_boxes(shapes, np.random.default_rng(0), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
    top, left, h, w = boxes.T
    assert boxes.dtype == np.float32
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= shapes[:, 0]).all() and (left + w <= shapes[:, 1]).all()
    np.testing.assert_array_equal(boxes, np.rint(boxes))           # whole pixels, like torchvision
    area = h * w / (shapes[:, 0] * shapes[:, 1])
    assert area.min() >= 0.07 and area.max() <= 1.0                  # rounding slack on 0.08
    assert (w / h).min() >= 0.7 and (w / h).max() <= 1.43
    assert area.std() > 0.1                                           # really random


def test_resized_crop_boxes_fall_back_to_a_central_crop():
    # an aspect ratio of 3 cannot fit a 100x100 image at 90 % of its area: central crop, ratio clamped
    boxes = params.resized_crop_boxes([(100, 100), (100, 400)], np.random.default_rng(0),
                                      scale=(0.9, 1.0), ratio=(3.0, 3.0))
    np.testing.assert_array_equal(boxes[0], [33, 0, 33, 100])   # h = round(100 / 3), centred
    np.testing.assert_array_equal(boxes[1], [0, 50, 100, 300])  # w = 100 * 3, centred


def test_generator_advance_does_not_depend_on_image_sizes():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    params.resized_crop_boxes([(10, 10)] * 4, rng_a, scale=(0.99, 1.0), ratio=(5.0, 5.0))  # all fall back
    params.resized_crop_boxes([(500, 400)] * 4, rng_b)
    assert rng_a.random() == rng_b.random()


def test_center_crop_boxes_match_resize_then_center_crop():
    box = params.center_crop_boxes([(300, 400)], (224, 224), resize=256)[0]
    side = 224 * 300 / 256
    np.testing.assert_allclose(box, [(300 - side) / 2, (400 - side) / 2, side, side], rtol=1e-6)
    np.testing.assert_allclose(params.center_crop_boxes([(256, 256)], (224, 224))[0], [16, 16, 224, 224])


def test_flip_and_jitter_params_have_the_asked_distribution():
    flags = params.flip_flags(20000, np.random.default_rng(0), p=0.3)
    assert abs(flags.mean() - 0.3) < 0.02
    assert not params.flip_flags(100, np.random.default_rng(0), p=0.0).any()
    b, c = params.jitter_factors(5000, np.random.default_rng(0), brightness=0.4, contrast=1.5)
    assert b.dtype == np.float32 and 0.6 <= b.min() and b.max() <= 1.4
    assert 0.0 <= c.min() and c.max() <= 2.5 and c.min() < 0.05


# -- NumPy twins ----------------------------------------------------------------------------------
def naive_resized_crop(img: np.ndarray, box, size, flip: bool) -> np.ndarray:
    """Pixel-by-pixel float64 bilinear sampling, straight from the documented formula."""
    h, w, c = img.shape
    top, left, bh, bw = (float(v) for v in box)
    out = np.zeros(size + (c,))
    for oy in range(size[0]):
        for ox in range(size[1]):
            sx_out = size[1] - 1 - ox if flip else ox
            sy = min(max(top + (oy + 0.5) * bh / size[0] - 0.5, 0), h - 1)
            sx = min(max(left + (sx_out + 0.5) * bw / size[1] - 0.5, 0), w - 1)
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = sy - y0, sx - x0
            out[oy, ox] = ((img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy)
                           + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy)
    return out


def test_resized_crop_twin_matches_a_direct_reference():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(9, 13), (16, 7), (11, 11)]]
    boxes = np.array([[1.5, 2.25, 6.0, 9.5], [0, 0, 16, 7], [3, 4, 2, 3]], np.float32)
    flips = np.array([False, True, True])
    out = twins.resized_crop(images, boxes, flips, (5, 8))
    assert out.shape == (3, 5, 8, 3) and out.dtype == np.float32
    for img, box, flip, got in zip(images, boxes, flips, out):
        np.testing.assert_allclose(got, naive_resized_crop(img.astype(np.float64), box, (5, 8), flip), atol=1e-3)


def test_resized_crop_twin_with_box_of_output_size_is_an_exact_crop_and_flip():
    img = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = twins.resized_crop([img, img], np.array([[3, 5, 10, 12]] * 2, np.float32), np.array([False, True]), (10, 12))
    np.testing.assert_array_equal(out[0], img[3:13, 5:17])
    np.testing.assert_array_equal(out[1], img[3:13, 5:17][:, ::-1])


def test_resized_crop_twin_reproduces_a_linear_ramp_and_broadcasts_gray():
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8)[None, :, None], (4, 1, 1))   # 4 x 20 x 1
    rgb = np.zeros((4, 20, 3), np.uint8)
    out = twins.resized_crop([ramp, rgb], np.array([[0, 5, 4, 10]] * 2, np.float32), None, (4, 20))
    assert out.shape == (2, 4, 20, 3)
    # upsampling x2 of a linear ramp stays linear between the box's pixel centres
    expected = 50 + 10 * ((np.arange(20) + 0.5) / 2 - 0.5)
    np.testing.assert_allclose(out[0, 0, :, 1], expected, atol=1e-4)
    np.testing.assert_array_equal(out[0, ..., 0], out[0, ..., 2])


def test_flip_twin_mirrors_only_flagged_images():
    batch = np.arange(2 * 2 * 3 * 1, dtype=np.float32).reshape(2, 2, 3, 1)
    out = twins.flip(batch, np.array([True, False]))
    np.testing.assert_array_equal(out[0], batch[0, :, ::-1])
    np.testing.assert_array_equal(out[1], batch[1])


def test_color_jitter_twin_matches_the_formula():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (3, 5, 6, 3)).astype(np.float32)
    b = np.array([0.5, 1.3, 1.0], np.float32)
    c = np.array([1.6, 0.4, 1.0], np.float32)
    y = np.clip(x.astype(np.float64) * b[:, None, None, None], 0, 255)
    luma = (y * np.array([0.299, 0.587, 0.114])).sum(-1).mean(axis=(1, 2))[:, None, None, None]
    expected = np.clip(c[:, None, None, None] * y + (1 - c[:, None, None, None]) * luma, 0, 255)
    np.testing.assert_allclose(twins.color_jitter(x, b, c), expected, atol=1e-3)
    np.testing.assert_allclose(twins.color_jitter(x, np.ones(3), np.ones(3)), x, atol=1e-4)   # identity
    flat = twins.color_jitter(x, np.ones(3), np.zeros(3))                                         # contrast 0
    np.testing.assert_allclose(flat, np.broadcast_to(twins.gray_means(x)[:, None, None, None], x.shape), atol=1e-3)
    with pytest.raises(ValueError, match="1- or 3-channel"):
        twins.color_jitter(np.zeros((1, 2, 2, 4), np.float32), np.ones(1), np.ones(1))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_normalize_twin_matches_the_formula_and_makes_nchw(dtype):
    x = np.random.default_rng(3).uniform(0, 255, (2, 4, 5, 3)).astype(dtype)
    out = twins.normalize(x, MEAN, STD)
    expected = ((x.astype(np.float64) / 255 - np.array(MEAN)) / np.array(STD)).transpose(0, 3, 1, 2)
    assert out.shape == (2, 3, 4, 5) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, atol=1e-5)


# -- transforms -----------------------------------------------------------------------------------
def test_compose_gives_normalised_nchw_torch_batches(decoded):
    tf = compose(dl.gpu.RandomResizedCrop(64), dl.gpu.RandomFlip(), dl.gpu.ColorJitter(0.3, 0.3),
                 dl.gpu.Normalize(MEAN, STD), seed=1)
    out = tf(decoded[:5])
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3, 64, 64) and out.dtype == torch.float32
    assert out.device.type == "cpu" and -3 < float(out.min()) and float(out.max()) < 3
    again = compose(dl.gpu.RandomResizedCrop(64), dl.gpu.RandomFlip(), dl.gpu.ColorJitter(0.3, 0.3),
                    dl.gpu.Normalize(MEAN, STD), seed=1)(decoded[:5])
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    other = compose(dl.gpu.RandomResizedCrop(64), dl.gpu.Normalize(MEAN, STD), seed=2)(decoded[:5])
    assert not torch.equal(out, other)


def test_compose_equals_its_steps_applied_by_hand(decoded):
    tf = compose(dl.gpu.RandomResizedCrop((48, 40)), dl.gpu.RandomFlip(p=0.5), dl.gpu.ColorJitter(0.4, 0.4),
                 dl.gpu.Normalize(MEAN, STD), seed=9, output="array")
    images = decoded[:6]
    drawn = tf.sample_params([img.shape for img in images])
    out = tf.apply(images, drawn)
    boxes, flips, (b, c), _ = drawn
    manual = twins.flip(twins.resized_crop(images, boxes, None, (48, 40)), flips)   # unfused flip
    manual = twins.normalize(twins.color_jitter(manual, b, c), MEAN, STD)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, manual, atol=1e-5)


def test_a_batch_key_gives_the_same_augmentation_whatever_came_before(decoded):
    steps = lambda: [dl.gpu.RandomResizedCrop(24), dl.gpu.RandomFlip(), dl.gpu.ColorJitter(0.4, 0.4),  # noqa: E731
                     dl.gpu.Normalize()]
    warm, fresh = compose(*steps(), seed=4), compose(*steps(), seed=4)
    warm(decoded[:4])                                   # advances the running generators
    torch.testing.assert_close(warm(decoded[:4], key=(1, 7)), fresh(decoded[:4], key=(1, 7)), rtol=0, atol=0)
    assert not torch.equal(fresh(decoded[:4], key=(1, 7)), fresh(decoded[:4], key=(1, 8)))
    assert not torch.equal(fresh(decoded[:4], key=(1, 7)), compose(*steps(), seed=5)(decoded[:4], key=(1, 7)))


def test_compose_pickles_with_its_generators(decoded):
    tf = compose(dl.gpu.RandomResizedCrop(16), dl.gpu.RandomFlip(), dl.gpu.Normalize(), seed=2)
    tf(decoded[:2])
    clone = pickle.loads(pickle.dumps(tf))
    torch.testing.assert_close(clone(decoded[:3]), tf(decoded[:3]), rtol=0, atol=0)
    assert isinstance(dl.gpu.Compose([dl.gpu.Normalize()], device="cpu").seed, int)   # seed=None: fresh, recorded


def test_resize_center_crop_is_deterministic(decoded):
    tf = compose(dl.gpu.ResizeCenterCrop(32), dl.gpu.Normalize(MEAN, STD))
    a, b = tf(decoded[:3]), tf(decoded[:3])
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_compose_takes_torch_tensors_dense_batches_and_gray_images(decoded):
    tf = compose(dl.gpu.RandomResizedCrop(16), dl.gpu.Normalize(MEAN, STD), seed=3)
    as_torch = tf([torch.from_numpy(img) for img in decoded[:2]])
    tf.reseed(3)
    torch.testing.assert_close(as_torch, tf(decoded[:2]), rtol=0, atol=0)
    dense = np.stack([decoded[0][:100, :100], decoded[1][:100, :100]])
    assert tf(dense).shape == (2, 3, 16, 16)
    gray = decoded[0][..., :1]
    assert tf([gray, decoded[1]]).shape == (2, 3, 16, 16)
    assert compose(dl.gpu.Normalize(MEAN, STD))(torch.from_numpy(dense)).shape == (2, 3, 100, 100)


def test_compose_errors_say_what_to_do(decoded):
    with pytest.raises(ValueError, match="last transform"):
        compose(dl.gpu.Normalize(), dl.gpu.RandomFlip())
    with pytest.raises(ValueError, match="need a crop or resize"):
        compose(dl.gpu.RandomFlip())(decoded[:2])
    with pytest.raises(TypeError):
        dl.gpu.Compose([lambda x: x], device="cpu")
    with pytest.raises(ValueError, match="empty batch"):
        compose(dl.gpu.Normalize())([])
    with pytest.raises(ValueError, match="scale"):
        dl.gpu.RandomResizedCrop(8, scale=(0.5, 0.1))
    with pytest.raises(errors.GPUError, match="device must be one of"):
        dl.gpu.Compose([dl.gpu.Normalize()], device="tpu")


# -- no GPU, no failure ---------------------------------------------------------------------------
def test_importing_the_gpu_package_loads_no_cupy_dali_or_torch():
    code = ("import sys; import deeplake_nb; before = set(sys.modules); import deeplake_nb.gpu, deeplake_nb as dl; "
            "dl.gpu.Compose; new = set(sys.modules) - before; "
            "print(sorted(m for m in new if m.split('.')[0] in ('cupy', 'torch', 'nvidia', 'cupy_backends')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@no_gpu
def test_cuda_without_a_gpu_raises_and_auto_falls_back_with_a_warning():
    with pytest.raises(errors.GPUUnavailableError, match='device="auto"'):
        dl.gpu.Compose([dl.gpu.Normalize()], device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # "auto" is resolved at first use, not here
        tf = dl.gpu.Compose([dl.gpu.Normalize()], device="auto")
    with pytest.warns(errors.GPUFallbackWarning, match="runs on the CPU"):
        assert tf.device == "cpu"
    assert dl.gpu.resolve("cpu") == "cpu"


def test_a_cupy_without_driver_reads_as_no_gpu(monkeypatch):
    class CUDARuntimeError(RuntimeError):
        pass

    def no_device() -> int:
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda, "has_package", lambda name: True)
    monkeypatch.setattr(gpu_device, "torch_cuda_available", lambda: False)
    gpu_device.cupy_device_count.cache_clear()
    try:
        assert gpu_device.cupy_device_count() == 0
        assert not gpu_device.cuda_available()
        with pytest.raises(errors.GPUUnavailableError, match="no CUDA device"):
            gpu_device.resolve("cuda", needs=("cupy",))
    finally:
        gpu_device.cupy_device_count.cache_clear()


def test_missing_packages_are_named_with_their_pip_command(monkeypatch):
    monkeypatch.setattr(gpu_device, "has_package", lambda name: name != "nvidia.dali")
    with pytest.raises(errors.MissingDependencyError, match="pip install nvidia-dali-cuda120"):
        dl.gpu.DaliImagePipeline(4)


# -- kernel sources -------------------------------------------------------------------------------
def test_kernel_sources_are_found_and_define_every_launched_kernel():
    folder = resources.kernels_dir()
    sources = {p.name for p in folder.glob("*.cu")}
    assert {"normalize.cu", "resized_crop.cu", "color_jitter.cu"} <= sources
    defined = set()
    for name in sources:
        defined |= set(re.findall(r'extern "C" __global__ void (\w+)', resources.kernel_source(name)))
    import inspect

    from deeplake_nb.gpu import kernels
    launched = set(re.findall(r'_launch\("[\w.]+", (?:kernel|"(\w+)")', inspect.getsource(kernels))) - {""}
    launched |= {"normalize_hwc_to_chw_u8", "normalize_hwc_to_chw_f32"}
    assert launched <= defined, launched - defined
    with pytest.raises(errors.KernelSourceNotFoundError, match="available"):
        resources.kernel_path("nope.cu")


# -- DALI on the CPU ------------------------------------------------------------------------------
@needs_dali
def test_dali_cpu_decode_matches_simplejpeg(jpegs, decoded, cpu):
    pipe = dl.gpu.DaliImagePipeline(8, device="cpu")
    gray = simplejpeg.encode_jpeg(decoded[0][..., :1].copy(), quality=90, colorspace="GRAY")
    out = pipe.decode(jpegs[:7] + [gray])
    for got, want in zip(out, decoded[:7]):
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).max() <= 1
    want_gray = simplejpeg.decode_jpeg(gray, colorspace="GRAY")
    assert out[7].shape == want_gray.shape[:2] + (3,)
    assert np.abs(out[7].astype(int) - want_gray).max() <= 1


@needs_dali
def test_dali_cpu_train_pipeline_equals_the_numpy_twins(jpegs, decoded, cpu):
    pipe = dl.gpu.DaliImagePipeline(5, size=96, mean=MEAN, std=STD, device="cpu", seed=11, num_threads=2)
    ref = pipe.reference()
    for start in (0, 5, 10):            # 5, 5, then a short batch of 2
        out = pipe.run(jpegs[start:start + 5])
        want = ref(decoded[start:start + 5])
        assert out.shape == (len(jpegs[start:start + 5]), 3, 96, 96) and out.dtype == torch.float32
        torch.testing.assert_close(out, want, rtol=0, atol=1e-3)


@needs_dali
def test_dali_cpu_eval_pipeline_is_deterministic_and_keeps_order(jpegs, decoded, cpu):
    pipe = dl.gpu.DaliImagePipeline(6, size=(48, 64), device="cpu", train=False)
    batch = pipe.run(jpegs[:6])
    reversed_batch = pipe.run(jpegs[:6][::-1])
    torch.testing.assert_close(batch.flip(0), reversed_batch, rtol=0, atol=0)
    expected = compose(dl.gpu.ResizeCenterCrop((48, 64)), dl.gpu.Normalize())(decoded[:6])
    torch.testing.assert_close(batch, expected, rtol=0, atol=1e-3)


@needs_dali
def test_dali_iterate_gives_every_epoch_in_order(jpegs, cpu):
    batches = [jpegs[0:4], jpegs[4:8], jpegs[8:11]]
    streamed = dl.gpu.DaliImagePipeline(4, size=32, device="cpu", seed=5)
    stepped = dl.gpu.DaliImagePipeline(4, size=32, device="cpu", seed=5)
    for epoch in range(3):                      # without cycle="raise" epoch 2 would be empty
        outs = list(streamed.iterate(batches))
        assert [len(o) for o in outs] == [4, 4, 3], epoch
        for got, batch in zip(outs, batches):
            torch.testing.assert_close(got, stepped.run(batch), rtol=0, atol=0)
    half = streamed.iterate(batches)
    next(half)                                  # an abandoned epoch ...
    assert [len(o) for o in streamed.iterate(batches)] == [4, 4, 3]   # ... does not leak into the next


@needs_dali
def test_dali_pipeline_pickles_and_rejects_bad_input(jpegs, cpu):
    pipe = dl.gpu.DaliImagePipeline(2, size=16, device="cpu", seed=1)
    first = pipe.run(jpegs[:2])
    clone = pickle.loads(pickle.dumps(pipe))
    assert clone.run(jpegs[2:4]).shape == (2, 3, 16, 16)
    assert first.shape == (2, 3, 16, 16)
    keyed = dl.gpu.DaliImagePipeline(2, size=16, device="cpu", seed=1)
    torch.testing.assert_close(keyed.run(jpegs[:2], key=(0, 3)), pipe.run(jpegs[:2], key=(0, 3)), rtol=0, atol=0)
    with pytest.raises(errors.GPUError, match="batch_size=2"):
        pipe.run(jpegs[:3])
    with pytest.raises(errors.CorruptSampleError):
        pipe.run([b"not a jpeg at all"])
    with pytest.raises(errors.CorruptSampleError, match="truncated"):
        pipe.run([jpegs[0][:500]])
    assert pipe.run([np.frombuffer(jpegs[0], np.uint8), memoryview(jpegs[1])]).shape == (2, 3, 16, 16)


@needs_dali
@no_gpu
def test_dali_cuda_without_a_gpu_raises():
    with pytest.raises(errors.GPUUnavailableError):
        dl.gpu.DaliImagePipeline(2, device="cuda")


@pytest.mark.skipif(not has_package("cupy"), reason="cupy-cuda12x is not installed: no NVRTC to compile the kernels with")
def test_kernel_sources_compile_with_nvrtc_even_without_a_gpu():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # no libnvrtc (pip install nvidia-cuda-nvrtc-cu12)
        pytest.skip(f"NVRTC is not loadable: {exc}")
    for path in resources.kernels_dir().glob("*.cu"):
        prog = nvrtc.createProgram(path.read_text(), path.name, [], [])
        try:
            nvrtc.compileProgram(prog, ["--std=c++14", "-arch=compute_80"])
        except Exception as exc:
            pytest.fail(f"{path.name} does not compile: {exc}\n{nvrtc.getProgramLog(prog)}")
        entries = set(re.findall(r"\.entry\s+(\w+)", nvrtc.getPTX(prog).decode()))
        assert entries == set(re.findall(r'extern "C" __global__ void (\w+)', path.read_text()))


@needs_dali
def test_a_failed_dali_run_is_reported_and_the_pipeline_rebuilt(jpegs, cpu):
    pipe = dl.gpu.DaliImagePipeline(2, size=16, device="cpu", seed=1)

    class Broken:
        def feed_input(self, name, data):
            pass

        def run(self):
            raise RuntimeError("Critical error in pipeline:\nnvJPEG failed")

    pipe._feed_pipe = Broken()
    with pytest.raises(errors.GPUError, match="nvJPEG failed.*rebuilt"):
        pipe.run(jpegs[:2])
    assert pipe.run(jpegs[:2]).shape == (2, 3, 16, 16)


@needs_dali
def test_dali_pipeline_from_transforms_equals_the_same_compose(jpegs, decoded, cpu):
    steps = [dl.gpu.ResizeCenterCrop(40, resize=48), dl.gpu.RandomFlip(0.5), dl.gpu.Normalize(MEAN, STD)]
    assert dl.gpu.DaliImagePipeline.expressible(steps)
    assert not dl.gpu.DaliImagePipeline.expressible([dl.gpu.RandomResizedCrop(8), dl.gpu.ColorJitter(0.2),
                                                     dl.gpu.Normalize()])
    assert not dl.gpu.DaliImagePipeline.expressible([dl.gpu.RandomResizedCrop(8)])        # no Normalize
    pipe = dl.gpu.DaliImagePipeline.from_transforms(steps, 6, device="cpu", seed=2, num_threads=2)
    twins = compose(*steps, seed=2)
    for key in [(0, 0, 0), (0, 0, 1)]:
        torch.testing.assert_close(pipe.run(jpegs[:6], key=key), twins(decoded[:6], key=key), rtol=0, atol=1e-3)
    pipe.reseed(5)
    twins.reseed(5)
    torch.testing.assert_close(pipe.run(jpegs[:6], key=(1, 0, 0)), twins(decoded[:6], key=(1, 0, 0)), rtol=0, atol=1e-3)
    with pytest.raises(errors.GPUError, match="Compose"):
        dl.gpu.DaliImagePipeline.from_transforms([dl.gpu.Normalize()], 2, device="cpu")


@needs_dali
def test_dali_decode_torch_stacks_one_shape_and_lists_several(jpegs, decoded, cpu):
    pipe = dl.gpu.DaliImagePipeline(4, device="cpu", num_threads=1)
    ragged = pipe.decode_torch(jpegs[:3])
    assert isinstance(ragged, list) and [tuple(t.shape) for t in ragged] == [d.shape for d in decoded[:3]]
    assert all((t.int() - torch.from_numpy(d).int()).abs().max() <= 1 for t, d in zip(ragged, decoded[:3]))
    same = pipe.decode_torch([jpegs[0]] * 4)
    assert isinstance(same, torch.Tensor) and same.shape == (4, *decoded[0].shape) and same.dtype == torch.uint8
    with pytest.raises(errors.CorruptSampleError):
        pipe.decode_torch([b"not a jpeg"])


def test_cpu_compose_split_over_threads_equals_one_piece(monkeypatch):
    """On the CPU a batch is cut into parts run on a thread pool; the random draw is per batch,
    so the output is exactly the one-piece output, ragged or dense input, every transform."""
    import deeplake_nb as dl
    from deeplake_nb.gpu import transforms as T

    rng = np.random.default_rng(0)
    ragged = [rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
              for _ in range(37)]
    dense = rng.integers(0, 256, (40, 24, 24, 3), dtype=np.uint8)
    compose = dl.gpu.Compose([dl.gpu.RandomResizedCrop(16), dl.gpu.RandomFlip(), dl.gpu.ColorJitter(0.4, 0.4),
                              dl.gpu.Normalize()], device="cpu", seed=5)
    center = dl.gpu.Compose([dl.gpu.ResizeCenterCrop(16)], device="cpu", seed=5)
    monkeypatch.setattr(T, "available_cpus", lambda: 4)
    assert len(T.cpu_parts(ragged)) == 4 and len(T.cpu_parts(dense)) == 4
    gray = ragged[:20] + [img[:, :, :1] for img in ragged[20:]]
    assert T.cpu_parts(gray) == [(0, 37)]  # mixed channel counts stay in one piece
    split = [tf(x, key=(1, 2)) for tf in (compose, center) for x in (ragged, dense)]
    monkeypatch.setattr(T, "MIN_PART", 10 ** 6)
    assert T.cpu_parts(ragged) == [(0, 37)]
    whole = [tf(x, key=(1, 2)) for tf in (compose, center) for x in (ragged, dense)]
    for a, b in zip(split, whole):
        assert a.shape == b.shape and torch.equal(a, b)
