"""JSON samples (htypes json, list, tag): their stored bytes, and the typing schemas a json tensor
may be created with (``dtype=List[Dict[str, int]]``).

Besides plain JSON, a sample may hold ``bytes`` and ``dl.read(...)`` images anywhere inside it:
each is stored as a small tagged object (``{"__deeplake_nb__": "bytes" | "sample", "data":
<base64>}``) and reads back as ``bytes`` / a ``Sample`` over the same encoded file. NumPy scalars
and arrays are stored as numbers and lists and read back as such.

A schema is a ``typing`` expression (or its text) over Any, List, Dict, Optional, Union and the
scalars int, float, bool, str, bytes, None. It is kept in the tensor's meta as canonical text
(``"List[Dict[str, int]]"``) and checked on every non-empty sample.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import typing
from typing import Any

import numpy as np

from ..errors import DtypeMismatchError
from .sample import Sample

_TAG = "__deeplake_nb__"


# -- stored bytes -------------------------------------------------------------------------------
def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {_TAG: "bytes", "data": base64.b64encode(bytes(obj)).decode()}
    if isinstance(obj, Sample):
        obj.compression  # a file that is no image fails here, as it would in an image tensor
        return {_TAG: "sample", "data": base64.b64encode(obj.buffer).decode()}
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def dumps(value: Any, allow_nan: bool = False) -> bytes:
    """The stored bytes of a JSON sample; TypeError/ValueError when it cannot be stored (NaN and
    infinities too, unless ``allow_nan``: JSON has no spelling for them)."""
    return json.dumps(value, default=_default, allow_nan=allow_nan, separators=(",", ":")).encode()


def _tagged(obj: dict[str, Any]) -> Any:
    kind = obj.get(_TAG)
    if kind is None or len(obj) != 2 or "data" not in obj:
        return obj
    data = base64.b64decode(obj["data"])
    return data if kind == "bytes" else Sample(buffer=data) if kind == "sample" else obj


def loads(payload: bytes | str) -> Any:
    """Inverse of ``dumps``."""
    return json.loads(payload, object_hook=_tagged)


# -- schemas ------------------------------------------------------------------------------------
_ARITY = {"Any": (0, 0), "List": (0, 1), "Dict": (0, 2), "Optional": (1, 1), "Union": (1, 99)}
_SCALARS = {"int", "float", "bool", "str", "bytes", "None"}
_ALIASES = {"list": "List", "dict": "Dict", "NoneType": "None"}
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9.]*|\[|\]|,)")

Schema = tuple  # (name, (argument schemas...))


def _from_typing(obj: Any) -> Schema:
    """A typing expression (``List[Dict[str, int]]``, ``list[int]``, ``Optional[...]``) as a schema tree."""
    if obj is typing.Any:
        return ("Any", ())
    if obj is None or obj is type(None):
        return ("None", ())
    if obj in (list, dict):
        return (_ALIASES[obj.__name__], ())
    if isinstance(obj, type) and obj.__name__ in _SCALARS:
        return (obj.__name__, ())
    origin, args = typing.get_origin(obj), typing.get_args(obj)
    if origin in (list, dict):
        return (_ALIASES[origin.__name__], tuple(_from_typing(a) for a in args))
    if origin is typing.Union:
        parts = tuple(_from_typing(a) for a in args)
        if len(parts) == 2 and ("None", ()) in parts:
            return ("Optional", tuple(p for p in parts if p != ("None", ())))
        return ("Union", parts)
    raise DtypeMismatchError(f"Unsupported json schema {obj!r}: use typing's Any, List, Dict, Optional and "
                             "Union over int, float, bool, str, bytes and None.")


@functools.lru_cache(maxsize=64)
def _from_text(text: str) -> Schema:
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != re.sub(r"\s", "", text):
        raise DtypeMismatchError(f"Cannot read json schema {text!r}.")
    pos = 0

    def node() -> Schema:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] in "[],":
            raise DtypeMismatchError(f"Cannot read json schema {text!r}: a type name is missing.")
        name = tokens[pos].rsplit(".", 1)[-1]
        name = _ALIASES.get(name, name)
        pos += 1
        args: list[Schema] = []
        if pos < len(tokens) and tokens[pos] == "[":
            pos += 1
            args.append(node())
            while tokens[pos] == ",":
                pos += 1
                args.append(node())
            if tokens[pos] != "]":
                raise DtypeMismatchError(f"Cannot read json schema {text!r}: ']' expected.")
            pos += 1
        return _checked((name, tuple(args)), text)

    try:
        tree = node()
    except IndexError:
        raise DtypeMismatchError(f"Cannot read json schema {text!r}: it ends too early.") from None
    if pos != len(tokens):
        raise DtypeMismatchError(f"Cannot read json schema {text!r}: unexpected {tokens[pos]!r}.")
    return tree


def _checked(tree: Schema, text: str) -> Schema:
    name, args = tree
    if name in _SCALARS and not args:
        return tree
    low, high = _ARITY.get(name, (-1, -1))
    if not low <= len(args) <= high or (name == "Dict" and len(args) == 1):
        raise DtypeMismatchError(f"Unsupported json schema {text!r}: {name}[{len(args)} arguments] is not a "
                                 "type of Any, List[X], Dict[str, X], Optional[X], Union[X, ...] or a scalar.")
    if name == "Dict" and args and args[0] not in (("str", ()), ("Any", ())):
        raise DtypeMismatchError(f"Unsupported json schema {text!r}: JSON object keys are str.")
    return tree


def _text(tree: Schema) -> str:
    name, args = tree
    return f"{name}[{', '.join(_text(a) for a in args)}]" if args else name


def schema_text(dtype: Any) -> str:
    """The canonical text of a json tensor's ``dtype`` (a typing expression or its text);
    DtypeMismatchError for anything else."""
    tree = _from_text(dtype) if isinstance(dtype, str) else _checked(_from_typing(dtype), repr(dtype))
    return _text(tree)


def _fits(value: Any, tree: Schema) -> bool:
    name, args = tree
    if name == "Any":
        return True
    if name == "None":
        return value is None
    if name == "bool":
        return isinstance(value, (bool, np.bool_))
    if name == "int":
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if name == "float":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if name in ("str", "bytes"):
        return isinstance(value, (str if name == "str" else (bytes, bytearray)))
    if name == "Optional":
        return value is None or _fits(value, args[0])
    if name == "Union":
        return any(_fits(value, a) for a in args)
    if name == "List":
        return isinstance(value, (list, tuple)) and (not args or all(_fits(v, args[0]) for v in value))
    if name == "Dict":
        return isinstance(value, dict) and (not args or all(_fits(v, args[1]) for v in value.values()))
    return False


def check_schema(value: Any, schema: str) -> None:
    """Raise DtypeMismatchError unless ``value`` (a non-empty json sample) fits ``schema``."""
    if not _fits(value, _from_text(schema)):
        raise DtypeMismatchError(f"A json sample of this tensor must be {schema}; got {_short(value)}.")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
