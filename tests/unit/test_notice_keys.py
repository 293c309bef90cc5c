"""The page's notices are keyed by their matter, and each matter's end is said.

What a caller saw before keys: "Reconnecting to Gemini…" or "Gemini is slow to
answer…" stayed on the page after the bot was talking again, two notices of one drop
piled up, and nothing said the call was back. Here each notice names its matter
(`key`), so the page (web/src/notices.ts) replaces the earlier one, and the end of the
matter is a message too: "Reconnected" after a resume, a clear once the stalled model
answers. An error is never cleared by the bot: it stays for the caller to read.
"""

from __future__ import annotations

from typing import Any

from bot.events import (
    BotRestarting,
    CallCapReached,
    CallEvent,
    LiveStalled,
    SessionInterrupted,
    SessionLost,
    SessionMoved,
    StallRecovered,
    TokensUsed,
    ToolNotRun,
    TranscriptPiece,
)
from bot.feed import page_message


def shown(*events: CallEvent) -> list[dict[str, Any]]:
    return [m for m in map(page_message, events) if m is not None and m["type"] == "notice"]


def on_page(*events: CallEvent) -> dict[str, str]:
    """What the page shows at the end, per key (a later notice replaces, a clear removes)."""
    page: dict[str, str] = {}
    for m in shown(*events):
        if m.get("clear"):
            page.pop(m["key"], None)
        else:
            page[m["key"]] = m["text"]
    return page


def test_a_drop_says_reconnecting_then_reconnected_under_one_key():
    drop = shown(SessionInterrupted("1011"), SessionMoved("error", 0.3))
    assert [(m["key"], m["level"]) for m in drop] == [("session", "warning"), ("session", "info")]
    assert "Reconnecting" in drop[0]["text"] and drop[1]["text"] == "Reconnected to Gemini."
    # two drops in a row: still one session notice, and it says the call is back
    again = on_page(
        SessionInterrupted("1011"),
        SessionInterrupted("1006"),
        SessionMoved("error", 0.9),
    )
    assert again == {"session": "Reconnected to Gemini."}


def test_a_seamless_move_clears_the_session_notice_and_says_nothing():
    for reason in ("goaway", "stall", "tools"):
        (m,) = shown(SessionMoved(reason, 0.1))
        assert m == {"type": "notice", "key": "session", "clear": True}
    assert on_page(SessionInterrupted("1011"), SessionMoved("goaway", 0.2)) == {}


def test_a_lost_session_is_an_error_in_place_of_reconnecting_and_never_cleared():
    page = on_page(SessionInterrupted("1011"), SessionLost("lost"))
    assert page == {"session": "The bot lost its connection to Gemini. Please call again."}
    (lost,) = shown(SessionLost("busy"))
    assert lost["level"] == "error" and not lost.get("clear")


def test_a_stall_notice_is_replaced_as_recovery_goes_on_and_cleared_by_the_answer():
    nudge = LiveStalled("nudge", "caller", 4.0)
    move = LiveStalled("move", "caller", 6.0)
    gave_up = LiveStalled("gave_up", "caller", 12.0)
    steps = shown(nudge, move, gave_up)
    assert {m["key"] for m in steps} == {"stall"}
    assert [m["level"] for m in steps] == ["info", "info", "warning"]
    assert on_page(nudge, move) == {"stall": "Gemini did not answer: reconnecting…"}
    assert on_page(nudge, move, StallRecovered("caller", 7.1)) == {}
    assert on_page(gave_up, StallRecovered("caller", 20.0)) == {}
    assert shown(StallRecovered("caller", 1.0)) == [
        {"type": "notice", "key": "stall", "clear": True}
    ]


def test_a_stall_and_a_drop_are_two_matters():
    page = on_page(
        LiveStalled("nudge", "caller", 4.0),
        SessionInterrupted("1011"),
        StallRecovered("caller", 5.0),
    )
    assert page == {"session": "Reconnecting to Gemini…"}


def test_restart_and_cap_have_their_own_keys():
    restart, cap = shown(BotRestarting(30.0), CallCapReached("minutes"))
    assert (restart["key"], restart["level"]) == ("restart", "warning")
    assert "within 30 seconds" in restart["text"]
    assert (cap["key"], cap["level"]) == ("cap", "warning") and "time limit" in cap["text"]


def test_every_notice_has_a_key_and_either_words_or_a_clear():
    events: list[CallEvent] = [
        SessionInterrupted("x"),
        SessionMoved("error", 0.1),
        SessionMoved("goaway", 0.1),
        SessionLost("refused"),
        LiveStalled("nudge", "tool_result", 4.0),
        StallRecovered("tool_result", 4.5),
        BotRestarting(5.0),
        CallCapReached("tokens"),
    ]
    for m in shown(*events):
        assert m["key"] in {"session", "stall", "restart", "cap"}
        assert m.get("clear") is True or (m["text"] and m["level"] in {"info", "warning", "error"})
    quiet = (
        TokensUsed(()),
        ToolNotRun("c", "set_room", "no_caller_turn"),
        TranscriptPiece("bot", "hi"),
    )
    assert shown(*quiet) == []
