"""Recurring events: expand a series into its occurrences, and change one or all of them.

Real calendars repeat: a weekly meeting made in January has a VEVENT with an RRULE
(and maybe RDATEs, EXDATEs and overrides with a RECURRENCE-ID), and it must exist on
every Monday's calendar and block its slot in free-time search. Expanding is the
`recurring-ical-events` library's job (RFC 5545 rules, time zones, overrides); this
module adds what the tools need on top, the same for every backend that holds whole
iCalendar objects (the local file, and a CalDAV event edited in place):

* an occurrence's id: the series' id plus the occurrence's original start
  (``<event id>/<UTC start>``), so the model can name one Monday;
* "this occurrence only": an override VEVENT with its RECURRENCE-ID (a move) or an
  EXDATE on the series (a cancellation);
* "the whole series": the series' own VEVENT changed, with its EXDATEs and overrides
  shifted by the same amount so they still name their occurrences.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from tools.calendar.backend import (
    READABLE_YEARS,
    Event,
    event_id,
    from_vevent,
    is_event,
    master_vevent,
    write_vevent,
)

SEPARATOR = "/"  # not in an event id that is a digest; a raw UID with "/" is digested
_STAMP = "%Y%m%dT%H%M%SZ"
_WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def _prop(ve: icalendar.Component, key: str) -> Any:
    """A property as icalendar parsed it (its union type is too wide to be useful)."""
    return ve.get(key)


def occurrence_id(series: str, start: datetime) -> str:
    """The id of the occurrence of ``series`` that originally starts at ``start``."""
    return f"{series}{SEPARATOR}{start.astimezone(UTC).strftime(_STAMP)}"


def split_id(eid: str) -> tuple[str, datetime | None]:
    """``(series id, original start)`` of an occurrence id; ``(id, None)`` for any other."""
    series, sep, stamp = eid.rpartition(SEPARATOR)
    if not sep:
        return eid, None
    try:
        return series, datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return eid, None


def is_recurring(ve: icalendar.Component) -> bool:
    return "RRULE" in ve or "RDATE" in ve


def describe_rule(ve: icalendar.Component) -> str | None:
    """A short English description of the series' rule ("weekly on Monday"), for the model."""
    rule = ve.get("RRULE")
    if rule is None:
        return "on several dates" if "RDATE" in ve else None

    def values(key: str) -> list[Any]:
        v = rule.get(key)
        return [] if v is None else list(v) if isinstance(v, list | tuple) else [v]

    freq = str((values("FREQ") or [""])[0]).upper()
    interval = int((values("INTERVAL") or [1])[0])
    unit = _UNITS.get(freq, "time")
    text = f"every {interval} {unit}s" if interval > 1 else f"{unit}ly".replace("dayly", "daily")
    days = [_WEEKDAYS.get(str(d)[-2:].upper(), str(d)) for d in values("BYDAY")]
    if days:
        text += " on " + ", ".join(days)
    if values("COUNT"):
        text += f", {values('COUNT')[0]} times"
    if values("UNTIL"):
        until = values("UNTIL")[0]
        text += f", until {until.date() if isinstance(until, datetime) else until}"
    return text


def _original_start(ve: icalendar.Component, tz: ZoneInfo) -> datetime | None:
    rid = _prop(ve, "RECURRENCE-ID")
    if rid is None:
        return None
    value = rid.dt
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def occurrences(
    cal: icalendar.Calendar, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Event]:
    """Every event and occurrence overlapping [start, end), overrides applied, sorted."""
    series = {
        event_id(str(ve.get("UID"))): ve
        for ve in cal.walk("VEVENT")
        if "RECURRENCE-ID" not in ve and is_recurring(ve)
    }
    found: list[Event] = []
    for ve in recurring_ical_events.of(_readable(cal), skip_bad_series=True).between(start, end):
        event = from_vevent(ve, tz)
        if event is None or not event.overlaps(start, end):
            continue
        master = series.get(event.uid)
        original = _original_start(ve, tz)
        if master is not None and original is not None:
            event = event.model_copy(
                update={
                    "occurrence": original,
                    "series": event.uid,
                    "uid": occurrence_id(event.uid, original),
                    "repeats": describe_rule(master),
                }
            )
        found.append(event)
    return sorted(found, key=lambda e: (e.start, e.end))


def _readable(cal: icalendar.Calendar) -> icalendar.Calendar:
    """The calendar without VEVENTs no date arithmetic is safe on (e.g. year 9999, which
    another app may write for "forever"): the expansion would overflow on them, and
    `from_vevent` skips them anyway."""
    lo, hi = READABLE_YEARS

    def ok(c: icalendar.Component) -> bool:
        if c.name != "VEVENT":
            return True
        for key in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            value = getattr(_prop(c, key), "dt", None)
            if isinstance(value, date) and not lo <= value.year <= hi:
                return False
        return "DTSTART" in c

    if all(ok(c) for c in cal.subcomponents):
        return cal
    kept = copy.copy(cal)
    kept.subcomponents = [c for c in cal.subcomponents if ok(c)]
    return kept


