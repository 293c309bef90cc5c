"""One bot server in its own process, so the benchmark can read its CPU time and RSS.

    python -m bench.serve livebot|livebot-video|anchor --data-dir DIR [--log-level INFO]

The Live endpoint comes from the environment (`GOOGLE_GEMINI_BASE_URL`, `SSL_CERT_FILE`,
as `gemini_emulator.client_env()` gives them). Prints one line
`READY {"url": ..., "link": ...}` once listening (`link`: where a caller dials: a signed
room link for livebot, the base URL for the anchor), then serves until stdin closes or
SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import uvicorn
from loguru import logger

from bot.logs import setup_logging
from testkit.bot import TEST_SECRET, free_port
from tools.api import Behavior, tool
from tools.toolset import Toolset

BENCH_ROOM = "bench"


def bench_toolset() -> Toolset:
    """One tool that answers at once: what the tool-overhead figure measures."""

    @tool(behavior=Behavior.BLOCKING, timeout=5)
    async def bench_ping() -> dict:
        """Answers at once (benchmark)."""
        return {"ok": True}

    return Toolset(name="bench", tools=[bench_ping], description="benchmark")


def livebot_app(data_dir: Path, port: int, video: bool = False):
    from dataclasses import replace

    from bot import links
    from bot.http.app import create_app
    from bot.rooms import Room, RoomStore
    from bot.settings import LiveSettings, Settings

    settings = replace(
        Settings(
            live=LiveSettings(api_key="bench-key"),
            port=port,
            data_dir=data_dir,
            secret=TEST_SECRET,
        ),
        join_rate_per_minute=6000.0,
        join_burst=1000,
        env={"LIVE_VIDEO": "camera"} if video else {},  # livebot-video: callers show a camera
    )
    rooms = RoomStore(data_dir / "rooms.json")
    rooms.put(Room(name=BENCH_ROOM, max_callers=50))
    secret = settings.link_secret()
    app = create_app(settings, secret=secret, rooms=rooms, toolsets=[bench_toolset()])
    base = f"http://127.0.0.1:{port}"
    return app, base, links.room_url(base, secret, BENCH_ROOM, 24 * 3600)


def anchor_app(port: int):
    from bench.anchor import create_anchor_app

    base = f"http://127.0.0.1:{port}"
    return create_anchor_app("bench-key"), base, base


async def watch_loop_lag(path: Path, tick: float = 0.01) -> None:
    """Every second, append `monotonic_time max_lag_ms` of this process's event loop:
    how late a 10 ms sleep woke up (a loop that is late is late for every call)."""
    loop = asyncio.get_running_loop()
    with path.open("w", buffering=1) as out:
        while True:
            worst, end = 0.0, loop.time() + 1.0
            while loop.time() < end:
                t = loop.time()
                await asyncio.sleep(tick)
                worst = max(worst, loop.time() - t - tick)
            out.write(f"{loop.time():.3f} {worst * 1000:.1f}\n")


async def serve(kind: str, data_dir: Path) -> None:
    port = free_port()
    if kind == "anchor":
        app, base, link = anchor_app(port)
    else:
        app, base, link = livebot_app(data_dir, port, video=kind == "livebot-video")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag)
        await asyncio.sleep(0.05)
    lag_task = asyncio.create_task(watch_loop_lag(data_dir / "loop-lag.txt"))
    print("READY " + json.dumps({"url": base, "link": link}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.set())
    await stop.wait()
    lag_task.cancel()
    server.should_exit = True
    try:
        await asyncio.wait_for(task, 15)
    except TimeoutError:
        logger.warning("server did not stop in 15 s")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.serve")
    p.add_argument("kind", choices=["livebot", "livebot-video", "anchor"])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args()
    setup_logging(args.log_level)
    if os.environ.get("PYTHONASYNCIODEBUG"):  # slow callbacks are logged (diagnosis only)
        import logging

        logging.basicConfig(level=logging.WARNING)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.kind, args.data_dir))


if __name__ == "__main__":
    main()
