"""The benchmark run: the Live emulator here, each bot in its own process, K callers.

See bench/__init__.py for what is measured and how.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from bench.instrument import BenchCaller
from bench.markers import FREQS, detect, marker_train
from gemini_emulator import LiveEmulator, LiveSession
from gemini_emulator.protocol import b64decode
from gemini_emulator.testing import client_env

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
UP_RATE = 48_000  # caller send rate (Opus)
EMU_IN = 16_000  # what the emulator records of the caller
EMU_OUT = 24_000  # model audio
SPACING = 0.24  # seconds between markers
TONE_RMS = 1000.0  # "audible" threshold for barge-in, int16 RMS


# --------------------------------------------------------------------------- process


class BotProcess:
    """`python -m bench.serve KIND` with the emulator's client environment."""

    def __init__(self, kind: str, emulator: LiveEmulator, data_dir: Path) -> None:
        self.kind = kind
        self.env = {**os.environ, **client_env(emulator), "PYTHONUNBUFFERED": "1"}
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.link = ""
        self.log = data_dir / f"{kind}.log"

    async def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any call)
            [sys.executable, "-m", "bench.serve", self.kind, "--data-dir", str(self.data_dir)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 60)
        if not line.startswith("READY "):
            raise RuntimeError(f"{self.kind} did not start: {line!r}; see {self.log}")
        self.link = json.loads(line[6:])["link"]

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def stop(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 20)
        except TimeoutError:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- calls


@dataclass
class Call:
    caller: BenchCaller
    session: LiveSession
    up_ms: list[float] = field(default_factory=list)
    down_ms: list[float] = field(default_factory=list)
    up_sent: int = 0
    down_sent: int = 0
    barge_ms: list[float] = field(default_factory=list)
    tool_ms: list[float] = field(default_factory=list)


async def idle_script(session: LiveSession) -> None:
    """The bench drives each session from outside (say / interrupt / call_tool)."""
    await asyncio.Event().wait()


async def dial(bot: BotProcess, emulator: LiveEmulator, seed: int) -> Call:
    before = len(emulator.sessions)
    caller = BenchCaller(
        bot.link, seed=seed, camera=bench_camera() if "video" in bot.kind else None
    )
    await caller.connect(timeout=30)
    await emulator.wait_for(lambda: len(emulator.sessions) > before, timeout=30)
    session = emulator.sessions[before]
    # the session is ready for realtime input once the bot has seeded it
    await emulator.wait_for(
        lambda: any(
            r.kind == "realtimeInput" and r.session == session.id for r in emulator.received[-400:]
        ),
        timeout=30,
    )
    return Call(caller, session)


def bench_camera() -> Any:
    """A 640x480, 30 fps camera whose picture changes every frame: none is skipped as
    unchanged, so the bot samples, scales and encodes one a second (the worst case)."""
    from caller.video import ColourCamera

    class Changing(ColourCamera):
        async def recv(self):  # type: ignore[no-untyped-def]
            self.rgb = ((self.frames * 37) % 256, 90, 160)
            return await super().recv()

    return Changing((0, 0, 0))


def _match(
    sources: list[tuple[float, float]], found: list[tuple[float, float]], max_s: float = 1.5
) -> list[float]:
    """Latency (ms) of each source marker (freq, t_src) that reached the other end: the
    earliest detection of its frequency at or after it (within `max_s`), each used once."""
    out: list[float] = []
    used: set[int] = set()
    for freq, t_src in sources:
        best = None
        for j, (f, t_dst) in enumerate(found):
            if j in used or f != freq or t_dst < t_src - 0.005 or t_dst - t_src > max_s:
                continue
            if best is None or t_dst < found[best][1]:
                best = j
        if best is not None:
            used.add(best)
            out.append(max(0.0, found[best][1] - t_src) * 1000)
    return out


def _uplink_stream(
    emulator: LiveEmulator, session: str, since: float
) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """The caller audio the emulator got after `since`: PCM and (end sample, arrival) per chunk."""
    parts: list[bytes] = []
    ends: list[tuple[int, float]] = []
    n = 0
    for r in emulator.received:
        if r.t < since or r.session != session or r.kind != "realtimeInput":
            continue
        blob = r.body.get("audio")
        if not isinstance(blob, dict):
            continue
        pcm = b64decode(str(blob.get("data") or ""))
        parts.append(pcm)
        n += len(pcm) // 2
        ends.append((n, r.t))
    return np.frombuffer(b"".join(parts), dtype="<i2"), ends


def _time_at(ends: list[tuple[int, float]], sample: int) -> float | None:
    import bisect

    i = bisect.bisect_right([e for e, _ in ends], sample)
    return ends[i][1] if i < len(ends) else None


