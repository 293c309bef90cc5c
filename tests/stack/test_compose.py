"""docker-compose.yml, the Dockerfile and deploy/ as an operator meets them, no engine needed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gemini_emulator import running_emulator
from testkit.bot import free_port, running_bot
from tests.stack.stack import ROOT, compose_config, rendered, service, tool, wait_until

pytestmark = pytest.mark.timeout(120)

ENV = {
    "DOMAIN": "livebot.example.org",
    "LIVEBOT_SECRET": "s" * 43,
    "TURN_SECRET": "t" * 64,
}


def seconds(duration: str) -> float:
    """A compose duration ('45s', '1m30s') in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))


def test_the_stack_renders_with_the_documented_settings():
    c = rendered(ENV)
    services = c["services"]
    assert set(services) == {"bot", "coturn", "caddy"}  # mqtt/caldav/redis: profiles
    bot = services["bot"]["environment"]
    assert bot["LIVEBOT_MODE"] == "production" and bot["HOST"] == "127.0.0.1"
    assert bot["PUBLIC_URL"] == "https://livebot.example.org"
    assert bot["OPS_PORT"] == "9860" and bot["OPS_PORT"] != bot["PORT"]  # loopback ops only
    assert bot["TURN_URLS"].split(",") == [
        "turn:livebot.example.org:3478?transport=udp",
        "turn:livebot.example.org:3478?transport=tcp",
    ]
    assert bot["TURN_SECRET"] == services["coturn"]["environment"]["TURN_SECRET"]
    assert services["coturn"]["environment"]["TURN_REALM"] == "livebot.example.org"
    assert services["caddy"]["environment"]["BOT_UPSTREAMS"] == "127.0.0.1:7860"
    # Media: the bot's random UDP ports meet coturn on the host itself (see the header).
    for name in ("bot", "coturn", "caddy"):
        assert services[name]["network_mode"] == "host", name
    # docker stop waits past the drain: grace + a margin before SIGKILL.
    grace = float(bot["SHUTDOWN_GRACE_SECONDS"])
    assert seconds(services["bot"]["stop_grace_period"]) >= grace + 10
    assert services["bot"]["volumes"][0]["target"] == bot["LIVEBOT_DATA_DIR"] == "/data"

    everything = rendered(ENV, profiles=("*",))["services"]
    assert {"mosquitto", "radicale"} <= set(everything)
    assert everything["mosquitto"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert everything["radicale"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert bot["REDIS_URL"] == ""  # one host: no Redis (empty = unset)


def test_the_many_profile_adds_redis_and_the_bot_gets_its_url():
    url = "redis://127.0.0.1:6379/0"
    c = rendered({**ENV, "REDIS_URL": url}, profiles=("many",))["services"]
    assert set(c) == {"bot", "coturn", "caddy", "redis"}
    redis = c["redis"]
    assert redis["ports"][0]["host_ip"] == "127.0.0.1" and redis["ports"][0]["target"] == 6379
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["command"][:3] == ["redis-server", "--save", ""]
    assert c["bot"]["environment"]["REDIS_URL"] == url
    assert url.endswith(f":{redis['ports'][0]['published']}/0")


@pytest.mark.parametrize("missing", ["DOMAIN", "LIVEBOT_SECRET", "TURN_SECRET"])
def test_a_missing_secret_stops_compose_naming_it(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    out = compose_config(env)
    assert out.returncode != 0
    assert f"set {missing} in .env" in out.stderr, out.stderr


def test_two_instances_share_data_and_secret_on_their_own_ports():
    c = rendered(
        {**ENV, "BOT_UPSTREAMS": "127.0.0.1:7860 127.0.0.1:7861"}, "deploy/compose.two-bots.yml"
    )
    one, two = c["services"]["bot"], c["services"]["bot-2"]
    assert (one["environment"]["PORT"], two["environment"]["PORT"]) == ("7860", "7861")
    assert (one["environment"]["OPS_PORT"], two["environment"]["OPS_PORT"]) == ("9860", "9861")
    assert one["environment"]["LIVEBOT_SECRET"] == two["environment"]["LIVEBOT_SECRET"]
    assert one["volumes"] == two["volumes"]
    assert c["services"]["caddy"]["environment"]["BOT_UPSTREAMS"].split() == [
        "127.0.0.1:7860",
        "127.0.0.1:7861",
    ]
    # Each tells the other where to forward its calls' signalling (bot/http/routing.py).
    assert (
        one["environment"]["LIVEBOT_INSTANCE_ADDRESS"],
        two["environment"]["LIVEBOT_INSTANCE_ADDRESS"],
    ) == ("127.0.0.1:7860", "127.0.0.1:7861")
    assert c["services"]["caddy"]["environment"]["BOT_LB_POLICY"] == "cookie livebot_instance"


def test_dockerfile_builds_page_locks_deps_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in text and "uv sync --frozen --no-dev" in text
    runtime = text[text.rindex("FROM ") :]
    assert re.search(r"^USER \$\{UID\}:\$\{UID\}$", runtime, re.M)
    assert 'CMD ["python", "-m", "bot", "serve"]' in runtime and "EXPOSE 7860" in runtime
    assert "HEALTHCHECK" in runtime and "healthcheck.py" in runtime
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # an allow-list: .env, data/ stay out
    assert "!.env" not in ignore and "!data" not in ignore
    hadolint = tool("hadolint")
    if hadolint:
        out = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


async def test_the_image_healthcheck_asks_healthz(tmp_path):
    async with running_emulator(tmp_path) as emu, running_bot(emu, tmp_path) as bot:
        port = bot.url.rsplit(":", 1)[1]

        async def check(port: str) -> int:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "deploy" / "healthcheck.py"),
                env={**os.environ, "HOST": "0.0.0.0", "PORT": port},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            return await asyncio.wait_for(proc.wait(), 20)

        assert await check(port) == 0
        assert await check(str(free_port())) == 1


def turnserver_sh(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run deploy/coturn/turnserver.sh with `true` standing in for turnserver."""
    full = {
        "PATH": os.environ["PATH"],
        "TURN_CONF": str(tmp_path / "turnserver.conf"),
        "TURNSERVER": "true",
        **env,
    }
    return subprocess.run(
        ["sh", str(ROOT / "deploy/coturn/turnserver.sh")],
        env=full,
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_coturn_config_relays_only_to_the_bot_with_time_limited_credentials(tmp_path):
    coturn = rendered(ENV)["services"]["coturn"]
    assert coturn["entrypoint"] == ["/bin/sh", "/etc/livebot/turnserver.sh"]
    env = {k: v for k, v in coturn["environment"].items() if v}
    env.update(TURN_CONF=str(tmp_path / "turnserver.conf"), TURN_PEER_ADDRESSES="192.0.2.10")
    out = turnserver_sh(env, tmp_path)
    assert out.returncode == 0, out.stderr
    conf = (tmp_path / "turnserver.conf").read_text().splitlines()
    assert "use-auth-secret" in conf and f"static-auth-secret={ENV['TURN_SECRET']}" in conf
    assert "realm=livebot.example.org" in conf and "no-tcp-relay" in conf
    assert {"min-port=49160", "max-port=49359", "listening-port=3478"} <= set(conf)
    assert "denied-peer-ip=0.0.0.0-255.255.255.255" in conf
    assert [line for line in conf if line.startswith("allowed-peer-ip")] == [
        "allowed-peer-ip=192.0.2.10"
    ]
    assert oct((tmp_path / "turnserver.conf").stat().st_mode & 0o777) == "0o600"

    short = turnserver_sh({**env, "TURN_SECRET": "short"}, tmp_path)
    assert short.returncode != 0 and "TURN_SECRET is too short" in short.stderr
    missing = turnserver_sh({k: v for k, v in env.items() if k != "TURN_SECRET"}, tmp_path)
    assert missing.returncode != 0 and "TURN_SECRET is required" in missing.stderr


def require(program: str | None, package: str) -> str:
    """A program the test command installs: its absence fails the test, never skips it."""
    if not program:
        pytest.fail(f"{package} is not installed: ./livebot test installs it")
    return program


def test_coturn_accepts_the_generated_config(tmp_path):
    """Debian's turnserver starts with it (an unknown option would stop it)."""
    require(shutil.which("turnserver"), "coturn")
    port = free_port()
    env = {
        **{k: v for k, v in rendered(ENV)["services"]["coturn"]["environment"].items() if v},
        "TURN_PORT": str(port),
        "TURN_LISTEN_IPS": "127.0.0.1",
        "TURN_RELAY_IP": "127.0.0.1",
        "TURN_PEER_ADDRESSES": "127.0.0.1",
        "TURN_CONF": str(tmp_path / "turnserver.conf"),
        "TURN_PIDFILE": str(tmp_path / "turnserver.pid"),
        "TURNSERVER": "turnserver",
    }
    proc = subprocess.Popen(
        ["sh", str(ROOT / "deploy/coturn/turnserver.sh"), "--userdb", str(tmp_path / "db")],
        env={"PATH": os.environ["PATH"], **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass  # still running: it took the configuration
        assert proc.returncode is None, proc.stdout.read() if proc.stdout else ""
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "CONFIG ERROR" not in out and "Bad configuration" not in out, out


def test_caddyfile_proxies_to_the_bots_with_health_checks_limits_and_hides_ops():
    require(shutil.which("caddy"), "caddy")
    caddy = rendered({**ENV, "BOT_UPSTREAMS": "127.0.0.1:7860 127.0.0.1:7861"})["services"]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    env.update(caddy["caddy"]["environment"])
    out = subprocess.run(
        ["caddy", "adapt", "--config", str(ROOT / "deploy/caddy/Caddyfile")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    server = config["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]
    site = server["routes"][0]
    assert site["match"] == [{"host": ["livebot.example.org"]}]
    text = json.dumps(site)
    assert '"upstreams": [{"dial": "127.0.0.1:7860"}, {"dial": "127.0.0.1:7861"}]' in text
    assert '"uri": "/readyz"' in text and '"policy": "cookie"' in text
    assert '"path": ["/metrics", "/openapi.json"]' in text
    assert '"handler": "request_body", "max_size": 131072' in text
    assert '"status_code": 413' in text and "int({http.request.header.Content-Length})" in text
    # Slow clients: head and whole request within 10 s, idle keep-alive 2 min (nanoseconds).
    assert server["read_header_timeout"] == server["read_timeout"] == 10 * 10**9
    assert server["idle_timeout"] == 120 * 10**9
    assert "tls" not in config["apps"]  # acme: Caddy's automatic certificates


async def test_radicale_config_serves_caldav_to_its_users(tmp_path):
    """The caldav profile's config, with the user-adding command its comment gives."""
    require(tool("radicale") or shutil.which("radicale"), "radicale (a dev dependency)")
    config = (ROOT / "deploy/radicale/config").read_text()
    command = re.search(r'python -c "(.+)" livebot', config)
    assert command
    users = tmp_path / "users"
    script = command.group(1).replace("/data/users", str(users))
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script, "livebot", "pw-1234"], check=True
    )
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        str(ROOT / "deploy/radicale/config"),
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--auth-htpasswd-filename",
        str(users),
        "--storage-filesystem-folder",
        str(tmp_path / "collections"),
    ]
    with service("radicale", args, os.environ, tmp_path, tmp_path / "logs") as svc:
        url = f"http://127.0.0.1:{port}/livebot/"
        async with httpx.AsyncClient(timeout=5) as http:

            async def up() -> bool:
                try:
                    await http.get(f"http://127.0.0.1:{port}/")
                    return True
                except httpx.TransportError:
                    return False

            await wait_until(up, "radicale", 30, [svc])
            anonymous = await http.request("PROPFIND", url)
            assert anonymous.status_code == 401
            ok = await http.request("PROPFIND", url, auth=("livebot", "pw-1234"))
            assert ok.status_code == 207, ok.text
            wrong = await http.request("PROPFIND", url, auth=("livebot", "nope"))
            assert wrong.status_code == 401
