"""Calendar tools: list, create, move and cancel events, and find free time.

Settings:
- `CALENDAR_BACKEND` = `local` (default) or `caldav`.
- local: the events live in `calendar.ics` in the package's data directory, a
  plain iCalendar file any calendar app can import or subscribe to.
- caldav: `CALDAV_URL` (required), `CALDAV_USERNAME`, `CALDAV_PASSWORD`,
  `CALDAV_CALENDAR` (a calendar's display name; default: the account's first
  calendar). Works with Nextcloud, Fastmail, iCloud (app password), Radicale.

Times are ISO 8601 in the bot's `TIMEZONE`; a time without an offset from the
model is a wall-clock time there.

Scheduling (see `tools.py`): every tool is NON_BLOCKING so the bot can keep
talking while the calendar is read or written. Results arrive WHEN_IDLE: the
bot finishes its sentence, then gives the answer. Failures and conflicts are
INTERRUPT: "that time is taken" must be heard before the conversation goes on
as if the booking had been made. Event texts are data, never instructions.

A room may use its own calendar (`room create --calendar NAME`); the caller's page
shows the next events (see `tools.calendar.panel`).
"""

from __future__ import annotations

from enum import StrEnum

from loguru import logger

from tools.calendar.backend import CalendarBackend, CalendarError, Event, EventNotFound
from tools.calendar.panel import NAME, ROOM_OPTIONS, panel_for
from tools.calendar.tools import calendar_tools
from tools.env import EnvReader
from tools.toolset import RoomSettings, ToolContext, Toolset, ToolSettingsError

__all__ = [
    "ROOM_OPTIONS",
    "CalendarBackend",
    "Event",
    "EventNotFound",
    "calendar_tools",
    "make_backend",
    "toolset",
]


class BackendKind(StrEnum):
    LOCAL = "local"
    CALDAV = "caldav"


def make_backend(ctx: ToolContext, calendar: str | None = None) -> CalendarBackend:
    """The backend `CALENDAR_BACKEND` names; `ToolSettingsError` listing every problem."""
    r = EnvReader(ctx.env)
    kind = r.choice("CALENDAR_BACKEND", BackendKind, BackendKind.LOCAL)
    backend: CalendarBackend | None = None
    if kind is BackendKind.CALDAV:
        url = r.str("CALDAV_URL")
        if url is None:
            r.problems.append(
                "CALENDAR_BACKEND=caldav needs CALDAV_URL: set it to the server's CalDAV URL, "
                "e.g. https://cloud.example.com/remote.php/dav"
            )
        elif not url.startswith(("http://", "https://")):
            r.problems.append(f"CALDAV_URL={url!r} is not a URL: set it to https://...")
        username, password = r.str("CALDAV_USERNAME"), r.str("CALDAV_PASSWORD")
        if (username is None) != (password is None):
            missing = "CALDAV_PASSWORD" if password is None else "CALDAV_USERNAME"
            r.problems.append(f"{missing} is not set: set both CALDAV_USERNAME and CALDAV_PASSWORD")
        if url and not r.problems:
            from tools.calendar.caldav import CalDAVCalendar

            backend = CalDAVCalendar(
                url, username, password, calendar or r.str("CALDAV_CALENDAR"), timezone=ctx.timezone
            )
    else:
        from tools.calendar.local import LocalCalendar

        name = f"calendar-{calendar}.ics" if calendar else "calendar.ics"
        backend = LocalCalendar(ctx.data_dir / name, ctx.timezone)
    if r.problems or backend is None:
        raise ToolSettingsError(r.problems)
    return backend


def toolset(ctx: ToolContext, calendar: str | None = None) -> Toolset:
    """The calendar tools; `calendar` names another calendar (a room's own)."""
    backend = make_backend(ctx, calendar)
    rooms: dict[str, Toolset] = {}

    def for_room(settings: RoomSettings) -> Toolset:
        name = settings.get(NAME)
        if not name or name == calendar:
            return main
        if name not in rooms:
            rooms[name] = toolset(ctx, name)
        return rooms[name]

    async def start() -> None:
        """Reach the CalDAV server (or read the local file) early, so a wrong setting or
        a damaged file shows in the log at startup, in one line; it does not stop the
        bot (the tools report it per call)."""
        connect = getattr(backend, "connect", None)
        if connect is None:
            return
        try:
            await connect()
        except CalendarError:
            return  # the backend logged it, in one line naming the file
        except Exception as e:
            logger.warning(f"calendar: cannot reach the CalDAV server yet: {e}")

    main = Toolset(
        name="calendar",
        tools=calendar_tools(backend, ctx.timezone),
        start=start,
        stop=backend.close,
        description=(
            "The caller's calendar: list events, find free time, create, move and cancel "
            f"events. Times are ISO 8601; local time is {ctx.timezone.key}."
        ),
        extras={"backend": backend},
        for_room=for_room,
        panel=panel_for(backend, ctx.timezone),
    )
    return main
