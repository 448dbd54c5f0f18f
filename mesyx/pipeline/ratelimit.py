"""Token-bucket rate limits per key (sender address, client IP), sans-IO.

A bucket holds up to ``per_minute`` tokens and refills continuously; a request takes
one. Buckets that are full again are forgotten, so memory stays bounded by the keys
active within the last minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60.0)

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; False means over the limit. 0 means unlimited."""
        if self.per_minute <= 0:
            return True
        now = self._clock()
        tokens = self._tokens(key, now)
        if len(self._buckets) > 10_000:
            self._sweep(now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def available(self, key: str) -> bool:
        """Whether :meth:`allow` would pass, without taking a token (failure budgets)."""
        return self.per_minute <= 0 or self._tokens(key, self._clock()) >= 1.0

    def _sweep(self, now: float) -> None:
        refill = 60.0  # a bucket untouched for a minute is full again
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
