"""Keep the media fixes after a renegotiation or an ICE restart.

Why: `install_call_media` changes the receivers of the peer connection that exists
when the call is built. A caller that renegotiates with `restart_pc` (the page does it
after an ICE failure) gets a brand-new `RTCPeerConnection` from Pipecat
(`SmallWebRTCConnection.renegotiate` → `_initialize`), with new receivers and aiortc's
stock jitter buffer again: ~80 ms (and ~280 ms after a loss) back on every caller
frame for the rest of the call. A plain renegotiation can add transceivers too.

`reapply_after_renegotiation(connection, apply)` wraps this one connection's
`renegotiate` so `apply(connection)` runs again once the new offer is set, before any
media can flow on it (DTLS and ICE need round trips first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def reapply_after_renegotiation(connection: Any, apply: Callable[[Any], None]) -> None:
    if getattr(connection, "_livebot_renegotiation_hooked", False):
        return
    original = connection.renegotiate

    async def renegotiate(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        apply(connection)
        return result

    connection.renegotiate = renegotiate
    connection._livebot_renegotiation_hooked = True
