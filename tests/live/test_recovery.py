"""Upstream faults the call survives: each ends with the call going on, nothing said lost."""

from __future__ import annotations

import asyncio

import pytest

from bot.events import CallEvent, EventSink, SessionLost
from bot.feed import page_message
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from tests.live.harness import live_settings, running_stage, silence
from tests.live.test_stage import registry_with_calls, wait_until

pytestmark = pytest.mark.timeout(60)
GREETING = "Greet the caller."


def client_turns(emu, session) -> list[str]:
    """Texts of the clientContent turns a session received."""
    return [
        "".join(p.get("text", "") for t in r.body.get("turns", []) for p in t.get("parts", []))
        for r in emu.received_of("clientContent", session=session.id)
    ]


async def test_context_exhausted_1007_starts_a_fresh_session_seeded_with_a_summary(
    tmp_path, speech_pcm
):
    async def script(s: LiveSession) -> None:
        if s is emu.sessions[0]:
            while (await s.next_utterance()).kind != "audio":
                await s.say("Hello!", seconds=0.3)
            await s.say("Paris is lovely.", seconds=0.3, transcribe_input="tell me about paris")
            await s.close(1007, "Request contains an invalid argument.")
            return
        await s.next_utterance()  # the fresh session hears the caller
        await s.say("As I said, Paris.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, tools=registry_with_calls([]), greeting=GREETING) as h,
    ):
        await h.feed(speech_pcm("tell me about paris") + silence(1.0), realtime=False)
        await wait_until(lambda: len(emu.sessions) == 2, timeout=15)
        await h.feed(speech_pcm("and the weather") + silence(1.2), realtime=False)
        await wait_until(lambda: emu.sessions[1].turns, timeout=15)
        _first, fresh = emu.sessions

    assert emu.connections[1].resumed_from is None, "a fresh session, not a resume"
    seeded = client_turns(emu, fresh)
    assert len(seeded) == 1, "one summary, no second greeting"
    assert "Caller: tell me about paris" in seeded[0] and "You: Paris is lovely." in seeded[0]
    assert GREETING not in seeded[0]
    assert fresh.turns[0].completed
    assert h.stage.reconnects == 1 and not h.stage.lost


async def test_refused_resumption_falls_back_to_a_fresh_session(tmp_path, speech_pcm):
    async def script(s: LiveSession) -> None:
        if s is emu.sessions[0]:
            await s.next_utterance()
            await s.say("First.", seconds=0.3, transcribe_input="hello")
            s.handles.clear()  # the server forgets every handle it issued
            await s.close(1011, "Internal error encountered.")
            return
        await s.next_utterance()
        await s.say("Second.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, tools=registry_with_calls([])) as h,
    ):
        await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
        await wait_until(lambda: len(emu.sessions) == 2, timeout=15)
        await h.feed(speech_pcm("are you there") + silence(1.2), realtime=False)
        await wait_until(lambda: emu.sessions[1].turns, timeout=15)

    refused = emu.connections[1]
    assert refused.resumed_from is None and refused.close_code == 1008  # resume refused
    assert emu.connections[2].resumed_from is None  # then a fresh one
    assert "Caller: hello" in client_turns(emu, emu.sessions[1])[0]
    assert not h.stage.lost


async def test_a_resumed_call_does_not_greet_again_or_rerun_tools(tmp_path, speech_pcm):
    log: list[str] = []

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            await s.say("Hello!", seconds=0.3)
        call_id = await s.call_tool("set_light", {"name": "desk"}, id="call-7")
        await s.tool_response(call_id)
        await s.say("Done.", seconds=0.3)
        dropped = s.connection
        await s.close(1011, "Internal error encountered.")
        await s.wait_reconnect(timeout=10, after=dropped)
        await s.call_tool("set_light", {"name": "desk"}, id="call-7")  # replayed by the server
        await s.next_utterance()
        await s.say("Still here.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, tools=registry_with_calls(log), greeting=GREETING) as h,
    ):
        await h.feed(speech_pcm("desk light please") + silence(1.0), realtime=False)
        await wait_until(lambda: len(emu.connections) == 2, timeout=15)
        await asyncio.sleep(0.5)
        await h.feed(speech_pcm("thanks") + silence(1.2), realtime=False)
        session = emu.sessions[0]
        await wait_until(
            lambda: session.turns and session.turns[-1].text == "Still here.", timeout=15
        )

    assert emu.connections[1].resumed_from is not None
    assert log.count("set_light desk 100") == 1
    greetings = [r for r in emu.received_of("clientContent") if GREETING in str(r.message)]
    assert len(greetings) == 1 and greetings[0].connection == 0
    responses = [r for r in session.function_responses if r.id == "call-7"]
    assert len(responses) == 1


async def test_quota_refusal_tells_the_caller_the_bot_is_busy(tmp_path, speech_pcm):
    events: list[CallEvent] = []

    async def script(s: LiveSession) -> None:
        await s.close(1011, "RESOURCE_EXHAUSTED: quota exceeded for concurrent sessions")

    async with running_emulator(tmp_path, script=script) as emu:
        async with running_stage(emu, live=live_settings(), on_event=events_to(events)) as h:
            await wait_until(lambda: h.stage.lost, timeout=10)
    assert SessionLost("busy") in events
    # what the page shows for it
    shown = [page_message(e) for e in events]
    notices = [d["text"] for d in shown if d is not None and d["type"] == "notice"]
    assert any("busy" in n for n in notices)
    assert h.stage.lost_reason == "busy"
    assert len(emu.connections) == 1, "no retry storm against a full quota"


def events_to(events: list[CallEvent]) -> EventSink:
    async def record(event: CallEvent) -> None:
        events.append(event)

    return record
