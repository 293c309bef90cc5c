"""Google unreachable: the Live endpoint accepts TCP and drops it at once (a broken path,
a middlebox, an outage). The bot tries a bounded number of times with backoff, tells
the caller, and keeps serving; no retry storm."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest

from bot.settings import LiveSettings
from caller import Caller
from gemini_emulator.testing import running_emulator
from testkit.bot import running_bot
from tests.faults.helpers import record

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def unreachable_google(tmp_path) -> AsyncIterator[tuple[SimpleNamespace, list[float]]]:
    """A Live endpoint that resets every connection; yields it and the attempt times."""
    attempts: list[float] = []

    async def drop(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(time.monotonic())
        writer.transport.abort()  # RST: no TLS, no WebSocket, nothing

    blackhole = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = blackhole.sockets[0].getsockname()[1]
    try:
        async with running_emulator(tmp_path) as emu:  # only for its CA bundle
            yield (
                SimpleNamespace(base_url=f"https://127.0.0.1:{port}", ca_file=emu.ca_file),
                attempts,
            )
    finally:
        blackhole.close()
        await blackhole.wait_closed()


def is_error_notice(m: object) -> bool:
    data = m.get("data") if isinstance(m, dict) and m.get("type") == "server-message" else None
    return isinstance(data, dict) and data.get("type") == "notice" and data.get("level") == "error"


async def test_google_unreachable_tells_the_caller_with_bounded_retries(tmp_path):
    async with (
        unreachable_google(tmp_path) as (google, attempts),
        running_bot(google, tmp_path, live=LiveSettings(api_key="k", greeting=None)) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
        Caller(bot.link()) as caller,
    ):
        started = time.monotonic()
        await caller.connect(timeout=15)
        notice = await caller.wait_for_message(is_error_notice, timeout=60)
        told_after = time.monotonic() - started
        tries = len(attempts)
        await asyncio.sleep(5)
        assert len(attempts) == tries, "no more attempts once the caller was told"
        assert 1 <= tries <= 10, tries
        assert "Gemini" in notice["data"]["text"]
        assert (await http.get("/healthz")).status_code == 200
        lingering = list(bot.calls.calls)
    record(
        "google_unreachable",
        connection_attempts=tries,
        attempt_spacing_s=[round(b - a, 2) for a, b in itertools.pairwise(attempts)],
        caller_notice=notice["data"]["text"],
        caller_told_after_s=round(told_after, 1),
        call_still_up_5s_after_notice=bool(lingering),
    )


async def test_a_call_whose_live_session_is_given_up_ends(tmp_path):
    async with (
        unreachable_google(tmp_path) as (google, _attempts),
        running_bot(google, tmp_path, live=LiveSettings(api_key="k", greeting=None)) as bot,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.wait_for_message(is_error_notice, timeout=60)
        async with asyncio.timeout(15):
            while bot.calls.calls:
                await asyncio.sleep(0.1)
