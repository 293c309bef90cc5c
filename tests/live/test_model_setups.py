"""On the wire: the stage's own setup for each model family is one the emulator accepts.

The emulator refuses, as the service does, a setup carrying a field its model does not
take (gemini_emulator/model_rules.py), so each family's setup reaching `setupComplete`
proves the model table (bot/live/models.py) kept out what that model rejects.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gemini_emulator.testing import running_emulator
from tests.live.harness import live_settings, running_stage
from tools.api import Behavior, Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(60)


def tools() -> ToolRegistry:
    @tool(behavior=Behavior.BLOCKING)
    async def read_clock() -> dict:
        """The time."""
        return {"time": "12:00"}

    @tool(scheduling=Scheduling.WHEN_IDLE)
    async def next_event() -> dict:
        """The next calendar event."""
        return {"title": "Dentist"}

    return ToolRegistry([read_clock, next_event])


# (model, settings the operator asked for: what the family takes, and more)
FAMILIES: list[tuple[str, dict[str, Any]]] = [
    (
        "models/gemini-3.8-live",
        {"proactive_audio": True, "temperature": 0.5, "language_codes": ("fr-FR", "en-US")},
    ),
    ("models/gemini-3.8-live-extended-thinking", {"thinking_level": "MEDIUM"}),
    ("models/gemini-3.1-flash-live-preview", {"thinking_level": "MINIMAL", "top_p": 0.9}),
    (
        "models/gemini-2.5-flash-native-audio-preview-12-2025",
        {"thinking_budget": 0, "affective_dialog": True, "proactive_audio": True},
    ),
    ("models/gemini-live-2.5-flash-preview", {"activity_handling": "NO_INTERRUPTION"}),
    ("models/gemini-2.0-flash-live-001", {"turn_coverage": "TURN_INCLUDES_ALL_INPUT"}),
]


async def accepted_setup(tmp_path, model: str, **settings: Any) -> dict[str, Any]:
    from bot.live.models import check_live

    live = check_live(live_settings(model=model, **settings)).live  # as load_settings does
    async with running_emulator(tmp_path) as emu, running_stage(emu, tools=tools(), live=live):
        await emu.wait_for(lambda: emu.connections and emu.connections[0].setup, timeout=10)
        conn = emu.connections[0]
        await emu.wait_for(lambda: conn.sent or conn.close_code, timeout=10)
        await asyncio.sleep(0.1)
        assert conn.close_code is None, f"{model}: {conn.close_code} {conn.close_reason}"
        assert conn.sent[0].message == {"setupComplete": {}}
        return conn.setup  # type: ignore[return-value]


@pytest.mark.parametrize(("model", "settings"), FAMILIES, ids=[m for m, _ in FAMILIES])
async def test_each_familys_own_setup_is_accepted(tmp_path, model: str, settings: dict[str, Any]):
    setup = await accepted_setup(tmp_path, model, **settings)
    gen = setup["generationConfig"]
    decls = {d["name"]: d for d in setup["tools"][0]["functionDeclarations"]}
    if "3.8-live-extended" in model:
        assert gen["thinkingConfig"] == {"thinkingLevel": "MEDIUM"}
        assert {d["behavior"] for d in decls.values()} == {"NON_BLOCKING"}
    elif "3.8-live" in model:
        assert "thinkingConfig" not in gen and "proactivity" not in setup
        assert gen["temperature"] == 0.5
        assert setup["inputAudioTranscription"] == {"languageCodes": ["fr-FR", "en-US"]}
        assert decls["read_clock"]["behavior"] == "BLOCKING"
        assert decls["next_event"]["behavior"] == "NON_BLOCKING"
    elif "3.1" in model:
        assert gen["thinkingConfig"] == {"thinkingLevel": "MINIMAL"} and gen["topP"] == 0.9
        assert all("behavior" not in d for d in decls.values())  # no asynchronous calls
    elif "native-audio" in model:
        assert gen["thinkingConfig"] == {"thinkingBudget": 0}
        assert gen["enableAffectiveDialog"] is True
        assert setup["proactivity"] == {"proactiveAudio": True}
    elif "2.5-flash" in model:
        assert setup["realtimeInputConfig"]["activityHandling"] == "NO_INTERRUPTION"
        assert "thinkingConfig" not in gen
    else:
        assert setup["realtimeInputConfig"]["turnCoverage"] == "TURN_INCLUDES_ALL_INPUT"
