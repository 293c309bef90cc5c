"""Calendar test fixtures: a real Radicale CalDAV server, and toolsets over each backend."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.calendar.helpers import PARIS
from tools.calendar import toolset
from tools.toolset import ToolContext, Toolset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Radicale server on a free loopback port (no auth, no config files); its URL."""
    port = free_port()
    folder = tmp_path_factory.mktemp("radicale")
    log = (folder / "radicale.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(folder / "collections"),
            "--auth-type",
            "none",
            "--auth-delay",
            "0",  # no pause after the client's first, unauthenticated request
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"radicale exited with {proc.returncode}: "
                    f"{(folder / 'radicale.log').read_text()[-2000:]}"
                )
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("radicale did not start within 20 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def calendar_env(kind: str, radicale_url: str | None) -> dict[str, str]:
    if kind == "local":
        return {}
    assert radicale_url is not None
    return {
        "CALENDAR_BACKEND": "caldav",
        "CALDAV_URL": radicale_url,
        "CALDAV_USERNAME": "livebot",
        "CALDAV_PASSWORD": "unused",
        "CALDAV_CALENDAR": f"test-{uuid.uuid4().hex[:8]}",  # a fresh calendar per test
    }


@pytest.fixture(params=["local", "caldav"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(backend_kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    url = request.getfixturevalue("radicale") if backend_kind == "caldav" else None
    return calendar_env(backend_kind, url)


@pytest.fixture
async def calendar(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Toolset]:
    """The calendar toolset (Europe/Paris) over the parametrized backend, started."""
    ts = toolset(ToolContext(env=env, data_dir=tmp_path, timezone=PARIS))
    assert ts.start is not None and ts.stop is not None
    await ts.start()
    try:
        yield ts
    finally:
        await ts.stop()
