"""The Redis shared state, as two instances see it, on a real redis-server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.shared.redis_state import RedisState
from bot.shared.state import Instance, SharedUnavailable
from testkit.redis_server import redis_server


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
async def two(redis_url: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    a, b = RedisState(redis_url, lease_seconds=0.3), RedisState(redis_url, lease_seconds=0.3)
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


async def test_a_room_of_two_takes_two_callers_across_instances(two) -> None:
    a, b = two
    first = await a.take_place("den", 2, 20, "call-1")
    second = await b.take_place("den", 2, 20, "call-2")
    assert not isinstance(first, str) and not isinstance(second, str)
    assert await a.take_place("den", 2, 20, "call-3") == "full"
    assert not await b.room_free("den", 2)
    second.release()
    for _ in range(100):  # the release is a task of b's loop: let it run
        if await a.room_free("den", 2):
            break
        await _tick()
    assert not isinstance(await a.take_place("den", 2, 20, "call-3"), str)


async def test_max_calls_counts_every_instance(two) -> None:
    a, b = two
    assert not isinstance(await a.take_place("one", 5, 2, "c1"), str)
    assert not isinstance(await b.take_place("two", 5, 2, "c2"), str)
    assert await a.take_place("three", 5, 2, "c3") == "busy"
    assert await a.calls() == 2


async def test_a_dead_instance_s_places_go_when_its_lease_ends(two) -> None:
    a, b = two
    me = Instance("a", "127.0.0.1:1")
    assert not isinstance(await a.take_place("den", 1, 20, "c1"), str)
    await a.heartbeat(me, 0.3)  # alive: renewed
    assert await b.take_place("den", 1, 20, "c2") == "full"
    # a dies: no release, no heartbeat. Its lease (0.3 s) runs out.
    while not await b.room_free("den", 1):
        await _tick()
    assert await b.calls() == 0
    assert not isinstance(await b.take_place("den", 1, 20, "c2"), str)


async def test_a_heartbeat_keeps_a_live_call_s_place(two) -> None:
    a, b = two
    assert not isinstance(await a.take_place("den", 1, 20, "c1"), str)
    end = time.monotonic() + 1.0  # three leases long
    while time.monotonic() < end:
        await a.heartbeat(Instance("a", "x"), 0.3)
        assert await b.take_place("den", 1, 20, "c2") == "full"
        await _tick()


async def test_a_ticket_is_used_once_across_instances(two) -> None:
    a, b = two
    expires = int(time.time()) + 300
    assert await a.claim_ticket("n1", expires)
    assert not await b.claim_ticket("n1", expires)
    await a.release_ticket("n1")  # its offer failed before any call
    assert await b.claim_ticket("n1", expires)


async def test_the_cool_down_set_by_one_is_seen_by_the_other(two) -> None:
    a, b = two
    assert await b.cooldown() is None
    await a.set_cooldown("busy", 60)
    reason, left = await b.cooldown() or ("", 0.0)
    assert reason == "busy" and 59 < left <= 60


async def test_a_rate_limit_is_shared(two) -> None:
    a, b = two
    assert await a.rate_take("203.0.113.7", 1, 2) == 0
    assert await b.rate_take("203.0.113.7", 1, 2) == 0
    wait = await a.rate_take("203.0.113.7", 1, 2)
    assert 50 < wait <= 60  # one per minute: the next token in about a minute
    assert await b.rate_take("198.51.100.1", 1, 2) == 0  # another address: its own bucket


async def test_the_registry_lists_live_instances_and_drops_a_dead_one(two) -> None:
    a, b = two
    await a.heartbeat(Instance("a", "10.0.0.1:7860", calls=1), 0.3)
    await b.heartbeat(Instance("b", "10.0.0.2:7860", draining=True), 60)
    listed = await b.instances()
    assert [(i.id, i.address, i.calls, i.draining) for i in listed] == [
        ("a", "10.0.0.1:7860", 1, False),
        ("b", "10.0.0.2:7860", 0, True),
    ]
    while len(await b.instances()) == 2:  # a stops beating
        await _tick()
    assert [i.id for i in await b.instances()] == ["b"]


async def test_a_call_s_holder_is_known_while_its_places_are_held(redis_url: str) -> None:
    a = RedisState(redis_url, lease_seconds=0.3, instance_id="a")
    b = RedisState(redis_url, lease_seconds=0.3, instance_id="b")
    me = Instance("a", "10.0.0.1:7860")
    await a.heartbeat(me, 0.3)
    place = await a.take_place("den", 2, 20, "n1")
    assert not isinstance(place, str)
    assert await b.holder("n1") == me  # b routes n1's signalling to a's address
    place.release()
    while await b.holder("n1") is not None:  # the call ended: nobody holds it
        await _tick()
    assert not isinstance(await a.take_place("den", 2, 20, "n2"), str)
    await a.heartbeat(me, 0.3)
    assert await b.holder("n2") == me
    # a dies: no heartbeat; the holder goes with its lease, as its places do
    while await b.holder("n2") is not None:
        await _tick()
    assert await b.room_free("den", 1)
    # a beat that comes late (a stalled loop) routes a live call again
    assert not isinstance(await a.take_place("den", 2, 20, "n3"), str)
    await b.redis.delete("livebot:holder:n3")
    await a.heartbeat(me, 0.3)
    assert await b.holder("n3") == me
    await a.close()
    await b.close()


async def test_redis_gone_is_a_clear_error(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        state = RedisState(url)
        await state.start()
    # the server has stopped
    with pytest.raises(SharedUnavailable, match="unavailable"):
        await state.take_place("den", 2, 20, "c1")
    with pytest.raises(SharedUnavailable, match=r"REDIS_URL=.*cannot reach Redis"):
        await state.start()
    await state.close()


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_a_call_parked_by_one_instance_is_taken_back_once_by_another(two) -> None:
    from bot.rejoin import ParkedCall, ParkedCalls, new_secret, secret_key

    a, b = two
    here, there = ParkedCalls(a, 120), ParkedCalls(b, 120)
    secret = new_secret()
    call = ParkedCall("den", "handle-1", [("user", "hello")], [{"type": "tool", "name": "x"}])
    await here.park(secret_key(secret), call)
    assert await there.take(secret, "den", "nonce-1", 300)
    assert not await here.take(secret, "den", "nonce-2", 300)  # single use, everywhere
    assert await here.for_ticket("nonce-1") == call
