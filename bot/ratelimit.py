"""Per-client token buckets: a few quick retries are fine, a flood is refused."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """`burst` requests at once per key, refilled at `per_minute` per minute."""

    per_minute: float
    burst: int
    max_keys: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed (a token is spent), else seconds to wait before the next try."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_minute / 60)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            self._trim()
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) * 60 / self.per_minute

    def _trim(self) -> None:
        # Bounded memory under a spray of addresses: forget the oldest keys.
        if len(self._buckets) > self.max_keys:
            for key in list(self._buckets)[: len(self._buckets) - self.max_keys]:
                del self._buckets[key]
