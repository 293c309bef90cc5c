"""The consumers of the typed call events (`bot.events`): the page feed, metrics, admission.

No emulator, no stage: each consumer gets the typed events directly and is checked for
what it makes of them (the page's exact messages, the counters, the cool-down).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from bot.admission import Admission
from bot.call import fan_out
from bot.events import (
    CallEvent,
    SessionInterrupted,
    SessionLost,
    SessionMoved,
    ToolNotRun,
    ToolState,
    TranscriptPiece,
)
from bot.feed import CallFeed
from bot.metrics import Metrics
from tools.toolset import PagePanel


class Page:
    """The messages a feed sent, in order."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == kind]


RUNNING = ToolState("c1", "set_light", "running", None, "NON_BLOCKING", "name='kitchen'")
DONE = ToolState("c1", "set_light", "done", "SILENT", "NON_BLOCKING")


async def test_the_page_gets_exactly_these_messages_for_each_event():
    page = Page()
    feed = CallFeed(page, session={"mode": "live", "message": "", "room": None})
    await feed.start()
    for event in (
        RUNNING,
        DONE,
        ToolNotRun("c2", "set_room", "no_caller_turn"),
        TranscriptPiece("user", "turn on the light"),
        TranscriptPiece("bot", "", final=True),
        SessionInterrupted("socket lost"),
        SessionMoved("goAway", 0.2),
        SessionLost("busy"),
        SessionLost("refused"),
        SessionLost("lost"),
    ):
        await feed.on_event(event)
    # Byte for byte what the page gets (key order too): notices carry the key of their
    # matter, and a seamless move clears "session" (tests/unit/test_notice_keys.py).
    assert [json.dumps(m) for m in page.sent] == [
        '{"type": "session", "mode": "live", "message": "", "room": null}',
        '{"type": "tool", "call_id": "c1", "name": "set_light", "state": "running", '
        '"scheduling": null, "behavior": "NON_BLOCKING", "summary": "name=\'kitchen\'"}',
        '{"type": "tool", "call_id": "c1", "name": "set_light", "state": "done", '
        '"scheduling": "SILENT", "behavior": "NON_BLOCKING", "summary": null}',
        '{"type": "transcript", "role": "user", "text": "turn on the light", "final": false}',
        '{"type": "transcript", "role": "bot", "text": "", "final": true}',
        '{"type": "notice", "key": "session", "level": "warning", '
        '"text": "Reconnecting to Gemini\\u2026"}',
        '{"type": "notice", "key": "session", "clear": true}',
        '{"type": "notice", "key": "session", "level": "error", "text": "The bot is busy '
        'right now (too many calls). Please try again in a few minutes."}',
        '{"type": "notice", "key": "session", "level": "error", "text": "The bot cannot '
        'reach Gemini right now (it was refused). Please try again later."}',
        '{"type": "notice", "key": "session", "level": "error", "text": "The bot lost its '
        'connection to Gemini. Please call again."}',
    ]
    feed.close()


async def test_messages_before_the_page_is_ready_are_kept_and_sent_after_the_session():
    page = Page()
    feed = CallFeed(page, session={"mode": "live"})
    await feed.on_event(TranscriptPiece("bot", "Hello"))
    await feed.on_event(ToolNotRun("c2", "set_room", "no_caller_turn"))  # not shown, not kept
    await feed.send({"type": "notice", "level": "warning", "text": "restarting"})  # the server's
    assert page.sent == []
    await feed.start()
    assert [m["type"] for m in page.sent] == ["session", "transcript", "notice"]
    feed.close()
    flood = Page()
    late = CallFeed(flood, session={})
    for _ in range(150):
        await late.on_event(RUNNING)
    await late.start()
    assert len(flood.of("tool")) == 100, "at most 100 kept for a page that is not ready"


class Counter:
    """A panel backend: its state, and the listeners it notifies on a change."""

    def __init__(self) -> None:
        self.value = 0
        self.listeners: list[Callable[[], None]] = []
        self.reads = 0

    def panel(self, refresh_after: frozenset[str] = frozenset()) -> PagePanel:
        async def snapshot() -> dict[str, Any]:
            self.reads += 1
            return {"type": "counter", "value": self.value}

        def subscribe(changed: Callable[[], None]) -> Callable[[], None]:
            self.listeners.append(changed)
            return lambda: self.listeners.remove(changed)

        return PagePanel(snapshot, subscribe, refresh_after)

    def change(self, times: int = 1) -> None:
        for _ in range(times):
            self.value += 1
            for listener in list(self.listeners):
                listener()


