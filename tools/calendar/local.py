"""The local backend: one iCalendar file any calendar app can open.

Several processes may share the file (two bots on one data directory), so every
change is read-merge-write under the file's cross-process lock
(`tools.files.locked`): re-read the file, change the one event, write the whole
file atomically (temporary file, fsync, `os.replace`; a symlink is written
through to its target, the file's mode is kept). A crash leaves the old
calendar or the new one, never half of one; a failed write changes nothing.
Components this backend does not manage (VTODOs, recurring series' overrides,
unknown properties) are kept as they were.

A big calendar must not stall the event loop every bot call shares: parsing
10,000 events takes seconds. So all parsing and conversion runs in a worker
thread, and the parsed file is kept until the file changes (its inode, size and
times, read from the open file), so most reads cost one `fstat`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import icalendar
from loguru import logger

from tools.calendar import recurrence
from tools.calendar.backend import (
    CalendarFileError,
    Event,
    EventNotFound,
    Events,
    from_vevent,
    is_event,
    master_vevent,
    new_calendar,
    to_vevent,
)
from tools.files import DataFileError, locked, locked_async, write_atomically

_P = ParamSpec("_P")
_T = TypeVar("_T")
Version = tuple[int, int, int, int, int]


@dataclass
class _Parsed:
    """The file as last read: its version and the calendar."""

    version: Version | None
    cal: icalendar.Calendar


class LocalCalendar:
    """Events in an `.ics` file (created on the first write)."""

    def __init__(self, path: Path, timezone: ZoneInfo):
        self.path = path
        self.timezone = timezone
        self._lock = asyncio.Lock()  # one worker thread at a time touches `_parsed`
        self._parsed: _Parsed | None = None
        self._exclusive = False  # the file lock is held by `exclusive()`

    # ----------------------------------------------------------------- reading (in a thread)

    def _current(self) -> _Parsed:
        """The file as it is now: the kept parse if the file has not changed."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return _Parsed(None, new_calendar())
        except OSError as e:
            raise self._error("cannot be read", e) from e
        with f:
            st = os.fstat(f.fileno())
            version = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if self._parsed is not None and self._parsed.version == version:
                return self._parsed
            data = f.read()
        if not data.strip():
            cal = new_calendar()
        else:
            try:
                cal = icalendar.Calendar.from_ical(data)
            except Exception as e:  # icalendar raises ValueError, and worse on odd input
                raise self._error("is not a valid iCalendar file", e) from e
        self._parsed = _Parsed(version, cal)
        return self._parsed

    def _version(self) -> Version | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _error(self, what: str, e: Exception) -> CalendarFileError:
        problem = (getattr(e, "strerror", None) or str(e)).splitlines()[0][:200]
        logger.error(f"calendar: the file {self.path} {what}: {problem}")
        return CalendarFileError(f"the calendar file {self.path.name} {what} ({problem})")

    # ----------------------------------------------------------------- writing (in a thread)

    def _transact(self, change: Callable[[icalendar.Calendar], None]) -> None:
        """Under the file lock: re-read the file, apply `change`, write it atomically.
        On any failure the kept parse is dropped, so memory stays what the file holds."""
        try:
            with nullcontext() if self._exclusive else locked(self.path):
                cal = self._current().cal
                try:
                    change(cal)
                    cal.add_missing_timezones()
                    write_atomically(self.path, cal.to_ical())
                except BaseException:
                    self._parsed = None  # `change` may have edited it in memory
                    raise
                # Still under the lock, so this is the version just written: keep the parse.
                self._parsed = _Parsed(self._version(), cal)
        except OSError as e:
            raise self._error("could not be saved; nothing was changed", e) from e
        except CalendarFileError:
            raise
        except DataFileError as e:
            raise CalendarFileError(f"the calendar could not be saved ({e})") from e

    # ----------------------------------------------------------------- the interface

    async def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the file's cross-process lock over several steps: the tools' conflict
        check and the write it allows, so two processes never book one slot twice.
        The tools hold it only inside their own lock, so no other write of this
        process runs meanwhile."""
        try:
            async with locked_async(self.path):
                self._exclusive = True
                try:
                    yield
                finally:
                    self._exclusive = False
        except DataFileError as e:
            if isinstance(e, CalendarFileError):
                raise
            raise CalendarFileError(f"the calendar could not be locked ({e})") from e

    async def connect(self) -> None:
        """At start-up: read the file once (a damaged file is logged in one line naming
        it; the calls then say it cannot be read), and keep the parse for the first call."""
        await self._run(self._current)

    async def list(self, start: datetime, end: datetime) -> Events:
        """Events and occurrences of recurring series overlapping [start, end)."""

        def overlapping() -> list[Event]:
            return recurrence.occurrences(self._current().cal, start, end, self.timezone)

        return await self._run(overlapping)

    async def get(self, uid: str) -> Event | None:
        """The event, series or occurrence (``<series>/<UTC start>``) with this id."""

        def find() -> Event | None:
            return recurrence.find(self._current().cal, uid, self.timezone)

        return await self._run(find)

    async def add(self, event: Event) -> Event:
        await self._run(self._transact, lambda cal: cal.add_component(to_vevent(event)))
        logger.info(f"calendar: added {event.uid} to {self.path}")
        return event

    async def update(self, event: Event) -> Event:
        await self._run(self._transact, lambda cal: self._replace(cal, event.uid, event))
        logger.info(f"calendar: updated {event.uid} in {self.path}")
        return event

    async def remove(self, uid: str) -> None:
        await self._run(self._transact, lambda cal: self._replace(cal, uid, None))
        logger.info(f"calendar: removed {uid} from {self.path}")

    def _replace(self, cal: icalendar.Calendar, uid: str, event: Event | None) -> None:
        """Rewrite the event with this uid in place, or drop it (with its overrides); for
        one occurrence of a series, override it, or leave it out of the series."""
        series, original = recurrence.split_id(uid)
        if original is not None:
            if recurrence.find(cal, uid, self.timezone) is None:
                raise EventNotFound(uid)
            if event is not None:
                recurrence.change_occurrence(cal, event, self.timezone)
            else:
                recurrence.cancel_occurrence(cal, series, original, self.timezone)
            return
        master = master_vevent(cal.subcomponents, uid)
        if master is None or from_vevent(master, self.timezone) is None:
            raise EventNotFound(uid)
        if event is not None:
            recurrence.change_series(cal, event, self.timezone)
            return
        cal.subcomponents = [
            c for c in cal.subcomponents if not (c.name == "VEVENT" and is_event(c, uid))
        ]

    async def close(self) -> None:
        return None
