"""The Live stage against the wire-level emulator: what goes over the socket, and when."""

from __future__ import annotations

import asyncio
from typing import Annotated

import pytest
from pipecat.frames.frames import InterruptionFrame
from pydantic import Field

from bot.live.client import live_http_options
from gemini_emulator import LiveEmulator, LiveSession
from gemini_emulator.testing import running_emulator
from tests.live.harness import live_settings, running_stage, silence
from tools.api import Behavior, CallContext, Result, Scheduling, ToolError, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(60)


async def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def registry_with_calls(log: list[str]) -> ToolRegistry:
    """A lights-like tool, a calendar-like tool, a slow one with progress, a blocking one."""

    @tool(scheduling=Scheduling.SILENT)
    async def set_light(
        name: Annotated[str, Field(description="The light's name")],
        brightness: Annotated[int, Field(ge=0, le=100, description="0 to 100")] = 100,
    ) -> Result:
        """Set one light's brightness."""
        log.append(f"set_light {name} {brightness}")
        if name == "garage":
            # Failures must be heard at once, whatever the default says.
            return Result({"error": "the garage light is unreachable"}, Scheduling.INTERRUPT)
        return Result({"name": name, "brightness": brightness})

    @tool(scheduling=Scheduling.WHEN_IDLE)
    async def next_event() -> dict:
        """Say what the next calendar event is."""
        log.append("next_event")
        return {"title": "Dentist", "start": "2026-11-23T15:00:00+01:00"}

    @tool(scheduling=Scheduling.WHEN_IDLE, timeout=20)
    async def slow_report(ctx: CallContext, steps: int = 2) -> dict:
        """A long job that reports progress."""
        try:
            for i in range(steps):
                await asyncio.sleep(0.2)
                await ctx.progress({"done": i + 1, "of": steps})
            await asyncio.sleep(0.2)
            log.append(f"slow_report finished {ctx.call_id}")
            return {"report": "ready"}
        except asyncio.CancelledError:
            log.append(f"slow_report cancelled {ctx.call_id}")
            raise

    @tool(behavior=Behavior.BLOCKING)
    async def add(a: int, b: int) -> int:
        """Add two numbers."""
        if a < 0:
            raise ToolError("negative numbers are not allowed")
        return a + b

    return ToolRegistry([set_light, next_event, slow_report, add])


async def test_first_setup_declares_behaviour_compression_resumption(tmp_path, monkeypatch):
    async with (
        running_emulator(tmp_path, script=None) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls([])),
    ):
        await wait_until(lambda: emu.setups, what="first setup")
        setup = emu.setups[0]
    decls = {d["name"]: d for t in setup["tools"] for d in t.get("functionDeclarations", [])}
    assert decls["set_light"]["behavior"] == "NON_BLOCKING"
    assert decls["next_event"]["behavior"] == "NON_BLOCKING"
    assert decls["add"]["behavior"] == "BLOCKING"
    bright = decls["set_light"]["parameters"]["properties"]["brightness"]
    assert (bright["minimum"], bright["maximum"]) == (0, 100)
    assert "slidingWindow" in setup["contextWindowCompression"]
    assert "sessionResumption" in setup
    assert (
        setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"]
        == "Charon"
    )
    assert len(emu.connections) == 1  # no reconnect was needed to add behaviours


async def test_scheduling_modes_and_progress_on_the_wire(tmp_path, monkeypatch, speech_pcm):
    log: list[str] = []
    ids: dict[str, str] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        ids["ok"] = await s.call_tool("set_light", {"name": "kitchen", "brightness": 40})
        ids["fail"] = await s.call_tool("set_light", {"name": "garage"})
        ids["idle"] = await s.call_tool("next_event", {})
        ids["slow"] = await s.call_tool("slow_report", {"steps": 2})
        ids["block"] = await s.call_tool("add", {"a": 2, "b": 3})
        for call_id in ids.values():
            await s.tool_response(call_id)
        await s.say("All done.")

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls(log)) as h,
    ):
        await h.feed(speech_pcm("turn on the kitchen lights"), realtime=False)
        await h.feed(silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: len(session.turns) == 1, timeout=15)

    by_id: dict[str, list] = {}
    for r in session.function_responses:
        by_id.setdefault(r.id, []).append(r)
    assert [r.scheduling for r in by_id[ids["ok"]]] == ["SILENT"]
    assert by_id[ids["ok"]][0].response["brightness"] == 40
    assert [r.scheduling for r in by_id[ids["fail"]]] == ["INTERRUPT"]
    assert "unreachable" in by_id[ids["fail"]][0].response["error"]
    assert [r.scheduling for r in by_id[ids["idle"]]] == ["WHEN_IDLE"]
    slow = by_id[ids["slow"]]
    assert [r.will_continue for r in slow] == [True, True, False]
    assert [r.scheduling for r in slow] == ["SILENT", "SILENT", "WHEN_IDLE"]
    assert slow[0].response["done"] == 1 and slow[-1].response["report"] == "ready"
    blocking = by_id[ids["block"]]
    assert len(blocking) == 1 and blocking[0].scheduling is None
    assert blocking[0].response == {"result": 5}


