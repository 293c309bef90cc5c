"""A model that does not answer, on the wire: the stall watch nudges it, then moves the
session; a close after setupComplete (1008, 1011, 1006) is a lost socket, and the cut
answer is given again (bot/live/stall_watch.py, bot/live/session_moves.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from bot.admission import Admission
from bot.events import CallEvent, LiveStalled, SessionLost, SessionMoved, StallRecovered
from bot.feed import page_message
from bot.metrics import Metrics
from gemini_emulator import LiveSession, Utterance
from gemini_emulator.faults import (
    INTERNAL_ERROR,
    NOT_IMPLEMENTED,
    cut_answer,
    is_nudge,
    reject_turn,
    stall,
)
from gemini_emulator.testing import running_emulator
from tests.live.harness import live_settings, running_stage, silence
from tests.live.test_stage import wait_until
from tools.api import Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(60)
STALL_SECONDS = 1.5  # short, so the tests are quick; the end-to-end test runs the default


@dataclass
class Watched:
    """A call's events, fed to the consumers the bot has (metrics, admission)."""

    events: list[CallEvent] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    admission: Admission = field(default_factory=lambda: Admission(max_calls=5))

    async def __call__(self, event: CallEvent) -> None:
        self.events.append(event)
        await self.metrics.on_call_event(event)
        await self.admission.on_call_event(event)

    def stalls(self) -> list[str]:
        return [e.action for e in self.events if isinstance(e, LiveStalled)]

    def counted(self, action: str, waiting_for: str) -> float:
        return self.metrics.stalls.labels(action, waiting_for)._value.get()


async def next_nudge(s: LiveSession) -> Utterance:
    while not is_nudge(utt := await s.next_utterance()):
        pass
    return utt


def notices(events: list[CallEvent]) -> list[str]:
    shown = [page_message(e) for e in events]
    return [d.get("text", "") for d in shown if d is not None and d["type"] == "notice"]


def recovered_after_stall(events: list[CallEvent]) -> bool:
    """The page was told the stall is over: a StallRecovered after the last LiveStalled."""
    kinds = [type(e) for e in events]
    last_stall = max(i for i, k in enumerate(kinds) if k is LiveStalled)
    return StallRecovered in kinds[last_stall:]


async def test_a_stalled_answer_is_recovered_by_a_nudge(tmp_path, speech_pcm):
    seen: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        seen["nudge"] = await stall(s, heard="what time is it", nudge="helps")
        seen["answered_at"] = time.monotonic()
        await s.say("It is noon.", seconds=0.5)

    watched = Watched()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=live_settings(stall_seconds=STALL_SECONDS), on_event=watched) as h,
    ):
        await h.feed(speech_pcm("what time is it") + silence(1.0), realtime=False)
        await wait_until(lambda: h.recorder.audio_seconds() >= 0.4, timeout=20)
        await wait_until(lambda: emu.sessions, timeout=10)
        session = emu.sessions[0]
        await wait_until(lambda: session.turns and session.turns[-1].completed, timeout=10)

    assert watched.stalls() == ["nudge"]
    assert watched.counted("nudge", "caller") == 1
    assert len(emu.connections) == 1, "a nudge on the same socket, no move"
    nudges = emu.received_of("clientContent")
    assert nudges and nudges[-1].body.get("turnComplete") is True
    # a 3.x model runs no inference without a realtime input: a blank text follows
    texts = [r.body.get("text") for r in emu.received_of("realtimeInput", "text")]
    assert " " in texts
    assert any("slow to answer" in n for n in notices(watched.events))
    assert recovered_after_stall(watched.events), "the page's stall notice goes"
    assert session.turns[-1].completed and not h.stage.lost


async def test_a_stall_the_nudge_does_not_fix_is_recovered_by_a_move(tmp_path, speech_pcm):
    seen: dict = {}

    async def script(s: LiveSession) -> None:
        seen["first"] = await s.next_utterance()
        seen["stuck"] = s.connection
        seen["ended_by"] = await stall(s, heard="what is the weather", nudge="ignored")
        seen["reanswer"] = await s.next_utterance()  # on the new socket
        await s.say("It is sunny.", seconds=0.5)

    watched = Watched()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=live_settings(stall_seconds=STALL_SECONDS), on_event=watched) as h,
    ):
        await h.feed(speech_pcm("what is the weather") + silence(1.0), realtime=False)
        await wait_until(lambda: emu.sessions, timeout=10)
        session = emu.sessions[0]
        await wait_until(lambda: session.turns and session.turns[-1].completed, timeout=30)
        await wait_until(lambda: h.recorder.audio_seconds() >= 0.4, timeout=10)

    assert watched.stalls() == ["nudge", "move"]
    assert watched.counted("move", "caller") == 1
    assert SessionMoved in {type(e) for e in watched.events}
    assert [e.reason for e in watched.events if isinstance(e, SessionMoved)] == ["stall"]
    assert seen["ended_by"] is None, "the stuck socket was left for a new one"
    assert len(emu.sessions) == 1 and emu.connections[-1].resumed_from is not None
    # the new socket heard the question again (no handle held it: the replay), once,
    # and was not told it a second time in words
    again = seen["reanswer"]
    assert again.kind == "audio" and again.connection == emu.connections[-1].index
    assert again.duration >= 0.9 * seen["first"].duration
    assert not [u for u in session.utterances if u.kind == "client_content" and u.text]
    assert session.turns[-1].connection == emu.connections[-1].index
    assert any("reconnecting" in n for n in notices(watched.events))
    assert recovered_after_stall(watched.events), "the page's stall notice goes"
    assert not h.stage.lost


