"""Shared by the fault, fuzz and load tests: speaking through the emulator's echo, and
keeping the figures each test measured (for RELIABILITY.md)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from caller import Caller
from gemini_emulator import LiveEmulator
from tests.audio import ARTIFACTS, read_wav

FIGURES = ARTIFACTS / "reliability"


def record(name: str, **figures: Any) -> dict[str, Any]:
    """Keep what a test measured in tests/.artifacts/reliability/<name>.json and print it."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    figures = {"test": name, "at": time.strftime("%Y-%m-%d %H:%M:%S"), **figures}
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nRELIABILITY {name}: {json.dumps(figures, default=str)}")
    return figures


def utterances(emu: LiveEmulator) -> int:
    """Caller utterances the emulator has detected, over all sessions."""
    return sum(len(s.utterances) for s in emu.sessions)


async def wait_quiet(caller: Caller, seconds: float = 0.6, timeout: float = 20) -> None:
    """Wait until no bot audio (above silence) has arrived for `seconds`."""
    async with asyncio.timeout(timeout):
        while True:
            last = caller.first_audio_at(after=time.monotonic() - seconds)
            if last is None:
                return
            await asyncio.sleep(0.1)


async def speak_and_hear(
    caller: Caller, emu: LiveEmulator, wav: Path, timeout: float = 20
) -> tuple[float, float]:
    """Say `wav` (once the bot is quiet); wait until the emulator detects the utterance and
    its echo reaches the caller. Returns (seconds from the start of speech until detected,
    seconds from detection until the first echoed audio reached the caller)."""
    spoken = len(read_wav(wav)[0]) / 2 / 16000 - 0.6
    await wait_quiet(caller)
    before = utterances(emu)
    start = time.monotonic()
    heard_before = caller.received_seconds()
    await caller.play_wav(wav)
    async with asyncio.timeout(timeout):
        while utterances(emu) <= before:
            await asyncio.sleep(0.02)
    detected = time.monotonic()
    await caller.wait_for_audio(heard_before + 0.25 * spoken, timeout=timeout)
    first = caller.first_audio_at(after=detected)
    assert first is not None
    return detected - start, first - detected
