"""A caller who left comes back to the same conversation (bot/rejoin.py), end to end:
real aiortc callers, the bot's signalling, the Live stage, the emulator on loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.call import CallOptions
from caller import Caller
from gemini_emulator import LiveSession, Utterance
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from testkit.netfault import NetFault

pytestmark = pytest.mark.timeout(120)
GREETING = "Greet the caller."


def greeted(room) -> CallOptions:
    return CallOptions(greeting=GREETING, room=room)


def page(caller: Caller, kind: str) -> list[dict]:
    """The page messages of `kind` the caller's page got (RTVI server messages)."""
    found = []
    for m in caller.data_messages:
        data = m.get("data") if isinstance(m, dict) and m.get("type") == "server-message" else None
        if isinstance(data, dict) and data.get("type") == kind:
            found.append(data)
    return found


def said(caller: Caller, role: str, restored: bool = False) -> str:
    """What the caller's page shows `role` saying (only what was restored, if asked)."""
    pieces = page(caller, "transcript")
    return "".join(
        p["text"] for p in pieces if p["role"] == role and (p.get("restored") or not restored)
    )


def greetings(seen: list[Utterance]) -> list[Utterance]:
    return [u for u in seen if u.kind == "client_content"]


async def caller_speech(s: LiveSession, seen: list[Utterance]) -> Utterance:
    """The next spoken utterance; a greeting seed on the way is answered like the service."""
    while True:
        u = await s.next_utterance()
        seen.append(u)
        if u.kind == "audio":
            return u
        if u.kind == "client_content":
            await s.say("Hello, how can I help?", seconds=0.4, transcribe_input=None)


async def test_a_caller_who_left_comes_back_to_the_same_session_without_a_second_greeting(
    tmp_path, speech
):
    seen: list[Utterance] = []

    async def script(s: LiveSession) -> None:
        await caller_speech(s, seen)
        await s.say("It is sunny.", seconds=1.0, transcribe_input="what is the weather")
        await s.issue_resumption_update()
        await caller_speech(s, seen)
        await s.say("Tomorrow it rains.", seconds=1.0, transcribe_input="and tomorrow")

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=greeted) as bot,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            await first.play_wav(speech("what is the weather"))
            await emu.wait_for(lambda: "sunny" in said(first, "bot"), timeout=20)
            await emu.wait_for(lambda: first.rejoin_secret() is not None, timeout=5)
            secret = first.rejoin_secret()
            assert page(first, "session")[0]["rejoined"] is False
        # The page reloads (or the network was gone too long): the same tab joins again.
        async with Caller(bot.link(), rejoin=secret) as again:
            await again.connect(timeout=15)
            assert again.joined and again.joined["rejoined"] is True
            await again.play_wav(speech("and tomorrow"))
            await again.wait_for_audio(0.6, timeout=20)
            await emu.wait_for(lambda: page(again, "session"), timeout=5)
            session_message = page(again, "session")[0]
            restored_bot, restored_caller = said(again, "bot", True), said(again, "user", True)
            new_secret = again.rejoin_secret()

        # The secret is spent: a third try with it is a new call, not this conversation.
        async with httpx.AsyncClient(base_url=bot.url) as http:
            token = bot.link().split("t=")[1]
            r = await http.post("/api/join", json={"token": token, "rejoin": secret})
            assert r.status_code == 200 and r.json()["rejoined"] is False

    # One Live session, resumed on a second socket with the handle the first one had.
    assert len(emu.sessions) == 1
    session = emu.sessions[0]
    assert len(session.connections) == 2
    assert session.connections[1].resumed_from in session.handles
    # No second greeting: nothing was seeded on the resumed socket.
    assert [u.connection for u in greetings(seen)] == [0]
    # The caller's second question reached the same session and was answered.
    assert [u.kind for u in seen if u.kind == "audio"] == ["audio", "audio"]
    # The page said it was the same call and showed what was said before.
    assert session_message["rejoined"] is True
    assert "sunny" in restored_bot and "Hello" in restored_bot
    assert "weather" in restored_caller
    # A new secret for the next time, not the spent one.
    assert new_secret and new_secret != secret


