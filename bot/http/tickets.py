"""Call tickets: one ticket, one call, through every peer connection it has.

A ticket is bound to its call (`CallBinding`), not to one pc_id: the restart answer's new
pc_id is the binding's current one, so the page's trickled candidates and its next
restart are taken. The binding is claimed before the first `await` of the first offer,
so simultaneous offers with one ticket start one call, and it counts the call's remote
candidates (offer and PATCHes together) against one cap. Trickled candidates go to the
offer their `ufrag` names: the page sends a restarted connection's candidates under the
old pc_id until the answer is back.

`Tickets` is the bookkeeping the signalling routes share: which ticket has which call
(here, and through `UsedTickets` across processes), the per-call candidate cap and PATCH
rate, and which bearer tickets are still good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from bot import links
from bot.http.errors import ApiError
from bot.http.ice import candidate_ufrag
from bot.http.ratelimit import RateLimiter
from bot.http.used_tickets import UsedTickets

PATCH_BURST = 20  # candidate PATCHes a call may send at once (a page sends a few)


@dataclass
class CallBinding:
    """What one ticket is bound to: one call, through every peer connection it has."""

    nonce: str
    expires_at: int
    connection: SmallWebRTCConnection | None = None  # None while the first offer is answered
    pc_ids: list[str] = field(default_factory=list)  # every pc_id the call has had, in order
    candidates: int = 0  # remote candidates taken, offers and PATCHes together
    ufrags: list[str] = field(default_factory=list)  # the ICE ufrag of each offer, in order
    early: list[Any] = field(default_factory=list)  # candidates of an offer not answered yet
    ended: bool = False
    final_pc_id: str | None = None  # the pc_id the call had when it ended
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one renegotiation at a time

    @property
    def started(self) -> bool:
        """A call was made with this ticket (it may have ended since)."""
        return self.connection is not None or self.ended

    def end(self) -> None:
        """The call ended: keep its pc_ids (late requests are told so) but let go of the
        connection, so that it, its aiortc peer and their sockets can be freed while the
        binding waits for its ticket to expire."""
        self.final_pc_id = self.pc_id
        self.ended = True
        self.connection = None

    @property
    def call_id(self) -> str | None:
        """The call's first pc_id: its id for good (calls are registered by it)."""
        return self.pc_ids[0] if self.pc_ids else None

    @property
    def pc_id(self) -> str | None:
        """The call's current peer connection id (it changes with each ICE restart)."""
        return self.connection.pc_id if self.connection is not None else self.final_pc_id

    def follow(self) -> None:
        """Take the connection's current pc_id as the call's (call after each answer)."""
        if self.connection is not None and self.connection.pc_id not in self.pc_ids:
            self.pc_ids.append(self.connection.pc_id)

    def sort(self, candidates: list[Any], pc_id: str) -> tuple[list[Any], int]:
        """Which of a PATCH's candidates go to the current connection now; the rest are
        kept for an offer not answered yet, or dropped (an earlier connection's). A page
        trickles a restarted connection's candidates under the old pc_id until the answer
        is back (Pipecat's JS client does), so a browser's `ufrag` decides, not the pc_id.
        Returns (for now, how many were for an earlier connection)."""
        current = self.ufrags[-1] if self.ufrags else None
        now, stale = [], 0
        for c in candidates:
            ufrag = candidate_ufrag(c.candidate) if c.candidate else None
            if ufrag is None:
                if pc_id == self.pc_id:
                    now.append(c)
                else:
                    stale += 1
            elif ufrag == current:
                now.append(c)
            elif ufrag in self.ufrags:
                stale += 1
            else:
                self.early.append(c)
        return now, stale

    def answered(self, ufrag: str | None) -> list[Any]:
        """An offer was answered: its ufrag is current; its early candidates, to add now."""
        if ufrag is not None and ufrag not in self.ufrags:
            self.ufrags.append(ufrag)
        due = [c for c in self.early if candidate_ufrag(c.candidate) == ufrag]
        self.early = [c for c in self.early if c not in due]
        return due

    def was(self, pc_id: str) -> bool:
        """An earlier pc_id of this call (replaced by an ICE restart)."""
        return pc_id in self.pc_ids and pc_id != self.pc_id


class Tickets:
    """Ticket nonce -> its call's binding, with the per-call candidate cap and PATCH limit."""

    def __init__(
        self,
        secret: bytes,
        max_candidates: int,
        patches_per_minute: float,
        used: UsedTickets,
    ) -> None:
        self.max_candidates = max_candidates
        self._secret = secret
        self._used = used  # single use across the processes on one data directory
        self._bindings: dict[str, CallBinding] = {}
        self._patches = RateLimiter(per_minute=patches_per_minute, burst=PATCH_BURST)

    def verify(self, authorization: str, running: Container[str | None]) -> links.Claims:
        """The claims of the bearer ticket in `authorization`, or the refusal. `running`:
        the ids of the calls in progress (an expired ticket still serves its own call)."""
        if not authorization.lower().startswith("bearer "):
            raise ApiError("missing_ticket", "Join the room from its link before calling.")
        token = authorization[7:].strip()
        try:
            return links.verify(self._secret, "ticket", token)
        except links.TokenError as e:
            if e.reason == "expired":
                # A ticket outlives its 5 minutes only for the call it already made.
                claims = links.verify(self._secret, "ticket", token, now=0)
                binding = self.get(claims.nonce)
                if binding is not None and binding.call_id in running:
                    return claims
            raise ApiError(e.reason, str(e)) from e

    def claim(self, nonce: str, expires_at: int) -> CallBinding | None:
        """Take the ticket for a new call (no await before this), here and for every
        process; None: already taken."""
        self._prune()
        if nonce in self._bindings:
            return None
        binding = self._bindings[nonce] = CallBinding(nonce, expires_at)
        if not self._used.claim(nonce, expires_at):  # by any instance
            del self._bindings[nonce]
            return None
        return binding

    def release(self, binding: CallBinding) -> None:
        """The first offer failed before any call started: the ticket may be used again."""
        if binding.started:
            return
        self._used.release(binding.nonce)
        if self._bindings.get(binding.nonce) is binding:
            del self._bindings[binding.nonce]

    def get(self, nonce: str) -> CallBinding | None:
        return self._bindings.get(nonce)

    def take_candidates(self, binding: CallBinding, count: int) -> None:
        """Count `count` more remote candidates against the call's cap (refused: over it)."""
        if binding.candidates + count > self.max_candidates:
            raise ApiError(
                "too_many_candidates",
                f"too many ICE candidates: a call may signal {self.max_candidates} in all "
                f"(this one has {binding.candidates}).",
            )
        binding.candidates += count

    def patch_wait(self, binding: CallBinding) -> float:
        """0 if this call may PATCH now, else seconds to wait."""
        return self._patches.take(binding.nonce)

    def _prune(self) -> None:
        # An ended call's binding only has to outlive its ticket (then the ticket is refused).
        now = time.time()
        for nonce in [n for n, b in self._bindings.items() if b.ended and b.expires_at < now]:
            del self._bindings[nonce]
