"""``info``: a dict of user metadata on a dataset or tensor, with attribute access; writes persist."""

from __future__ import annotations

from typing import Any, Callable, Iterator


class Info:
    """Mapping view over a metadata dict. A change first calls ``check`` (raises when read-only),
    then ``persist`` after the dict changed."""

    def __init__(self, data: dict[str, Any], check: Callable[[], None], persist: Callable[[], None]) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_check", check)
        object.__setattr__(self, "_persist", persist)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"info has no key {name!r}; keys: {sorted(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

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
        self._check()
        self._data.update(*args, **kwargs)
        self._persist()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Info({self._data!r})"
