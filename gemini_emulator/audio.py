"""PCM helpers: the two rates, resampling, RMS, and a deterministic voice-like signal."""

from __future__ import annotations

import numpy as np

__all__ = ["INPUT_RATE", "OUTPUT_RATE", "duration", "resample", "rms", "voice_like"]

INPUT_RATE = 16000  # caller audio, as the Live API takes it (other rates are resampled)
OUTPUT_RATE = 24000  # model audio, as the Live API sends it


def duration(pcm: bytes, rate: int) -> float:
    """Seconds of 16-bit mono PCM."""
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    a = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(a * a))) if a.size else 0.0


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Linear-interpolation resampling of 16-bit little-endian mono PCM."""
    a = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    if src_rate == dst_rate or a.size == 0:
        return a.astype("<i2").tobytes()
    n_out = round(a.size * dst_rate / src_rate)
    x_out = np.arange(n_out) * (src_rate / dst_rate)
    out = np.interp(x_out, np.arange(a.size), a)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def voice_like(seconds: float, rate: int = 24000, *, level_dbfs: float = -20.0) -> bytes:
    """A deterministic, speech-ish signal: a gliding harmonic buzz with syllable envelope."""
    n = max(0, round(seconds * rate))
    if n == 0:
        return b""
    t = np.arange(n) / rate
    f0 = 140.0 + 25.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    sig = sig * syllables * fade
    peak = np.max(np.abs(sig)) or 1.0
    amp = 32767 * 10 ** (level_dbfs / 20) * np.sqrt(2)
    out = sig / peak * amp
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()
