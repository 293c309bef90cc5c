"""A tool adds or removes tools of its call, through the real stage and the emulator:
refused or runnable at once, and declared to the model by resuming the session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.events import CallEvent, SessionMoved
from gemini_emulator import LiveSession, running_emulator
from testkit.stage import running_stage
from tests.live.test_stage import wait_until
from tools.api import CallContext, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)


def declared(setup: dict[str, Any]) -> list[str]:
    return [d["name"] for t in setup.get("tools") or [] for d in t.get("functionDeclarations", [])]


def house_tools(ran: list[str]) -> ToolRegistry:
    @tool()
    async def open_door() -> dict:
        """Open the front door."""
        ran.append("open_door")
        return {"door": "open"}

    @tool()
    async def guest_wifi() -> dict:
        """Say the guest Wi-Fi password."""
        ran.append("guest_wifi")
        return {"password": "tulips"}

    @tool()
    async def night_mode(call: CallContext) -> dict:
        """Lock up for the night: the door stays shut until morning."""
        call.tools.remove("open_door")
        return {"night_mode": True, "tools": call.tools.names}

    @tool()
    async def morning_mode(call: CallContext) -> dict:
        """Morning: the door can be opened again, and guests get the Wi-Fi."""
        call.tools.add("open_door")
        call.tools.add(guest_wifi)  # a tool the toolset kept back until now
        return {"night_mode": False, "tools": call.tools.names}

    return ToolRegistry([open_door, night_mode, morning_mode])


async def test_removed_and_added_tools_change_what_runs_and_what_the_next_setup_declares(
    tmp_path,
):
    ran: list[str] = []
    seen: dict[str, Any] = {}
    events: list[CallEvent] = []
    ready = asyncio.Event()

    async def sink(event: CallEvent) -> None:
        events.append(event)

    async def answered(s: LiveSession, name: str) -> dict[str, Any]:
        call_id = await s.call_tool(name, {})
        response = await s.tool_response(call_id)
        return {"response": response.response, "connection": response.connection}

    async def model(s: LiveSession) -> None:
        await ready.wait()
        await s.send_raw(s.transcribe("lock up for the night"))
        seen["night"] = await answered(s, "night_mode")
        # The model still calls the removed tool before it has been told: refused.
        seen["door_at_night"] = await answered(s, "open_door")
        first = s.connection
        await s.say("The house is locked for the night.", seconds=0.3)
        # The stage moves the session at the first safe moment: a resume, new tools.
        await s.wait_reconnect(after=first, timeout=20)
        seen["night_setup"] = s.setup
        seen["door_after_move"] = await answered(s, "open_door")
        await s.send_raw(s.transcribe("good morning"))
        seen["morning"] = await answered(s, "morning_mode")
        # Runnable at once, before the model has been told.
        seen["door_in_the_morning"] = await answered(s, "open_door")
        second = s.connection
        await s.say("Good morning, the door is free.", seconds=0.3)
        await s.wait_reconnect(after=second, timeout=20)
        seen["morning_setup"] = s.setup
        seen["wifi"] = await answered(s, "guest_wifi")

    async with (
        running_emulator(tmp_path, script=model) as emu,
        running_stage(emu, tools=house_tools(ran), on_event=sink) as h,
    ):
        await wait_until(lambda: h.stage._context is not None and emu.sessions, timeout=10)
        ready.set()
        await wait_until(
            lambda: "wifi" in seen or emu.sessions[0].script_error is not None, timeout=60
        )
        session = emu.sessions[0]
        assert session.script_error is None, session.script_error

    first_setup = session.setups[0]
    assert declared(first_setup) == ["open_door", "night_mode", "morning_mode"]
    # Removed: refused at once with an error result the model can read; nothing ran.
    assert seen["night"]["response"]["tools"] == ["night_mode", "morning_mode"]
    refused = seen["door_at_night"]["response"]
    assert "was removed from this call" in refused["error"]
    assert seen["door_at_night"]["connection"] == session.connections[0].index
    # The next setup resumes the same session and no longer declares it.
    assert len(emu.sessions) == 1 and len(session.setups) == 3
    assert session.connections[1].resumed_from in session.handles
    assert declared(seen["night_setup"]) == ["night_mode", "morning_mode"]
    assert "was removed" in seen["door_after_move"]["response"]["error"]
    # Added back (by name) and added new (a Tool): they run at once, then are declared.
    assert seen["door_in_the_morning"]["response"] == {"door": "open"}
    assert declared(seen["morning_setup"]) == [
        "open_door",
        "night_mode",
        "morning_mode",
        "guest_wifi",
    ]
    assert seen["wifi"]["response"] == {"password": "tulips"}
    assert ran == ["open_door", "guest_wifi"]
    # The moves are reported as what they were, each within the one session.
    assert [e.reason for e in events if isinstance(e, SessionMoved)] == ["tools", "tools"]
    assert h.stage.reconnects == 2 and not h.stage.lost
