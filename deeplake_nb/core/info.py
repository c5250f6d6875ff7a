"""``info``: a dict of user metadata on a dataset or tensor, with attribute access; writes persist."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Callable, Iterator

from ..errors import InfoTypeError


class Info(MutableMapping):
    """A mutable mapping over a metadata dict (``pop``, ``setdefault``, ``update``, ``keys``,
    ``items``, ``del``, ``clear`` ...), with attribute access (``info.class_names``). Every change
    first calls ``check`` (raises when read-only), then ``persist`` once, after the dict changed.
    Values changed in place (``info.names.append(...)``) persist with the next change."""

    def __init__(self, data: dict[str, Any], check: Callable[[], None], persist: Callable[[], None]) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_check", check)
        object.__setattr__(self, "_persist", persist)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"info has no key {name!r}; keys: {sorted(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"info has no key {name!r}; keys: {sorted(self._data)}") from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check()
        self._data[key] = value
        self._persist()

    def __delitem__(self, key: str) -> None:
        self._check()
        del self._data[key]
        self._persist()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Like ``dict.update``, persisted once."""
        self._check()
        self._data.update(*args, **kwargs)
        self._persist()

    def clear(self) -> None:
        """Remove every key, persisted once."""
        self._check()
        self._data.clear()
        self._persist()

    def replace(self, mapping: Any) -> None:
        """Make the contents exactly ``mapping`` (``ds.info = {...}``), persisted once; TypeError
        (our InfoTypeError) when it is not a mapping."""
        if not isinstance(mapping, (dict, MutableMapping)):
            raise InfoTypeError(f"info must be set to a dict; got {type(mapping).__name__}.")
        self._check()
        new = dict(mapping)
        self._data.clear()
        self._data.update(new)
        self._persist()

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return the most recently added ``(key, value)``, as ``dict.popitem`` does."""
        self._check()
        item = self._data.popitem()
        self._persist()
        return item

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Info({self._data!r})"
