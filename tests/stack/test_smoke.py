"""The compose stack end to end, natively: a browser calls through caddy and coturn.

docker-compose.yml is rendered with a test .env (`tests/stack/stack.py`); coturn, caddy
and the bot run with the environment compose gives them. Headless Chromium opens the
room link that `python -m bot room create` prints (as `docker compose exec bot ...`
does), over HTTPS through caddy, and calls with relay-only ICE, so the media can only
go through coturn. Chromium trusts caddy's internal CA by its key (an SPKI allow-list),
not by ignoring certificate errors; the Python client verifies against the CA file.

Then SIGTERM: the bot stops being ready, refuses a new join with 503 + Retry-After,
tells the caller on the page, and exits cleanly within its grace period.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import shutil
import signal
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gemini_emulator import LiveSession, running_emulator
from gemini_emulator.testing import client_env
from testkit.bot import free_port
from tests.stack.stack import ROOT, own_addresses, rendered, service, wait_until

pytestmark = pytest.mark.timeout(180)

import playwright.async_api as playwright_api  # noqa: E402

from tests.browser import conftest as browser  # noqa: E402


def require_services() -> None:
    """The stack's programs come from Debian; `./livebot test` installs them."""
    missing = [p for p in ("turnserver", "caddy") if not shutil.which(p)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: ./livebot test installs them")


FAKE_KEY = "AIzaSyFAKE-livebot-stack-test-0123456789"
GRACE = 6  # SHUTDOWN_GRACE_SECONDS for the test (30 by default)

# Every peer connection the page makes, kept for getStats. The page itself asks for
# relay-only ICE (ICE_TRANSPORT_POLICY=relay, as compose sets it): nothing is forced here.
FORCE_RELAY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (config, ...rest) {
    const pc = new Native(config, ...rest);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""

SELECTED_PAIR = """
async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return { local: local.candidateType, localAddress: local.address, relayProtocol: local.relayProtocol,
           remote: remote.candidateType, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived };
}
"""


def spki_hash(pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


async def test_a_caller_talks_through_caddy_and_coturn_then_sigterm_drains(tmp_path, speech):
    require_services()
    https_port, http_port, turn_port, bot_port, ops_port = (free_port() for _ in range(5))
    relay_min = 49160 + (os.getpid() % 500) * 20  # a private range per test run
    env = {
        # The operator's .env: what README "Deploy" asks for, plus the test's ports.
        "DOMAIN": "localhost",
        "TLS_MODE": "internal",
        "LIVEBOT_SECRET": "stack-test-" + "s" * 40,
        "TURN_SECRET": "stack-test-" + "t" * 40,
        "GOOGLE_API_KEY": FAKE_KEY,
        "TOOLS": "",
        "PORT": str(bot_port),
        "OPS_PORT": str(ops_port),  # 9860 in production
        "PUBLIC_URL": f"https://localhost:{https_port}",  # 443 in production
        "TURN_PORT": str(turn_port),  # 3478 in production
        "TURN_URLS": f"turn:127.0.0.1:{turn_port}?transport=udp",
        "TURN_MIN_PORT": str(relay_min),
        "TURN_MAX_PORT": str(relay_min + 19),
        "TURN_PEER_ADDRESSES": " ".join(own_addresses()),
        "SHUTDOWN_GRACE_SECONDS": str(GRACE),
    }
    services = rendered(env)["services"]
    logs = tmp_path / "logs"
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}

    coturn_env = {**base, **{k: v for k, v in services["coturn"]["environment"].items() if v}}
    coturn_env.update(  # loopback only, files in tmp (compose: host network, /tmp tmpfs)
        TURN_LISTEN_IPS="127.0.0.1",
        TURN_RELAY_IP="127.0.0.1",
        TURN_CONF=str(tmp_path / "turnserver.conf"),
        TURN_PIDFILE=str(tmp_path / "turnserver.pid"),
    )
    coturn_args = [
        "sh",
        str(ROOT / "deploy/coturn/turnserver.sh"),
        "--userdb",
        str(tmp_path / "db"),
    ]

    caddy_env = {**base, **services["caddy"]["environment"]}
    caddy_env.update(
        HTTPS_PORT=str(https_port),
        HTTP_PORT=str(http_port),
        CADDY_BIND="127.0.0.1",
        CADDY_ADMIN=f"127.0.0.1:{free_port()}",
        XDG_DATA_HOME=str(tmp_path / "caddy-data"),
        XDG_CONFIG_HOME=str(tmp_path / "caddy-config"),
    )
    caddy_args = ["caddy", "run", "--config", str(ROOT / "deploy/caddy/Caddyfile")]
    root_ca = tmp_path / "caddy-data/caddy/pki/authorities/local/root.crt"
    intermediate = root_ca.with_name("intermediate.crt")

    heard: list = []

    async def script(s: LiveSession) -> None:
        utterance = await s.next_utterance(timeout=60)
        while utterance.kind != "audio":  # the greeting request comes first
            utterance = await s.next_utterance(timeout=60)
        heard.append(utterance)
        await s.say("Hello through the relay.", seconds=2.5)
        await s.next_utterance(timeout=120)

    async with running_emulator(tmp_path, script=script, api_keys={FAKE_KEY}) as emu:
        bot_env = {**base, **services["bot"]["environment"], **client_env(emu)}
        bot_env.update(LIVEBOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
        bot_args = [sys.executable, "-m", "bot", "serve"]  # the image's CMD
        with (
            service("coturn", coturn_args, coturn_env, tmp_path, logs) as coturn,
            service("bot", bot_args, bot_env, tmp_path, logs) as bot,
            service("caddy", caddy_args, caddy_env, tmp_path, logs) as caddy,
        ):
            everyone = [coturn, bot, caddy]
            await wait_until(lambda: "turn server id=" in coturn.text(), "coturn", 30, everyone)
            direct = f"http://127.0.0.1:{bot_port}"
            public = f"https://localhost:{https_port}"
            async with httpx.AsyncClient(timeout=5) as plain:
                await wait_until(
                    lambda: status_is(plain, f"{direct}/readyz", 200), "the bot", 60, everyone
                )
                # Production: the ops endpoints only on the loopback ops port, not on PORT.
                assert (await plain.get(f"{direct}/metrics")).status_code == 404
                metrics = await plain.get(f"http://127.0.0.1:{ops_port}/metrics")
                assert metrics.status_code == 200 and "# TYPE" in metrics.text
                await wait_until(root_ca.exists, "caddy's internal CA", 30, everyone)

            trust = ssl.create_default_context(cafile=str(root_ca))
            async with httpx.AsyncClient(verify=trust, timeout=10) as https:

                async def proxied() -> httpx.Response | None:
                    try:
                        r = await https.get(f"{public}/readyz")
                        return r if r.status_code == 200 else None
                    except httpx.TransportError:
                        return None

                ready = await wait_until(proxied, "/readyz through caddy", 30, everyone)
                assert ready.json()["status"] == "ready"
                assert ready.headers["strict-transport-security"].startswith("max-age=")
                assert ready.headers["referrer-policy"] == "no-referrer"
                assert (await https.get(f"{public}/metrics")).status_code == 404

                # `docker compose exec bot python -m bot room create kitchen --expires 24h`
                made = await asyncio.create_subprocess_exec(
                    *bot_args[:-1], "room", "create", "kitchen", "--expires", "24h",
                    env=bot_env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                out, err = await asyncio.wait_for(made.communicate(), 60)
                assert made.returncode == 0, err.decode()
                link = re.search(r"https://\S+", out.decode())
                assert link and link.group(0).startswith(f"{public}/r/kitchen?t="), out
                link = link.group(0)

                wav = browser.mic_wav(speech, "hello, can you hear me through the relay")
                pins = ",".join({spki_hash(root_ca), spki_hash(intermediate)})
                args = [
                    *browser.BASE_ARGS,
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    # Looped: relay setup takes seconds, the first words may precede the call.
                    f"--use-file-for-fake-audio-capture={wav}",
                    f"--ignore-certificate-errors-spki-list={pins}",
                ]
                async with playwright_api.async_playwright() as p:
                    chromium = await p.chromium.launch(
                        executable_path=browser.CHROMIUM, args=args, headless=True
                    )
                    try:
                        page = await chromium.new_page()
                        await page.add_init_script(FORCE_RELAY)
                        await page.goto(link)
                        await page.get_by_role("button", name="Join call").click()
                        await page.wait_for_selector("#conn[data-state=connected]", timeout=30_000)

                        # Media went through coturn: relay candidates, bytes both ways.
                        pair = await wait_until(
                            lambda: page.evaluate(SELECTED_PAIR), "a selected ICE pair", 20
                        )
                        assert pair["local"] == "relay", pair
                        policy = await page.evaluate(
                            "() => window.__pcs.at(-1).getConfiguration().iceTransportPolicy"
                        )
                        assert policy == "relay", "the page asked for relay-only ICE itself"
                        assert pair["localAddress"] == "127.0.0.1", pair

                        # The caller's speech reached the Live endpoint (the emulator) ...
                        await wait_until(lambda: heard, "the caller's utterance", 40, everyone)
                        assert heard[0].kind == "audio" and heard[0].duration > 0.3
                        # ... and the bot's answer reached the page.
                        stats = await wait_until(
                            lambda: page.evaluate(
                                "window.livebot.inboundAudio()"
                                ".then(s => s && s.totalAudioEnergy > 0 && s)"
                            ),
                            "bot audio in the page",
                            30,
                            everyone,
                        )
                        assert stats["packetsReceived"] > 0
                        pair = await page.evaluate(SELECTED_PAIR)
                        # Media flowed both ways through the relay (a few packets suffice here).
                        assert pair["bytesSent"] > 2_000 and pair["bytesReceived"] > 2_000, pair

                        # coturn allocated with a per-call credential and relayed to the bot.
                        log = coturn.text()
                        assert "ALLOCATE processed, success" in log, log[-3000:]
                        assert re.search(r"username=<\d+:kitchen>", log), log[-3000:]
                        assert "CREATE_PERMISSION processed, success" in log
                        peers = set(re.findall(r"peer (\S+) lifetime updated", log))
                        assert peers and peers <= set(own_addresses()), peers
                        assert env["TURN_SECRET"] not in log

                        # SIGTERM: not ready, no new calls, the caller is told, clean exit.
                        stopped_at = time.monotonic()
                        bot.proc.send_signal(signal.SIGTERM)
                        await wait_until(
                            lambda: status_is(https, f"{public}/readyz", 503),
                            "/readyz 503",
                            10,
                        )
                        token = parse_qs(urlsplit(link).query)["t"][0]
                        refused = await https.post(f"{public}/api/join", json={"token": token})
                        assert refused.status_code == 503, refused.text
                        assert int(refused.headers["retry-after"]) > 0
                        notice = page.locator("#notices .notice[data-key=restart]")
                        await notice.wait_for(state="visible", timeout=10_000)
                        assert "restarting" in (await notice.text_content() or "")
                        code = await asyncio.to_thread(bot.proc.wait, GRACE + 20)
                        assert code == 0, bot.text()[-3000:]
                        assert time.monotonic() - stopped_at < GRACE + 20
                        await browser.screenshot(page, "stack-drained")
                        await page.close()  # the page releases its TURN allocation
                    finally:
                        await chromium.close()

            # coturn's own count of what it relayed for the call, logged when it ends.
            def relayed() -> bool:
                usage = re.findall(
                    r"peer usage: realm=<[^>]*>, username=<\d+:kitchen>, rp=(\d+), rb=(\d+)",
                    coturn.text(),
                )
                return max((int(rb) for _rp, rb in usage), default=0) > 10_000

            await wait_until(relayed, "coturn's usage line for the call", 20, [coturn])


async def status_is(client: httpx.AsyncClient, url: str, code: int) -> bool:
    try:
        return (await client.get(url)).status_code == code
    except httpx.TransportError:
        return False