async def test_server_cancellation_stops_exactly_those_calls(tmp_path, monkeypatch, speech_pcm):
    log: list[str] = []
    ids: dict[str, str] = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        ids["a"], ids["b"] = await s.call_tools(
            [("slow_report", {"steps": 4}), ("slow_report", {"steps": 4})]
        )
        await s.tool_response(ids["a"], final=False)  # a is running
        await s.cancel_tool_calls([ids["a"]])
        await s.tool_response(ids["b"])
        await asyncio.sleep(1.5)  # long enough for a's handler to have finished
        await s.say("Okay.")

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls(log)) as h,
    ):
        await h.feed(speech_pcm("make two reports"), realtime=False)
        await h.feed(silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: len(session.turns) == 1, timeout=15)

    assert f"slow_report cancelled {ids['a']}" in log
    assert f"slow_report finished {ids['a']}" not in log
    assert f"slow_report finished {ids['b']}" in log
    a_responses = [r for r in session.function_responses if r.id == ids["a"]]
    assert all(r.will_continue for r in a_responses), "no final result for a cancelled call"
    b_final = [r for r in session.function_responses if r.id == ids["b"] and r.final]
    assert len(b_final) == 1


async def test_repeated_call_id_runs_once_and_bad_calls_get_errors(
    tmp_path, monkeypatch, speech_pcm
):
    log: list[str] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.call_tool("set_light", {"name": "desk"}, id="call-1")
        await s.tool_response("call-1")
        await s.call_tool("set_light", {"name": "desk"}, id="call-1")  # the server repeats
        await s.call_tool("set_light", {"name": "desk", "brightness": 250}, id="call-2")
        await s.call_tool("set_light", {"colour": "red"}, id="call-3")
        await s.call_tool("launch_rocket", {}, id="call-4")
        await s.call_tool("add", {"a": -1, "b": 1}, id="call-5")
        for call_id in ("call-2", "call-3", "call-4", "call-5"):
            await s.tool_response(call_id)
        await s.say("Done.")

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls(log)) as h,
    ):
        await h.feed(speech_pcm("desk light"), realtime=False)
        await h.feed(silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: len(session.turns) == 1, timeout=15)

    assert log.count("set_light desk 100") == 1
    responses = {r.id: r for r in session.function_responses}
    assert [r.id for r in session.function_responses].count("call-1") == 1
    assert "brightness" in responses["call-2"].response["error"]
    assert "0 to 100" in responses["call-2"].response["error"]
    assert "colour" in responses["call-3"].response["error"]
    assert "launch_rocket" in str(responses["call-4"].response)
    assert "negative numbers" in responses["call-5"].response["error"]
    assert responses["call-2"].scheduling == "INTERRUPT"


