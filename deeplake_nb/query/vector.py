"""Row-wise vector math over (rows, elements) blocks, with NumPy or CuPy (``xp``).

These are the one definition of the engine's vector functions on dense rows; the per-row
functions in ``functions`` and the ORDER BY ... LIMIT scan in ``topk`` both call them, so both
give the same numbers. Arithmetic stays in the rows' floating type (float32 embeddings are not
widened: dot products accumulate in float32; integers are computed in float64). Relative to an
exact computation, a float32 cosine is off by at most about ``(d + 10) * 2**-24`` for ``d``
elements per row (2 * 10**-5 at d = 128 when every value is finite and not near float32's
range limits).

Dot products use ``einsum`` rather than BLAS (``x @ q``): BLAS rounds a row differently
depending on how many rows it is given with (its kernels treat the last ``n % 4`` rows apart),
while ``einsum`` gives every row the same bits whatever block it is in, so equal vectors always
tie and a row scores the same in a full scan, in a batch and when rescored alone. On one core
it costs about 20% more than BLAS for the dot product, and nothing for cosine, whose norms pass
dominates.

On a device module the block is copied to the device, computed there and the result copied back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import on_device, to_host


def as_float(arr: np.ndarray) -> np.ndarray:
    """Floating rows stay as they are; integers and bools become float64."""
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def query_vector(value: Any, dtype: np.dtype) -> np.ndarray:
    """A constant vector argument (an ARRAY literal) as a flat contiguous array of ``dtype``."""
    return np.ascontiguousarray(np.asarray(value, dtype=dtype).reshape(-1))


def _ratio(dots: Any, norms: Any, xp: Any) -> Any:
    """``dots / norms``, 0 where the norm is 0."""
    positive = norms > 0
    return xp.where(positive, dots / xp.where(positive, norms, 1), 0)


def cosine_rows(x: Any, q: Any, xp: Any = np) -> Any:
    """Cosine similarity of each row of ``x`` (n, d) with ``q`` (d,), both of one float type;
    0 where a row or ``q`` is all zeros (NaN where a row holds NaN)."""
    dots = xp.einsum("ij,j->i", x, q)
    return _ratio(dots, xp.sqrt(xp.einsum("ij,ij->i", x, x)) * xp.sqrt(xp.dot(q, q)), xp)


def cosine_pairs(x: Any, y: Any, xp: Any = np) -> Any:
    """Cosine similarity of row i of ``x`` with row i of ``y`` (both (n, d))."""
    dots = xp.einsum("ij,ij->i", x, y)
    return _ratio(dots, xp.sqrt(xp.einsum("ij,ij->i", x, x)) * xp.sqrt(xp.einsum("ij,ij->i", y, y)), xp)


def l1_rows(x: Any, xp: Any = np) -> Any:
    return xp.abs(x).sum(axis=1)


def l2_rows(x: Any, xp: Any = np) -> Any:
    return xp.sqrt(xp.einsum("ij,ij->i", x, x))


def linf_rows(x: Any, xp: Any = np) -> Any:
    return xp.abs(x).max(axis=1) if x.shape[1] else xp.zeros(len(x))


def run(func: Any, arrays: list[np.ndarray], xp: Any = np) -> np.ndarray:
    """``func(*arrays, xp=xp)`` with the arrays moved to ``xp``'s device and the result moved back."""
    if not on_device(xp):
        return func(*arrays, xp=np)
    return to_host(func(*[xp.asarray(a) for a in arrays], xp=xp))