async def test_without_rejoin_a_returning_caller_gets_a_new_call(tmp_path, speech):
    seen: list[Utterance] = []

    async def script(s: LiveSession) -> None:
        await caller_speech(s, seen)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=greeted, rejoin_seconds=0.0) as bot,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            await emu.wait_for(lambda: page(first, "session"), timeout=10)
            assert "rejoin" not in page(first, "session")[0]  # nothing to come back with
        async with Caller(bot.link(), rejoin="x" * 43) as again:
            await again.connect(timeout=15)
            assert again.joined and again.joined["rejoined"] is False
            await emu.wait_for(lambda: len(emu.sessions) == 2, timeout=10)
            await emu.wait_for(lambda: len(greetings(seen)) == 2, timeout=10)
    # Two separate sessions, each greeted once.
    assert [u.connection for u in greetings(seen)] == [0, 1]
    assert [c.resumed_from for c in emu.connections] == [None, None]


async def test_a_caller_whose_network_was_gone_too_long_comes_back_to_the_same_session(
    tmp_path, speech
):
    seen: list[Utterance] = []

    async def script(s: LiveSession) -> None:
        await caller_speech(s, seen)
        await s.say("It is sunny.", seconds=0.8, transcribe_input="what is the weather")
        await s.issue_resumption_update()
        await caller_speech(s, seen)
        await s.say("Tomorrow it rains.", seconds=0.8, transcribe_input="and tomorrow")

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=greeted, caller_gone_seconds=2.0) as bot,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            await first.play_wav(speech("what is the weather"))
            await emu.wait_for(lambda: "sunny" in said(first, "bot"), timeout=20)
            secret = first.rejoin_secret()
            NetFault.attach(first.pc, seed=1).outgoing_loss = 1.0  # the network is gone
            await emu.wait_for(lambda: not bot.calls.calls, timeout=15)  # the bot hung up
        async with Caller(bot.link(), rejoin=secret) as again:
            await again.connect(timeout=15)
            await again.play_wav(speech("and tomorrow"))
            await emu.wait_for(lambda: "rains" in said(again, "bot"), timeout=20)
            assert again.joined and again.joined["rejoined"] is True
    assert len(emu.sessions) == 1 and len(emu.sessions[0].connections) == 2
    assert [u.connection for u in greetings(seen)] == [0]


async def test_a_handle_that_no_longer_resumes_gives_a_fresh_session_seeded_with_the_talk(
    tmp_path, speech
):
    seen: list[Utterance] = []

    async def script(s: LiveSession) -> None:
        await caller_speech(s, seen)
        await s.say("It is sunny.", seconds=0.8, transcribe_input="what is the weather")
        await s.issue_resumption_update()

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=greeted) as bot,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            await first.play_wav(speech("what is the weather"))
            await emu.wait_for(lambda: "sunny" in said(first, "bot"), timeout=20)
            secret = first.rejoin_secret()
        await emu.wait_for(lambda: not bot.calls.calls, timeout=10)
        emu.sessions[0]._end()  # the service forgot the session: its handles are refused
        async with Caller(bot.link(), rejoin=secret) as again:
            await again.connect(timeout=15)
            await emu.wait_for(lambda: len(emu.sessions) == 2, timeout=15)
            fresh = emu.sessions[1]
            await emu.wait_for(lambda: emu.received_of("clientContent")[1:], timeout=15)
            seeded = emu.received_of("clientContent")[-1]
    # The refused resume (the service's 1008) is followed by a fresh session that is told
    # what was said, and not asked to greet again.
    refused = emu.connections[1]
    assert refused.resumed_from is None and refused.close_code == 1008
    assert fresh.connections[0].index == 2
    text = json.dumps(seeded.body)
    assert "what is the weather" in text and "sunny" in text
    assert seeded.body.get("turnComplete") in (None, False)
    assert [u.connection for u in greetings(seen)] == [0]
