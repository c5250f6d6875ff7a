"""GPU data path: device detection, a DALI decode/augment pipeline, batched CuPy kernels from
``kernels/`` with NumPy twins, and the transforms that run on whichever is available.

Importing this package is cheap and never needs a GPU: CuPy, DALI and torch are imported only
when something runs. ``device="auto"`` means the GPU when usable, else the CPU with a
``GPUFallbackWarning``; ``device="cuda"`` without a GPU raises ``GPUUnavailableError``.

Importing it also registers ``loader_stage.make_stage`` as the loader's batch stage
(``loader.stage``): ``ds.pytorch(decode_method={"images": "dali"}, device=..., transform=Compose)``.
"""

from ..loader import stage as _loader_stage
from .device import cuda_available, resolve
from .dali import DaliImagePipeline
from .loader_stage import make_stage
from .resources import kernel_source, kernels_dir
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, ColorJitter, Compose, Normalize, RandomFlip,
                         RandomResizedCrop, ResizeCenterCrop, Transform)

_loader_stage.register(make_stage)

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ColorJitter", "Compose", "DaliImagePipeline", "Normalize",
           "RandomFlip", "RandomResizedCrop", "ResizeCenterCrop", "Transform", "cuda_available",
           "kernel_source", "kernels_dir", "resolve"]
