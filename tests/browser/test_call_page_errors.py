"""What the caller reads when a call cannot happen, in a real Chromium against the bot.

Each case shows its own clear message in the page's alert, and the bot keeps serving.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bot import links
from bot.rooms import Room
from caller import Caller
from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.browser.conftest import chromium, screenshot

pytestmark = pytest.mark.timeout(120)


async def alert_text(page, timeout: float = 40_000) -> str:
    alert = page.get_by_role("alert")
    await alert.wait_for(state="visible", timeout=timeout)
    return " ".join((await alert.inner_text()).split())


async def still_serving(url: str) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/healthz")).status_code == 200


async def join(page, link: str) -> None:
    await page.goto(link)
    await page.get_by_role("button", name="Join call").click()


async def test_expired_tampered_and_unknown_links(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        bot.rooms.put(Room(name="kitchen"))
        page = await browser.new_page()

        # Valid when the page opened, expired by the time the caller clicks.
        await page.goto(links.room_url(bot.url, bot.secret, "kitchen", 2))
        await asyncio.sleep(3)
        await page.get_by_role("button", name="Join call").click()
        assert "link has expired" in await alert_text(page)

        # A link opened elsewhere whose key was changed: the server's own page says so...
        good = bot.link("kitchen")
        tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
        r = await page.goto(tampered)
        assert r.status == 403 and "not valid" in await page.content()
        # ...and the call page, should it hold such a key, says it too.
        html = (await (await page.goto(good)).text()).encode()
        await page.route(tampered, lambda route: route.fulfill(body=html, content_type="text/html"))
        await join(page, tampered)
        assert "link is not valid" in await alert_text(page)

        # No key at all.
        await page.route(
            f"{bot.url}/r/kitchen", lambda route: route.fulfill(body=html, content_type="text/html")
        )
        await page.goto(f"{bot.url}/r/kitchen")
        assert "link is incomplete" in await alert_text(page)
        await screenshot(page, "error-incomplete-link")
        await still_serving(bot.url)


async def test_a_reused_ticket_says_so(tmp_path):
    """The join ticket is spent on one connection; the page says what to do if it is reused."""
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        async with Caller(bot.link()) as first:
            await first.connect(timeout=15)
            spent = first.joined
            page = await browser.new_page()

            async def reuse(route) -> None:
                await route.fulfill(
                    status=200, content_type="application/json", body=json.dumps(spent)
                )

            await page.route("**/api/join", reuse)
            await join(page, bot.link())
            assert "already set up" in await alert_text(page)
            await still_serving(bot.url)


async def test_a_full_room_says_so(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        bot.rooms.put(Room(name="booth", max_callers=1))
        async with Caller(bot.link("booth")) as first:
            await first.connect(timeout=15)
            page = await browser.new_page()
            await join(page, bot.link("booth"))
            assert "room is full" in await alert_text(page)
            await screenshot(page, "error-room-full")
        await still_serving(bot.url)


async def test_too_many_attempts_says_how_long_to_wait(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, join_burst=1, join_rate_per_minute=1) as bot,
        chromium() as browser,
    ):
        link = bot.link()
        async with httpx.AsyncClient() as http:
            token = link.split("t=", 1)[1]
            await http.post(f"{bot.url}/api/join", json={"token": token})
        page = await browser.new_page()
        await join(page, link)
        text = await alert_text(page)
        assert "Too many attempts" in text and "wait" in text
        await still_serving(bot.url)


async def test_microphone_denied(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium(fake_ui=False) as browser,
    ):
        context = await browser.new_context(permissions=[])
        page = await context.new_page()
        joins: list[str] = []
        page.on("request", lambda r: joins.append(r.url) if "/api/join" in r.url else None)
        await join(page, bot.link())
        assert "Microphone access was denied" in await alert_text(page)
        assert not joins, "a denied microphone must not spend the link"
        await screenshot(page, "error-mic-denied")
        await still_serving(bot.url)


async def test_no_microphone(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await page.add_init_script(
            "navigator.mediaDevices.getUserMedia = () =>"
            " Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));"
        )
        await join(page, bot.link())
        assert "No microphone found" in await alert_text(page)
        await still_serving(bot.url)


async def test_a_malformed_offer_is_refused_clearly(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        page = await browser.new_page()

        async def garble(route) -> None:
            if route.request.method != "POST":
                await route.continue_()
                return
            body = json.loads(route.request.post_data or "{}")
            body["sdp"] = "v=0\r\nthis is not an offer\r\n"
            await route.continue_(post_data=json.dumps(body))

        await page.route("**/api/offer", garble)
        await join(page, bot.link())
        assert "could not be set up" in await alert_text(page)
        await page.unroute("**/api/offer")
        # The server keeps serving: the same page can call properly now.
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await still_serving(bot.url)


async def test_offline_echo_mode_is_explained(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, echo=True) as bot,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await join(page, bot.link())
        status = page.locator("#info")
        await status.wait_for(state="visible", timeout=40_000)
        assert await status.get_attribute("role") == "status"
        assert "echo" in (await status.inner_text()).lower()
        assert await page.get_by_role("alert").is_hidden()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await screenshot(page, "echo-mode")
