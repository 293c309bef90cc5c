"""Nothing the caller said is lost on a drop: what no resumable handle holds is sent again
(bot/live/replay_log.py, bot/live/outbound.py), on the wire with the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pipecat.processors.frameworks.rtvi import RTVISendTextFrame

from bot.live.stage import LiveStage
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from gemini_emulator.vad import EnergyVad
from tests.live.harness import running_stage, silence
from tests.live.test_stage import wait_until

pytestmark = pytest.mark.timeout(60)
QUESTION = "what will the weather be like in paris tomorrow afternoon"


def spoken_seconds(pcm: bytes) -> float:
    """How long the emulator's VAD hears `pcm` as one utterance, undisturbed."""
    events = [e for e in EnergyVad().feed(pcm + silence(1.5)) if e.kind == "end"]
    return sum(len(e.pcm) for e in events) / 32000


async def drop_when(
    s: LiveSession, fed: Any, code: int = 1011, reason: str = "Internal error encountered."
) -> None:
    """Close the socket with `code` once `fed()` is true (polled)."""
    while not fed():
        await asyncio.sleep(0.01)
    await s.close(code, reason)


async def test_a_drop_in_mid_sentence_the_answering_session_hears_the_whole_utterance(
    tmp_path, speech_pcm
):
    question = speech_pcm(QUESTION)
    spoken = spoken_seconds(question)
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            pass
        await s.say("Hi, how can I help?", seconds=0.3)  # a completed turn: a fresh handle
        old = s.connection
        assert old is not None
        start = old.audio_bytes
        # 0.5 s of silence, then 1.2 s into the question: the socket drops
        await drop_when(s, lambda: old.audio_bytes >= start + int(1.7 * 32000))
        state["new"] = await s.wait_reconnect(timeout=10, after=old)
        state["utterance"] = await s.next_utterance()
        await s.say("Sunny, 21 degrees.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: session.turns, timeout=10)
        await h.feed(silence(0.5) + question + silence(1.5))  # a microphone: real time
        await wait_until(lambda: len(session.turns) == 2, timeout=15)

    new, utterance = state["new"], state["utterance"]
    assert new.resumed_from in session.handles, "resumed, not a fresh session"
    assert utterance.connection == new.index, "answered by the resumed session"
    reached = utterance.duration / spoken
    print(f"drop in mid-sentence: {utterance.duration:.2f} s of {spoken:.2f} s reached")
    assert reached >= 0.95, f"{utterance.duration:.2f} s of {spoken:.2f} s reached the session"
    assert reached <= 1.05, "nothing heard twice"
    assert h.stage.reconnects == 1 and session.turns[-1].completed


async def test_typed_text_before_a_drop_and_during_the_move_reaches_the_resumed_session(
    tmp_path, speech_pcm
):
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            pass
        await s.say("Hi!", seconds=0.3)
        old = s.connection
        typed = await s.next_utterance()  # heard on the old socket, not yet in a handle
        assert typed.text == "book the dentist"
        await s.close(1011, "Internal error encountered.")
        state["new"] = await s.wait_reconnect(timeout=10, after=old)
        state["heard"] = [await s.next_utterance(), await s.next_utterance()]
        await s.say("Booked.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        gate = asyncio.Event()
        connect = h.stage.connect

        async def connect_when_let(handle: str | None) -> None:
            await gate.wait()  # hold the move open while the caller types
            await connect(handle)

        h.stage.connect = connect_when_let  # type: ignore[method-assign]
        await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: session.turns, timeout=10)
        await h.worker.queue_frame(RTVISendTextFrame(text="book the dentist", msg_id="t1"))
        await wait_until(lambda: h.stage.outbound.held, timeout=10)
        await h.worker.queue_frame(RTVISendTextFrame(text="at nine", msg_id="t2"))
        await asyncio.sleep(0.2)
        gate.set()
        await wait_until(lambda: len(session.turns) == 2, timeout=15)

    new = state["new"]
    assert [(u.kind, u.text, u.connection) for u in state["heard"]] == [
        ("text", "book the dentist", new.index),  # sent again: no handle held it
        ("text", "at nine", new.index),  # held during the move
    ]


async def test_a_fresh_session_after_a_drop_hears_the_unanswered_utterance_whole(
    tmp_path, speech_pcm
):
    question = speech_pcm(QUESTION)
    spoken = spoken_seconds(question)
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        if s is emu.sessions[0]:
            while (await s.next_utterance()).kind != "audio":
                pass
            await s.say("Hi, how can I help?", seconds=0.3, transcribe_input="hello")
            old = s.connection
            assert old is not None
            start = old.audio_bytes
            # 1007 (context full or invalid): a fresh session, seeded with a summary
            invalid = "Request contains an invalid argument."
            await drop_when(s, lambda: old.audio_bytes >= start + int(1.7 * 32000), 1007, invalid)
            return
        state["utterances"] = [await s.next_utterance()]
        await s.say("Sunny.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
        first = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: first.turns, timeout=10)
        await h.feed(silence(0.5) + question + silence(1.5))
        await wait_until(lambda: "utterances" in state and len(emu.sessions[1].turns), 15)
        fresh = emu.sessions[1]

    assert emu.connections[-1].resumed_from is None, "a fresh session"
    [utterance] = state["utterances"]
    reached = utterance.duration / spoken
    print(f"fresh session after a drop: {utterance.duration:.2f} s of {spoken:.2f} s reached")
    assert 0.95 <= reached <= 1.05
    assert fresh.utterances[0] is utterance, "the answered hello is not said again"


async def test_with_the_index_a_handle_in_mid_sentence_loses_nothing_and_doubles_nothing(
    tmp_path, speech_pcm, monkeypatch
):
    """Where the service says which message a handle holds (Vertex AI's transparent
    resumption), only what came after it is sent again. google-genai refuses
    `transparent` on the Developer API, which the emulator serves here, so the test lets
    it through, as Vertex would."""
    from google.genai import _live_converters
    from google.genai._common import get_value_by_path as getv

    monkeypatch.setattr(
        _live_converters,
        "_SessionResumptionConfig_to_mldev",
        lambda from_object, parent_object=None: {
            k: v for k in ("handle", "transparent") if (v := getv(from_object, [k])) is not None
        },
    )
    monkeypatch.setattr(LiveStage, "transparent_resumption", True)
    question = speech_pcm(QUESTION)
    spoken = spoken_seconds(question)
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            pass
        await s.say("Hi, how can I help?", seconds=0.3)
        old = s.connection
        assert old is not None
        start = old.audio_bytes
        while old.audio_bytes < start + int(1.3 * 32000):  # 0.8 s into the question
            await asyncio.sleep(0.01)
        await s.issue_resumption_update()  # a handle in mid-sentence, with its index
        state["handle"] = list(s.handles)[-1]
        await drop_when(s, lambda: old.audio_bytes >= start + int(2.0 * 32000))
        state["new"] = await s.wait_reconnect(timeout=10, after=old)
        state["utterance"] = await s.next_utterance()
        await s.say("Sunny.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: session.turns, timeout=10)
        await h.feed(silence(0.5) + question + silence(1.5))
        await wait_until(lambda: len(session.turns) == 2, timeout=15)

    new, utterance = state["new"], state["utterance"]
    assert emu.connections[0].setup["sessionResumption"]["transparent"] is True
    assert new.resumed_from == state["handle"], "resumed from the mid-sentence handle"
    assert utterance.connection == new.index
    reached = utterance.duration / spoken
    print(f"with the index: {utterance.duration:.2f} s of {spoken:.2f} s reached")
    assert 0.95 <= reached <= 1.05, f"{utterance.duration:.2f} s of {spoken:.2f} s"
