"""Finding 7: two bot instances on one data directory accept a single-use ticket once
between them (the instances share only the files, as two processes do)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiortc import RTCPeerConnection

from gemini_emulator import running_emulator
from testkit.bot import running_bot

pytestmark = pytest.mark.timeout(90)


async def an_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("rtvi")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


@pytest.mark.parametrize("round_", range(3))
async def test_one_ticket_makes_one_call_across_two_instances(tmp_path, round_: int):
    data = tmp_path / "data"
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, data) as one,
        running_bot(emu, data) as two,
    ):
        async with httpx.AsyncClient() as http:
            token = one.link("lobby").split("t=", 1)[1]
            joined = (await http.post(f"{one.url}/api/join", json={"token": token})).json()
            auth = {"Authorization": f"Bearer {joined['ticket']}"}
            pcs = [await an_offer() for _ in range(2)]
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"{bot.url}/api/offer", json={"sdp": sdp, "type": "offer"}, headers=auth
                    )
                    for bot, (_, sdp) in zip((one, two), pcs, strict=True)
                )
            )
            outcomes = sorted((r.status_code, r.json().get("reason", "ok")) for r in answers)
            calls = len(one.calls.calls) + len(two.calls.calls)
            for pc, _ in pcs:
                await pc.close()
    print(
        f"round {round_}: one ticket offered to two instances at once: {outcomes}, {calls} call(s)"
    )
    assert outcomes == [(200, "ok"), (403, "used")]
    assert calls == 1
    used = json.loads((data / "tickets-used.json").read_text())
    assert len(used) == 1


async def test_a_failed_offer_gives_the_ticket_back(tmp_path, monkeypatch):
    from bot.http.connections import CallConnections

    real = CallConnections.handle_web_request
    failures = [RuntimeError("ICE gathering failed")]  # bad luck once, then as usual

    async def flaky(self, request, on_connection):
        if failures:
            raise failures.pop()
        return await real(self, request, on_connection)

    monkeypatch.setattr(CallConnections, "handle_web_request", flaky)
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path / "d") as bot:
        async with httpx.AsyncClient(base_url=bot.url) as http:
            token = bot.link("lobby").split("t=", 1)[1]
            ticket = (await http.post("/api/join", json={"token": token})).json()["ticket"]
            auth = {"Authorization": f"Bearer {ticket}"}
            pc, sdp = await an_offer()
            offer = {"sdp": sdp, "type": "offer"}
            failed = await http.post("/api/offer", json=offer, headers=auth)
            retried = await http.post("/api/offer", json=offer, headers=auth)
            again = await http.post("/api/offer", json=offer, headers=auth)
            await pc.close()
    print(
        f"failed offer {failed.status_code}, the same ticket again: {retried.status_code}, "
        f"and once more: {again.status_code}"
    )
    assert failed.status_code == 400 and "ICE gathering failed" in failed.json()["detail"]
    assert retried.status_code == 200
    assert (again.status_code, again.json()["reason"]) == (403, "used")


async def test_max_callers_holds_across_two_instances(tmp_path):
    from bot.rooms import Room
    from caller import Caller, CallerError

    data = tmp_path / "data"
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, data) as one,
        running_bot(emu, data) as two,
    ):
        one.rooms.put(Room(name="booth", max_callers=1))
        async with Caller(one.link("booth")) as first:
            await first.connect(timeout=15)
            with pytest.raises(CallerError) as err:
                async with Caller(two.link("booth")) as second:  # the other instance
                    await second.connect(timeout=15)
            refused = err.value.status
        async with asyncio.timeout(10):
            while one.calls.in_room("booth"):
                await asyncio.sleep(0.05)
        async with Caller(two.link("booth")) as third:  # the place is free again
            await third.connect(timeout=15)
            later = len(two.calls.calls)
    print(f"max_callers=1 over two instances: second caller {refused}, after hang-up {later} call")
    assert refused == 409 and "full" in str(err.value)
    assert later == 1
