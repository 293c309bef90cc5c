"""The one way out to the Live socket: caller audio, typed text and tool results.

Why its own module: while the session moves to a new socket (goAway, a drop), there
is no socket to send on, and what the caller says meanwhile must not be lost or
reordered. Everything bound for Gemini goes through `Outbound`: sent at once while
the socket is open, held while it is not (or while a move is under way), and
delivered after the new `setupComplete` by `flush()` - pending tool results first
(the model is waiting for them), then the caller's audio and text in the order they
came. Held audio is bounded (`LIVE_HANDOVER_BUFFER_SECONDS`); the oldest goes first.

Live sends and the flush use the same `_send_realtime`. (Pipecat's own
`_send_user_audio` also keeps a pre-roll when server VAD is disabled; our settings
never disable it, so every frame is sent as it comes, as Pipecat does then.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from google.genai.types import Blob, FunctionResponse
from loguru import logger

from bot.media.formats import CALLER_AUDIO, PcmFormat, pcm_mime_type


class LiveSocket(Protocol):
    """What the outbound queue needs to know of the stage's socket."""

    @property
    def session(self) -> Any | None: ...  # google-genai's AsyncSession, or None

    @property
    def realtime_ready(self) -> bool: ...  # setup (and any seeding) is done

    @property
    def closing(self) -> bool: ...  # the stage is disconnecting for good


@dataclass(frozen=True, slots=True)
class Audio:
    pcm: bytes
    sample_rate: int
    num_channels: int = 1


@dataclass(frozen=True, slots=True)
class Text:
    text: str


Realtime = Audio | Text
SendError = Callable[[Exception], Awaitable[None]]


class Outbound:
    """One call's queue to the Live socket."""

    def __init__(
        self,
        socket: LiveSocket,
        *,
        hold_seconds: float,
        on_send_error: SendError,
        log: Any = logger,
    ) -> None:
        self._socket = socket
        self._hold_seconds = hold_seconds
        self._on_send_error = on_send_error
        self._log = log
        self.held = False  # a move is under way: hold everything until `flush()`
        self._responses: list[FunctionResponse] = []
        self._realtime: deque[Realtime] = deque()
        self._audio_bytes = 0
        self._dropped = 0
        self._video: bytes | None = None  # the newest caller video frame held (JPEG)

    # ---- in -------------------------------------------------------------------

    async def audio(self, pcm: bytes, sample_rate: int, num_channels: int = 1) -> None:
        await self._realtime_input(Audio(pcm, sample_rate, num_channels))

    async def text(self, text: str) -> None:
        await self._realtime_input(Text(text))

    async def video(self, jpeg: bytes) -> None:
        """A caller video frame: sent now, or kept (only the newest) until `flush()`."""
        session = self._socket.session
        if self._socket.closing:
            return
        if self.held or self._realtime or session is None or not self._socket.realtime_ready:
            self._video = jpeg  # older held frames are stale: never replayed
            return
        try:
            await _send_video(session, jpeg)
        except Exception as e:
            await self._on_send_error(e)

    async def tool_response(self, response: FunctionResponse) -> None:
        session = self._socket.session
        if self.held or session is None:
            self._responses.append(response)
            return
        try:
            await session.send_tool_response(function_responses=response)
        except Exception as e:
            self._log.warning(f"tool result {response.id} could not be sent ({e}); kept for resend")
            self._responses.append(response)

    def hold(self) -> None:
        """A move begins: keep everything until the new socket's `flush()`."""
        self.held = True

    # ---- out ------------------------------------------------------------------

    async def flush(self) -> None:
        """After the new `setupComplete`: tool results, then realtime input, in order."""
        session = self._socket.session
        if session is None:
            return
        while self._responses:
            response = self._responses.pop(0)
            self._log.info(f"sending tool result {response.id} held during the switch")
            await session.send_tool_response(function_responses=response)
        sent = 0
        while self._realtime:
            item = self._realtime.popleft()
            if isinstance(item, Audio):
                self._audio_bytes -= len(item.pcm)
                sent += len(item.pcm)
            await _send_realtime(session, item)
        if self._video is not None:
            jpeg, self._video = self._video, None
            await _send_video(session, jpeg)
        if sent:
            self._log.info(
                f"delivered {CALLER_AUDIO.seconds(sent):.2f} s of caller audio held during the switch"
            )
        if self._dropped:
            self._log.warning(
                f"{self._dropped} caller audio bytes were dropped: the switch took "
                f"longer than LIVE_HANDOVER_BUFFER_SECONDS"
            )
            self._dropped = 0
        self.held = False

    # ---- internals -----------------------------------------------------------

    async def _realtime_input(self, item: Realtime) -> None:
        if self._socket.closing:
            return
        session = self._socket.session
        if self.held or self._realtime or session is None or not self._socket.realtime_ready:
            self._hold(item)
            return
        try:
            await _send_realtime(session, item)
        except Exception as e:
            await self._on_send_error(e)

    def _hold(self, item: Realtime) -> None:
        """Keep realtime input while there is no socket to send it on (audio bounded)."""
        self._realtime.append(item)
        if not isinstance(item, Audio):
            return
        self._audio_bytes += len(item.pcm)
        limit = int(
            self._hold_seconds * PcmFormat(item.sample_rate, item.num_channels).bytes_per_second
        )
        while self._audio_bytes > limit:
            old = next((x for x in self._realtime if isinstance(x, Audio)), None)
            if old is None:
                break
            if self._realtime[0] is old:
                self._realtime.popleft()
            else:
                self._realtime.remove(old)  # the oldest audio; held text is kept
            self._audio_bytes -= len(old.pcm)
            self._dropped += len(old.pcm)


async def _send_realtime(session: Any, item: Realtime) -> None:
    """The one realtime send: PCM as `audio/pcm;rate=…`, or text."""
    if isinstance(item, Audio):
        await session.send_realtime_input(
            audio=Blob(data=item.pcm, mime_type=pcm_mime_type(item.sample_rate))
        )
    else:
        await session.send_realtime_input(text=item.text)


async def _send_video(session: Any, jpeg: bytes) -> None:
    await session.send_realtime_input(video=Blob(data=jpeg, mime_type="image/jpeg"))
