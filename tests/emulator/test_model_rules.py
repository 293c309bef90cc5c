"""The emulator refuses, as the service does, a setup carrying a field its model does not take."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from gemini_emulator import LiveEmulator

from .helpers import BIDI_PATH, raw_ws

LIVE_38 = "models/gemini-3.8-live"
THINKING_38 = "models/gemini-3.8-live-extended-thinking"
NATIVE_25 = "models/gemini-2.5-flash-native-audio-preview-12-2025"
FLASH_31 = "models/gemini-3.1-flash-live-preview"


async def _close_of(emu: LiveEmulator, setup: dict[str, Any], path: str = BIDI_PATH):
    """The close the emulator answers `setup` with (None: it sent setupComplete)."""
    async with raw_ws(emu, path=path) as ws:
        await ws.send(json.dumps({"setup": setup}))
        try:
            first = await ws.recv()
        except ConnectionClosed as e:
            assert e.rcvd is not None
            return e.rcvd.code, e.rcvd.reason
    assert json.loads(first) == {"setupComplete": {}}
    return None


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"generationConfig": {"thinkingConfig": {"thinkingBudget": 256}}}, "thinking_config"),
        ({"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}, "thinking_config"),
        ({"generationConfig": {"enableAffectiveDialog": True}}, "enableAffectiveDialog"),
        ({"generationConfig": {"enableAffectiveDialog": False}}, "enableAffectiveDialog"),
        ({"proactivity": {"proactiveAudio": False}}, "proactive_audio cannot be false"),
        ({"generationConfig": {"responseModalities": ["TEXT"]}}, "AUDIO response modality"),
    ],
)
async def test_a_38_setup_with_what_the_model_does_not_take_is_closed_1007(
    emulator: LiveEmulator, extra: dict[str, Any], said: str
) -> None:
    closed = await _close_of(emulator, {"model": LIVE_38, **extra})
    assert closed is not None, "the setup was accepted"
    code, reason = closed
    assert code == 1007 and said in reason
    assert emulator.sessions == []  # no setupComplete, no session


async def test_a_38_setup_as_documented_is_accepted(emulator: LiveEmulator) -> None:
    setup = {
        "model": LIVE_38,
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.7},
        "proactivity": {"proactiveAudio": True},  # always on: saying so is no error
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "a", "behavior": "BLOCKING"},
                    {"name": "b", "behavior": "NON_BLOCKING"},
                ]
            }
        ],
    }
    assert await _close_of(emulator, setup) is None


async def test_other_families_have_their_own_rules(emulator: LiveEmulator) -> None:
    blocking = {"tools": [{"functionDeclarations": [{"name": "a", "behavior": "BLOCKING"}]}]}
    non_blocking = {
        "tools": [{"functionDeclarations": [{"name": "a", "behavior": "NON_BLOCKING"}]}]
    }
    level = {"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}
    budget = {"generationConfig": {"thinkingConfig": {"thinkingBudget": 128}}}
    # 3.8 thinking: NON_BLOCKING only, a thinking level required.
    assert await _close_of(emulator, {"model": THINKING_38, **level, **non_blocking}) is None
    assert (await _close_of(emulator, {"model": THINKING_38, **level, **blocking}))[0] == 1007
    assert (await _close_of(emulator, {"model": THINKING_38}))[0] == 1007
    # 3.1 Flash Live: levels not budgets, no asynchronous function calling.
    assert await _close_of(emulator, {"model": FLASH_31, **level, **blocking}) is None
    assert (await _close_of(emulator, {"model": FLASH_31, **budget}))[0] == 1007
    assert (await _close_of(emulator, {"model": FLASH_31, **non_blocking}))[0] == 1007
    # 2.5 native audio: budgets; affective dialog on v1alpha only.
    affective = {"generationConfig": {"enableAffectiveDialog": True}}
    assert await _close_of(emulator, {"model": NATIVE_25, **budget}) is None
    assert (await _close_of(emulator, {"model": NATIVE_25, **level}))[0] == 1007
    code, reason = await _close_of(emulator, {"model": NATIVE_25, **affective})
    assert code == 1007 and 'Unknown name "enableAffectiveDialog"' in reason
    alpha = BIDI_PATH.replace("v1beta", "v1alpha")
    assert await _close_of(emulator, {"model": NATIVE_25, **affective}, path=alpha) is None
