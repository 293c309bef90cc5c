"""The recovery plan after a lost Live socket: a pure function (bot/live/session_moves.py)."""

import pytest
from google.genai.errors import APIError

from bot.live.session_moves import Plan, backoff_seconds, parse_duration, recovery_plan


def closed(code: int, text: str = "") -> APIError:
    return APIError(code, {"error": {"message": text, "status": ""}})


@pytest.mark.parametrize(
    ("error", "resuming", "failures", "plan", "why"),
    [
        (closed(1011, "RESOURCE_EXHAUSTED: quota exceeded"), True, 1, Plan.GIVE_UP, "busy"),
        (ConnectionError("resource exhausted"), False, 1, Plan.GIVE_UP, "busy"),
        (closed(1008, "API key not valid"), False, 1, Plan.GIVE_UP, "refused"),
        (closed(1008, "session not found"), True, 1, Plan.FRESH, None),
        (closed(1007, "context full"), True, 1, Plan.FRESH, None),
        (closed(1007, "invalid"), False, 1, Plan.FRESH, None),
        (closed(1011, "internal error"), True, 1, Plan.RESUME, "socket lost"),
        (closed(1011, "internal error"), True, 2, Plan.FRESH, "resumption keeps failing"),
        (closed(1011, "internal error"), False, 2, Plan.RESUME, "socket lost"),
        (ConnectionResetError("reset"), False, 5, Plan.RESUME, "socket lost"),
        (ConnectionResetError("reset"), False, 6, Plan.GIVE_UP, "lost"),
        (ConnectionResetError("reset"), True, 6, Plan.GIVE_UP, "lost"),
    ],
)
def test_recovery_plan(error, resuming, failures, plan, why):
    recovery = recovery_plan(error, resuming=resuming, failures=failures)
    assert recovery.plan is plan
    if why is not None:
        assert recovery.why == why


def test_backoff_grows_to_two_seconds():
    assert [backoff_seconds(n) for n in (1, 2, 5, 20)] == [0.0, 0.25, 1.0, 2.0]


def test_go_away_durations():
    assert parse_duration("1.5s") == 1.5
    assert parse_duration(" 10s ") == 10.0
    assert parse_duration("soon") is None and parse_duration(None) is None
