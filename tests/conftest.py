"""Shared pytest setup: loguru at INFO on stderr, the ``speech`` fixture."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from loguru import logger

from tests.audio import read_wav, speech_wav

logger.remove()
logger.add(sys.stderr, level="INFO")


@pytest.fixture(scope="session")
def speech() -> Callable[..., Path]:
    """Factory: ``speech("turn on the lights", rate=16000) -> Path`` of a cached spoken WAV."""
    return speech_wav


@pytest.fixture(scope="session")
def speech_pcm() -> Callable[..., bytes]:
    """Factory: spoken words (espeak-ng; `voice="de"` etc. for other languages) as 16 kHz
    mono 16-bit PCM."""

    def make(text: str, voice: str = "en-us") -> bytes:
        pcm, rate = read_wav(speech_wav(text, rate=16000, voice=voice))
        assert rate == 16000
        return pcm

    return make