async def test_a_panel_is_sent_at_start_then_once_per_burst_of_changes_until_closed():
    page, backend = Page(), Counter()
    feed = CallFeed(page, session={"mode": "live"}, panels=[backend.panel()])
    backend.change()  # before the page is ready: not subscribed yet
    await feed.start()
    assert page.of("counter") == [{"type": "counter", "value": 1}]
    backend.change(times=5)  # many lights at once: one message
    await asyncio.sleep(0.2)
    assert page.of("counter")[1:] == [{"type": "counter", "value": 6}]
    feed.close()
    assert backend.listeners == []
    backend.change()
    await asyncio.sleep(0.1)
    assert len(page.of("counter")) == 2


async def test_a_panel_follows_its_own_tools_when_they_finish():
    page, backend = Page(), Counter()
    other = Counter()
    feed = CallFeed(
        page,
        session={"mode": "live"},
        panels=[backend.panel(frozenset({"set_light"})), other.panel()],
    )
    await feed.start()
    assert (backend.reads, other.reads) == (1, 1)
    await feed.on_event(RUNNING)
    assert backend.reads == 1, "a running call changes nothing yet"
    await feed.on_event(DONE)
    await feed.on_event(ToolState("c3", "set_light", "failed", "INTERRUPT", "NON_BLOCKING"))
    await feed.on_event(ToolState("c4", "list_events", "done", None, "BLOCKING"))
    assert (backend.reads, other.reads) == (2, 1)
    assert [m["type"] for m in page.sent[-2:]] == ["tool", "tool"]
    feed.close()


async def test_a_failing_panel_is_logged_and_the_rest_of_the_page_goes_on():
    async def broken() -> dict[str, Any]:
        raise OSError("backend down")

    page = Page()
    feed = CallFeed(page, session={"mode": "live"}, panels=[PagePanel(broken)])
    await feed.start()
    await feed.on_event(RUNNING)
    assert [m["type"] for m in page.sent] == ["session", "tool"]


async def test_metrics_count_typed_events():
    m = Metrics()
    for event in (
        RUNNING,
        DONE,
        ToolState("c5", "create_event", "failed", "INTERRUPT", "NON_BLOCKING", "conflict"),
        ToolNotRun("c6", "set_room", "no_caller_turn"),
        SessionMoved("goAway", 0.25),
        SessionInterrupted("socket lost"),
        SessionLost("busy"),
        TranscriptPiece("user", "hi"),
    ):
        await m.on_call_event(event)
    text = m.render().decode()
    for line in (
        'livebot_tool_calls_total{outcome="done",scheduling="SILENT",tool="set_light"} 1.0',
        'livebot_tool_calls_total{outcome="failed",scheduling="INTERRUPT",tool="create_event"} 1.0',
        'livebot_tool_seconds_count{tool="set_light"} 1.0',
        'livebot_tool_calls_not_run_total{reason="no_caller_turn",tool="set_room"} 1.0',
        'livebot_live_reconnects_total{reason="goAway"} 1.0',
        "livebot_live_switch_seconds_count 1.0",
        'livebot_live_failures_total{reason="busy"} 1.0',
    ):
        assert line in text, line
    assert 'tool_seconds_count{tool="create_event"}' not in text, "no start, no latency"


async def test_admission_cools_down_after_a_refused_or_busy_session_only():
    for reason, cools in (("busy", True), ("refused", True), ("lost", False)):
        a = Admission(max_calls=10)
        await a.on_call_event(SessionMoved("goAway", 0.1))
        await a.on_call_event(SessionLost(reason))  # type: ignore[arg-type]
        assert a.live_down is cools, reason
        refusal = a.refusal(active_calls=0)
        assert (refusal is not None) is cools
    busy = Admission(max_calls=10)
    await busy.on_call_event(SessionLost("busy"))
    assert busy.refusal(0)[0].startswith("The bot is busy right now (its voice service")


async def test_one_fan_out_delivers_each_event_to_every_consumer_in_order():
    got: list[tuple[str, CallEvent]] = []

    async def first(e: CallEvent) -> None:
        got.append(("first", e))

    async def second(e: CallEvent) -> None:
        got.append(("second", e))

    deliver = fan_out(first, None, second)
    await deliver(RUNNING)
    assert got == [("first", RUNNING), ("second", RUNNING)]
