"""Run the whole bot in-process against the Live emulator, for end-to-end tests.

async with running_emulator(tmp) as emu, running_bot(emu, tmp) as bot:
    url = bot.link("lobby")          # a signed room link, as `room create` prints
    async with Caller(url) as caller: ...
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

from bot import links
from bot.call import CallOptions
from bot.envpatch import patched_env
from bot.http.app import create_app
from bot.http.calls import CallRegistry
from bot.http.connections import CallConnections
from bot.http.slowclients import UVICORN_LIMITS
from bot.rooms import Room, RoomStore
from bot.settings import LiveSettings, Settings
from gemini_emulator import LiveEmulator
from gemini_emulator.testing import client_env
from tools.toolset import Toolset

TEST_SECRET = "test-secret-" + "x" * 32


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RunningBot:
    url: str
    settings: Settings
    rooms: RoomStore
    calls: CallRegistry
    secret: bytes
    drain: Callable[[float], Awaitable[None]]
    connections: CallConnections | None = None  # Pipecat's connection map, per pc_id
    app: Any = None  # the FastAPI app (its parts on app.state)

    def link(self, room: str = "lobby", seconds: int = 3600) -> str:
        """A signed link to `room` (created with defaults if it does not exist)."""
        found = self.rooms.get(room) or self.rooms.put(Room(name=room))
        return links.room_url(self.url, self.secret, room, seconds, found.generation)


@asynccontextmanager
async def running_bot(
    emulator: LiveEmulator,
    data_dir: Path,
    *,
    toolsets: Sequence[Toolset] = (),
    options_factory: Callable[[Room], CallOptions] | None = None,
    api_key: str = "test-key",
    echo: bool = False,
    **settings_changes: Any,
) -> AsyncIterator[RunningBot]:
    """The bot's HTTP server on a free loopback port, its Live client on `emulator`."""
    port = free_port()
    settings = replace(
        Settings(
            live=LiveSettings(api_key=api_key),
            port=port,
            data_dir=data_dir,
            secret=TEST_SECRET,
            instance_address=f"127.0.0.1:{port}",  # where other instances forward to
        ),
        **settings_changes,
    )
    rooms = RoomStore(data_dir / "rooms.json")
    rooms.ensure_default()
    secret = settings.link_secret()
    app = create_app(
        settings,
        options_factory,
        secret=secret,
        rooms=rooms,
        toolsets=toolsets,
        echo=echo,
    )
    with patched_env(client_env(emulator)):
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                **UVICORN_LIMITS,
            )
        )
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag)
                await asyncio.sleep(0.05)
        try:
            yield RunningBot(
                f"http://127.0.0.1:{port}",
                settings,
                rooms,
                app.state.calls,
                secret,
                app.state.drain,
                app.state.connections,
                app,
            )
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)
