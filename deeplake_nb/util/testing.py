"""Deep Lake v3's import path ``deeplake.util.testing``: assertion helpers for tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..errors import DynamicShapeError


def _value(x: Any) -> Any:
    """A Tensor as its samples (a list when their shapes differ); anything else as it is."""
    if isinstance(x, Tensor):
        try:
            return x.numpy()
        except DynamicShapeError:
            return x.numpy(aslist=True)
    return x


def assert_array_equal(x: Any, y: Any, *args: Any, **kwargs: Any) -> None:
    """``np.testing.assert_array_equal`` that also takes Tensors (ours) and lists or tuples of
    arrays of different shapes, compared element by element (lengths first)."""
    x, y = _value(x), _value(y)
    if isinstance(x, (list, tuple)) or isinstance(y, (list, tuple)):
        assert len(x) == len(y), f"lengths differ: {len(x)} != {len(y)}"
        for xi, yi in zip(x, y):
            np.testing.assert_array_equal(xi, yi, *args, **kwargs)
    else:
        np.testing.assert_array_equal(x, y, *args, **kwargs)


def compare_version_info(info1: dict[str, Any], info2: dict[str, Any]) -> None:
    """Assert that two v3 ``version_control_info`` documents agree: every commit of ``info1`` has
    the same fields in ``info2`` (``children`` in any order), and the branches are the same."""
    for commit_id, commit in info1["commits"].items():
        other = info2["commits"][commit_id]
        for key, value in commit.items():
            if key == "children":
                assert set(value) == set(other[key]), f"children of {commit_id}: {value} != {other[key]}"
            else:
                assert value == other[key], f"{key} of {commit_id}: {value!r} != {other[key]!r}"
    assert info1["branches"] == info2["branches"], f"branches: {info1['branches']} != {info2['branches']}"
