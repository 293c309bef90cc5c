"""Each calendar tool against each backend (local .ics file, Radicale over CalDAV)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tests.calendar.helpers import PARIS, at, call, day
from tools.api import Scheduling
from tools.calendar import CalendarBackend, Event
from tools.toolset import Toolset

pytestmark = pytest.mark.timeout(60)


async def create(ts: Toolset, title: str, start: str, end: str, **extra: object) -> dict:
    out = await call(ts, "create_event", title=title, start=start, end=end, **extra)
    assert out.ok and "created" in out.response, out.response
    assert out.scheduling is Scheduling.WHEN_IDLE
    return out.response["created"]


async def test_create_then_list_in_the_bot_time_zone(calendar: Toolset):
    created = await create(
        calendar, "Dentist", at(15), at(16), location="Rue de Rivoli 1", description="Bring card"
    )
    assert created["start"] == f"{day().isoformat()}T15:00+01:00"
    assert (
        created["when"].endswith(f"{day().day} January, 15:00–16:00")
        or "15:00–16:00" in (created["when"])
    )
    out = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert out.ok and out.scheduling is Scheduling.WHEN_IDLE
    [event] = out.response["events"]
    assert event["event_id"] == created["event_id"]
    assert (event["title"], event["location"], event["description"]) == (
        "Dentist",
        "Rue de Rivoli 1",
        "Bring card",
    )
    assert out.response["timezone"] == "Europe/Paris" and out.response["more"] == 0


async def test_time_zones_15h_paris_is_14h_utc(calendar: Toolset):
    # An explicit offset is honoured, whatever the bot's zone; a naive time is Paris time.
    await create(calendar, "Call", f"{day().isoformat()}T14:00Z", f"{day().isoformat()}T15:00Z")
    out = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    [event] = out.response["events"]
    start = datetime.fromisoformat(event["start"])
    assert event["start"].endswith("T15:00+01:00")
    assert start.astimezone(UTC) == datetime.combine(day(), datetime.min.time(), UTC).replace(
        hour=14
    )
    # Listing by a UTC range finds it too.
    out = await call(
        calendar,
        "list_events",
        start=f"{day().isoformat()}T13:59:00+00:00",
        end=f"{day().isoformat()}T14:01:00+00:00",
    )
    assert [e["title"] for e in out.response["events"]] == ["Call"]


async def test_duration_and_default_length(calendar: Toolset):
    out = await call(calendar, "create_event", title="Run", start=at(7), duration_minutes=45)
    assert out.response["created"]["end"].endswith("T07:45+01:00")
    out = await call(calendar, "create_event", title="Read", start=at(8))
    assert out.response["created"]["end"].endswith("T09:00+01:00")


async def test_end_before_start_is_refused_naming_the_fields(calendar: Toolset):
    out = await call(calendar, "create_event", title="Oops", start=at(16), end=at(15))
    assert not out.ok and out.scheduling is Scheduling.INTERRUPT
    assert "end" in out.response["error"] and "start" in out.response["error"]
    out = await call(calendar, "create_event", title="Oops", start="tomorrow at 3", end=at(15))
    assert "start" in out.response["error"] and "ISO 8601" in out.response["error"]
    listed = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert listed.response["events"] == []


async def test_absurd_durations_and_far_dates_are_refused(calendar: Toolset):
    out = await call(calendar, "create_event", title="Long", start=at(9), end=at(10, days=1))
    assert not out.ok and "24 hours" in out.response["error"]
    out = await call(calendar, "create_event", title="Long", start=at(9), duration_minutes=5000)
    assert not out.ok and "duration_minutes" in out.response["error"]
    far = (datetime.now(PARIS) + timedelta(days=365 * 3)).date().isoformat()
    out = await call(calendar, "create_event", title="Far", start=f"{far}T09:00")
    assert not out.ok and "two years" in out.response["error"]


async def test_conflicts_are_refused_with_interrupt_and_listed(calendar: Toolset):
    first = await create(calendar, "Standup", at(10), at(11))
    out = await call(calendar, "create_event", title="Dentist", start=at(10, 30), end=at(11, 30))
    assert out.scheduling is Scheduling.INTERRUPT
    assert "Not created" in out.response["error"]
    assert [c["event_id"] for c in out.response["conflicts"]] == [first["event_id"]]
    # Nothing was created; back-to-back is not a conflict.
    await create(calendar, "Lunch", at(11), at(12))
    listed = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert [e["title"] for e in listed.response["events"]] == ["Standup", "Lunch"]


async def test_move_keeps_duration_and_refuses_conflicts(calendar: Toolset):
    a = await create(calendar, "A", at(9), at(10, 30))
    b = await create(calendar, "B", at(14), at(15))
    out = await call(calendar, "move_event", event_id=a["event_id"], new_start=at(11))
    assert out.ok and out.scheduling is Scheduling.WHEN_IDLE, out.response
    assert out.response["moved"]["end"].endswith("T12:30+01:00")
    # Moving onto itself (overlapping its old time) is fine; onto B is not.
    out = await call(calendar, "move_event", event_id=a["event_id"], new_start=at(11, 30))
    assert out.ok, out.response
    out = await call(
        calendar, "move_event", event_id=a["event_id"], new_start=at(13), new_end=at(14, 30)
    )
    assert out.scheduling is Scheduling.INTERRUPT and "Not moved" in out.response["error"]
    assert [c["title"] for c in out.response["conflicts"]] == ["B"]
    out = await call(
        calendar, "move_event", event_id=b["event_id"], new_start=at(16), new_end=at(15)
    )
    assert not out.ok and "new_end" in out.response["error"]
    listed = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert [(e["title"], e["start"][11:16]) for e in listed.response["events"]] == [
        ("A", "11:30"),
        ("B", "14:00"),
    ]


async def test_cancel_and_unknown_ids(calendar: Toolset):
    a = await create(calendar, "A", at(9), at(10))
    out = await call(calendar, "cancel_event", event_id=a["event_id"])
    assert out.ok and out.response["cancelled"]["title"] == "A"
    assert out.scheduling is Scheduling.WHEN_IDLE
    listed = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert listed.response["events"] == []
    for name, args in [
        ("cancel_event", {"event_id": a["event_id"]}),
        ("move_event", {"event_id": "no-such-event", "new_start": at(12)}),
    ]:
        out = await call(calendar, name, **args)
        assert not out.ok and out.scheduling is Scheduling.INTERRUPT
        assert args["event_id"] in out.response["error"]


async def test_find_free_time_around_events(calendar: Toolset):
    await create(calendar, "Standup", at(9), at(9, 30))
    await create(calendar, "Workshop", at(10), at(12))
    out = await call(
        calendar,
        "find_free_time",
        start=at(0),
        end=at(0, days=1),
        duration_minutes=60,
    )
    assert out.ok and out.scheduling is Scheduling.WHEN_IDLE, out.response
    slots = [(s["start"][11:16], s["end"][11:16]) for s in out.response["free"]]
    assert slots == [("12:00", "18:00")]  # 09:30-10:00 is too short
    out = await call(
        calendar,
        "find_free_time",
        start=at(0),
        end=at(0, days=1),
        duration_minutes=30,
        day_start="08:00",
        day_end="20:00",
    )
    slots = [(s["start"][11:16], s["end"][11:16]) for s in out.response["free"]]
    assert slots == [("08:00", "09:00"), ("09:30", "10:00"), ("12:00", "20:00")]
    out = await call(
        calendar, "find_free_time", start=at(0), end=at(0, days=1), duration_minutes=30,
        day_start="18:00", day_end="09:00",
    )  # fmt: skip
    assert not out.ok and "day_end" in out.response["error"]


async def test_output_is_bounded(calendar: Toolset):
    backend = calendar.extras["backend"]
    assert isinstance(backend, CalendarBackend)
    first = datetime.combine(day(), time(8), PARIS)
    for i in range(23):  # straight into the backend: setup, not what is tested
        start = first + timedelta(minutes=25 * i)
        await backend.add(Event(title=f"Slot {i}", start=start, end=start + timedelta(minutes=20)))
    out = await call(calendar, "list_events", start=at(0), end=at(0, days=1))
    assert len(out.response["events"]) == 20 and out.response["more"] == 3
    assert out.response["events"][0]["title"] == "Slot 0"
    out = await call(
        calendar, "find_free_time", start=at(0), end=at(0, days=14), duration_minutes=5
    )
    assert len(out.response["free"]) == 10 and out.response["more"] > 0


async def test_default_range_is_the_next_24_hours(calendar: Toolset):
    soon = datetime.now(PARIS).replace(second=0, microsecond=0) + timedelta(hours=2)
    await call(calendar, "create_event", title="Soon", start=soon.isoformat(), duration_minutes=15)
    out = await call(calendar, "list_events")
    assert out.ok, out.response
    assert [e["title"] for e in out.response["events"]] == ["Soon"]
