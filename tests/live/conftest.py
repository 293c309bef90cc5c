"""Fixtures for the Live stage tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.audio import read_wav, speech_wav


@pytest.fixture(scope="session")
def speech_pcm() -> Callable[[str], bytes]:
    """Factory: spoken words (espeak-ng) as 16 kHz mono 16-bit PCM."""

    def make(text: str) -> bytes:
        pcm, rate = read_wav(speech_wav(text, rate=16000))
        assert rate == 16000
        return pcm

    return make
