"""Per-client token buckets: a few quick retries are fine, a flood is refused.

A client is an IPv4 address, or an IPv6 /64: one IPv6 host is handed a whole /64
(a home router's LAN, a VPS), so counting full IPv6 addresses would give one
attacker 2^64 fresh buckets (`client_network`).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

IPV6_CLIENT_PREFIX = 64


def client_network(host: str) -> str:
    """The rate-limit key of a client address: IPv4 as is, IPv6 its /64 (an
    IPv4-mapped IPv6 address counts as its IPv4 address); anything else unchanged."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


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
