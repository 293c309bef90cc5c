"""Many instances behind one name, as callers and an operator meet them: real bot
processes, one redis-server, caddy balancing round-robin in front (tests/shared/many.py),
real aiortc callers.

A room's cap and MAX_CALLS hold across instances; a ticket from one instance works on
another, and a call's later signalling (ICE restarts, trickled candidates) reaches the
instance that holds it whichever instance caddy picks; a draining instance gets no new
callers while its calls go on; a killed instance ends only its own calls, and their
places come back when their lease runs out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from caller import Caller, CallerError
from tests.shared.many import Many, frames_grow, many_instances
from tests.signalling.test_candidates import patch_body
from tests.stack.stack import wait_until

# One event loop for the module: the first two tests share one stack of three instances.
pytestmark = [pytest.mark.timeout(240), pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def three(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Many]:
    """Three instances, MAX_CALLS=3 across them; each test leaves no call behind."""
    async with many_instances(tmp_path_factory.mktemp("three"), 3, MAX_CALLS="3") as many:
        yield many


async def no_calls_left(many: Many) -> None:
    async def none() -> bool:
        return sum([await many.calls(n) for n in range(len(many.ports))]) == 0

    await wait_until(none, "the calls to end", 20, many.bots)


async def connect_via(caller: Caller, many, *, join: int, offer: int) -> None:
    """Join on instance `join`, offer on instance `offer` (as a balancer may pick)."""
    caller.base_url = many.bot_url(join)
    caller.joined = await caller.join()
    caller.base_url = many.bot_url(offer)
    await caller.connect(timeout=20)
    caller.base_url = many.url  # from now on: through caddy, like every later request


def trickle(caller: Caller, n: int) -> dict:
    """A PATCH body of one host candidate of the caller's current connection."""
    assert caller.pc is not None and caller.pc_id is not None
    ufrag = caller.pc.localDescription.sdp.split("a=ice-ufrag:")[1].split()[0]
    line = f"candidate:{n} 1 udp {2130706431 - n} 127.0.0.1 {41000 + n} typ host ufrag {ufrag}"
    return patch_body(caller.pc_id, [line])


async def test_a_room_s_cap_and_max_calls_hold_across_instances_behind_caddy(three):
    many = three
    async with Caller(many.link("den")) as one, Caller(many.link("den")) as two:
        await one.connect(timeout=20)
        await two.connect(timeout=20)
        with pytest.raises(CallerError) as full:
            async with Caller(many.link("den")) as third:
                await third.connect(timeout=20)
        async with Caller(many.link("lobby")) as lobby:
            await lobby.connect(timeout=20)  # the third call: MAX_CALLS=3
            with pytest.raises(CallerError) as busy:
                async with Caller(many.link("lobby")) as fourth:
                    await fourth.connect(timeout=20)
            held = [await many.calls(n) for n in range(3)]
            await frames_grow(one, 25)  # every call admitted is heard
            await frames_grow(lobby, 25)
    await no_calls_left(many)
    print(f"calls per instance {held}; den's third caller: {full.value}; 4th call: {busy.value}")
    assert full.value.status == 409 and "is full (2 callers)" in str(full.value)
    assert busy.value.status == 503 and "busy with other calls" in str(busy.value)
    assert sum(held) == 3


async def test_a_call_s_signalling_reaches_its_instance_whichever_instance_caddy_picks(three):
    many = three
    async with Caller(many.link("lobby")) as caller:
        await connect_via(caller, many, join=0, offer=1)  # bot0's ticket, bot1's call
        # Three ICE restarts through caddy (round-robin over three: most land elsewhere).
        for _ in range(3):
            await caller.renegotiate(restart=True, timeout=20)
            await frames_grow(caller, 10)
        patches = [
            await many.http.patch(
                many.url + "/api/offer",
                json=trickle(caller, n),
                headers={"Authorization": f"Bearer {caller.joined['ticket']}"},
            )
            for n in range(3)
        ]
        held = [await many.calls(n) for n in range(3)]
    await no_calls_left(many)
    routed = [p.headers.get("x-livebot-routed-via") for p in patches]
    print(f"trickled through caddy: {[p.status_code for p in patches]}, routed via {routed}")
    assert [p.status_code for p in patches] == [204, 204, 204]
    assert any(routed) and "bot1" not in routed  # passed on by the others, never by bot1
    assert held == [0, 1, 0]  # one call, on the instance that answered its first offer


