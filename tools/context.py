"""What a running handler may know of its call, and how it reports progress.

A handler that declares a parameter annotated `CallContext` gets one per call.
It is a separate module because it is the only part of the tool API a handler
talks back through while it runs; everything else is declared before the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.outcomes import Behavior, Scheduling, ToolError, as_response

if TYPE_CHECKING:
    from tools.call_tools import CallTools
    from tools.definition import Tool

ProgressSender = Callable[[dict[str, Any], Scheduling], Awaitable[None]]
MAX_SAY_CHARS = 200  # "one moment, checking your calendar", not a speech


def _no_tools() -> CallTools:
    from tools.call_tools import CallTools  # here: tools.call_tools imports this module

    return CallTools()


@dataclass(frozen=True)
class RoomInfo:
    """The room a call is in: its name, the title callers see, and each tool package's
    settings for it (what `room create --lights-room …` stored), by package name."""

    name: str
    title: str
    settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def settings_for(self, package: str) -> Mapping[str, str]:
        return self.settings.get(package, {})


@dataclass
class CallInfo:
    """The call a tool runs in: one object for every tool call of one call."""

    #: The call's own id (the caller's peer connection): the same for the whole call,
    #: in every log line of it, and different for every call.
    id: str = "local"
    room: RoomInfo | None = None
    #: Per-call state for the tools: lives as long as the call, shared by its tools.
    state: dict[str, Any] = field(default_factory=dict)
    #: The caller's recent words (transcribed speech and typed text), newest last.
    recent_words: Callable[[], str] = lambda: ""
    #: The tools this call offers the model now (the Live stage's ledger sets them).
    tools: CallTools = field(default_factory=_no_tools)


@dataclass
class CallContext:
    """Passed to a handler that declares a parameter of this type.

    `progress()` sends an intermediate result (`will_continue`) while a long
    NON_BLOCKING tool keeps working; `say()` has the model tell the caller a short
    sentence meanwhile. `call_id` is this tool call's id; `caller_id`, `room`, `state`,
    `recent_words()` and `tools` (add or remove this call's tools) are the call's
    (see `CallInfo`).
    """

    call_id: str
    tool: Tool
    _send_progress: ProgressSender | None = None
    info: CallInfo = field(default_factory=CallInfo)

    @property
    def caller_id(self) -> str:
        """The call's stable id (the same for every tool call in this call)."""
        return self.info.id

    @property
    def room(self) -> RoomInfo | None:
        return self.info.room

    @property
    def state(self) -> dict[str, Any]:
        """Per-call state: what one tool call keeps here the next one finds."""
        return self.info.state

    @property
    def tools(self) -> CallTools:
        """This call's tools: `tools.add(tool_or_name)`, `tools.remove(name)`, `names`.

        A change is for this call only. A removed tool is refused at once if the model
        still calls it; an added one runs at once if called, and the model is told of
        both at the next session setup (the stage moves the session for it as soon as
        nobody is speaking and no tool is running; see `bot/live/tool_updates.py`)."""
        return self.info.tools

    def recent_words(self) -> str:
        """What the caller said (or typed) lately, newest last; "" if nothing yet."""
        return self.info.recent_words()

    async def say(self, text: str, scheduling: Scheduling = Scheduling.WHEN_IDLE) -> None:
        """Have the model say a short sentence to the caller while this tool works
        ("one moment, checking your calendar"). It travels as a progress response
        (`will_continue`) carrying `say_to_caller`, so only NON_BLOCKING tools can: a
        BLOCKING one holds the model until it returns (put the words in the result)."""
        if self.tool.behavior is not Behavior.NON_BLOCKING:
            raise ToolError(
                "only NON_BLOCKING tools can speak while they run; return the words instead"
            )
        text = " ".join(text.split())
        if not text or len(text) > MAX_SAY_CHARS:
            raise ToolError(f"say() takes one short sentence (1-{MAX_SAY_CHARS} characters)")
        await self.progress({"say_to_caller": text}, scheduling)

    async def progress(self, value: Any, scheduling: Scheduling = Scheduling.SILENT) -> None:
        """Tell the model how the work is going; the call stays open."""
        if self.tool.behavior is not Behavior.NON_BLOCKING:
            raise ToolError("only NON_BLOCKING tools can report progress")
        if self._send_progress is not None:
            await self._send_progress(as_response(value), scheduling)
