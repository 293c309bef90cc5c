"""The tool API: declarations generated from typed functions, and one outcome per call."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from tools.api import Behavior, CallContext, Result, Scheduling, ToolError, tool


class Window(BaseModel):
    start: Annotated[str, Field(description="ISO 8601 start")]
    minutes: Annotated[int, Field(ge=5, le=480)] = 30


@tool(scheduling=Scheduling.SILENT, timeout=0.2)
async def dim(
    name: Annotated[str, Field(description="Which light")],
    level: Annotated[int, Field(ge=0, le=100, description="Brightness in percent")],
    mode: Literal["warm", "cool"] = "warm",
    note: str | None = None,
    window: Window | None = None,
) -> dict:
    """Dim one light."""
    if name == "boom":
        raise RuntimeError("driver crashed")
    if name == "slow":
        await asyncio.sleep(5)
    if name == "weird":
        return {"when": object()}
    if name == "broken":
        raise ToolError("the light is unplugged")
    if name == "loud":
        return Result({"name": name}, Scheduling.INTERRUPT)
    return {"name": name, "level": level, "mode": mode}


def walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def test_declaration_is_generated_in_geminis_schema_subset():
    decl = dim.declaration()
    assert decl["name"] == "dim" and decl["description"] == "Dim one light."
    params = decl["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["name", "level"]
    props = params["properties"]
    assert props["level"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "description": "Brightness in percent",
    }
    assert props["mode"]["enum"] == ["warm", "cool"] and props["mode"]["type"] == "string"
    assert props["note"]["nullable"] is True and props["note"]["type"] == "string"
    assert props["window"]["properties"]["minutes"]["maximum"] == 480  # $ref inlined
    for node in walk(decl):
        if isinstance(node, dict):
            assert not {"$ref", "$defs", "title", "additionalProperties", "default"} & set(node)
    json.dumps(decl)  # plain JSON


def test_tools_need_docstrings_and_async():
    with pytest.raises(TypeError, match="docstring"):

        @tool
        async def nodoc() -> None:
            pass

    with pytest.raises(TypeError, match="async"):

        @tool
        def sync() -> None:
            """Sync."""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"name": "desk", "level": 150}, "argument 'level'"),
        ({"name": "desk", "level": 150}, "allowed: 0 to 100"),
        ({"name": "desk", "level": 50, "mode": "disco"}, "allowed: warm, cool"),
        ({"name": "desk"}, "missing argument 'level'"),
        ({"name": "desk", "level": 5, "colour": "red"}, "unknown argument 'colour'"),
        ({"name": "desk", "level": 5, "colour": "red"}, "arguments: name, level, mode"),
    ],
)
async def test_bad_arguments_get_an_error_naming_the_field(args, fragment):
    outcome = await dim.invoke(args)
    assert not outcome.ok
    assert fragment in outcome.response["error"]
    assert outcome.scheduling is Scheduling.INTERRUPT


async def test_each_failure_becomes_one_recoverable_error():
    crashed = await dim.invoke({"name": "boom", "level": 1})
    assert "failed unexpectedly (RuntimeError)" in crashed.response["error"]
    slow = await dim.invoke({"name": "slow", "level": 1})
    assert "did not finish within 0.2 seconds" in slow.response["error"]
    weird = await dim.invoke({"name": "weird", "level": 1})
    assert "could not be read" in weird.response["error"]
    broken = await dim.invoke({"name": "broken", "level": 1})
    assert broken.response == {"error": "the light is unplugged"}
    assert {o.ok for o in (crashed, slow, weird, broken)} == {False}


async def test_results_carry_default_or_overridden_scheduling():
    ok = await dim.invoke({"name": "desk", "level": 40})
    assert ok.ok and ok.scheduling is Scheduling.SILENT
    assert ok.response == {"name": "desk", "level": 40, "mode": "warm"}
    loud = await dim.invoke({"name": "loud", "level": 40})
    assert loud.scheduling is Scheduling.INTERRUPT


async def test_progress_only_from_non_blocking_tools():
    sent = []

    async def collect(response, scheduling):
        sent.append((response, scheduling))

    @tool
    async def job(ctx: CallContext) -> str:
        """A job."""
        await ctx.progress("half way")
        return "done"

    @tool(behavior=Behavior.BLOCKING)
    async def quick(ctx: CallContext) -> str:
        """Quick."""
        await ctx.progress("half way")
        return "done"

    outcome = await job.invoke({}, "c1", collect)
    assert outcome.response == {"result": "done"}
    assert sent == [({"result": "half way"}, Scheduling.SILENT)]
    assert "ctx" not in job.declaration().get("parameters", {}).get("properties", {})
    refused = await quick.invoke({}, "c2", collect)
    assert "only NON_BLOCKING" in refused.response["error"]


def test_a_tool_declares_itself_acting_and_when_it_needs_confirmation():
    @tool
    async def look() -> dict:
        """Read something."""
        return {}

    @tool(acting=True)
    async def switch(on: bool) -> dict:
        """Change something."""
        return {"on": on}

    @tool(confirm=True)
    async def wipe() -> dict:
        """Delete everything."""
        return {}

    @tool(confirm=lambda args: not args.get("room"))
    async def scene(room: str | None = None) -> dict:
        """A scene in one room, or the whole house."""
        return {}

    assert not look.acting and not look.needs_confirmation({})
    assert switch.acting and not switch.needs_confirmation({"on": False})
    assert wipe.acting and wipe.needs_confirmation({})  # confirm implies acting
    assert scene.acting
    assert scene.needs_confirmation({}) and scene.needs_confirmation({"room": None})
    assert not scene.needs_confirmation({"room": "kitchen"})
    assert scene.needs_confirmation(None)
    # Neither is part of what the model reads.
    assert set(switch.declaration()) == {"name", "description", "parameters"}


async def test_a_refusal_is_one_error_outcome_the_model_hears_at_once():
    @tool(acting=True, scheduling=Scheduling.SILENT, error_scheduling=Scheduling.WHEN_IDLE)
    async def switch(on: bool) -> dict:
        """Change something."""
        return {"on": on}

    out = switch.refusal("Not done: ask the caller.", "no_caller_turn")
    assert not out.ok and out.scheduling is Scheduling.INTERRUPT
    assert out.response == {"error": "Not done: ask the caller.", "not_done": "no_caller_turn"}
