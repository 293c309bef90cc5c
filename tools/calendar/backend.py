"""What a calendar backend is: an `Event` model and a small async interface.

Backends store events; the tools (`tools.py`) decide what is allowed (conflicts,
limits). Both backends speak iCalendar, so the conversion to and from a VEVENT
lives here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import icalendar
from pydantic import AwareDatetime, BaseModel, Field

PRODID = "-//livebot//calendar//EN"


class Event(BaseModel):
    """One calendar event. `start`/`end` are time-zone aware; `end` is exclusive."""

    uid: str = Field(default_factory=lambda: f"{uuid.uuid4()}@livebot")
    title: str
    start: AwareDatetime
    end: AwareDatetime
    location: str | None = None
    description: str | None = None
    all_day: bool = False

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


def write_vevent(ve: icalendar.Event, event: Event) -> None:
    """Set the VEVENT's times and texts from `event`, keeping its other properties
    (alarms, recurrence rules, categories another app may have added)."""
    for key in ("DTSTAMP", "DTSTART", "DTEND", "DURATION", "SUMMARY", "LOCATION", "DESCRIPTION"):
        ve.pop(key, None)
    ve.add("dtstamp", datetime.now(UTC))
    if event.all_day:
        ve.add("dtstart", event.start.date())
        ve.add("dtend", event.end.date())
    else:
        ve.add("dtstart", event.start)
        ve.add("dtend", event.end)
    ve.add("summary", event.title)
    if event.location:
        ve.add("location", event.location)
    if event.description:
        ve.add("description", event.description)
    if "SEQUENCE" in ve:
        sequence = int(ve.pop("SEQUENCE"))
        ve.add("sequence", sequence + 1)


def master_vevent(components: list, uid: str) -> icalendar.Event | None:
    """The VEVENT with this uid that is not a recurrence override."""
    for comp in components:
        if comp.name == "VEVENT" and str(comp.get("uid")) == uid and "RECURRENCE-ID" not in comp:
            return comp
    return None


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


def from_vevent(ve: icalendar.Event, tz: ZoneInfo) -> Event | None:
    """The VEVENT as an `Event`, or None if it has no usable start."""
    try:
        start_value = ve.start
    except Exception:
        return None
    try:
        end_value = ve.end
    except Exception:
        end_value = start_value
    all_day = not isinstance(start_value, datetime)
    start = _aware(start_value, tz)
    end = _aware(end_value, tz)
    if all_day and end <= start:
        end = start + timedelta(days=1)
    if end < start:
        end = start

    def text(name: str) -> str | None:
        value = ve.get(name)
        return str(value) if value not in (None, "") else None

    return Event(
        uid=str(ve.get("uid") or f"{uuid.uuid4()}@livebot"),
        title=text("summary") or "(no title)",
        start=start,
        end=end,
        location=text("location"),
        description=text("description"),
        all_day=all_day,
    )


def events_of(cal: icalendar.Calendar, tz: ZoneInfo) -> list[Event]:
    """The VEVENTs of a calendar (recurrence overrides and unreadable ones skipped)."""
    events = []
    for ve in cal.walk("VEVENT"):
        if ve.get("recurrence-id") is not None:
            continue
        event = from_vevent(ve, tz)
        if event is not None:
            events.append(event)
    return events
