"""What a tool knows of its call: the room, a stable call id, per-call state, the caller's
recent words, and a way to speak while it works — through the real stage and the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_emulator import LiveSession, running_emulator
from testkit.stage import running_stage
from testkit.tools import call_like_the_model
from tests.live.test_stage import wait_until
from tools.api import Behavior, CallContext, RoomInfo, Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(60)
KITCHEN = RoomInfo("kitchen", "The kitchen", {"lights": {"room": "kitchen"}})


def make_tools(seen: list[dict[str, Any]]) -> ToolRegistry:
    @tool(behavior=Behavior.NON_BLOCKING, scheduling=Scheduling.WHEN_IDLE)
    async def add_item(item: str, call: CallContext) -> dict:
        """Add an item to this call's shopping list."""
        await call.say("One moment, adding it.")
        items = call.state.setdefault("items", [])
        items.append(item)
        seen.append(
            {
                "caller_id": call.caller_id,
                "room": call.room.name if call.room else None,
                "lights_room": call.room.settings_for("lights").get("room") if call.room else None,
                "heard": call.recent_words(),
            }
        )
        return {"items": list(items)}

    @tool(behavior=Behavior.BLOCKING)
    async def blocking_say(call: CallContext) -> dict:
        """A BLOCKING tool that tries to speak."""
        await call.say("hello")
        return {"said": True}

    return ToolRegistry([add_item, blocking_say])


async def test_a_tool_sees_its_call_and_speaks_while_it_works(tmp_path):
    seen: list[dict[str, Any]] = []
    results: list[Any] = []

    async def model(s: LiveSession) -> None:
        await s.send_raw(s.transcribe("please put milk on the list"))
        first = await s.call_tool("add_item", {"item": "milk"})
        results.append(await s.tool_response(first))
        await s.send_raw(s.transcribe("and eggs"))
        second = await s.call_tool("add_item", {"item": "eggs"})
        results.append(await s.tool_response(second))

    async with (
        running_emulator(tmp_path, script=model) as emu,
        running_stage(emu, tools=make_tools(seen), room=KITCHEN, call_id="call-42"),
    ):
        await wait_until(lambda: len(results) == 2, timeout=20)
        said = [r for r in emu.sessions[0].function_responses if "say_to_caller" in r.response]
    # Per-call state lives across the call's tool calls.
    assert [r.response["items"] for r in results] == [["milk"], ["milk", "eggs"]]
    assert [s["caller_id"] for s in seen] == ["call-42", "call-42"]
    assert {(s["room"], s["lights_room"]) for s in seen} == {("kitchen", "kitchen")}
    assert "milk" in seen[0]["heard"] and seen[1]["heard"].endswith("and eggs")
    # say() reached the model as a progress response it will voice, before the result.
    assert [r.response for r in said] == [{"say_to_caller": "One moment, adding it."}] * 2
    assert all(r.will_continue for r in said)


async def test_state_is_per_call_and_say_is_refused_for_blocking_tools():
    seen: list[dict[str, Any]] = []
    tools = make_tools(seen)
    one = await call_like_the_model(tools, "add_item", {"item": "tea"}, room=KITCHEN)
    other = await call_like_the_model(tools, "add_item", {"item": "jam"})
    assert one.response == {"items": ["tea"]} and other.response == {"items": ["jam"]}
    assert seen[1]["room"] is None and seen[0]["caller_id"] != "" and seen[1]["caller_id"]
    blocked = await call_like_the_model(tools, "blocking_say", {})
    assert "only NON_BLOCKING tools can speak" in blocked.response["error"]
