"""ISO 8601 in, offsets and speakable `when` strings out."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.calendar.helpers import PARIS
from tools.api import ToolError
from tools.calendar.timeutil import iso, parse_clock, parse_time, when


def test_parse_time_naive_is_local_and_offsets_are_honoured():
    assert iso(parse_time("2026-11-26T15:00", PARIS, "start"), PARIS) == "2026-11-26T15:00+01:00"
    assert iso(parse_time("2026-11-26T14:00Z", PARIS, "start"), PARIS) == "2026-11-26T15:00+01:00"
    assert iso(parse_time("2026-07-01", PARIS, "start"), PARIS) == "2026-07-01T00:00+02:00"
    with pytest.raises(ToolError, match="new_start 'next tuesday' is not an ISO 8601"):
        parse_time("next tuesday", PARIS, "new_start")


def test_parse_clock():
    assert parse_clock("09:30", "day_start") == timedelta(hours=9, minutes=30)
    assert parse_clock("24:00", "day_end") == timedelta(hours=24)
    for bad in ("9am", "25:00", "24:30"):
        with pytest.raises(ToolError, match="day_end"):
            parse_clock(bad, "day_end")


def test_when_reads_well():
    year = datetime.now(PARIS).year
    t = datetime(year, 11, 26, 15, tzinfo=PARIS)
    day = f"{t:%A} 26 November"
    assert when(t, t + timedelta(hours=1), PARIS) == f"{day}, 15:00–16:00"
    assert when(t, t.replace(hour=0) + timedelta(days=1), PARIS) == f"{day}, 15:00–24:00"
    late = when(t.replace(hour=23), t + timedelta(hours=10), PARIS)
    assert late.startswith(f"{day}, 23:00 – ") and late.endswith(", 01:00")
    midnight = datetime.combine(date(year, 11, 26), datetime.min.time(), PARIS)
    assert when(midnight, midnight + timedelta(days=1), PARIS, all_day=True) == f"{day}, all day"
    later = datetime(year + 1, 1, 14, 9, tzinfo=PARIS)
    assert f"14 January {year + 1}, 09:00" in when(later, later + timedelta(hours=1), PARIS)
