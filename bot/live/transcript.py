"""The caller's side of the call, as the stage hears it: words, turn order, a summary.

Why its own module: three things read what was said, and they must agree. The tools
guard (`caller_intent.py`) judges an acting call by the order of caller turns, model
turn ends and tool text; an acting call whose caller turn has not been transcribed
yet waits a moment for it; and a fresh session after a lost one is seeded with a
bounded summary of the conversation instead of its whole history. The stage reports
what it sees here, once, and each of them reads it.

`summary()` and `CallerIntent` are pure; `CallerTranscript` only adds the event a
waiting guard wakes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, cast

from bot.events import Role
from bot.live.caller_intent import CallerIntent, Refusal, Verdict

KEEP_PIECES = 200  # consecutive pieces of one role are one; older ones age out
SUMMARY_CHARS = 2000
CAPTION_WAIT_SECONDS = 1.5  # a caller's transcription can lag their toolCall this much

SUMMARY_PREAMBLE = (
    "(The connection was renewed. This is a summary of the conversation so far, "
    "from its transcript; carry on from it without greeting the caller again.)\n"
)


def summary(pieces: list[tuple[Role, str]], max_chars: int = SUMMARY_CHARS) -> str:
    """The conversation so far, newest last, within `max_chars` ("" if nothing was said)."""
    lines: list[str] = []
    used = 0
    for role, text in reversed(pieces):
        line = f"{'Caller' if role == 'user' else 'You'}: {text.strip()}"
        if used + len(line) > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
    if not lines:
        return ""
    return SUMMARY_PREAMBLE + "\n".join(reversed(lines))


class CallerTranscript:
    """One call's transcript and the guard's timeline, fed by the stage."""

    def __init__(self) -> None:
        self.intent = CallerIntent()
        self._pieces: list[tuple[Role, str]] = []  # consecutive pieces of one role joined
        self._caller_heard = asyncio.Event()  # set (and replaced) on each caller input

    # ---- what the stage reports ------------------------------------------

    def heard(self, role: Role, text: str) -> None:
        """A transcription piece (or typed text): kept for the summary; the caller's
        counts as caller input."""
        if role == "user" and text.strip():
            self.caller()
        if self._pieces and self._pieces[-1][0] == role:
            self._pieces[-1] = (role, self._pieces[-1][1] + text)
        else:
            self._pieces.append((role, text))
        del self._pieces[:-KEEP_PIECES]

    def restore(self, pieces: list[tuple[str, str]]) -> None:
        """A rejoined call's transcript so far (`pieces()` of the call the caller left)."""
        kept = [(cast(Role, role), text) for role, text in pieces if role in ("user", "bot")]
        self._pieces = kept[-KEEP_PIECES:]

    def pieces(self) -> list[tuple[Role, str]]:
        return list(self._pieces)

    def caller(self) -> None:
        """The caller produced input (transcribed speech, typed text, a barge-in)."""
        self.intent.caller()
        self._caller_heard.set()
        self._caller_heard = asyncio.Event()

    # ---- what the stage and the ledger ask -------------------------------

    def caller_words(self, max_chars: int = SUMMARY_CHARS) -> str:
        """The caller's recent words (speech as transcribed, typed text), newest last."""
        words = " ".join(" ".join(text.split()) for role, text in self._pieces if role == "user")
        return words[-max_chars:].lstrip()

    def summary(self, max_chars: int = SUMMARY_CHARS) -> str:
        return summary(self._pieces, max_chars)

    async def judge(
        self, tool: str, arguments: Mapping[str, Any] | None, *, at: int, confirm: bool
    ) -> Verdict:
        """The guard's decision on an acting call that arrived at `at` (see
        `caller_intent.py`); with no caller turn yet, first wait a moment for its
        transcription, which can lag the toolCall."""
        if self.intent.verdict(tool, arguments, at=at, confirm=confirm).refusal is (
            Refusal.NO_CALLER_TURN
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._caller_heard.wait(), CAPTION_WAIT_SECONDS)
        return self.intent.decide(tool, arguments, at=at, confirm=confirm)
