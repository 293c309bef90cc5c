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


GAUGE_CODE = """\
    from tools.api import tool
    from tools.room_options import RoomOption
    from tools.toolset import PagePanel, Toolset

    ROOM_OPTIONS = [RoomOption("unit", "--gauge-unit", "the gauge's unit", label="gauge")]


    def toolset(ctx):
        level = {"value": 1}

        @tool()
        async def raise_gauge() -> dict:
            \"\"\"Raise the gauge by one.\"\"\"
            level["value"] += 1
            return dict(level)

        def panel(settings):
            async def snapshot():
                return {"type": "gauge", "value": level["value"], "unit": settings.get("unit")}

            return PagePanel(snapshot, refresh_after=frozenset({"raise_gauge"}))

        def instructions(settings):
            unit = settings.get("unit")
            return f"The gauge in this room reads in {unit}." if unit else None

        return Toolset(name="gauge", tools=[raise_gauge], panel=panel, instructions=instructions)
"""


async def test_a_package_from_outside_brings_its_own_page_panel_and_room_lines(
    tmp_path, monkeypatch, speech
):
    """The proof that the bot knows no tool package by name: a toolset installed from a
    temporary distribution (not under tools/, nothing in bot/ edited) adds its line to
    the room's system instruction, and its panel reaches the caller's page, at the start
    and after its own tool ran, through a real call."""
    from bot.rooms import Room
    from caller import Caller
    from gemini_emulator import LiveSession
    from testkit.bot import running_bot
    from tests.tools.packaging import SamplePackage, install
    from tools.room_options import room_options

    site = install(
        [SamplePackage("acme-gauge", "acme_gauge", GAUGE_CODE, {"gauge": "acme_gauge"})],
        tmp_path,
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "acme_gauge", raising=False)
    room_options.cache_clear()
    try:
        sets = load_toolsets(["gauge"], {}, tmp_path / "tools", UTC)
        assert "gauge" in room_options(), "its room setting is declared like a built-in's"

        async def script(s: LiveSession) -> None:
            while (await s.next_utterance()).kind != "audio":  # the caller speaks
                pass
            await s.tool_response(await s.call_tool("raise_gauge", {}))
            await s.say("Raised.", seconds=0.3)

        def gauge(value: int):
            return lambda m: (
                m.get("type") == "server-message"
                and m["data"] == {"type": "gauge", "value": value, "unit": "kelvin"}
            )

        async with (
            running_emulator(tmp_path, script=script) as emu,
            running_bot(emu, tmp_path, toolsets=sets) as bot,
        ):
            bot.rooms.put(Room(name="lab", toolsets={"gauge": {"unit": "kelvin"}}))
            async with Caller(bot.link("lab")) as caller:
                await caller.connect(timeout=15)
                await caller.wait_for_message(gauge(1), timeout=15)  # the snapshot at start
                await caller.play_wav(speech("raise the gauge"))
                await caller.wait_for_message(gauge(2), timeout=20)  # after its tool ran
            setup = emu.setups[0]
    finally:
        sys.modules.pop("acme_gauge", None)
        room_options.cache_clear()
    instruction = "".join(p.get("text", "") for p in setup["systemInstruction"]["parts"])
    assert instruction.endswith("\n\nThe gauge in this room reads in kelvin.")
