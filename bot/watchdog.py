"""Ends a call whose caller has vanished (laptop lid closed, Wi-Fi gone, tab frozen).

A vanished caller says no goodbye: no RTCP BYE, no data-channel close, no HTTP request.
WebRTC notices only when ICE consent freshness fails, about 30 s later, and all that
time the call holds a Gemini Live session open (billed, and counted against quotas).

But a connected caller is never quiet on the wire: browsers (and `bot.caller`) send an
RTP packet every 20 ms, silence included, even while the microphone is muted (a muted
track sends silent frames; Opus DTX still sends a comfort-noise packet every 400 ms),
and the transport turns each into an `InputAudioRawFrame`. So a gap of several seconds
with no inbound audio frame at all means the packets stopped, not that the caller is
quiet. `CallerWatchdog` sits right after `transport.input()`, notes each inbound audio
frame, and after `seconds` without one asks the pipeline to cancel (the Live stage then
closes its session). It arms on the first audio frame, so a slow ICE/TURN setup is not
mistaken for a vanished caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    CancelWorkerFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

DEFAULT_CALLER_GONE_SECONDS = 6.0
CHECK_INTERVAL = 0.25  # seconds between checks: detection is at most this much late


class CallerWatchdog(FrameProcessor):
    """Cancels the call after `seconds` without inbound caller audio (None/0: never).

    `on_gone(silent_for)` is called once, just before the cancel is requested.
    """

    def __init__(
        self,
        seconds: float | None = DEFAULT_CALLER_GONE_SECONDS,
        on_gone: Callable[[float], None] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds
        self.on_gone = on_gone
        #: `time.monotonic()` of the last inbound audio frame (None until the first).
        self.last_audio: float | None = None
        #: Set once the caller was declared gone.
        self.gone_after: float | None = None
        self._task: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.last_audio = time.monotonic()
        elif isinstance(frame, StartFrame):
            if self.seconds and self._task is None:
                self._task = self.create_task(self._watch(), "caller-watchdog")
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop()
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop()

    async def _stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await self.cancel_task(task)

    async def _watch(self) -> None:
        assert self.seconds
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            if self.last_audio is None:
                continue  # not armed until the caller's audio first arrives
            silent_for = time.monotonic() - self.last_audio
            if silent_for >= self.seconds:
                break
        self.gone_after = silent_for
        logger.warning(
            f"caller gone: no audio packets for {silent_for:.1f} s "
            f"(CALLER_GONE_SECONDS={self.seconds:g}); ending the call"
        )
        if self.on_gone is not None:
            self.on_gone(silent_for)
        self._task = None  # the cancel below stops us; don't cancel ourselves
        await self.push_frame(CancelWorkerFrame(reason="caller_gone"), FrameDirection.UPSTREAM)
