"""Soak: N callers talking for a while, then hanging up. Afterwards nothing is left behind
(asyncio tasks, peer connections, Live sockets) and the bot's memory stayed flat.

The bot runs in this process (so its tasks and objects can be inspected and its RSS
measured); the callers and the Live emulator run in `tests/load/soak_driver.py`, another
process. LIVEBOT_SOAK_CALLS (default 3) and LIVEBOT_SOAK_SECONDS (default 40, enough for
CI) set the size; the figures of the last run go to tests/.artifacts/reliability/.

Sizing: a call costs the bot about 0.25 of a CPU core (bench/results), all in one event
loop; on a 2-core machine 3-4 calls plus their callers is what runs in real time. More
overloads the loop and measures the overload, not the bot.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiortc import RTCPeerConnection
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from bot.rooms import Room
from bot.settings import LiveSettings
from testkit.bot import running_bot
from tests.faults.helpers import record

CALLS = int(os.environ.get("LIVEBOT_SOAK_CALLS", "3"))
SECONDS = float(os.environ.get("LIVEBOT_SOAK_SECONDS", "40"))
ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

pytestmark = pytest.mark.timeout(SECONDS + 240)


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


async def test_soak_leaves_nothing_behind_and_memory_stays_flat(tmp_path):
    driver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.load.soak_driver",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**20,
    )
    assert driver.stdin and driver.stdout
    try:
        emu = json.loads(await asyncio.wait_for(driver.stdout.readline(), 60))
        emulator = SimpleNamespace(base_url=emu["base_url"], ca_file=Path(emu["ca_file"]))
        async with running_bot(
            emulator,  # the real one is in the driver; the bot only needs its URL and CA
            tmp_path,
            live=LiveSettings(api_key="test-key", greeting=None),
            max_calls=CALLS + 2,
            join_burst=1000,
            join_rate_per_minute=6000,
        ) as bot:
            bot.rooms.put(Room(name="lobby", max_callers=50))
            await asyncio.sleep(1)
            tasks_before = set(asyncio.all_tasks())
            pcs_before = alive(RTCPeerConnection)
            samples: list[tuple[float, int]] = []

            async def sample() -> None:
                while True:
                    samples.append((time.monotonic(), rss()))
                    await asyncio.sleep(1.0)

            sampler = asyncio.create_task(sample())
            started = time.monotonic()
            links = [bot.link() for _ in range(CALLS)]
            driver.stdin.write(json.dumps({"links": links, "seconds": SECONDS}).encode() + b"\n")
            await driver.stdin.drain()
            peak_calls = 0
            line = asyncio.ensure_future(driver.stdout.readline())
            while not line.done():
                peak_calls = max(peak_calls, len(bot.calls.calls))
                await asyncio.wait({line}, timeout=0.5)
            report = json.loads(line.result())
            sampler.cancel()
            soaked = time.monotonic() - started

            # Every call ended, and took everything it had with it.
            async with asyncio.timeout(15):
                while bot.calls.calls:
                    await asyncio.sleep(0.1)
            # Let aiortc's and Pipecat's own tasks wind down (some poll on a timer):
            # what is still pending after 10 s has leaked.
            leaked_tasks: list[asyncio.Task] = []
            for _ in range(100):
                leaked_tasks = [
                    t
                    for t in asyncio.all_tasks() - tasks_before
                    if t is not asyncio.current_task() and not t.done()
                ]
                if not leaked_tasks:
                    break
                await asyncio.sleep(0.1)
            pcs_after = alive(RTCPeerConnection)
            connections_after = alive(SmallWebRTCConnection)
    finally:
        driver.stdin.close()
        try:
            await asyncio.wait_for(driver.wait(), 20)
        except TimeoutError:
            driver.kill()

    callers = report["callers"]
    live = report["emulator"]
    # Memory over the soak (calls up): the last third against the first.
    window = [r for t, r in samples]
    third = max(1, len(window) // 3)
    first, last = statistics.mean(window[:third]), statistics.mean(window[-third:])
    figures = record(
        f"soak_{CALLS}calls_{SECONDS:.0f}s",
        calls=CALLS,
        seconds=SECONDS,
        soaked_s=round(soaked, 1),
        peak_calls=peak_calls,
        phrases_said=sum(c["said"] for c in callers),
        echoes_heard=sum(c["heard"] for c in callers),
        echo_p50_s=[c["echo_p50_s"] for c in callers],
        echo_max_s=[c["echo_max_s"] for c in callers],
        caller_errors=[c["error"] for c in callers if c["error"]],
        live=live,
        leaked_tasks=[repr(t)[:200] for t in leaked_tasks],
        peer_connections_before_after=[pcs_before, pcs_after],
        smallwebrtc_connections_after=connections_after,
        rss_mib_first_third=round(first / MIB, 1),
        rss_mib_last_third=round(last / MIB, 1),
        rss_mib_min_max=[round(min(window) / MIB, 1), round(max(window) / MIB, 1)],
        rss_samples=len(window),
    )
    assert not figures["caller_errors"], figures["caller_errors"]
    assert peak_calls == CALLS
    assert all(c["state_at_end"] == "connected" for c in callers), callers
    # Speech went both ways the whole time (a few echoes may be lost to timing).
    assert all(c["said"] >= 3 for c in callers) and all(
        c["heard"] >= 0.8 * c["said"] for c in callers
    ), callers
    assert live["sessions"] == CALLS and live["sockets"] == CALLS, live  # no reconnects
    assert live["sockets_open"] == 0, live
    assert leaked_tasks == [], figures["leaked_tasks"]
    assert pcs_after == pcs_before == 0 and connections_after == 0
    # Flat: generous, since Python rarely gives memory back and allocators warm up.
    assert last - first < max(40 * MIB, 0.25 * first), (first / MIB, last / MIB)
