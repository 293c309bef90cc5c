"""The stall watch's decisions (bot/live/stall_watch.py), with a stand-in socket: when a
nudge goes out, when it must not, and what follows it."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from google.genai.types import FunctionResponse, LiveServerContent, TurnCompleteReason

from bot.events import CallEvent, LiveStalled
from bot.live.call_events import CallEvents
from bot.live.stall_watch import StallWatch

SECONDS = 0.3  # the watch's stall time here; each test waits a few of them at most
RATE = 16000


class Socket:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send_client_content(self, *, turns: Any = None, turn_complete: bool) -> None:
        self.sent.append(("client_content", turns))

    async def send_realtime_input(self, *, text: str) -> None:
        self.sent.append(("text", text))


class Stage:
    def __init__(self, gemini_3: bool = True) -> None:
        self.session: Any = Socket()
        self.realtime_ready = True
        self.closing = False
        self.gemini_3 = gemini_3
        self.moves = 0

    def create_task(self, coroutine: Any, name: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coroutine, name=name)

    async def cancel_task(self, task: asyncio.Task[None], timeout: float | None = None) -> None:
        task.cancel()


class Watched:
    def __init__(self, gemini_3: bool = True, words: str = "what time is it") -> None:
        self.stage = Stage(gemini_3)
        self.events: list[CallEvent] = []

        async def sink(event: CallEvent) -> None:
            self.events.append(event)

        async def move() -> None:
            self.stage.moves += 1

        self.watch = StallWatch(
            self.stage,  # type: ignore[arg-type]
            CallEvents(sink, self.stage.create_task),
            seconds=SECONDS,
            move=move,
            caller_words=lambda: words,
        )

    @property
    def sent(self) -> list[tuple[str, Any]]:
        return self.stage.session.sent

    def actions(self) -> list[str]:
        return [e.action for e in self.events if isinstance(e, LiveStalled)]

    async def wait_for(self, predicate: Any, stalls: float = 4) -> bool:
        try:
            async with asyncio.timeout(SECONDS * stalls):
                while not predicate():
                    await asyncio.sleep(0.02)
        except TimeoutError:
            return False
        return True


def audio(seconds: float, amplitude: int) -> list[bytes]:
    """20 ms frames of a tone (0: silence)."""
    t = np.arange(int(RATE * 0.02)) / RATE
    frame = (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes()
    return [frame] * round(seconds / 0.02)


def speak(w: Watched, seconds: float, amplitude: int = 3000, then_quiet: float = 1.0) -> None:
    for frame in audio(seconds, amplitude) + audio(then_quiet, 0):
        w.watch.caller_audio(frame, RATE)


async def test_no_answer_nudges_then_moves_then_gives_up():
    w = Watched()
    speak(w, 0.6)
    assert await w.wait_for(lambda: w.actions() == ["nudge"])
    assert w.sent == [("client_content", None), ("text", " ")]
    assert await w.wait_for(lambda: w.stage.moves == 1)
    w.watch.moved("stall")  # the new socket: nudged at once with the caller's words
    assert await w.wait_for(lambda: len(w.sent) == 4)
    turns = w.sent[2][1]
    assert "what time is it" in turns[0].parts[0].text
    assert await w.wait_for(lambda: "gave_up" in w.actions())
    assert w.actions() == ["nudge", "move", "gave_up"]
    assert {e.waiting_for for e in w.events if isinstance(e, LiveStalled)} == {"caller"}
    await w.watch.stop()


async def test_a_2_5_model_gets_no_blank_realtime_text():
    w = Watched(gemini_3=False)
    w.watch.caller_turn()
    assert await w.wait_for(lambda: w.sent)
    assert w.sent == [("client_content", None)]
    await w.watch.stop()


async def test_an_answer_ends_the_wait():
    w = Watched()
    speak(w, 0.6)
    w.watch.model_output()
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


@pytest.mark.parametrize(
    ("seconds", "amplitude"),
    [(2.0, 150), (0.1, 3000)],
    ids=["room noise", "a click"],
)
async def test_noise_and_clicks_are_not_a_caller_turn(seconds, amplitude):
    w = Watched()
    speak(w, seconds, amplitude)
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


async def test_no_nudge_while_the_caller_is_still_speaking():
    w = Watched()
    w.watch.caller_turn()  # a transcription piece while they speak
    for frame in audio(0.6, 3000):
        w.watch.caller_audio(frame, RATE)
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    speak(w, 0.0, then_quiet=1.0)  # now they stop
    assert await w.wait_for(lambda: w.sent)
    await w.watch.stop()


async def test_a_late_transcription_during_the_models_turn_does_not_arm():
    w = Watched()
    w.watch.model_output()
    w.watch.caller_turn()
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


async def test_a_pending_tool_call_holds_the_nudge_and_its_result_arms_the_watch():
    w = Watched()
    w.watch.tool_calls(["call-1"])  # a NON_BLOCKING call: the model's turn ends meanwhile
    w.watch.turn_ended(LiveServerContent(turn_complete=True))
    w.watch.caller_turn()  # the caller asks something while the tool runs
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    w.watch.tool_result(FunctionResponse(id="call-1", name="t", response={}, scheduling="SILENT"))
    assert await w.wait_for(lambda: w.sent)  # the caller's turn is due now
    await w.watch.stop()

    w = Watched()
    w.watch.tool_calls(["call-2"])
    w.watch.tool_result(
        FunctionResponse(id="call-2", name="t", response={}, scheduling="INTERRUPT")
    )
    assert await w.wait_for(lambda: w.actions() == ["nudge"])
    assert w.events[0].waiting_for == "tool_result"  # type: ignore[union-attr]
    await w.watch.stop()


async def test_a_silent_tool_result_is_not_waited_for():
    w = Watched()
    w.watch.tool_calls(["call-3"])
    w.watch.tool_result(FunctionResponse(id="call-3", name="t", response={}, scheduling="SILENT"))
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


async def test_a_rejected_turn_is_nudged_at_once_and_need_more_input_is_not():
    w = Watched()
    w.watch.caller_turn()
    w.watch.turn_ended(
        LiveServerContent(
            turn_complete=True, turn_complete_reason=TurnCompleteReason.RESPONSE_REJECTED
        )
    )
    assert await w.wait_for(lambda: w.actions() == ["nudge"], stalls=1)
    assert w.events[0].waiting_for == "rejected"  # type: ignore[union-attr]
    await w.watch.stop()

    w = Watched()
    w.watch.caller_turn()
    w.watch.turn_ended(
        LiveServerContent(
            turn_complete=True, turn_complete_reason=TurnCompleteReason.NEED_MORE_INPUT
        )
    )
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


async def test_an_empty_turn_after_the_caller_is_a_rejected_answer_but_not_after_barge_in():
    w = Watched()
    w.watch.caller_turn()
    w.watch.turn_ended(LiveServerContent(turn_complete=True))
    assert await w.wait_for(lambda: w.actions() == ["nudge"], stalls=1)
    await w.watch.stop()

    w = Watched()
    w.watch.model_output()
    w.watch.turn_ended(LiveServerContent(interrupted=True))
    w.watch.turn_ended(LiveServerContent(turn_complete=True))  # the end of the cut turn
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()


async def test_an_answer_cut_by_a_lost_socket_is_waited_for_on_the_new_one():
    w = Watched()
    w.watch.model_output()  # answering...
    w.watch.socket_lost()
    w.watch.moved("error")
    assert await w.wait_for(lambda: w.sent)
    turns = w.sent[0][1]
    assert "what time is it" in turns[0].parts[0].text, "the nudge says what was asked"
    assert w.events[0].waiting_for == "recovery"  # type: ignore[union-attr]
    await w.watch.stop()


async def test_a_move_without_a_pending_answer_nudges_nothing():
    w = Watched()
    w.watch.socket_lost()
    w.watch.moved("error")
    w.watch.moved("goaway")
    assert not await w.wait_for(lambda: w.sent, stalls=3)
    await w.watch.stop()
