"""Rate limiting primitives: token bucket, sliding window and a keyed registry."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]


class RateLimitExceeded(Exception):
    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded for {key}, retry in {retry_after:.2f}s")
        self.key = key
        self.retry_after = retry_after


class TokenBucket:
    def __init__(self, rate: float, capacity: int, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def try_acquire(self, tokens: int = 1) -> bool:
        with self._lock:
            self._refill()
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    def wait_time(self, tokens: int = 1) -> float:
        with self._lock:
            self._refill()
            deficit = tokens - self._tokens
            return max(0.0, deficit / self.rate)

    @property
    def available(self) -> int:
        with self._lock:
            self._refill()
            return int(self._tokens)


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: deque[float] = deque()

    def _evict(self, now: float) -> None:
        while self._hits and now - self._hits[0] >= self.window:
            self._hits.popleft()

    def try_acquire(self) -> bool:
        now = self._clock()
        self._evict(now)
        if len(self._hits) >= self.limit:
            return False
        self._hits.append(now)
        return True

    def retry_after(self) -> float:
        now = self._clock()
        self._evict(now)
        if len(self._hits) < self.limit:
            return 0.0
        return self.window - (now - self._hits[0])

    def remaining(self) -> int:
        self._evict(self._clock())
        return max(0, self.limit - len(self._hits))


@dataclass
class LimiterRegistry:
    limit: int
    window: float
    clock: Clock = time.monotonic
    _limiters: dict[str, SlidingWindow] = field(default_factory=dict)

    def for_key(self, key: str) -> SlidingWindow:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = SlidingWindow(self.limit, self.window, self.clock)
            self._limiters[key] = limiter
        return limiter

    def check(self, key: str) -> None:
        limiter = self.for_key(key)
        if not limiter.try_acquire():
            raise RateLimitExceeded(key, limiter.retry_after())

    def headers(self, key: str) -> dict[str, str]:
        limiter = self.for_key(key)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(limiter.remaining()),
            "Retry-After": f"{limiter.retry_after():.0f}",
        }

    def cleanup(self) -> int:
        idle = [key for key, lim in self._limiters.items() if lim.remaining() == self.limit]
        for key in idle:
            del self._limiters[key]
        return len(idle)


def throttled(bucket: TokenBucket, func: Callable[..., object],
              sleep: Callable[[float], None] = time.sleep) -> Callable[..., object]:
    """Wrap func so that every call blocks until the bucket has a token."""

    def wrapper(*args: object, **kwargs: object) -> object:
        while not bucket.try_acquire():
            sleep(bucket.wait_time())
        return func(*args, **kwargs)

    return wrapper
