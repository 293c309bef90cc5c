"""Forged ICE candidates, as an attacker sends them: one ticket, one trickle offer, then
PATCHes of candidates toward UDP listeners on other loopback addresses (127.0.0.2 …),
which count the STUN Binding requests the bot sends them. Before this was fixed, one offer
and 6 PATCHes reached 328 of 328 listeners; now a call's candidates are capped in all
(MAX_CANDIDATES_PER_CALL, offer and PATCHes together), PATCHes are rate-limited per call,
names and bad ports are refused with a reason, and with relay-only ICE nothing but the
relay's own address is ever checked."""

from __future__ import annotations

import httpx
import pytest
from aiortc import RTCPeerConnection

from bot.rooms import Room
from bot.settings import LiveSettings
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record
from tests.signalling.stun import host_candidate, stun_listeners

pytestmark = pytest.mark.timeout(120)

NO_GREETING = LiveSettings(api_key="test-key", greeting=None)
LISTENER_HOSTS = [f"127.0.0.{n}" for n in range(2, 166)]  # 164 addresses x 2 ports = 328


def token_of(link: str) -> str:
    return link.split("t=", 1)[1]


async def trickle_offer() -> tuple[RTCPeerConnection, str]:
    """A real aiortc offer sent before any candidate (as a page with trickle ICE does)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("rtvi")
    await pc.setLocalDescription(await pc.createOffer())
    lines = pc.localDescription.sdp.split("\r\n")
    sdp = "\r\n".join(x for x in lines if not x.startswith(("a=candidate", "a=end-of-candidates")))
    return pc, sdp


async def start_call(http: httpx.AsyncClient, bot) -> tuple[RTCPeerConnection, dict, str]:
    joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
    auth = {"Authorization": f"Bearer {joined['ticket']}"}
    pc, sdp = await trickle_offer()
    r = await http.post("/api/offer", json={"sdp": sdp, "type": "offer"}, headers=auth)
    assert r.status_code == 200, r.text
    return pc, auth, r.json()["pc_id"]


def patch_body(pc_id: str, candidates: list[str]) -> dict:
    return {
        "pc_id": pc_id,
        "candidates": [{"candidate": c, "sdp_mid": "0", "sdp_mline_index": 0} for c in candidates],
    }


async def test_forged_candidates_reach_at_most_the_per_call_cap(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
        stun_listeners(LISTENER_HOSTS, per_host=2) as listeners,
    ):
        cap = bot.settings.max_candidates_per_call
        pc, auth, pc_id = await start_call(http, bot)
        forged = [host_candidate(a, n) for n, a in enumerate(listeners.addresses)]
        statuses, reasons, accepted = [], [], 0
        for start in range(0, len(forged), 64):
            batch = forged[start : start + 64]
            r = await http.patch("/api/offer", json=patch_body(pc_id, batch), headers=auth)
            statuses.append(r.status_code)
            if r.status_code == 204:
                accepted += len(batch)
            else:
                reasons.append(r.json()["reason"])
        waited = await listeners.settle()
        reached, requests = listeners.reached, listeners.total
        assert len(listeners.addresses) == 328
        assert statuses[0] == 204 and 400 in statuses, statuses
        assert set(reasons) == {"too_many_candidates"}, reasons
        assert accepted <= cap and 0 < reached <= accepted, (accepted, reached)
        # The cap is per call: a fresh PATCH of one more candidate is refused too.
        rest = [host_candidate(("127.0.0.1", 9), n) for n in range(cap - accepted + 1)]
        r = await http.patch("/api/offer", json=patch_body(pc_id, rest[:64]), headers=auth)
        assert (r.status_code, r.json()["reason"]) == (400, "too_many_candidates"), r.text
        # An offer cannot carry more than the cap either.
        pc2, sdp = await trickle_offer()
        lines = "".join(f"a={host_candidate(a, n)}\r\n" for n, a in enumerate(listeners.addresses))
        sdp = sdp.replace("a=ice-ufrag", lines + "a=ice-ufrag", 1)
        joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
        r = await http.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer"},
            headers={"Authorization": f"Bearer {joined['ticket']}"},
        )
        assert (r.status_code, r.json()["reason"]) == (400, "too_many_candidates"), r.text
        for p in (pc, pc2):
            await p.close()
    record(
        "forged_candidates_cap",
        listeners=len(listeners.addresses),
        forged_candidates=len(forged),
        patch_statuses=statuses,
        candidates_accepted=accepted,
        listeners_reached=reached,
        binding_requests=requests,
        cap=cap,
        waited_s=round(waited, 1),
    )


async def test_candidate_patches_are_rate_limited_per_call(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        pc, auth, pc_id = await start_call(http, bot)
        codes = [
            (await http.patch("/api/offer", json=patch_body(pc_id, []), headers=auth)).status_code
            for _ in range(40)
        ]
        r = await http.patch("/api/offer", json=patch_body(pc_id, []), headers=auth)
        assert (r.status_code, r.json()["reason"]) == (429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert codes[:20] == [204] * 20 and 429 in codes, codes
        # Another call has its own allowance.
        pc2, auth2, pc_id2 = await start_call(http, bot)
        r = await http.patch("/api/offer", json=patch_body(pc_id2, []), headers=auth2)
        assert r.status_code == 204
        for p in (pc, pc2):
            await p.close()
    record("candidate_patch_rate", accepted=codes.count(204), refused_429=codes.count(429))


BAD_CANDIDATES = [
    ("candidate:1 1 udp 2130706431 127.0.0.2 0 typ host", "bad_port"),
    ("candidate:1 1 udp 2130706431 127.0.0.2 99999 typ host", "bad_port"),
    ("candidate:1 1 udp 2130706431 127.0.0.2 -1 typ host", "bad_port"),
    (
        "candidate:1 1 udp 2130706431 4f0e2c1a-9d0b-4a43-b6a1-3b7f1c0d2e55.local 5000 typ host",
        "mdns_candidate",
    ),
    ("candidate:1 1 udp 2130706431 printer.local. 5000 typ host", "mdns_candidate"),
    ("candidate:1 1 udp 2130706431 localhost 5000 typ host", "hostname_candidate"),
    ("candidate:1 1 udp 2130706431 example.invalid 5000 typ host", "hostname_candidate"),
    ("candidate:1 1 udp 2130706431 224.0.0.251 5353 typ host", "bad_address"),
    ("candidate:1 1 udp 2130706431 0.0.0.0 5000 typ host", "bad_address"),
    ("candidate:1 1 udp 2130706431 127.0.0.2 5000 typ bogus", "bad_candidate"),
    ("candidate:1 1 sctp 2130706431 127.0.0.2 5000 typ host", "bad_candidate"),
    ("garbage", "bad_candidate"),
]


async def test_names_and_bad_ports_are_refused_with_a_reason_and_never_resolved(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        pc, auth, pc_id = await start_call(http, bot)
        connection = bot.connections.connection(pc_id)
        seen = {}
        for text, reason in BAD_CANDIDATES:
            r = await http.patch("/api/offer", json=patch_body(pc_id, [text]), headers=auth)
            assert r.status_code == 400, (text, r.status_code)
            body = r.json()
            assert body["reason"] == reason and body["detail"].startswith("bad ICE candidate"), (
                text,
                body,
            )
            seen[text] = reason
        # None of them reached aiortc's ICE agent (nothing to resolve, nothing to check).
        agent = connection.pc.getTransceivers()[0].receiver.transport.transport._connection
        assert agent.remote_candidates == []
        # The same lines in an offer are refused the same way.
        joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
        pc2, sdp = await trickle_offer()
        sdp = sdp.replace("a=ice-ufrag", f"a={BAD_CANDIDATES[3][0]}\r\na=ice-ufrag", 1)
        r = await http.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer"},
            headers={"Authorization": f"Bearer {joined['ticket']}"},
        )
        assert (r.status_code, r.json()["reason"]) == (400, "mdns_candidate"), r.text
        for p in (pc, pc2):
            await p.close()
    record("bad_candidates", refused=seen)


async def test_with_relay_only_ice_the_bot_checks_only_the_relay(tmp_path):
    relay = {
        "ice_transport_policy": "relay",
        "turn_urls": ("turn:127.0.0.1:3478?transport=udp",),
        "turn_secret": "s" * 32,
    }
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING, **relay) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
        stun_listeners(LISTENER_HOSTS[:50]) as listeners,
        stun_listeners(["127.0.0.1"]) as relay_side,
    ):
        bot.rooms.put(Room(name="lobby", max_callers=10))
        pc, auth, pc_id = await start_call(http, bot)
        refused = {}
        for kind in ("host", "srflx", "relay"):
            forged = [host_candidate(a, n, kind) for n, a in enumerate(listeners.addresses)]
            r = await http.patch("/api/offer", json=patch_body(pc_id, forged), headers=auth)
            assert r.status_code == 400, (kind, r.text)
            refused[kind] = r.json()["reason"]
        assert refused == {"host": "not_relay", "srflx": "not_relay", "relay": "not_the_relay"}
        # The relay's own address is taken: checks go there, and only there.
        r = await http.patch(
            "/api/offer",
            json=patch_body(pc_id, [host_candidate(relay_side.addresses[0], 1, "relay")]),
            headers=auth,
        )
        assert r.status_code == 204, r.text
        await relay_side.settle()
        await listeners.settle(quiet=1.0)
        assert listeners.reached == 0 and relay_side.reached == 1
        # An offer with a host candidate in it is refused the same way.
        joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
        pc2, sdp = await trickle_offer()
        line = host_candidate(listeners.addresses[0], 1)
        sdp = sdp.replace("a=ice-ufrag", f"a={line}\r\na=ice-ufrag", 1)
        r = await http.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer"},
            headers={"Authorization": f"Bearer {joined['ticket']}"},
        )
        assert (r.status_code, r.json()["reason"]) == (400, "not_relay"), r.text
        for p in (pc, pc2):
            await p.close()
    record(
        "relay_only_candidates",
        refused=refused,
        other_listeners=len(listeners.addresses),
        other_listeners_reached=listeners.reached,
        relay_requests=relay_side.total,
    )
