"""``python -m gemini_emulator`` runs standalone and echoes text turns."""

from __future__ import annotations

import asyncio
import sys

import pytest
from google import genai
from google.genai import types

from .helpers import MODEL, collecting


async def test_standalone_echo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gemini_emulator",
        "--port",
        "0",
        "--script",
        "echo",
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        env: dict[str, str] = {}
        async with asyncio.timeout(20):
            while "SSL_CERT_FILE" not in env:
                line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
                assert line, "emulator exited early"
                key, _, value = line.strip().partition("=")
                env[key] = value
        assert env["GOOGLE_GEMINI_BASE_URL"].startswith("https://127.0.0.1:")
        for k in ("GOOGLE_GEMINI_BASE_URL", "SSL_CERT_FILE"):
            monkeypatch.setenv(k, env[k])
        client = genai.Client(api_key="any")
        async with (
            client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig()) as session,
            collecting(session) as rx,
        ):
            await session.send_realtime_input(text="ping")
            await rx.wait(lambda: rx.turn_completes(), timeout=10)
            assert rx.output_text() == "You said: ping"
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
