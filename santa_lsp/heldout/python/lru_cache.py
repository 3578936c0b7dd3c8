"""A small LRU cache with optional time-to-live and hit statistics."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def reset(self) -> None:
        self.hits = self.misses = self.evictions = self.expirations = 0


class LRUCache(Generic[K, V]):
    def __init__(self, capacity: int, ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def _expired(self, stored_at: float) -> bool:
        if self.ttl is None:
            return False
        return self._clock() - stored_at > self.ttl

    def get(self, key: K, default: Any = None) -> Any:
        entry = self._data.get(key)
        if entry is None:
            self.stats.misses += 1
            return default
        value, stored_at = entry
        if self._expired(stored_at):
            del self._data[key]
            self.stats.expirations += 1
            self.stats.misses += 1
            return default
        self._data.move_to_end(key)
        self.stats.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        if key in self._data:
            self._data.move_to_end(key)
        self._data[key] = (value, self._clock())
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)
            self.stats.evictions += 1

    def pop(self, key: K, default: Any = None) -> Any:
        entry = self._data.pop(key, None)
        return default if entry is None else entry[0]

    def get_or_compute(self, key: K, factory: Callable[[K], V]) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = factory(key)
            self.put(key, value)
        return value

    def purge_expired(self) -> int:
        stale = [key for key, (_, ts) in self._data.items() if self._expired(ts)]
        for key in stale:
            del self._data[key]
        self.stats.expirations += len(stale)
        return len(stale)

    def resize(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        while len(self._data) > capacity:
            self._data.popitem(last=False)
            self.stats.evictions += 1

    def keys(self) -> list[K]:
        return list(self._data.keys())

    def most_recent(self) -> K | None:
        if not self._data:
            return None
        return next(reversed(self._data))

    def clear(self) -> None:
        self._data.clear()

    def __repr__(self) -> str:
        return (f"LRUCache(size={len(self)}, capacity={self.capacity}, "
                f"hit_ratio={self.stats.hit_ratio:.2f})")


def memoize(capacity: int = 128, ttl: float | None = None) -> Callable:
    """Decorator caching results of a function keyed by its arguments."""

    def decorator(func: Callable) -> Callable:
        cache: LRUCache[Hashable, Any] = LRUCache(capacity, ttl)

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            result = cache.get(key, _MISSING)
            if result is _MISSING:
                result = func(*args, **kwargs)
                cache.put(key, result)
            return result

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper

    return decorator
