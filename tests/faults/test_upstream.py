"""Google unreachable: the Live endpoint accepts TCP and drops it at once (a broken path,
a middlebox, an outage). The bot tries a bounded number of times with backoff, tells
the caller, and keeps serving; no retry storm. And a socket Google closes in the middle
of a call (1008 "Operation is not implemented, or supported, or enabled.") is a lost
socket, not a refusal: the call goes on, new callers are still admitted."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest

from bot.call import CallOptions
from bot.settings import LiveSettings
from caller import Caller
from gemini_emulator import LiveSession
from gemini_emulator.faults import cut_answer, is_nudge
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


def no_greeting(room: object) -> CallOptions:
    return CallOptions(greeting=None, room=room)  # type: ignore[arg-type]


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


async def test_a_mid_call_1008_is_a_lost_socket_and_new_callers_are_still_admitted(
    tmp_path, speech
):
    seen: dict = {}

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        cut_on = s.connection
        await cut_answer(s, "The answer is a long one.", seconds=3.0, heard="what is the answer")
        seen["cut_at"] = time.monotonic()
        seen["new"] = await s.wait_reconnect(timeout=15, after=cut_on)
        while not is_nudge(await s.next_utterance()):
            pass
        seen["again_at"] = time.monotonic()
        await s.say("The answer, again.", seconds=1.5)

    started = time.monotonic()
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=no_greeting) as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
        Caller(bot.link()) as caller,
    ):
        await caller.connect(timeout=15)
        await caller.play_wav(speech("what is the answer"))
        await emu.wait_for(lambda: len(emu.connections) == 2, timeout=20)
        await emu.wait_for(
            lambda: (
                emu.sessions[0].turns[-1:]
                and emu.sessions[0].turns[-1].completed
                and len(emu.sessions[0].turns) == 2
            ),
            timeout=30,
        )
        again_at = caller.first_audio_at(after=seen["again_at"])
        joined = await http.post("/api/join", json={"token": bot.link().split("t=")[1]})
        ready = (await http.get("/readyz")).json()
        text = (await http.get("/metrics")).text
        still_up = bool(bot.calls.calls)

    assert emu.connections[0].close_code == 1008
    assert seen["new"].resumed_from is not None, "resumed, not refused"
    assert joined.status_code == 200, joined.text
    assert ready["status"] != "live_unavailable"
    assert "livebot_live_failures_total{" not in text
    assert still_up, "the call went on"
    assert again_at is not None, "the caller heard the answer given again"
    record(
        "mid_call_1008",
        live_sockets=len(emu.connections),
        close_to_answer_again_heard_s=round(again_at - seen["cut_at"], 2),
        call_s=round(time.monotonic() - started, 1),
        new_caller_join_status=joined.status_code,
    )
