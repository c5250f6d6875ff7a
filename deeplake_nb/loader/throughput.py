"""``stream_epoch_images_per_s``: stream one shuffled epoch of an image tensor and report images/s."""

from __future__ import annotations

import time
from typing import Any, Callable

from .transforms import CropNormalize


def stream_epoch_images_per_s(ds: Any, tensor: str = "images", *, batch_size: int = 64, num_workers: int = 2,
                              transform: Callable[[Any], Any] | None = None, shuffle: bool | str = True,
                              seed: int = 0, progress: bool = True, **options: Any) -> float:
    """Decode + transform (default: 224x224 crop, normalised float32 CHW) one epoch of ``tensor``
    with ``ds.pytorch``; prints and returns the images per second, first batch included."""
    from tqdm.auto import tqdm

    from .torch_loader import Loader

    loader = Loader(ds, tensors=[tensor], batch_size=batch_size, shuffle=shuffle, seed=seed,
                    num_workers=num_workers, transform={tensor: transform or CropNormalize(224)},
                    return_index=False, **options)
    images = 0
    start = time.perf_counter()
    with tqdm(total=len(loader.source), desc=f"streaming {tensor}", unit="img", disable=not progress) as bar:
        for batch in loader:
            n = len(batch[tensor])
            images += n
            bar.update(n)
    seconds = time.perf_counter() - start
    rate = images / seconds if seconds > 0 else float("inf")
    print(f"streamed {images} images in {seconds:.2f} s: {rate:,.0f} images/s "
          f"(batch {batch_size}, {num_workers} workers, shuffle={shuffle!r})")
    return rate
