"""The one outbound queue to the Live socket, without a socket (bot/live/outbound.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.genai.types import FunctionResponse

from bot.live.outbound import Outbound
from bot.media.formats import CALLER_AUDIO


@dataclass
class FakeSession:
    sent: list[tuple[str, Any]] = field(default_factory=list)
    fail_tool_responses: bool = False

    async def send_realtime_input(self, *, audio: Any = None, text: str | None = None) -> None:
        if audio is not None:
            self.sent.append(("audio", (audio.data, audio.mime_type)))
        else:
            self.sent.append(("text", text))

    async def send_tool_response(self, *, function_responses: FunctionResponse) -> None:
        if self.fail_tool_responses:
            raise ConnectionError("socket closed")
        self.sent.append(("tool", function_responses.id))


@dataclass
class FakeSocket:
    session: FakeSession | None = None
    realtime_ready: bool = True
    closing: bool = False


def outbound(socket: FakeSocket, hold_seconds: float = 1.0) -> tuple[Outbound, list[Exception]]:
    errors: list[Exception] = []

    async def on_error(e: Exception) -> None:
        errors.append(e)

    return Outbound(socket, hold_seconds=hold_seconds, on_send_error=on_error), errors


def chunk(n: int) -> bytes:
    return bytes([n]) * CALLER_AUDIO.nbytes(0.020)


async def test_an_open_socket_gets_everything_at_once():
    session = FakeSession()
    out, _ = outbound(FakeSocket(session))
    await out.audio(chunk(1), CALLER_AUDIO.rate)
    await out.text("hello")
    await out.tool_response(FunctionResponse(id="c1", name="t", response={}))
    assert [kind for kind, _ in session.sent] == ["audio", "text", "tool"]
    assert session.sent[0][1][1] == "audio/pcm;rate=16000"


async def test_held_during_a_move_and_flushed_in_order_tool_results_first():
    socket = FakeSocket(FakeSession())
    out, _ = outbound(socket)
    out.hold()
    await out.audio(chunk(1), CALLER_AUDIO.rate)
    await out.text("typed")
    await out.tool_response(FunctionResponse(id="c1", name="t", response={}))
    await out.audio(chunk(2), CALLER_AUDIO.rate)
    assert socket.session and socket.session.sent == []
    socket.session = new = FakeSession()
    await out.flush()
    assert [(k, v if k != "audio" else v[0][0]) for k, v in new.sent] == [
        ("tool", "c1"),
        ("audio", 1),
        ("text", "typed"),
        ("audio", 2),
    ]
    assert not out.held
    await out.audio(chunk(3), CALLER_AUDIO.rate)  # open again: straight out
    assert new.sent[-1][1][0][0] == 3


async def test_no_socket_or_setup_not_done_holds_realtime_input():
    socket = FakeSocket(None)
    out, _ = outbound(socket)
    await out.audio(chunk(1), CALLER_AUDIO.rate)
    socket.session, socket.realtime_ready = FakeSession(), False
    await out.audio(chunk(2), CALLER_AUDIO.rate)
    assert socket.session.sent == []
    socket.realtime_ready = True
    await out.audio(chunk(3), CALLER_AUDIO.rate)  # behind what is held, not ahead of it
    assert socket.session.sent == []
    await out.flush()
    assert [v[0][0] for _, v in socket.session.sent] == [1, 2, 3]


async def test_held_audio_is_bounded_oldest_first_and_typed_text_is_kept():
    socket = FakeSocket(FakeSession())
    out, _ = outbound(socket, hold_seconds=0.040)  # two chunks
    out.hold()
    await out.text("first")
    for n in range(1, 5):
        await out.audio(chunk(n), CALLER_AUDIO.rate)
    await out.flush()
    assert [v if k == "text" else v[0][0] for k, v in socket.session.sent] == ["first", 3, 4]


async def test_a_tool_result_that_cannot_be_sent_is_kept_for_the_next_socket():
    socket = FakeSocket(FakeSession(fail_tool_responses=True))
    out, _ = outbound(socket)
    await out.tool_response(FunctionResponse(id="c9", name="t", response={}))
    socket.session = FakeSession()
    await out.flush()
    assert socket.session.sent == [("tool", "c9")]


async def test_a_failed_realtime_send_is_reported_and_nothing_is_sent_while_closing():
    class Broken(FakeSession):
        async def send_realtime_input(self, **_: Any) -> None:
            raise ConnectionError("gone")

    socket = FakeSocket(Broken())
    out, errors = outbound(socket)
    await out.text("x")
    assert len(errors) == 1
    socket.closing, socket.session = True, FakeSession()
    await out.audio(chunk(1), CALLER_AUDIO.rate)
    await out.flush()
    assert socket.session.sent == []
