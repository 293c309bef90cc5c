"""Energy voice-activity detection over 16 kHz, 16-bit mono PCM.

Frame RMS is compared with an adaptive noise floor (fast to fall, slow to rise, only
updated outside speech).  Speech *starts* after ``start_ms`` of consecutive loud
frames and *ends* after ``silence_ms`` without one; a lower (hysteresis) threshold
keeps word gaps inside an utterance.  Tuned to survive Opus-coded TTS with some noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["EnergyVad", "VadConfig", "VadEvent"]


@dataclass
class VadConfig:
    sample_rate: int = 16000
    frame_ms: int = 20
    #: Loud audio needed before speech start is committed (``prefixPaddingMs``).
    start_ms: int = 80
    #: Silence needed to end an utterance (``silenceDurationMs``).
    silence_ms: int = 600
    #: Start threshold: floor * ratio, at least ``min_start_rms`` (int16 units).
    start_ratio: float = 3.5
    min_start_rms: float = 250.0
    #: Continue threshold (hysteresis) inside an utterance.
    continue_ratio: float = 2.0
    min_continue_rms: float = 150.0
    initial_floor: float = 60.0
    max_floor: float = 3000.0
    #: Force an end after this long (continuous noise, music...).
    max_utterance_s: float = 30.0

    @classmethod
    def from_setup(cls, aad: dict | None) -> VadConfig:
        """Build from ``realtimeInputConfig.automaticActivityDetection`` (camelCase)."""
        cfg = cls()
        aad = aad or {}
        if aad.get("silenceDurationMs") is not None:
            cfg.silence_ms = max(cfg.frame_ms, int(aad["silenceDurationMs"]))
        if aad.get("prefixPaddingMs") is not None:
            cfg.start_ms = max(cfg.frame_ms, int(aad["prefixPaddingMs"]))
        start = str(aad.get("startOfSpeechSensitivity") or "")
        if start.endswith("HIGH"):
            cfg.start_ratio, cfg.min_start_rms = 2.5, 150.0
        elif start.endswith("LOW"):
            cfg.start_ratio, cfg.min_start_rms = 5.0, 500.0
        end = str(aad.get("endOfSpeechSensitivity") or "")
        if end.endswith("HIGH"):
            cfg.continue_ratio, cfg.min_continue_rms = 2.5, 220.0
        elif end.endswith("LOW"):
            cfg.continue_ratio, cfg.min_continue_rms = 1.6, 100.0
        return cfg


@dataclass
class VadEvent:
    kind: Literal["start", "end"]
    #: Stream time (s since the VAD started) of the speech onset / last voiced frame.
    at: float
    #: For ``end``: the utterance audio, onset to last voiced frame.
    pcm: bytes = b""


@dataclass
class EnergyVad:
    config: VadConfig = field(default_factory=VadConfig)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._buf = b""
        self._frames = 0
        self.floor = self.config.initial_floor
        self.in_speech = False
        self._run: list[bytes] = []  # loud frames before start is committed
        self._speech = bytearray()  # committed utterance incl. trailing silence
        self._voiced_len = 0  # bytes of _speech up to the last voiced frame
        self._onset_frame = 0
        self._silent_frames = 0

    @property
    def _frame_bytes(self) -> int:
        return self.config.sample_rate * self.config.frame_ms // 1000 * 2

    def _t(self, frame: int) -> float:
        return frame * self.config.frame_ms / 1000

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Consume audio, return the events it triggered."""
        self._buf += pcm
        fb = self._frame_bytes
        events: list[VadEvent] = []
        while len(self._buf) >= fb:
            frame, self._buf = self._buf[:fb], self._buf[fb:]
            ev = self._frame(frame)
            if ev:
                events.append(ev)
            self._frames += 1
        return events

    def flush(self) -> list[VadEvent]:
        """End any utterance in progress now (``audioStreamEnd``/``activityEnd``)."""
        self._buf = b""
        if self.in_speech:
            return [self._end()]
        self._run.clear()
        return []

    def _end(self) -> VadEvent:
        pcm = bytes(self._speech[: self._voiced_len])
        ev = VadEvent(
            "end", self._t(self._onset_frame) + len(pcm) / 2 / self.config.sample_rate, pcm
        )
        self.in_speech = False
        self._speech = bytearray()
        self._voiced_len = 0
        self._silent_frames = 0
        self._run.clear()
        return ev

    def _frame(self, frame: bytes) -> VadEvent | None:
        c = self.config
        a = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        a = a - a.mean()  # ignore DC offset
        level = float(np.sqrt(np.mean(a * a)))
        if not self.in_speech:
            loud = level > max(self.floor * c.start_ratio, c.min_start_rms)
            if loud:
                self._run.append(frame)
                if len(self._run) * c.frame_ms >= c.start_ms:
                    self.in_speech = True
                    self._onset_frame = self._frames - len(self._run) + 1
                    self._speech = bytearray(b"".join(self._run))
                    self._voiced_len = len(self._speech)
                    self._silent_frames = 0
                    self._run.clear()
                    return VadEvent("start", self._t(self._onset_frame))
                return None
            self._run.clear()
            # adapt the floor on non-speech frames only
            if level < self.floor:
                self.floor = 0.7 * self.floor + 0.3 * max(level, 1.0)
            else:
                self.floor = min(c.max_floor, 0.99 * self.floor + 0.01 * level)
            return None
        self._speech += frame
        voiced = level > max(self.floor * c.continue_ratio, c.min_continue_rms)
        if voiced:
            self._voiced_len = len(self._speech)
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        too_long = len(self._speech) / 2 / c.sample_rate >= c.max_utterance_s
        if self._silent_frames * c.frame_ms >= c.silence_ms or too_long:
            return self._end()
        return None
