"""TEMPORARY bridge: typed call events as the dicts today's consumers still match on.

Why it exists: the stage now emits the typed events of `bot/events.py` and holds no
caller-facing English. The page feed, the metrics and admission (owned by another
step of issue 12) still take the old `{"type": ...}` dicts, and the page still
shows the notices' wording. Until they consume the types, `as_legacy_dicts` turns
each event into exactly the dicts the stage used to send, wording included (the
wording belongs with the page feed: move it there and delete this module).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.events import (
    CallEvent,
    EventSink,
    SessionInterrupted,
    SessionLost,
    SessionMoved,
    ToolNotRun,
    ToolState,
    TranscriptPiece,
)

RECONNECTING = "Reconnecting to Gemini…"  # SessionInterrupted, a warning notice
LOST_TEXT = {  # SessionLost.reason -> an error notice
    "busy": "The bot is busy right now (too many calls). Please try again in a few minutes.",
    "refused": "The bot cannot reach Gemini right now (it was refused). Please try again later.",
    "lost": "The bot lost its connection to Gemini. Please call again.",
}

DictSink = Callable[[dict[str, Any]], Awaitable[None]]


def as_legacy_dicts(event: CallEvent) -> list[dict[str, Any]]:
    """The dicts the stage sent for this event before the events were typed."""
    match event:
        case ToolState():
            return [
                {
                    "type": "tool",
                    "call_id": event.call_id,
                    "name": event.name,
                    "state": event.state,
                    "scheduling": event.scheduling,
                    "behavior": event.behavior,
                    "summary": event.summary,
                }
            ]
        case ToolNotRun():
            return [
                {
                    "type": "guard",
                    "call_id": event.call_id,
                    "name": event.name,
                    "refusal": event.refusal,
                    "summary": event.summary,
                }
            ]
        case TranscriptPiece():
            return [
                {"type": "transcript", "role": event.role, "text": event.text, "final": event.final}
            ]
        case SessionInterrupted():
            return [{"type": "notice", "level": "warning", "text": RECONNECTING}]
        case SessionMoved():
            return [
                {
                    "type": "live",
                    "event": "switched",
                    "reason": event.reason,
                    "gap": event.gap_seconds,
                }
            ]
        case SessionLost():
            return [
                {"type": "notice", "level": "error", "text": LOST_TEXT[event.reason]},
                {"type": "live", "event": "lost", "reason": event.reason},
            ]
    return []


def legacy_sink(sink: DictSink) -> EventSink:
    """A typed-event sink that hands `sink` the old dicts."""

    async def deliver(event: CallEvent) -> None:
        for data in as_legacy_dicts(event):
            await sink(data)

    return deliver
