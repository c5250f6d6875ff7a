"""htypes: what a tensor's samples mean, which dtypes and shapes they take, and their defaults.

An htype string is a base htype (``image``, ``bbox`` ...) optionally wrapped in the meta-types
``sequence[...]`` and/or ``link[...]`` (``sequence[link[image]]`` is allowed).
``normalize`` turns a user value into the canonical stored form or raises a SampleError
that says what to do; it never mutates tensor state.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import (BboxCoordsError, ClassLabelError, DtypeMismatchError, SampleError, ShapeMismatchError,
                      UnknownHtypeError, UnknownInfoKeyError)
from . import json_values
from .codecs import CHUNK_COMPRESSIONS
from .compression import SAMPLE_COMPRESSIONS

# kinds decide the stored payload: "array" = numeric ndarray, "text" = utf-8, "json" = JSON
# document, "polygon" = list of (P, D) point arrays.


@dataclass(frozen=True)
class Htype:
    name: str
    kind: str
    dtype: str | None
    sample_compressions: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    shape_rule: Callable[[np.ndarray], np.ndarray] | None = None
    dtype_fixed: bool = False

    def shaped(self, arr: np.ndarray) -> np.ndarray:
        """``arr`` under this htype's shape rule (as it is for an htype without one)."""
        return arr if self.shape_rule is None else self.shape_rule(arr)


def _any(arr: np.ndarray) -> np.ndarray:
    return arr


