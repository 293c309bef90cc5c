"""Fixtures for the Gemini Live emulator conformance tests."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from google import genai

from gemini_emulator import LiveEmulator, client_env, running_emulator


@pytest.fixture
async def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LiveEmulator]:
    """An echo emulator (fast streaming, no playback wait), env pointing google-genai at it."""
    async with running_emulator(tmp_path, stream_rate=0, wait_for_playback=False) as emu:
        for k, v in client_env(emu).items():
            monkeypatch.setenv(k, v)
        yield emu


@pytest.fixture
def make_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``async with make_emulator(script=..., **kw) as emu`` with the client env set."""
    from contextlib import asynccontextmanager

    counter = iter(range(1000))

    @asynccontextmanager
    async def make(**kwargs: Any) -> AsyncIterator[LiveEmulator]:
        kwargs.setdefault("stream_rate", 0)
        kwargs.setdefault("wait_for_playback", False)
        async with running_emulator(tmp_path / f"emu{next(counter)}", **kwargs) as emu:
            for k, v in client_env(emu).items():
                monkeypatch.setenv(k, v)
            yield emu

    return make


@pytest.fixture
def client(emulator: LiveEmulator) -> genai.Client:
    """A plain google-genai client for ``emulator`` (built after the env is set)."""
    return genai.Client(api_key="test-key")


@pytest.fixture(scope="session")
def speech_pcm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """ "turn on the kitchen lights" from espeak-ng, 16 kHz mono int16."""
    d = tmp_path_factory.mktemp("speech")
    raw, out = d / "out.wav", d / "out16k.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), "turn on the kitchen lights"], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    with wave.open(str(out)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return w.readframes(w.getnframes())
