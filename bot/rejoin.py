"""A caller can come back: a reload, or a network loss longer than `CALLER_GONE_SECONDS`,
rejoins the same conversation within `REJOIN_SECONDS`.

Why our own: Pipecat ends a call with its peer connection, and a new connection is a new
call (a second greeting, an empty page). Here a call the caller left (not one the bot
ended) is parked: the Live session's newest resumption handle (Google keeps a session
resumable for 2 hours after its last socket closed), the transcript the stage keeps (the
tools guard reads it, and it seeds a fresh session if the handle is refused), and what
the page was shown. The page proves it is the same caller with the rejoin secret the bot
gave it when the call started (256 random bits, kept in the tab's sessionStorage; only
its SHA-256 is a key here, so a parked call cannot be found without it). A join with the
room's link (whose rules all hold) and the secret takes the parked call, once, and binds
it to the new call ticket; that ticket's first offer starts a call that resumes the same
Live session, with no greeting, and shows the page its transcript and tool feed again.
With Redis (`REDIS_URL`) calls are parked there, so any instance can take one back.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from loguru import logger

HANDLE_LIFETIME_SECONDS = 7200  # Google: a handle resumes up to 2 h after the last socket
PAGE_MESSAGES = 300  # what a rejoined page is shown again, newest kept
MAX_PARKED_BYTES = 256 * 1024  # one parked call, at most


class Parking(Protocol):
    """Where parked calls wait: this process, or the shared state (`bot.shared`)."""

    async def park(self, key: str, value: str, seconds: float) -> None: ...

    async def unpark(self, key: str) -> str | None: ...


class MemoryParking:
    """One instance's parked calls (no Redis): expired ones go at the next park."""

    def __init__(self) -> None:
        self._parked: dict[str, tuple[float, str]] = {}  # key: (monotonic expiry, value)

    async def park(self, key: str, value: str, seconds: float) -> None:
        now = time.monotonic()
        self._parked = {k: v for k, v in self._parked.items() if v[0] > now}
        self._parked[key] = (now + seconds, value)

    async def unpark(self, key: str) -> str | None:
        until, value = self._parked.pop(key, (0.0, None))
        return value if until > time.monotonic() else None


@dataclass
class ParkedCall:
    """What a rejoining caller gets back."""

    room: str
    handle: str | None  # the Live session's newest resumable handle (None: seed a summary)
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (role, text), oldest first
    page: list[dict[str, Any]] = field(default_factory=list)  # transcript and tool messages

    def dumps(self) -> str:
        text = json.dumps(asdict(self), separators=(",", ":"))
        while len(text) > MAX_PARKED_BYTES and (self.page or self.transcript):
            # Too much to keep: the oldest half of what the page shows goes first.
            self.page = self.page[len(self.page) // 2 :] if len(self.page) > 1 else []
            if not self.page:
                self.transcript = self.transcript[len(self.transcript) // 2 :]
            text = json.dumps(asdict(self), separators=(",", ":"))
        return text

    @classmethod
    def loads(cls, text: str) -> ParkedCall | None:
        try:
            data = json.loads(text)
            return cls(
                room=str(data["room"]),
                handle=data["handle"] if isinstance(data["handle"], str) else None,
                transcript=[(str(r), str(t)) for r, t in data["transcript"]],
                page=[m for m in data["page"] if isinstance(m, dict)],
            )
        except (ValueError, KeyError, TypeError) as e:
            logger.warning(f"a parked call could not be read: {e!r}")
            return None


def new_secret() -> str:
    """A call's rejoin secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def secret_key(secret: str) -> str:
    return "secret:" + hashlib.sha256(secret.encode()).hexdigest()


def ticket_key(nonce: str) -> str:
    return "ticket:" + nonce


class ParkedCalls:
    """Parked calls, by rejoin secret and then by the call ticket that took them."""

    def __init__(self, parking: Parking | None, seconds: float) -> None:
        self.parking: Parking = parking or MemoryParking()
        self.seconds = min(seconds, HANDLE_LIFETIME_SECONDS)

    @property
    def on(self) -> bool:
        return self.seconds > 0

    async def park(self, key: str, call: ParkedCall) -> None:
        """The caller left the call whose secret has `key`: keep it for the window."""
        await self.parking.park(key, call.dumps(), self.seconds)

    async def take(self, secret: str, room: str, nonce: str, ticket_seconds: float) -> bool:
        """A join with `secret`: move its parked call (if any, and of `room`) to the new
        ticket `nonce`, for as long as the ticket is valid. Single use."""
        text = await self.parking.unpark(secret_key(secret))
        call = ParkedCall.loads(text) if text else None
        if call is None or call.room != room:
            return False
        await self.parking.park(ticket_key(nonce), text or "", ticket_seconds)
        return True

    async def for_ticket(self, nonce: str) -> ParkedCall | None:
        """The parked call a ticket took at its join (taken now: the call starts)."""
        text = await self.parking.unpark(ticket_key(nonce))
        return ParkedCall.loads(text) if text else None

    async def give_back(self, nonce: str, call: ParkedCall, ticket_seconds: float) -> None:
        """The ticket's offer failed before its call started: it may try again."""
        await self.parking.park(ticket_key(nonce), call.dumps(), ticket_seconds)
