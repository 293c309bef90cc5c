"""A call's own tool set (tools/call_tools.py), the ledger that looks calls up in it,
and when a change is declared to the model (bot/live/tool_updates.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from google.genai.types import FunctionCall, FunctionResponse

from bot.live.call_events import CallEvents
from bot.live.session_moves import SessionMoves
from bot.live.tool_calls import ToolCallLedger
from bot.live.tool_updates import ToolUpdates
from bot.live.transcript import CallerTranscript
from tools.api import CallContext, tool
from tools.call_tools import CallTools, ToolSetChange
from tools.registry import ToolRegistry

RAN: list[str] = []


@tool()
async def lookup() -> dict:
    """Look something up."""
    RAN.append("lookup")
    return {"found": True}


@tool()
async def order() -> dict:
    """Place the order."""
    RAN.append("order")
    return {"ordered": True}


@tool()
async def pay() -> dict:
    """Pay for the order (offered only once it is placed)."""
    RAN.append("pay")
    return {"paid": True}


@tool()
async def checkout(call: CallContext) -> dict:
    """Place the order: no more ordering, and paying becomes possible."""
    call.tools.remove("order")
    call.tools.add(pay)
    return {"tools": call.tools.names}


def registry() -> ToolRegistry:
    return ToolRegistry([lookup, order, checkout])


# ---- the per-call tool set ---------------------------------------------------


def test_a_call_starts_with_the_registry_and_changes_only_itself():
    shared = registry()
    mine, other = CallTools(shared), CallTools(shared)
    mine.remove("order")
    mine.add(pay)
    assert mine.names == ["lookup", "checkout", "pay"]
    assert mine.get("order") is None and "order" not in mine and mine.removed == ["order"]
    assert mine.get("pay") is pay and len(mine) == 3
    assert other.names == ["lookup", "order", "checkout"]  # the other call is untouched
    assert [t.name for t in shared] == ["lookup", "order", "checkout"]
    assert [t.name for t in mine.registry()] == ["lookup", "checkout", "pay"]


def test_a_removed_tool_comes_back_by_name_in_its_place():
    tools = CallTools(registry())
    tools.remove("order")
    tools.add("order")
    assert tools.names == ["lookup", "order", "checkout"] and tools.removed == []


def test_each_real_change_is_reported_once_and_counted():
    tools = CallTools(registry())
    seen: list[ToolSetChange] = []
    tools.on_change(seen.append)
    tools.remove("order")
    tools.remove("order")  # already removed: nothing happens
    tools.add(pay)
    tools.add(pay)  # already offered
    tools.add("pay")
    assert [str(c) for c in seen] == ["-order", "+pay"]
    assert [c.version for c in seen] == [1, 2] and tools.version == 2


def test_unknown_names_and_clashes_are_refused_with_what_is_available():
    tools = CallTools(registry())
    tools.remove("order")
    with pytest.raises(ValueError) as removing:
        tools.remove("teleport")
    assert str(removing.value) == (
        "cannot remove tool 'teleport': no such tool (available: lookup, checkout; removed: order)"
    )
    with pytest.raises(ValueError) as adding:
        tools.add("pay")
    assert "cannot add tool 'pay': this call never had a tool by that name" in str(adding.value)
    assert "available: lookup, checkout; removed: order" in str(adding.value)
    assert "pass the Tool itself" in str(adding.value)

    @tool(name="lookup")
    async def other_lookup() -> dict:
        """Another tool with a taken name."""
        return {}

    with pytest.raises(ValueError, match="already has a different tool by that name"):
        tools.add(other_lookup)
    with pytest.raises(TypeError, match=r"a Tool .* or a tool's name, not function"):
        tools.add(lambda: None)  # type: ignore[arg-type]
    assert tools.version == 1  # the refused changes changed nothing


# ---- the ledger looks each call up in the call's own set -------------------------


class Rig:
    def __init__(self, shared: ToolRegistry) -> None:
        self.sent: list[FunctionResponse] = []

        async def send(response: FunctionResponse) -> None:
            self.sent.append(response)

        async def cancel(ids: set[str], reason: str) -> int:
            return 0

        async def sink(event: Any) -> None:
            pass

        self.ledger = ToolCallLedger(
            shared,
            CallerTranscript(),
            CallEvents(sink, lambda coro, name: asyncio.create_task(coro)),
            send,
            cancel,
            non_blocking_ok=lambda: True,
        )

    async def call(self, call_id: str, name: str) -> dict[str, Any]:
        async def result_callback(result: Any, *, properties: Any = None) -> None:
            pass

        for c in self.ledger.start([FunctionCall(id=call_id, name=name, args={})]):
            params = SimpleNamespace(
                tool_call_id=c.id, arguments={}, result_callback=result_callback
            )
            await self.ledger.run(params)  # type: ignore[arg-type]
        [response] = [r for r in self.sent if r.id == call_id]
        return dict(response.response or {})


async def test_the_ledger_refuses_a_removed_tool_and_runs_an_added_one_at_once():
    RAN.clear()
    shared = registry()
    rig, other = Rig(shared), Rig(shared)
    assert (await rig.call("c1", "checkout")) == {"tools": ["lookup", "checkout", "pay"]}
    refused = await rig.call("c2", "order")
    assert refused["error"] == (
        "the tool 'order' was removed from this call and cannot be used any more"
    )
    assert (await rig.call("c3", "pay")) == {"paid": True}
    assert "no tool named 'pay'" in (await other.call("o1", "pay"))["error"]
    assert (await other.call("o2", "order")) == {"ordered": True}
    assert RAN == ["pay", "order"]  # the refused calls ran nothing
    assert not rig.ledger.busy


# ---- when the model is told ------------------------------------------------------


class FakeMoves:
    def __init__(self) -> None:
        self.safe = False
        self.moved: list[tuple[str, str | None]] = []

    def can_resume_now(self) -> bool:
        return self.safe

    async def move(self, reason: str, error: Any = None, *, kind: str | None = None) -> None:
        self.moved.append((reason, kind))


class FakeStage:
    closing = False

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def create_task(self, coroutine: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.append(task)
        return task


async def test_a_change_moves_the_session_once_at_the_first_safe_moment():
    tools = CallTools(registry())
    moves, stage = FakeMoves(), FakeStage()
    busy = {"now": True}
    updates = ToolUpdates(stage, tools, moves, busy=lambda: busy["now"])  # type: ignore[arg-type]
    first = updates.declare()
    assert first is not None and [f.name for f in first.standard_tools] == [
        "lookup",
        "order",
        "checkout",
    ]
    tools.remove("order")  # from inside a running tool: a call is still open
    assert updates.pending and stage.tasks == []
    busy["now"] = False
    updates.maybe_apply()  # no resumable handle newer than the last turn yet
    assert stage.tasks == []
    moves.safe = True
    updates.maybe_apply()
    updates.maybe_apply()  # one move per change
    await asyncio.gather(*stage.tasks)
    assert moves.moved == [("tools changed", "tools")]
    # The move's setup declares the new set; nothing is pending any more.
    redeclared = updates.declare()
    assert redeclared is not None
    assert [f.name for f in redeclared.standard_tools] == ["lookup", "checkout"]
    assert not updates.pending
    updates.maybe_apply()
    assert len(stage.tasks) == 1


def real_moves(*, resume: bool) -> SessionMoves:
    stage = SimpleNamespace(resumption_handle="handle-1", bot_is_responding=False)
    outbound = SimpleNamespace(held=False)
    moves = SessionMoves(
        stage,  # type: ignore[arg-type]
        outbound,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        resume=resume,
        on_lost=lambda e, why: asyncio.sleep(0),
        end_call=lambda why: asyncio.sleep(0),
    )
    moves.activity()
    moves.handle_arrived()  # a resumable handle newer than the last turn
    return moves


async def test_without_resumption_a_change_waits_for_the_next_session_move():
    assert real_moves(resume=True).can_resume_now()
    moves = real_moves(resume=False)
    assert not moves.can_resume_now()
    tools, stage = CallTools(registry()), FakeStage()
    updates = ToolUpdates(stage, tools, moves, busy=lambda: False)  # type: ignore[arg-type]
    updates.declare()
    tools.add(pay)
    updates.maybe_apply()
    assert stage.tasks == [] and updates.pending
    redeclared = updates.declare()  # e.g. the next goAway handover
    assert redeclared is not None and "pay" in [f.name for f in redeclared.standard_tools]


async def test_a_move_already_under_way_carries_the_change_instead():
    tools = CallTools(registry())
    moves, stage = FakeMoves(), FakeStage()
    updates = ToolUpdates(stage, tools, moves, busy=lambda: False)  # type: ignore[arg-type]
    updates.declare()
    moves.safe = True
    tools.remove("lookup")  # safe now: a tools move is started ...
    moves.safe = False  # ... but a goAway handover holds the queue first
    await asyncio.gather(*stage.tasks)
    assert moves.moved == [] and updates.pending
    moves.safe = True  # had that move not declared it, the next safe moment does
    updates.maybe_apply()
    await asyncio.gather(*stage.tasks)
    assert moves.moved == [("tools changed", "tools")]
