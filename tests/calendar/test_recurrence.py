"""Recurring events on each backend: every occurrence is on the calendar, and one or all can change."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import icalendar
import pytest

from tests.calendar.helpers import PARIS, call, day
from tools.calendar.caldav import CalDAVCalendar
from tools.calendar.local import LocalCalendar
from tools.calendar.recurrence import describe_rule, occurrence_id, split_id
from tools.toolset import Toolset

pytestmark = pytest.mark.timeout(60)


def monday_before(d: date, weeks: int) -> date:
    return d - timedelta(days=d.weekday()) - timedelta(weeks=weeks)


FIRST_MONDAY = monday_before(day(), 10)  # the series began ten weeks before the test week
WEEK_MONDAY = monday_before(day(), 0)  # the Monday of the test week


def series_ics(*, exdate: date | None = None, moved: tuple[date, datetime] | None = None) -> str:
    """A "Standup" every Monday 10:00-10:30 (Paris) since FIRST_MONDAY, as another app writes it."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//another app//EN")
    cal.add("version", "2.0")
    ve = icalendar.Event()
    ve.add("uid", "standup-1@example.org")
    ve.add("summary", "Standup")
    ve.add("dtstart", datetime.combine(FIRST_MONDAY, datetime.min.time().replace(hour=10), PARIS))
    ve.add(
        "dtend",
        datetime.combine(FIRST_MONDAY, datetime.min.time().replace(hour=10, minute=30), PARIS),
    )
    ve.add("rrule", {"freq": "weekly", "byday": "MO"})
    ve.add("dtstamp", datetime(2026, 1, 1, tzinfo=PARIS))
    if exdate is not None:
        ve.add("exdate", ten(exdate))
    cal.add_component(ve)
    if moved is not None:
        original, new_start = moved
        ov = icalendar.Event()
        ov.add("uid", "standup-1@example.org")
        ov.add("summary", "Standup (moved)")
        ov.add("recurrence-id", ten(original))
        ov.add("dtstart", new_start)
        ov.add("dtend", new_start + timedelta(minutes=30))
        ov.add("dtstamp", datetime(2026, 1, 1, tzinfo=PARIS))
        cal.add_component(ov)
    cal.add_missing_timezones()
    return cal.to_ical().decode()


def ten(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time().replace(hour=10), PARIS)


async def seed(calendar: Toolset, ics: str) -> None:
    """Put a series straight into the backend (setup, not what is tested)."""
    backend = calendar.extras["backend"]
    if isinstance(backend, LocalCalendar):
        backend.path.write_text(ics)
    else:
        assert isinstance(backend, CalDAVCalendar)
        await backend._run(lambda cal: cal.add_event(ics))


async def weeks(calendar: Toolset, first: date, n: int) -> list[dict]:
    out = await call(
        calendar,
        "list_events",
        start=f"{first.isoformat()}T00:00",
        end=f"{(first + timedelta(weeks=n)).isoformat()}T00:00",
    )
    assert out.ok, out.response
    return out.response["events"]


async def test_every_occurrence_is_listed_with_overrides_and_exceptions(calendar: Toolset):
    skipped, moved = WEEK_MONDAY + timedelta(weeks=1), WEEK_MONDAY + timedelta(weeks=2)
    new_time = ten(moved) + timedelta(days=1, hours=4)  # Tuesday 14:00
    await seed(calendar, series_ics(exdate=skipped, moved=(moved, new_time)))
    events = await weeks(calendar, WEEK_MONDAY, 4)
    assert [(e["title"], e["start"]) for e in events] == [
        ("Standup", f"{WEEK_MONDAY.isoformat()}T10:00+01:00"),
        ("Standup (moved)", f"{(moved + timedelta(days=1)).isoformat()}T14:00+01:00"),
        ("Standup", f"{(WEEK_MONDAY + timedelta(weeks=3)).isoformat()}T10:00+01:00"),
    ]
    assert {e["repeats"] for e in events} == {"weekly on Monday"}
    assert {e["series_id"] for e in events} == {"standup-1@example.org"}
    assert len({e["event_id"] for e in events}) == 3


async def test_free_time_does_not_offer_the_weekly_slot(calendar: Toolset):
    await seed(calendar, series_ics())
    out = await call(
        calendar,
        "find_free_time",
        start=f"{WEEK_MONDAY.isoformat()}T09:00",
        end=f"{WEEK_MONDAY.isoformat()}T12:00",
        duration_minutes=30,
    )
    assert out.ok, out.response
    starts = [s["start"][11:16] for s in out.response["free"]]
    assert starts == ["09:00", "10:30"], out.response
    clash = await call(
        calendar,
        "create_event",
        title="Call",
        start=f"{WEEK_MONDAY.isoformat()}T10:15",
        duration_minutes=30,
    )
    assert "Not created" in clash.response["error"]


