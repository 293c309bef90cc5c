"""No secret (Gemini key, link secret, TURN secret) in any response, page or log line;
security headers on every page."""

from __future__ import annotations

import httpx
import pytest
from loguru import logger

from caller import Caller
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot

pytestmark = pytest.mark.timeout(90)

GEMINI_KEY = "AIzaSyFAKE-secret-scan-0123456789abcdef"
LINK_SECRET = "link-secret-for-the-scan-" + "q" * 24
TURN_SECRET = "turn-secret-for-the-scan-" + "z" * 24
SECRETS = (GEMINI_KEY, LINK_SECRET, TURN_SECRET)


async def test_no_secret_anywhere_and_pages_are_locked_down(tmp_path, speech):
    logs: list[str] = []
    sink = logger.add(lambda m: logs.append(str(m)), level="TRACE")
    responses: list[httpx.Response] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        await s.say("Hello.", seconds=0.4)

    try:
        async with (
            running_emulator(tmp_path, script=script, api_keys={GEMINI_KEY}) as emu,
            running_bot(
                emu,
                tmp_path,
                api_key=GEMINI_KEY,
                secret=LINK_SECRET,
                turn_urls=("turn:127.0.0.1:3478",),
                turn_secret=TURN_SECRET,
            ) as bot,
            httpx.AsyncClient(base_url=bot.url) as http,
        ):
            link = bot.link()
            token = link.split("t=")[1]
            for request in [
                http.build_request("GET", "/"),
                http.build_request("GET", link),
                http.build_request("GET", link[:-4] + "AAAA"),
                http.build_request("GET", "/r/lobby"),
                http.build_request("GET", "/static/app.js"),
                http.build_request("GET", "/static/app.css"),
                http.build_request("GET", "/healthz"),
                http.build_request("GET", "/readyz"),
                http.build_request("GET", "/metrics"),
                http.build_request("GET", "/openapi.json"),
                http.build_request("GET", "/docs"),
                http.build_request("POST", "/api/join", json={"token": token}),
                http.build_request("POST", "/api/join", json={"token": "forged.token"}),
                http.build_request("POST", "/api/offer", json={"sdp": "v=0", "type": "offer"}),
                http.build_request("PATCH", "/api/offer", json={"pc_id": "x", "candidates": []}),
                http.build_request("GET", "/no/such/page"),
            ]:
                responses.append(await http.send(request))
            async with Caller(link) as caller:
                await caller.connect(timeout=15)
                await caller.play_wav(speech("hello there"))
                await caller.wait_for_audio(0.3, timeout=20)
                seen_on_call = repr(caller.data_messages) + repr(caller.joined)
            responses.append(await http.get("/metrics"))
    finally:
        logger.remove(sink)

    texts = [r.text + "".join(f"{k}: {v}\n" for k, v in r.headers.items()) for r in responses] + [
        seen_on_call,
        *logs,
    ]
    for secret in SECRETS:
        leaks = [t[:200] for t in texts if secret in t]
        assert not leaks, f"a secret leaked: {leaks}"
    assert any("turn:" in t for t in texts), "TURN credentials were handed out (derived)"

    for r in responses:
        assert r.status_code < 500, (r.request.url, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        if r.headers.get("content-type", "").startswith("text/html"):
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
            assert r.headers["x-frame-options"] == "DENY"
