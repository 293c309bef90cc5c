"""The embedded shared state: one host, no extra service, exactly the forms of before.

Room places are flock'd files on the data directory (`bot.http.room_slots`), used
tickets a locked JSON file (`bot.http.used_tickets`): both already agree across the
processes of one host. The cool-down and the rate limits stay in this process's memory,
and the registry lists this instance alone. `MAX_CALLS` is this process's own count,
kept by the gate.
"""

from __future__ import annotations

import time
from pathlib import Path

from bot.http.ratelimit import RateLimiter
from bot.http.room_slots import RoomSlots
from bot.http.used_tickets import UsedTickets
from bot.shared.state import Instance, Place


class EmbeddedState:
    def __init__(self, data_dir: Path) -> None:
        self.slots = RoomSlots(data_dir / "room-slots")
        self.used = UsedTickets(data_dir / "tickets-used.json")
        self._limiters: dict[tuple[float, int], RateLimiter] = {}
        self._cooldown: tuple[str, float] | None = None  # reason, monotonic end
        self._me: Instance | None = None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def take_place(self, room: str, places: int, max_calls: int, call_id: str) -> Place | str:
        slot = self.slots.take(room, places)
        return "full" if slot is None else slot

    async def room_free(self, room: str, places: int) -> bool:
        return self.slots.free(room, places)

    async def claim_ticket(self, nonce: str, expires_at: int) -> bool:
        return self.used.claim(nonce, expires_at)

    async def release_ticket(self, nonce: str) -> None:
        self.used.release(nonce)

    async def set_cooldown(self, reason: str, seconds: float) -> None:
        self._cooldown = (reason, time.monotonic() + seconds)

    async def cooldown(self) -> tuple[str, float] | None:
        if self._cooldown is None:
            return None
        reason, until = self._cooldown
        left = until - time.monotonic()
        return (reason, left) if left > 0 else None

    async def rate_take(self, key: str, per_minute: float, burst: int) -> float:
        limiter = self._limiters.setdefault(
            (per_minute, burst), RateLimiter(per_minute=per_minute, burst=burst)
        )
        return limiter.take(key)

    async def holder(self, call_id: str) -> Instance | None:
        return self._me  # one instance: every call is its own

    async def heartbeat(self, me: Instance, ttl: float) -> None:
        self._me = me

    async def instances(self) -> list[Instance]:
        return [self._me] if self._me is not None else []
