"""Times in and out of the calendar tools: ISO 8601, in the bot's time zone.

The model sends ISO 8601 strings; one without an offset is a wall-clock time
in the bot's zone. Results carry the offset and a `when` a voice can read out,
like "Thursday 26 November, 15:00–16:00".
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tools.api import ToolError

# The dates the tools take: far enough for any real request, far enough from
# datetime's limits (year 1 and 9999) that no range or zone shift overflows.
YEARS = (1900, 2999)


def parse_time(value: str, tz: ZoneInfo, field: str) -> datetime:
    """An aware datetime from ISO 8601 (a date alone is its midnight); `ToolError` naming `field`."""
    text = value.strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0))
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ToolError(
            f"{field} '{value}' is not an ISO 8601 date-time; use e.g. 2026-11-26T15:00"
        ) from None
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ToolError(
            f"{field} '{value}' is outside the dates the calendar handles "
            f"(years {YEARS[0]} to {YEARS[1]}); check the date with the caller"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def parse_clock(value: str, field: str) -> timedelta:
    """'HH:MM' (up to 24:00) as time since midnight; `ToolError` naming `field`."""
    try:
        hours, minutes = (int(p) for p in value.strip().split(":"))
    except ValueError:
        raise ToolError(f"{field} '{value}' is not a time of day like 09:00") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ToolError(f"{field} '{value}' is not a time of day between 00:00 and 24:00")
    return timedelta(hours=hours, minutes=minutes)


def iso(dt: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 in the bot's zone, with its offset: 2026-11-26T15:00+01:00."""
    return dt.astimezone(tz).isoformat(timespec="minutes")


def _day(d: date, today: date) -> str:
    text = f"{d:%A} {d.day} {d:%B}"
    return text if d.year == today.year else f"{text} {d.year}"


def when(start: datetime, end: datetime, tz: ZoneInfo, *, all_day: bool = False) -> str:
    """'Thursday 26 November, 15:00–16:00' (the year only when it is not this year)."""
    today = datetime.now(tz).date()
    s, e = start.astimezone(tz), end.astimezone(tz)
    if all_day:
        last = (e - timedelta(days=1)).date() if e.date() > s.date() else s.date()
        if last == s.date():
            return f"{_day(s.date(), today)}, all day"
        return f"{_day(s.date(), today)} to {_day(last, today)}, all day"
    if s.date() == e.date() or (e - s <= timedelta(days=1) and e.time() == time(0)):
        end_clock = "24:00" if e.date() != s.date() else f"{e:%H:%M}"
        return f"{_day(s.date(), today)}, {s:%H:%M}–{end_clock}"
    return f"{_day(s.date(), today)}, {s:%H:%M} – {_day(e.date(), today)}, {e:%H:%M}"