async def uplink_phase(call: Call, emulator: LiveEmulator, count: int) -> None:
    pcm, _ = marker_train(UP_RATE, count, SPACING)
    src_markers = detect(pcm, UP_RATE)
    since = time.monotonic()
    base = call.caller._out._queued  # type: ignore[attr-defined]
    await call.caller.play(pcm, UP_RATE)
    await call.caller.wait_played(timeout=count * SPACING + 10)
    await asyncio.sleep(1.0)  # let the tail arrive
    sources = []
    for m in src_markers:
        t = call.caller.send_time_of(base + m.sample * 2)
        if t is not None:
            sources.append((m.freq, t))
    stream, ends = _uplink_stream(emulator, call.session.id, since)
    found = []
    for m in detect(stream, EMU_IN):
        t = _time_at(ends, m.sample)
        if t is not None:
            found.append((m.freq, t))
    call.up_sent += len(sources)
    call.up_ms += _match(sources, found)


async def downlink_phase(call: Call, count: int) -> None:
    pcm, _ = marker_train(EMU_OUT, count, SPACING)
    src_markers = detect(pcm, EMU_OUT)
    session = call.session
    session.stream_rate = 1.0  # real time: what is measured is what the bot adds
    since = time.monotonic()
    n_frames = len(call.caller.received_frames)
    await session.say(audio=pcm)
    await asyncio.sleep(0.8)
    chunk_samples = EMU_OUT * session.chunk_ms // 1000
    sent = [
        m.t
        for c in session.connections
        for m in c.sent
        if m.t >= since and "modelTurn" in m.message.get("serverContent", {})
    ]
    sources = [
        (m.freq, sent[m.sample // chunk_samples])
        for m in src_markers
        if m.sample // chunk_samples < len(sent)
    ]
    frames = call.caller.received_frames[n_frames:]
    if not frames:
        call.down_sent += len(sources)
        return
    rate = frames[0].sample_rate
    stream = np.frombuffer(b"".join(f.pcm for f in frames), dtype="<i2")
    ends, n = [], 0
    for f in frames:
        n += len(f.pcm) // 2
        ends.append((n, f.time))
    found = []
    for m in detect(stream, rate):
        t = _time_at(ends, m.sample)
        if t is not None:
            found.append((m.freq, t))
    call.down_sent += len(sources)
    call.down_ms += _match(sources, found)


async def barge_in_phase(call: Call, repeats: int = 3) -> None:
    session = call.session
    tone = (
        (8000 * np.sin(2 * np.pi * 440 * np.arange(3 * EMU_OUT) / EMU_OUT)).astype("<i2").tobytes()
    )
    for _ in range(repeats):
        session.stream_rate = 1.5  # as Gemini does: faster than real time
        since = time.monotonic()
        seen = [len(call.caller.received_frames)]

        def heard(seen: list[int] = seen) -> bool:
            frames = call.caller.received_frames
            new, seen[0] = frames[seen[0] :], len(frames)
            return any(f.rms > TONE_RMS for f in new)

        turn = asyncio.create_task(session.say(audio=tone))
        try:
            await call.caller.wait_until(heard, 10)
        except TimeoutError:
            turn.cancel()
            continue
        await asyncio.sleep(0.6 + random.random() * 0.1)
        await session.interrupt()
        await turn
        t_int = next(
            (
                m.t
                for c in session.connections
                for m in c.sent
                if m.t >= since and m.message.get("serverContent", {}).get("interrupted")
            ),
            None,
        )
        await asyncio.sleep(1.0)
        if t_int is None:
            continue
        after = [f for f in call.caller.received_frames if f.time >= t_int]
        loud = [i for i, f in enumerate(after) if f.rms > TONE_RMS]
        if not loud:
            call.barge_ms.append(0.0)
        elif loud[-1] + 1 < len(after):
            call.barge_ms.append((after[loud[-1] + 1].time - t_int) * 1000)
        await asyncio.sleep(0.3)


async def tool_phase(call: Call, repeats: int = 5) -> None:
    session = call.session
    for _ in range(repeats):
        since = time.monotonic()
        cid = await session.call_tool("bench_ping", {})
        rec = await session.tool_response(cid, timeout=10)
        t_call = next(
            m.t
            for c in session.connections
            for m in c.sent
            if m.t >= since and "toolCall" in m.message
        )
        call.tool_ms.append((rec.t - t_call) * 1000)
        await asyncio.sleep(0.2)


def uplink_delivery(call: Call, emulator: LiveEmulator) -> tuple[int, int]:
    """(20 ms frames the bot received from the network, frames it delivered to Gemini)."""
    received = call.caller.sent_rtp - call.caller.dropped_up
    delivered = sum(c.audio_bytes for c in call.session.connections) // 640
    return received, delivered


# --------------------------------------------------------------------------- scenarios


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values), q))


