"""Caller audio -> VAD -> echo; text input; barge-in."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from google import genai
from google.genai import types

from gemini_emulator import LiveEmulator, LiveSession, silent
from gemini_emulator.vad import EnergyVad, VadConfig

from .helpers import MODEL, collecting, send_pcm, silence

AUDIO_CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    input_audio_transcription=types.AudioTranscriptionConfig(),
    output_audio_transcription=types.AudioTranscriptionConfig(),
)


def speech_extent(pcm: bytes) -> float:
    """Seconds between the first and last sample above -40 dBFS."""
    a = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.flatnonzero(a > 330)
    return (loud[-1] - loud[0]) / 16000 if loud.size else 0.0


def opus_round_trip(pcm: bytes, *, noise_rms: float = 60.0, seed: int = 1) -> bytes:
    """Encode/decode through Opus (as WebRTC would) and add a little noise."""
    import av  # aiortc depends on it

    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "mono", "s16", 32000
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout, dec.format = 48000, "mono", "s16"
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    back = av.AudioResampler(format="s16", layout="mono", rate=16000)
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm, dtype="<i2").reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = 16000
    out = bytearray()
    for f48 in [*resampler.resample(frame), *resampler.resample(None)]:
        for packet in enc.encode(f48):
            for d in dec.decode(packet):
                for f16 in back.resample(d):
                    out += f16.to_ndarray().astype("<i2").tobytes()
    for packet in enc.encode(None):
        for d in dec.decode(packet):
            for f16 in back.resample(d):
                out += f16.to_ndarray().astype("<i2").tobytes()
    a = np.frombuffer(bytes(out), dtype="<i2").astype(np.float64)
    a += np.random.default_rng(seed).normal(0, noise_rms, a.size)
    return np.clip(a, -32768, 32767).astype("<i2").tobytes()


async def test_espeak_speech_is_one_utterance_and_echoed(
    emulator: LiveEmulator, client: genai.Client, speech_pcm: bytes
) -> None:
    extent = speech_extent(speech_pcm)
    async with (
        client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session,
        collecting(session) as rx,
    ):
        await send_pcm(session, silence(0.5) + speech_pcm + silence(1.2))
        await rx.wait(lambda: rx.turn_completes() >= 1)
        await asyncio.sleep(0.1)
        s = emulator.session()
        assert len(s.utterances) == 1, "exactly one utterance"
        utt = s.utterances[0]
        assert utt.kind == "audio"
        assert abs(utt.duration - extent) < 0.25, (utt.duration, extent)
        reply = rx.model_audio()
        # echoed at 24 kHz: 1.5x the bytes of the 16 kHz utterance
        assert abs(len(reply) / 2 / 24000 - utt.duration) < 0.05
        assert rx.input_text() == f"(you spoke for {utt.duration:.1f} s)"
        assert rx.output_text().strip() == f"You spoke for {utt.duration:.1f} seconds."
        contents = rx.contents()
        assert any(c.generation_complete for c in contents)
        last = next(m for m in rx.messages if m.server_content and m.server_content.turn_complete)
        usage = last.usage_metadata
        assert usage is not None and usage.response_token_count and usage.total_token_count
        assert usage.response_tokens_details[0].modality == types.MediaModality.AUDIO
        assert rx.turn_completes() == 1
    assert len(emulator.caller_audio()) == len(silence(0.5) + speech_pcm + silence(1.2))
    assert emulator.connections[0].audio_bytes == len(emulator.caller_audio())
    assert {r.sub for r in emulator.received_of("realtimeInput")} == {"audio"}


async def test_opus_coded_noisy_speech_is_one_utterance(speech_pcm: bytes) -> None:
    noisy = opus_round_trip(silence(0.6) + speech_pcm + silence(0.3), noise_rms=80)
    vad = EnergyVad(VadConfig())
    events = vad.feed(noisy + opus_round_trip(silence(1.0), noise_rms=80, seed=2))
    kinds = [e.kind for e in events]
    assert kinds == ["start", "end"], kinds
    assert abs(len(events[1].pcm) / 32000 - speech_extent(speech_pcm)) < 0.3


async def test_silence_and_noise_make_no_utterance() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 150, 16000 * 3).astype("<i2").tobytes()
    assert EnergyVad().feed(noise) == []


async def test_audio_stream_end_flushes_pending_utterance(
    emulator: LiveEmulator, client: genai.Client, speech_pcm: bytes
) -> None:
    async with (
        client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session,
        collecting(session) as rx,
    ):
        await send_pcm(session, silence(0.3) + speech_pcm)
        await session.send_realtime_input(audio_stream_end=True)
        s = emulator.session()
        await emulator.wait_for(lambda: s.utterances)
        await rx.wait(lambda: rx.turn_completes())
    assert s.utterances[0].kind == "audio" and s.utterances[0].duration > 1.0
    assert emulator.received_of("realtimeInput", "audioStreamEnd")


async def test_legacy_media_chunks_with_urlsafe_base64(
    emulator: LiveEmulator, client: genai.Client, speech_pcm: bytes
) -> None:
    # the deprecated send(input=Blob) path sends realtimeInput.mediaChunks
    pcm = silence(0.3) + speech_pcm + silence(1.0)
    async with (
        client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session,
        collecting(session) as rx,
    ):
        step = 640
        with pytest.warns(DeprecationWarning):
            for i in range(0, len(pcm), step):
                await session.send(
                    input=types.LiveClientRealtimeInput(
                        media_chunks=[
                            types.Blob(data=pcm[i : i + step], mime_type="audio/pcm;rate=16000")
                        ]
                    )
                )
        await rx.wait(lambda: rx.turn_completes())  # drain before closing
    assert emulator.caller_audio() == pcm
    assert len(emulator.session().utterances) == 1
    assert emulator.received_of("realtimeInput", "mediaChunks")


async def test_manual_activity_detection(make_emulator, speech_pcm: bytes) -> None:  # type: ignore[no-untyped-def]
    async with make_emulator(script=silent) as emu:
        client = genai.Client(api_key="k")
        config = types.LiveConnectConfig(
            realtime_input_config=types.RealtimeInputConfig(
                automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
            )
        )
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await send_pcm(session, speech_pcm)  # outside an activity: ignored
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await send_pcm(session, silence(0.4))
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            s = emu.session()
            await emu.wait_for(lambda: s.utterances)
        assert [u.kind for u in s.utterances] == ["audio"]
        assert s.utterances[0].duration == pytest.approx(0.4, abs=0.01)


async def test_without_automatic_detection_only_the_window_is_a_turn(  # type: ignore[no-untyped-def]
    make_emulator, speech_pcm: bytes
) -> None:
    async with make_emulator(script=silent) as emu:
        client = genai.Client(api_key="k")
        config = types.LiveConnectConfig(
            realtime_input_config=types.RealtimeInputConfig(
                automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
            )
        )
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_realtime_input(text="typed outside a window")
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await send_pcm(session, speech_pcm)
            await session.send_realtime_input(audio_stream_end=True)  # only for automatic
            await send_pcm(session, silence(0.2))
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await session.send_realtime_input(text="typed in a window")
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            s = emu.session()
            await emu.wait_for(lambda: len(s.utterances) >= 2)
            await asyncio.sleep(0.1)
            assert emu.connections[0].open, "audioStreamEnd is not an error"
        spoken = len(speech_pcm) / 2 / 16000
        assert [u.kind for u in s.utterances] == ["audio", "text"]
        # audioStreamEnd did not end the window: the speech and the silence after it.
        assert s.utterances[0].duration == pytest.approx(spoken + 0.2, abs=0.01)
        assert s.utterances[1].text == "typed in a window"


async def test_activity_start_with_automatic_vad_is_1007(
    emulator: LiveEmulator, client: genai.Client
) -> None:
    async with client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        async with collecting(session) as rx:
            err = await rx.wait_error()
    assert getattr(err, "code", None) == 1007


async def test_text_input_is_answered(emulator: LiveEmulator, client: genai.Client) -> None:
    async with (
        client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session,
        collecting(session) as rx,
    ):
        await session.send_realtime_input(text="hello there")
        await rx.wait(lambda: rx.turn_completes() >= 1)
        assert rx.output_text() == "You said: hello there"
        assert len(rx.model_audio()) > 24000  # > 0.5 s of generated audio
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="second")])
        )
        await rx.wait(lambda: rx.turn_completes() >= 2)
    s = emulator.session()
    assert [(u.kind, u.text) for u in s.utterances] == [
        ("text", "hello there"),
        ("client_content", "second"),
    ]


async def test_barge_in_interrupts_the_model(make_emulator, speech_pcm: bytes) -> None:  # type: ignore[no-untyped-def]
    async def talk(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("This is a long answer " * 5, seconds=3.0)

    async with make_emulator(script=talk, stream_rate=1.0, wait_for_playback=True) as emu:
        client = genai.Client(api_key="k")
        async with (
            client.aio.live.connect(model=MODEL, config=AUDIO_CONFIG) as session,
            collecting(session) as rx,
        ):
            await session.send_realtime_input(text="talk to me")
            await rx.wait(lambda: rx.model_audio())
            await asyncio.sleep(0.3)
            await send_pcm(session, speech_pcm + silence(1.0))
            await rx.wait(lambda: any(c.interrupted for c in rx.contents()))
            await rx.wait(lambda: rx.turn_completes() >= 1)
            contents = rx.contents()
            i_int = next(i for i, c in enumerate(contents) if c.interrupted)
            i_done = next(i for i, c in enumerate(contents) if c.turn_complete)
            assert i_int < i_done
            assert not any(c.generation_complete for c in contents)
            # no model audio after the interruption
            assert not any(c.model_turn for c in contents[i_int:])
            s = emu.session()
            await emu.wait_for(lambda: s.turns and len(s.utterances) == 2)
        assert s.turns[0].interrupted and not s.turns[0].completed
        assert s.turns[0].audio_seconds < 3.0
        assert s.utterances[1].barge_in
