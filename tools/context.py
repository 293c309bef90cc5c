"""What a running handler may know of its call, and how it reports progress.

A handler that declares a parameter annotated `CallContext` gets one per call.
It is a separate module because it is the only part of the tool API a handler
talks back through while it runs; everything else is declared before the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.outcomes import Behavior, Scheduling, ToolError, as_response

if TYPE_CHECKING:
    from tools.definition import Tool

ProgressSender = Callable[[dict[str, Any], Scheduling], Awaitable[None]]


@dataclass
class CallContext:
    """Passed to a handler that declares a parameter of this type.

    `progress()` sends an intermediate result (`will_continue`) while a long
    NON_BLOCKING tool keeps working.
    """

    call_id: str
    tool: Tool
    _send_progress: ProgressSender | None = None

    async def progress(self, value: Any, scheduling: Scheduling = Scheduling.SILENT) -> None:
        """Tell the model how the work is going; the call stays open."""
        if self.tool.behavior is not Behavior.NON_BLOCKING:
            raise ToolError("only NON_BLOCKING tools can report progress")
        if self._send_progress is not None:
            await self._send_progress(as_response(value), scheduling)
