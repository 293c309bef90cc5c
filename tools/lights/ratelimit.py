"""A token bucket: at most `capacity` actions at once, refilled over `period` seconds."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`capacity` tokens; one is taken per action; the bucket refills fully in `period` s."""

    def __init__(
        self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1 or period <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and period > 0")
        self.capacity = capacity
        self.rate = capacity / period  # tokens per second
        self._clock = clock
        self._tokens = float(capacity)
        self._at = clock()

    def take(self) -> bool:
        """Take one token if there is one; False means: over the limit, wait."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
