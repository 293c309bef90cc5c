"""What the caller's page shows besides audio, sent as RTVI `server-message`s.

Any RTVI client can follow a call: besides Pipecat's standard events, the page
gets `{"type": ...}` messages — `session` (mode and room), `tool` (each call's
state and scheduling, from the Live stage), `transcript`, `notice`, `lights`
(the room's lights as they really are, on every change) and `calendar` (the
next events, at start and after each calendar tool call). Every message is held
to the data channel's size limit on the way out (`bot.pagemessage.fit`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from bot.pagemessage import encoded_size, fit

Send = Callable[[dict[str, Any]], Awaitable[None]]
PAGE_EVENTS = {"tool", "transcript", "notice"}
CALENDAR_TOOLS = {"create_event", "move_event", "cancel_event"}
UPCOMING_DAYS = 7
UPCOMING_COUNT = 5


class CallFeed:
    """One call's page feed. `send` delivers a message to the caller's page."""

    def __init__(
        self,
        send: Send,
        *,
        session: dict[str, Any],
        lights: Any | None = None,
        lights_room: str | None = None,
        calendar: Any | None = None,
        timezone: ZoneInfo | None = None,
    ):
        self._send = send
        self._session = session
        self._lights = lights
        self._lights_room = lights_room
        self._calendar = calendar
        self._tz = timezone or ZoneInfo("UTC")
        self._unsubscribe: Callable[[], None] | None = None
        self._lights_pending = False
        self._tasks: set[asyncio.Task] = set()
        self._early: list[dict[str, Any]] = []  # events from before the page was ready
        self.ready = False

    async def start(self) -> None:
        """The caller's page is ready: send what it shows from the start, then follow changes."""
        self.ready = True
        await self.send({"type": "session", **self._session})
        for data in self._early:
            await self.send(data)
        self._early.clear()
        await self.send_lights()
        await self.send_calendar()
        if self._lights is not None and self._unsubscribe is None:
            self._unsubscribe = self._lights.subscribe(self._on_light_change)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()

    async def send(self, data: dict[str, Any]) -> None:
        fitted = fit(data)
        if fitted is not data:
            logger.info(
                f"page message {data.get('type')!r} cut to fit the data channel: "
                f"{encoded_size(data)} -> {encoded_size(fitted)} bytes"
            )
            data = fitted
        if not self.ready:
            if data.get("type") in ("tool", "transcript", "notice") and len(self._early) < 100:
                self._early.append(data)
            return
        try:
            await self._send(data)
        except Exception as e:
            logger.debug(f"page message not delivered: {e!r}")

    async def on_stage_event(self, data: dict[str, Any]) -> None:
        """Forward the Live stage's events; a finished calendar change refreshes the list."""
        if data.get("type") not in PAGE_EVENTS:
            return
        await self.send(data)
        if data.get("type") == "tool" and data.get("name") in CALENDAR_TOOLS:
            if data.get("state") == "done":
                await self.send_calendar()

    def _on_light_change(self, _light: Any) -> None:
        # Called from the backend, possibly for many lights at once: send one update.
        if self._lights_pending:
            return
        self._lights_pending = True
        task = asyncio.get_running_loop().create_task(self._send_lights_soon())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_lights_soon(self) -> None:
        await asyncio.sleep(0.05)
        self._lights_pending = False
        await self.send_lights()

    async def send_lights(self) -> None:
        if self._lights is None:
            return
        try:
            lights = await self._lights.lights()
        except Exception as e:
            logger.warning(f"lights state unavailable for the page: {e}")
            return
        if self._lights_room:
            in_room = [x for x in lights if x.room == self._lights_room]
            lights = in_room or lights
        await self.send(
            {
                "type": "lights",
                "room": self._lights_room,
                "lights": [
                    {
                        "name": x.name,
                        "room": x.room,
                        "on": x.on,
                        "brightness": x.brightness,
                        "color_temp_kelvin": x.color_temp_kelvin,
                        "reachable": x.reachable,
                    }
                    for x in lights
                ],
            }
        )

    async def send_calendar(self) -> None:
        if self._calendar is None:
            return
        from tools.calendar.timeutil import iso, when

        now = datetime.now(self._tz)
        try:
            listed = await self._calendar.list(now, now + timedelta(days=UPCOMING_DAYS))
        except Exception as e:
            logger.warning(f"calendar unavailable for the page: {e}")
            return
        events = sorted(listed, key=lambda e: e.start)
        await self.send(
            {
                "type": "calendar",
                "events": [
                    {
                        "id": e.uid,
                        "title": e.title,
                        "start": iso(e.start, self._tz),
                        "end": iso(e.end, self._tz),
                        "when": when(e.start, e.end, self._tz, all_day=e.all_day),
                    }
                    for e in events[:UPCOMING_COUNT]
                ],
            }
        )
