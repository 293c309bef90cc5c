"""Finding 7: two processes on one data directory (deploy/compose.two-bots.yml) lose
no calendar events."""

from __future__ import annotations

from pathlib import Path

import icalendar
import pytest

from tests.together import run_together

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("round_", range(2))
def test_two_processes_booking_ten_events_each_keep_all_twenty(tmp_path: Path, round_: int):
    data = tmp_path / "calendar"
    data.mkdir()
    results = run_together(
        tmp_path / "go",
        [
            ["tests.calendar.worker", str(data), "9", "10"],
            ["tests.calendar.worker", str(data), "11", "10"],
        ],
    )
    said_created = sum(r["created"] for r in results)
    cal = icalendar.Calendar.from_ical((data / "calendar.ics").read_bytes())
    titles = sorted(str(e["SUMMARY"]) for e in cal.walk("VEVENT"))
    print(f"round {round_}: {said_created} said created, {len(titles)} of 20 in the file")
    assert said_created == 20
    assert titles == sorted([f"P9-{i}" for i in range(10)] + [f"P11-{i}" for i in range(10)])


@pytest.mark.parametrize("round_", range(2))
def test_two_processes_booking_the_same_ten_slots_book_each_once(tmp_path: Path, round_: int):
    data = tmp_path / "calendar"
    data.mkdir()
    worker = ["tests.calendar.worker", str(data), "10", "10"]  # both: 10:00 on days 0-9
    results = run_together(tmp_path / "go", [worker, worker])
    said_created = sum(r["created"] for r in results)
    cal = icalendar.Calendar.from_ical((data / "calendar.ics").read_bytes())
    starts = sorted(e.start for e in cal.walk("VEVENT"))
    print(f"round {round_}: {said_created} said created, {len(starts)} events for 10 slots")
    assert said_created == 10 and len(starts) == len(set(starts)) == 10
