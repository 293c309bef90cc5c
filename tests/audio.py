"""Audio helpers for tests: spoken-word WAVs (espeak-ng + sox), tones, WAV I/O, RMS.

Audio here is 16-bit signed little-endian mono PCM (``bytes``) unless stated otherwise.
Spoken WAVs are cached under ``tests/.artifacts/audio/``, keyed by a hash of text + rate.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np

# WAV I/O is the headless caller's (one copy), re-exported for the tests.
from caller.audio import read_wav_mono as read_wav  # noqa: F401
from caller.audio import write_wav as write_wav

ARTIFACTS = Path(__file__).resolve().parent / ".artifacts"
AUDIO_CACHE = ARTIFACTS / "audio"
PAD_SECONDS = 0.3
_CACHE_VERSION = "1"  # bump when the recipe below changes


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise RuntimeError(f"{tool} not found: run the tests with ./livebot test (it installs it)")
    return path


def speech_wav(text: str, rate: int = 16000, voice: str = "en-us") -> Path:
    """A WAV of ``text`` spoken by espeak-ng (``voice``: a language, e.g. ``de``, ``es``,
    ``fr``): ``rate`` Hz, mono, 16-bit, 0.3 s silence each side."""
    spoken = text if voice == "en-us" else f"{voice}|{text}"
    key = hashlib.sha256(f"{_CACHE_VERSION}|{rate}|{spoken}".encode()).hexdigest()[:16]
    out = AUDIO_CACHE / f"speech-{rate}-{key}.wav"
    if out.exists():
        return out
    AUDIO_CACHE.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(f".raw{os.getpid()}.wav")
    tmp = out.with_suffix(f".tmp{os.getpid()}.wav")
    try:
        subprocess.run(
            [_need("espeak-ng"), "-v", voice, "-s", "160", "-w", str(raw), text], check=True
        )
        subprocess.run(
            [_need("sox"), str(raw), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer",
             str(tmp), "pad", str(PAD_SECONDS), str(PAD_SECONDS)],
            check=True,
        )  # fmt: skip
        tmp.replace(out)  # atomic: concurrent test processes never see half a file
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return out


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit PCM, in sample units (0 … 32767)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(math.sqrt(np.mean(samples**2))) if samples.size else 0.0


def duration(pcm: bytes, rate: int) -> float:
    """Seconds of 16-bit mono PCM."""
    return len(pcm) / 2 / rate


def tone(freq: float, seconds: float, rate: int = 16000, amplitude: float = 0.3) -> bytes:
    """A sine tone as 16-bit mono PCM; ``amplitude`` is a fraction of full scale."""
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).round().astype("<i2").tobytes()


def silence(seconds: float, rate: int = 16000) -> bytes:
    return bytes(2 * round(seconds * rate))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