def find(cal: icalendar.Calendar, eid: str, tz: ZoneInfo) -> Event | None:
    """The event or occurrence with this id (a cancelled occurrence is not found)."""
    series, original = split_id(eid)
    if original is None:
        master = master_vevent(cal.subcomponents, eid)
        if master is None:
            return None
        event = from_vevent(master, tz)
        if event is not None and is_recurring(master):
            event = event.model_copy(update={"repeats": describe_rule(master)})
        return event
    master = master_vevent(cal.subcomponents, series)
    if master is None or not is_recurring(master):
        return None
    length = _length(master, tz)
    # An override may have moved the occurrence anywhere: look around both times.
    for ve in _overrides(cal, series):
        if _same(_original_start(ve, tz), original):
            start = from_vevent(ve, tz)
            if start is None:
                return None
            return next(
                (
                    e
                    for e in occurrences(cal, start.start, start.end + timedelta(seconds=1), tz)
                    if e.uid == eid
                ),
                None,
            )
    window_end = original + length + timedelta(seconds=1)
    return next((e for e in occurrences(cal, original, window_end, tz) if e.uid == eid), None)


def _length(master: icalendar.Component, tz: ZoneInfo) -> timedelta:
    event = from_vevent(master, tz)
    return (event.end - event.start) if event is not None else timedelta(hours=1)


def _overrides(cal: icalendar.Calendar, series: str) -> list[icalendar.Event]:
    return [
        c
        for c in cal.subcomponents
        if isinstance(c, icalendar.Event) and is_event(c, series) and "RECURRENCE-ID" in c
    ]


def _same(a: datetime | None, b: datetime) -> bool:
    return a is not None and a.astimezone(UTC) == b.astimezone(UTC)


def _in_zone_of(master: icalendar.Component, when: datetime) -> datetime | date:
    """``when`` in the form of the series' DTSTART (its zone, or a DATE for all-day)."""
    start = _prop(master, "DTSTART").dt
    if not isinstance(start, datetime):
        return when.date()
    if start.tzinfo is None:
        return when.replace(tzinfo=None)
    return when.astimezone(start.tzinfo)


def change_occurrence(cal: icalendar.Calendar, event: Event, tz: ZoneInfo) -> None:
    """Store ``event`` (an occurrence, with its new times) as an override of its series."""
    assert event.series is not None and event.occurrence is not None
    master = master_vevent(cal.subcomponents, event.series)
    if master is None:
        raise LookupError(event.series)
    override = next(
        (
            ve
            for ve in _overrides(cal, event.series)
            if _same(_original_start(ve, tz), event.occurrence)
        ),
        None,
    )
    if override is None:
        override = icalendar.Event()
        for key, value in master.property_items(recursive=False):
            if key not in {
                "BEGIN",
                "END",
                "RRULE",
                "RDATE",
                "EXDATE",
                "EXRULE",
                "DTSTART",
                "DTEND",
                "DURATION",
                "DTSTAMP",
                "SEQUENCE",
            }:
                override.add(key.lower(), copy.deepcopy(value))
        override.add("recurrence-id", _in_zone_of(master, event.occurrence))
        cal.add_component(override)
    write_vevent(override, event)


def cancel_occurrence(
    cal: icalendar.Calendar, series: str, original: datetime, tz: ZoneInfo
) -> None:
    """Leave one occurrence out of its series (EXDATE), dropping any override of it."""
    master = master_vevent(cal.subcomponents, series)
    if master is None:
        raise LookupError(series)
    dropped = {id(c) for c in _overrides(cal, series) if _same(_original_start(c, tz), original)}
    cal.subcomponents = [c for c in cal.subcomponents if id(c) not in dropped]
    master.add("exdate", _in_zone_of(master, original))
    if "SEQUENCE" in master:
        master["SEQUENCE"] = int(_prop(master, "SEQUENCE")) + 1


def shift_series(cal: icalendar.Calendar, series: str, delta: timedelta) -> None:
    """After the series' start moved by ``delta``: move its EXDATEs and overrides' ids too."""
    if not delta:
        return
    master = master_vevent(cal.subcomponents, series)
    if master is None:
        return
    for key in ("EXDATE", "RDATE"):
        listed = _prop(master, key)
        if listed is None:
            continue
        groups = listed if isinstance(listed, list) else [listed]
        values = [d.dt for group in groups for d in group.dts]
        master.pop(key)
        for value in values:
            master.add(key.lower(), value + delta)
    for ve in _overrides(cal, series):
        rid = _prop(ve, "RECURRENCE-ID").dt
        ve.pop("RECURRENCE-ID")
        ve.add("recurrence-id", rid + delta)


def change_series(cal: icalendar.Calendar, event: Event, tz: ZoneInfo) -> None:
    """Store ``event`` as the series itself (or a single event): its VEVENT rewritten, and
    for a series whose start moved, its EXDATEs and overrides moved with it."""
    master = master_vevent(cal.subcomponents, event.uid)
    before = from_vevent(master, tz) if master is not None else None
    if master is None or before is None:
        raise LookupError(event.uid)
    write_vevent(master, event)
    if is_recurring(master):
        shift_series(cal, event.uid, event.start - before.start)
