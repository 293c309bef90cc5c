"""What a call costs (bot/live/usage.py): Gemini's usageMetadata counted per modality into
/metrics and one line at the end of the call; a per-call cap winds the call down."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from loguru import logger

from bot.events import CallCapReached, CallEvent, TokensUsed
from bot.feed import page_message
from bot.live.limits import LiveLimits
from bot.live.usage import GOODBYE
from bot.metrics import Metrics
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from testkit.stage import live_settings, running_stage, silence
from tests.live.test_recovery import events_to
from tests.live.test_stage import wait_until

pytestmark = pytest.mark.timeout(60)


def sent_usage(emu: Any) -> list[dict[str, Any]]:
    """Every usageMetadata the emulator sent."""
    return [
        m.message["usageMetadata"]
        for c in emu.connections
        for m in c.sent
        if "usageMetadata" in m.message
    ]


def lines_of(call_id: str) -> tuple[list[str], int]:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(m.record["message"]),
        filter=lambda r: r["extra"].get("call_id") == call_id,
        level="INFO",
    )
    return lines, sink


async def test_usage_is_counted_per_modality_and_summed_in_one_line_at_the_end(
    tmp_path, speech_pcm
):
    events: list[CallEvent] = []
    lines, sink = lines_of("usage-call")

    async def script(s: LiveSession) -> None:
        for answer in ("Hello there.", "It is sunny."):
            await s.next_utterance()
            await s.say(answer, seconds=0.4)

    try:
        async with running_emulator(tmp_path, script=script) as emu:
            async with running_stage(emu, on_event=events_to(events), call_id="usage-call") as h:
                await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
                await h.feed(speech_pcm("what is the weather") + silence(1.0), realtime=False)
                await wait_until(lambda: sum(isinstance(e, TokensUsed) for e in events) == 2, 15)
    finally:
        logger.remove(sink)

    reported = sent_usage(emu)
    assert len(reported) == 2
    metrics = Metrics()
    for e in events:
        await metrics.on_call_event(e)

    def tokens(direction: str, modality: str) -> float:
        value = metrics.registry.get_sample_value(
            "livebot_live_tokens_total", {"direction": direction, "modality": modality}
        )
        return value or 0.0

    for direction, key in (
        ("prompt", "promptTokensDetails"),
        ("response", "responseTokensDetails"),
    ):
        for modality in ("AUDIO", "TEXT"):
            want = sum(
                d["tokenCount"] for u in reported for d in u[key] if d["modality"] == modality
            )
            assert tokens(direction, modality.lower()) == want, (direction, modality)
    total = sum(u["totalTokenCount"] for u in reported)
    assert total > 0
    summary = [line for line in lines if line.startswith("call usage:")]
    assert len(summary) == 1, lines[-5:]
    assert summary[0].startswith(f"call usage: {total} tokens in 2 turns")
    assert "prompt" in summary[0] and "audio" in summary[0]


async def test_the_token_cap_ends_the_call_with_a_goodbye_and_a_notice(tmp_path, speech_pcm):
    events: list[CallEvent] = []
    heard: list[Any] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Hello there, how can I help?", seconds=0.5)  # its usage passes the cap
        heard.append(await s.next_utterance())
        await s.say("Sorry, I have to end the call now. Goodbye!", seconds=0.8)
        await asyncio.sleep(30)

    live = replace(live_settings(), limits=LiveLimits(call_max_tokens=50))
    async with running_emulator(tmp_path, script=script) as emu:
        async with running_stage(emu, live=live, on_event=events_to(events)) as h:
            await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
            await wait_until(h.worker.has_finished, timeout=25)
            session = emu.sessions[0]

    assert CallCapReached("tokens") in events
    notice = page_message(CallCapReached("tokens"))
    assert notice is not None and notice["type"] == "notice" and "limit" in notice["text"]
    assert heard and heard[0].kind == "client_content" and GOODBYE in (heard[0].text or "")
    assert [t.text for t in session.turns if t.completed][-1].endswith("Goodbye!")
    assert h.recorder.audio_seconds() >= 0.5 + 0.8 - 0.1, "the goodbye was played out"


async def test_the_minutes_cap_ends_a_call_that_goes_on_too_long(tmp_path, speech_pcm):
    events: list[CallEvent] = []
    heard: list[Any] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Hello!", seconds=0.3)
        heard.append(await s.next_utterance())
        await s.say("Time is up, goodbye!", seconds=0.5)
        await asyncio.sleep(30)

    live = replace(live_settings(), limits=LiveLimits(call_max_minutes=0.05))  # 3 s
    async with running_emulator(tmp_path, script=script) as emu:
        async with running_stage(emu, live=live, on_event=events_to(events)) as h:
            await h.feed(speech_pcm("hello") + silence(1.0), realtime=False)
            await wait_until(h.worker.has_finished, timeout=25)
            session = emu.sessions[0]

    assert CallCapReached("minutes") in events
    assert heard and GOODBYE in (heard[0].text or "")
    assert [t.text for t in session.turns if t.completed][-1] == "Time is up, goodbye!"
