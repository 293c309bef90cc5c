"""Finding 15: calendar text is bounded on its way to the model and the page, control
characters never reach the file, a 10,000-event calendar does not stall the event
loop, and year 9999 gets a clear answer."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest

from bot.feed import CallFeed
from bot.pagemessage import MAX_PAGE_MESSAGE_BYTES, encoded_size
from tests.calendar.helpers import PARIS, at, call, day
from tools.calendar import toolset
from tools.calendar.backend import MAX_TITLE, Event, to_calendar
from tools.calendar.panel import page_panel
from tools.toolset import ToolContext, Toolset

pytestmark = pytest.mark.timeout(120)

HUGE = 200_000


def local(tmp_path: Path) -> Toolset:
    return toolset(ToolContext(env={}, data_dir=tmp_path, timezone=PARIS))


def invitations(path: Path, count: int, first: datetime, *, text: int = HUGE) -> None:
    """`count` events as an invitation would bring them: huge texts and UIDs, hourly."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//attacker//EN")
    cal.add("version", "2.0")
    for i in range(count):
        ve = icalendar.Event()
        ve.add("uid", f"{i}-" + "u" * 10_000)
        ve.add("dtstart", first + timedelta(hours=i))
        ve.add("dtend", first + timedelta(hours=i, minutes=30))
        ve.add("summary", f"T{i} " + "x" * text)
        ve.add("location", "L" * text)
        ve.add("description", "D" * text)
        cal.add_component(ve)
    path.write_bytes(cal.to_ical())


async def test_huge_invitation_texts_make_a_small_tool_response(tmp_path: Path):
    start = datetime.combine(day(), datetime.min.time(), PARIS).replace(hour=8)
    invitations(tmp_path / "calendar.ics", 20, start)
    ts = local(tmp_path)
    listed = await call(ts, "list_events", start=at(0), end=at(0, days=2))
    size = len(json.dumps(listed.response).encode())
    events = listed.response["events"]
    print(f"20 events with {HUGE:,}-character texts: a {size:,}-byte tool response")
    assert len(events) == 20 and size < 32_000
    for e in events:
        assert len(e["title"]) <= MAX_TITLE and e["title"].endswith("…")
        assert len(e["event_id"]) <= 200 and len(e["location"]) <= 200
    # The digest id still names the event: moving it keeps its full text in the file.
    moved = await call(ts, "move_event", event_id=events[0]["event_id"], new_start=at(6))
    assert "moved" in moved.response, moved.response
    cal = icalendar.Calendar.from_ical((tmp_path / "calendar.ics").read_bytes())
    [ve] = [v for v in cal.walk("VEVENT") if str(v["UID"]).startswith("0-")]
    assert len(str(ve["SUMMARY"])) == HUGE + 3 and ve.start.astimezone(PARIS).hour == 6


async def test_control_characters_are_stripped_on_write(tmp_path: Path):
    ts = local(tmp_path)
    nasty = "Board\x00 meeting\x1b[2J\u202eevil\r\nnext"
    out = await call(
        ts, "create_event", title=nasty, start=at(10), location="Room\x07 1", description=nasty
    )
    assert out.ok, out.response
    raw = (tmp_path / "calendar.ics").read_bytes()
    assert not any(c in raw for c in (b"\x00", b"\x1b", b"\x07", "\u202e".encode()))
    listed = await call(ts, "list_events", start=at(0), end=at(0, days=1))
    [event] = listed.response["events"]
    print(f"title written and read back: {event['title']!r}")
    assert event["title"] == "Board meeting[2Jevil next"
    assert event["location"] == "Room 1"
    assert event["description"] == "Board meeting[2Jevil\nnext"


async def test_the_pages_calendar_message_stays_small(tmp_path: Path):
    soon = datetime.now(PARIS).replace(microsecond=0) + timedelta(hours=1)
    invitations(tmp_path / "calendar.ics", 20, soon)
    backend = local(tmp_path).extras["backend"]
    sent: list[dict[str, Any]] = []

    async def send(data: dict[str, Any]) -> None:
        sent.append(data)

    feed = CallFeed(send, session={"mode": "live"}, panels=[page_panel(backend, PARIS)])
    await feed.start()
    [message] = [m for m in sent if m["type"] == "calendar"]
    size = len(json.dumps(message).encode())
    print(
        f"page calendar message with 20 huge events: {size:,} bytes, "
        f"{len(message['events'])} events"
    )
    assert size < 8_000 and len(message["events"]) == 5
    # Whatever else grows too big is cut to fit the data channel, never sent to fail.
    await feed.send({"type": "notice", "text": "y" * (MAX_PAGE_MESSAGE_BYTES + 1)})
    assert sent[-1]["type"] == "notice" and sent[-1].get("truncated") is True
    assert encoded_size(sent[-1]) <= MAX_PAGE_MESSAGE_BYTES
    feed.close()


