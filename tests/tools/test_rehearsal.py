"""Rehearsing a tool: the README's script, played by `serve --rehearse`, typed to with `call --text`."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from gemini_emulator.rehearsal import (
    RehearsalError,
    Utterance,
    fill_reply,
    is_caller_turn,
    parse_rehearsal,
)
from tests.serving import run_bot, serving

ROOT = Path(__file__).resolve().parents[2]


def readme_rehearsal() -> str:
    """The first ```toml block of the README's "Rehearsing a tool in a call"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Rehearsing a tool in a call", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


async def test_the_readme_rehearsal_plays_through_livebot_call(tmp_path: Path) -> None:
    script = tmp_path / "rehearse.toml"
    script.write_text(readme_rehearsal())
    async with serving(tmp_path, "--rehearse", str(script)) as bot:
        assert "REHEARSAL" in bot.banner and str(script) in bot.banner, bot.banner
        call = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot", "call", bot.link),
            *("--text", "what time is it", "--text", "thanks", "--seconds", "0.5"),
            cwd=tmp_path,
            env=bot.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(call.communicate(), 90)
        text = out.decode()
        said = [line for line in text.splitlines() if line.startswith(("bot ", "you ", "tool "))]
        assert call.returncode == 0, text
        assert said[0] == "bot   Hello! This is a rehearsal.", text
        assert said[1:5] == [
            "you   (typed) what time is it",
            "bot   Let me look at the clock.",
            "tool  current_time running",
            "tool  current_time done",
        ], text
        # The reply is filled from the tool's real result: today's weekday and time.
        assert re.fullmatch(
            r"bot   It is (Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \d{4}-\d\d-\d\dT[\d:]{8}\S*\.",
            said[5],
        ), text
        assert said[6:] == ["you   (typed) thanks", "bot   Anything else?"], text


def test_serve_refuses_a_rehearsal_that_calls_a_tool_not_enabled(tmp_path: Path) -> None:
    script = tmp_path / "r.toml"
    script.write_text('[[turn]]\ncall = "get_weather"\nargs = { city = "Paris" }\n')
    run = run_bot(tmp_path, "serve", "--rehearse", str(script))
    assert run.returncode == 2
    assert "'get_weather', which is not an enabled tool" in run.stderr
    assert "current_time" in run.stderr and "TOOLS" in run.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("greeting = 'hi'\n", "no [[turn]]"),
        ("[[turn]]\nsay = 'x'\nwhen = 3\n", "turn 1: when must be text"),
        ("[[turn]]\nsay = 'x'\n[[turn]]\nspeak = 'y'\n", "turn 2: unknown key(s) speak"),
        ("[[turn]]\nreply = 'done'\n", "turn 1 has a reply but no call"),
        ("[[turn]]\nargs = { a = 1 }\n", "turn 1 has args but no call"),
        ("[[turn]]\ncall = 't'\nargs = 3\n", "turn 1: args must be a table"),
        ("[[turn]]\ncall = 't'\nreply = '{answer}'\n", "uses {answer}"),
        ("[[turn]]\nwhen = 'x'\n", "turn 1 does nothing"),
        ("[[turn]\n", "not valid TOML"),
        ("voice = 'Puck'\n[[turn]]\nsay = 'x'\n", "unknown key(s) voice"),
    ],
)
def test_a_wrong_rehearsal_says_where_and_what(text: str, message: str) -> None:
    with pytest.raises(RehearsalError) as e:
        parse_rehearsal(text, "my.toml")
    assert message in str(e.value) and str(e.value).startswith("my.toml")


def test_the_reply_is_filled_from_the_result() -> None:
    response = {"city": "Paris", "temp": 21, "days": ["mon"], "nested": {"a": 1}}
    assert fill_reply("{result.city}: {result.temp}", response) == "Paris: 21"
    assert fill_reply("{result.days} {result.nested.a}", response) == '["mon"] 1'
    assert fill_reply("{result.wind}", response) == "<no wind>"
    assert fill_reply("{result}", {"ok": True}) == '{"ok": true}'


def test_only_the_callers_own_turns_count() -> None:
    speech = Utterance(kind="audio", connection=0, pcm=b"\0\0" * 16000)
    click = Utterance(kind="audio", connection=0, pcm=b"\0\0" * 100)
    typed = Utterance(kind="text", connection=0, text="hello")
    nudge = Utterance(kind="text", connection=0, text=" ")
    greeting = Utterance(kind="client_content", connection=0, text="Greet the caller")
    assert [is_caller_turn(u) for u in (speech, click, typed, nudge, greeting)] == [
        True,
        False,
        True,
        False,
        False,
    ]
