"""A thread-safe least-recently-used cache of parsed, never-changing objects by name, bounded
by the total weight of what it holds (the parsed patches and manifest deltas a repository shares
between the versions it opens)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class WeightedLRU(Generic[V]):
    """Values by name, at most ``capacity`` in total ``weight``, least recently used first out;
    a value heavier than ``capacity`` on its own is not kept. Values are shared: callers never
    mutate them. Thread-safe."""

    def __init__(self, capacity: int, weight: Callable[[V], int]) -> None:
        self.capacity = capacity
        self._weight = weight
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, name: str) -> V | None:
        with self._lock:
            item = self._items.get(name)
            if item is None:
                return None
            self._items.move_to_end(name)
            return item[0]

    def put(self, name: str, value: V, *, replace: bool = False) -> None:
        """Keep ``value`` as ``name``'s; a value already cached stays unless ``replace`` (for an
        object its writer rewrote under the same name)."""
        weight = self._weight(value)
        with self._lock:
            if name in self._items:
                if not replace:
                    return
                self._total -= self._items.pop(name)[1]
            if weight > self.capacity:
                return
            self._items[name] = (value, weight)
            self._total += weight
            while self._total > self.capacity:
                _, (_, dropped) = self._items.popitem(last=False)
                self._total -= dropped