async def test_move_only_this_occurrence(calendar: Toolset):
    await seed(calendar, series_ics())
    this_week, next_week = await weeks(calendar, WEEK_MONDAY, 2)
    out = await call(
        calendar,
        "move_event",
        event_id=this_week["event_id"],
        new_start=f"{WEEK_MONDAY.isoformat()}T15:00",
    )
    assert out.ok, out.response
    assert out.response["changed"].startswith("only this occurrence")
    assert "weekly on Monday" in out.response["changed"]
    after = await weeks(calendar, WEEK_MONDAY, 2)
    assert [e["start"][11:16] for e in after] == ["15:00", "10:00"]
    assert after[1]["event_id"] == next_week["event_id"]
    # Ten weeks back the series is untouched.
    [first] = await weeks(calendar, FIRST_MONDAY, 1)
    assert first["start"] == f"{FIRST_MONDAY.isoformat()}T10:00+01:00"
    # Moved again: the one override is changed, not a second one added.
    again = await call(
        calendar,
        "move_event",
        event_id=this_week["event_id"],
        new_start=f"{WEEK_MONDAY.isoformat()}T16:00",
    )
    assert again.ok, again.response
    assert [e["start"][11:16] for e in await weeks(calendar, WEEK_MONDAY, 1)] == ["16:00"]


async def test_cancel_only_this_occurrence(calendar: Toolset):
    await seed(calendar, series_ics())
    this_week, next_week = await weeks(calendar, WEEK_MONDAY, 2)
    out = await call(calendar, "cancel_event", event_id=this_week["event_id"])
    assert out.ok, out.response
    assert out.response["changed"].startswith("only this occurrence")
    assert [e["event_id"] for e in await weeks(calendar, WEEK_MONDAY, 2)] == [next_week["event_id"]]
    gone = await call(calendar, "cancel_event", event_id=this_week["event_id"])
    assert "no event has event_id" in gone.response["error"]


async def test_move_the_whole_series_keeps_its_exceptions(calendar: Toolset):
    skipped = WEEK_MONDAY + timedelta(weeks=1)
    await seed(calendar, series_ics(exdate=skipped))
    [this_week, _] = await weeks(calendar, WEEK_MONDAY, 3)
    out = await call(
        calendar,
        "move_event",
        event_id=this_week["event_id"],
        new_start=f"{WEEK_MONDAY.isoformat()}T11:00",
        which="series",
    )
    assert out.ok, out.response
    assert out.response["changed"] == "the whole series (weekly on Monday)"
    after = await weeks(calendar, WEEK_MONDAY, 3)
    assert [e["start"][:16] for e in after] == [
        f"{WEEK_MONDAY.isoformat()}T11:00",
        f"{(WEEK_MONDAY + timedelta(weeks=2)).isoformat()}T11:00",
    ], "every occurrence moved by an hour; the skipped Monday stays skipped"
    [first] = await weeks(calendar, FIRST_MONDAY, 1)
    assert first["start"][11:16] == "11:00"


async def test_cancel_the_whole_series(calendar: Toolset):
    await seed(calendar, series_ics())
    [this_week, _] = await weeks(calendar, WEEK_MONDAY, 2)
    out = await call(calendar, "cancel_event", event_id=this_week["event_id"], which="series")
    assert out.ok and out.response["changed"] == "the whole series (weekly on Monday)"
    assert await weeks(calendar, FIRST_MONDAY, 14) == []


def test_occurrence_ids_and_rules_in_words():
    start = datetime(2026, 12, 7, 10, tzinfo=PARIS)
    eid = occurrence_id("standup-1@example.org", start)
    assert eid == "standup-1@example.org/20261207T090000Z"
    series, original = split_id(eid)
    assert series == "standup-1@example.org" and original == start
    assert split_id("a/b") == ("a/b", None)
    ve = icalendar.Event()
    ve.add("rrule", {"freq": "weekly", "interval": 2, "byday": ["MO", "WE"], "count": 10})
    assert describe_rule(ve) == "every 2 weeks on Monday, Wednesday, 10 times"
    daily = icalendar.Event()
    daily.add("rrule", {"freq": "daily"})
    assert describe_rule(daily) == "daily"