@dataclass
class Figures:
    """One scenario's figures for one bot."""

    calls: int
    loss: float
    up_ms: list[float] = field(default_factory=list)
    down_ms: list[float] = field(default_factory=list)
    up_sent: int = 0
    down_sent: int = 0
    barge_ms: list[float] = field(default_factory=list)
    tool_ms: list[float] = field(default_factory=list)
    frames_received: int = 0
    frames_delivered: int = 0
    cpu_ms_per_call_s: float | None = None
    rss_mib_per_call: float | None = None
    loadgen_cpu: float | None = None

    def add(self, call: Call) -> None:
        self.up_ms += call.up_ms
        self.down_ms += call.down_ms
        self.up_sent += call.up_sent
        self.down_sent += call.down_sent
        self.barge_ms += call.barge_ms
        self.tool_ms += call.tool_ms

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "loss": self.loss,
            "up_p50": pct(self.up_ms, 50),
            "up_p95": pct(self.up_ms, 95),
            "up_p99": pct(self.up_ms, 99),
            "down_p50": pct(self.down_ms, 50),
            "down_p95": pct(self.down_ms, 95),
            "down_p99": pct(self.down_ms, 99),
            "up_markers": f"{len(self.up_ms)}/{self.up_sent}",
            "down_markers": f"{len(self.down_ms)}/{self.down_sent}",
            "up_markers_ok": len(self.up_ms) == self.up_sent,
            "down_markers_ok": len(self.down_ms) == self.down_sent,
            "barge_p50": pct(self.barge_ms, 50),
            "barge_p95": pct(self.barge_ms, 95),
            "tool_p50": pct(self.tool_ms, 50),
            "tool_p95": pct(self.tool_ms, 95),
            "delivered": (
                self.frames_delivered / self.frames_received if self.frames_received else None
            ),
            "cpu_ms_per_call_s": self.cpu_ms_per_call_s,
            "rss_mib_per_call": self.rss_mib_per_call,
            "loadgen_cpu": self.loadgen_cpu,
        }


class Bench:
    def __init__(self, kind: str, workdir: Path, markers: int) -> None:
        self.kind = kind
        self.workdir = workdir / kind
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.markers = markers
        self.emulator = LiveEmulator(
            script=idle_script,
            data_dir=self.workdir / "emulator-tls",
            stream_rate=1.0,
            chunk_ms=40,
        )
        self.bot: BotProcess | None = None
        self.calls: list[Call] = []
        self.idle_cpu_rate = 0.0
        self.idle_rss = 0.0
        self.raw: dict[str, Any] = {}
        self._seed = 0

    async def __aenter__(self) -> Bench:
        await self.emulator.start()
        self.bot = BotProcess(self.kind, self.emulator, self.workdir)
        await self.bot.start()
        await asyncio.sleep(2.0)
        c0, t0 = self.bot.cpu_seconds(), time.monotonic()
        await asyncio.sleep(3.0)
        self.idle_cpu_rate = (self.bot.cpu_seconds() - c0) / (time.monotonic() - t0)
        self.idle_rss = self.bot.rss_mib()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hang_up()
        if self.bot:
            await self.bot.stop()
        await self.emulator.stop()

    async def add_calls(self, k: int) -> None:
        assert self.bot is not None
        while len(self.calls) < k:
            self._seed += 1
            self.calls.append(await dial(self.bot, self.emulator, self._seed))
        await asyncio.sleep(1.0)

    async def hang_up(self) -> None:
        await asyncio.gather(*(c.caller.close() for c in self.calls), return_exceptions=True)
        self.calls = []
        await asyncio.sleep(2.0)
        self.emulator.received.clear()
        for s in self.emulator.sessions:
            s.caller_pcm.clear()

    def set_loss(self, loss: float) -> None:
        for c in self.calls:
            c.caller.loss = loss

    async def scenario(
        self, loss: float, *, barge: bool = False, tools: bool = False, measure_cpu: bool = False
    ) -> Figures:
        """Run the marker phases (and optionally barge-in, tools) on every call at once."""
        assert self.bot is not None
        self.set_loss(loss)
        for c in self.calls:
            c.up_ms, c.down_ms, c.barge_ms, c.tool_ms = [], [], [], []
            c.up_sent = c.down_sent = 0
        before = [uplink_delivery(c, self.emulator) for c in self.calls]
        cpu0, t0 = self.bot.cpu_seconds(), time.monotonic()
        me0 = time.process_time()
        rss = self.bot.rss_mib()

        async def one(call: Call) -> None:
            await asyncio.sleep(random.random() * SPACING)  # calls out of phase
            await uplink_phase(call, self.emulator, self.markers)
            await downlink_phase(call, self.markers)
            if barge:
                await barge_in_phase(call)
            if tools:
                await tool_phase(call)

        await asyncio.gather(*(one(c) for c in self.calls))
        t1 = time.monotonic()
        cpu1 = self.bot.cpu_seconds()
        me1 = time.process_time()
        await asyncio.sleep(0.5)
        fig = Figures(calls=len(self.calls), loss=loss)
        for c, (r0, d0) in zip(self.calls, before, strict=True):
            fig.add(c)
            r1, d1 = uplink_delivery(c, self.emulator)
            fig.frames_received += r1 - r0
            fig.frames_delivered += d1 - d0
        k, window = len(self.calls), t1 - t0
        if measure_cpu:
            busy = (cpu1 - cpu0) - self.idle_cpu_rate * window
            fig.cpu_ms_per_call_s = busy / (k * window) * 1000
            fig.rss_mib_per_call = (rss - self.idle_rss) / k
        fig.loadgen_cpu = (me1 - me0) / window
        return fig


