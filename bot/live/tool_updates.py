"""A call's tool set changed: declare the new one to the model by resuming the session.

Why we do this ourselves: the Live API takes tools only in the `setup`, and Pipecat
1.14's Gemini Live service ignores `LLMSetToolsFrame` ("TODO: implement runtime tool
updates"). What the service accepts, from Google's Live API WebSockets reference
(https://ai.google.dev/api/live, "Session configuration"): "You cannot update the
configuration while the connection is open. However, you can change the configuration
parameters, except the model, when pausing and resuming via the session resumption
mechanism" - and the setup's `tools` is one of those parameters. LiveKit Agents'
Gemini plugin relies on the same: its `update_tools` restarts the socket with the new
tools and the latest resumption handle (livekit-plugins-google,
`realtime_api.py`, `update_tools` -> `_mark_restart_needed`, `_build_connect_config`).

So, when a tool adds or removes tools of its call (`CallContext.tools`):

- at once, the ledger refuses a removed tool and runs an added one (`tool_calls.py`);
- every setup from then on declares the call's tools as they are (`declare()`, read by
  the stage each time it connects), whatever the reason for the new socket;
- and we do not wait for Google's next goAway: at the first safe moment (no bot speech,
  no tool call waiting for its answer, a resumable handle newer than any turn - what
  a goAway handover waits for) the session moves to a new socket, resuming with the
  newest handle; the conversation goes on, the model now knowing the new tools.
  With session resumption switched off (`LIVE_SESSION_RESUMPTION=false`) we do not
  start a fresh session for it: the change waits for the next session move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema

from bot.live.declarations import tools_schema
from bot.live.session_moves import SessionMoves
from tools.call_tools import CallTools, ToolSetChange


class RedeclaringStage(Protocol):
    @property
    def closing(self) -> bool: ...

    def create_task(self, coroutine: Coroutine[Any, Any, None], name: str) -> Any: ...


class ToolUpdates:
    """One call's tool declarations: what the last setup declared, and the move that
    brings a changed set to the model."""

    def __init__(
        self,
        stage: RedeclaringStage,
        tools: CallTools,
        moves: SessionMoves,
        *,
        busy: Callable[[], bool],
        google_search: bool = False,
        log: Any = logger,
    ) -> None:
        self._stage = stage
        self._tools = tools
        self._moves = moves
        self._busy = busy  # a tool call still waits for its answer
        self._google_search = google_search
        self._log = log
        self.declared: int | None = None  # the tool-set version in the latest setup
        self._requested: int | None = None  # the version a move was started for
        tools.on_change(self._changed)

    def declare(self) -> ToolsSchema | None:
        """The tools of the setup about to be sent: the call's, as they are now."""
        self.declared = self._tools.version
        self._requested = None
        return tools_schema(self._tools.registry(), google_search=self._google_search)

    @property
    def pending(self) -> bool:
        """The model has not been told of the latest change yet."""
        return self.declared is not None and self.declared != self._tools.version

    def maybe_apply(self) -> None:
        """Move the session for a pending change if now is a safe moment (checked after
        each server message and each final tool answer)."""
        version = self._tools.version
        if not self.pending or self._requested == version or self._stage.closing:
            return
        if self._busy() or not self._moves.can_resume_now():
            return
        self._requested = version
        self._log.info(
            f"redeclaring the call's tools ({', '.join(self._tools.names) or 'none'}) "
            "by resuming the session"
        )
        self._stage.create_task(self._move(), "live_redeclare_tools")

    async def _move(self) -> None:
        # A move started for another reason in the same moment (a goAway handover) goes
        # first and already declares the new tools: then this one is not needed.
        await asyncio.sleep(0)
        if not self.pending or not self._moves.can_resume_now():
            self._requested = None  # checked again after the next message or answer
            return
        await self._moves.move("tools changed", kind="tools")

    def _changed(self, change: ToolSetChange) -> None:
        self._log.info(
            f"call tools changed ({change}): the model is told at the next session setup"
        )
        self.maybe_apply()
