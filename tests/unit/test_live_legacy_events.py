"""The bridge from the stage's typed events to the dicts the feed, metrics and admission
still take (bot/live/legacy_events.py): the same dicts, wording included, as before."""

from bot.events import (
    SessionInterrupted,
    SessionLost,
    SessionMoved,
    ToolNotRun,
    ToolState,
    TranscriptPiece,
)
from bot.live.legacy_events import as_legacy_dicts


def test_each_event_becomes_the_dicts_the_stage_used_to_send():
    assert as_legacy_dicts(ToolState("c1", "t", "done", "SILENT", "NON_BLOCKING", None)) == [
        {
            "type": "tool",
            "call_id": "c1",
            "name": "t",
            "state": "done",
            "scheduling": "SILENT",
            "behavior": "NON_BLOCKING",
            "summary": None,
        }
    ]
    assert as_legacy_dicts(ToolNotRun("c2", "t", "no_caller_turn", "a=1")) == [
        {
            "type": "guard",
            "call_id": "c2",
            "name": "t",
            "refusal": "no_caller_turn",
            "summary": "a=1",
        }
    ]
    assert as_legacy_dicts(TranscriptPiece("bot", "", final=True)) == [
        {"type": "transcript", "role": "bot", "text": "", "final": True}
    ]
    assert as_legacy_dicts(SessionMoved("goaway", 0.25)) == [
        {"type": "live", "event": "switched", "reason": "goaway", "gap": 0.25}
    ]


def test_the_caller_facing_wording_of_session_trouble():
    assert as_legacy_dicts(SessionInterrupted("1011")) == [
        {"type": "notice", "level": "warning", "text": "Reconnecting to Gemini…"}
    ]
    notice, lost = as_legacy_dicts(SessionLost("busy"))
    assert notice["level"] == "error" and "busy" in notice["text"]
    assert lost == {"type": "live", "event": "lost", "reason": "busy"}
    for reason in ("refused", "lost"):
        assert as_legacy_dicts(SessionLost(reason))[0]["type"] == "notice"