def _image(channels: tuple[int, ...] | None, keep_2d: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """(H, W, C) with C in ``channels`` (any C when None: htype image takes masks and
    multispectral arrays, as in Deep Lake v3; an image codec takes what it can encode); (H, W)
    stays so with ``keep_2d`` (htype image, as in v3), else becomes (H, W, 1)."""
    def rule(arr: np.ndarray) -> np.ndarray:
        if arr.ndim == 2 and keep_2d:
            return arr
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or (channels is not None and arr.shape[-1] not in channels):
            want = "any C" if channels is None else "C = " + " or ".join(str(c) for c in channels)
            raise ShapeMismatchError(f"An image sample must be (H, W) or (H, W, C) with {want}; got shape {arr.shape}.")
        return arr
    return rule


def _rows(width: tuple[int, ...], what: str) -> Callable[[np.ndarray], np.ndarray]:
    def rule(arr: np.ndarray) -> np.ndarray:
        if arr.ndim == 1 and arr.shape[0] in width:
            arr = arr[None, :]
        if arr.size == 0 and arr.ndim <= 1:
            arr = arr.reshape(0, width[0])
        if arr.ndim != 2 or arr.shape[1] not in width:
            cols = " or ".join(str(w) for w in width)
            raise ShapeMismatchError(f"A {what} sample must be (K, {cols}); got shape {arr.shape}.")
        return arr
    return rule


def _class_label(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 0:
        return arr.reshape(1)
    if arr.ndim > 2:
        raise ShapeMismatchError(f"A class_label sample is one label, a list of labels or a 2-D array of "
                                 f"labels; got shape {arr.shape}.")
    return arr


def _binary_mask(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr[..., None]
    if arr.ndim != 3:
        raise ShapeMismatchError(f"A binary_mask sample must be (H, W) or (H, W, K); got shape {arr.shape}.")
    return arr


def _segment_mask(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ShapeMismatchError(f"A segment_mask sample must be (H, W); got shape {arr.shape}.")
    return arr


def _embedding(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 1:
        raise ShapeMismatchError(f"An embedding sample must be 1-D; got shape {arr.shape}.")
    return arr


def _keypoints(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[0] % 3:
        raise ShapeMismatchError(f"A keypoints_coco sample is (3 * K, N): x, y and visibility of K keypoints of "
                                 f"N objects; got shape {arr.shape}.")
    return arr


_IMAGE_COMPRESSIONS = SAMPLE_COMPRESSIONS
_BYTES = ("lz4",)  # sample compression of the stored bytes of any sample (LZ4 block format)

HTYPES: dict[str, Htype] = {h.name: h for h in (
    Htype("generic", "array", None, _IMAGE_COMPRESSIONS + _BYTES, shape_rule=_any),
    Htype("image", "array", None, _IMAGE_COMPRESSIONS + _BYTES, shape_rule=_image(None, keep_2d=True)),
    Htype("image.rgb", "array", "uint8", _IMAGE_COMPRESSIONS + _BYTES, shape_rule=_image((3,)), dtype_fixed=True),
    Htype("image.gray", "array", "uint8", _IMAGE_COMPRESSIONS + _BYTES, shape_rule=_image((1,)), dtype_fixed=True),
    Htype("class_label", "array", "uint32", _BYTES, info={"class_names": []}, shape_rule=_class_label),
    Htype("bbox", "array", "float32", _BYTES, info={"coords": {}},
          shape_rule=_rows((4,), "bbox")),
    Htype("binary_mask", "array", "bool", _BYTES, shape_rule=_binary_mask),
    Htype("segment_mask", "array", "uint32", _BYTES, info={"class_names": []}, shape_rule=_segment_mask),
    Htype("embedding", "array", "float32", _BYTES, shape_rule=_embedding),
    Htype("bbox.3d", "array", "float32", _BYTES, info={"coords": {}}, shape_rule=_rows((8,), "bbox.3d")),
    Htype("instance_label", "array", "uint32", _BYTES, shape_rule=_any),
    Htype("keypoints_coco", "array", "int32", _BYTES, info={"keypoints": [], "connections": []},
          shape_rule=_keypoints),
    Htype("point", "array", "int32", _BYTES, shape_rule=_rows((2, 3), "point")),
    Htype("polygon", "polygon", "float32", _BYTES),
    Htype("text", "text", "str", _BYTES, dtype_fixed=True),
    Htype("json", "json", "Any", _BYTES, dtype_fixed=True),
    Htype("list", "json", "List", _BYTES, dtype_fixed=True),
    Htype("tag", "json", "List", _BYTES, dtype_fixed=True),  # v3: a list of str; a bare str is one tag
)}

_WRAPPED = re.compile(r"^(sequence|link)\[(.+)\]$")
BBOX_CONVENTIONS = ("LTRB", "LTWH", "CCWH")  # coords["mode"] in Deep Lake v3
BBOX_UNITS = ("pixel", "fractional")          # coords["type"] in Deep Lake v3


def parse(htype: str) -> tuple[str, bool, bool]:
    """``"sequence[link[image]]"`` -> ``("image", True, True)``: base, is_sequence, is_link."""
    text = str(htype).strip().replace(" ", "")
    if text == "sequence":  # a bare sequence holds generic items
        text = "sequence[generic]"
    sequence = link = False
    match = _WRAPPED.match(text)
    if match and match.group(1) == "sequence":
        sequence, text = True, match.group(2)
        match = _WRAPPED.match(text)
    if match and match.group(1) == "link":
        link, text = True, match.group(2)
    if text not in HTYPES:
        close = ", ".join(sorted(HTYPES))
        raise UnknownHtypeError(f"Unknown htype {htype!r}. Known htypes: {close}; "
                                "wrap any of them as sequence[X] or link[X].")
    return text, sequence, link


def check_coords(coords: Any) -> dict[str, Any]:
    """Validate a bbox ``coords`` dict as Deep Lake v3 does (a dict with keys among ``type`` (the
    unit: "pixel" | "fractional") and ``mode`` (the convention: "LTRB" | "LTWH" | "CCWH")), and
    return it as given; ``{}`` when None. Named values must be known (either key may hold either
    kind of name: older deeplake_nb spelled them the other way round); v3's integer codes pass."""
    if coords is None:
        return {}
    if not isinstance(coords, dict):
        raise BboxCoordsError(f"bbox coords must be a dict like {{'type': 'pixel', 'mode': 'LTWH'}}; got {coords!r}.")
    unknown = set(coords) - {"type", "mode"}
    if unknown:
        raise UnknownInfoKeyError(f"bbox coords take the keys 'type' (pixel | fractional) and 'mode' (LTRB | "
                                  f"LTWH | CCWH); got {sorted(map(str, unknown))}.")
    for value in coords.values():
        if isinstance(value, str) and value not in BBOX_CONVENTIONS + BBOX_UNITS + ("fraction",):
            raise BboxCoordsError(f"Unknown bbox coords value {value!r}: 'type' is one of {BBOX_UNITS}, "
                                  f"'mode' one of {BBOX_CONVENTIONS}.")
    return dict(coords)


def bbox_layout(coords: dict[str, Any] | None) -> tuple[str, bool]:
    """(convention, fractional) of a bbox tensor's ``coords``: LTRB in pixels unless it says
    otherwise. Reads v3's spelling, the swapped one, and v3's integer codes (mode 0/1/2 =
    LTRB/LTWH/CCWH, type 0/1 = pixel/fractional)."""
    convention, fractional = "LTRB", False
    for key, value in (coords or {}).items():
        if value in BBOX_CONVENTIONS:
            convention = value
        elif value in ("fractional", "fraction"):
            fractional = True
        elif isinstance(value, int) and key == "mode" and 0 <= value < len(BBOX_CONVENTIONS):
            convention = BBOX_CONVENTIONS[value]
        elif isinstance(value, int) and key == "type":
            fractional = value == 1
    return convention, fractional


UINT8_CODECS = ("jpeg", "webp")  # image codecs that store 8-bit pixels only


def default_dtype(spec: Htype, sample_compression: str | None) -> str | None:
    """The dtype a new tensor of htype ``spec`` has when none is given: the htype's, else uint8
    for images compressed with a codec that stores nothing else (other images: their first sample's)."""
    if spec.dtype is None and spec.name == "image" and sample_compression in UINT8_CODECS:
        return "uint8"
    return spec.dtype


def check_dtype(dtype: Any, spec: Htype) -> str:
    """The canonical name of the dtype a tensor of htype ``spec`` is created with; DtypeMismatchError
    for a dtype NumPy does not know, one the htype cannot store, or another than its fixed dtype.
    A json tensor's dtype is a schema its samples must fit (``List[Dict[str, int]]``; see
    ``json_values``), kept as its canonical text."""
    if spec.dtype_fixed and str(dtype) == spec.dtype:
        return spec.dtype
    if spec.name == "json":
        return json_values.schema_text(dtype)
    try:
        name = str(np.dtype(dtype))
    except (TypeError, ValueError) as exc:
        raise DtypeMismatchError(f"Unknown dtype {dtype!r} ({exc}); use a NumPy dtype such as 'uint8', "
                                 "'int64', 'float32' or 'bool'.") from None
    if spec.dtype_fixed and name != spec.dtype:
        raise DtypeMismatchError(f"htype {spec.name!r} stores {spec.dtype}; drop dtype={dtype!r}.")
    if spec.kind in ("array", "polygon") and np.dtype(name).kind not in "biuf":
        raise DtypeMismatchError(f"A {spec.name} tensor stores numbers or bools, not dtype {name!r}; use a "
                                 "numeric dtype, or htype='text' / 'json' for strings and objects.")
    return name


def to_array(value: Any, dtype: str | None, htype: str, narrowing: bool = False) -> np.ndarray:
    """Convert to an ndarray of ``dtype`` without losing values, else DtypeMismatchError.

    Integers must fit exactly (into a float dtype too: 2**24 + 1 is refused by float32). Floats are
    rounded to a float dtype unless they would overflow; but, as in Deep Lake v3 (NumPy's safe
    casting), an array of several values whose float dtype is wider than the tensor's (float64 into
    float32) is refused, since every value would lose precision: its dtype says the precision is
    meant. A single value (a Python or NumPy number, a one-element array) and lists of Python floats
    are checked by range only. ``narrowing=True`` allows the wider array (NumPy's assignment
    semantics, for values written into part of a sample)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ShapeMismatchError(f"{htype} sample is ragged or not array-like ({exc}); pass a "
                                 "rectangular array.") from exc
    if dtype is None:
        if arr.dtype.kind not in "biuf":
            raise DtypeMismatchError(f"{htype} samples must be numeric or bool, got dtype {arr.dtype}.")
        return arr
    target = np.dtype(dtype)
    if arr.dtype == target:
        return arr
    if arr.dtype.kind not in "biuf":
        raise DtypeMismatchError(
            f"This {htype} tensor stores {target}; got a sample of dtype {arr.dtype}. "
            f"Convert it first, e.g. np.asarray(x, dtype='{target}')."
        )
    if target.kind == "f":
        cast = _to_float(arr, target, htype)
        if not narrowing and _narrows_floats(value, arr, target):
            raise DtypeMismatchError(
                f"This {htype} tensor stores {target}; got an array of {arr.dtype} values, which would all be "
                f"rounded. Cast it first if that is meant, e.g. np.asarray(x, dtype='{target}'), or create the "
                f"tensor with dtype='{arr.dtype}'.")
        return cast
    if arr.dtype.kind == "f":  # even whole numbers: a float sample in an int tensor is a mistake
        raise DtypeMismatchError(
            f"This {htype} tensor stores {target}; got a float array (e.g. {_first(arr)!r}). Floats are "
            f"refused even when whole: round and cast them first, e.g. np.asarray(x).astype('{target}'), "
            "or create the tensor with a float dtype.")
    cast = arr.astype(target)
    if not np.array_equal(cast, arr):
        span = "0 or 1" if target.kind == "b" else f"{np.iinfo(target).min}..{np.iinfo(target).max}"
        raise DtypeMismatchError(
            f"Values of this {htype} sample do not fit dtype {target} ({span}); got {_first(arr, cast != arr)!r}. "
            "Create the tensor with a wider dtype.")
    return cast


def _narrows_floats(value: Any, arr: np.ndarray, target: np.dtype) -> bool:
    """Whether ``value`` is an array (NumPy's, or one with a dtype: a torch tensor) of several
    floats of a wider dtype than the float dtype ``target``."""
    typed = hasattr(value, "dtype") and not isinstance(value, np.generic)
    return typed and arr.size > 1 and arr.dtype.kind == "f" and arr.dtype.itemsize > target.itemsize


def _to_float(arr: np.ndarray, target: np.dtype, htype: str) -> np.ndarray:
    """``arr`` cast to the float dtype ``target``; DtypeMismatchError for finite values that would
    overflow to inf (inf and nan given as such stay) and for integers it cannot hold exactly."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = arr.astype(target)
    if arr.dtype.kind in "iuf":
        overflow = np.isinf(cast) & ~np.isinf(arr) if arr.dtype.kind == "f" else np.isinf(cast)
        if overflow.any():
            raise DtypeMismatchError(
                f"Values of this {htype} sample overflow dtype {target} (largest {np.finfo(target).max:.6g}); "
                f"got {_first(arr, overflow)!r}. Create the tensor with dtype='float64', or scale the values.")
    if arr.dtype.kind in "iu":
        inexact = _inexact_ints(arr, target)
        if inexact is not None:
            raise DtypeMismatchError(
                f"The integer {inexact} of this {htype} sample has no exact {target} value (it would be stored as "
                f"{target.type(inexact).item():.17g}). Create the tensor with an integer dtype or dtype='float64', "
                "or cast the values to float yourself if rounding is meant.")
    return cast


def _inexact_ints(arr: np.ndarray, target: np.dtype) -> int | None:
    """The first integer of ``arr`` that the float dtype ``target`` does not represent exactly, or
    None. Integers below 2**(mantissa bits + 1) are exact; only the others are checked one by one
    (screened in float64, whose rounding never takes an integer from above that bound to below it)."""
    limit = 2.0 ** (np.finfo(target).nmant + 1)
    big = np.abs(arr.astype(np.float64)).reshape(-1) >= limit
    for value in arr.reshape(-1)[big].tolist():
        if int(target.type(value)) != value:
            return value
    return None


def _first(arr: np.ndarray, mask: np.ndarray | None = None) -> Any:
    """The first value of ``arr`` (where the boolean ``mask`` is set), as a Python scalar."""
    flat = arr.reshape(-1) if mask is None else arr.reshape(-1)[np.broadcast_to(mask, arr.shape).reshape(-1)]
    return flat[0].item() if flat.size else None


def normalize_array(value: Any, spec: Htype, dtype: str | None) -> np.ndarray:
    """Canonical ndarray for an array-kind sample: dtype checked, shape rule applied."""
    arr = to_array(value, dtype, spec.name)
    return np.ascontiguousarray(spec.shaped(arr))


def class_ids(value: Any, class_names: list[str], fixed: bool) -> tuple[Any, list[str]]:
    """Map class names in ``value`` to ids; returns (value with ids, names appended)."""
    added: list[str] = []
    known = {name: i for i, name in enumerate(class_names)}

    def one(item: Any) -> Any:
        if isinstance(item, (str, np.str_)):
            if item not in known:
                if fixed:
                    raise ClassLabelError(
                        f"Class name {item!r} is not in the tensor's fixed class list {class_names}; "
                        "add it to info.class_names first or pass an id."
                    )
                known[item] = len(class_names) + len(added)
                added.append(str(item))
            return known[item]
        if isinstance(item, (list, tuple)) or (isinstance(item, np.ndarray) and item.dtype.kind in "US"):
            return [one(x) for x in item]
        return item

    mapped = one(value)
    if fixed and class_names:
        ids = np.asarray(mapped)
        if ids.dtype.kind in "iu" and ids.size and (ids.min() < 0 or ids.max() >= len(class_names)):
            raise ClassLabelError(f"Class ids must be in 0..{len(class_names) - 1} for this fixed class list.")
    return mapped, added


def text_bytes(value: Any) -> bytes:
    """The UTF-8 bytes of a text sample (a str, or a one-element str array)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "US" and value.size == 1:
        value = str(value.reshape(-1)[0])
    if not isinstance(value, str):
        raise DtypeMismatchError(f"A text sample must be a str; got {type(value).__name__}.")
    try:
        return value.encode()
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from a bytes.decode(errors="surrogateescape")
        raise DtypeMismatchError(
            f"A text sample must be valid Unicode; {value[exc.start:exc.end]!r} at position {exc.start} is a lone "
            "surrogate, which UTF-8 cannot store. Remove it, or decode the source with errors='replace'.") from None


LIST_HTYPES = ("list", "tag")  # json htypes whose samples are lists


def check_json(value: Any, htype: str) -> Any:
    if htype == "tag":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise DtypeMismatchError(f"A tag sample is a str or a list of str; got {value!r}.")
    if htype in LIST_HTYPES and not isinstance(value, (list, tuple)):
        raise DtypeMismatchError(f"A list sample must be a list; got {type(value).__name__}.")
    try:
        json_values.dumps(value)
    except SampleError:  # a dl.read file inside the value that is no image
        raise
    except (TypeError, ValueError) as exc:
        raise DtypeMismatchError(f"A {htype} sample must be JSON-serialisable ({exc}).") from exc
    except RecursionError:
        raise ShapeMismatchError(f"A {htype} sample is nested too deeply to store (Python's recursion limit "
                                 f"is {sys.getrecursionlimit()}); flatten it first.") from None
    return list(value) if htype in LIST_HTYPES else value


def json_bytes(value: Any) -> bytes:
    """JSON bytes of a value (bytes and dl.read images inside it included; see ``json_values``)."""
    return json_values.dumps(value, allow_nan=True)


def check_polygon(value: Any, dtype: str) -> list[np.ndarray]:
    if isinstance(value, np.ndarray) and value.ndim == 3:
        value = list(value)
    if not isinstance(value, (list, tuple)):
        raise ShapeMismatchError("A polygon sample is a list of (P, 2) or (P, 3) point arrays.")
    polys = [to_array(p, dtype, "polygon", narrowing=True) for p in value]  # coordinates: rounding is fine
    dims = {p.shape[1] if p.ndim == 2 else -1 for p in polys}
    if any(p.ndim != 2 for p in polys) or not dims <= {2, 3} or len(dims) > 1:
        raise ShapeMismatchError("Every polygon must be a (P, 2) or (P, 3) array, all with the same D.")
    return polys


# -- empty samples (None) ---------------------------------------------------------------------
# Dimensions of an htype's samples, where the htype fixes them (generic: the first sample does).
_NDIM = {"image": 3, "image.rgb": 3, "image.gray": 3, "binary_mask": 3, "segment_mask": 2, "bbox": 2,
         "point": 2, "embedding": 1, "class_label": 1, "polygon": 3, "bbox.3d": 2, "keypoints_coco": 2}
_EMPTY_ROWS = {"bbox": 4, "point": 2, "bbox.3d": 8}  # (K, D) htypes keep D in an empty sample: a bbox reads (0, 4)


def is_empty(value: Any, htype: str) -> bool:
    """True for the values that mean "no sample here": None, and ``[]`` / ``()`` except where an
    empty list is itself a value (``list`` tensors)."""
    if value is None:
        return True
    return htype not in LIST_HTYPES and isinstance(value, (list, tuple)) and len(value) == 0


def empty_shape(htype: str, ndim: int | None) -> tuple[int, ...]:
    """The shape of an empty array-kind sample: zeros in every dimension the tensor has (``()`` while
    a generic tensor has no sample to fix its dimensions), keeping a bbox's or point's width."""
    ndim = ndim if ndim is not None else _NDIM.get(htype)
    if ndim is None:
        return ()
    if htype in _EMPTY_ROWS and ndim == 2:
        return (0, _EMPTY_ROWS[htype])
    return (0,) * ndim


# -- giving an existing tensor another htype (``tensor.htype = ...``), as Deep Lake v3 allows it -------
CONVERTIBLE = ("generic", "image")  # the htypes a tensor may change from


def _dims(*counts: int, last: tuple[int, ...] = (), every: int = 0) -> Callable[[Any, Any], str | None]:
    """Samples with one of ``counts`` dimensions, the last one in ``last`` and the first a
    multiple of ``every`` (when given)."""
    def rule(shape: tuple[int, ...] | None, dtype: str | None) -> str | None:
        fits = shape is None or len(shape) in counts and (not last or shape[-1] in last) and (not every or shape[0] % every == 0)
        return None if fits else f"samples of shape {shape}"
    return rule


def _image_fits(shape: tuple[int, ...] | None, dtype: str | None) -> str | None:
    return None if shape is None or len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3, 4)) else f"samples of shape {shape}"


def _float32(shape: tuple[int, ...] | None, dtype: str | None) -> str | None:
    return None if dtype in (None, "float32") else f"dtype {dtype}"


# the htypes a tensor may change to, each with what a stored sample (shape; None: there are none)
# and the tensor's dtype must be: None when they fit, else what does not
CONVERSIONS: dict[str, Callable[[Any, Any], str | None]] = {
    "image": _image_fits,
    "class_label": _dims(1),
    "bbox": _dims(1, 2, last=(4,)),
    "bbox.3d": _dims(1, 2, last=(8,)),
    "embedding": _float32,
    "binary_mask": _dims(2, 3),
    "segment_mask": _dims(2, 3),
    "instance_label": lambda shape, dtype: None,
    "keypoints_coco": _dims(2, every=3),
    "point": _dims(2, last=(2, 3)),
    "tag": lambda shape, dtype: f"dtype {dtype} (tags are str)",
}


NAMES: list[str] = sorted(HTYPES)
# every sample or chunk compression some htype takes, sorted, then None (no compression)
COMPRESSIONS: list[str | None] = [*sorted({c for spec in HTYPES.values() for c in spec.sample_compressions}
                                          | set(CHUNK_COMPRESSIONS)), None]


def numpy_form(kind: str, htype: str, value: Any) -> Any:
    """One decoded sample of a tensor of ``kind``/``htype`` as ``tensor[i].numpy()`` gives it:
    text -> (1,) str array, list/tag -> (k,) array (of str when every item is a str, else object),
    json -> (1,) object array; other kinds unchanged."""
    if kind not in ("text", "json"):
        return value
    if htype in LIST_HTYPES:
        return np.asarray(value, dtype=str if value and all(isinstance(v, str) for v in value) else object)
    if kind == "text":
        return np.asarray([value])
    out = np.empty(1, dtype=object)
    out[0] = value
    return out
