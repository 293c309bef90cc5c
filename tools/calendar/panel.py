"""What the calendar package adds to a room's calls: the room's own calendar, and the page panel.

A room may use its own calendar (its `name` setting, `room create --calendar`): a
CalDAV calendar of that name, or `calendar-<name>.ics` in the package's data
directory, so the name must stay one path component. The caller's page shows the
next events, at the start of the call and after each change the calendar tools
made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from tools.calendar.backend import CalendarBackend
from tools.calendar.timeutil import iso, when
from tools.room_options import RoomOption
from tools.toolset import PagePanel, RoomSettings

NAME = "name"  # the room setting: the calendar this room uses
# One path component, so it can never point outside the data directory.
CALENDAR_NAME = re.compile(r"^(?!\.)[^\x00-\x1f\x7f/\\]{1,64}$")
CHANGING_TOOLS = frozenset({"create_event", "move_event", "cancel_event"})
UPCOMING_DAYS = 7
UPCOMING_COUNT = 5


def check_name(name: str) -> str | None:
    if CALENDAR_NAME.fullmatch(name):
        return None
    return (
        f"calendar name {name!r} is not allowed: it must stay inside the data directory, "
        "so use up to 64 characters without slashes or control characters, not starting "
        "with a dot"
    )


ROOM_OPTIONS = [
    RoomOption(
        NAME,
        "--calendar",
        "the calendar this room uses (a CalDAV name, or calendar-NAME.ics in the data dir)",
        label="calendar",
        legacy_key="calendar",
        check=check_name,
    )
]


def page_panel(backend: CalendarBackend, timezone: ZoneInfo) -> PagePanel:
    """The `{"type": "calendar", ...}` message: the next events, refreshed after changes."""

    async def snapshot() -> dict[str, Any] | None:
        now = datetime.now(timezone)
        try:
            listed = await backend.list(now, now + timedelta(days=UPCOMING_DAYS))
        except Exception as e:
            logger.warning(f"calendar unavailable for the page: {e}")
            return None
        events = sorted(listed, key=lambda e: e.start)
        return {
            "type": "calendar",
            "events": [
                {
                    "id": e.uid,
                    "title": e.title,
                    "start": iso(e.start, timezone),
                    "end": iso(e.end, timezone),
                    "when": when(e.start, e.end, timezone, all_day=e.all_day),
                }
                for e in events[:UPCOMING_COUNT]
            ],
        }

    return PagePanel(snapshot, refresh_after=CHANGING_TOOLS)


def panel_for(backend: CalendarBackend, timezone: ZoneInfo) -> Callable[[RoomSettings], PagePanel]:
    panel = page_panel(backend, timezone)
    return lambda _settings: panel
