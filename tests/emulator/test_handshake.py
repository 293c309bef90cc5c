"""Handshake, auth, setup and protocol errors."""

from __future__ import annotations

import json

import pytest
from google import genai
from google.genai import errors, types
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gemini_emulator import LiveEmulator

from .helpers import MODEL, raw_ws


async def test_setup_complete_and_recorded_setup(
    emulator: LiveEmulator, client: genai.Client
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction="You are a helpful home assistant.",
        tools=[
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name="set_lights",
                        description="Turn lights on/off",
                        behavior=types.Behavior.NON_BLOCKING,
                        parameters=types.Schema(
                            type=types.Type.OBJECT,
                            properties={"room_name": types.Schema(type=types.Type.STRING)},
                        ),
                    ),
                    types.FunctionDeclaration(name="get_calendar"),
                ]
            )
        ],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(silence_duration_ms=700)
        ),
        session_resumption=types.SessionResumptionConfig(),
        context_window_compression=types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        assert session is not None
    setup = emulator.setups[0]
    assert setup["model"] == MODEL
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["systemInstruction"]["parts"][0]["text"].startswith("You are")
    decls = {d["name"]: d for d in setup["tools"][0]["functionDeclarations"]}
    assert decls["set_lights"]["behavior"] == "NON_BLOCKING"
    assert "behavior" not in decls["get_calendar"]
    # JSON-schema property names are payload, not keys to normalise
    assert "room_name" in decls["set_lights"]["parameters"]["properties"]
    aad = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert aad["silenceDurationMs"] == 700
    assert setup["sessionResumption"] == {}
    assert "slidingWindow" in setup["contextWindowCompression"]
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    conn = emulator.connections[0]
    assert conn.api_key == "test-key" and conn.api_version == "v1beta"
    assert conn.sent[0].message == {"setupComplete": {}}
    assert emulator.received[0].kind == "setup" and emulator.received[0].session == conn.session_id


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
async def test_other_api_versions_are_served(emulator: LiveEmulator, version: str) -> None:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(api_version=version))
    async with client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()):
        pass
    assert emulator.connections[0].api_version == version


async def test_missing_key_is_closed_1008(emulator: LiveEmulator) -> None:
    async with raw_ws(emulator, key=None) as ws:
        await ws.send(json.dumps({"setup": {"model": MODEL}}))
        with pytest.raises(ConnectionClosed) as ei:
            await ws.recv()
    assert ei.value.rcvd is not None and ei.value.rcvd.code == 1008
    assert "API Key" in ei.value.rcvd.reason
    assert emulator.sessions == []


async def test_invalid_key_is_api_error_1008(make_emulator) -> None:  # type: ignore[no-untyped-def]
    async with make_emulator(api_keys={"good-key"}) as emu:
        bad = genai.Client(api_key="bad-key")
        with pytest.raises(errors.APIError) as ei:
            async with bad.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()):
                pass
        assert ei.value.code == 1008
        assert "API key not valid" in str(ei.value)
        good = genai.Client(api_key="good-key")
        async with good.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()):
            pass
        assert emu.connections[0].close_code == 1008
        assert len(emu.sessions) == 1


async def test_bad_path_is_refused_404(emulator: LiveEmulator) -> None:
    with pytest.raises(InvalidStatus) as ei:
        async with raw_ws(emulator, path="/ws/google.ai.generativelanguage.v1beta.Nope"):
            pass
    assert ei.value.response.status_code == 404
    assert emulator.connections == [] and emulator.rejected[0][1] == 404


async def test_first_message_must_be_setup(emulator: LiveEmulator) -> None:
    async with raw_ws(emulator) as ws:
        await ws.send(json.dumps({"realtimeInput": {"text": "hi"}}))
        with pytest.raises(ConnectionClosed) as ei:
            await ws.recv()
    assert ei.value.rcvd is not None and ei.value.rcvd.code == 1007
    assert "setup" in ei.value.rcvd.reason


@pytest.mark.parametrize(
    "payload",
    ["{not json", json.dumps({"bogusMessage": {}}), json.dumps([1, 2]), b"\xff\xfe not UTF-8"],
)
async def test_malformed_message_closes_1007(emulator: LiveEmulator, payload: str | bytes) -> None:
    async with raw_ws(emulator) as ws:
        await ws.send(json.dumps({"setup": {"model": MODEL}}))
        first = await ws.recv()
        assert isinstance(first, bytes), "server messages are binary frames"
        assert json.loads(first) == {"setupComplete": {}}
        await ws.send(payload)
        with pytest.raises(ConnectionClosed) as ei:
            while True:
                await ws.recv()
    assert ei.value.rcvd is not None and ei.value.rcvd.code == 1007
    assert emulator.connections[0].close_code == 1007
    assert emulator.received[-1].kind == "invalid"


async def test_malformed_json_via_sdk_is_api_error_1007(
    emulator: LiveEmulator, client: genai.Client
) -> None:
    async with client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()) as session:
        await session._ws.send("{oops")
        with pytest.raises(errors.APIError) as ei:
            async for _ in session.receive():
                pass
    assert ei.value.code == 1007
