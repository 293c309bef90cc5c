"""`audioStreamEnd` after a second without caller audio (bot/live/audio_stream_end.py),
on the wire with the emulator: a question cut by a network gap is still answered."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from tests.live.harness import running_stage, silence
from tests.live.test_stage import wait_until

pytestmark = pytest.mark.timeout(60)


def cut_off(pcm: bytes) -> bytes:
    """`pcm` up to its last loud sample: the packets stop while the caller speaks."""
    a = np.frombuffer(pcm, dtype="<i2")
    loud = np.nonzero(np.abs(a.astype(np.int32)) > 1000)[0]
    return a[: loud[-1] + 1].tobytes()


def stream_ends(emu: Any) -> list[Any]:
    return [r for r in emu.received_of("realtimeInput") if r.body.get("audioStreamEnd")]


async def test_a_gap_in_the_callers_audio_ends_the_turn_once_and_audio_resumes(
    tmp_path, speech_pcm
):
    answered: list[Any] = []

    async def script(s: LiveSession) -> None:
        for answer in ("Let me see.", "Sure."):
            answered.append(await s.next_utterance())
            await s.say(answer, seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu) as h,
    ):
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        # The packets stop in mid-question: no trailing silence ends it for the VAD.
        await h.feed(silence(0.3) + cut_off(speech_pcm("what is on my calendar")))
        await wait_until(lambda: session.turns, timeout=10)
        assert len(stream_ends(emu)) == 1, "one audioStreamEnd for the pause"
        before = len(emu.caller_audio())
        await asyncio.sleep(0.5)
        assert len(stream_ends(emu)) == 1, "not repeated while the pause lasts"
        # The caller comes back: audio flows again, a new pause gets its own end.
        await h.feed(cut_off(speech_pcm("and tomorrow")))
        await wait_until(lambda: len(session.turns) == 2, timeout=10)

    assert len(emu.caller_audio()) > before, "sending resumed"
    assert len(stream_ends(emu)) == 2
    first_end = stream_ends(emu)[0]
    assert answered[0].kind == "audio" and answered[0].ended_at >= first_end.t - 0.05
    assert answered[0].duration > 0.8, "the question, whole"
