"""`python -m bot serve` as a subprocess, offline, for tests of the first commands."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.audio import free_port

ROOT = Path(__file__).resolve().parents[1]


def offline_env(tmp_path: Path, port: int) -> dict[str, str]:
    """The environment of a fresh offline bot: no Google key or CA bundle of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GEMINI_"))}
    env.pop("SSL_CERT_FILE", None)
    env.update(PORT=str(port), LIVEBOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    return env


@dataclass
class Served:
    banner: str
    link: str  # the lobby link the banner prints, on 127.0.0.1
    env: dict[str, str]


@asynccontextmanager
async def serving(tmp_path: Path, *args: str, timeout: float = 30) -> AsyncIterator[Served]:
    """`python -m bot serve ARGS` until its banner is out; stopped afterwards."""
    port = free_port()
    env = offline_env(tmp_path, port)
    proc = subprocess.Popen(  # noqa: ASYNC220 (the server under test, started once)
        [sys.executable, "-m", "bot", "serve", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while not any("Tools:" in line for line in lines):
                assert proc.stdout is not None
                line = await asyncio.to_thread(proc.stdout.readline)
                assert line, "the server exited:\n" + "".join(lines)
                lines.append(line)
        banner = "".join(lines)
        link = re.search(rf"http://localhost:{port}/r/lobby\?t=\S+", banner)
        assert link, banner
        yield Served(banner, link.group(0).replace("localhost", "127.0.0.1"), env)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_bot(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` once, offline, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=offline_env(tmp_path, free_port()),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