def passes(fig: Figures, limit_ms: float = 50.0) -> bool:
    s = fig.summary()
    return (
        s["up_p99"] is not None
        and s["down_p99"] is not None
        and s["up_p99"] <= limit_ms
        and s["down_p99"] <= limit_ms
        and s["up_markers_ok"]
        and s["down_markers_ok"]
        and (s["delivered"] or 0) >= 0.99
    )


async def run_kind(
    kind: str,
    workdir: Path,
    *,
    markers: int,
    steps: Sequence[int],
    losses: Sequence[float],
    base_calls: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind}
    async with Bench(kind, workdir, markers) as bench:
        out["idle_cpu_ms_per_s"] = bench.idle_cpu_rate * 1000
        out["idle_rss_mib"] = bench.idle_rss
        logger.info(f"{kind}: {base_calls} calls, no loss")
        await bench.add_calls(base_calls)
        main = await bench.scenario(0.0, barge=True, tools=True, measure_cpu=True)
        out["main"] = main.summary()
        out["main_raw"] = {"up_ms": main.up_ms, "down_ms": main.down_ms}
        logger.info(f"{kind} main: {json.dumps(out['main'])}")
        out["capacity_steps"] = []
        capacity = 0
        for k in steps:
            if k < len(bench.calls):
                continue
            logger.info(f"{kind}: capacity step {k} calls")
            try:
                await bench.add_calls(k)
            except Exception as e:  # a refused or failed call ends the stepping
                logger.warning(f"{kind}: could not dial call {len(bench.calls) + 1}: {e!r}")
                out["capacity_steps"].append({"calls": k, "error": repr(e)})
                break
            fig = await bench.scenario(0.0, measure_cpu=True)
            s = fig.summary() | {"pass": passes(fig)}
            out["capacity_steps"].append(s)
            logger.info(f"{kind} step: {json.dumps(s)}")
            if not s["pass"]:
                break
            capacity = k
            if (fig.loadgen_cpu or 0) > 0.9:
                out["capacity_note"] = "the load generator reached a full core"
                break
        out["capacity"] = capacity
        await bench.hang_up()
        await bench.add_calls(base_calls)
        for loss in losses:
            logger.info(f"{kind}: {base_calls} calls, {loss:.0%} loss")
            fig = await bench.scenario(loss)
            out[f"loss_{round(loss * 100)}"] = fig.summary()
            out[f"loss_{round(loss * 100)}_raw"] = {"up_ms": fig.up_ms, "down_ms": fig.down_ms}
            logger.info(f"{kind} loss: {json.dumps(out[f'loss_{round(loss * 100)}'])}")
    return out


async def soak(kind: str, workdir: Path, minutes: float, loss: float) -> dict[str, Any]:
    """One call at `loss` for `minutes`: marker trains back to back, per-minute p95."""
    out: dict[str, Any] = {"kind": kind, "loss": loss, "minutes": []}
    async with Bench(kind, workdir, markers=40) as bench:
        await bench.add_calls(1)
        bench.set_loss(loss)
        end = time.monotonic() + minutes * 60
        minute = 0
        while time.monotonic() < end:
            fig = await bench.scenario(loss)
            s = fig.summary()
            s["t_min"] = round((time.monotonic() - (end - minutes * 60)) / 60, 2)
            out["minutes"].append(s)
            logger.info(f"{kind} soak: {json.dumps(s)}")
            minute += 1
    return out


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="livebot-bench-"))


__all__ = ["FREQS", "run_kind", "soak", "workdir"]
