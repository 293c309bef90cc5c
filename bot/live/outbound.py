"""The one way out to the Live socket: caller audio, typed text and tool results.

Why its own module: while the session moves to a new socket (goAway, a drop), there
is no socket to send on, and what the caller says meanwhile must not be lost or
reordered. Everything bound for Gemini goes through `Outbound`: sent at once while
the socket is open, held while it is not (or while a move is under way), and
delivered after the new `setupComplete` by `flush()` - pending tool results first
(the model is waiting for them), then the caller's audio and text in the order they
came. Held audio is bounded (`LIVE_HANDOVER_BUFFER_SECONDS`); the oldest goes first.

What went out on the old socket and no resumable handle holds (`replay_log.py`) is
sent again before what was held, so the new session hears the caller's whole
utterance. The backlog goes out at `CATCH_UP_SPEED` x real time, in the frames it
came in, not as one burst: the service's VAD times speech by the samples, so faster
than real time is heard the same (Google's own examples send a whole file at once),
but a bounded rate keeps the socket's send buffer and the server's input queue from
taking seconds of audio in one go; at 4x a 3 s backlog is sent in 0.75 s and live
audio catches up (it waits behind the backlog meanwhile).

Live sends and the flush use the same `_send_realtime`. With local turn detection
(`local_turns.py`) the audio outside the caller's turn stays in Pipecat's own
pre-roll; while input flows, Pipecat sends `activityStart` / `activityEnd` and the
pre-roll on the socket itself and they join the replay log here (`sent_elsewhere`);
during a move and its catch-up they are held and sent in order like the audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from google.genai.types import ActivityEnd, ActivityStart, Blob, FunctionResponse
from loguru import logger

from bot.live.replay_log import Entry, ReplayLog
from bot.media.formats import CALLER_AUDIO, PcmFormat, pcm_mime_type

CATCH_UP_SPEED = 4.0  # x real time, for the replayed and held backlog after a move


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
    # Local turn detection, no caller turn open: sent inside its own activityStart /
    # activityEnd (without Gemini's detection, "the client must send activity signals").
    own_turn: bool = False


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """`audioStreamEnd`: the caller's audio paused (`audio_stream_end.py`)."""


@dataclass(frozen=True, slots=True)
class Activity:
    """`activityStart` (`start`) or `activityEnd`: local turn detection (`local_turns.py`)."""

    start: bool


Realtime = Audio | Text | StreamEnd | Activity
SendError = Callable[[Exception], Awaitable[None]]
StartTask = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


