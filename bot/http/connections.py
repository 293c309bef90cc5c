"""Peer connections, one key per live connection, every close bounded in time.

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

Touches Pipecat's private `SmallWebRTCRequestHandler._pcs_map` (the connection map; no
public way to drop a key), and nothing else.
"""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

CLOSE_SECONDS = 2.0  # one peer connection's close (aiortc: ~10 ms when healthy)


class CallConnections(SmallWebRTCRequestHandler):
    """Pipecat's request handler, with one key per live connection and bounded closes."""

    async def handle_web_request(self, request, webrtc_connection_callback):
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

    async def close(self, timeout: float = CLOSE_SECONDS) -> None:
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
