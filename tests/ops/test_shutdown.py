"""SIGTERM always ends a real `python -m bot serve` within SHUTDOWN_GRACE_SECONDS plus a
bounded margin, whatever state its calls, peer connections and HTTP clients are in, and a
second SIGTERM exits at once.

Before: a request whose body never finished (or, as the probe saw, a peer connection
whose close never returned) kept the process alive for ever after "shutting down: 0
call(s)", and a second SIGTERM did nothing (uvicorn forces an exit only on a second SIGINT).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.__main__ import SHUTDOWN_MARGIN_SECONDS
from bot.http.connections import CallConnections, close_connection
from caller import Caller
from testkit.bot import free_port
from tests.faults.helpers import record
from tests.signalling.test_candidates import trickle_offer

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port, self.lines = proc, port, []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, words: str) -> list[str]:
        return [line for line in self.lines if words in line]

    async def exit_seconds(self, limit: float) -> float:
        """Seconds until the process exits (a hang detector at `limit`, not a timing check)."""
        started = time.monotonic()
        await asyncio.wait_for(self.proc.wait(), limit)
        await self._reader
        return time.monotonic() - started


@asynccontextmanager
async def bot_process(tmp_path: Path, grace: float) -> AsyncIterator[BotProcess]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_"))}
    env.pop("SSL_CERT_FILE", None)
    env.update(
        PORT=str(port),
        LIVEBOT_DATA_DIR=str(tmp_path / "data"),
        SHUTDOWN_GRACE_SECONDS=str(grace),
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
    bot = BotProcess(proc, port)
    try:
        async with asyncio.timeout(30):
            while not bot.log("Tools:"):
                await asyncio.sleep(0.05)
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def lobby_link(bot: BotProcess) -> str:
    async with httpx.AsyncClient() as http:
        home = await http.get(bot.url + "/", follow_redirects=False)
    return home.headers["location"].replace("localhost", "127.0.0.1")


async def test_sigterm_ends_within_the_grace_whatever_the_connections_are_doing(tmp_path):
    grace = 3.0
    async with bot_process(tmp_path, grace) as bot:
        async with Caller(await lobby_link(bot)) as caller, httpx.AsyncClient() as http:
            await caller.connect(timeout=15)
            for _ in range(2):
                await caller.renegotiate()
            for _ in range(3):
                await caller.renegotiate(restart=True)
                await caller.renegotiate()
            # A last restart whose new connection never gets a candidate (the page's
            # trickle lost): the call now sits on a connection that never connects.
            _pc, sdp = await trickle_offer()
            r = await http.post(
                bot.url + "/api/offer",
                json={"sdp": sdp, "type": "offer", "pc_id": caller.pc_id, "restart_pc": True},
                headers={"Authorization": f"Bearer {caller.joined['ticket']}"},
            )
            assert r.status_code == 200, r.text
            await _pc.close()
            # And a client whose request body never finishes.
            _reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
            writer.write(
                b"POST /api/join HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"token":'
            )
            await writer.drain()
            await asyncio.sleep(0.3)
            bot.proc.send_signal(signal.SIGTERM)
            seconds = await bot.exit_seconds(grace + SHUTDOWN_MARGIN_SECONDS + 10)
            writer.close()
    assert bot.proc.returncode == 0, "".join(bot.lines[-20:])
    assert bot.log("shutting down: 1 call(s)")
    assert not bot.log("did not finish"), "the bounded steps ended it, not the last resort"
    record(
        "shutdown_after_restarts",
        grace_s=grace,
        margin_s=SHUTDOWN_MARGIN_SECONDS,
        exit_after_s=round(seconds, 1),
        not_closed=[line.strip()[-100:] for line in bot.log("did not")],
    )


async def test_a_second_sigterm_exits_at_once(tmp_path):
    grace = 60.0
    async with bot_process(tmp_path, grace) as bot:
        async with Caller(await lobby_link(bot)) as caller:
            await caller.connect(timeout=15)
            bot.proc.send_signal(signal.SIGTERM)
            await caller.wait_for_message(
                lambda m: m.get("type") == "server-message" and m["data"].get("type") == "notice",
                timeout=10,
            )
            bot.proc.send_signal(signal.SIGTERM)
            seconds = await bot.exit_seconds(10)
    assert bot.proc.returncode == 1
    assert bot.log("again: exiting now")
    record("second_sigterm", grace_s=grace, exit_after_second_signal_s=round(seconds, 2))


class StuckConnection:
    """A connection whose close never returns (what aiortc does when an earlier close of
    the same peer connection was interrupted: it waits on that close's future for ever)."""

    def __init__(self, pc_id: str) -> None:
        self.pc_id = pc_id

    async def disconnect(self) -> None:
        await asyncio.Event().wait()


class ClosingConnection(StuckConnection):
    closed = False

    async def disconnect(self) -> None:
        self.closed = True


async def test_every_close_is_bounded_and_what_did_not_close_is_logged():
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        started = time.monotonic()
        assert await close_connection(StuckConnection("stuck-0"), timeout=0.2) is False
        one = time.monotonic() - started
        handler = CallConnections()
        fine = ClosingConnection("fine")
        connections = [StuckConnection(f"stuck-{n}") for n in range(1, 4)] + [fine]
        for c in connections:
            handler._pcs_map[c.pc_id] = c
        handler._pcs_map["old-key-of-fine"] = fine  # a stale key: closed once, not twice
        started = time.monotonic()
        await handler.close(timeout=0.2)
        all_at_once = time.monotonic() - started
    finally:
        logger.remove(sink)
    assert fine.closed and handler.pc_ids == []
    assert sorted(line.split()[2] for line in lines) == [f"stuck-{n}" for n in range(4)]
    record("bounded_close", one_stuck_s=round(one, 2), three_stuck_together_s=round(all_at_once, 2))
