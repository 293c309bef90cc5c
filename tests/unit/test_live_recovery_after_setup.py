"""What a close means depends on whether the socket had reached setupComplete
(bot/live/session_moves.py `recovery_plan`): after it, any code is a lost socket."""

import pytest
from google.genai.errors import APIError

from bot.live.session_moves import MAX_FAILURES, Plan, recovery_plan

NOT_IMPLEMENTED = "Operation is not implemented, or supported, or enabled."


def closed(code: int, text: str = "") -> APIError:
    return APIError(code, {"error": {"message": text, "status": ""}})


@pytest.mark.parametrize(
    ("error", "resuming", "plan"),
    [
        # mid-call, with a handle: resume, whatever the code
        (closed(1008, NOT_IMPLEMENTED), True, Plan.RESUME),
        (closed(1011, "Internal error encountered."), True, Plan.RESUME),
        (closed(1006, "Abnormal closure."), True, Plan.RESUME),
        (closed(1000, ""), True, Plan.RESUME),
        (ConnectionResetError("reset"), True, Plan.RESUME),
        # mid-call, before the first handle: a fresh session seeded with the summary
        (closed(1008, NOT_IMPLEMENTED), False, Plan.FRESH),
        (closed(1011, "Internal error encountered."), False, Plan.FRESH),
        (closed(1006, "Abnormal closure."), False, Plan.FRESH),
        # the context is full or the request invalid: resuming would bring it back
        (closed(1007, "Request contains an invalid argument."), True, Plan.FRESH),
    ],
)
def test_a_close_after_setup_is_a_lost_socket(error, resuming, plan):
    recovery = recovery_plan(error, resuming=resuming, failures=1, set_up=True)
    assert recovery.plan is plan, recovery


def test_a_mid_call_1008_is_never_a_refusal():
    for resuming in (True, False):
        for failures in range(1, MAX_FAILURES + 1):
            recovery = recovery_plan(
                closed(1008, NOT_IMPLEMENTED), resuming=resuming, failures=failures, set_up=True
            )
            assert recovery.plan is not Plan.GIVE_UP or recovery.why != "refused"
            assert recovery.plan is not Plan.GIVE_UP


@pytest.mark.parametrize(
    ("error", "resuming", "plan", "why"),
    [
        (
            closed(1008, "API key not valid. Please pass a valid API key."),
            False,
            Plan.GIVE_UP,
            "refused",
        ),
        (closed(1008, "Session not found"), True, Plan.FRESH, None),  # the handle was refused
        (closed(1011, "RESOURCE_EXHAUSTED: quota exceeded"), False, Plan.GIVE_UP, "busy"),
    ],
)
def test_a_refusal_at_setup_is_still_a_refusal(error, resuming, plan, why):
    recovery = recovery_plan(error, resuming=resuming, failures=1, set_up=False)
    assert recovery.plan is plan
    if why is not None:
        assert recovery.why == why


def test_a_quota_close_gives_up_whenever_it_comes():
    quota = closed(1011, "RESOURCE_EXHAUSTED: quota exceeded for concurrent sessions")
    assert recovery_plan(quota, resuming=True, failures=1, set_up=True).why == "busy"


def test_sockets_that_keep_closing_after_setup_are_bounded():
    lost = closed(1008, NOT_IMPLEMENTED)
    assert recovery_plan(lost, resuming=True, failures=2, set_up=True).plan is Plan.FRESH
    over = recovery_plan(lost, resuming=False, failures=MAX_FAILURES + 1, set_up=True)
    assert over.plan is Plan.GIVE_UP and over.why == "lost"