async def test_a_draining_instance_gets_no_new_callers_and_its_call_goes_on(tmp_path):
    async with many_instances(tmp_path, 2) as many:
        async with Caller(many.link("lobby")) as staying:
            await connect_via(staying, many, join=0, offer=0)
            many.term(0)  # SIGTERM: bot0 drains

            async def draining() -> bool:
                return await many.readiness(0) == "draining"

            await wait_until(draining, "bot0 draining", 10, many.bots)
            await wait_until(many.caddy_skips_unready, "caddy skipping bot0", 30, many.bots)
            async with Caller(many.link("lobby")) as new1, Caller(many.link("lobby")) as new2:
                await new1.connect(timeout=20)
                await new2.connect(timeout=20)
                placed = [await many.calls(0), await many.calls(1)]
                # bot0's call goes on: heard, and its ICE restart (caddy sends it to bot1,
                # which passes it on to bot0) is answered.
                await frames_grow(staying, 25)
                await staying.renegotiate(restart=True, timeout=20)
                await frames_grow(staying, 25)
                await staying.close()  # its last call ends: bot0 exits before its grace
                exit_code = await wait_until(
                    lambda: many.bots[0].proc.poll() is not None and [many.bots[0].proc.poll()],
                    "bot0 to exit",
                    25,
                )
                await frames_grow(new1, 25)  # the others' calls are untouched
                await frames_grow(new2, 25)
    print(f"while bot0 drained: calls per instance {placed}; bot0 exited {exit_code}")
    assert placed == [1, 2]  # the new callers went to bot1
    assert exit_code == [0]


async def test_a_killed_instance_ends_only_its_calls_and_its_places_come_back(tmp_path):
    async with many_instances(tmp_path, 2) as many:
        async with Caller(many.link("den")) as lost, Caller(many.link("den")) as kept:
            await connect_via(lost, many, join=1, offer=0)
            await connect_via(kept, many, join=0, offer=1)
            with pytest.raises(CallerError) as full:
                async with Caller(many.link("den")) as third:
                    await third.connect(timeout=20)
            many.kill(0)  # SIGKILL: no drain, no release; bot1 keeps beating
            await frames_grow(kept, 5)
            heard_lost = len(lost.received_frames)
            await frames_grow(kept, 100)  # two seconds of the surviving call
            lost_after = len(lost.received_frames) - heard_lost
            # The lost call's signalling through bot1: a clear "ended", not a hang.
            auth = {"Authorization": f"Bearer {lost.joined['ticket']}"}
            ended = await many.http.patch(
                many.bot_url(1) + "/api/offer", json=trickle(lost, 1), headers=auth
            )

            refused: list[int] = []

            async def someone_gets_in() -> bool:
                try:
                    async with Caller(many.link("den")) as newcomer:
                        await newcomer.connect(timeout=20)
                        await frames_grow(newcomer, 10)
                        return True
                except CallerError as e:
                    # 409: still full until bot0's lease ends. 502: caddy sent the request
                    # to bot0 before its health check (5 s) saw it gone (Debian's caddy
                    # 2.6 does not retry a request with a body on another instance).
                    assert e.status in (409, 502), e
                    refused.append(e.status)
                    return False

            await wait_until(someone_gets_in, "bot0's place to come back", 30, [many.bots[1]])
            await frames_grow(kept, 25)  # bot1's call went on all along
    print(f"after SIGKILL: lost call heard {lost_after} more frames; its PATCH {ended.text}")
    print(f"new callers refused before one got in: {refused}")
    assert full.value.status == 409
    assert lost_after <= 5  # bot0's caller hears nothing any more, bot1's does
    assert (ended.status_code, ended.json()["reason"]) == (410, "ended")
