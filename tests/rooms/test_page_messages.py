"""Whatever the page is sent fits the data channel (a real aiortc caller, the real bot).

Finding 15 (the page's side): 20 events with 200,000-character titles made the page's
calendar message 1,001,013 bytes, which aiortc refused to send ("Cannot send message
of 1001013 bytes"), so the page never got its calendar. The calendar package bounds
its own text; the feed must be safe for any message, whatever its source.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.call import CallOptions
from bot.pagemessage import CUT, MAX_PAGE_MESSAGE_BYTES
from bot.rooms import Room
from caller import Caller
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record
from tools.calendar.backend import Event
from tools.calendar.panel import panel_for
from tools.toolset import Toolset, registry_of

pytestmark = pytest.mark.timeout(90)


class HugeCalendar:
    """A calendar backend whose events have 200,000-character titles."""

    async def list(self, start: datetime, end: datetime) -> list[Event]:
        return [
            Event(
                uid=f"huge-{i}@test",
                title=f"event {i} " + "T" * 200_000,
                start=start + timedelta(hours=i + 1),
                end=start + timedelta(hours=i + 2),
            )
            for i in range(20)
        ]


def page(kind: str):
    return lambda m: m.get("type") == "server-message" and m["data"].get("type") == kind


async def test_huge_calendar_and_transcript_messages_still_reach_the_page(tmp_path, speech):
    said = "words " * 60_000  # a 360,000-character caller transcript piece

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Heard you.", seconds=0.5, transcribe_input=said)

    def options(room: Room) -> CallOptions:
        return CallOptions(
            greeting=None,
            room=room,
            tools=registry_of([Toolset("calendar", [], panel=panel_for(HugeCalendar(), UTC))]),
        )

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=options) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        calendar = await caller.wait_for_message(page("calendar"), timeout=15)
        await caller.play_wav(speech("hello there"))
        transcript = await caller.wait_for_message(
            lambda m: page("transcript")(m) and m["data"].get("role") == "user", timeout=20
        )
        # Pipecat's own RTVI event for the same words (not from the feed) fits too.
        pipecat_event = await caller.wait_for_message(
            lambda m: m.get("type") == "user-transcription", timeout=10
        )
        everything = list(caller.data_messages)
    sizes = {
        "calendar": len(json.dumps(calendar)),
        "transcript": len(json.dumps(transcript)),
        "user-transcription": len(json.dumps(pipecat_event)),
        "largest of all": max(len(json.dumps(m)) for m in everything),
    }
    events = calendar["data"]["events"]
    record(
        "page_message_bound",
        bytes_on_the_channel=sizes,
        limit=MAX_PAGE_MESSAGE_BYTES,
        calendar_events=len(events),
        title_chars=[len(e["title"]) for e in events],
        transcript_chars=len(transcript["data"]["text"]),
        messages=len(everything),
    )
    assert all(size <= MAX_PAGE_MESSAGE_BYTES for size in sizes.values()), sizes
    assert calendar["data"]["truncated"] is True and len(events) == 5
    assert all(e["title"].startswith("event ") and e["title"].endswith(CUT) for e in events)
    assert transcript["data"]["truncated"] is True
    assert pipecat_event["truncated"] is True and pipecat_event["data"]["text"].endswith(CUT)
    assert transcript["data"]["text"].startswith("words words") and said.startswith(
        transcript["data"]["text"].removesuffix(CUT)
    )
