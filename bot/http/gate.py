"""Whether a new call may start now: the admission the join and the first offer share.

A new call is refused while the bot drains, when it is busy (`bot.admission`: MAX_CALLS,
Gemini Live refusing sessions), when its room is full (here and, through `RoomSlots`,
across the processes on one data directory) and when the caller's address joins too
often. Offers being answered count as calls, so a burst of simultaneous offers cannot
slip past MAX_CALLS or a room's cap. The routes get the gate as a FastAPI dependency
(`bot.http.deps`).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import Request

from bot.admission import Admission
from bot.http.calls import CallRegistry
from bot.http.errors import ApiError
from bot.http.ratelimit import RateLimiter, client_network
from bot.http.room_slots import RoomSlots, Slot
from bot.rooms import Room
from bot.shared.state import Place, SharedState, SharedUnavailable


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Gate:
    """The limits on new calls, and the count of calls being started."""

    def __init__(
        self,
        calls: CallRegistry,
        admission: Admission,
        limiter: RateLimiter,
        slots: RoomSlots,
        shared: SharedState | None = None,
    ) -> None:
        self.calls, self.admission, self.limiter, self.slots = calls, admission, limiter, slots
        self.shared = shared  # Redis, for many instances; None: this host's files only
        self.draining = asyncio.Event()
        # New calls whose offer is being answered: counted against the limits until they
        # are calls.
        self.starting: Counter[str] = Counter()

    def accepting(self) -> None:
        """Refuse while draining or busy."""
        if self.draining.is_set():
            raise ApiError(
                "draining",
                "The bot is restarting: please call again in a minute.",
                {"Retry-After": "60"},
            )
        refusal = self.admission.refusal(len(self.calls.calls) + sum(self.starting.values()))
        if refusal is not None:
            message, retry_after = refusal
            raise ApiError("busy", message, {"Retry-After": str(retry_after)})

    def rate_limit(self, request: Request) -> None:
        """Refuse a caller's address that joins or calls too often."""
        wait = self.limiter.take(client_network(client_key(request)))  # an IPv6 /64 is one
        if wait:
            raise ApiError(
                "rate_limited",
                f"Too many attempts from your address: try again in {wait:.0f} s.",
                {"Retry-After": str(max(1, round(wait)))},
            )

    def check_capacity(self, room: Room) -> None:
        """Refuse a full room (a hint when joining; the offer takes the place)."""
        here = self.calls.in_room(room.name) + self.starting[room.name]
        if here >= room.max_callers or not self.slots.free(room.name, room.max_callers):
            raise room_full(room)

    def take_place(self, room: Room) -> Slot:
        """The room place a new call holds until it ends, across instances."""
        slot = self.slots.take(room.name, room.max_callers)
        if slot is None:  # taken meanwhile by another instance
            raise room_full(room)
        return slot


async def shared_admit(
    gate: Gate, room: Room, nonce: str, expires_at: int, call_id: str
) -> Place | None:
    """Across instances (Redis): the cool-down, the room's and MAX_CALLS' places, the
    ticket. None without Redis (no await happens: this host's checks were enough)."""
    shared = gate.shared
    if shared is None:
        return None
    try:
        down = await shared.cooldown()
        if down is not None:
            refusal = gate.admission.refusal(0, cooldown=down)
            assert refusal is not None
            raise ApiError("busy", refusal[0], {"Retry-After": str(refusal[1])})
        place = await shared.take_place(
            room.name, room.max_callers, gate.admission.max_calls, call_id
        )
        if place == "full":
            raise room_full(room)
        if isinstance(place, str):
            message, retry_after = gate.admission.refusal(gate.admission.max_calls) or ("", 30)
            raise ApiError("busy", message, {"Retry-After": str(retry_after)})
        if not await shared.claim_ticket(nonce, expires_at):
            place.release()
            raise ApiError("used", "This call ticket was already used: join again.")
        return place
    except SharedUnavailable as e:
        raise unavailable() from e


async def shared_release(gate: Gate, place: Place | None, nonce: str) -> None:
    """No call started after `shared_admit`: give its place and ticket back."""
    if place is None or gate.shared is None:
        return
    place.release()
    try:
        await gate.shared.release_ticket(nonce)
    except SharedUnavailable:
        pass  # logged; the ticket stays used (the caller joins again)


async def shared_room_hint(gate: Gate, room: Room) -> None:
    """At join, with Redis: refuse a room full across instances, or Redis away (503)."""
    if gate.shared is None:
        return
    try:
        free = await gate.shared.room_free(room.name, room.max_callers)
    except SharedUnavailable as e:
        raise unavailable() from e
    if not free:
        raise room_full(room)


def unavailable() -> ApiError:
    return ApiError(
        "unavailable",
        "The bot cannot take new calls right now: please try again in a minute.",
        {"Retry-After": "30"},
    )


def room_full(room: Room) -> ApiError:
    return ApiError(
        "full",
        f"The room '{room.display_title}' is full ({room.max_callers} callers): "
        "try again in a few minutes.",
    )
