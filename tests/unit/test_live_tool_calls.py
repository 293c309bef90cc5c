"""The tool-call ledger without a socket or an emulator (bot/live/tool_calls.py).

Each call id runs once and gets exactly one FunctionResponse, with the scheduling
decided in one place; server cancellation answers nothing; barge-in answers the
tools that asked to be cancelled, silently.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from google.genai.types import FunctionCall, FunctionResponse

from bot.events import CallEvent, ToolNotRun, ToolState
from bot.live.call_events import CallEvents
from bot.live.tool_calls import ToolCallLedger
from bot.live.transcript import CallerTranscript
from tools.api import Behavior, CallContext, Result, Scheduling, tool
from tools.registry import ToolRegistry


@tool(scheduling=Scheduling.WHEN_IDLE)
async def lookup(q: str = "") -> dict:
    """Look something up."""
    return {"found": q}


@tool(behavior=Behavior.BLOCKING)
async def blocking() -> dict:
    """A blocking tool."""
    return {"ok": True}


@tool()
async def report(ctx: CallContext) -> dict:
    """A long job that reports progress."""
    await ctx.progress({"half": True})
    return {"ok": True}


@tool(scheduling=Scheduling.SILENT)
async def quiet_failure() -> Result:
    """Fails loudly although its default is silent."""
    return Result({"error": "unreachable"}, Scheduling.INTERRUPT)


@tool(cancel_on_barge_in=True)
async def long_search() -> dict:
    """Runs until cancelled."""
    await asyncio.sleep(60)
    return {}


@tool(acting=True)
async def switch_on() -> dict:
    """Changes the world."""
    return {"on": True}


class Rig:
    def __init__(self, *, non_blocking_ok: bool = True) -> None:
        self.sent: list[FunctionResponse] = []
        self.events: list[CallEvent] = []
        self.cancelled: list[tuple[set[str], str]] = []
        self.callbacks: list[tuple[Any, Any]] = []
        self.transcript = CallerTranscript()

        async def sink(event: CallEvent) -> None:
            self.events.append(event)

        async def send(response: FunctionResponse) -> None:
            self.sent.append(response)

        async def cancel(ids: set[str], reason: str) -> int:
            self.cancelled.append((ids, reason))
            return len(ids)

        registry = ToolRegistry([lookup, blocking, report, quiet_failure, long_search, switch_on])
        self.call_events = CallEvents(sink, lambda coro, name: asyncio.create_task(coro))
        self.ledger = ToolCallLedger(
            registry,
            self.transcript,
            self.call_events,
            send,
            cancel,
            non_blocking_ok=lambda: non_blocking_ok,
        )

    def params(self, call_id: str, args: dict | None = None) -> Any:
        async def result_callback(result: Any, *, properties: Any = None) -> None:
            self.callbacks.append((result, properties))

        return SimpleNamespace(
            tool_call_id=call_id, arguments=args or {}, result_callback=result_callback
        )

    async def call(self, call_id: str, name: str, args: dict | None = None) -> None:
        started = self.ledger.start([FunctionCall(id=call_id, name=name, args=args or {})])
        for c in started:
            await self.ledger.run(self.params(c.id, c.arguments))

    async def states(self) -> list[tuple[str, str, str | None, str]]:
        await self.call_events.drained(1)
        await asyncio.sleep(0)
        return [
            (e.call_id, e.state, e.scheduling, e.behavior)
            for e in self.events
            if isinstance(e, ToolState)
        ]


async def test_a_call_id_runs_once_and_is_answered_once():
    rig = Rig()
    await rig.call("c1", "lookup", {"q": "x"})
    await rig.call("c1", "lookup", {"q": "x"})  # repeated by the server
    assert [(r.id, r.response, r.scheduling, r.will_continue) for r in rig.sent] == [
        ("c1", {"found": "x"}, "WHEN_IDLE", False)
    ]
    assert await rig.states() == [
        ("c1", "running", "WHEN_IDLE", "NON_BLOCKING"),
        ("c1", "done", "WHEN_IDLE", "NON_BLOCKING"),
    ]
    # Pipecat still hears of it (for the context), once
    assert len(rig.callbacks) == 1 and rig.callbacks[0][1].is_final


async def test_the_result_decides_its_scheduling():
    rig = Rig()
    await rig.call("c2", "quiet_failure")
    [response] = rig.sent
    assert response.scheduling == "INTERRUPT" and "error" in response.response
    assert (await rig.states())[-1] == ("c2", "failed", "INTERRUPT", "NON_BLOCKING")


async def test_blocking_results_carry_no_scheduling():
    rig = Rig()
    await rig.call("c3", "blocking")
    [response] = rig.sent
    assert response.response == {"ok": True}
    assert response.scheduling is None and response.will_continue is None


async def test_progress_keeps_a_non_blocking_call_open():
    rig = Rig()
    await rig.call("p1", "report")
    assert [(r.response, r.scheduling, r.will_continue) for r in rig.sent] == [
        ({"half": True}, "SILENT", True),
        ({"ok": True}, "WHEN_IDLE", False),
    ]


async def test_progress_of_a_call_sent_as_blocking_is_not_sent():
    rig = Rig(non_blocking_ok=False)
    await rig.call("p2", "report")
    assert [(r.response, r.will_continue) for r in rig.sent] == [({"ok": True}, None)]


async def test_without_non_blocking_support_every_tool_is_blocking():
    rig = Rig(non_blocking_ok=False)
    await rig.call("c4", "lookup")
    [response] = rig.sent
    assert response.scheduling is None
    assert {b for *_, b in await rig.states()} == {"BLOCKING"}


async def test_an_unknown_tool_is_answered_with_an_error():
    rig = Rig()
    await rig.call("c5", "teleport")
    [response] = rig.sent
    assert response.name == "teleport"
    assert response.response["error"] == "there is no tool named 'teleport'"


async def test_server_cancellation_stops_the_call_and_answers_nothing():
    rig = Rig()
    [call] = rig.ledger.start([FunctionCall(id="c6", name="lookup", args={})])
    await rig.ledger.server_cancelled(["c6"])
    await rig.ledger.run(rig.params(call.id))  # its handler finishes anyway
    assert rig.sent == []
    assert rig.cancelled == [({"c6"}, "server cancellation")]
    assert (await rig.states())[-1][:2] == ("c6", "cancelled")


async def test_barge_in_cancels_only_the_tools_that_asked_with_a_silent_result():
    rig = Rig()
    rig.ledger.start(
        [FunctionCall(id="s1", name="long_search"), FunctionCall(id="l1", name="lookup")]
    )
    await rig.ledger.barge_in()
    assert rig.cancelled == [({"s1"}, "barge-in")]
    [response] = rig.sent
    assert response.id == "s1" and response.scheduling == "SILENT"
    assert response.response == {"error": "cancelled because the caller interrupted"}
    await rig.ledger.barge_in()  # answered: nothing more to cancel
    assert len(rig.cancelled) == 1


async def test_an_acting_call_nobody_asked_for_is_refused_and_reported():
    rig = Rig()
    rig.transcript.intent.model_turn_ended()
    rig.transcript.heard("bot", "Shall I?")
    started = rig.ledger.start([FunctionCall(id="a1", name="switch_on")])
    rig.transcript._caller_heard.set()  # do not wait for a caption in this test
    await rig.ledger.run(rig.params(started[0].id))
    [response] = rig.sent
    assert "not_done" in response.response
    await rig.call_events.drained(1)
    await asyncio.sleep(0)
    assert [e.refusal for e in rig.events if isinstance(e, ToolNotRun)] == ["no_caller_turn"]
