"""End to end with video: a real aiortc caller sends a camera track (a solid colour)
through the bot into the Live emulator, which names the colour back."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.call import CallOptions
from bot.settings import LiveSettings
from caller import Caller
from caller.video import ColourCamera
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from gemini_emulator.video import colour_name
from testkit.bot import running_bot
from tools.api import Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)

RED, BLUE = (220, 30, 30), (30, 30, 220)
CAMERA = {"env": {"LIVE_VIDEO": "camera"}}


def bot_said(caller: Caller) -> str:
    """What the caller's page shows the bot saying (its transcript pieces)."""
    pages = [m.get("data") for m in caller.data_messages if isinstance(m, dict)]
    return "".join(
        d["text"]
        for d in pages
        if isinstance(d, dict) and d.get("type") == "transcript" and d.get("role") != "user"
    )


async def hears(caller: Caller, text: str) -> None:
    await caller.wait_until(lambda: text in bot_said(caller), 15, lambda: bot_said(caller))


def frame_colours(session: LiveSession) -> list[str]:
    return [colour_name(f.mean_rgb) for f in session.video_frames if f.mean_rgb]


async def answer_colours(s: LiveSession) -> None:
    """The model names what it sees each time the colour it sees changes."""
    named: list[str] = []

    def changed() -> list[str] | None:
        seen = frame_colours(s)[-1:]
        return seen if seen and seen != named else None

    while True:
        named = await s._wait_for(changed, None)
        await s.say(f"I see {named[0]}.", seconds=0.5)


async def test_the_callers_camera_reaches_the_session_at_most_once_a_second(tmp_path):
    camera = ColourCamera(RED)
    async with (
        running_emulator(tmp_path, script=answer_colours) as emu,
        running_bot(emu, tmp_path, **CAMERA) as bot,
        Caller(bot.link(), camera=camera) as caller,
    ):
        await caller.connect(timeout=15)
        await hears(caller, "I see red")
        assert caller.joined and caller.joined["video"] == ["camera"]  # the page is told
        session = emu.sessions[0]
        first = session.video_frames[0]
        # The caller's 640x480 camera, scaled to fit MEDIUM (768 px): kept as it is.
        assert (first.width, first.height, first.mime_type) == (640, 480, "image/jpeg")
        camera.rgb = BLUE  # the caller turns the camera to something blue
        await hears(caller, "I see blue")
        # Audio went on beside the video.
        assert emu.received_of("realtimeInput")
        assert any(r.sub == "audio" for r in emu.received_of("realtimeInput"))
    frames = session.video_frames
    assert camera.frames > 3 * len(frames)  # most of the camera's 30 fps were not sent
    # An unchanged picture is not sent again: one red frame, then the blue one(s).
    assert frame_colours(session)[0] == "red" and frame_colours(session)[-1] == "blue"
    assert len(frames) <= 4, frame_colours(session)


class ChangingCamera(ColourCamera):
    """A picture that changes on every frame (so no frame is skipped as unchanged)."""

    async def recv(self):
        self.rgb = ((self.frames * 37) % 256, 90, 160)  # any two frames a second apart differ
        return await super().recv()


async def test_a_changing_picture_is_sent_at_most_once_a_second(tmp_path):
    camera = ChangingCamera(RED)
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, **CAMERA) as bot,
        Caller(bot.link(), camera=camera) as caller,
    ):
        await caller.connect(timeout=15)
        await emu.wait_for(lambda: len(emu.sessions[0].video_frames) >= 2, timeout=10)
        start, began = camera.frames, time.monotonic()
        first = len(emu.sessions[0].video_frames)
        await caller.wait_until(lambda: camera.frames - start >= 150, 15)  # 5 s of camera
        frames = emu.sessions[0].video_frames[first:]
        seconds = time.monotonic() - began
    # 150 camera frames (5 s at 30 fps; longer on a loaded machine) became about one frame
    # for the model per second, never more (+1 for where the count starts).
    assert 3 <= len(frames) <= int(seconds) + 1, (len(frames), seconds)


