"""Which remote ICE candidates the bot agrees to send connectivity checks to.

Why: every remote candidate a caller signals (in the offer's `a=candidate` lines or in a
`PATCH /api/offer`) makes aioice send STUN Binding requests to it, from the bot's host.
aiortc takes any candidate: a port of 0 or 99999, an mDNS `.local` name (aioice then
queries the server's own LAN by multicast), a relay candidate with any address. Only a
caller's real addresses deserve checks, so the server checks each candidate line itself
before aiortc sees it, and never resolves a name:

- the address must be an IP literal (no `.local`, no host name), unicast and specified;
- the port must be 1..65535, the transport UDP or TCP, the type one ICE knows;
- with relay-only ICE (`ICE_TRANSPORT_POLICY=relay`) the candidate must be a relay
  candidate on one of the relay's own addresses (`TURN_RELAY_ADDRESSES`, by default the
  addresses of the TURN_URLS hosts): the bot then sends checks only toward coturn.

aioice's own relay policy (`RTCConfiguration.iceTransportPolicy`) is not the fix: it
restricts the bot's *local* candidates (the bot would need its own TURN allocation, and
coturn would then send the checks on to any address), not where checks are sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from loguru import logger

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
RESOLVE_SECONDS = 5.0  # resolving our own TURN_URLS hosts, at start
RESOLVED_FOR_SECONDS = 300.0


class CandidateRefused(ValueError):
    """A candidate the bot will not check; `reason` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RemoteCandidate:
    address: IpAddress
    port: int
    transport: str
    type: str


def parse_candidate(line: str) -> RemoteCandidate:
    """One candidate, as a page sends it (`candidate:…`) or an SDP has it (`a=candidate:…`)."""
    text = line.strip()
    text = text.removeprefix("a=").removeprefix("candidate:")
    bits = text.split()
    if len(bits) < 8 or bits[6] != "typ":
        raise CandidateRefused(
            "bad_candidate",
            "not an ICE candidate ('foundation component transport "
            "priority address port typ type …')",
        )
    _foundation, component, transport, priority, host, port, _typ, kind = bits[:8]
    if not (component.isdigit() and 1 <= int(component) <= 256):
        raise CandidateRefused("bad_candidate", f"component {component!r} is not 1..256")
    if transport.lower() not in ("udp", "tcp"):
        raise CandidateRefused("bad_candidate", f"transport {transport!r} is not udp or tcp")
    if not (priority.isdigit() and int(priority) < 2**32):
        raise CandidateRefused("bad_candidate", f"priority {priority!r} is not 0..2^32-1")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise CandidateRefused("bad_port", f"port {port!r} is not 1..65535")
    if kind not in CANDIDATE_TYPES:
        raise CandidateRefused("bad_candidate", f"type {kind!r} is not one of {CANDIDATE_TYPES}")
    if host.lower().rstrip(".").endswith(".local"):
        raise CandidateRefused(
            "mdns_candidate", f"{host!r} is an mDNS name: the bot does not resolve names"
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise CandidateRefused(
            "hostname_candidate", f"{host!r} is not an IP address: the bot does not resolve names"
        ) from None
    if (
        address.is_unspecified
        or address.is_multicast
        or address == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise CandidateRefused("bad_address", f"{host} is not a unicast address")
    return RemoteCandidate(address, int(port), transport.lower(), kind)


@dataclass(frozen=True)
class CandidatePolicy:
    """The rule for one offer or PATCH: `relay_addresses` is used with `relay_only`."""

    relay_only: bool = False
    relay_addresses: frozenset[IpAddress] = frozenset()

    def check(self, line: str) -> RemoteCandidate:
        candidate = parse_candidate(line)
        if self.relay_only:
            if candidate.type != "relay":
                raise CandidateRefused(
                    "not_relay",
                    f"a {candidate.type} candidate: this bot takes relay candidates only "
                    "(ICE_TRANSPORT_POLICY=relay)",
                )
            if candidate.address not in self.relay_addresses:
                raise CandidateRefused(
                    "not_the_relay", f"{candidate.address} is not an address of this bot's relay"
                )
        return candidate


def sdp_candidates(sdp: str) -> list[str]:
    """The `a=candidate:` lines of an SDP."""
    return [ln.strip() for ln in sdp.splitlines() if ln.strip().startswith("a=candidate:")]


def candidate_ufrag(line: str) -> str | None:
    """The `ufrag` a browser appends to a trickled candidate: which offer it belongs to."""
    bits = line.split()
    for key, value in zip(bits[8::2], bits[9::2], strict=False):
        if key == "ufrag":
            return value
    return None


def sdp_ufrag(sdp: str) -> str | None:
    """The first `a=ice-ufrag` of an SDP (with BUNDLE, the one every stream uses)."""
    for ln in sdp.splitlines():
        if ln.startswith("a=ice-ufrag:"):
            return ln.split(":", 1)[1].strip()
    return None


def turn_hosts(turn_urls: Iterable[str]) -> list[str]:
    """The host part of each `turn:host:port?transport=…` URL (RFC 7065)."""
    hosts = []
    for url in turn_urls:
        rest = url.split(":", 1)[1] if ":" in url else url
        rest = rest.split("?", 1)[0]
        host = urllib.parse.urlsplit(f"//{rest}").hostname
        if host:
            hosts.append(host)
    return hosts


class RelayAddresses:
    """The relay's addresses: the configured ones, else those of the TURN_URLS hosts
    (our own configuration, resolved here, never a caller's), refreshed every 5 minutes."""

    def __init__(self, configured: Iterable[str], turn_urls: Iterable[str]) -> None:
        self._configured = frozenset(ipaddress.ip_address(a) for a in configured)
        self._hosts = turn_hosts(turn_urls)
        self._resolved: frozenset[IpAddress] = frozenset()
        self._at = -RESOLVED_FOR_SECONDS

    async def get(self) -> frozenset[IpAddress]:
        if self._configured:
            return self._configured
        if time.monotonic() - self._at < RESOLVED_FOR_SECONDS and self._resolved:
            return self._resolved
        found: set[IpAddress] = set()
        loop = asyncio.get_running_loop()
        for host in self._hosts:
            try:
                found.add(ipaddress.ip_address(host))
                continue
            except ValueError:
                pass
            try:
                async with asyncio.timeout(RESOLVE_SECONDS):
                    infos = await loop.getaddrinfo(host, None)
            except (OSError, TimeoutError) as e:
                logger.error(f"relay address: cannot resolve TURN host {host!r}: {e}")
                continue
            found.update(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
        if found != self._resolved:
            logger.info(f"relay addresses: {', '.join(sorted(map(str, found))) or 'none'}")
        self._resolved, self._at = frozenset(found), time.monotonic()
        return self._resolved