async def test_go_away_moves_session_without_losing_audio_or_tool_results(
    tmp_path, monkeypatch, speech_pcm
):
    log: list[str] = []
    state: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Let me check.", seconds=0.3)  # a completed turn: a resumable handle
        call_id = await s.call_tool("slow_report", {"steps": 3})
        state["call"] = call_id
        state["old"] = await s.go_away(4.0)
        await s.tool_response(call_id)  # answered on the old socket …
        await s.say("Your report is ready.", seconds=0.3)  # … then a fresh handle
        state["new"] = await s.wait_reconnect(timeout=10, after=state["old"])
        await s.next_utterance()
        await s.say("Still here.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls(log)) as h,
    ):
        await h.feed(speech_pcm("make a report"), realtime=False)
        # Keep talking, in real time, through the whole handover.
        speaking = h.feed_in_background(
            silence(1.0) + speech_pcm("and tell me when it is done") + silence(1.2)
        )
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: len(session.turns) == 3, timeout=25)
        await speaking
        await wait_until(lambda: len(emu.caller_audio()) >= h.fed_bytes, timeout=5)

    old, new = state["old"], state["new"]
    assert old.closed_at is not None and old.closed_at <= new.opened_at, "old socket closed first"
    assert old.close_code in (1000, 1005), "closed by the bot, before the server's deadline"
    assert new.resumed_from in session.handles
    assert state["call"] in session.handles[new.resumed_from], "the resumed session knows the call"
    assert h.stage.reconnects == 1
    final = [r for r in session.function_responses if r.id == state["call"] and r.final]
    assert len(final) == 1 and final[0].connection == old.index
    # Nothing the caller said was lost: every byte fed reached the emulator, in order.
    assert len(emu.caller_audio()) == h.fed_bytes
    assert [u.kind for u in session.utterances].count("audio") == 2


async def test_resume_with_handle_after_1011_mid_turn(tmp_path, monkeypatch, speech_pcm):
    state: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("First answer.", seconds=0.3)

        async def drop_mid_turn() -> None:
            await asyncio.sleep(0.4)
            state["handle"] = list(s.handles)[-1]  # the newest handle when the socket drops
            state["dropped"] = s.connection
            await s.close(1011, "Internal error encountered.")

        dropper = asyncio.create_task(drop_mid_turn())
        await s.say("A long answer that will be cut off.", seconds=3.0)
        await dropper
        # The bot may already be back: wait for a socket newer than the dropped one.
        state["new"] = await s.wait_reconnect(timeout=10, after=state["dropped"])
        await s.next_utterance()
        await s.say("Back again.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_stage(emu, monkeypatch, tools=registry_with_calls([])) as h,
    ):
        await h.feed(speech_pcm("hello there"), realtime=False)
        await h.feed(silence(0.2), realtime=False)
        await wait_until(lambda: emu.connections and emu.connections[0].closed_at, timeout=10)
        # The caller speaks at once: its start falls in the gap before the new socket.
        await h.feed(speech_pcm("are you still there") + silence(1.2))
        session = emu.sessions[0]
        await wait_until(lambda: len(session.turns) == 3, timeout=25)
        await wait_until(lambda: len(emu.caller_audio()) >= h.fed_bytes, timeout=5)

    assert emu.connections[0].close_code == 1011
    assert state["new"].resumed_from == state["handle"]
    assert len(emu.sessions) == 1, "resumed the same session, not a new one"
    assert len(emu.caller_audio()) == h.fed_bytes
    assert session.turns[-1].completed


async def test_barge_in_stops_bot_audio(tmp_path, monkeypatch, speech_pcm):
    state: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        state["turn"] = await s.say("A very long story " * 10, seconds=6.0)

    async with (
        running_emulator(tmp_path, script=script, stream_rate=1.0) as emu,
        running_stage(emu, monkeypatch) as h,
    ):
        await h.feed(speech_pcm("tell me a story"), realtime=False)
        await h.feed(silence(1.0))
        await wait_until(lambda: h.recorder.audio_seconds() > 0.5, timeout=10)
        await h.feed(speech_pcm("stop stop"))  # the caller talks over the bot
        await wait_until(lambda: "turn" in state, timeout=10)
        await asyncio.sleep(0.3)

    assert state["turn"].interrupted
    interruption = next(s for s in h.recorder.seen if isinstance(s.frame, InterruptionFrame))
    # At most one chunk already in flight when the interruption overtook it.
    assert h.recorder.audio_seconds(after=interruption.at) <= 0.1
    assert h.recorder.audio_seconds() < 5.0


def test_keepalive_defaults_tolerate_slow_pongs():
    options = live_http_options(live_settings())
    assert options.async_client_args["ping_timeout"] >= 30
    assert options.async_client_args["ping_interval"] <= 30


