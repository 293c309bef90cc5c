"""The room endpoints: what a caller with a bad link, a full room or a reused ticket sees."""

from __future__ import annotations

import asyncio
import time
from zoneinfo import ZoneInfo

import httpx
import pytest
from loguru import logger

from bot import links
from bot.rooms import Room
from caller import Caller, CallerError
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot
from tools.toolset import load_toolsets

pytestmark = pytest.mark.timeout(90)
FAKE_KEY = "AIzaSyFAKE-livebot-test-key-0123456789"


def token_of(link: str) -> str:
    return link.split("t=", 1)[1]


async def test_bad_links_get_a_page_that_says_so(tmp_path):
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path) as bot:
        bot.rooms.put(Room(name="kitchen"))
        good = bot.link("kitchen")
        expired = links.room_url(bot.url, bot.secret, "kitchen", -10)
        tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
        other_room = good.replace("/r/kitchen", "/r/lobby")
        unknown = links.room_url(bot.url, bot.secret, "attic", 3600)
        async with httpx.AsyncClient() as http:
            assert (await http.get(good)).status_code == 200
            for url, status, words in [
                (expired, 410, "expired"),
                (tampered, 403, "not valid"),
                (other_room, 403, "not valid"),
                (unknown, 404, "no room called 'attic'"),
                (f"{bot.url}/r/kitchen", 403, "not valid"),
            ]:
                r = await http.get(url)
                assert r.status_code == status, url
                assert words in r.text and "Traceback" not in r.text
                assert r.headers["content-type"].startswith("text/html")
            # The same refusals through the join API, with reasons a page can act on.
            for token, status, reason in [
                (token_of(expired), 410, "expired"),
                (token_of(tampered), 403, "invalid"),
                (token_of(unknown), 404, "unknown_room"),
            ]:
                r = await http.post(f"{bot.url}/api/join", json={"token": token})
                assert (r.status_code, r.json()["reason"]) == (status, reason)
            assert (await http.get(f"{bot.url}/healthz")).status_code == 200


async def test_dev_home_opens_the_lobby_and_production_home_does_not(tmp_path):
    async with running_emulator(tmp_path) as emu:
        async with running_bot(emu, tmp_path / "dev") as bot, httpx.AsyncClient() as http:
            r = await http.get(bot.url + "/", follow_redirects=False)
            assert r.status_code == 302 and "/r/lobby?t=" in r.headers["location"]
        async with (
            running_bot(emu, tmp_path / "prod", production=True) as bot,
            httpx.AsyncClient() as http,
        ):
            r = await http.get(bot.url + "/", follow_redirects=False)
            assert r.status_code == 404 and "room link" in r.text


async def test_offers_need_a_ticket_bound_to_one_connection(tmp_path, speech):
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path) as bot:
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            ticket = first.joined["ticket"]
            async with httpx.AsyncClient(base_url=bot.url) as http:
                offer = {"sdp": first.pc.localDescription.sdp, "type": "offer"}
                # No ticket: 401. The peer-connection id alone is not a capability.
                r = await http.post("/api/offer", json={**offer, "pc_id": first.pc_id})
                assert r.status_code == 401
                r = await http.patch(
                    "/api/offer",
                    json={"pc_id": first.pc_id, "candidates": []},
                )
                assert r.status_code == 401
                # The ticket is spent on this connection: a second call with it is refused.
                auth = {"Authorization": f"Bearer {ticket}"}
                r = await http.post("/api/offer", json=offer, headers=auth)
                assert (r.status_code, r.json()["reason"]) == (403, "used")
                # Another caller's ticket cannot touch this connection.
                other = (await http.post("/api/join", json={"token": token_of(bot.link())})).json()
                other_auth = {"Authorization": f"Bearer {other['ticket']}"}
                r = await http.patch(
                    "/api/offer", json={"pc_id": first.pc_id, "candidates": []}, headers=other_auth
                )
                assert r.status_code == 403
                r = await http.post(
                    "/api/offer", json={**offer, "pc_id": first.pc_id}, headers=other_auth
                )
                assert r.status_code == 403
                # A forged ticket is refused too.
                forged = links.sign(b"f" * 32, "ticket", "lobby", int(time.time()) + 60)
                r = await http.post(
                    "/api/offer", json=offer, headers={"Authorization": f"Bearer {forged}"}
                )
                assert (r.status_code, r.json()["reason"]) == (403, "invalid")
            await first.play_wav(speech("still here"))
            await first.wait_for_audio(0.3, timeout=20)  # the first call is unharmed


