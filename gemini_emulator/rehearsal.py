"""Rehearsal scripts: a few lines of TOML that tell the emulated model what to do in a call.

A tool developer wants to hear their tool in a real call before there is an API key
(or without spending one): "when the caller says anything, call ``get_weather`` with
these arguments, then speak the result". Writing that against :class:`LiveSession`
takes some thirty lines and has traps: the bot's greeting arrives as client content,
and Pipecat follows it (on 3.x models) with a realtime text of one space, both of
which look like caller turns. A rehearsal counts only the caller's own turns: speech
(an audio utterance) and typed text that is not blank.

    greeting = "Hello! This is a rehearsal."   # optional: said at the start

    [[turn]]
    when = "weather"            # optional: typed text containing this (any turn if omitted)
    say = "Let me look."        # optional: said before the call
    call = "get_weather"        # optional: the tool the model calls ...
    args = { city = "Paris" }   # ... with these arguments
    reply = "It is {result.temperature} degrees in {result.city}."  # after its final result

    [[turn]]
    say = "Anything else?"

Turns are taken in order, each once; a caller turn that matches no remaining turn
gets ``otherwise`` (default: "That is all I rehearsed."). ``reply`` may use
``{result}`` (the tool's whole response, as JSON) and ``{result.KEY}`` (one field).
"""

from __future__ import annotations

import json
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from .session import LiveSession, Script, SessionGone, Utterance

__all__ = [
    "Rehearsal",
    "RehearsalError",
    "Turn",
    "Utterance",
    "fill_reply",
    "is_caller_turn",
    "load_rehearsal",
    "parse_rehearsal",
    "rehearsal_script",
]

TURN_KEYS = {"when", "say", "call", "args", "reply"}
TOP_KEYS = {"greeting", "otherwise", "turn"}


class RehearsalError(ValueError):
    """The rehearsal file cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class Turn:
    """What the model does on one caller turn."""

    when: str | None = None
    say: str | None = None
    call: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    reply: str | None = None

    def matches(self, utt: Utterance) -> bool:
        if self.when is None:
            return True
        return utt.text is not None and self.when.lower() in utt.text.lower()


@dataclass(frozen=True)
class Rehearsal:
    """A parsed rehearsal file."""

    turns: tuple[Turn, ...]
    greeting: str | None = None
    otherwise: str | None = "That is all I rehearsed."
    source: str = "<rehearsal>"

    @property
    def tools(self) -> list[str]:
        return [t.call for t in self.turns if t.call]


def _text(where: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise RehearsalError(f"{where} must be text (in quotes), not {value!r}")


def _placeholders(where: str, template: str) -> None:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise RehearsalError(f"{where}: {e} (write {{{{ and }}}} for literal braces)") from None
    for name in names:
        if name != "result" and not name.startswith("result."):
            raise RehearsalError(
                f"{where} uses {{{name}}}: only {{result}} and {{result.KEY}} can be filled in"
            )


def parse_rehearsal(text: str, source: str = "<rehearsal>") -> Rehearsal:
    """Read a rehearsal from TOML text; every problem is a :class:`RehearsalError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RehearsalError(f"{source}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise RehearsalError(
            f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}"
        )
    raw_turns = data.get("turn", [])
    if not isinstance(raw_turns, list) or not raw_turns:
        raise RehearsalError(f"{source}: no [[turn]]: write at least one turn (see the README)")
    turns = []
    for i, raw in enumerate(raw_turns, 1):
        where = f"{source}: turn {i}"
        if not isinstance(raw, dict):
            raise RehearsalError(f"{where} must be a table ([[turn]])")
        extra = sorted(set(raw) - TURN_KEYS)
        if extra:
            raise RehearsalError(
                f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(TURN_KEYS))}"
            )
        args = raw.get("args", {})
        if not isinstance(args, dict):
            raise RehearsalError(f'{where}: args must be a table, e.g. args = {{ city = "Paris" }}')
        call = _text(f"{where}: call", raw.get("call"))
        if args and not call:
            raise RehearsalError(f'{where} has args but no call: name the tool with call = "..."')
        reply = _text(f"{where}: reply", raw.get("reply"))
        if reply is not None:
            if not call:
                raise RehearsalError(f'{where} has a reply but no call: use say = "..." instead')
            _placeholders(f"{where}: reply", reply)
        turn = Turn(
            when=_text(f"{where}: when", raw.get("when")),
            say=_text(f"{where}: say", raw.get("say")),
            call=call,
            args=args,
            reply=reply,
        )
        if not (turn.say or turn.call):
            raise RehearsalError(f"{where} does nothing: give it a say or a call")
        turns.append(turn)
    return Rehearsal(
        turns=tuple(turns),
        greeting=_text(f"{source}: greeting", data.get("greeting")),
        otherwise=_text(f"{source}: otherwise", data.get("otherwise", Rehearsal.otherwise)),
        source=source,
    )


def load_rehearsal(path: str | Path) -> Rehearsal:
    """Read a rehearsal file (a clear :class:`RehearsalError` if it is missing or wrong)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise RehearsalError(f"{p}: cannot read the rehearsal file: {e.strerror or e}") from None
    return parse_rehearsal(text, str(p))


class _Field:
    """``{result.KEY}`` in a reply: one field of the tool's response."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def __getattr__(self, key: str) -> Any:
        if isinstance(self._value, dict) and key in self._value:
            return _Field(self._value[key])
        return _Field(f"<no {key}>")

    def __format__(self, spec: str) -> str:
        v = self._value
        return format(v, spec) if isinstance(v, str | int | float) else json.dumps(v)


def fill_reply(template: str, response: dict[str, Any]) -> str:
    """The reply with ``{result}`` / ``{result.KEY}`` filled from the tool's response."""
    return template.format(result=_Field(response))


def is_caller_turn(utt: Utterance) -> bool:
    """Speech, or typed text that is not blank (the greeting and the " " nudge are not)."""
    if utt.kind == "audio":
        return utt.duration >= 0.05
    return utt.kind == "text" and bool((utt.text or "").strip())


def rehearsal_script(rehearsal: Rehearsal) -> Script:
    """The emulator script that plays ``rehearsal``."""

    async def script(s: LiveSession) -> None:
        remaining = list(rehearsal.turns)
        greeted = rehearsal.greeting is None
        while True:
            utt = await s.next_utterance()
            try:
                if utt.kind == "client_content" and not greeted:
                    greeted = True
                    await s.say(rehearsal.greeting or "")
                    continue
                if not is_caller_turn(utt):
                    continue
                turn = next((t for t in remaining if t.matches(utt)), None)
                if turn is None:
                    if rehearsal.otherwise:
                        await s.say(rehearsal.otherwise)
                    continue
                remaining.remove(turn)
                await _play(s, turn)
            except SessionGone:
                if s.ended:
                    raise
                logger.info("rehearsal: {} has no socket; the turn is dropped", s.id)

    return script


async def _play(s: LiveSession, turn: Turn) -> None:
    if turn.say:
        await s.say(turn.say)
    if not turn.call:
        return
    call_id = await s.call_tool(turn.call, turn.args)
    rec = await s.tool_response(call_id, timeout=60)
    if turn.reply:
        await s.say(fill_reply(turn.reply, rec.response))
