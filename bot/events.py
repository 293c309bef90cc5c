"""What happens in a call, as typed events: the one vocabulary between producers and consumers.

The Live stage, its tool-call ledger and its session moves *produce* these; the page
feed, the metrics and admission *consume* them (through one fan-out per call, see
``bot/call.py``). Producers say what happened, never how to word it: the English the
caller reads lives with the page feed (``bot/feed.py``), the counter names with the
metrics. A consumer matches on the type (``match event: case ToolState(...)``), so a
new event or a renamed field is a type error, not a silently dead string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

ToolStateName = Literal["running", "done", "failed", "cancelled"]
Role = Literal["user", "bot"]
LossReason = Literal["busy", "refused", "lost"]
CapName = Literal["tokens", "minutes"]


@dataclass(frozen=True, slots=True)
class ToolState:
    """A tool call started, finished, failed or was cancelled by the model."""

    call_id: str
    name: str
    state: ToolStateName
    #: how the result is announced ("INTERRUPT", "WHEN_IDLE", "SILENT"); None for
    #: BLOCKING tools and before the result exists
    scheduling: str | None
    behavior: Literal["BLOCKING", "NON_BLOCKING"]
    #: a short, caller-safe line: the arguments while running, the error when failed
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class ToolNotRun:
    """The tools guard refused an acting call (see ``bot/live/caller_intent.py``)."""

    call_id: str
    name: str
    refusal: str  # a ``Refusal`` value
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptPiece:
    """Some words of the caller or the bot; ``final`` ends the bot's turn (text may be empty)."""

    role: Role
    text: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class SessionInterrupted:
    """The Live socket broke; the stage is moving the session to a new one."""

    reason: str


@dataclass(frozen=True, slots=True)
class SessionMoved:
    """The Live session continues on a new socket (goAway, a drop, a refused resume)."""

    reason: str
    gap_seconds: float


@dataclass(frozen=True, slots=True)
class SessionLost:
    """The Live session cannot be kept; the call ends after the caller has been told."""

    reason: LossReason


StallAction = Literal["nudge", "move", "gave_up"]


@dataclass(frozen=True, slots=True)
class LiveStalled:
    """The model did not answer (no output, an empty or rejected turn): the stage nudged
    it on the same socket, moved the session, or stopped trying (``gave_up``)."""

    action: StallAction
    #: what it was waiting on: "caller" (a finished caller turn), "tool_result",
    #: "rejected" (a turnCompleteReason or an empty turn), "recovery" (a cut answer)
    waiting_for: str
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class StallRecovered:
    """The model answered (audio, its transcription, a tool call) after a ``LiveStalled``:
    the stall is over, so what was said about it can go."""

    waiting_for: str
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class BotRestarting:
    """The server is shutting down: the call gets ``grace_seconds`` to finish."""

    grace_seconds: float


@dataclass(frozen=True, slots=True)
class TokensUsed:
    """A model turn's usage (Gemini's ``usageMetadata``): tokens by direction
    ("prompt", "response", "thoughts", "tool_prompt") and modality ("audio", "text",
    ..., "unspecified" where Gemini gives no breakdown)."""

    counts: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True, slots=True)
class CallCapReached:
    """The call reached its cap (``LIVE_CALL_MAX_TOKENS`` / ``LIVE_CALL_MAX_MINUTES``):
    the bot says goodbye and hangs up."""

    limit: CapName


CallEvent = (
    ToolState
    | ToolNotRun
    | TranscriptPiece
    | SessionInterrupted
    | SessionMoved
    | SessionLost
    | LiveStalled
    | StallRecovered
    | BotRestarting
    | TokensUsed
    | CallCapReached
)
EventSink = Callable[[CallEvent], Awaitable[None]]
