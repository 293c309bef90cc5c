"""Tool packages: found by name, enabled by setting, declared exactly as listed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gemini_emulator import running_emulator
from testkit.stage import live_settings, running_stage
from testkit.tools import call_like_the_model
from tools.api import CallContext, Scheduling, tool
from tools.registry import ToolRegistry
from tools.toolset import ToolSettingsError, available_packages, load_toolsets, registry_of

ROOT = Path(__file__).resolve().parents[2]
UTC = ZoneInfo("UTC")


def test_packages_are_found_and_unknown_names_are_refused(tmp_path):
    assert "clock" in available_packages()
    sets = load_toolsets(["clock"], {}, tmp_path, UTC)
    assert [t.name for t in registry_of(sets)] == ["current_time"]
    with pytest.raises(ToolSettingsError, match="'weather', which is not a tool package"):
        load_toolsets(["clock", "weather"], {}, tmp_path, UTC)


async def test_tools_command_prints_exactly_what_the_first_setup_carries(tmp_path):
    env = {"TOOLS": "clock", "LIVE_GOOGLE_SEARCH": "true", "LIVEBOT_DATA_DIR": str(tmp_path)}
    listed = subprocess.run(  # noqa: ASYNC221 (a short CLI run, before any server starts)
        [sys.executable, "-m", "bot", "tools", "--json"],
        cwd=ROOT,
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(listed.stdout)
    sets = load_toolsets(["clock"], {}, tmp_path / "t", UTC)
    async with (
        running_emulator(tmp_path) as emu,
        running_stage(emu, tools=registry_of(sets), live=live_settings(), google_search=True),
    ):
        setup = await emu.wait_for(lambda: emu.setups and emu.setups[0], timeout=5)
    assert printed == setup["tools"]
    assert {"googleSearch": {}} in printed, "search grounding rides along with the functions"
    decls = [d for group in printed for d in group.get("functionDeclarations", [])]
    assert [(d["name"], d["behavior"]) for d in decls] == [("current_time", "BLOCKING")]


async def test_call_like_the_model_returns_what_the_model_received():
    @tool(scheduling=Scheduling.WHEN_IDLE)
    async def count_to(n: int, ctx: CallContext) -> dict:
        """Count slowly."""
        for i in range(1, n):
            await ctx.progress({"at": i})
            await asyncio.sleep(0.01)
        return {"at": n}

    call = await call_like_the_model(count_to, "count_to", {"n": 3})
    assert call.ok and call.response == {"at": 3}
    assert call.scheduling == "WHEN_IDLE"
    assert [r.response["at"] for r in call.progress] == [1, 2]
    assert all(r.will_continue for r in call.progress) and call.final.final

    bad = await call_like_the_model(ToolRegistry([count_to]), "count_to", {"n": "three"})
    assert not bad.ok and "argument 'n'" in bad.final.response["error"]
    assert bad.scheduling == "INTERRUPT"


async def test_call_like_the_model_answers_a_caller_turn_as_an_acting_tool_needs():
    switched: list[bool] = []

    @tool(acting=True)
    async def switch(on: bool) -> dict:
        """Switch the thing."""
        switched.append(on)
        return {"on": on}

    call = await call_like_the_model(switch, "switch", {"on": True})
    assert call.ok and switched == [True]
    unasked = await call_like_the_model(switch, "switch", {"on": False}, caller_turn=None)
    assert unasked.response["not_done"] == "no_caller_turn" and switched == [True]


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_", "TOOLS"))}