class Outbound:
    """One call's queue to the Live socket."""

    def __init__(
        self,
        socket: LiveSocket,
        *,
        hold_seconds: float,
        on_send_error: SendError,
        replay_seconds: float = 15.0,
        catch_up_speed: float = CATCH_UP_SPEED,
        start_task: StartTask | None = None,
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
        self.replayed_seconds = 0.0  # caller audio sent again at the latest flush
        self.replay = ReplayLog(replay_seconds)
        self._catch_up_speed = catch_up_speed
        self._start_task = start_task  # the stage's (None: catch up inside `flush()`)
        self._catching_up = asyncio.Lock()
        self._pending: list[Entry] = []  # from the old socket, to send again first
        self._video: bytes | None = None  # the newest caller video frame held (JPEG)

    # ---- in -------------------------------------------------------------------

    async def audio(self, pcm: bytes, sample_rate: int, num_channels: int = 1) -> None:
        await self._realtime_input(Audio(pcm, sample_rate, num_channels))

    async def text(self, text: str, *, own_turn: bool = False) -> None:
        await self._realtime_input(Text(text, own_turn))

    async def stream_end(self) -> None:
        await self._realtime_input(StreamEnd())

    async def activity(self, start: bool) -> None:
        await self._realtime_input(Activity(start))

    @property
    def flowing(self) -> bool:
        """Input goes straight out now: nothing held or waiting ahead of it."""
        session = self._socket.session
        return not (self.held or self._realtime or session is None) and self._socket.realtime_ready

    def sent_elsewhere(self, item: Realtime, index: int | None) -> None:
        """`item` went out on the socket by another path (Pipecat's): kept to send again."""
        self.replay.sent(item, index, seconds=_seconds(item))

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
        """A move begins: keep everything until the new socket's `flush()`, and what
        no handle holds of the old socket's input, to send it again."""
        self.held = True
        self._pending += self.replay.take()

    def handle_arrived(self, last_consumed_index: int | None) -> None:
        """A resumable handle: what it holds need not be sent again."""
        self.replay.consumed(last_consumed_index)

    def model_spoke(self) -> None:
        """Model output: what the caller said so far was answered (see `flush(fresh=)`)."""
        self.replay.answered()

    # ---- out ------------------------------------------------------------------

    async def flush(self, *, fresh: bool = False) -> None:
        """After the new `setupComplete`: tool results, then what the old socket's
        session did not keep (`fresh`: a new session seeded with a summary gets only
        what was not answered), then what was held, in order, at `CATCH_UP_SPEED`."""
        session = self._socket.session
        if session is None:
            return
        while self._responses:
            response = self._responses.pop(0)
            self._log.info(f"sending tool result {response.id} held during the switch")
            await session.send_tool_response(function_responses=response)
        pending, self._pending = self._pending, []
        again = self.replay.unanswered(pending) if fresh else pending
        if self.replay.dropped_seconds:
            self._log.warning(
                f"{self.replay.dropped_seconds:.2f} s of caller audio were not kept to send "
                f"again: more than LIVE_REPLAY_SECONDS since the last resumable handle"
            )
            self.replay.dropped_seconds = 0.0
        replayed = sum(e.seconds for e in again)
        self.replayed_seconds = replayed
        self._realtime.extendleft(reversed([e.item for e in again]))
        self._audio_bytes += sum(len(e.item.pcm) for e in again if isinstance(e.item, Audio))
        if again:
            self._log.info(
                f"sending again {replayed:.2f} s of caller audio and "
                f"{sum(isinstance(e.item, Text) for e in again)} typed messages the session "
                "did not keep"
            )
        if self._start_task is None:
            await self._catch_up(session, replayed)
        else:
            # Not on the receive loop's time: a handle that arrives meanwhile is read
            # when it arrives (`ReplayLog.consumed` goes by arrival without an index).
            self._start_task(self._catch_up(session, replayed), "outbound_catch_up")

    async def _catch_up(self, session: Any, replayed: float) -> None:
        """Send the backlog at `CATCH_UP_SPEED`, then let input flow straight out."""
        async with self._catching_up:
            sent = 0
            started, ahead = time.monotonic(), 0.0
            while self._realtime:
                if self._socket.session is not session:
                    return  # another move began: its flush sends the rest
                item = self._realtime.popleft()
                try:
                    await self._send(session, item)
                except Exception as e:
                    self._realtime.appendleft(item)  # still held: the next move sends it
                    self._log.info(f"catching up stopped: the socket is gone ({e})")
                    return
                if isinstance(item, Audio):
                    self._audio_bytes -= len(item.pcm)
                    sent += len(item.pcm)
                    ahead += _seconds(item)
                    wait = started + ahead / self._catch_up_speed - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
            if self._video is not None:  # the newest frame only, after the audio
                jpeg, self._video = self._video, None
                with contextlib.suppress(Exception):  # a lost socket: the next frame comes
                    await _send_video(session, jpeg)
            if sent:
                self._log.info(
                    f"delivered {CALLER_AUDIO.seconds(sent):.2f} s of caller audio held during "
                    f"the switch ({replayed:.2f} s of it sent again) in "
                    f"{(time.monotonic() - started) * 1000:.0f} ms"
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
            await self._send(session, item)
        except Exception as e:
            self.replay.sent(item, None, seconds=_seconds(item), delivered=False)
            await self._on_send_error(e)

    async def _send(self, session: Any, item: Realtime) -> None:
        """Send `item` and keep it in the replay log with its client-message index."""
        index = getattr(session, "sent", None)  # the numbering session's next index
        await _send_realtime(session, item)
        self.replay.sent(item, index if isinstance(index, int) else None, seconds=_seconds(item))

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


def _seconds(item: Realtime) -> float:
    if not isinstance(item, Audio):
        return 0.0
    return PcmFormat(item.sample_rate, item.num_channels).seconds(len(item.pcm))


async def _send_realtime(session: Any, item: Realtime) -> None:
    """The one realtime send: PCM as `audio/pcm;rate=…`, or text."""
    if isinstance(item, Audio):
        await session.send_realtime_input(
            audio=Blob(data=item.pcm, mime_type=pcm_mime_type(item.sample_rate))
        )
    elif isinstance(item, Text) and item.own_turn:
        await session.send_realtime_input(activity_start=ActivityStart())
        await session.send_realtime_input(text=item.text)
        await session.send_realtime_input(activity_end=ActivityEnd())
    elif isinstance(item, Text):
        await session.send_realtime_input(text=item.text)
    elif isinstance(item, Activity):
        mark = (
            {"activity_start": ActivityStart()} if item.start else {"activity_end": ActivityEnd()}
        )
        await session.send_realtime_input(**mark)
    else:
        await session.send_realtime_input(audio_stream_end=True)


async def _send_video(session: Any, jpeg: bytes) -> None:
    await session.send_realtime_input(video=Blob(data=jpeg, mime_type="image/jpeg"))
