"""Helpers for the calendar tests: calling tools, test dates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from tools.api import Outcome, Tool
from tools.toolset import Toolset

PARIS = ZoneInfo("Europe/Paris")


def tool_of(ts: Toolset, name: str) -> Tool:
    return next(t for t in ts.tools if t.name == name)


async def call(ts: Toolset, name: str, **args: object) -> Outcome:
    return await tool_of(ts, name).invoke(args)


def day() -> date:
    """A winter day within the next two years: 14 January next year (CET, UTC+1)."""
    return date(datetime.now(PARIS).year + 1, 1, 14)


def at(hour: int, minute: int = 0, *, days: int = 0) -> str:
    """Local wall-clock ISO time on `day()` (+ `days`), no offset."""
    d = day().toordinal() + days
    return f"{date.fromordinal(d).isoformat()}T{hour:02d}:{minute:02d}"
