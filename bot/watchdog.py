"""Ends a call whose caller has vanished (laptop lid closed, Wi-Fi gone, tab frozen).

A vanished caller says no goodbye: no RTCP BYE, no data-channel close, no HTTP request.
WebRTC notices only when ICE consent freshness fails, about 30 s later, and all that
time the call holds a Gemini Live session open (billed, and counted against quotas).

But a connected caller is never quiet on the wire: browsers (and `caller`) send an
RTP packet every 20 ms, silence included, even while the microphone is muted (a muted
track sends silent frames; Opus DTX still sends a comfort-noise packet every 400 ms),
and the transport turns each into an `InputAudioRawFrame`. So a gap of several seconds
with no inbound audio frame at all means the packets stopped, not that the caller is
quiet. `CallerWatchdog` sits right after `transport.input()`, notes each inbound audio
frame, and after `seconds` without one asks the pipeline to cancel (the Live stage then
closes its session). The gap is counted from the first audio frame, so a slow ICE/TURN
setup is not mistaken for a vanished caller; but a call whose caller never gets through
at all (an offer posted and abandoned, unusable candidates or fingerprint) is ended after
`connect_seconds`, instead of holding a Live session and a place in the room until ICE
gives up (over a minute, or never when the offer has no candidates).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

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

DEFAULT_CALLER_GONE_SECONDS = 8.0
DEFAULT_CONNECT_SECONDS = 20.0  # ICE + DTLS take 1-5 s even through a TURN relay
CHECK_INTERVAL = 0.25  # seconds between checks: detection is at most this much late


class CallerWatchdog(FrameProcessor):
    """Cancels the call after `seconds` without inbound caller audio (None/0: never), or
    when no caller audio at all arrived within `connect_seconds` of the start (None/0: never).

    `on_gone(reason)` is called once, just before the cancel is requested, with the reason
    `"caller_gone"` or `"never_connected"`.
    """

    def __init__(
        self,
        seconds: float | None = DEFAULT_CALLER_GONE_SECONDS,
        on_gone: Callable[[str], None] | None = None,
        connect_seconds: float | None = DEFAULT_CONNECT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds
        self.connect_seconds = connect_seconds
        self.on_gone = on_gone
        #: `time.monotonic()` of the last inbound audio frame (None until the first).
        self.last_audio: float | None = None
        #: Set once the caller was declared gone: why, and after how many silent seconds.
        self.reason: str | None = None
        self.gone_after: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.last_audio = time.monotonic()
        elif isinstance(frame, StartFrame):
            if (self.seconds or self.connect_seconds) and self._task is None:
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
        started = time.monotonic()
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            now = time.monotonic()
            if self.last_audio is None:
                if self.connect_seconds and now - started >= self.connect_seconds:
                    reason, silent_for = "never_connected", now - started
                    break
            elif self.seconds and now - self.last_audio >= self.seconds:
                reason, silent_for = "caller_gone", now - self.last_audio
                break
        self.reason, self.gone_after = reason, silent_for
        if reason == "caller_gone":
            logger.warning(
                f"caller gone: no audio packets for {silent_for:.1f} s "
                f"(CALLER_GONE_SECONDS={self.seconds:g}); ending the call"
            )
        else:
            logger.warning(f"caller never got through in {silent_for:.0f} s; ending the call")
        if self.on_gone is not None:
            self.on_gone(reason)
        self._task = None  # the cancel below stops us; don't cancel ourselves
        await self.push_frame(CancelWorkerFrame(reason=reason), FrameDirection.UPSTREAM)
