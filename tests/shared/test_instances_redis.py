"""Two bot instances, each its own data directory (two hosts), sharing one redis-server:
what one instance counts, the other sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.events import SessionLost
from bot.rooms import Room
from bot.shared.redis_state import RedisState
from caller import Caller, CallerError
from gemini_emulator import running_emulator
from testkit.bot import RunningBot, running_bot
from testkit.redis_server import redis_server
from tests.rooms.test_instances import an_offer

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def two_hosts(tmp_path: Path, url: str, **changes) -> AsyncIterator[tuple[RunningBot, ...]]:
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path / "a", redis_url=url, instance_id="a", **changes) as one,
        running_bot(emu, tmp_path / "b", redis_url=url, instance_id="b", **changes) as two,
    ):
        yield one, two


def same_room(bots: tuple[RunningBot, ...], room: Room) -> None:
    """One room on every host (same generation: a link works on each)."""
    for bot in bots:
        bot.rooms.put(room)


async def test_a_room_of_two_admits_two_callers_across_instances(tmp_path):
    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url) as (one, two):
            same_room((one, two), Room(name="den", max_callers=2, generation="g1"))
            async with Caller(one.link("den")) as first, Caller(two.link("den")) as second:
                await first.connect(timeout=15)
                await second.connect(timeout=15)
                with pytest.raises(CallerError) as err:
                    async with Caller(one.link("den")) as third:
                        await third.connect(timeout=15)
                counted = len(one.calls.calls), len(two.calls.calls)
    print(f"cap 2 over two instances: calls {counted}, third caller {err.value}")
    assert counted == (1, 1)
    assert err.value.status == 409 and "is full (2 callers)" in str(err.value)


async def test_a_ticket_used_on_one_instance_is_refused_on_the_other(tmp_path):
    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url) as (one, two), httpx.AsyncClient() as http:
            token = one.link("lobby").split("t=", 1)[1]
            two.rooms.put(one.rooms.get("lobby"))  # type: ignore[arg-type]
            ticket = (await http.post(f"{one.url}/api/join", json={"token": token})).json()
            auth = {"Authorization": f"Bearer {ticket['ticket']}"}
            pc1, sdp1 = await an_offer()
            pc2, sdp2 = await an_offer()
            first = await http.post(
                f"{one.url}/api/offer", json={"sdp": sdp1, "type": "offer"}, headers=auth
            )
            replay = await http.post(
                f"{two.url}/api/offer", json={"sdp": sdp2, "type": "offer"}, headers=auth
            )
            await pc1.close()
            await pc2.close()
            calls = len(one.calls.calls) + len(two.calls.calls)
    print(f"one ticket: {first.status_code} on one, {replay.status_code} on the other")
    assert first.status_code == 200
    assert (replay.status_code, replay.json()["reason"]) == (403, "used")
    assert calls == 1


async def test_max_calls_counts_across_instances(tmp_path):
    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url, max_calls=1) as (one, two):
            same_room((one, two), Room(name="den", max_callers=5, generation="g1"))
            async with Caller(one.link("den")) as first:
                await first.connect(timeout=15)
                with pytest.raises(CallerError) as err:
                    async with Caller(two.link("den")) as second:
                        await second.connect(timeout=15)
    print(f"MAX_CALLS=1 over two instances: the second caller {err.value}")
    assert err.value.status == 503 and "busy with other calls" in str(err.value)


async def test_the_cool_down_one_instance_sets_is_seen_by_the_other(tmp_path):
    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url) as (one, two):
            same_room((one, two), Room(name="den", generation="g1"))
            await one.app.state.gate.admission.on_call_event(SessionLost(reason="busy"))
            with pytest.raises(CallerError) as err:
                async with Caller(two.link("den")) as caller:
                    await caller.connect(timeout=15)
    print(f"after Gemini refused a session on one, a caller of the other: {err.value}")
    assert err.value.status == 503 and "voice service is at capacity" in str(err.value)


async def test_the_registry_lists_both_instances(tmp_path):
    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url) as _bots:
            state = RedisState(url)
            async with asyncio.timeout(10):
                while len(await state.instances()) < 2:
                    await asyncio.sleep(0.05)
            listed = [(i.id, i.calls, i.draining) for i in await state.instances()]
            await state.close()
    assert listed == [("a", 0, False), ("b", 0, False)]


async def test_redis_gone_mid_run_refuses_new_joins_and_the_call_goes_on(tmp_path):
    with ExitStack() as redis:  # a server of its own, stopped while a call is in progress
        url = redis.enter_context(redis_server(tmp_path))
        async with (
            running_emulator(tmp_path) as emu,
            running_bot(emu, tmp_path / "a", redis_url=url) as bot,
            Caller(bot.link("lobby")) as caller,
        ):
            await caller.connect(timeout=15)
            redis.close()
            with pytest.raises(CallerError) as err:
                async with Caller(bot.link("lobby")) as late:
                    await late.connect(timeout=15)
            still = len(bot.calls.calls)
    print(f"Redis stopped mid-call: a new caller {err.value}; calls still running: {still}")
    assert err.value.status == 503 and "cannot take new calls right now" in str(err.value)
    assert still == 1


async def test_a_call_s_signalling_is_routed_to_the_instance_that_holds_it(tmp_path):
    """The ticket from one instance, the offer on the other (it holds the call); the
    trickled candidates and a renegotiation sent to the first are answered by the holder."""
    from tests.signalling.test_candidates import patch_body, trickle_offer

    with redis_server(tmp_path) as url:
        async with two_hosts(tmp_path, url) as (one, two), httpx.AsyncClient() as http:
            same_room((one, two), Room(name="den", generation="g1"))
            token = one.link("den").split("t=", 1)[1]
            ticket = (await http.post(f"{one.url}/api/join", json={"token": token})).json()
            auth = {"Authorization": f"Bearer {ticket['ticket']}"}
            pc, sdp = await trickle_offer()
            answer = await http.post(
                f"{two.url}/api/offer", json={"sdp": sdp, "type": "offer"}, headers=auth
            )
            pc_id = answer.json()["pc_id"]
            mine = f"candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host ufrag {sdp_ufrag(sdp)}"
            patched = await http.patch(
                f"{one.url}/api/offer", json=patch_body(pc_id, [mine]), headers=auth
            )
            forged = await http.patch(  # a client's own "routed" mark is not believed
                f"{one.url}/api/offer",
                json=patch_body(pc_id, [mine]),
                headers={**auth, "X-Livebot-Routed": "0" * 64},
            )
            _pc2, sdp2 = await trickle_offer()
            again = await http.post(
                f"{one.url}/api/offer",
                json={"sdp": sdp2, "type": "offer", "pc_id": pc_id, "restart_pc": True},
                headers=auth,
            )
            held = (len(one.calls.calls), len(two.calls.calls))
            connection = two.connections.connection(again.json()["pc_id"])
            metrics = (await http.get(f"{one.url}/metrics")).text  # what an operator counts
            await pc.close()
            await _pc2.close()
    print(f"routed: PATCH {patched.status_code}, restart {again.status_code}, calls {held}")
    assert answer.status_code == 200
    assert patched.status_code == 204 and patched.headers["x-livebot-routed-via"] == "a"
    assert forged.status_code == 204  # still routed: the holder took it
    assert again.status_code == 200 and again.headers["x-livebot-routed-via"] == "a"
    assert held == (0, 1) and connection is not None  # the restart's connection is on two
    assert 'livebot_signalling_routed_total{status="204"} 2.0' in metrics
    assert 'livebot_signalling_routed_total{status="200"} 1.0' in metrics


def sdp_ufrag(sdp: str) -> str:
    return sdp.split("a=ice-ufrag:")[1].split()[0]
