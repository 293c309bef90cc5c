"""What the caller's page shows besides audio, sent as RTVI `server-message`s.

Any RTVI client can follow a call: besides Pipecat's standard events, the page
gets `{"type": ...}` messages — `session` (mode and room), then, from the call's
typed events (`bot.events`), `tool` (each call's state and scheduling),
`transcript` and `notice` (the words the caller reads when the Live session
breaks or is lost: they live here, not in the stage), and the toolsets' page
panels (`tools.toolset.PagePanel`: e.g. the room's lights on every change, the
next calendar events after each calendar change), which the feed sends without
knowing what they show. Every message is held to the data channel's size limit on
the way out (`bot.pagemessage.fit`). The feed keeps the last transcript and tool
messages (`history`), so a caller who comes back (`bot.rejoin`) sees them again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from loguru import logger

from bot.events import (
    BotRestarting,
    CallCapReached,
    CallEvent,
    CapName,
    LiveStalled,
    LossReason,
    SessionInterrupted,
    SessionLost,
    ToolState,
    TranscriptPiece,
)
from bot.pagemessage import encoded_size, fit
from tools.toolset import PagePanel

Send = Callable[[dict[str, Any]], Awaitable[None]]
EARLY_LIMIT = 100  # messages kept for a page that is not ready yet
CHANGE_DEBOUNCE_SECONDS = 0.05  # a panel's burst of changes becomes one snapshot
HISTORY_LIMIT = 300  # transcript and tool messages kept for a rejoining page
KEPT = ("transcript", "tool")  # what a rejoining page is shown again

RECONNECTING = "Reconnecting to Gemini…"
STALLED = {
    "nudge": "Gemini is slow to answer: asking it again…",
    "move": "Gemini did not answer: reconnecting…",
    "gave_up": "Gemini is not answering. Please say it again, or call again.",
}
LOST: dict[LossReason, str] = {
    "busy": "The bot is busy right now (too many calls). Please try again in a few minutes.",
    "refused": "The bot cannot reach Gemini right now (it was refused). Please try again later.",
    "lost": "The bot lost its connection to Gemini. Please call again.",
}
CAPPED: dict[CapName, str] = {
    "tokens": "This call has reached its usage limit: the bot is saying goodbye and will hang up.",
    "minutes": "This call has reached its time limit: the bot is saying goodbye and will hang up.",
}


def page_message(event: CallEvent) -> dict[str, Any] | None:
    """The page's message for a call event; None for events the page does not show.

    This is the one list of the call-event messages the page knows."""
    match event:
        case ToolState():
            return {
                "type": "tool",
                "call_id": event.call_id,
                "name": event.name,
                "state": event.state,
                "scheduling": event.scheduling,
                "behavior": event.behavior,
                "summary": event.summary,
            }
        case TranscriptPiece():
            return {
                "type": "transcript",
                "role": event.role,
                "text": event.text,
                "final": event.final,
            }
        case SessionInterrupted():
            return {"type": "notice", "level": "warning", "text": RECONNECTING}
        case SessionLost():
            return {"type": "notice", "level": "error", "text": LOST[event.reason]}
        case LiveStalled():
            level = "warning" if event.action == "gave_up" else "info"
            return {"type": "notice", "level": level, "text": STALLED[event.action]}
        case BotRestarting():
            text = (
                f"The bot is restarting: this call ends within {event.grace_seconds:.0f} "
                "seconds. Please call again in a minute."
            )
            return {"type": "notice", "level": "warning", "text": text}
        case CallCapReached():
            return {"type": "notice", "level": "warning", "text": CAPPED[event.limit]}
    # ToolNotRun (the model hears the refusal), SessionMoved (seamless), TokensUsed (metrics)
    return None


class CallFeed:
    """One call's page feed. `send` delivers a message to the caller's page."""

    def __init__(
        self,
        send: Send,
        *,
        session: dict[str, Any],
        panels: Sequence[PagePanel] = (),
        restored: Sequence[dict[str, Any]] = (),
    ):
        self._send = send
        self._session = session
        self._panels = list(panels)
        # What the page showed before the caller left and came back: sent again first.
        self.history: deque[dict[str, Any]] = deque(restored, maxlen=HISTORY_LIMIT)
        self._restored = list(self.history)
        self._unsubscribe: list[Callable[[], None]] = []
        self._pending: set[int] = set()  # panels with a snapshot on its way
        self._tasks: set[asyncio.Task] = set()
        self._early: list[dict[str, Any]] = []  # sent before the page was ready
        self._subscribed = False
        self.ready = False

    async def start(self) -> None:
        """The caller's page is ready: send what it shows from the start, then follow changes."""
        self.ready = True
        await self.send({"type": "session", **self._session})
        restored, self._restored = self._restored, []
        for data in restored:
            await self.send({**data, "restored": True})
        early, self._early = self._early, []
        for data in early:
            await self.send(data)
        for panel in self._panels:
            await self.send_panel(panel)
        if not self._subscribed:
            self._subscribed = True
            for i, panel in enumerate(self._panels):
                if panel.subscribe is not None:
                    self._unsubscribe.append(panel.subscribe(partial(self._on_change, i)))

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        for task in self._tasks:
            task.cancel()

    async def send(self, data: dict[str, Any]) -> None:
        """Send a message to the page; one sent before the page is ready is kept (up to
        `EARLY_LIMIT`) and sent after the session message."""
        fitted = fit(data)
        if fitted is not data:
            logger.info(
                f"page message {data.get('type')!r} cut to fit the data channel: "
                f"{encoded_size(data)} -> {encoded_size(fitted)} bytes"
            )
            data = fitted
        if not self.ready:
            if len(self._early) < EARLY_LIMIT:
                self._early.append(data)
            return
        try:
            await self._send(data)
        except Exception as e:
            logger.debug(f"page message not delivered: {e!r}")

    async def on_event(self, event: CallEvent) -> None:
        """A call event: its message to the page; a finished tool call refreshes the
        panels that follow that tool."""
        data = page_message(event)
        if data is None:
            return
        if data["type"] in KEPT:
            self.history.append(data)
        await self.send(data)
        if isinstance(event, ToolState) and event.state == "done":
            for panel in self._panels:
                if event.name in panel.refresh_after:
                    await self.send_panel(panel)

    def _on_change(self, index: int) -> None:
        # Called from a backend, possibly for many changes at once: send one snapshot.
        if index in self._pending:
            return
        self._pending.add(index)
        task = asyncio.get_running_loop().create_task(self._send_panel_soon(index))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_panel_soon(self, index: int) -> None:
        await asyncio.sleep(CHANGE_DEBOUNCE_SECONDS)
        self._pending.discard(index)
        await self.send_panel(self._panels[index])

    async def send_panel(self, panel: PagePanel) -> None:
        """A panel's snapshot, for a ready page (before that, `start` sends them all)."""
        if not self.ready:
            return
        try:
            data = await panel.snapshot()
        except Exception as e:
            logger.warning(f"page panel unavailable: {e}")
            return
        if data is not None:
            await self.send(data)