async def test_slow_pongs_do_not_drop_the_session(tmp_path, monkeypatch):
    """A pong 1.5 s late with a 4 s timeout: still one socket; with a 0.5 s timeout: dropped."""
    async with running_emulator(tmp_path, pong_delay=1.5) as emu:
        tolerant = live_settings(ping_interval=0.3, ping_timeout=4.0)
        async with running_stage(emu, monkeypatch, live=tolerant) as h:
            await wait_until(lambda: emu.connections, timeout=5)
            await asyncio.sleep(3.0)
            assert h.stage.reconnects == 0
            assert emu.connections[0].open

    async with running_emulator(tmp_path / "strict", pong_delay=1.5) as emu2:
        strict = live_settings(ping_interval=0.3, ping_timeout=0.5)
        async with running_stage(emu2, monkeypatch, live=strict) as h2:
            await wait_until(lambda: h2.stage.reconnects >= 1, timeout=8)
            assert not emu2.connections[0].open


async def test_missing_key_is_refused_without_retry_storm(tmp_path, monkeypatch):
    async with running_emulator(tmp_path, api_keys={"right-key"}) as emu:
        async with running_stage(emu, monkeypatch, live=live_settings(api_key="wrong-key")) as h:
            await wait_until(lambda: emu.connections and not emu.connections[0].open, timeout=5)
            await asyncio.sleep(1.0)
            assert emu.connections[0].close_code == 1008
            assert len(emu.connections) == 1
            assert h.stage.reconnects == 0


def _unused(_: LiveEmulator) -> None:  # keep the import for type readers
    pass


async def test_voice_vad_affective_proactive_thinking_settings_reach_the_setup(tmp_path):
    from bot.settings import Sensitivity, VadSettings

    live = live_settings(
        # The model that takes all of these (Gemini 3.8 Live refuses affective dialog and
        # a thinking config: tests/live/test_model_setups.py).
        model="models/gemini-2.5-flash-native-audio-preview-12-2025",
        voice="Kore",
        language="de-DE",
        vad=VadSettings(
            start_sensitivity=Sensitivity.LOW,
            end_sensitivity=Sensitivity.HIGH,
            prefix_padding_ms=120,
            silence_duration_ms=700,
        ),
        affective_dialog=True,
        proactive_audio=True,
        thinking_budget=256,
        compression_trigger_tokens=20000,
        api_version="v1alpha",
    )
    async with running_emulator(tmp_path) as emu, running_stage(emu, live=live):
        await wait_until(lambda: emu.setups, what="first setup")
        setup = emu.setups[0]
        path = emu.connections[0].path
    aad = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert aad == {
        "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
        "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
        "prefixPaddingMs": 120,
        "silenceDurationMs": 700,
    }
    speech = setup["generationConfig"]["speechConfig"]
    assert speech["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"
    assert speech["languageCode"] == "de-DE"
    assert setup["generationConfig"]["enableAffectiveDialog"] is True or setup.get(
        "enableAffectiveDialog"
    )
    assert setup["proactivity"] == {"proactiveAudio": True}
    assert setup["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 256
    assert setup["contextWindowCompression"]["triggerTokens"] in (20000, "20000")
    assert ".v1alpha." in path


async def test_the_caller_keeps_hearing_the_bot_while_a_slow_tool_runs(tmp_path, speech_pcm):
    """NON_BLOCKING: the model talks on while the tool works; nothing in the stage waits."""
    log: list[str] = []
    marks: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        call_id = await s.call_tool("slow_report", {"steps": 6})  # ~1.4 s of work
        marks["called"] = asyncio.get_running_loop().time()
        await s.say("Let me put that report together for you.", seconds=1.0)
        response = await s.tool_response(call_id)
        marks["answered"] = response.t
        await s.say("Here it is.", seconds=0.3)

    async with (
        running_emulator(tmp_path, script=script, stream_rate=1.0) as emu,
        running_stage(emu, tools=registry_with_calls(log)) as h,
    ):
        await h.feed(speech_pcm("make me a report") + silence(1.0), realtime=False)
        session = await emu.wait_for(lambda: emu.sessions and emu.sessions[0], timeout=5)
        await wait_until(lambda: len(session.turns) == 2, timeout=20)
        running = [
            s
            for s in h.recorder.seen
            if s.frame.__class__.__name__ == "TTSAudioRawFrame"
            and marks["called"] <= s.at < marks["answered"]
        ]
    assert sum(len(s.frame.audio) for s in running) / 2 / 24000 > 0.5, "audio during the tool"
    assert any(x.startswith("slow_report finished") for x in log)
