"""The caller transcript: pieces joined by role, the reconnect summary (bot/live/transcript.py)."""

import asyncio

from bot.live.transcript import SUMMARY_PREAMBLE, CallerTranscript, summary


def test_nothing_said_is_no_summary():
    assert summary([]) == ""
    assert CallerTranscript().summary() == ""


def test_consecutive_pieces_of_one_role_are_one_line():
    t = CallerTranscript()
    for role, text in [("user", "Turn on "), ("user", "the desk light"), ("bot", "Done.")]:
        t.heard(role, text)
    assert t.summary() == SUMMARY_PREAMBLE + "Caller: Turn on the desk light\nYou: Done."


def test_the_summary_keeps_the_newest_lines_within_the_limit():
    pieces = [("user" if i % 2 == 0 else "bot", f"line {i}") for i in range(100)]
    text = summary(pieces, max_chars=60)
    lines = text.removeprefix(SUMMARY_PREAMBLE).splitlines()
    assert lines[-1] == "You: line 99" and len("\n".join(lines)) <= 60
    assert "line 0" not in text


def test_caller_words_count_as_a_caller_turn_for_the_guard():
    t = CallerTranscript()
    t.intent.model_turn_ended()
    t.heard("bot", "Hello")  # the bot's words are not the caller's
    at = t.intent.mark()
    assert t.intent.verdict("act", {}, at=at, confirm=False).allowed is False
    t.heard("user", "please do")
    assert t.intent.verdict("act", {}, at=at, confirm=False).allowed is True


async def test_the_guard_waits_briefly_for_a_lagging_caption():
    t = CallerTranscript()
    t.intent.model_turn_ended()
    at = t.intent.mark()

    async def caption_arrives() -> None:
        await asyncio.sleep(0.05)
        t.heard("user", "switch it on")

    task = asyncio.create_task(caption_arrives())
    verdict = await t.judge("act", {}, at=at, confirm=False)
    await task
    assert verdict.allowed
