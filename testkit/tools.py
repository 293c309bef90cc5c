"""Call a tool the way the model would, for tool developers' tests.

`call_like_the_model()` starts the Gemini Live emulator and a real Live stage,
has the emulated model send a `toolCall`, and returns every `functionResponse`
that came back over the wire: progress (`will_continue`) and the final result,
each with the scheduling the model would see.

    async def test_weather():
        call = await call_like_the_model(weather, "get_weather", {"city": "Paris"})
        assert call.scheduling == "WHEN_IDLE"
        assert call.response["temperature_c"] == 21
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gemini_emulator import FunctionResponseRecord, LiveSession, running_emulator
from testkit.stage import running_stage
from tools.api import RoomInfo, Tool
from tools.registry import ToolRegistry


@dataclass(frozen=True)
class ModelCall:
    """What the model received for one call."""

    call_id: str
    responses: list[FunctionResponseRecord]

    @property
    def final(self) -> FunctionResponseRecord:
        return self.responses[-1]

    @property
    def response(self) -> dict[str, Any]:
        """The final result's `response`, exactly as the model received it."""
        return self.final.response

    @property
    def scheduling(self) -> str | None:
        """The final result's `scheduling` field (None for a BLOCKING tool)."""
        return self.final.scheduling_field

    @property
    def progress(self) -> list[FunctionResponseRecord]:
        return self.responses[:-1]

    @property
    def ok(self) -> bool:
        return "error" not in self.final.response


async def call_like_the_model(
    tools: Tool | ToolRegistry | Iterable[Tool],
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    timeout: float = 30.0,
    caller_turn: str | None = "(the caller asks for this)",
    room: RoomInfo | None = None,
) -> ModelCall:
    """Run one model tool call through the emulator and the Live stage.

    The call answers a caller turn (`caller_turn`, sent as Gemini's input
    transcription) as an acting tool needs; `caller_turn=None` calls with none, which
    an acting tool refuses. `room` is the room the tool sees (`CallContext.room`).
    """
    if isinstance(tools, Tool):
        registry = ToolRegistry([tools])
    elif isinstance(tools, ToolRegistry):
        registry = tools
    else:
        registry = ToolRegistry(tools)
    ready = asyncio.Event()
    outcome: dict[str, Any] = {}

    async def model(s: LiveSession) -> None:
        await ready.wait()
        if caller_turn:
            await s.send_raw(s.transcribe(caller_turn))
        call_id = await s.call_tool(name, dict(args or {}))
        outcome["id"] = call_id
        await s.tool_response(call_id, timeout=timeout)
        outcome["responses"] = [r for r in s.function_responses if r.id == call_id]

    with tempfile.TemporaryDirectory(prefix="livebot-tool-") as tmp:
        async with (
            running_emulator(tmp, script=model) as emulator,
            running_stage(emulator, tools=registry, room=room) as harness,
        ):
            async with asyncio.timeout(timeout + 10):
                while harness.stage._context is None or not emulator.sessions:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                ready.set()
                while "responses" not in outcome:
                    session = emulator.sessions[0]
                    if session.script_error is not None:
                        raise session.script_error
                    await asyncio.sleep(0.02)
    return ModelCall(call_id=outcome["id"], responses=outcome["responses"])
