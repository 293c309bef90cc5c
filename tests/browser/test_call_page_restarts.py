"""The real page, through several ICE restarts in one call: every restart offer and every
trickled candidate PATCH is taken (the ticket follows the call to each new pc_id), and the
server keeps one connection-map key. Before: the page's PATCHes after the first restart got
403 "belongs to another connection" and a second restart got 403."""

from __future__ import annotations

import asyncio
import re

import pytest

from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.browser.conftest import chromium, mic_wav
from tests.browser.test_call_page import wait_for
from tests.faults.helpers import record

pytestmark = pytest.mark.timeout(150)
RESTARTS = 3


def ufrags(body: str | None) -> list[str]:
    """Which offers (ICE ufrags) a signalling request is about."""
    return sorted(set(re.findall(r"ufrag[ :]([A-Za-z0-9+/]{4,})", body or "")))


async def test_the_page_restarts_its_connection_again_and_again(tmp_path, speech):
    signalling: list[tuple[str, int]] = []
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium(wav=mic_wav(speech, "hello there")) as browser,
    ):
        page = await browser.new_page()
        page.on(
            "response",
            lambda r: (
                signalling.append((r.request.method, r.status, ufrags(r.request.post_data)))
                if r.url.endswith("/api/offer")
                else None
            ),
        )
        await page.goto(bot.link())
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        pc_ids = [next(iter(bot.connections.pc_ids))]
        keys = []
        for _ in range(RESTARTS):
            offers = sum(1 for m, _s, _b in signalling if m == "POST")
            await page.evaluate("window.livebot.restartConnection()")
            await wait_for(
                page,
                f"window.livebot.state().ice === 'connected' && {offers + 1}",
            )
            async with asyncio.timeout(20):
                while sum(1 for m, _s, _b in signalling if m == "POST") <= offers:
                    await asyncio.sleep(0.1)
                while bot.connections.pc_ids == pc_ids[-1:]:
                    await asyncio.sleep(0.1)
            await wait_for(page, "window.livebot.state().ice === 'connected'")
            pc_ids.append(next(iter(bot.connections.pc_ids)))
            keys.append(len(bot.connections.pc_ids))
        await asyncio.sleep(1.0)  # the last trickled candidates

        refused = [(m, s) for m, s, _b in signalling if s >= 400]
        assert refused == [], signalling
        assert sum(1 for m, _s, _b in signalling if m == "PATCH") >= RESTARTS, signalling
        assert keys == [1] * RESTARTS and len(set(pc_ids)) == RESTARTS + 1
        assert len(bot.calls.calls) == 1
        state = await page.evaluate("window.livebot.state()")
        assert state["inCall"] and state["mic"] == "live"
        assert await page.get_by_role("alert").is_hidden()
    record(
        "page_ice_restarts",
        restarts=RESTARTS,
        offers=[s for m, s, _b in signalling if m == "POST"],
        patches=[s for m, s, _b in signalling if m == "PATCH"],
        signalling=signalling,
        map_keys_after_each_restart=keys,
    )
