"""Several real bot instances (`python -m bot serve`, each its own data directory: its own
host) sharing one redis-server, behind the project's caddy (deploy/caddy/Caddyfile,
round-robin, so consecutive requests of one caller land on different instances), their
Live endpoint the emulator.

Changed from production only where one test machine needs it, and said so here: plain
HTTP on a free loopback port (`DOMAIN=http://127.0.0.1`; TLS is not what is tested),
development mode, short leases and grace periods, a join rate no test reaches.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot import links
from bot.rooms import Room, RoomStore
from gemini_emulator import running_emulator
from gemini_emulator.testing import client_env
from testkit.bot import TEST_SECRET, free_port
from testkit.redis_server import redis_server
from tests.stack.stack import ROOT, Service, service, wait_until

ROOMS = (
    Room(name="lobby", generation="g-lobby"),
    Room(name="den", max_callers=2, generation="g-den"),
)


@dataclass
class Many:
    url: str  # caddy, the one name callers open
    bots: list[Service]
    ports: list[int]
    http: httpx.AsyncClient

    def link(self, room: str, bot: int | None = None) -> str:
        """A room link on caddy (or straight to one instance)."""
        base = self.url if bot is None else self.bot_url(bot)
        generation = next(r.generation for r in ROOMS if r.name == room)
        return links.room_url(base, TEST_SECRET.encode(), room, 3600, generation)

    def bot_url(self, bot: int) -> str:
        return f"http://127.0.0.1:{self.ports[bot]}"

    async def calls(self, bot: int) -> int:
        """The calls an instance holds, as its /readyz says (also while it drains)."""
        return (await self.http.get(self.bot_url(bot) + "/readyz")).json()["calls"]

    async def readiness(self, bot: int) -> str:
        return (await self.http.get(self.bot_url(bot) + "/readyz")).json()["status"]

    async def caddy_skips_unready(self, checks: int = 6) -> bool:
        """True once `checks` readiness checks in a row through caddy are all answered
        ready: its health check has taken the unready instances out of rotation."""
        for _ in range(checks):
            if (await self.http.get(self.url + "/readyz")).status_code != 200:
                return False
        return True

    def term(self, bot: int) -> None:
        self.bots[bot].proc.send_signal(signal.SIGTERM)

    def kill(self, bot: int) -> None:
        self.bots[bot].proc.send_signal(signal.SIGKILL)


@asynccontextmanager
async def many_instances(tmp_path: Path, count: int, **settings: str) -> AsyncIterator[Many]:
    """`count` bot instances + redis-server + caddy; `settings`: more bot environment."""
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    logs = tmp_path / "logs"
    ports = [free_port() for _ in range(count)]
    async with AsyncExitStack() as stack:  # stopped in reverse: caddy, bots, emulator, redis
        redis_url = stack.enter_context(redis_server(tmp_path))
        emu = await stack.enter_async_context(running_emulator(tmp_path))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        bots = []
        for n, port in enumerate(ports):
            data = tmp_path / f"bot{n}"
            store = RoomStore(data / "rooms.json")  # the same rooms on every host
            for room in ROOMS:
                store.put(room)
            env = {
                **base,
                **client_env(emu),
                "PYTHONPATH": str(ROOT),
                "GOOGLE_API_KEY": "test-key",
                "LIVEBOT_SECRET": TEST_SECRET,
                "LIVEBOT_DATA_DIR": str(data),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "TOOLS": "",
                "REDIS_URL": redis_url,
                "LIVEBOT_INSTANCE_ID": f"bot{n}",
                "LIVEBOT_INSTANCE_ADDRESS": f"127.0.0.1:{port}",
                # Short, for the kill test; not shorter: on a loaded machine (2 cores
                # shared) a call's start can hold an instance's loop past a heartbeat.
                "SHARED_LEASE_SECONDS": "4",
                "SHUTDOWN_GRACE_SECONDS": "30",
                "JOIN_RATE_PER_MINUTE": "6000",
                "JOIN_BURST": "1000",
                **settings,
            }
            args = [sys.executable, "-m", "bot", "serve"]
            bots.append(stack.enter_context(service(f"bot{n}", args, env, tmp_path, logs)))
        for n in range(count):
            await wait_until(
                lambda n=n: _status(http, f"http://127.0.0.1:{ports[n]}/readyz", 200),
                f"bot{n} ready",
                90,
                bots,
            )
        caddy_port = free_port()
        caddy_env = {
            **base,
            "DOMAIN": "http://127.0.0.1",
            "HTTP_PORT": str(caddy_port),
            "HTTPS_PORT": str(free_port()),
            "CADDY_BIND": "127.0.0.1",
            "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
            "BOT_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in ports),
            "BOT_LB_POLICY": "round_robin",
            "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
            "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        }
        caddy_args = ["caddy", "run", "--config", str(ROOT / "deploy/caddy/Caddyfile")]
        caddy = stack.enter_context(service("caddy", caddy_args, caddy_env, tmp_path, logs))
        url = f"http://127.0.0.1:{caddy_port}"
        await wait_until(lambda: _status(http, url + "/readyz", 200), "caddy", 30, [*bots, caddy])
        yield Many(url, bots, ports, http)


async def _status(http: httpx.AsyncClient, url: str, status: int) -> bool:
    try:
        return (await http.get(url)).status_code == status
    except httpx.TransportError:
        return False


async def frames_grow(caller, frames: int, timeout: float = 15) -> None:
    """Wait until `caller` has heard `frames` more 20 ms frames of the bot."""
    start = len(caller.received_frames)
    async with asyncio.timeout(timeout):
        while len(caller.received_frames) < start + frames:
            await asyncio.sleep(0.05)
