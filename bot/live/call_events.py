"""The stage's call events on their way out: in order, never holding up the session.

Why its own module: the stage, its tool-call ledger and its session moves report
typed events (`bot/events.py`) from the hot path (a server message, a tool result).
The page feed and the metrics must not slow those down, so events go through one
queue to one delivery task, in the order they happened; a consumer that fails is
logged and skipped, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from loguru import logger

from bot.events import CallEvent, EventSink

StartTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class CallEvents:
    """One call's outgoing events. `start_task` is the stage's own (Pipecat's
    `create_task`, so the task ends with the pipeline)."""

    def __init__(self, sink: EventSink | None, start_task: StartTask, log: Any = logger) -> None:
        self._sink = sink
        self._start_task = start_task
        self._log = log
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def emit(self, event: CallEvent) -> None:
        """Queue `event` for delivery (returns at once)."""
        if self._sink is None:
            return
        if self.task is None:
            self.task = self._start_task(self._deliver(), "call_events")
        self._queue.put_nowait(event)

    async def drained(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until every queued event has been handed over."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._queue.empty():  # noqa: ASYNC110 (a queue has no drained event)
                    await asyncio.sleep(0.05)

    async def _deliver(self) -> None:
        while True:
            event = await self._queue.get()
            if self._sink is None:
                continue
            try:
                await self._sink(event)
            except Exception as e:
                self._log.debug(f"call event not delivered: {e!r}")
