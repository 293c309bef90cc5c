"""The call page's notices come and go with what they are about (web/src/notices.ts).

Before keys, a caller whose Live socket dropped read "Reconnecting to Gemini…" for the
rest of the call, though the bot was talking again, and "Gemini is slow to answer"
stayed after the answer. Here, in Chromium against the real bot and the Live
emulator: the socket drops (1011) after the first answer - the page says it is
reconnecting, then that it is back, and that line goes by itself; then the model hears
the second question and stalls - the page says the bot is asking again, and the line
goes once the answer comes. At no moment are two notices of one matter on the page.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.call import CallOptions
from gemini_emulator import LiveSession, running_emulator
from gemini_emulator.faults import stall
from testkit.bot import running_bot
from tests.browser.conftest import chromium
from tests.browser.test_call_page import wait_for
from tests.faults.helpers import record
from tools.registry import ToolRegistry

pytestmark = pytest.mark.timeout(150)

# Every change to #notices, as the caller would have seen it at that moment.
RECORD_NOTICES = """() => {
  const root = document.querySelector('#notices');
  window.noticeLog = [];
  const snap = () => [...root.querySelectorAll('.notice')].map((n) => ({
    key: n.dataset.key, level: n.dataset.level, text: n.textContent,
    role: n.getAttribute('role') || n.parentElement.getAttribute('role'),
    live: n.parentElement.getAttribute('aria-live'),
  }));
  new MutationObserver(() => window.noticeLog.push({ at: performance.now(), shown: snap() }))
    .observe(root, { subtree: true, childList: true, characterData: true });
}"""
SHOWN = "[...document.querySelectorAll('#notices .notice')].map((n) => n.textContent)"


def silent_wav(path: Path) -> Path:
    """One second of silence at 48 kHz, for Chromium's fake microphone."""
    cmd = ["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path), "trim", "0", "1"]
    subprocess.run(cmd, check=True)
    return path


def no_greeting(room: object) -> CallOptions:
    return CallOptions(greeting=None, tools=ToolRegistry(), room=room)  # type: ignore[arg-type]


def first_seen(log: list[dict[str, Any]], text: str) -> tuple[int, dict[str, Any]]:
    for i, entry in enumerate(log):
        for notice in entry["shown"]:
            if text in notice["text"]:
                return i, notice
    raise AssertionError(f"the page never showed {text!r}: {log}")


def gone_after(log: list[dict[str, Any]], start: int, key: str) -> int:
    """The first entry after `start` with no notice of `key` on the page."""
    return next(i for i in range(start, len(log)) if all(n["key"] != key for n in log[i]["shown"]))


async def asked(s: LiveSession, words: str) -> None:
    """Wait for what the caller typed (it reaches Gemini as realtime text)."""
    while not ((u := await s.next_utterance()).kind == "text" and words in (u.text or "")):
        pass


async def type_to_the_bot(page, text: str) -> None:
    await page.fill("#say-text", text)
    await page.click("#say-send")


async def test_notices_of_a_drop_and_a_stall_go_once_the_bot_is_back(tmp_path):
    state: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        await asked(s, "hello there")
        await s.say("Hello.", seconds=1.0)
        dropped = s.connection
        await s.close(1011, "Internal error encountered.")
        state["resumed"] = await s.wait_reconnect(timeout=15, after=dropped)
        await asked(s, "what time is it")
        state["nudge"] = await stall(s, nudge="helps")
        await s.say("It is noon.", seconds=1.5)

    # The caller types: what the bot is asked, and when, does not hang on when Chromium's
    # fake capture started playing. The microphone is silent (Chromium's default fake
    # device beeps, which the bot would take for a caller who keeps talking).
    silent = silent_wav(tmp_path / "silence.wav")
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path, options_factory=no_greeting) as bot,
        chromium(wav=silent) as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link())
        await page.evaluate(RECORD_NOTICES)
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)

        # The drop: "reconnecting", then "reconnected", which goes by itself.
        await type_to_the_bot(page, "hello there")
        await wait_for(page, f"{SHOWN}.includes('Reconnected to Gemini.')", timeout=20)
        await wait_for(page, "!document.querySelector('#notices .notice[data-key=session]')")
        after_drop = await page.evaluate("window.noticeLog")
        assert state["resumed"].resumed_from is not None, "the same session, resumed"

        # The stall: "asking it again", gone once the answer comes.
        await type_to_the_bot(page, "what time is it")
        await wait_for(
            page,
            "window.noticeLog.flatMap((e) => e.shown).some((n) => n.text.includes('slow to answer'))",
            timeout=20,
        )
        await wait_for(
            page, "document.querySelector('#transcript').textContent.includes('It is noon')"
        )
        await wait_for(page, "!document.querySelector('#notices .notice')", timeout=5)
        log = await page.evaluate("window.noticeLog")
        alert_hidden = await page.get_by_role("alert").is_hidden()
        in_call = (await page.evaluate("window.livebot.state()"))["inCall"]

    reconnecting_at, reconnecting = first_seen(after_drop, "Reconnecting to Gemini")
    reconnected_at, reconnected = first_seen(after_drop, "Reconnected to Gemini.")
    assert reconnecting_at < reconnected_at
    assert (reconnecting["key"], reconnecting["level"]) == ("session", "warning")
    assert (reconnected["key"], reconnected["level"]) == ("session", "info")
    # read politely (role=status), not as an alarm; nothing in the page's error banner
    assert (reconnecting["role"], reconnecting["live"]) == ("status", "polite")
    _, stalled = first_seen(log, "slow to answer")
    assert (stalled["key"], stalled["role"]) == ("stall", "status")
    assert state["nudge"] is not None, "the stall ended with the bot's nudge"
    for entry in log:
        keys = [n["key"] for n in entry["shown"]]
        assert len(keys) == len(set(keys)), f"two notices of one matter: {entry}"
    assert alert_hidden and in_call
    assert log[-1]["shown"] == [], "nothing left on the page once the bot answered"
    stalled_at, _ = first_seen(log, "slow to answer")
    stall_gone = gone_after(log, stalled_at, "stall")
    session_gone = gone_after(log, reconnected_at, "session")
    at = [entry["at"] for entry in log]  # ms on the page's clock
    record(
        "page_notices_drop_and_stall",
        reconnecting_to_reconnected_ms=round(at[reconnected_at] - at[reconnecting_at]),
        reconnected_shown_ms=round(at[session_gone] - at[reconnected_at]),
        stall_notice_shown_ms=round(at[stall_gone] - at[stalled_at]),
        most_notices_at_once=max(len(e["shown"]) for e in log),
    )


