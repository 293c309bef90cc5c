"""End to end with LIVE_TURN_DETECTION=local: a real aiortc caller (Opus) speaks, the
bot's Silero VAD decides the turn, Gemini (the emulator) gets activityStart ... audio ...
activityEnd with its own detection off, and the caller hears the answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.call import CallOptions
from bot.live_settings import LiveSettings, TurnDetection
from caller import Caller
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.audio import read_wav

pytestmark = pytest.mark.timeout(90)


async def test_a_spoken_question_is_one_activity_window_and_the_answer_is_heard(tmp_path, speech):
    heard: dict = {}

    async def script(s: LiveSession) -> None:
        heard["utterance"] = await s.next_utterance()
        await s.say("Nothing is on your calendar today.", seconds=1.5)

    wav = speech("what is on my calendar today")
    spoken_pcm, _ = read_wav(wav)
    live = LiveSettings(api_key="test-key", turn_detection=TurnDetection.LOCAL)
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, live=live, options_factory=lambda room: CallOptions()) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.play_wav(wav)
        await caller.wait_for_audio(1.2, timeout=20)
        session = emu.sessions[0]
        await emu.wait_for(lambda: session.turns and session.turns[0].completed, timeout=10)
        await asyncio.sleep(0.3)

    setup = emu.setups[0]
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {"disabled": True}
    signals = [
        r.sub
        for r in emu.received_of("realtimeInput")
        if r.sub in ("activityStart", "activityEnd", "audioStreamEnd")
    ]
    assert signals == ["activityStart", "activityEnd"], "one window, no audioStreamEnd"
    spoken_seconds = len(spoken_pcm) / 2 / 16000 - 0.6  # minus the WAV's silent padding
    assert spoken_seconds <= heard["utterance"].duration <= spoken_seconds + 1.5
    assert 1.0 <= caller.received_seconds() <= 2.3, "the caller heard the answer"
