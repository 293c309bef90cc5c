"""A call ticket is single-use even when its offers arrive together, and offers that are
never connected give back their UDP sockets (IPv4 and IPv6) when their call ends.
Before: 4 simultaneous offers with one ticket made 4 calls; 5 abandoned trickle offers
left 10 UDP sockets open 30 s after their calls ended."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.rooms import Room
from bot.settings import LiveSettings
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record
from tests.signalling.sockets import udp_sockets
from tests.signalling.test_candidates import token_of, trickle_offer

pytestmark = pytest.mark.timeout(120)

NO_GREETING = LiveSettings(api_key="test-key", greeting=None)
UNLIMITED = {"join_burst": 100_000, "join_rate_per_minute": 6000.0}
SIMULTANEOUS = 8
ABANDONED = 5


async def test_one_ticket_starts_one_call_even_with_simultaneous_offers(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING, **UNLIMITED) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        bot.rooms.put(Room(name="lobby", max_callers=SIMULTANEOUS + 2))
        joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
        auth = {"Authorization": f"Bearer {joined['ticket']}"}
        offers = [await trickle_offer() for _ in range(SIMULTANEOUS)]
        responses = await asyncio.gather(
            *(
                http.post("/api/offer", json={"sdp": sdp, "type": "offer"}, headers=auth)
                for _pc, sdp in offers
            )
        )
        codes = sorted(r.status_code for r in responses)
        reasons = sorted(r.json().get("reason", "") for r in responses if r.status_code != 200)
        calls = len(bot.calls.calls)
        assert codes == [200] + [403] * (SIMULTANEOUS - 1), codes
        assert reasons == ["used"] * (SIMULTANEOUS - 1)
        assert calls == 1 and len(bot.connections.pc_ids) == 1
        for pc, _sdp in offers:
            await pc.close()
    record("ticket_race", simultaneous_offers=SIMULTANEOUS, statuses=codes, calls=calls)


async def test_abandoned_trickle_offers_give_back_their_sockets(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, live=NO_GREETING, **UNLIMITED) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        bot.rooms.put(Room(name="lobby", max_callers=ABANDONED + 1))
        before = udp_sockets()
        pcs = []
        for _ in range(ABANDONED):
            joined = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
            pc, sdp = await trickle_offer()
            await pc.close()  # the caller walks away before sending a candidate
            pcs.append(pc)
            r = await http.post(
                "/api/offer",
                json={"sdp": sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {joined['ticket']}"},
            )
            assert r.status_code == 200, r.text
        during = udp_sockets()
        started = time.monotonic()
        async with asyncio.timeout(40):  # the watchdog ends them after 20 s
            while bot.calls.calls:
                await asyncio.sleep(0.2)
        ended_after = time.monotonic() - started
        async with asyncio.timeout(5):
            while udp_sockets() != before:
                await asyncio.sleep(0.1)
        released_after = time.monotonic() - started - ended_after
        after = udp_sockets()
        assert during["udp4"] - before["udp4"] >= ABANDONED, during  # they did hold sockets
        assert after == before and bot.connections.pc_ids == []
    record(
        "abandoned_offer_sockets",
        offers=ABANDONED,
        sockets_before=dict(before),
        sockets_during=dict(during),
        sockets_after=dict(after),
        calls_ended_after_s=round(ended_after, 1),
        sockets_released_after_call_end_s=round(released_after, 2),
    )