async def test_a_rejected_turn_is_nudged_at_once(tmp_path, speech_pcm):
    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.send_raw(s.transcribe("tell me a joke"))
        await reject_turn(s, "RESPONSE_REJECTED")
        await next_nudge(s)
        await s.say("Here is one.", seconds=0.5)

    watched = Watched()
    # a long stall time: the rejection, not the clock, brings the nudge
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=live_settings(stall_seconds=20.0), on_event=watched) as h,
    ):
        await h.feed(speech_pcm("tell me a joke") + silence(1.0), realtime=False)
        await wait_until(lambda: emu.sessions, timeout=10)
        session = emu.sessions[0]
        await wait_until(lambda: session.turns and session.turns[-1].completed, timeout=10)
        await wait_until(lambda: h.recorder.audio_seconds() >= 0.4, timeout=10)

    assert watched.stalls() == ["nudge"]
    assert watched.counted("nudge", "rejected") == 1
    assert len(emu.connections) == 1


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1008, NOT_IMPLEMENTED), (1011, INTERNAL_ERROR), (None, "")],
    ids=["1008", "1011", "1006"],
)
async def test_a_close_mid_answer_resumes_and_the_answer_is_given_again(
    tmp_path, speech_pcm, code, reason
):
    seen: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        seen["cut_on"] = s.connection
        seen["cut"] = await cut_answer(
            s,
            "Once upon a time there was a very long story.",
            seconds=3.0,
            after=0.6,
            code=code,
            reason=reason,
            heard="tell me a story",
        )
        seen["new"] = await s.wait_reconnect(timeout=15, after=seen["cut_on"])
        seen["reanswer"] = await next_nudge(s)
        await s.say("Once upon a time, again.", seconds=1.0)  # heard whole: >= 0.9 s

    watched = Watched()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, live=live_settings(stall_seconds=STALL_SECONDS), on_event=watched) as h,
    ):
        await h.feed(speech_pcm("tell me a story") + silence(1.0), realtime=False)
        await wait_until(lambda: emu.sessions, timeout=10)
        session = emu.sessions[0]
        await wait_until(lambda: len(session.turns) == 2 and session.turns[1].completed, timeout=30)
        await wait_until(lambda: h.recorder.audio_seconds() >= 0.9, timeout=10)

    cut_on = seen["cut_on"]
    assert cut_on.close_code == (code or 1006)
    assert seen["cut"].disconnected, "the first answer was cut"
    assert len(emu.sessions) == 1 and seen["new"].resumed_from is not None, "resumed"
    assert "tell me a story" in (seen["reanswer"].text or "")
    assert session.turns[1].connection == seen["new"].index
    assert not any(isinstance(e, SessionLost) for e in watched.events)
    assert not h.stage.lost and h.stage.reconnects == 1
    assert not watched.admission.live_down


async def test_a_mid_call_1008_before_the_first_handle_starts_afresh_and_admission_stays_open(
    tmp_path, speech_pcm
):
    """No handle yet (resumption off here): a fresh session seeded with the summary,
    not a refusal - new callers are still admitted."""

    async def script(s: LiveSession) -> None:
        if s is emu.sessions[0]:
            await s.next_utterance()
            await s.say("Paris is lovely.", seconds=0.3, transcribe_input="tell me about paris")
            await s.close(1008, NOT_IMPLEMENTED)
            return
        await s.next_utterance()
        await s.say("As I said, Paris.", seconds=0.3)

    watched = Watched()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(
            emu,
            live=live_settings(session_resumption=False, stall_seconds=STALL_SECONDS),
            on_event=watched,
        ) as h,
    ):
        await h.feed(speech_pcm("tell me about paris") + silence(1.0), realtime=False)
        await wait_until(lambda: len(emu.sessions) == 2, timeout=15)
        await h.feed(speech_pcm("and the weather") + silence(1.2), realtime=False)
        await wait_until(lambda: emu.sessions[1].turns, timeout=15)

    assert emu.connections[0].close_code == 1008
    assert emu.connections[1].resumed_from is None, "a fresh session"
    seed = "".join(
        p.get("text", "")
        for r in emu.received_of("clientContent", session=emu.sessions[1].id)
        for t in r.body.get("turns", [])
        for p in t.get("parts", [])
    )
    assert "Caller: tell me about paris" in seed
    assert emu.sessions[1].turns[0].completed
    assert not any(isinstance(e, SessionLost) for e in watched.events)
    assert not h.stage.lost
    assert watched.admission.refusal(active_calls=0) is None, "admission did not cool down"


async def test_a_tool_result_the_model_does_not_speak_about_is_nudged(tmp_path, speech_pcm):
    @tool(scheduling=Scheduling.INTERRUPT)
    async def time_now() -> dict:
        """The time now."""
        return {"time": "12:00"}

    seen: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        call_id = await s.call_tool("time_now", {})
        seen["result"] = await s.tool_response(call_id)
        seen["nudge"] = await stall(s, nudge="helps")
        await s.say("It is noon.", seconds=0.5)

    watched = Watched()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(
            emu,
            tools=ToolRegistry([time_now]),
            live=live_settings(stall_seconds=STALL_SECONDS),
            on_event=watched,
        ) as h,
    ):
        await h.feed(speech_pcm("what time is it") + silence(1.0), realtime=False)
        await wait_until(lambda: emu.sessions, timeout=10)
        session = emu.sessions[0]
        await wait_until(lambda: session.turns and session.turns[-1].completed, timeout=20)
        await wait_until(lambda: h.recorder.audio_seconds() >= 0.4, timeout=10)

    assert seen["result"].response == {"time": "12:00"}
    assert watched.stalls() == ["nudge"]
    assert watched.counted("nudge", "tool_result") == 1
    assert watched.counted("nudge", "caller") == 0, "the tool call was the model's answer"
