"""What a calendar backend is: an `Event` model and a small async interface.

Backends store events; the tools (`tools.py`) decide what is allowed (conflicts,
limits). Both backends speak iCalendar, so the conversion to and from a VEVENT
lives here, and with it the bounds on calendar text: anyone who can send an
invitation writes these fields, and they reach the model and the caller's page.
Every text read is cleaned (control characters, bidi overrides) and cut to a
bound with a marker; every text written is cleaned the same way, so NUL or ESC
never reach the file. A text that is unchanged on a rewrite (a moved event
whose long title was cut for reading) is kept in the file exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import icalendar
from pydantic import AwareDatetime, BaseModel, Field

from tools.files import DataFileError

PRODID = "-//livebot//calendar//EN"
MAX_TITLE = 200  # characters, as create_event takes them
MAX_LOCATION = 200
MAX_DESCRIPTION = 2000
MAX_UID = 200  # a longer (or unprintable) UID is shown as a digest of it
CUT = "…"  # marks a text that was cut
# C0/C1 controls except tab and newline, and the bidi overrides that reorder text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SAFE_UID = re.compile(rf"[\x21-\x7e]{{1,{MAX_UID}}}")
# Events outside these years cannot be shown or shifted between zones without overflow.
READABLE_YEARS = (2, 9998)


class CalendarError(Exception):
    """A backend failure the model should hear about, in words it can pass on."""


class CalendarFileError(CalendarError, DataFileError):
    """The calendar file cannot be read or written."""


def clean_text(text: str, limit: int, *, multiline: bool = False) -> str:
    """`text` without control characters (newlines kept only if `multiline`), at most
    `limit` characters, ending in the marker `…` if it was cut."""
    text = _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not multiline:
        text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - len(CUT)].rstrip() + CUT
    return text.strip()


def event_id(uid: str) -> str:
    """The id the tools and the page use for a VEVENT's UID: the UID itself, or a digest
    of it when it is too long or not printable ASCII."""
    if _SAFE_UID.fullmatch(uid):
        return uid
    return "uid-" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Event(BaseModel):
    """One calendar event. `start`/`end` are time-zone aware; `end` is exclusive."""

    uid: str = Field(default_factory=lambda: f"{uuid.uuid4()}@livebot")
    title: str
    start: AwareDatetime
    end: AwareDatetime
    location: str | None = None
    description: str | None = None
    all_day: bool = False
    #: One occurrence of a recurring series: the series' id and this occurrence's
    #: original start (``uid`` is then the occurrence's own id, see recurrence.py).
    series: str | None = None
    occurrence: AwareDatetime | None = None
    #: The series' rule in words ("weekly on Monday"), on a series and its occurrences.
    repeats: str | None = None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


class EventNotFound(LookupError):
    """No event has this uid."""

    def __init__(self, uid: str):
        self.uid = uid
        super().__init__(f"no event with uid {uid!r}")


Events = list[Event]  # (a backend's `list` method would shadow `list` in its class)


@runtime_checkable
class CalendarBackend(Protocol):
    """Where events live. All methods are async; datetimes are aware."""

    async def list(self, start: datetime, end: datetime) -> Events:
        """Events overlapping [start, end), sorted by start."""
        ...

    async def get(self, uid: str) -> Event | None: ...

    async def add(self, event: Event) -> Event: ...

    async def update(self, event: Event) -> Event:
        """Replace the stored event with this uid; raise `EventNotFound` if none."""
        ...

    async def remove(self, uid: str) -> None:
        """Delete the event; raise `EventNotFound` if none."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ExclusiveBackend(Protocol):
    """A backend with its own cross-process lock over several steps (the local file)."""

    def exclusive(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class ChangeLock:
    """The tools' "one change at a time": an `asyncio.Lock`, plus the backend's own
    cross-process lock when it has one (`exclusive()`, the local file), so a conflict
    check and the write it allows are one step across processes too."""

    def __init__(self, backend: CalendarBackend):
        self._lock = asyncio.Lock()
        self._exclusive = backend.exclusive if isinstance(backend, ExclusiveBackend) else None
        self._held: contextlib.AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        if self._exclusive is not None:
            held = self._exclusive()
            try:
                await held.__aenter__()
            except BaseException:
                self._lock.release()
                raise
            self._held = held

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held, self._held = self._held, None
        try:
            if held is not None:
                await held.__aexit__(exc_type, exc, tb)
        finally:
            self._lock.release()


def new_calendar() -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    return cal


def to_vevent(event: Event) -> icalendar.Event:
    """The event as a new VEVENT."""
    ve = icalendar.Event()
    ve.add("uid", event.uid)
    write_vevent(ve, event)
    return ve


_TEXTS = (  # property, Event field, bound, newlines kept
    ("SUMMARY", "title", MAX_TITLE, False),
    ("LOCATION", "location", MAX_LOCATION, False),
    ("DESCRIPTION", "description", MAX_DESCRIPTION, True),
)


def write_vevent(ve: icalendar.Event, event: Event) -> None:
    """Set the VEVENT's times and texts from `event`, keeping its other properties
    (alarms, recurrence rules, categories another app may have added) and any text
    `event` did not change (as read, it may have been cut)."""
    for key in ("DTSTAMP", "DTSTART", "DTEND", "DURATION"):
        ve.pop(key, None)
    ve.add("dtstamp", datetime.now(UTC))
    if event.all_day:
        ve.add("dtstart", event.start.date())
        ve.add("dtend", event.end.date())
    else:
        ve.add("dtstart", event.start)
        ve.add("dtend", event.end)
    for key, field, limit, multiline in _TEXTS:
        value = getattr(event, field)
        old = ve.get(key)
        if old is not None and value and clean_text(str(old), limit, multiline=multiline) == value:
            continue  # unchanged: keep the stored text as it is
        ve.pop(key, None)
        text = clean_text(value, limit, multiline=multiline) if value else ""
        if text or field == "title":
            ve.add(key.lower(), text)
    if "SEQUENCE" in ve:
        sequence = int(ve.pop("SEQUENCE"))
        ve.add("sequence", sequence + 1)


def master_vevent(components: list[icalendar.Component], uid: str) -> icalendar.Event | None:
    """The VEVENT with this uid that is not a recurrence override."""
    for comp in components:
        # icalendar parses every VEVENT into an `icalendar.Event`.
        if (
            isinstance(comp, icalendar.Event)
            and is_event(comp, uid)
            and "RECURRENCE-ID" not in comp
        ):
            return comp
    return None


def is_event(comp: icalendar.Component, uid: str) -> bool:
    """Whether the VEVENT belongs to the event with this id (see `event_id`)."""
    return event_id(str(comp.get("uid"))) == uid


def to_calendar(events: list[Event]) -> icalendar.Calendar:
    """A VCALENDAR holding these events, with the VTIMEZONEs their TZIDs need."""
    cal = new_calendar()
    for event in events:
        cal.add_component(to_vevent(event))
    cal.add_missing_timezones()
    return cal


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    """DATE values are midnight in `tz`; floating times are in `tz`."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tz)
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value


def from_vevent(ve: icalendar.Component, tz: ZoneInfo) -> Event | None:
    """The VEVENT as an `Event`, or None if it has no usable start (or is no VEVENT)."""
    if not isinstance(ve, icalendar.Event):
        return None
    try:
        start_value = ve.start
    except Exception:
        return None
    try:
        end_value = ve.end
    except Exception:
        end_value = start_value
    if not isinstance(start_value, date) or not isinstance(end_value, date):
        return None
    lo, hi = READABLE_YEARS
    if not (lo <= start_value.year <= hi and lo <= end_value.year <= hi):
        return None  # e.g. year 9999: no zone arithmetic is safe there
    all_day = not isinstance(start_value, datetime)
    start = _aware(start_value, tz)
    end = _aware(end_value, tz)
    if all_day and end <= start:
        end = start + timedelta(days=1)
    if end < start:
        end = start

    def text(name: str, limit: int, multiline: bool = False) -> str | None:
        value = ve.get(name)
        if value in (None, ""):
            return None
        return clean_text(str(value), limit, multiline=multiline) or None

    return Event(
        uid=event_id(str(ve.get("uid") or f"{uuid.uuid4()}@livebot")),
        title=text("summary", MAX_TITLE) or "(no title)",
        start=start,
        end=end,
        location=text("location", MAX_LOCATION),
        description=text("description", MAX_DESCRIPTION, True),
        all_day=all_day,
    )
