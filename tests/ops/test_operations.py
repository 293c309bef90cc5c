"""What an operator relies on: health, readiness, metrics, TURN credentials, draining."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.call import CallOptions
from bot.rooms import Room
from caller import Caller
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import free_port, running_bot
from tools.api import Scheduling, tool
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return 0.0


async def test_metrics_count_calls_and_tools(tmp_path, speech):
    @tool(scheduling=Scheduling.SILENT)
    async def set_light(name: str, on: bool) -> dict:
        """Switch a light."""
        return {"name": name, "on": on}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        ok = await s.call_tool("set_light", {"name": "desk", "on": True})
        bad = await s.call_tool("set_light", {"name": "desk", "on": "sideways"})
        await s.tool_response(ok)
        await s.tool_response(bad)
        await s.say("Done.", seconds=0.5)

    def options(room: Room) -> CallOptions:
        return CallOptions(greeting=None, tools=ToolRegistry([set_light]), room=room)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=options) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        assert (await http.get("/readyz")).json() == {"status": "ready", "calls": 0}
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            during = (await http.get("/metrics")).text
            await caller.play_wav(speech("desk light on"))
            await caller.wait_for_audio(0.3, timeout=20)
        async with asyncio.timeout(10):
            while bot.calls.calls:
                await asyncio.sleep(0.05)
        after = (await http.get("/metrics")).text
        options_metrics = (await http.get("/metrics")).headers["content-type"]

    assert options_metrics.startswith("text/plain")
    assert metric(during, "livebot_active_calls") == 1
    assert metric(after, "livebot_active_calls") == 0
    assert metric(after, "livebot_calls_total", outcome="ended") == 1
    assert metric(after, "livebot_call_duration_seconds_count") == 1
    ok = metric(
        after, "livebot_tool_calls_total", tool="set_light", outcome="done", scheduling="SILENT"
    )
    failed = metric(
        after,
        "livebot_tool_calls_total",
        tool="set_light",
        outcome="failed",
        scheduling="INTERRUPT",
    )
    assert (ok, failed) == (1, 1)
    assert metric(after, "livebot_tool_seconds_count", tool="set_light") == 2


async def test_turn_credentials_are_per_call_and_expire(tmp_path):
    secret = "turn-shared-secret-for-tests"
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(
            emu,
            tmp_path,
            turn_urls=("turn:turn.example.com:3478?transport=udp",),
            turn_secret=secret,
            turn_ttl_seconds=600,
        ) as bot,
        httpx.AsyncClient() as http,
    ):
        r = await http.post(f"{bot.url}/api/join", json={"token": bot.link().split("t=")[1]})
    joined = r.json()
    assert secret not in r.text
    (turn,) = [s for s in joined["ice_servers"] if s["urls"][0].startswith("turn:")]
    expiry, room = turn["username"].split(":")
    assert room == "lobby" and 590 <= int(expiry) - time.time() <= 610
    expected = base64.b64encode(
        hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected


async def test_draining_refuses_new_calls_tells_callers_and_ends_calls(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        app_drain = bot.drain
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            drain = asyncio.create_task(app_drain(2.0))
            await caller.wait_for_message(
                lambda m: (
                    m.get("type") == "server-message"
                    and m["data"].get("type") == "notice"
                    and "restarting" in m["data"].get("text", "")
                ),
                timeout=5,
            )
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            r = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
            assert r.status_code == 503 and r.json()["reason"] == "draining"
            assert int(r.headers["retry-after"]) > 0
            started = time.monotonic()
            await asyncio.wait_for(drain, 10)
            assert time.monotonic() - started < 5
            assert not bot.calls.calls
        metrics = (await http.get("/metrics")).text
    assert metric(metrics, "livebot_calls_total", outcome="shutdown") == 1
    assert metric(metrics, "livebot_call_refusals_total", reason="draining") == 1


async def test_sigterm_drains_then_exits_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_"))}
    env.pop("SSL_CERT_FILE", None)
    env.update(
        PORT=str(port),
        LIVEBOT_DATA_DIR=str(tmp_path / "data"),
        SHUTDOWN_GRACE_SECONDS="3",
        TOOLS="clock",
        PYTHONPATH=str(ROOT),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(30):
            while b"Tools:" not in (await proc.stdout.readline()):
                pass
        link = None
        async with httpx.AsyncClient() as http:
            home = await http.get(f"http://127.0.0.1:{port}/", follow_redirects=False)
            link = home.headers["location"].replace("localhost", "127.0.0.1")
            async with Caller(link) as caller:
                await caller.connect(timeout=15)
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                await caller.wait_for_message(
                    lambda m: (
                        m.get("type") == "server-message" and m["data"].get("type") == "notice"
                    ),
                    timeout=5,
                )
                r = await http.post(
                    f"http://127.0.0.1:{port}/api/join", json={"token": link.split("t=")[1]}
                )
                assert r.status_code == 503 and "retry-after" in r.headers
                code = await asyncio.wait_for(proc.wait(), 15)
                assert code == 0
                assert time.monotonic() - started < 3 + 5, "exited within the grace period"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_beyond_max_calls_new_callers_hear_busy(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, max_calls=1) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            r = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
            assert r.status_code == 503 and r.json()["reason"] == "busy"
            assert "busy" in r.json()["detail"] and int(r.headers["retry-after"]) > 0


async def test_a_refused_live_session_stops_admitting_new_calls(tmp_path):
    """Bad key: the caller is told, the operator sees why, new callers hear 'busy'."""
    async with (
        running_emulator(tmp_path, api_keys={"the-right-key"}) as emu,
        running_bot(emu, tmp_path, api_key="a-wrong-key") as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        async with Caller(bot.link()) as caller:
            await caller.connect(timeout=15)
            notice = await caller.wait_for_message(
                lambda m: (
                    m.get("type") == "server-message"
                    and m["data"].get("type") == "notice"
                    and m["data"].get("level") == "error"
                ),
                timeout=10,
            )
        assert "cannot reach Gemini" in notice["data"]["text"]
        r = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
        assert r.status_code == 503 and r.json()["reason"] == "busy"
        assert "voice service" in r.json()["detail"]
        assert (await http.get("/readyz")).json()["status"] == "live_unavailable"
        text = (await http.get("/metrics")).text
    assert metric(text, "livebot_live_failures_total", reason="refused") == 1
    assert len(emu.connections) == 1 and emu.connections[0].close_code == 1008
