"""The headless caller against a stand-in SmallWebRTC server that echoes audio back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from caller import Caller, CallerError
from caller.audio import DEFAULT_SILENCE_RMS, RTVI_PROTOCOL_VERSION
from caller.cli import main
from tests.audio import ARTIFACTS, free_port, read_wav, rms, silence, tone

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    """Base URL of a running echo server (a subprocess, one per test module)."""
    port = free_port()
    log = (ARTIFACTS / "logs" / f"echo-server-{port}.log").resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.caller.echo_server", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"echo server did not start; see {log}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def voiced_seconds(pcm: bytes, rate: int, threshold: float = DEFAULT_SILENCE_RMS) -> float:
    """Seconds of 20 ms frames above ``threshold``: the measure the caller uses."""
    n = rate // 50 * 2
    return sum(0.02 for i in range(0, len(pcm) - n + 1, n) if rms(pcm[i : i + n]) > threshold)


async def test_connect_opens_audio_and_data_channel(echo_url: str) -> None:
    async with Caller(echo_url, request_data={"test": "connect"}) as caller:
        await caller.connect(timeout=15)
        assert caller.pc_id
        # client-ready went out on the data channel; Pipecat's RTVI answers bot-ready.
        ready = await caller.wait_for_message("bot-ready", timeout=10)
        assert ready["label"] == "rtvi-ai"
        # The bot's track carries (silent) audio from the start.
        await caller.wait_until(lambda: len(caller.received_frames) >= 10, timeout=10)
        assert caller.received_rate == 48000
        assert caller.received_seconds() == 0.0
        times = [f.time for f in caller.received_frames]
        assert times == sorted(times)


async def test_speech_is_echoed_back(echo_url: str, speech: Callable[..., Path]) -> None:
    pcm, rate = read_wav(speech("The quick brown fox jumps over the lazy dog."))
    voiced = voiced_seconds(pcm, rate)
    assert voiced > 1.0
    async with Caller(echo_url) as caller:
        await caller.connect(timeout=15)
        await caller.play(pcm, rate)
        await caller.wait_played(timeout=30)
        assert caller.played_until is not None
        await caller.wait_for_audio(0.7 * voiced, timeout=15)
        await asyncio.sleep(1.0)  # let the tail arrive before comparing lengths
        heard = caller.received_seconds()
        assert 0.7 * voiced <= heard <= 1.3 * voiced + 0.2, (heard, voiced)
        first = caller.first_audio_at()
        assert first is not None
        assert first < caller.played_until  # echo starts while we are still talking
        out = caller.save_wav(ARTIFACTS / "caller" / "echo.wav")
        back, back_rate = read_wav(out)
        assert back_rate == 48000 and back == caller.received


async def test_queued_audio_plays_in_order(echo_url: str) -> None:
    async with Caller(echo_url) as caller:
        await caller.connect(timeout=15)
        await caller.play(tone(440, 0.5, 16000), 16000)
        await caller.play(silence(0.5, 16000), 16000)
        await caller.play(tone(660, 0.5, 24000), 24000)
        t0 = time.monotonic()
        await caller.wait_played(timeout=10)
        assert 1.3 < time.monotonic() - t0 < 5  # paced in real time, not dumped at once
        await caller.wait_for_audio(0.8, timeout=10)


async def test_malformed_offer_is_rejected(echo_url: str) -> None:
    caller = Caller(echo_url)
    for body in (
        {"type": "offer"},  # no sdp
        {"sdp": "v=0", "type": "offer"},  # no audio section
        {"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "pranswer!"},
    ):
        with pytest.raises(CallerError) as err:
            await caller._post_offer(body)
        assert err.value.status is not None and 400 <= err.value.status < 500, body
        assert err.value.detail
    await caller.close()


async def test_wrong_path_fails_cleanly(echo_url: str) -> None:
    async with Caller(echo_url, offer_path="/nope") as caller:
        with pytest.raises(CallerError) as err:
            await caller.connect(timeout=10)
        assert err.value.status == 404


def test_cli(echo_url: str, speech: Callable[..., Path], tmp_path: Path, capsys) -> None:
    wav = speech("Hello from the command line.")
    out = tmp_path / "reply.wav"
    rc = main([echo_url, "--wav", str(wav), "--out", str(out), "--seconds", "1.5"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "connected" in printed and "bot-ready" in printed
    pcm, rate = read_wav(out)
    assert rate == 48000 and voiced_seconds(pcm, rate) > 0.5


def test_rtvi_version_matches_pipecat() -> None:
    from pipecat.processors.frameworks.rtvi.models import PROTOCOL_VERSION

    assert RTVI_PROTOCOL_VERSION == PROTOCOL_VERSION
