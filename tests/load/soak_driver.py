"""The far side of a soak test, in its own process: the Live emulator and N callers.

The bot under test runs in the test's process, so its memory and tasks are measured
without the callers' (who keep every frame they hear) or the emulator's (which keeps
every utterance). Protocol, one JSON object per line:

    driver → test   {"base_url": …, "ca_file": …}            the emulator is up
    test → driver   {"links": [room link, …], "seconds": D}  call, talk for D seconds
    driver → test   {"callers": […], "emulator": {…}}         hung up; what happened
    test → driver   (end of input)                            stop the emulator, exit

Each caller says a phrase, waits for the bot's echo, pauses 1.5–3.5 s, and again, until
the time is up; then all hang up and the driver waits for every Live socket to close.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loguru import logger

from caller import Caller
from gemini_emulator import LiveEmulator
from tests.audio import read_wav, speech_wav

PHRASES = [
    "turn on the kitchen lights",
    "what is on my calendar tomorrow",
    "set the bedroom to fifty percent",
    "what time is it",
]


async def talk(link: str, until: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    wavs = [speech_wav(p) for p in PHRASES]
    lengths = [len(read_wav(w)[0]) / 2 / 16000 - 0.6 for w in wavs]
    said = heard = 0
    echo_s: list[float] = []
    error = None
    async with Caller(link) as caller:
        try:
            await caller.connect(timeout=30)
            while time.monotonic() < until:
                i = rng.randrange(len(wavs))
                caller.received_frames.clear()  # keep the driver's memory flat too
                start = time.monotonic()
                await caller.play_wav(wavs[i])
                said += 1
                try:
                    await caller.wait_for_audio(0.25 * lengths[i], timeout=20)
                    heard += 1
                    echo_s.append(time.monotonic() - start)
                except TimeoutError:
                    pass
                await asyncio.sleep(rng.uniform(1.5, 3.5))
            state = caller.pc.connectionState if caller.pc else None
        except Exception as e:  # reported, not raised: the test decides
            error = f"{type(e).__name__}: {e}"
            state = None
    echo_s.sort()
    return {
        "said": said,
        "heard": heard,
        "echo_p50_s": round(echo_s[len(echo_s) // 2], 2) if echo_s else None,
        "echo_max_s": round(echo_s[-1], 2) if echo_s else None,
        "state_at_end": state,
        "error": error,
    }


async def main() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    lines = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)

    def say(obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    with tempfile.TemporaryDirectory(prefix="soak-emulator-") as tmp:
        emulator = LiveEmulator(data_dir=Path(tmp), record_audio=False)
        await emulator.start()
        try:
            say({"base_url": emulator.base_url, "ca_file": str(emulator.ca_file)})
            order = json.loads(await lines.readline())
            until = time.monotonic() + float(order["seconds"])
            results = await asyncio.gather(
                *(talk(link, until, seed) for seed, link in enumerate(order["links"]))
            )
            hung_up = time.monotonic()
            async with asyncio.timeout(20):
                while any(c.open for c in emulator.connections):
                    await asyncio.sleep(0.1)
            say(
                {
                    "callers": results,
                    "emulator": {
                        "sessions": len(emulator.sessions),
                        "sockets": len(emulator.connections),
                        "sockets_open": sum(c.open for c in emulator.connections),
                        "utterances": sum(len(s.utterances) for s in emulator.sessions),
                        "all_sockets_closed_after_hangup_s": round(
                            max(
                                [0.0]
                                + [(c.closed_at or hung_up) - hung_up for c in emulator.connections]
                            ),
                            2,
                        ),
                    },
                }
            )
            await lines.read()  # until the test closes our stdin
        finally:
            await emulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
