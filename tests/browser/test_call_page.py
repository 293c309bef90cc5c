"""The call page in a real headless Chromium, against the whole bot and the Live emulator.

Chromium's fake microphone says "turn on the kitchen lights"; the emulator hears it,
calls the lights tool and answers. The page must show all of it.
"""

from __future__ import annotations

import asyncio
import re
from zoneinfo import ZoneInfo

import pytest

from bot.rooms import Room
from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot
from tests.browser.conftest import chromium, mic_wav, screenshot
from tools.toolset import load_toolsets

pytestmark = pytest.mark.timeout(120)
FAKE_KEY = "AIzaSyFAKE-livebot-browser-test-0123456789"


async def wait_for(page, js: str, timeout: float = 40.0, arg=None):
    """Poll a JS expression in the page until it is truthy; return its value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await page.evaluate(js, arg)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for: {js}")
        await asyncio.sleep(0.2)


async def test_a_call_shows_transcript_tools_lights_and_plays_the_bot(tmp_path, speech):
    toolsets = load_toolsets(["lights"], {}, tmp_path / "tools", ZoneInfo("UTC"))
    for ts in toolsets:
        await ts.start()

    async def script(s: LiveSession) -> None:
        # The question, not a blip: under load the fake microphone's start has made a
        # short utterance before the words, and an answer given then was cut by them.
        while (await s.next_utterance()).duration < 0.5:
            pass
        await s.send_raw(s.transcribe("turn on the kitchen lights"))  # then the model acts
        call_id = await s.call_tool("set_light", {"name": "kitchen ceiling", "on": True})
        await s.tool_response(call_id)
        while (await s.say("The kitchen light is on.", seconds=2.0)).interrupted:
            await s.next_utterance()  # the caller spoke over it: answer once they stop

    seen: list[str] = []
    wav = mic_wav(speech, "turn on the kitchen lights")
    try:
        async with (
            running_emulator(tmp_path, script=script, api_keys={FAKE_KEY}) as emu,
            running_bot(emu, tmp_path, toolsets=toolsets, api_key=FAKE_KEY) as bot,
            chromium(wav=wav) as browser,
        ):
            bot.rooms.put(Room(name="kitchen", toolsets={"lights": {"room": "kitchen"}}))
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            hosts: set[str] = set()

            async def record(response) -> None:
                hosts.add(re.sub(r"^(\w+://[^/]+).*$", r"\1", response.url))
                try:
                    seen.append(response.url + "\n" + await response.text())
                except Exception:  # bodies of redirects and media are not available
                    seen.append(response.url)

            page.on("response", lambda r: asyncio.ensure_future(record(r)))
            page.on("websocket", lambda ws: seen.append(ws.url))
            logs: list[str] = []
            page.on("console", lambda m: logs.append(m.text))

            await page.goto(bot.link("kitchen"))
            await page.get_by_role("button", name="Join call").click()
            await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)

            # What the emulator transcribed, and the bot's answer.
            await page.wait_for_selector("#transcript li.user", timeout=40_000)
            await wait_for(
                page,
                "document.querySelector('#transcript').textContent.includes('kitchen lights')",
            )
            # The lights tool with its scheduling mode, and the light it switched on.
            tool = page.locator("#tools li", has_text="set_light")
            await tool.wait_for(timeout=40_000)
            await wait_for(page, "document.querySelector('#tools li')?.dataset.state === 'done'")
            assert await tool.get_attribute("data-scheduling") in {
                "SILENT",
                "WHEN_IDLE",
                "INTERRUPT",
            }
            await wait_for(
                page,
                "document.querySelector('#lights li[data-name=\"kitchen ceiling\"]')"
                "?.dataset.on === 'true'",
            )
            # Bot audio reached the page: WebRTC stats and the page's own meter.
            stats = await wait_for(
                page,
                "window.livebot.inboundAudio().then(s => s && s.totalAudioEnergy > 0 && s)",
            )
            assert stats["packetsReceived"] > 0
            try:
                await wait_for(
                    page, "Number(document.querySelector('#bot-meter').dataset.peak) > 2"
                )
            except AssertionError as e:  # say what the page had, for a failure seen once in CI
                audio = await page.evaluate(
                    "(async () => { const a = document.querySelector('#bot-audio');"
                    " return {paused: a.paused, readyState: a.readyState,"
                    " peak: document.querySelector('#bot-meter').dataset.peak,"
                    " inbound: await window.livebot.inboundAudio(),"
                    " state: window.livebot.state()}; })()"
                )
                raise AssertionError(f"{e}; the page's bot audio: {audio}") from None
            await wait_for(page, "Number(document.querySelector('#mic-meter').dataset.peak) > 2")

            await screenshot(page, "call-desktop")
            await page.set_viewport_size({"width": 390, "height": 844})
            await screenshot(page, "call-phone")

            await page.get_by_role("button", name="Hang up").click()
            await page.get_by_role("button", name="Join call").wait_for()
            await context.close()
    finally:
        for ts in toolsets:
            await ts.stop()
    everything = "\n".join(seen)
    assert FAKE_KEY not in everything
    assert hosts and all(h.startswith("http://127.0.0.1") for h in hosts), hosts


async def test_typed_text_reaches_the_live_stage(tmp_path, speech):
    typed: dict[str, str] = {}

    async def script(s: LiveSession) -> None:
        while True:
            utterance = await s.next_utterance(timeout=60)
            if utterance.kind == "text":
                typed["text"] = typed.get("text", "") + (utterance.text or "")
            if "keyboard" in typed.get("text", ""):
                await s.say("You typed to me.", seconds=1.0)

    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link("lobby"))
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await page.get_by_label("Type a message to the bot").fill("hello from the keyboard")
        await page.keyboard.press("Enter")
        await page.locator("#transcript li.user", has_text="hello from the keyboard").wait_for()
        assert await page.get_by_label("Type a message to the bot").input_value() == ""
        for _ in range(50):
            if "hello from the keyboard" in typed.get("text", ""):
                break
            await asyncio.sleep(0.2)
        assert "hello from the keyboard" in typed.get("text", ""), typed
