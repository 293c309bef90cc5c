"""The compose stack's front door holds the limits: caddy (Debian's, with deploy/caddy/
Caddyfile) in front of the bot (`python -m bot serve`, production, as compose renders
it), over HTTPS on loopback, as an attacker meets them.

Oversized bodies get 413 with a reason from caddy, whatever their framing; slow and
idle connections are cut off by caddy's timeouts; the ops endpoints answer 404 through
caddy and on the bot's public port, and only the loopback ops port serves them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import sys
import time

import httpx
import pytest

from testkit.bot import free_port
from tests.faults.helpers import record
from tests.stack.stack import ROOT, rendered, service, wait_until

pytestmark = pytest.mark.timeout(150)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = bytearray()
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    return bytes(data)


async def test_caddy_refuses_big_bodies_and_cuts_off_slow_clients(tmp_path):
    if not shutil.which("caddy"):
        pytest.fail("caddy not installed: ./livebot test installs it")
    https_port, bot_port, ops_port = free_port(), free_port(), free_port()
    env = {
        "DOMAIN": "localhost",
        "TLS_MODE": "internal",
        "LIVEBOT_SECRET": "stack-test-" + "s" * 40,
        "TURN_SECRET": "stack-test-" + "t" * 40,
        "TOOLS": "",
        "PORT": str(bot_port),
        "OPS_PORT": str(ops_port),
        "PUBLIC_URL": f"https://localhost:{https_port}",
    }
    services = rendered(env)["services"]
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    bot_env = {**base, **services["bot"]["environment"]}
    bot_env.update(LIVEBOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    caddy_env = {**base, **services["caddy"]["environment"]}
    caddy_env.update(
        HTTPS_PORT=str(https_port),
        HTTP_PORT=str(free_port()),
        CADDY_BIND="127.0.0.1",
        CADDY_ADMIN=f"127.0.0.1:{free_port()}",
        XDG_DATA_HOME=str(tmp_path / "caddy-data"),
        XDG_CONFIG_HOME=str(tmp_path / "caddy-config"),
    )
    root_ca = tmp_path / "caddy-data/caddy/pki/authorities/local/root.crt"
    logs = tmp_path / "logs"
    with (
        service("bot", [sys.executable, "-m", "bot", "serve"], bot_env, tmp_path, logs) as bot,
        service(
            "caddy",
            ["caddy", "run", "--config", str(ROOT / "deploy/caddy/Caddyfile")],
            caddy_env,
            tmp_path,
            logs,
        ) as caddy,
    ):
        everyone = [bot, caddy]
        await wait_until(root_ca.exists, "caddy's internal CA", 30, everyone)
        trust = ssl.create_default_context(cafile=str(root_ca))
        public = f"https://localhost:{https_port}"
        async with httpx.AsyncClient(verify=trust, timeout=20) as https:

            async def ready() -> bool:
                try:
                    return (await https.get(f"{public}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, "/readyz through caddy", 60, everyone)

            # Ops endpoints: nowhere but the loopback ops port.
            ops = {}
            async with httpx.AsyncClient(timeout=5) as plain:
                for path in ("/metrics", "/openapi.json"):
                    ops[path] = (
                        (await https.get(f"{public}{path}")).status_code,
                        (await plain.get(f"http://127.0.0.1:{bot_port}{path}")).status_code,
                        (await plain.get(f"http://127.0.0.1:{ops_port}{path}")).status_code,
                    )

            # Bodies: a little over the bound, sent whole; a 64 MiB one declared (the
            # head alone: caddy answers before the body, then closes on the rest);
            # a chunked one.
            over = await https.post(
                f"{public}/api/join",
                content=b'{"token": "' + b"x" * (200 * 1024) + b'"}',
                headers={"content-type": "application/json"},
            )
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", https_port, ssl=trust, server_hostname="localhost"
            )
            writer.write(
                b"POST /api/join HTTP/1.1\r\nHost: localhost\r\n"
                b"content-type: application/json\r\ncontent-length: 67108864\r\n\r\n"
            )
            declared = await asyncio.wait_for(read_until_closed(reader), 10)
            writer.close()

            async def chunks():
                for _ in range(64):
                    yield b"x" * 16384

            chunked = await https.post(
                f"{public}/api/join", content=chunks(), headers={"content-type": "application/json"}
            )

        # Slow clients over TLS: header drip, silent, slow body.
        async def connection(kind: str) -> float:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", https_port, ssl=trust, server_hostname="localhost"
            )
            opened = time.monotonic()
            if kind == "slow-body":
                writer.write(
                    b"POST /api/join HTTP/1.1\r\nHost: localhost\r\n"
                    b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n"
                )
            elif kind == "header-drip":
                writer.write(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nX-Drip: ")
            closed = asyncio.create_task(read_until_closed(reader))
            try:
                while not closed.done():
                    if kind != "silent":
                        writer.write(b"a")
                        await writer.drain()
                    await asyncio.wait({closed}, timeout=1.0)
            except (ConnectionError, ssl.SSLError):
                pass
            await closed
            writer.close()
            return time.monotonic() - opened

        kinds = ["header-drip"] * 20 + ["silent"] * 5 + ["slow-body"] * 5
        tasks = [asyncio.create_task(connection(k)) for k in kinds]
        bound = 15.0
        done, pending = await asyncio.wait(tasks, timeout=bound)
        for task in pending:
            task.cancel()
        closed_after = sorted(round(t.result(), 1) for t in done)

    record(
        "caddy_limits",
        ops_caddy_public_ops=ops,
        over_200KiB=(over.status_code, over.json().get("reason")),
        declared_64MiB=declared.split(b"\r\n")[0].decode(),
        chunked=chunked.status_code,
        still_open_after_s={bound: len(pending)},
        closed_after_s=(closed_after[0], closed_after[-1]) if closed_after else None,
    )
    assert ops == {"/metrics": (404, 404, 200), "/openapi.json": (404, 404, 200)}
    assert (over.status_code, over.json()["reason"]) == (413, "too_large")
    assert declared.startswith(b"HTTP/1.1 413 ") and b'"reason": "too_large"' in declared
    assert chunked.status_code == 413
    assert len(pending) == 0, f"{len(pending)} of {len(kinds)} still open after {bound:g} s"
