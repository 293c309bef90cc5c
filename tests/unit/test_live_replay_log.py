"""The replay log: the caller's input a resumable handle may not hold (bot/live/replay_log.py),
and the outbound queue sending it again after a move (bot/live/outbound.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bot.live.outbound import Audio, Outbound, Text
from bot.live.replay_log import MAX_TEXTS, NumberedSession, ReplayLog
from bot.media.formats import CALLER_AUDIO

FRAME = CALLER_AUDIO.nbytes(0.020)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def frame(n: int) -> Audio:
    return Audio(bytes([n]) * FRAME, CALLER_AUDIO.rate)


def test_a_handle_with_an_index_lets_go_of_what_it_holds_and_keeps_the_rest():
    log = ReplayLog(15.0)
    for i in range(5):
        log.sent(frame(i), i, seconds=0.02)
    assert log.consumed(2) == 3
    assert [e.item.pcm[0] for e in log.take()] == [3, 4]
    assert len(log) == 0 and log.seconds == 0


def test_a_handle_without_an_index_holds_what_was_sent_before_it_arrived():
    clock = Clock()
    log = ReplayLog(15.0, clock=clock)
    log.sent(frame(1), 0, seconds=0.02)
    clock.t = 1.0
    log.consumed(None)
    clock.t = 1.5
    log.sent(frame(2), 1, seconds=0.02)
    assert [e.item.pcm[0] for e in log.take()] == [2]


def test_a_failed_send_is_kept_whatever_a_handle_says():
    clock = Clock()
    log = ReplayLog(15.0, clock=clock)
    log.sent(Text("lost on the way"), None, delivered=False)
    clock.t = 5.0
    log.consumed(None)
    log.consumed(99)
    assert [e.item for e in log.take()] == [Text("lost on the way")]


def test_audio_is_bounded_oldest_first_and_typed_text_is_kept():
    log = ReplayLog(0.1)  # five frames
    log.sent(Text("typed"), 0)
    for i in range(1, 9):
        log.sent(frame(i), i, seconds=0.02)
    kept = log.take()
    assert kept[0].item == Text("typed")
    assert [e.item.pcm[0] for e in kept[1:]] == [4, 5, 6, 7, 8]
    assert abs(log.dropped_seconds - 0.06) < 1e-9


def test_typed_text_is_bounded_too():
    log = ReplayLog(1.0)
    for i in range(MAX_TEXTS + 3):
        log.sent(Text(str(i)), i)
    kept = log.take()
    assert len(kept) == MAX_TEXTS and kept[0].item == Text("3")


def test_a_fresh_session_gets_only_what_the_model_did_not_answer():
    log = ReplayLog(15.0)
    log.sent(frame(1), 0, seconds=0.02)
    log.answered()
    log.sent(frame(2), 1, seconds=0.02)
    entries = log.take()
    assert [e.item.pcm[0] for e in log.unanswered(entries)] == [2]


@dataclass
class Wire:
    sent: list[tuple[str, Any]] = field(default_factory=list)
    fail: bool = False

    async def send_realtime_input(self, *, audio: Any = None, text: str | None = None) -> None:
        if self.fail:
            raise ConnectionError("socket closed")
        self.sent.append(("audio", audio.data[0]) if audio is not None else ("text", text))

    async def send_client_content(self, **_: Any) -> None:
        self.sent.append(("content", None))

    async def send_tool_response(self, **_: Any) -> None:
        self.sent.append(("tool", None))


@dataclass
class Socket:
    session: Any = None
    realtime_ready: bool = True
    closing: bool = False


def queue(socket: Socket) -> Outbound:
    async def on_error(e: Exception) -> None:
        pass

    return Outbound(socket, hold_seconds=5.0, on_send_error=on_error, catch_up_speed=1000.0)


async def test_numbering_counts_every_client_message_from_zero():
    wire = NumberedSession(Wire())
    socket = Socket(wire)
    out = queue(socket)
    await wire.send_client_content(turns=[], turn_complete=False)  # index 0: not ours
    await out.audio(frame(1).pcm, CALLER_AUDIO.rate)  # 1
    await out.text("hi")  # 2
    await out.audio(frame(3).pcm, CALLER_AUDIO.rate)  # 3
    out.handle_arrived(2)  # holds up to "hi"
    out.hold()
    socket.session = new = NumberedSession(Wire())
    await out.flush()
    assert new._session.sent == [("audio", 3)]
    assert new.sent == 1


async def test_after_a_drop_the_unheld_input_goes_first_then_what_was_held_in_order():
    socket = Socket(NumberedSession(Wire()))
    out = queue(socket)
    out.handle_arrived(None)
    await out.audio(frame(1).pcm, CALLER_AUDIO.rate)
    await out.text("typed before the drop")
    socket.session._session.fail = True
    await out.audio(frame(2).pcm, CALLER_AUDIO.rate)  # the socket is gone: kept
    out.hold()
    await out.text("typed during the move")
    await out.audio(frame(3).pcm, CALLER_AUDIO.rate)
    socket.session = new = NumberedSession(Wire())
    await out.flush()
    assert new._session.sent == [
        ("audio", 1),
        ("text", "typed before the drop"),
        ("audio", 2),
        ("text", "typed during the move"),
        ("audio", 3),
    ]
    assert not out.held
    # sent again on the new socket, so kept again until a handle there holds it
    assert len(out.replay) == 5


async def test_a_fresh_session_is_not_told_again_what_the_model_answered():
    socket = Socket(NumberedSession(Wire()))
    out = queue(socket)
    await out.audio(frame(1).pcm, CALLER_AUDIO.rate)
    out.model_spoke()
    await out.audio(frame(2).pcm, CALLER_AUDIO.rate)
    out.hold()
    socket.session = new = NumberedSession(Wire())
    await out.flush(fresh=True)
    assert new._session.sent == [("audio", 2)]


async def test_a_drop_during_the_replay_keeps_the_rest_for_the_next_socket():
    socket = Socket(NumberedSession(Wire()))
    out = queue(socket)
    for i in range(1, 4):
        await out.audio(frame(i).pcm, CALLER_AUDIO.rate)
    out.hold()
    broken = Wire(fail=True)
    socket.session = NumberedSession(broken)
    try:
        await out.flush()
    except ConnectionError:
        pass
    out.hold()
    socket.session = new = NumberedSession(Wire())
    await out.flush()
    assert new._session.sent == [("audio", 1), ("audio", 2), ("audio", 3)]


async def test_a_move_during_the_catch_up_leaves_the_rest_to_the_next_socket():
    socket = Socket(NumberedSession(Wire()))

    async def on_error(e: Exception) -> None:
        pass

    out = Outbound(socket, hold_seconds=5.0, on_send_error=on_error, catch_up_speed=4.0)
    for i in range(1, 6):
        await out.audio(frame(i).pcm, CALLER_AUDIO.rate)
    out.hold()
    socket.session = first = NumberedSession(Wire())
    flushing = asyncio.create_task(out.flush())
    await asyncio.sleep(0.012)  # two frames out at 4x (5 ms each)
    out.hold()  # the new socket drops too
    socket.session = second = NumberedSession(Wire())
    await flushing
    await out.flush()
    sent_first = [n for _, n in first._session.sent]
    assert sent_first and sent_first == list(range(1, len(sent_first) + 1))
    # the second socket gets everything again, once each, in order
    assert [n for _, n in second._session.sent] == [1, 2, 3, 4, 5]
