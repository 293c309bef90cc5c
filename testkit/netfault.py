"""Network faults for a test caller: packet loss and blackouts, in process.

Kernel netem is not available where the tests run, and a network namespace would need
root, so faults are injected inside the caller's own aiortc stack, at the lowest layer
Python can reach: the UDP sockets of its ICE agent (aioice). Every datagram the caller
sends (``sendto``) or receives (``datagram_received``) on any of its ICE candidates'
sockets passes through a :class:`NetFault` that may drop it. That is everything on the
wire: STUN (connectivity checks, consent freshness), DTLS, SRTP/SRTCP (audio) and SCTP
(the data channel), in both directions, exactly as a lossy link would lose them. The bot
side is untouched: it sees only what a real network would show it.

    async with Caller(link) as caller:
        await caller.connect()
        fault = NetFault.attach(caller.pc, seed=1)
        fault.loss = 0.05                       # 5 % each way from now on
        async with fault.blackout(3.0): ...     # nothing gets through for 3 s
        fault.outgoing_loss = 1.0               # the laptop lid closes: nothing leaves
        print(fault.stats)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection


@dataclass
class FaultStats:
    """Datagrams seen and dropped, per direction."""

    sent: int = 0
    sent_dropped: int = 0
    received: int = 0
    received_dropped: int = 0

    def __str__(self) -> str:
        def pct(d: int, n: int) -> str:
            return f"{100 * d / n:.1f}%" if n else "-"

        return (
            f"out {self.sent_dropped}/{self.sent} dropped ({pct(self.sent_dropped, self.sent)}), "
            f"in {self.received_dropped}/{self.received} dropped "
            f"({pct(self.received_dropped, self.received)})"
        )


class NetFault:
    """Drops a caller's datagrams: random loss per direction, and blackouts."""

    def __init__(self, seed: int | None = None) -> None:
        #: Probability of dropping each outgoing (caller → bot) datagram.
        self.outgoing_loss = 0.0
        #: Probability of dropping each incoming (bot → caller) datagram.
        self.incoming_loss = 0.0
        self.stats = FaultStats()
        self._random = random.Random(seed)
        self._blackout = 0
        self._hooked: list[Any] = []

    @property
    def loss(self) -> float:
        return max(self.outgoing_loss, self.incoming_loss)

    @loss.setter
    def loss(self, value: float) -> None:
        """The same loss rate in both directions."""
        self.outgoing_loss = self.incoming_loss = value

    @classmethod
    def attach(cls, pc: RTCPeerConnection, seed: int | None = None) -> NetFault:
        """Hook every ICE socket of `pc` (call after it is connected). No loss until set."""
        fault = cls(seed)
        protocols = [p for conn in _ice_connections(pc) for p in conn._protocols]
        if not protocols:
            raise RuntimeError("the peer connection has no ICE sockets yet: connect first")
        for protocol in protocols:
            fault._hook(protocol)
        return fault

    @asynccontextmanager
    async def blackout(self, seconds: float) -> AsyncIterator[None]:
        """Nothing passes either way for `seconds` (then the body runs, loss restored)."""
        self._blackout += 1
        try:
            await asyncio.sleep(seconds)
            yield
        finally:
            self._blackout -= 1

    def _drop(self, rate: float) -> bool:
        return self._blackout > 0 or (rate > 0 and self._random.random() < rate)

    def _hook(self, protocol: Any) -> None:
        transport = protocol.transport
        send = transport.sendto
        receive = protocol.datagram_received
        stats = self.stats

        def sendto(data: bytes, addr: Any = None) -> None:
            stats.sent += 1
            if self._drop(self.outgoing_loss):
                stats.sent_dropped += 1
                return
            send(data, addr)

        def datagram_received(data: bytes, addr: Any) -> None:
            stats.received += 1
            if self._drop(self.incoming_loss):
                stats.received_dropped += 1
                return
            receive(data, addr)

        transport.sendto = sendto
        protocol.datagram_received = datagram_received
        self._hooked.append(protocol)

    def detach(self) -> None:
        """Let everything through again, for good."""
        for protocol in self._hooked:
            vars(protocol.transport).pop("sendto", None)
            vars(protocol).pop("datagram_received", None)
        self._hooked.clear()


def _ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections under `pc`'s transports (audio, data channel), once each."""
    dtls = [t.sender.transport for t in pc.getTransceivers() if t.sender.transport is not None]
    if pc.sctp is not None:
        dtls.append(pc.sctp.transport)
    seen: dict[int, Any] = {}
    for d in dtls:
        connection = d.transport._connection  # RTCDtlsTransport → RTCIceTransport → aioice
        seen[id(connection)] = connection
    return list(seen.values())
