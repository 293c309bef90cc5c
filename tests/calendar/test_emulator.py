"""The calendar tools through the Live stage, against the Gemini Live emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from tests.calendar.helpers import PARIS, at, day
from tests.live.harness import running_stage
from tools.calendar import toolset
from tools.toolset import ToolContext, registry_of

pytestmark = pytest.mark.timeout(60)


async def test_create_then_list_over_the_wire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ts = toolset(ToolContext(env={}, data_dir=tmp_path / "calendar", timezone=PARIS))
    ids: dict[str, str] = {}
    done = asyncio.Event()

    async def script(s: LiveSession) -> None:
        # The caller asks, turn by turn (calendar writes run only on the caller's own request).
        await s.send_raw(s.transcribe("book the dentist at three"))
        ids["create"] = await s.call_tool(
            "create_event", {"title": "Dentist", "start": at(15), "duration_minutes": 30}
        )
        await s.tool_response(ids["create"])
        await s.say("Booked.", seconds=0.3)
        await s.send_raw(s.transcribe("and the gym at a quarter past three"))
        ids["clash"] = await s.call_tool("create_event", {"title": "Gym", "start": at(15, 15)})
        await s.tool_response(ids["clash"])
        ids["list"] = await s.call_tool("list_events", {"start": at(0), "end": at(0, days=1)})
        await s.tool_response(ids["list"])
        await s.say("You have a dentist appointment at three.")
        done.set()

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_of([ts])),
    ):
        await asyncio.wait_for(done.wait(), 30)
        session = emu.sessions[0]

    decls = session.function_declarations
    assert decls["create_event"]["behavior"] == "NON_BLOCKING"
    assert decls["list_events"]["behavior"] == "NON_BLOCKING"
    responses = {r.id: r for r in session.function_responses}
    created = responses[ids["create"]]
    assert created.final and created.scheduling == "WHEN_IDLE"
    assert created.response["created"]["start"] == f"{day().isoformat()}T15:00+01:00"
    clash = responses[ids["clash"]]
    assert clash.final and clash.scheduling == "INTERRUPT"
    assert clash.response["conflicts"][0]["title"] == "Dentist"
    listed = responses[ids["list"]]
    assert listed.final and listed.scheduling == "WHEN_IDLE"
    assert [e["title"] for e in listed.response["events"]] == ["Dentist"]
    assert listed.response["events"][0]["when"].endswith("15:00–15:30")
