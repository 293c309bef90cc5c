"""The tool API: a documented, typed function *is* a tool.

    @tool(behavior=Behavior.NON_BLOCKING, scheduling=Scheduling.SILENT)
    async def set_light(name: str, on: bool, call: CallContext) -> dict:
        '''Switch one light on or off.

        Args:
            name: The light's name, e.g. 'kitchen'.
            on: Whether it should be on.
        '''

The docstring is the description the model reads (its parameter block, in
Google, NumPy or reST style, describes the parameters instead); the parameters
(types, `Field` constraints and descriptions, `Literal` choices) become the
Gemini function declaration, built and checked in `tools.declarations`, so
nobody writes schemas by hand (but a tool may, with `parameters=`). A parameter
annotated `CallContext` gets the call's context whatever its name. A plain
function runs in a worker thread. `Tool.invoke` is the one place that turns a
model's call into exactly one outcome: arguments are validated before the
handler runs, and a bad argument, an exception, a timeout or a result that is
not JSON all become an error result the model can recover from. The result
itself goes to the model as the handler returned it.

A tool that changes something in the world declares it: `@tool(acting=True)`.
The Live stage then runs it only when the model is answering the caller's own
turn (`bot/live/caller_intent.py`: turn order, never words), and after the model
has read any tool's result in that turn only once the caller has confirmed.
`confirm=True` (or a function of the arguments, e.g. "no room given: the whole
house") asks for that confirmation every time: destructive or whole-house changes.

This module is the tool API's one import path (tool packages and the README use
`from tools.api import ...`); the parts live by idea:

- `tools.decorator`: `@tool`, reading a function's signature and docstring;
- `tools.definition`: `Tool`, its declaration and the invocation of one call;
- `tools.outcomes`: `Behavior`, `Scheduling`, `Result`, `ToolError`, `Outcome`;
- `tools.context`: `CallContext`, what a running handler knows of its call.
"""

from __future__ import annotations

from tools.context import CallContext, CallInfo, ProgressSender, RoomInfo
from tools.declarations import DeclarationError
from tools.decorator import tool
from tools.definition import Handler, Tool, describe_validation_error
from tools.outcomes import Behavior, Outcome, Result, Scheduling, ToolError

__all__ = [
    "Behavior",
    "CallContext",
    "CallInfo",
    "DeclarationError",
    "Handler",
    "Outcome",
    "ProgressSender",
    "Result",
    "RoomInfo",
    "Scheduling",
    "Tool",
    "ToolError",
    "describe_validation_error",
    "tool",
]
