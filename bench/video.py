"""`python -m bench.video`: the bot's event-loop lag and CPU, audio only vs camera on.

The bot and the emulator run in this process; the caller (a 1280x720, 30 fps camera
whose picture changes every frame, so no sampled frame is skipped as unchanged) runs
in a child process, so its VP8 encoder is not measured as the bot's. Each run: one
call, 3 s to settle, then 15 s of a 10 ms sleeper timing its own oversleep (loop lag)
and this process's CPU time. Results: printed, and in bench/results/video.md by hand.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

SECONDS = 15.0


async def caller(link: str, video: bool) -> None:
    """The child: one call until the parent ends this process."""
    from caller import Caller
    from caller.video import ColourCamera

    class Changing(ColourCamera):
        async def recv(self):  # type: ignore[no-untyped-def]
            self.rgb = ((self.frames * 37) % 256, 90, 160)
            return await super().recv()

    camera = Changing((0, 0, 0), 1280, 720) if video else None
    async with Caller(link, camera=camera) as c:
        await c.connect(timeout=20)
        await asyncio.Event().wait()


async def measure(video: bool) -> str:
    from gemini_emulator.testing import running_emulator
    from testkit.bot import running_bot

    work = Path(tempfile.mkdtemp(prefix="bench-video-"))
    env = {"env": {"LIVE_VIDEO": "camera"}} if video else {}
    async with running_emulator(work) as emu, running_bot(emu, work, **env) as bot:
        args = ["-m", "bench.video", "--caller", bot.link(), "on" if video else "off"]
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            while not bot.calls.calls:  # noqa: ASYNC110 (the registry has no event)
                await asyncio.sleep(0.05)
            await asyncio.sleep(3)
            lags: list[float] = []
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            while time.perf_counter() - t0 < SECONDS:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append((time.perf_counter() - t - 0.01) * 1000)
            r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            frames = len(emu.sessions[0].video_frames)
        finally:
            child.terminate()
            await child.wait()
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0)
    lags.sort()

    def q(p: float) -> float:
        return lags[int(p * (len(lags) - 1))]

    return (
        f"video {'on ' if video else 'off'}: loop lag p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, "
        f"max {lags[-1]:.1f} ms; bot+emulator CPU {cpu * 100:.0f} % of a core; "
        f"frames to Live {frames} in {SECONDS + 3:.0f} s"
    )


def main() -> int:
    if sys.argv[1:2] == ["--caller"]:
        asyncio.run(caller(sys.argv[2], sys.argv[3] == "on"))
        return 0
    for video in (False, True, False, True):
        print(asyncio.run(measure(video)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
