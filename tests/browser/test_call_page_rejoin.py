"""A reload in the middle of a call: the page comes back to the same conversation by
itself (web/src/rejoin.ts, bot/rejoin.py) — the same Live session resumed, no second
greeting, what was said before on the page again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.call import CallOptions
from gemini_emulator import LiveSession, Utterance, running_emulator
from testkit.bot import running_bot
from tests.browser.conftest import chromium, mic_wav
from tests.browser.test_call_page import wait_for

pytestmark = pytest.mark.timeout(150)
TRANSCRIPT = "document.querySelector('#transcript').textContent"


def late_words(speech, text: str, after: float = 3.0) -> Path:
    """The fake microphone's words, `after` seconds into each capture (a capture starts
    when the page opens the microphone, before the call is up)."""
    wav = mic_wav(speech, text)
    out = wav.with_name(f"{wav.stem}-late.wav")
    if not out.exists():
        subprocess.run(["sox", str(wav), str(out), "pad", str(after), "0"], check=True)
    return out


async def test_a_reload_mid_call_comes_back_to_the_same_conversation(tmp_path, speech):
    seen: list[Utterance] = []

    async def spoken(s: LiveSession) -> None:
        while (u := await s.next_utterance()).kind != "audio":
            seen.append(u)
            if u.kind == "client_content":
                await s.say("Welcome to the test room.", seconds=0.5)
        seen.append(u)

    async def script(s: LiveSession) -> None:
        await spoken(s)
        await s.say("First answer.", seconds=1.0, transcribe_input="hello there")
        await s.issue_resumption_update()
        await spoken(s)  # the fake microphone speaks again on the reloaded page
        await s.say("Second answer.", seconds=1.0, transcribe_input="hello again")

    greeted = lambda room: CallOptions(greeting="Greet the caller.", room=room)  # noqa: E731
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=greeted) as bot,
        chromium(wav=late_words(speech, "hello there")) as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link())
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await wait_for(page, f"{TRANSCRIPT}.includes('First answer')", timeout=30)

        await page.reload()  # nobody clicks anything after this
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        # What was said before the reload is on the page again, before anything new.
        await wait_for(
            page, f"{TRANSCRIPT}.includes('hello there') && {TRANSCRIPT}.includes('First answer')"
        )
        info = await page.text_content("#info")
        await wait_for(page, f"{TRANSCRIPT}.includes('Second answer')", timeout=40)
        shown = await page.evaluate(TRANSCRIPT)

    assert "Welcome back" in (info or "")
    # One Live session, resumed by the second socket; greeted once, on the first.
    assert len(emu.sessions) == 1
    session = emu.sessions[0]
    assert [c.resumed_from is not None for c in session.connections] == [False, True]
    assert [u.connection for u in seen if u.kind == "client_content"] == [0]
    assert shown.count("Welcome to the test room") == 1
    assert shown.count("First answer") == 1
