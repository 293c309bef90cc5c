"""What the emulator saw and did: per-message and per-connection records, and what a
script reads of its session (caller utterances, function responses, model turns)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .audio import INPUT_RATE
from .protocol import encode

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = [
    "ConnectionRecord",
    "FunctionResponseRecord",
    "ReceivedRecord",
    "SentRecord",
    "TurnResult",
    "Utterance",
]


@dataclass(frozen=True)
class ReceivedRecord:
    """One client message, in arrival order.

    ``kind`` is the top-level key (``setup``, ``realtimeInput``, ``clientContent``,
    ``toolResponse``) or ``invalid`` for frames that could not be parsed.
    ``message`` has camelCase keys; ``raw`` is exactly what was received.
    """

    connection: int
    session: str | None
    t: float
    kind: str
    message: dict[str, Any]
    raw: Any

    @property
    def body(self) -> dict[str, Any]:
        value = self.message.get(self.kind)
        return value if isinstance(value, dict) else {}

    @property
    def sub(self) -> str | None:
        """For ``realtimeInput``: ``audio``, ``mediaChunks``, ``text``, ``activityStart``..."""
        return next(iter(self.body), None) if self.kind == "realtimeInput" else None


@dataclass(frozen=True)
class SentRecord:
    """One server message."""

    connection: int
    t: float
    message: dict[str, Any]

    @property
    def kind(self) -> str:
        return next(iter(self.message), "")


@dataclass
class ConnectionRecord:
    """One WebSocket connection (a logical session can span several)."""

    index: int
    path: str
    headers: dict[str, str]
    api_key: str | None
    opened_at: float = field(default_factory=time.monotonic)
    api_version: str | None = None
    session_id: str | None = None
    #: The setup body (camelCase) and the raw setup message.
    setup: dict[str, Any] | None = None
    raw_setup: Any = None
    setup_at: float | None = None
    #: The handle this connection resumed from, if any.
    resumed_from: str | None = None
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: Literal["server", "client"] | None = None
    audio_bytes: int = 0
    sent: list[SentRecord] = field(default_factory=list)
    ws: ServerConnection | None = field(default=None, repr=False)
    #: Set as soon as the server decides to close (before the handshake ends).
    closing: bool = False
    #: Keep model audio messages in ``sent``.
    record_audio: bool = True

    @property
    def pings(self) -> int:
        """Pings received from the client on this socket."""
        return int(getattr(self.ws, "pings", 0))

    @property
    def open(self) -> bool:
        return (
            self.ws is not None
            and not self.closing
            and self.closed_at is None
            and self.ws.state is State.OPEN
        )

    async def send(self, message: dict[str, Any]) -> None:
        """Send one server message (binary frame); raises ConnectionClosed."""
        if self.ws is None or self.closing:
            raise ConnectionClosed(None, None)
        if self.record_audio or "modelTurn" not in message.get("serverContent", {}):
            self.sent.append(SentRecord(self.index, time.monotonic(), message))
        await self.ws.send(encode(message))

    async def close(self, code: int, reason: str = "") -> None:
        """Close from the server side and record why."""
        if self.ws is None or self.closing or self.closed_at is not None:
            return
        # a close reason is limited to 123 bytes (RFC 6455 control frame)
        reason = reason.encode("utf-8")[:123].decode("utf-8", "ignore")
        self.closing = True
        self.close_code, self.close_reason, self.closed_by = code, reason, "server"
        await self.ws.close(code, reason)


@dataclass
class Utterance:
    """One unit of caller input.

    ``kind`` is ``"audio"`` (VAD or manual activity window; ``pcm`` is 16 kHz int16),
    ``"text"`` (``realtimeInput.text``) or ``"client_content"`` (a ``clientContent``
    with ``turnComplete``; ``text`` joins its text parts).
    """

    kind: Literal["audio", "text", "client_content"]
    connection: int
    pcm: bytes = b""
    text: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float = field(default_factory=time.monotonic)
    #: True if it started while the model was speaking (a barge-in).
    barge_in: bool = False
    turns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / INPUT_RATE


@dataclass
class FunctionResponseRecord:
    """One ``functionResponses[]`` entry received from the client.

    ``scheduling`` is the FunctionResponse field if set, else ``response["scheduling"]``;
    both raw places are kept.  ``known`` is False if the session did not know the id
    (never issued, or forgotten by resuming from an older handle).
    """

    id: str | None
    name: str | None
    response: dict[str, Any]
    will_continue: bool
    scheduling: str | None
    scheduling_field: str | None
    response_scheduling: str | None
    connection: int
    session: str
    t: float
    known: bool
    raw: dict[str, Any]

    @property
    def final(self) -> bool:
        return not self.will_continue

    @classmethod
    def of(
        cls, fr: dict[str, Any], connection: int, session: str, *, known: bool
    ) -> FunctionResponseRecord:
        """The record of one received ``functionResponses[]`` entry ``fr``."""
        response = fr.get("response")
        if not isinstance(response, dict):
            response = {} if response is None else {"output": response}
        sched_field = fr.get("scheduling")
        sched_resp = response.get("scheduling")
        return cls(
            id=fr.get("id"),
            name=fr.get("name"),
            response=response,
            will_continue=bool(fr.get("willContinue", False)),
            scheduling=sched_field or (sched_resp if isinstance(sched_resp, str) else None),
            scheduling_field=sched_field,
            response_scheduling=sched_resp if isinstance(sched_resp, str) else None,
            connection=connection,
            session=session,
            t=time.monotonic(),
            known=known,
            raw=fr,
        )


@dataclass
class TurnResult:
    """Outcome of :meth:`LiveSession.say` (truthy when the turn completed)."""

    text: str
    audio_seconds: float
    completed: bool = False
    interrupted: bool = False
    disconnected: bool = False
    connection: int = -1

    def __bool__(self) -> bool:
        return self.completed