async def test_ten_thousand_events_are_read_without_stalling_the_event_loop(tmp_path: Path):
    first = datetime.combine(day(), datetime.min.time(), PARIS).replace(hour=8)
    events = [
        Event(
            title=f"E{i}",
            start=first + timedelta(hours=i),
            end=first + timedelta(hours=i, minutes=30),
        )
        for i in range(10_000)
    ]
    (tmp_path / "calendar.ics").write_bytes(to_calendar(events).to_ical())
    ts = local(tmp_path)

    async def measured(name: str, **args: object) -> tuple[Any, float, float, int]:
        """The outcome, its duration, the worst loop lag meanwhile (s), and loop ticks."""
        worst, ticks, done = 0.0, 0, asyncio.Event()

        async def probe() -> None:
            nonlocal worst, ticks
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.005)
                worst = max(worst, time.perf_counter() - t - 0.005)
                ticks += 1

        task = asyncio.create_task(probe())
        await asyncio.sleep(0.02)
        t0 = time.perf_counter()
        out = await (call(ts, name, **args) if name != "start" else ts.start())
        took = time.perf_counter() - t0
        done.set()
        await task
        return out, took, worst, ticks

    _, cold, cold_lag, cold_ticks = await measured("start")  # the bot reads the file at start
    runs = [await measured("list_events", start=at(0), end=at(0, days=3)) for _ in range(3)]
    created = await measured("create_event", title="New", start=at(7, days=500))
    print(
        f"10,000 events: start-up read {cold * 1000:.0f} ms (loop lag {cold_lag * 1000:.0f} ms, "
        f"{cold_ticks} loop ticks meanwhile); list_events "
        + ", ".join(f"{t * 1000:.0f} ms (lag {lag * 1000:.0f} ms)" for _, t, lag, _ in runs)
        + f"; create_event {created[1] * 1000:.0f} ms (lag {created[2] * 1000:.0f} ms)"
    )
    assert cold_ticks > 0  # the loop kept running while the file was parsed
    for out, _, _, _ in runs:
        assert (
            len(out.response["events"]) == 20 and out.response["more"] == 64 - 20
        )  # 08:00 day 1 to 23:00 day 3
    assert created[0].ok, created[0].response
    assert created[3] > 0


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("list_events", {"start": "9999-12-31T10:00"}),
        ("list_events", {"start": "9999-12-30T10:00", "end": "9999-12-31T23:59"}),
        ("find_free_time", {"start": "9999-12-30", "end": "9999-12-31", "duration_minutes": 30}),
        ("create_event", {"title": "x", "start": "9999-12-31T23:30+00:00"}),
        ("list_events", {"start": "0001-01-01T00:00"}),
    ],
)
async def test_year_9999_gets_a_clear_answer(tmp_path: Path, tool: str, args: dict):
    out = await call(local(tmp_path), tool, **args)
    print(f"{tool} {args}: {out.response['error']}")
    assert not out.ok
    assert "outside the dates the calendar handles (years 1900 to 2999)" in out.response["error"]
    assert "could not be reached" not in out.response["error"]


async def test_events_in_year_9999_in_the_file_do_not_break_the_calendar(tmp_path: Path):
    cal = icalendar.Calendar()
    cal.add("prodid", "-//other app//EN")
    cal.add("version", "2.0")
    for uid, start in [
        ("far", datetime(9999, 12, 31, 23, 30, tzinfo=PARIS)),
        ("all-day-far", datetime(9999, 12, 31).date()),
        ("year-one", datetime(1, 1, 1, 0, 0, tzinfo=PARIS)),
        ("soon", datetime.combine(day(), datetime.min.time(), PARIS).replace(hour=9)),
    ]:
        ve = icalendar.Event()
        ve.add("uid", uid)
        ve.add("summary", uid)
        ve.add("dtstart", start)
        cal.add_component(ve)
    (tmp_path / "calendar.ics").write_bytes(cal.to_ical())
    ts = local(tmp_path)
    listed = await call(ts, "list_events", start=at(0), end=at(0, days=1))
    assert listed.ok, listed.response
    assert [e["title"] for e in listed.response["events"]] == ["soon"]
    assert (await call(ts, "create_event", title="Later", start=at(14))).ok
    kept = icalendar.Calendar.from_ical((tmp_path / "calendar.ics").read_bytes())
    uids = {str(v["UID"]) for v in kept.walk("VEVENT")}
    assert {"far", "all-day-far", "year-one", "soon"} < uids and len(uids) == 5  # all kept
