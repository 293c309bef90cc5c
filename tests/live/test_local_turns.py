"""LIVE_TURN_DETECTION=local on the wire (bot/live/local_turns.py): Silero decides the
caller's turns, Gemini's detection is off in the setup, the question reaches the
emulator as activityStart ... audio ... activityEnd and is answered; no audioStreamEnd;
the caller still cuts the bot off; the default (server) sends no activity marks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import InterruptionFrame
from pipecat.processors.frameworks.rtvi import RTVISendTextFrame

from bot.live.local_turns import caller_turns
from bot.live_settings import TurnDetection
from gemini_emulator import LiveSession
from gemini_emulator.faults import stall
from gemini_emulator.testing import running_emulator
from tests.live.harness import live_settings, running_stage, silence
from tests.live.test_stage import wait_until

pytestmark = pytest.mark.timeout(60)
LOCAL = live_settings(turn_detection=TurnDetection.LOCAL)
MARKS = ("activityStart", "activityEnd", "audioStreamEnd")


def marks(emu: Any) -> list[str]:
    """The caller-side turn signals the emulator received, in order."""
    return [r.sub for r in emu.received_of("realtimeInput") if r.sub in MARKS]


def loud_seconds(pcm: bytes) -> float:
    """From the first to the last loud sample: the spoken part of `pcm`."""
    a = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.nonzero(a > 1000)[0]
    return (loud[-1] - loud[0]) / 16000


async def test_a_question_is_one_activity_window_and_is_answered(tmp_path, speech_pcm):
    question = speech_pcm("what is on my calendar today")

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Nothing today.", seconds=0.5)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=LOCAL) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await h.feed(silence(0.5) + question + silence(1.2))
        await wait_until(lambda: session.turns and session.turns[0].completed, timeout=10)
        await asyncio.sleep(1.5)  # no caller frames for over a second: still no audioStreamEnd

    aad = emu.setups[0]["realtimeInputConfig"]["automaticActivityDetection"]
    assert aad == {"disabled": True}, "Gemini's own detection is switched off, nothing else"
    assert marks(emu) == ["activityStart", "activityEnd"]
    utterance = session.utterances[0]
    assert utterance.kind == "audio"
    # The pre-roll: the onset Silero heard before deciding is inside the window too.
    assert loud_seconds(utterance.pcm) == pytest.approx(loud_seconds(question), abs=0.03)
    assert h.recorder.audio_seconds() > 0.3, "the caller hears the answer"


async def test_packets_that_stop_in_mid_question_still_end_the_turn(tmp_path, speech_pcm):
    """What `audioStreamEnd` does for Gemini's detection: Pipecat's VAD ends a turn
    whose audio stops (1 s without frames), so the question is answered."""
    question = speech_pcm("what is on my calendar")
    a = np.frombuffer(question, dtype="<i2")
    cut = a[: np.nonzero(np.abs(a.astype(np.int32)) > 1000)[0][-1] + 1].tobytes()

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Nothing today.", seconds=0.5)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=LOCAL) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await h.feed(silence(0.3) + cut)  # then nothing: a network gap, a muted tab
        await wait_until(lambda: session.turns and session.turns[0].completed, timeout=10)

    assert marks(emu) == ["activityStart", "activityEnd"], "ended without audioStreamEnd"


async def test_the_caller_still_cuts_the_bot_off(tmp_path, speech_pcm):
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        state["turn"] = await s.say("A very long story " * 10, seconds=6.0)

    async with (
        running_emulator(tmp_path, script=script, stream_rate=1.0) as emu,
        running_stage(emu, live=LOCAL) as h,
    ):
        await emu.wait_for(lambda: emu.sessions, timeout=5)
        await h.feed(speech_pcm("tell me a story") + silence(1.2))
        await wait_until(lambda: h.recorder.audio_seconds() > 0.5, timeout=10)
        await h.feed(speech_pcm("stop stop") + silence(1.2))  # over the bot
        await wait_until(lambda: "turn" in state, timeout=10)
        await asyncio.sleep(0.3)

    assert state["turn"].interrupted, "activityStart interrupted the model's turn"
    assert marks(emu) == ["activityStart", "activityEnd"] * 2
    interruption = next(s for s in h.recorder.seen if isinstance(s.frame, InterruptionFrame))
    assert h.recorder.audio_seconds(after=interruption.at) <= 0.1, "the speaker went quiet"
    assert h.recorder.audio_seconds() < 5.0


async def test_a_drop_in_mid_question_still_gets_the_whole_question_answered(tmp_path, speech_pcm):
    question = speech_pcm("what will the weather be like in paris tomorrow afternoon")
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Hi, how can I help?", seconds=0.3)  # a completed turn: a fresh handle
        old = s.connection
        assert old is not None
        start = old.audio_bytes
        while old.audio_bytes < start + int(1.2 * 32000):  # 1.2 s of the turn's audio in
            await asyncio.sleep(0.01)
        await s.close(1011, "Internal error encountered.")
        state["new"] = await s.wait_reconnect(timeout=10, after=old)
        state["utterance"] = await s.next_utterance()
        await s.say("Sunny, 21 degrees.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=LOCAL) as h,
    ):
        await h.feed(speech_pcm("hello") + silence(1.2))
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: session.turns, timeout=10)
        await h.feed(silence(0.5) + question + silence(1.5))
        await wait_until(lambda: len(session.turns) == 2, timeout=15)

    new, utterance = state["new"], state["utterance"]
    assert new.resumed_from in session.handles, "resumed, not a fresh session"
    assert utterance.connection == new.index, "answered by the resumed session"
    print(
        f"local, drop in mid-question: {loud_seconds(utterance.pcm):.2f} s of "
        f"{loud_seconds(question):.2f} s spoken reached the resumed session"
    )
    assert loud_seconds(utterance.pcm) == pytest.approx(loud_seconds(question), abs=0.05)
    new_marks = [
        r.sub
        for r in emu.received_of("realtimeInput")
        if r.connection == new.index and r.sub in MARKS
    ]
    assert new_marks == ["activityStart", "activityEnd"], "the window again, in order"


async def test_with_no_interruption_the_bot_talks_on(tmp_path, speech_pcm):
    """No local interruption: LIVE_ACTIVITY_HANDLING=NO_INTERRUPTION is honoured."""
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        state["turn"] = await s.say("A story " * 6, seconds=3.0)

    live = replace(LOCAL, activity_handling="NO_INTERRUPTION")
    async with (
        running_emulator(tmp_path, script=script, stream_rate=1.0) as emu,
        running_stage(emu, live=live) as h,
    ):
        await emu.wait_for(lambda: emu.sessions, timeout=5)
        await h.feed(speech_pcm("tell me a story") + silence(1.2))
        await wait_until(lambda: h.recorder.audio_seconds() > 0.5, timeout=10)
        await h.feed(speech_pcm("uh huh") + silence(1.2))  # over the bot
        await wait_until(lambda: "turn" in state, timeout=10)

    assert marks(emu) == ["activityStart", "activityEnd"] * 2
    assert not state["turn"].interrupted and state["turn"].completed
    assert not h.interruptions(), "nothing cut the bot off locally either"


async def test_typed_text_is_a_turn_of_its_own(tmp_path):
    async def script(s: LiveSession) -> None:
        typed = await s.next_utterance()
        await s.say(f"You typed {typed.text}.", seconds=0.5)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=LOCAL) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await h.feed(silence(0.3))
        await h.worker.queue_frame(RTVISendTextFrame(text="book the dentist", msg_id="t1"))
        await wait_until(lambda: session.turns and session.turns[0].completed, timeout=10)

    # Without Gemini's detection, text is no turn until the client marks one.
    assert [r.sub for r in emu.received_of("realtimeInput") if r.sub != "audio"] == [
        "activityStart",
        "text",
        "activityEnd",
    ]
    assert session.utterances[0].text == "book the dentist"


async def test_server_detection_sends_no_activity_marks(tmp_path, speech_pcm):
    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Nothing today.", seconds=0.5)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await h.feed(silence(0.3) + speech_pcm("what is on my calendar") + silence(1.0))
        await wait_until(lambda: session.turns and session.turns[0].completed, timeout=10)

    assert "automaticActivityDetection" not in (emu.setups[0].get("realtimeInputConfig") or {})
    assert "activityStart" not in marks(emu) and "activityEnd" not in marks(emu)


def test_silero_is_loaded_only_for_local_turn_detection():
    assert caller_turns(live_settings()).vad_analyzer is None  # no ONNX session per call
    local = caller_turns(LOCAL)
    assert local.vad_analyzer is not None
    timed = caller_turns(replace(LOCAL, vad=replace(LOCAL.vad, silence_duration_ms=1500)))
    assert timed.vad_analyzer is not None and timed.vad_analyzer.params.stop_secs == 0.2


def confidences(vad: Any, pcm: bytes) -> list[float]:
    window = 512 * 2  # Silero's 32 ms at 16 kHz
    return [
        float(np.ravel(vad.voice_confidence(pcm[i : i + window]))[0])
        for i in range(0, len(pcm) - window, window)
    ]


def test_calls_share_one_silero_session_but_each_hears_only_its_own_caller(speech_pcm):
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    from bot.live.shared_silero import SharedSileroVAD

    words, other = speech_pcm("what is on my calendar"), speech_pcm("turn the lights off")
    alone = SileroVADAnalyzer()  # Pipecat's own, with its own session
    alone.set_sample_rate(16000)
    expected = confidences(alone, words)
    a, b = SharedSileroVAD(), SharedSileroVAD()
    for vad in (a, b):
        vad.set_sample_rate(16000)
    assert a._model.session is b._model.session, "one ONNX session, loaded once"
    heard = []
    for i, window in enumerate(range(0, len(words) - 1024, 1024)):
        heard.append(float(np.ravel(a.voice_confidence(words[window : window + 1024]))[0]))
        b.voice_confidence(other[(i * 1024) % (len(other) - 1024) :][:1024])  # interleaved
    assert heard == pytest.approx(expected, abs=1e-5), "the other call's audio did not leak in"
    assert max(heard) > 0.9, "speech is heard as speech"
    # The same members Pipecat's own constructor sets (an upgrade that adds one fails here).
    assert set(vars(a)) == set(vars(alone))


async def test_a_stall_after_activity_end_is_nudged_even_in_a_noisy_room(tmp_path, speech_pcm):
    """Room noise keeps our own energy detection hearing "speech"; Silero's activityEnd
    still tells the stall watch the caller's turn is over (no transcript here)."""
    seen: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        seen["nudge"] = await stall(s, nudge="helps")  # heard, no transcript, no answer
        await s.say("It is noon.", seconds=0.5)

    noise = np.random.default_rng(7).normal(0, 1500, 16000 * 6).astype("<i2").tobytes()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=replace(LOCAL, stall_seconds=1.5)) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        h.feed_in_background(speech_pcm("what time is it") + noise)
        await wait_until(lambda: session.turns and session.turns[-1].completed, timeout=15)

    assert "activityEnd" in marks(emu), "Silero ended the turn in the noise"
    assert emu.received_of("clientContent"), "the stall watch nudged the model"
    assert session.turns[-1].completed and h.recorder.audio_seconds() > 0.3
