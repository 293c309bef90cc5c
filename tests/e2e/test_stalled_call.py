"""End to end: a stalled call through a real aiortc caller. The model hears the question
and never answers; the bot notices (LIVE_STALL_SECONDS, default), nudges it, moves the
session if the nudge does not help, and the caller hears the answer."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.call import CallOptions
from caller import Caller
from gemini_emulator import LiveSession
from gemini_emulator.faults import is_nudge, stall
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)
ANSWER_SECONDS = 1.5


def no_greeting(room: object) -> CallOptions:
    return CallOptions(greeting=None, tools=ToolRegistry(), room=room)  # type: ignore[arg-type]


def is_notice(text: str):
    def match(m: object) -> bool:
        data = m.get("data") if isinstance(m, dict) and m.get("type") == "server-message" else None
        return (
            isinstance(data, dict) and data.get("type") == "notice" and text in data.get("text", "")
        )

    return match


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("nudge", ["helps", "ignored"])
async def test_a_stalled_call_is_recovered_and_the_caller_hears_the_answer(tmp_path, speech, nudge):
    seen: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        seen["stalled_at"] = time.monotonic()
        ended = await stall(s, heard="what time is it", nudge=nudge)
        if ended is None:  # moved: the new socket hears the question again (the replay)
            utt = await s.next_utterance()
            seen["reanswer"] = utt
        seen["answer_at"] = time.monotonic()
        await s.say("It is noon.", seconds=ANSWER_SECONDS)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=no_greeting) as bot,
        Caller(bot.link()) as caller,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        await caller.connect(timeout=15)
        await caller.play_wav(speech("what time is it"))
        await caller.wait_played(timeout=15)
        asked = caller.played_until
        assert asked is not None
        await caller.wait_for_audio(1.0, timeout=40)
        heard_at = caller.first_audio_at(after=asked)
        notice = "slow to answer" if nudge == "helps" else "reconnecting"
        await caller.wait_for_message(is_notice(notice), timeout=5)
        metrics = (await http.get("/metrics")).text
        connections = len(emu.connections)

    assert heard_at is not None, "the caller heard the bot after the stall"
    assert caller.received_seconds() >= 1.0
    assert metric(metrics, "livebot_live_stalls_total", action="nudge", waiting_for="caller") == 1
    moves = metric(metrics, "livebot_live_stalls_total", action="move", waiting_for="caller")
    if nudge == "helps":
        assert moves == 0 and connections == 1
    else:
        assert moves == 1 and connections == 2
        assert emu.connections[1].resumed_from is not None
        again = seen["reanswer"]
        assert again.kind == "audio" and again.connection == emu.connections[1].index
        assert not is_nudge(again), "the question was not told a second time in words"
    record(
        f"stalled_call_nudge_{nudge}",
        stall_seconds=bot.settings.live.stall_seconds,
        caller_speech_end_to_first_bot_audio_s=round(heard_at - asked, 2),
        model_answered_after_stall_began_s=round(seen["answer_at"] - seen["stalled_at"], 2),
        live_sockets=connections,
    )
