"""The caller's audio on one socket becoming utterances, as the Live API hears it.

With automatic activity detection the emulator's VAD (`vad.py`) finds the start
and end of speech, and each realtime text is a turn. Without it (the setup's
`automaticActivityDetection.disabled`), the client marks them (`activityStart` /
`activityEnd`): the audio and text between are one utterance, answered after
`activityEnd`; nothing is detected, and input outside a window is no turn (Google:
"If disabled, the client must send activity signals"; the turn includes only
activity by default). `audioStreamEnd` then does nothing ("This should only be sent
when automatic activity detection is enabled"; no error is documented). A start of
speech is a barge-in when the model is speaking. Kept apart from `LiveSession` (which is the
scripting API) because this state belongs to one socket: a resumed session gets
a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from loguru import logger

from .recording import ConnectionRecord, Utterance
from .vad import EnergyVad, VadConfig

__all__ = ["CallerInput"]


class CallerInput:
    """Caller audio and activity marks in; `utterance(...)` out, one per caller turn."""

    def __init__(
        self,
        vad: VadConfig,
        *,
        automatic: bool,
        speech_started: Callable[[], Awaitable[None]],
        utterance: Callable[[Utterance], None],
        model_speaking: Callable[[], bool],
    ) -> None:
        self.automatic = automatic
        self._vad = EnergyVad(vad)
        self._speech_started = speech_started
        self._utterance = utterance
        self._model_speaking = model_speaking
        self._start: float | None = None
        self._barge = False
        self._manual: bytearray | None = None  # the open activity window's audio
        self._manual_text: list[str] = []  # and its realtime text

    async def audio(self, conn: ConnectionRecord, pcm: bytes) -> None:
        """16 kHz caller audio received on `conn`."""
        if not self.automatic:
            if self._manual is not None:
                self._manual += pcm
            return
        for ev in self._vad.feed(pcm):
            await self._on_vad_event(conn, ev.kind, ev.pcm)

    async def audio_stream_end(self, conn: ConnectionRecord) -> None:
        """`audioStreamEnd`: what the VAD still holds ends now (automatic detection only)."""
        if not self.automatic:
            logger.debug("emulator: audioStreamEnd without automatic activity detection: ignored")
            return
        for ev in self._vad.flush():
            await self._on_vad_event(conn, ev.kind, ev.pcm)

    def text(self, conn: ConnectionRecord, text: str) -> None:
        """Realtime text: a turn of its own, or (manual) part of the open window."""
        if self.automatic:
            self._utterance(Utterance("text", conn.index, text=text))
        elif self._manual is not None:
            self._manual_text.append(text)
        else:
            logger.debug("emulator: realtime text outside an activity window: no turn")

    async def activity_start(self) -> None:
        self._manual, self._manual_text = bytearray(), []
        await self._speech_start()

    def activity_end(self, conn: ConnectionRecord) -> None:
        if self._manual is None:
            return
        pcm, self._manual = bytes(self._manual), None
        text, self._manual_text = "".join(self._manual_text), []
        if text and not pcm:
            self._utterance(Utterance("text", conn.index, text=text))
            self._start = None
            return
        self._end(conn, pcm, text or None)

    async def _on_vad_event(self, conn: ConnectionRecord, kind: str, pcm: bytes) -> None:
        if kind == "start":
            await self._speech_start()
        else:
            self._end(conn, pcm)

    async def _speech_start(self) -> None:
        self._start = time.monotonic()
        self._barge = self._model_speaking()
        await self._speech_started()

    def _end(self, conn: ConnectionRecord, pcm: bytes, text: str | None = None) -> None:
        self._utterance(
            Utterance(
                "audio",
                conn.index,
                pcm=pcm,
                text=text,
                started_at=self._start or time.monotonic(),
                barge_in=self._barge,
            )
        )
        self._start = None
