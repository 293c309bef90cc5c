"""The caller's side of the audio: 48 kHz microphone frames out, decoded bot audio in.

PCM helpers (RMS, resampling through libswresample) and the paced microphone track.
"""

import asyncio
import fractions
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCIceServer,
)
from aiortc.mediastreams import MediaStreamError

SEND_RATE = 48000
FRAME_SECONDS = 0.02
DEFAULT_SILENCE_RMS = 100.0  # int16 units; Opus-coded silence decodes to ~0
RTVI_LABEL = "rtvi-ai"
# RTVI protocol version sent in client-ready; kept equal to Pipecat's (a test checks) without
# importing Pipecat here, which would block the event loop mid-call for a second.
RTVI_PROTOCOL_VERSION = "2.2.0"


@dataclass(frozen=True)
class ReceivedFrame:
    """One decoded frame of bot audio."""

    time: float  # time.monotonic() when it was decoded
    pcm: bytes  # mono int16
    sample_rate: int
    rms: float

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def pcm_rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample mono int16 PCM (libswresample via PyAV)."""
    if src_rate == dst_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = src_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=dst_rate)
    out = [*resampler.resample(frame), *resampler.resample(None)]
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in out)


def to_mono_s16(frame: av.AudioFrame) -> bytes:
    channels = len(frame.layout.channels)
    if frame.format.name in ("s16", "s16p"):
        arr = frame.to_ndarray()
        if channels > 1:
            arr = arr.mean(axis=0) if frame.format.is_planar else arr.reshape(-1, channels).mean(1)
        return np.asarray(arr).round().astype("<i2").tobytes()
    resampler = av.AudioResampler(format="s16", layout="mono", rate=frame.sample_rate)
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in resampler.resample(frame))


class OutgoingAudio(MediaStreamTrack):
    """The caller's microphone: queued PCM, else silence, in real-time paced 20 ms frames."""

    kind = "audio"

    def __init__(self, rate: int = SEND_RATE) -> None:
        super().__init__()
        self.rate = rate
        self._samples = int(rate * FRAME_SECONDS)
        self._buf = bytearray()
        self._queued = 0  # bytes ever queued
        self._sent = 0  # bytes of queued audio ever sent
        self._start: float | None = None
        self._pts = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.played_until: float | None = None

    def enqueue(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._buf += pcm
        self._queued += len(pcm)
        self._drained.clear()

    async def wait_drained(self) -> None:
        await self._drained.wait()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / self.rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        nbytes = self._samples * 2
        chunk = bytes(self._buf[:nbytes])
        del self._buf[:nbytes]
        if chunk:
            self._sent += len(chunk)
            if self._sent >= self._queued:
                self.played_until = time.monotonic() + len(chunk) / 2 / self.rate
                self._drained.set()
        chunk = chunk.ljust(nbytes, b"\0")
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(chunk)
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self._pts += self._samples
        return frame


IceServers = Sequence[str | RTCIceServer] | None


def read_wav_mono(path: str | Path) -> tuple[bytes, int]:
    """A 16-bit WAV file as mono int16 PCM (channels averaged) and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit WAVs are supported")
        channels, rate = w.getnchannels(), w.getframerate()
        data = w.readframes(w.getnframes())
    if channels > 1:
        arr = np.frombuffer(data, dtype="<i2").reshape(-1, channels).mean(axis=1)
        data = arr.round().astype("<i2").tobytes()
    return data, rate


def write_wav(path: str | Path, pcm: bytes, rate: int) -> Path:
    """Write mono int16 PCM to a 16-bit WAV (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path
