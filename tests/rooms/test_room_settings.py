"""A room's own settings reach its calls: persona, voice, lights room, calendar, cap."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.rooms import Room
from caller import Caller
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot
from tools.toolset import load_toolsets

pytestmark = pytest.mark.timeout(90)


async def test_room_persona_voice_lights_room_and_calendar(tmp_path, speech):
    tools_dir = tmp_path / "tools"
    toolsets = load_toolsets(["calendar", "lights"], {}, tools_dir, ZoneInfo("Europe/Paris"))
    booked: dict = {}

    async def script(s: LiveSession) -> None:
        while (await s.next_utterance()).kind != "audio":
            pass
        await s.send_raw(s.transcribe("book the stand up"))  # Gemini's input transcription
        call_id = await s.call_tool(
            "create_event",
            {"title": "Stand-up", "start": "2027-03-04T09:30", "duration_minutes": 15},
        )
        booked["response"] = await s.tool_response(call_id)
        await s.say("Booked.", seconds=0.4)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, toolsets=toolsets) as bot,
    ):
        bot.rooms.put(
            Room(
                name="office",
                persona="Be brisk and businesslike.",
                voice="Kore",
                toolsets={"lights": {"room": "living room"}, "calendar": {"name": "work"}},
            )
        )
        async with Caller(bot.link("office")) as caller:
            await caller.connect(timeout=15)
            await caller.play_wav(speech("book the stand up"))
            await caller.wait_for_message(
                lambda m: (
                    m.get("type") == "server-message"
                    and m["data"].get("type") == "tool"
                    and m["data"].get("state") == "done"
                ),
                timeout=20,
            )
        setup = emu.setups[0]

    instruction = "".join(p.get("text", "") for p in setup["systemInstruction"]["parts"])
    assert "Be brisk and businesslike." in instruction
    assert "they mean the living room lights" in instruction
    voice = setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
    assert voice["voiceName"] == "Kore"
    assert "error" not in booked["response"].response
    work = icalendar.Calendar.from_ical((tools_dir / "calendar" / "calendar-work.ics").read_bytes())
    assert [str(e["SUMMARY"]) for e in work.walk("VEVENT")] == ["Stand-up"]
    main = tools_dir / "calendar" / "calendar.ics"
    assert not main.exists() or "Stand-up" not in main.read_text()