async def test_a_full_room_says_so(tmp_path):
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path) as bot:
        bot.rooms.put(Room(name="booth", max_callers=1))
        async with Caller(bot.link("booth")) as first:
            await first.connect(timeout=15)
            with pytest.raises(CallerError) as err:
                async with Caller(bot.link("booth")) as second:
                    await second.connect(timeout=15)
            assert err.value.status == 409
            assert "full" in str(err.value)
        # When the first caller leaves, there is room again.
        async with asyncio.timeout(10):
            while bot.calls.in_room("booth"):
                await asyncio.sleep(0.05)
        async with Caller(bot.link("booth")) as third:
            await third.connect(timeout=15)


async def test_joins_are_rate_limited_per_address(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, join_burst=3, join_rate_per_minute=6) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        token = token_of(bot.link())
        codes = [
            (await http.post("/api/join", json={"token": token})).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = await http.post("/api/join", json={"token": token})
        assert r.json()["reason"] == "rate_limited" and int(r.headers["retry-after"]) >= 1


async def test_the_page_follows_tools_and_lights_and_never_sees_the_key(tmp_path, speech):
    """RTVI server messages: tool states with scheduling, the room's real lights, no key."""
    toolsets = load_toolsets(["lights"], {}, tmp_path / "tools", ZoneInfo("UTC"))
    for ts in toolsets:
        await ts.start()
    seen_logs: list[str] = []
    sink = logger.add(lambda m: seen_logs.append(str(m)), level="DEBUG")

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":  # the greeting comes first
            await s.say("Hello, how can I help?", seconds=0.5)
        await s.send_raw(s.transcribe("turn on the kitchen light"))  # then the model acts
        s_id = await s.call_tool("set_light", {"name": "kitchen ceiling", "on": True})
        await s.tool_response(s_id)
        await s.say("Done.", seconds=0.5)

    try:
        async with (
            running_emulator(tmp_path, script=script, api_keys={FAKE_KEY}) as emu,
            running_bot(emu, tmp_path, toolsets=toolsets, api_key=FAKE_KEY) as bot,
        ):
            bot.rooms.put(Room(name="kitchen", toolsets={"lights": {"room": "kitchen"}}))
            async with Caller(bot.link("kitchen")) as caller:
                await caller.connect(timeout=15)
                await caller.play_wav(speech("turn on the kitchen light"))

                def page(kind: str, **match: object):
                    return lambda m: (
                        m.get("type") == "server-message"
                        and m["data"].get("type") == kind
                        and all(m["data"].get(k) == v for k, v in match.items())
                    )

                await caller.wait_for_message(page("tool", state="done"), timeout=20)
                await caller.wait_for_message(page("transcript", role="user"), timeout=20)
                await asyncio.sleep(0.3)
                messages = [
                    m["data"] for m in caller.data_messages if m.get("type") == "server-message"
                ]
                everything = repr(caller.data_messages) + repr(caller.joined)
    finally:
        logger.remove(sink)
        for ts in toolsets:
            await ts.stop()

    session = next(m for m in messages if m["type"] == "session")
    assert session["room"] == {"name": "kitchen", "title": "Kitchen"} and session["mode"] == "live"
    tool_states = [
        (m["name"], m["state"], m["scheduling"]) for m in messages if m["type"] == "tool"
    ]
    assert tool_states == [("set_light", "running", "SILENT"), ("set_light", "done", "SILENT")]
    lights = [m for m in messages if m["type"] == "lights"]
    assert {x["room"] for x in lights[0]["lights"]} == {"kitchen"}, "only the room's lights"
    assert not next(x for x in lights[0]["lights"] if x["name"] == "kitchen ceiling")["on"]
    assert next(x for x in lights[-1]["lights"] if x["name"] == "kitchen ceiling")["on"]
    said = "".join(m["text"] for m in messages if m["type"] == "transcript" and m["role"] == "user")
    assert said == "turn on the kitchen light"
    assert FAKE_KEY not in everything
    assert not [line for line in seen_logs if FAKE_KEY in line]