async def test_video_added_and_removed_mid_call_on_the_same_connection(tmp_path):
    camera = ColourCamera(BLUE)
    async with (
        running_emulator(tmp_path, script=answer_colours) as emu,
        running_bot(emu, tmp_path, **CAMERA) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        pc_id = caller.pc_id
        assert caller.pc is not None
        transceiver = caller.pc.addTransceiver(camera, direction="sendrecv")
        await caller.renegotiate()
        assert caller.pc_id == pc_id  # the same peer connection
        await hears(caller, "I see blue")
        session = emu.sessions[0]
        # Camera off: the caller stops sending; frames stop reaching the session.
        transceiver.direction = "inactive"
        await caller.renegotiate()
        await asyncio.sleep(1.5)
        sent = len(session.video_frames)
        audio_before = session.connections[-1].audio_bytes
        await asyncio.sleep(2.5)
        assert len(session.video_frames) == sent
        assert session.connections[-1].audio_bytes > audio_before  # audio goes on


async def test_with_video_off_a_camera_never_reaches_the_session(tmp_path):
    """The page's transport always offers a video transceiver, so an offer with video is
    answered; with LIVE_VIDEO=off its frames are dropped before decoding, audio goes on."""
    camera = ColourCamera(RED)
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        Caller(bot.link(), camera=camera) as caller,
    ):
        await caller.connect(timeout=15)
        session = emu.sessions[0]
        before = session.connections[-1].audio_bytes
        await caller.wait_until(lambda: camera.frames > 60, 10)  # 2 s of camera
        await caller.wait_until(lambda: session.connections[-1].audio_bytes > before + 16000, 10)
        (call,) = bot.calls.calls.values()
        assert call.video is None and session.video_frames == []
        assert caller.joined and caller.joined["video"] == []


async def test_turning_the_camera_on_mid_call_with_video_off_changes_nothing(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        assert caller.pc is not None
        camera = ColourCamera(RED)
        caller.pc.addTransceiver(camera, direction="sendrecv")
        await caller.renegotiate()
        session = emu.sessions[0]
        before = session.connections[-1].audio_bytes
        await caller.wait_until(lambda: camera.frames > 60, 10)
        await caller.wait_until(lambda: session.connections[-1].audio_bytes > before + 16000, 10)
        assert len(bot.calls.calls) == 1 and session.video_frames == []


async def test_the_camera_comes_back_after_an_ice_restart(tmp_path):
    camera = ColourCamera(RED)
    async with (
        running_emulator(tmp_path, script=answer_colours) as emu,
        running_bot(emu, tmp_path, **CAMERA) as bot,
        Caller(bot.link(), camera=camera) as caller,
    ):
        await caller.connect(timeout=15)
        await hears(caller, "I see red")
        old = caller.pc_id
        await caller.renegotiate(restart=True)  # a new peer connection, as after an ICE failure
        assert caller.pc_id != old
        camera.rgb = BLUE
        await hears(caller, "I see blue")


async def test_video_is_not_caller_speech_for_the_stall_watch_or_the_tools_guard(tmp_path):
    """A camera pointed at a changing scene while the caller says nothing: the model owes
    no answer (no nudge however long it stays quiet), and an acting tool the model calls
    on its own after seeing it is refused, not run."""
    switched: list[str] = []

    @tool(acting=True, scheduling=Scheduling.SILENT)
    async def set_light(name: str, on: bool) -> dict:
        """Switch one light on or off."""
        switched.append(name)
        return {"name": name, "on": on}

    answered: dict = {}

    async def script(s: LiveSession) -> None:
        await s._wait_for(lambda: len(s.video_frames) >= 4, 20)  # 4 s of video, no words
        answered["nudges"] = [
            r for r in emu.received_of("clientContent") if r.body.get("turnComplete")
        ]
        call_id = await s.call_tool("set_light", {"name": "kitchen", "on": True})
        answered["response"] = await s.tool_response(call_id)

    def options(room) -> CallOptions:
        return CallOptions(greeting=None, tools=ToolRegistry([set_light]), room=room)

    live = LiveSettings(api_key="test-key", greeting=None, stall_seconds=1.0)
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, live=live, options_factory=options, **CAMERA) as bot,
        Caller(bot.link(), camera=ChangingCamera(RED)) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.wait_until(lambda: "response" in answered, 30)
    # 4 s of video with a 1 s stall time: no nudge (the model owed no answer).
    assert answered["nudges"] == [], "the stall watch nudged a model that owed no answer"
    assert switched == [], "an acting tool ran with no caller turn"
    assert "no_caller_turn" in json.dumps(answered["response"].response)
