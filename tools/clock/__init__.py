"""The clock: the smallest tool package, and the model for writing one.

`current_time` is BLOCKING: it answers instantly, so the model may as well wait
for it instead of saying "let me check" first.
"""

from __future__ import annotations

from datetime import datetime

from tools.api import Behavior, tool
from tools.toolset import ToolContext, Toolset


def toolset(ctx: ToolContext) -> Toolset:
    @tool(behavior=Behavior.BLOCKING, timeout=2)
    async def current_time() -> dict:
        """The current date and time where the caller is. Use it for "what time is it",
        "what's the date", and before working out "tomorrow" or "next Tuesday"."""
        now = datetime.now(ctx.timezone)
        return {
            "now": now.isoformat(timespec="seconds"),
            "weekday": now.strftime("%A"),
            "time_zone": str(ctx.timezone),
        }

    return Toolset(name="clock", tools=[current_time], description="the date and time")
