"""Delayed answers to the client's pings, to emulate a slow or stalled upstream.

websockets answers a PING inside its sans-I/O protocol, before any handler sees
it; to delay the PONG (`LiveEmulator.pong_delay`) the emulator wraps that one
method on each connection's protocol. It is a module of its own because it is
the only place the emulator reaches into websockets' internals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State


def delayed_pong_connection(get_delay: Callable[[], float]) -> type[ServerConnection]:
    """A ServerConnection whose pongs are delayed by ``get_delay()`` seconds.

    websockets answers pings inside the sans-I/O protocol (``recv_frame``); we wrap that
    method on the protocol instance so a PING is recorded and answered later.
    """

    class DelayedPongConnection(ServerConnection):
        pings = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            original = self.protocol.recv_frame

            def recv_frame(frame: Frame) -> None:
                if frame.opcode is Opcode.PING:
                    self.pings += 1
                    delay = get_delay()
                    if delay > 0:
                        self.protocol.events.append(frame)
                        self.loop.call_later(delay, self._send_pong, bytes(frame.data))
                        return
                original(frame)

            self.protocol.recv_frame = recv_frame  # type: ignore[method-assign]

        def _send_pong(self, data: bytes) -> None:
            if self.protocol.state is State.OPEN:
                self.protocol.send_pong(data)
                self.send_data()

    return DelayedPongConnection
