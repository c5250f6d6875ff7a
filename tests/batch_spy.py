"""A spy on a batch module's one-loop path (``format.uniform_batch`` or ``format.file_batch``):
how many batches it encoded, for the extend tests of both."""

from __future__ import annotations

from types import ModuleType
from typing import Callable

import pytest


def count_batches(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> Callable[[], int]:
    """Wrap ``module.encode``; the returned function tells how many batches it encoded (a call
    that returned None sent its batch to the per-sample path and does not count)."""
    calls: list[bool] = []
    encode = module.encode

    def spy(codec, values):
        result = encode(codec, values)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(module, "encode", spy)
    return lambda: sum(calls)
