"""JSON-safe, bounded renderings of sample values for the detail panel.

Every function returns plain Python (no NumPy scalars, no NaN/Infinity, which JSON cannot carry)
and bounds its size: arrays with more than ``MAX_ELEMENTS`` elements become a summary (min, max,
mean, the first values); text and JSON documents longer than ``MAX_TEXT`` characters are cut
and flagged ``truncated``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

MAX_ELEMENTS = 256
MAX_TEXT = 64 << 10
HEAD = 16


def json_safe(value: Any) -> Any:
    """NumPy -> Python, non-finite floats -> their names as strings, floats to 6 significant digits."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def array_value(arr: Any) -> dict[str, Any]:
    """``{"value": nested list}`` for small arrays, else ``{"summary": {...}}``."""
    arr = np.asarray(arr)
    if arr.size <= MAX_ELEMENTS:
        return {"value": json_safe(arr)}
    flat = arr.reshape(-1)
    summary: dict[str, Any] = {"head": json_safe(flat[:HEAD])}
    if arr.dtype.kind in "biuf":
        finite = flat[np.isfinite(flat)] if arr.dtype.kind == "f" else flat
        if finite.size:
            summary.update(min=json_safe(finite.min()), max=json_safe(finite.max()),
                           mean=json_safe(float(np.mean(finite, dtype=np.float64))))
    return {"summary": summary}


def text_value(text: str) -> dict[str, Any]:
    if len(text) <= MAX_TEXT:
        return {"value": text}
    return {"value": text[:MAX_TEXT], "truncated": True}


def json_value(value: Any) -> dict[str, Any]:
    """A JSON document: kept as a value when it is small, else as cut, pretty-printed text."""
    safe = json_safe(value)
    text = json.dumps(safe, indent=2, ensure_ascii=False)
    if len(text) <= MAX_TEXT:
        return {"value": safe}
    return {"text": text[:MAX_TEXT], "truncated": True}
