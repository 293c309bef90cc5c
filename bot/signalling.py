"""Call tickets and peer connections: one ticket, one call, through every connection it has.

Why, at Pipecat's seams:

- `SmallWebRTCRequestHandler` keys its connection map by pc_id. An ICE restart
  (`renegotiate(restart_pc=True)`) gives the same `SmallWebRTCConnection` a new pc_id;
  the handler adds the new key and never drops the old one, and its "closed" handler pops
  only the current id, so every restart left a key for ever (5 restarts: 6 keys, after
  hang-up too). `CallConnections` drops the old keys after each answer and all of a call's
  keys when the call ends, and closes what it keeps within a time limit.
- The handler's `close()` awaits every `disconnect()` with no limit, and aiortc's
  `RTCPeerConnection.close()` can wait for ever: a second close parks on the first one's
  future, which never resolves if the first was interrupted (the probe's task dump showed
  a shutdown stuck there). Every close here is bounded, and what did not close is logged,
  one line each.
- A ticket is bound to its call (`CallBinding`), not to one pc_id: the restart answer's new
  pc_id is the binding's current one, so the page's trickled candidates and its next
  restart are taken. The binding is claimed before the first `await` of the first offer,
  so simultaneous offers with one ticket start one call, and it counts the call's remote
  candidates (offer and PATCHes together) against one cap. Trickled candidates go to the
  offer their `ufrag` names: the page sends a restarted connection's candidates under the
  old pc_id until the answer is back.

Touches Pipecat's private `SmallWebRTCRequestHandler._pcs_map` (the connection map; no
public way to drop a key), and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

from bot.ice import candidate_ufrag
from bot.ratelimit import RateLimiter

CLOSE_SECONDS = 2.0  # one peer connection's close (aiortc: ~10 ms when healthy)
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

    def __init__(self, max_candidates: int, patches_per_minute: float) -> None:
        self.max_candidates = max_candidates
        self._bindings: dict[str, CallBinding] = {}
        self._patches = RateLimiter(per_minute=patches_per_minute, burst=PATCH_BURST)

    def claim(self, nonce: str, expires_at: int) -> CallBinding | None:
        """Take the ticket for a new call (no await before this); None: already taken."""
        self._prune()
        if nonce in self._bindings:
            return None
        binding = self._bindings[nonce] = CallBinding(nonce, expires_at)
        return binding

    def release(self, binding: CallBinding) -> None:
        """The first offer failed before any call started: the ticket may be used again."""
        if not binding.started and self._bindings.get(binding.nonce) is binding:
            del self._bindings[binding.nonce]

    def get(self, nonce: str) -> CallBinding | None:
        return self._bindings.get(nonce)

    def take_candidates(self, binding: CallBinding, count: int) -> bool:
        """Count `count` more remote candidates against the call's cap (False: over it)."""
        if binding.candidates + count > self.max_candidates:
            return False
        binding.candidates += count
        return True

    def patch_wait(self, binding: CallBinding) -> float:
        """0 if this call may PATCH now, else seconds to wait."""
        return self._patches.take(binding.nonce)

    def _prune(self) -> None:
        # An ended call's binding only has to outlive its ticket (then the ticket is refused).
        now = time.time()
        for nonce in [n for n, b in self._bindings.items() if b.ended and b.expires_at < now]:
            del self._bindings[nonce]


class CallConnections(SmallWebRTCRequestHandler):
    """Pipecat's request handler, with one key per live connection and bounded closes."""

    async def handle_web_request(self, request, webrtc_connection_callback):  # type: ignore[override]
        answer = await super().handle_web_request(request, webrtc_connection_callback)
        if answer is not None:
            current = self._pcs_map.get(answer["pc_id"])
            for pc_id in [
                k for k, c in self._pcs_map.items() if c is current and k != answer["pc_id"]
            ]:
                del self._pcs_map[pc_id]
        return answer

    @property
    def pc_ids(self) -> list[str]:
        """The keys of Pipecat's connection map (what tests and metrics look at)."""
        return list(self._pcs_map)

    def connection(self, pc_id: str) -> SmallWebRTCConnection | None:
        return self._pcs_map.get(pc_id)

    def forget(self, connection: SmallWebRTCConnection) -> None:
        """Drop every key of this connection (its call has ended)."""
        for pc_id in [k for k, c in self._pcs_map.items() if c is connection]:
            del self._pcs_map[pc_id]

    async def end(self, connection: SmallWebRTCConnection) -> None:
        """A call ended: forget its connection and make sure it is closed (its sockets too)."""
        self.forget(connection)
        await close_connection(connection)

    async def close(self, timeout: float = CLOSE_SECONDS) -> None:  # type: ignore[override]
        """Close every connection at once, each within `timeout`; log the ones that did not."""
        connections = list({id(c): c for c in self._pcs_map.values()}.values())
        self._pcs_map.clear()
        await asyncio.gather(*(close_connection(c, timeout) for c in connections))


async def close_connection(
    connection: SmallWebRTCConnection, timeout: float = CLOSE_SECONDS
) -> bool:
    """`disconnect()` within `timeout`; False (and one log line) if it did not finish."""
    try:
        async with asyncio.timeout(timeout):
            await connection.disconnect()
        return True
    except TimeoutError:
        logger.warning(f"peer connection {connection.pc_id} did not close within {timeout:g} s")
    except Exception as e:  # aiortc can raise from a half-torn-down transport
        logger.warning(
            f"peer connection {connection.pc_id} failed to close: {type(e).__name__}: {e}"
        )
    return False
