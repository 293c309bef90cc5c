"""UDP listeners on other loopback addresses (127.0.0.2 …) that count the STUN Binding
requests the bot sends them: what a forged ICE candidate makes the bot do."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

BINDING_REQUEST = b"\x00\x01"
MAGIC_COOKIE = b"\x21\x12\xa4\x42"


class _Counting(asyncio.DatagramProtocol):
    def __init__(self, counts: Counter[tuple[str, int]], key: tuple[str, int]) -> None:
        self.counts, self.key = counts, key

    def datagram_received(self, data: bytes, addr) -> None:
        if data[:2] == BINDING_REQUEST and data[4:8] == MAGIC_COOKIE:
            self.counts[self.key] += 1


class StunListeners:
    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []
        self.requests: Counter[tuple[str, int]] = Counter()

    @property
    def reached(self) -> int:
        return sum(1 for a in self.addresses if self.requests[a])

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    async def settle(self, quiet: float = 3.0, timeout: float = 20.0) -> float:
        """Wait until no new request has arrived for `quiet` seconds; the seconds waited."""
        started = last_change = time.monotonic()
        seen = self.total
        while time.monotonic() - last_change < quiet and time.monotonic() - started < timeout:
            await asyncio.sleep(0.2)
            if self.total != seen:
                seen, last_change = self.total, time.monotonic()
        return time.monotonic() - started


@asynccontextmanager
async def stun_listeners(hosts: list[str], per_host: int = 1) -> AsyncIterator[StunListeners]:
    """`per_host` listeners on each of `hosts` (loopback addresses), on free ports."""
    listeners = StunListeners()
    loop = asyncio.get_running_loop()
    transports = []
    try:
        for host in hosts:
            for _ in range(per_host):
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: _Counting(listeners.requests, ("", 0)), local_addr=(host, 0)
                )
                address = transport.get_extra_info("sockname")[:2]
                protocol.key = (address[0], address[1])
                transports.append(transport)
                listeners.addresses.append(protocol.key)
        yield listeners
    finally:
        for transport in transports:
            transport.close()


def host_candidate(address: tuple[str, int], n: int, kind: str = "host") -> str:
    host, port = address
    return f"candidate:{n} 1 udp {2130706431 - n} {host} {port} typ {kind}"
