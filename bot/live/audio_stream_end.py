"""`audioStreamEnd` when the caller's audio stops: what is cached is heard now, not later.

Google's Live API guide: "When the audio stream is paused for more than a second (for
example, because the user switched off the microphone), an `audioStreamEnd` event
should be sent to flush any cached audio. The client can resume sending audio data at
any time." Pipecat never sends it. Without it, a caller whose packets stop in the
middle of a sentence (a network gap) leaves the server's VAD waiting for the silence
that would end the turn, and the question goes unanswered until audio comes back.

What counts is *no frames*, not quiet: a connected browser sends a packet every 20 ms
even when muted (silent frames; with DTX a comfort-noise packet every 400 ms, see
`bot/watchdog.py`), and our decoder does not fill gaps longer than 100 ms
(`bot/media/decoder.py`), so a second without any caller frame reaching the stage
means the stream paused. Quiet audio is left to Gemini's own VAD. One
`audioStreamEnd` per pause; the next frame goes out as always. Off with local turn
detection (`local_turns.py`): Google says to send it "only ... when automatic
activity detection is enabled", and there `activityEnd` ends the turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from loguru import logger

GAP_SECONDS = 1.0  # "paused for more than a second"
StartTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class AudioStreamEnd:
    """Watches the caller's frames into the stage; `send_end()` once per pause."""

    def __init__(
        self,
        send_end: Callable[[], Awaitable[None]],
        start_task: StartTask,
        *,
        gap_seconds: float = GAP_SECONDS,
        log: Any = logger,
    ) -> None:
        self.on = True  # off with local turn detection (`local_turns.TurnMarks`)
        self._send_end = send_end
        self._start_task = start_task
        self._gap = gap_seconds
        self._log = log
        self._last = 0.0
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def frame(self) -> None:
        """A caller audio frame reached the stage."""
        if not self.on:
            return
        self._last = time.monotonic()
        self._arrived.set()
        if self._task is None:
            self._task = self._start_task(self._watch(), "audio_stream_end")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        while True:
            left = self._last + self._gap - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            self.sent += 1
            self._log.info(f"no caller audio for {self._gap:g} s: sending audioStreamEnd")
            try:
                await self._send_end()
            except Exception as e:
                self._log.debug(f"audioStreamEnd not sent: {e}")
            self._arrived.clear()
            await self._arrived.wait()  # until the caller's audio comes back
