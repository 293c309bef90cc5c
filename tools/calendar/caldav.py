"""The CalDAV backend: a calendar on Nextcloud, Fastmail, iCloud, Radicale, ...

Uses the `caldav` library's synchronous client in a worker thread (one call at
a time, under a lock: the client's HTTP session is not shared across threads).
The calendar is found on first use: the one named by `CALDAV_CALENDAR`
(created if missing), else the principal's first calendar (one named "livebot"
is created if it has none). Recurring events are expanded here, by the same code as
the local file (`recurrence.py`), from the whole objects the server's time-range search
returns, so one occurrence or the whole series can be changed in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from caldav.calendarobjectresource import CalendarObjectResource
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as caldav_error
from loguru import logger

from tools.calendar import recurrence
from tools.calendar.backend import (
    Event,
    EventNotFound,
    Events,
    to_calendar,
)

T = TypeVar("T")


def _sync(result: T | Coroutine[Any, Any, T]) -> T:
    """A result of caldav's synchronous client. caldav types its methods for both of its
    clients (`T | Coroutine[..., T]`); the synchronous one never returns a coroutine."""
    if isinstance(result, Coroutine):
        result.close()
        raise TypeError("caldav returned a coroutine from its synchronous client")
    return result


class CalDAVCalendar:
    """One calendar on a CalDAV server."""

    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        calendar_name: str | None,
        timezone: ZoneInfo,
        timeout: int = 10,
    ):
        self.url = url
        self.username = username
        self.password = password
        self.calendar_name = calendar_name
        self.timezone = timezone
        self.timeout = timeout
        self._client: DAVClient | None = None
        self._calendar: Calendar | None = None
        self._lock = asyncio.Lock()

    async def _run(self, fn: Callable[[Calendar], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(lambda: fn(self._connect()))

    def _connect(self) -> Calendar:
        if self._calendar is not None:
            return self._calendar
        self._client = DAVClient(
            url=self.url, username=self.username, password=self.password, timeout=self.timeout
        )
        principal = self._client.principal()
        if self.calendar_name:
            try:
                calendar = principal.calendar(name=self.calendar_name)
            except caldav_error.NotFoundError:
                logger.info(f"calendar: creating CalDAV calendar {self.calendar_name!r}")
                calendar = principal.make_calendar(name=self.calendar_name)
        else:
            calendars = principal.calendars()
            if calendars:
                calendar = calendars[0]
            else:
                logger.info("calendar: the CalDAV account has no calendar; creating 'livebot'")
                calendar = principal.make_calendar(name="livebot")
        logger.info(f"calendar: using CalDAV calendar {calendar.url}")
        self._calendar = calendar
        return calendar

    async def connect(self) -> None:
        """Reach the server and find the calendar now (else on the first call)."""
        await self._run(lambda cal: None)

    def _find(self, cal: Calendar, uid: str) -> CalendarObjectResource | None:
        try:
            return _sync(cal.event_by_uid(uid))
        except caldav_error.NotFoundError:
            return None

    async def list(self, start: datetime, end: datetime) -> Events:
        def search(cal: Calendar) -> Events:
            # The server picks the objects with an occurrence in the range; each is
            # expanded here, so a series' id and its overrides are at hand for changes.
            found: list[CalendarObjectResource] = _sync(
                cal.search(start=start, end=end, event=True)
            )
            events: Events = []
            for obj in found:
                ical = obj.get_icalendar_instance()
                events += recurrence.occurrences(ical, start, end, self.timezone)
            return events

        events = await self._run(search)
        return sorted(events, key=lambda e: (e.start, e.end))

    async def get(self, uid: str) -> Event | None:
        """The event, series or occurrence (``<series>/<UTC start>``) with this id."""

        def get(cal: Calendar) -> Event | None:
            obj = self._find(cal, recurrence.split_id(uid)[0])
            if obj is None:
                return None
            return recurrence.find(obj.get_icalendar_instance(), uid, self.timezone)

        return await self._run(get)

    async def add(self, event: Event) -> Event:
        ical = to_calendar([event]).to_ical().decode()
        await self._run(lambda cal: cal.add_event(ical, no_overwrite=True))
        logger.info(f"calendar: added {event.uid} on {self.url}")
        return event

    async def update(self, event: Event) -> Event:
        def update(cal: Calendar) -> None:
            obj = self._find(cal, event.series or event.uid)
            if obj is None:
                raise EventNotFound(event.uid)
            with obj.edit_icalendar_instance() as ical:
                if recurrence.find(ical, event.uid, self.timezone) is None:
                    raise EventNotFound(event.uid)
                if event.occurrence is not None:
                    recurrence.change_occurrence(ical, event, self.timezone)
                else:
                    recurrence.change_series(ical, event, self.timezone)
                ical.add_missing_timezones()
            obj.save()

        await self._run(update)
        logger.info(f"calendar: updated {event.uid} on {self.url}")
        return event

    async def remove(self, uid: str) -> None:
        def remove(cal: Calendar) -> None:
            series, original = recurrence.split_id(uid)
            obj = self._find(cal, series)
            if obj is None:
                raise EventNotFound(uid)
            if original is None:
                obj.delete()
                return
            with obj.edit_icalendar_instance() as ical:
                if recurrence.find(ical, uid, self.timezone) is None:
                    raise EventNotFound(uid)
                recurrence.cancel_occurrence(ical, series, original, self.timezone)
            obj.save()

        await self._run(remove)
        logger.info(f"calendar: removed {uid} from {self.url}")

    async def close(self) -> None:
        client, self._client, self._calendar = self._client, None, None
        if client is not None:
            await asyncio.to_thread(client.close)
