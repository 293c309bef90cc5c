"""The shared state's interface: the few operations the bot needs, not a key-value store.

One host keeps today's forms (flock'd room places, the used-tickets file, the cool-down
and rate limits in memory: `bot.shared.embedded`); many hosts put the same operations on
Redis (`bot.shared.redis_state`), each one atomic there. Every place a call holds is
a lease: an instance that dies without releasing loses its places when the lease runs
out, so the counts heal themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol


class SharedUnavailable(RuntimeError):
    """The shared state cannot be reached: new calls are refused (503), calls go on."""


@dataclass(frozen=True)
class Instance:
    """One live bot instance, as the registry lists it."""

    id: str
    address: str  # where other instances reach it (host:port)
    calls: int = 0
    draining: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Place(Protocol):
    """A held room place (and call place); `release()` is idempotent."""

    def release(self) -> None: ...


class SharedState(Protocol):
    async def start(self) -> None:
        """Check the state can be used (`SharedUnavailable` saying how to fix it)."""

    async def close(self) -> None: ...

    async def take_place(self, room: str, places: int, max_calls: int, call_id: str) -> Place | str:
        """A place in `room` (of `places`) and one of `max_calls` for the call, taken
        together and atomically; else the refusal: "full" (the room) or "busy"."""

    async def room_free(self, room: str, places: int) -> bool:
        """Whether `room` has a free place now (a hint for joining)."""

    async def claim_ticket(self, nonce: str, expires_at: int) -> bool:
        """True if no instance used this ticket before (now it is used)."""

    async def release_ticket(self, nonce: str) -> None: ...

    async def set_cooldown(self, reason: str, seconds: float) -> None:
        """New calls are refused everywhere for `seconds` (Gemini refused a session)."""

    async def cooldown(self) -> tuple[str, float] | None:
        """(reason, seconds left) while a cool-down runs, else None."""

    async def rate_take(self, key: str, per_minute: float, burst: int) -> float:
        """0 if `key` may go now (a token is spent), else seconds to wait."""

    async def holder(self, call_id: str) -> Instance | None:
        """The live instance that holds the call `call_id` took a place for; None once the
        call has ended or its instance is gone (its lease ran out)."""

    async def heartbeat(self, me: Instance, ttl: float) -> None:
        """Say this instance is alive (listed for `ttl` seconds) and renew its leases."""

    async def instances(self) -> list[Instance]:
        """The live instances (those whose heartbeat has not expired)."""

    async def park(self, key: str, value: str, seconds: float) -> None:
        """Keep `value` under `key` for `seconds` (a parked call, `bot.rejoin`)."""

    async def unpark(self, key: str) -> str | None:
        """Take what is parked under `key`, once: a second take finds nothing."""
