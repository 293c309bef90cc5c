"""The local backend: one iCalendar file any calendar app can open.

Every change reads the file, changes the events and writes the whole file
atomically (temporary file, fsync, `os.replace`), under a lock, so a crash
leaves either the old calendar or the new one, never half of one. Components
this backend does not manage (VTODOs, recurring series' overrides, unknown
properties) are kept as they were.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
from loguru import logger

from tools.calendar.backend import (
    Event,
    EventNotFound,
    Events,
    events_of,
    from_vevent,
    master_vevent,
    new_calendar,
    to_vevent,
    write_vevent,
)
from tools.files import write_atomically


class LocalCalendar:
    """Events in an `.ics` file (created on the first write)."""

    def __init__(self, path: Path, timezone: ZoneInfo):
        self.path = path
        self.timezone = timezone
        self._lock = asyncio.Lock()

    def _read(self) -> icalendar.Calendar:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return new_calendar()
        if not data.strip():
            return new_calendar()
        return icalendar.Calendar.from_ical(data)

    def _write(self, cal: icalendar.Calendar) -> None:
        cal.add_missing_timezones()
        data = cal.to_ical()
        write_atomically(self.path, data)

    async def list(self, start: datetime, end: datetime) -> Events:
        async with self._lock:
            cal = await asyncio.to_thread(self._read)
        events = [e for e in events_of(cal, self.timezone) if e.overlaps(start, end)]
        return sorted(events, key=lambda e: (e.start, e.end))

    async def get(self, uid: str) -> Event | None:
        async with self._lock:
            cal = await asyncio.to_thread(self._read)
        return next((e for e in events_of(cal, self.timezone) if e.uid == uid), None)

    async def add(self, event: Event) -> Event:
        async with self._lock:
            cal = await asyncio.to_thread(self._read)
            cal.add_component(to_vevent(event))
            await asyncio.to_thread(self._write, cal)
        logger.info(f"calendar: added {event.uid} to {self.path}")
        return event

    async def update(self, event: Event) -> Event:
        async with self._lock:
            cal = await asyncio.to_thread(self._read)
            self._replace(cal, event.uid, event)
            await asyncio.to_thread(self._write, cal)
        logger.info(f"calendar: updated {event.uid} in {self.path}")
        return event

    async def remove(self, uid: str) -> None:
        async with self._lock:
            cal = await asyncio.to_thread(self._read)
            self._replace(cal, uid, None)
            await asyncio.to_thread(self._write, cal)
        logger.info(f"calendar: removed {uid} from {self.path}")

    def _replace(self, cal: icalendar.Calendar, uid: str, event: Event | None) -> None:
        """Rewrite the event with this uid in place, or drop it (with its overrides)."""
        master = master_vevent(cal.subcomponents, uid)
        if master is None or from_vevent(master, self.timezone) is None:
            raise EventNotFound(uid)
        if event is not None:
            write_vevent(master, event)
            return
        cal.subcomponents = [
            c for c in cal.subcomponents if not (c.name == "VEVENT" and str(c.get("uid")) == uid)
        ]

    async def close(self) -> None:
        return None
