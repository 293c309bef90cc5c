"""End to end: the Live socket drops (1011) while the caller speaks; through a real aiortc
caller (Opus), the session that answers heard the whole question (bot/live/replay_log.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.call import CallOptions
from caller import Caller
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from gemini_emulator.vad import EnergyVad
from testkit.bot import running_bot
from tests.audio import read_wav
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)
QUESTION = "what will the weather be like in paris tomorrow afternoon"


def spoken_seconds(pcm: bytes) -> float:
    """How long the emulator's VAD hears `pcm` as one utterance, undisturbed."""
    events = [e for e in EnergyVad().feed(pcm + bytes(48000)) if e.kind == "end"]
    return sum(len(e.pcm) for e in events) / 32000


async def test_a_drop_in_mid_sentence_the_answer_comes_from_the_whole_question(tmp_path, speech):
    question_wav = speech(QUESTION)
    pcm, rate = read_wav(question_wav)
    assert rate == 16000
    spoken = spoken_seconds(pcm)
    drop = asyncio.Event()
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            pass
        await s.say("Hi, how can I help?", seconds=0.8)
        state["greeted"] = time.monotonic()
        old = s.connection
        await drop.wait()
        await s.close(1011, "Internal error encountered.")
        state["new"] = await s.wait_reconnect(timeout=10, after=old)
        state["utterance"] = await s.next_utterance()
        await s.say("Sunny, twenty one degrees.", seconds=1.5)

    options = lambda room: CallOptions(greeting=None, tools=ToolRegistry([]), room=room)  # noqa: E731
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=options) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.play_wav(speech("hello"))
        await caller.wait_for_audio(0.6, timeout=20)
        await emu.wait_for(lambda: "greeted" in state, timeout=10)
        await asyncio.sleep(0.5)
        heard_before = caller.received_seconds()
        await caller.play(pcm, rate)
        await asyncio.sleep(1.5)  # about a second into the question
        drop.set()
        await caller.wait_played(timeout=10)
        session = emu.sessions[0]
        await emu.wait_for(lambda: len(session.turns) == 2, timeout=25)
        await caller.wait_for_audio(heard_before + 1.2, timeout=10)  # the answer reaches the ear

    new, utterance = state["new"], state["utterance"]
    assert new.resumed_from in session.handles and len(emu.sessions) == 1
    assert utterance.connection == new.index
    reached = utterance.duration / spoken
    print(f"e2e drop in mid-sentence: {utterance.duration:.2f} s of {spoken:.2f} s reached")
    assert reached >= 0.95, f"{utterance.duration:.2f} s of {spoken:.2f} s reached the session"
    assert session.turns[-1].completed and session.turns[-1].connection == new.index
