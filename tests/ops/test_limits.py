"""Limits, as an attacker meets them: the real `python -m bot serve` process on loopback.

Oversized and streamed bodies, deeply nested JSON, slow and idle connections, and in
production the ops endpoints and the start-up log; two echo servers on one data
directory. Each test prints (and keeps, tests/.artifacts/reliability/) what it measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.http.bodylimit import MAX_BODY_BYTES
from bot.http.slowclients import REQUEST_READ_SECONDS
from caller import Caller
from testkit.bot import free_port
from tests.faults.helpers import record

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    port: int
    banner: str
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self, field: str) -> int:
        """A field of /proc/<pid>/status in KiB (VmRSS: now, VmHWM: the peak so far)."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        assert match, text
        return int(match.group(1))


@asynccontextmanager
async def bot_process(data_dir: Path, **env_changes: str) -> AsyncIterator[BotProcess]:
    """`python -m bot serve` (offline echo: no key) on a free port, until the banner."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "LIVE_"))}
    env.pop("SSL_CERT_FILE", None)
    env.update(
        PORT=str(port),
        LIVEBOT_DATA_DIR=str(data_dir),
        TOOLS="clock",
        PYTHONPATH=str(ROOT),
        **env_changes,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=data_dir.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []

    async def read_all() -> None:
        async for line in proc.stdout:
            output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(read_all())
    try:
        async with asyncio.timeout(40):
            while not any("Tools:" in line for line in output):
                assert proc.returncode is None, "the bot exited:\n" + "".join(output)
                await asyncio.sleep(0.05)
        yield BotProcess(proc, port, "".join(output), output)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        reader.cancel()


PROBE = """
import json, sys, threading, time, httpx
stop, times = threading.Event(), []
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with httpx.Client(timeout=10) as http:
    while not stop.is_set():
        started = time.perf_counter()
        assert http.get(sys.argv[1] + "/healthz").status_code == 200
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
print(json.dumps(times))
"""


@asynccontextmanager
async def healthz_probe(url: str) -> AsyncIterator[list[float]]:
    """/healthz round trips (ms), one every 20 ms while inside: from a process of its
    own, so the attacking clients in the test's process do not delay it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, url, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    times: list[float] = []
    try:
        await asyncio.sleep(0.5)
        yield times
    finally:
        out, _ = await asyncio.wait_for(proc.communicate(b""), 20)
        times.extend(json.loads(out))


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed (a reset after its answer included)."""
    data = bytearray()
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionError:
        pass
    return bytes(data)


async def test_oversized_bodies_are_refused_unread_and_memory_stays_flat(tmp_path):
    """Finding 8: 4 x 64 MiB to /api/join took the server from 310 to 863 MiB."""
    payload = b'{"token": "' + b"x" * (64 * MiB) + b'"}'
    async with bot_process(tmp_path / "data") as bot:
        async with httpx.AsyncClient(timeout=60) as http:  # warm the route up
            assert (await http.post(f"{bot.url}/api/join", json={"token": "x"})).status_code
        await asyncio.sleep(0.5)
        rss_before, peak_before = bot.status("VmRSS"), bot.status("VmHWM")

        async def post() -> httpx.Response | str:
            try:
                async with httpx.AsyncClient(timeout=60) as http:
                    return await http.post(
                        f"{bot.url}/api/join",
                        content=payload,
                        headers={"content-type": "application/json"},
                    )
            except httpx.TransportError as e:  # the server may close before all is sent
                return type(e).__name__

        async with healthz_probe(bot.url) as stalls:
            answers = await asyncio.gather(*(post() for _ in range(4)))
            await asyncio.sleep(0.3)
        rss_after, peak_after = bot.status("VmRSS"), bot.status("VmHWM")

        statuses = [a.status_code if isinstance(a, httpx.Response) else a for a in answers]
        figures = record(
            "body_limit_4x64MiB",
            statuses=statuses,
            rss_before_mib=round(rss_before / 1024, 1),
            rss_after_mib=round(rss_after / 1024, 1),
            peak_growth_mib=round((peak_after - peak_before) / 1024, 1),
            healthz_max_ms=round(max(stalls), 1),
            healthz_samples=len(stalls),
        )

        # A raw client: the head alone, no body sent; the 413 comes back at once.
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
        writer.write(
            b"POST /api/join HTTP/1.1\r\nHost: bot\r\ncontent-type: application/json\r\n"
            b"content-length: 67108864\r\n\r\n"
        )
        await writer.drain()
        raw = await asyncio.wait_for(read_until_closed(reader), 5)
        writer.close()
        # A little too much (200 KiB, fully sent): the client reads the 413 and why.
        async with httpx.AsyncClient(timeout=10) as http:
            a_bit_over = await http.post(
                f"{bot.url}/api/join",
                content=b'{"token": "' + b"x" * (200 * 1024) + b'"}',
                headers={"content-type": "application/json"},
            )

    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    assert b'"reason": "too_large"' in raw and b"connection: close" in raw.lower()
    assert a_bit_over.status_code == 413 and a_bit_over.json()["reason"] == "too_large"
    # 64 MiB posts: the 413 goes out at once and the connection is closed on the rest,
    # so a client still sending sees it or a reset (ReadError/WriteError), never a 2xx.
    for answer in answers:
        if isinstance(answer, httpx.Response):
            assert answer.status_code == 413 and answer.json()["reason"] == "too_large"
    # None of the 256 MiB was kept: the peak grew by less than one post.
    assert figures["peak_growth_mib"] < 32, figures
    assert figures["rss_after_mib"] - figures["rss_before_mib"] < 32, figures


async def test_a_chunked_body_is_counted_and_cut_off_at_the_bound(tmp_path):
    async with bot_process(tmp_path / "data") as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
        writer.write(
            b"POST /api/join HTTP/1.1\r\nHost: bot\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        sent = 0
        answer = asyncio.create_task(read_until_closed(reader))
        chunk = b"x" * 16384
        try:
            while not answer.done() and sent < 64 * MiB:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
                await asyncio.sleep(0)
        except ConnectionError:
            pass  # closed by the server after its answer
        raw = await asyncio.wait_for(answer, 10)
        writer.close()
        healthy = (await httpx.AsyncClient().get(f"{bot.url}/healthz")).status_code
    record("body_limit_chunked", sent_bytes_until_refused=sent, bound=MAX_BODY_BYTES)
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    assert b'"reason": "too_large"' in raw
    assert sent < 64 * MiB, "refused while the body was still coming"
    assert healthy == 200


async def test_deeply_nested_json_gets_400_with_a_reason(tmp_path):
    """Finding 16: [[[[...]]]] got 400 without a `reason`."""
    async with bot_process(tmp_path / "data") as bot, httpx.AsyncClient(base_url=bot.url) as http:
        answers = {}
        for depth in (33, 1000, 60_000):
            r = await http.post(
                "/api/join",
                content=b"[" * depth + b"]" * depth,
                headers={"content-type": "application/json"},
            )
            answers[depth] = (r.status_code, r.json())
        # Nesting inside a string is just text; shallow bodies reach the route.
        shallow = await http.post("/api/join", json={"token": "[" * 500})
    record("deep_json", answers={k: v[0] for k, v in answers.items()})
    for status, body in answers.values():
        assert status == 400 and body["reason"] == "bad_request", body
        assert "nested" in body["detail"]
    assert shallow.status_code == 403 and shallow.json()["reason"] == "invalid"


async def test_slow_and_idle_connections_are_closed(tmp_path):
    """Finding 13: 50 header-dripping, 10 silent and 10 slow-body connections were all
    still open after 120 s."""

    async def connection(kind: str, port: int) -> dict:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened = time.monotonic()
        if kind == "slow-body":
            writer.write(
                b"POST /api/join HTTP/1.1\r\nHost: bot\r\ncontent-type: application/json\r\n"
                b"content-length: 1000\r\n\r\n"
            )
        drip = b"GET /healthz HTTP/1.1\r\nHost: bot\r\nX-Drip: " + b"a" * 10_000
        closed = asyncio.create_task(read_until_closed(reader))
        sent = 0
        try:
            while not closed.done():
                if kind == "header-drip":
                    writer.write(drip[sent : sent + 1])
                elif kind == "slow-body":
                    writer.write(b"{")
                sent += 1
                await writer.drain()
                await asyncio.wait({closed}, timeout=1.0)
        except ConnectionError:
            pass
        answer = await closed
        writer.close()
        return {"kind": kind, "after_s": time.monotonic() - opened, "answer": answer[:40]}

    async with bot_process(tmp_path / "data") as bot:
        kinds = ["header-drip"] * 50 + ["silent"] * 10 + ["slow-body"] * 10
        tasks = [asyncio.create_task(connection(k, bot.port)) for k in kinds]
        bound = REQUEST_READ_SECONDS + 5
        async with healthz_probe(bot.url) as healthz:
            done, pending = await asyncio.wait(tasks, timeout=bound)
        for task in pending:
            task.cancel()
    results = [t.result() for t in done]
    by_kind = {
        kind: sorted(round(r["after_s"], 1) for r in results if r["kind"] == kind)
        for kind in ("header-drip", "silent", "slow-body")
    }
    record(
        "slow_clients",
        still_open_after_s={bound: len(pending)},
        closed_after_s={k: (v[0], v[-1]) if v else None for k, v in by_kind.items()},
        answers=sorted({r["answer"].split(b"\r\n")[0].decode() for r in results}),
        healthz_max_ms=round(max(healthz), 1),
    )
    assert len(pending) == 0, f"{len(pending)} of 70 still open after {bound:g} s"
    for r in results:
        if r["kind"] == "silent":
            assert r["answer"] == b"", r  # nothing was asked: closed without a word
        else:
            assert r["answer"].startswith(b"HTTP/1.1 408 "), r


async def test_production_serves_ops_only_on_loopback_and_logs_no_link(tmp_path):
    """Finding 14: /metrics and /openapi.json were served to anyone who reached the bot,
    and the start-up log printed a valid 24-hour lobby link."""
    ops_port = free_port()
    secret = "production-secret-" + "p" * 32
    async with bot_process(
        tmp_path / "data",
        LIVEBOT_MODE="production",
        LIVEBOT_SECRET=secret,
        OPS_PORT=str(ops_port),
        PUBLIC_URL="https://bot.example.org",
    ) as bot:
        async with httpx.AsyncClient(timeout=5) as http:
            public = {p: (await http.get(f"{bot.url}{p}")).status_code for p in PATHS}
            # What the proxy would send: X-Forwarded-* cannot make the public port the ops one.
            forged = await http.get(
                f"{bot.url}/metrics",
                headers={"X-Forwarded-Host": f"127.0.0.1:{ops_port}", "Host": "127.0.0.1"},
            )
            ops = {
                p: (await http.get(f"http://127.0.0.1:{ops_port}{p}")).status_code for p in PATHS
            }
            metrics = await http.get(f"http://127.0.0.1:{ops_port}/metrics")
            ops_join = await http.post(f"http://127.0.0.1:{ops_port}/api/join", json={"token": "x"})
        # Bound to 127.0.0.1 only: another loopback address (or any other) is refused.
        other = socket.socket()
        reachable_elsewhere = other.connect_ex(("127.0.0.2", ops_port)) == 0
        other.close()
        banner = bot.banner
    record(
        "production_ops",
        public_listener=public,
        ops_listener=ops,
        forged_host=forged.status_code,
        ops_reachable_on_127_0_0_2=reachable_elsewhere,
    )
    assert public == {"/metrics": 404, "/openapi.json": 404, "/healthz": 200, "/readyz": 200}
    assert forged.status_code == 404
    assert ops == {"/metrics": 200, "/openapi.json": 200, "/healthz": 200, "/readyz": 200}
    assert "livebot_active_calls" in metrics.text
    assert ops_join.status_code == 404
    assert not reachable_elsewhere
    assert not re.search(r"t=[\w-]{16,}", banner) and "/r/lobby" not in banner, banner
    assert "room create" in banner and f"127.0.0.1:{ops_port}/metrics" in banner


PATHS = ("/metrics", "/openapi.json", "/healthz", "/readyz")


async def test_development_still_serves_ops_and_prints_the_link(tmp_path):
    async with bot_process(tmp_path / "data") as bot, httpx.AsyncClient(base_url=bot.url) as http:
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        assert re.search(rf"http://localhost:{bot.port}/r/lobby\?t=\S+", bot.banner)


async def test_two_echo_servers_on_one_data_directory_keep_their_own_ca(tmp_path, speech):
    """Finding 16: the second echo server rewrote the first's CA bundle, whose calls then
    failed TLS against its own emulator."""
    data = tmp_path / "data"
    wav = speech("two servers one directory")
    heard: dict[str, float] = {}
    async with bot_process(data) as first, bot_process(data) as second:
        bundles = sorted(p.relative_to(data) for p in data.glob("emulator/*/ca-bundle.pem"))
        for name, bot in (("first", first), ("second", second)):
            link = re.search(r"http://localhost:\d+/r/lobby\?t=\S+", bot.banner)
            assert link, bot.banner
            async with Caller(link.group(0).replace("localhost", "127.0.0.1")) as caller:
                await caller.connect(timeout=15)
                await caller.play_wav(wav)
                await caller.wait_for_audio(0.5, timeout=20)
                heard[name] = round(caller.received_seconds(), 2)
        logs = "".join(first.output + second.output)
    left = list(data.glob("emulator/*"))
    record("two_echo_servers", bundles=[str(b) for b in bundles], echo_seconds=heard)
    assert len(bundles) == 2, bundles
    assert "CERTIFICATE_VERIFY_FAILED" not in logs
    assert heard["first"] >= 0.5 and heard["second"] >= 0.5
    assert left == [], "each server removed its own CA when it stopped"