async def test_an_error_notice_stays_after_the_call_until_the_caller_dismisses_it(tmp_path):
    """A refused Live session (a wrong key): the bot says so and hangs up; the reason
    stays on the page in the lobby, announced as an alert, until the caller closes it."""
    silent = silent_wav(tmp_path / "silence.wav")
    async with (
        running_emulator(tmp_path, api_keys={"the-right-key"}) as emu,
        running_bot(emu, tmp_path, api_key="a-wrong-key") as bot,
        chromium(wav=silent) as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link())
        await page.evaluate(RECORD_NOTICES)
        await page.get_by_role("button", name="Join call").click()
        error = page.get_by_role("alert").filter(has_text="cannot reach Gemini")
        await error.wait_for(timeout=40_000)
        # the bot hangs up once the caller has been told: back in the lobby, still shown
        await wait_for(
            page, "document.querySelector('#call').hidden && !window.livebot.state().inCall"
        )
        await error.wait_for(timeout=1_000)
        shown = await page.evaluate(SHOWN)
        log = await page.evaluate("window.noticeLog")
        await page.get_by_role("button", name="Dismiss: The bot cannot reach Gemini").click()
        await wait_for(page, "!document.querySelector('#notices .notice')", timeout=5)

    assert len(shown) == 1 and "cannot reach Gemini" in shown[0], shown
    assert all(len(e["shown"]) <= 1 for e in log), "one notice for the session at a time"
    _, lost = first_seen(log, "cannot reach Gemini")
    assert (lost["key"], lost["level"], lost["role"]) == ("session", "error", "alert")
