"""End to end: a real aiortc peer connection (Opus) through the bot's HTTP signalling,
the Live stage, and the Gemini Live emulator, all on loopback."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.call import CallOptions
from bot.http.bodylimit import MAX_BODY_BYTES
from caller import Caller
from gemini_emulator import LiveSession
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.audio import read_wav
from tests.serving import serving
from tools.api import Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


def lights_options(switched: list[str]) -> Callable[[], CallOptions]:
    @tool(scheduling=Scheduling.SILENT)
    async def set_light(name: str, on: bool) -> dict:
        """Switch one light on or off."""
        switched.append(f"{name}={'on' if on else 'off'}")
        return {"name": name, "on": on}

    return lambda room: CallOptions(greeting=None, tools=ToolRegistry([set_light]), room=room)


async def test_spoken_words_reach_gemini_and_the_answer_reaches_the_caller(
    tmp_path, monkeypatch, speech
):
    switched: list[str] = []
    heard: dict = {}

    async def script(s: LiveSession) -> None:
        utterance = await s.next_utterance()
        heard["utterance"] = utterance
        call_id = await s.call_tool("set_light", {"name": "kitchen", "on": True})
        heard["response"] = await s.tool_response(call_id)
        await s.say(
            "The kitchen light is on.", seconds=1.5, transcribe_input="turn on the kitchen lights"
        )

    wav = speech("turn on the kitchen lights")
    spoken_pcm, _ = read_wav(wav)
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=lights_options(switched)) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.play_wav(wav)
        await caller.wait_for_audio(1.2, timeout=20)
        session = emu.sessions[0]
        await emu.wait_for(lambda: session.turns and session.turns[0].completed, timeout=10)
        await asyncio.sleep(0.3)
        audio_inputs = emu.received_of("realtimeInput")

    # Gemini got the caller's speech as 16 kHz PCM, and heard one utterance of about its length.
    mimes = {r.body["audio"]["mimeType"] for r in audio_inputs if r.sub == "audio"}
    assert mimes == {"audio/pcm;rate=16000"}
    spoken_seconds = len(spoken_pcm) / 2 / 16000 - 0.6  # minus the WAV's silent padding
    assert 0.6 * spoken_seconds <= heard["utterance"].duration <= 1.4 * spoken_seconds + 0.3
    # The tool ran once, and its result went back with the lights tool's scheduling.
    assert switched == ["kitchen=on"]
    assert heard["response"].scheduling == "SILENT"
    assert session.turns[0].completed
    # The model's answer reached the caller: non-silent, about as long as it was.
    assert 1.0 <= caller.received_seconds() <= 2.3


async def test_malformed_offers_get_4xx_and_the_server_keeps_serving(tmp_path, speech):
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path) as bot:
        async with httpx.AsyncClient(base_url=bot.url) as http:
            joined = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
            auth = {"Authorization": f"Bearer {joined.json()['ticket']}"}
            bad = [
                {"sdp": "garbage", "type": "offer"},
                {"sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "type": "offer"},
                {"type": "offer"},
                {"sdp": "v=0", "type": "answer"},
                {"sdp": "v=0\r\n" + "a=x\r\n" * 20000, "type": "offer"},
            ]
            for body in bad:
                r = await http.post("/api/offer", json=body, headers=auth)
                # A body too big to read at all (the 100 KB SDP) is refused before parsing.
                expected = 413 if len(json.dumps(body)) > MAX_BODY_BYTES else 400
                assert r.status_code == expected, (body, r.text)
                assert r.json()["detail"] and r.json()["reason"]
            r = await http.post(
                "/api/offer",
                content=b"{not json",
                headers={**auth, "content-type": "application/json"},
            )
            assert r.status_code == 400
            r = await http.post(
                "/api/offer", json={"sdp": "v=0", "type": "offer", "pc_id": "x"}, headers=auth
            )
            assert r.status_code == 403
            assert (await http.get("/healthz")).status_code == 200
            assert emu.connections == [], "no call (and no Live session) was started for them"

        # A real call still works after all that.
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            await caller.play_wav(speech("hello"))
            await caller.wait_for_audio(0.3, timeout=20)


async def test_first_command_offline_echo(tmp_path, speech):
    """`./livebot serve` without a key: says it is an echo test, and echoes what you say."""
    async with serving(tmp_path) as bot:
        assert "ECHO TEST" in bot.banner and "GOOGLE_API_KEY" in bot.banner
        async with httpx.AsyncClient() as http:
            assert (await http.get(bot.link)).status_code == 200
        wav = speech("testing one two three")
        spoken = len(read_wav(wav)[0]) / 2 / 16000 - 0.6
        async with Caller(bot.link) as caller:
            await caller.connect(timeout=15)
            assert caller.joined["mode"] == "echo" and "GOOGLE_API_KEY" in caller.joined["message"]
            await caller.play_wav(wav)
            await caller.wait_for_audio(0.6 * spoken, timeout=20)
            await asyncio.sleep(1.0)
            assert 0.6 * spoken <= caller.received_seconds() <= 1.5 * spoken + 0.3


async def test_headless_caller_command_prints_transcript_and_tools(tmp_path, speech):
    """`livebot call LINK --wav …`: speaks, records the reply, prints what happened."""
    switched: list[str] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        call_id = await s.call_tool("set_light", {"name": "kitchen", "on": True})
        await s.tool_response(call_id)
        await s.say("The kitchen light is on.", seconds=1.0, transcribe_input="kitchen light on")

    out = tmp_path / "reply.wav"
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=lights_options(switched)) as bot,
    ):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "call",
            bot.link(),
            "--wav",
            str(speech("kitchen light on")),
            "--out",
            str(out),
            "--seconds",
            "4",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = stdout.decode()
    assert proc.returncode == 0, text
    assert "tool  set_light running, SILENT: name=kitchen, on=True" in text
    assert "tool  set_light done, SILENT" in text
    assert "you   kitchen light on" in text
    assert "bot   The kitchen light is on." in text
    assert switched == ["kitchen=on"]
    pcm, rate = read_wav(out)
    assert len(pcm) / 2 / rate > 3.0
