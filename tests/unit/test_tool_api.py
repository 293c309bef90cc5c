"""The tool API: declarations generated from typed functions, and one outcome per call."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from enum import IntEnum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from testkit.tools import call_like_the_model
from tools.api import Behavior, CallContext, Result, Scheduling, ToolError, tool
from tools.declarations import DeclarationError


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


def test_tools_need_docstrings():
    with pytest.raises(TypeError, match="tool nodoc needs a docstring"):

        @tool
        async def nodoc() -> None:
            pass


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


# --- what Gemini's declarations cannot express is refused, naming tool and parameter ---


class Node(BaseModel):
    label: str
    children: list[Node] = []


class Empty(BaseModel):
    pass


@pytest.mark.parametrize(
    ("annotation", "param", "fragment"),
    [
        (dict[str, int], "counts", "use a pydantic model with named fields"),
        (Any, "anything", "has no type"),
        (list, "things", "has no type"),
        (tuple[int, str], "pair", "tuple of different types"),
        (Node, "tree", "recursive model (Node → Node)"),
        (int | str, "either", "is a union (integer | string)"),
        (Empty, "nothing", "object without fields"),
        (bytes, "blob", "string format 'binary'"),
        (Literal["a", 1], "mixed", "choices of mixed types"),
    ],
)
def test_undeclarable_types_are_refused_at_definition(annotation, param, fragment):
    async def handler(**kwargs: Any) -> None:
        """A tool."""

    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)]
    )
    handler.__annotations__ = {param: annotation}
    handler.__name__ = "odd_tool"
    with pytest.raises(DeclarationError) as refused:
        tool(handler)
    message = str(refused.value)
    print(message)
    assert message.startswith(f"tool odd_tool: parameter '{param}")
    assert fragment in message


def test_nested_refusals_name_the_nested_field():
    class Inner(BaseModel):
        weights: dict[str, float]

    with pytest.raises(DeclarationError, match=r"tool nested: parameter 'outer\.weights' is a"):

        @tool
        async def nested(outer: Inner) -> None:
            """Nested."""


def test_bounds_enums_and_defaults_reach_the_declaration():
    class Level(IntEnum):
        LOW = 1
        HIGH = 2

    @tool
    async def tune(
        level: Level,
        step: Annotated[int, Field(gt=0, lt=10)] = 2,
        gain: Annotated[float, Field(gt=0.5, le=2)] = 1.0,
        pick: Literal[5, 7] = 5,
    ) -> None:
        """Tune."""

    props = tune.declaration()["parameters"]["properties"]
    assert props["level"] == {"type": "integer", "description": "One of 1, 2."}
    assert props["step"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 9,
        "description": "Default 2.",
    }
    assert props["gain"] == {
        "type": "number",
        "maximum": 2,
        "description": "Greater than 0.5. Default 1.0.",
    }
    assert props["pick"] == {"type": "integer", "description": "One of 5, 7. Default 5."}


def test_parameterless_tools_have_no_parameters():
    @tool
    async def ping() -> str:
        """Ping."""
        return "pong"

    assert ping.declaration() == {"name": "ping", "description": "Ping."}


def test_a_local_model_with_postponed_annotations_works():
    # This module has `from __future__ import annotations`: every annotation is a string.
    class Spot(BaseModel):
        x: int

    @tool
    async def place(spot: Spot) -> dict:
        """Place."""
        return spot.model_dump()

    assert place.declaration()["parameters"]["properties"]["spot"]["properties"] == {
        "x": {"type": "integer"}
    }


def test_an_unresolvable_annotation_names_the_tool():
    with pytest.raises(TypeError, match="tool lost: the annotation Nowhere is not defined"):

        @tool
        async def lost(where: Nowhere) -> None:  # type: ignore[name-defined]  # noqa: F821
            """Lost."""


# --- docstrings ---


@pytest.mark.parametrize(
    "doc",
    [
        "Book a table.\n\nArgs:\n    guests: How many people.\n    when: What time.\n",
        "Book a table.\n\nParameters\n----------\nguests\n    How many people.\n"
        "when\n    What time.\n",
        "Book a table.\n\n:param guests: How many people.\n:param when: What time.\n",
    ],
    ids=["google", "numpy", "rest"],
)
def test_docstrings_give_parameter_descriptions(doc):
    async def book(guests: int, when: Annotated[str, Field(description="ISO time")]) -> None:
        pass

    book.__doc__ = doc
    decl = tool(book).declaration()
    assert decl["description"] == "Book a table."
    props = decl["parameters"]["properties"]
    assert props["guests"]["description"] == "How many people."
    assert props["when"]["description"] == "ISO time"  # the Field's own wins


def test_a_docstring_describing_a_missing_parameter_is_refused():
    with pytest.raises(TypeError, match=r"describes \['gests'\], which are not among"):

        @tool
        async def book(guests: int) -> None:
            """Book.

            Args:
                gests: How many.
            """


# --- plain functions, raw schemas, the call context ---


async def test_plain_functions_run_off_the_event_loop():
    release = threading.Event()
    seen: dict[str, Any] = {}

    @tool(timeout=5)
    def wait_for_release(n: int) -> int:
        """Blocks until released: on the event loop this would never return."""
        seen["thread"] = threading.get_ident()
        if not release.wait(timeout=4):
            raise ToolError("never released")
        return n * 2

    async def releaser() -> None:
        while "thread" not in seen:
            await asyncio.sleep(0.005)
        release.set()

    outcome, _ = await asyncio.gather(wait_for_release.invoke({"n": 21}), releaser())
    assert outcome.ok and outcome.response == {"result": 42}
    assert seen["thread"] != threading.get_ident()


async def test_a_raw_schema_is_declared_as_given_and_checked():
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20},
        },
        "required": ["query"],
    }

    @tool(parameters=schema)
    async def search(arguments: dict[str, Any]) -> dict:
        """Search."""
        return arguments

    assert search.declaration()["parameters"] == schema
    ok = await search.invoke({"query": "tea", "limit": 3})
    assert ok.ok and ok.response == {"query": "tea", "limit": 3}
    for args, fragment in [
        ({}, "missing argument 'query'"),
        ({"query": "tea", "limit": 50}, "argument 'limit' is 50 (allowed: 1 to 20)"),
        ({"query": 5}, "argument 'query' should be string, not integer"),
        ({"query": "tea", "colour": 1}, "unknown argument 'colour' (arguments: query, limit)"),
    ]:
        refused = await search.invoke(args)
        assert not refused.ok and fragment in refused.response["error"], refused.response
    with pytest.raises(DeclarationError, match="tool bad: parameter 'id' has a format"):

        @tool(
            parameters={
                "type": "object",
                "properties": {"id": {"type": "string", "format": "uuid"}},
            }
        )
        async def bad(arguments: dict) -> None:
            """Bad."""


async def test_the_context_is_found_by_its_type_whatever_its_name():
    @tool
    async def first(call: CallContext, x: int) -> str:
        """First."""
        return call.call_id

    @tool
    async def second(x: int, here: CallContext | None = None) -> str:
        """Second."""
        assert here is not None
        return here.call_id

    for t in (first, second):
        assert list(t.declaration()["parameters"]["properties"]) == ["x"]
        outcome = await t.invoke({"x": 1}, call_id="c-7")
        assert outcome.response == {"result": "c-7"}
    with pytest.raises(TypeError, match="tool third: parameter 'ctx' is CallContext or something"):

        @tool
        async def third(ctx: CallContext | int) -> None:
            """Third."""


# --- results reach the model exactly as the tool returned them ---


@pytest.mark.parametrize("behavior", [Behavior.NON_BLOCKING, Behavior.BLOCKING])
async def test_a_results_own_scheduling_key_reaches_the_model(behavior):
    @tool(behavior=behavior, scheduling=Scheduling.SILENT)
    async def plan() -> dict:
        """Plan."""
        return {"scheduling": "weekly", "slots": 3}

    call = await call_like_the_model(plan, "plan")
    print(behavior, call.final.raw)
    assert call.response == {"scheduling": "weekly", "slots": 3}
    assert call.final.response_scheduling == "weekly"  # the tool's data, untouched
    if behavior is Behavior.NON_BLOCKING:
        assert call.scheduling == call.final.scheduling_field == "SILENT"
    else:
        assert call.scheduling is None


def test_a_local_model_naming_an_undefined_type_names_the_tool():
    class Outer(BaseModel):
        inner: Later  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(DeclarationError, match="tool wrap: a model among its parameters refers"):

        @tool
        async def wrap(o: Outer) -> None:
            """Wrap."""


def test_the_tool_api_keeps_one_import_path():
    """The API lives in several modules by idea; tool packages and the README import
    every public name from `tools.api`, and the names there are the modules' own."""
    import tools.api
    from tools import context, decorator, definition, outcomes

    names = {
        "tool": decorator,
        "Tool": definition,
        "Handler": definition,
        "describe_validation_error": definition,
        "CallContext": context,
        "CallInfo": context,
        "RoomInfo": context,
        "ProgressSender": context,
        "Behavior": outcomes,
        "Scheduling": outcomes,
        "Result": outcomes,
        "ToolError": outcomes,
        "Outcome": outcomes,
    }
    for name, module in names.items():
        assert getattr(tools.api, name) is getattr(module, name), name
    assert set(names) | {"DeclarationError"} == set(tools.api.__all__)
