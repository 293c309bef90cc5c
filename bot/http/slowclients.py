"""Slow and idle HTTP clients are timed out: each request must arrive within a bound.

uvicorn times out only the keep-alive pause *after* a response
(`timeout_keep_alive`); nothing bounds a connection that never sends a request, that
drips its header a byte at a time, or that trickles its body: each holds a socket and
a file descriptor for ever (the probe kept 70 such connections open for 120 s). h11
bounds how *big* a header may be, not how *long* it may take.

So `DeadlineH11Protocol` extends uvicorn's own h11 protocol by one timer: from the
moment a connection opens, or a response completes, the next request (head and
body) must be fully received within `REQUEST_READ_SECONDS`, else the connection is
closed (with a 408 if part of a request had come). Handling a request that has fully
arrived is not bounded here: an offer may take seconds to answer. In production
caddy sits in front with its own header, body and idle timeouts (deploy/caddy).

`UVICORN_LIMITS` is what both the server (`bot.__main__`) and the tests give
`uvicorn.Config`, so the tests run the limits production runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# A request of ours is a few KB (an SDP offer); the body bound is 128 KiB
# (bot.http.bodylimit): even at 100 kbit/s that arrives in 10 s.
REQUEST_READ_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5  # idle time allowed between requests (uvicorn's own timer)
MAX_HEADER_BYTES = 16 * 1024  # h11's bound on a request head (a browser's is ~1-2 KB)

_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for receiving each request."""

    request_read_seconds = REQUEST_READ_SECONDS

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._disarm_when_received()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start on a pipelined request
        if not self.transport.is_closing():
            self._arm()
            self._disarm_when_received()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the connection is the WebSocket protocol's from here on
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_read_seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _disarm_when_received(self) -> None:
        # IDLE: no request yet (or a head still arriving); SEND_BODY: its body arriving.
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        pending, _closed = self.conn.trailing_data
        started = bool(pending) or self.conn.their_state is h11.SEND_BODY
        cycle = self.cycle
        responding = cycle is not None and cycle.response_started and not cycle.response_complete
        if started and not responding:
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


UVICORN_LIMITS: dict[str, Any] = {
    "http": DeadlineH11Protocol,
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
}
