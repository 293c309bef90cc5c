"""Built-in scripts: ``echo``, ``silent`` and the ``tool_script`` factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from .recording import FunctionResponseRecord, Utterance
from .session import LiveSession, Script, SessionGone, resample_to_output

__all__ = ["SCRIPTS", "ToolStep", "echo", "silent", "tool_script"]


async def echo(s: LiveSession) -> None:
    """Play each caller utterance back (resampled to 24 kHz); answer text with a voice-like tone.

    Audio turns carry ``inputTranscription`` "(you spoke for 1.2 s)" and an
    ``outputTranscription``; used in production when the bot runs offline.
    """
    while True:
        utt = await s.next_utterance()
        try:
            if utt.kind == "audio":
                if utt.duration < 0.05:
                    continue
                secs = f"{utt.duration:.1f}"
                await s.say(
                    f"You spoke for {secs} seconds.",
                    audio=resample_to_output(utt.pcm),
                    transcribe_input=f"(you spoke for {secs} s)",
                )
            else:
                await s.say(f"You said: {utt.text}")
        except SessionGone:
            if s.ended:
                raise
            logger.info("echo: {} has no socket; dropping the reply", s.id)
        except Exception:
            if s.ended:
                raise
            logger.exception("echo: failed to answer an utterance")


async def silent(s: LiveSession) -> None:
    """Never says anything (input is still recorded)."""
    return None


Match = str | Callable[[Utterance], bool] | None
SayAfter = str | Callable[[FunctionResponseRecord], str] | None


@dataclass
class ToolStep:
    """On an utterance matching ``when``: say ``say_before``, call ``tool(args)``,
    wait for its final response, then say ``say_after`` (text or a function of it).

    ``when``: ``None`` (any utterance), a substring of the utterance text
    (case-insensitive; audio utterances have no text) or a predicate.
    """

    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    when: Match = None
    say_before: str | None = None
    say_after: SayAfter = "Done."
    wait_response: bool = True
    response_timeout: float = 30.0

    def matches(self, utt: Utterance) -> bool:
        if self.when is None:
            return True
        if isinstance(self.when, str):
            return utt.text is not None and self.when.lower() in utt.text.lower()
        return bool(self.when(utt))


def tool_script(*steps: ToolStep, otherwise: str | None = "Okay.", repeat: bool = False) -> Script:
    """Make a script that runs ``steps`` in order as matching utterances arrive.

    Each step fires once (unless ``repeat``); an utterance that matches no remaining
    step gets ``say(otherwise)`` (nothing if ``None``).
    """

    async def script(s: LiveSession) -> None:
        remaining = list(steps)
        while True:
            utt = await s.next_utterance()
            step = next((st for st in remaining if st.matches(utt)), None)
            if step is None:
                if otherwise is not None:
                    await s.say(otherwise)
                continue
            if not repeat:
                remaining.remove(step)
            if step.say_before:
                await s.say(step.say_before)
            call_id = await s.call_tool(step.tool, step.args)
            if not step.wait_response:
                continue
            rec = await s.tool_response(call_id, timeout=step.response_timeout)
            text = step.say_after(rec) if callable(step.say_after) else step.say_after
            if text:
                await s.say(text)

    return script


#: Scripts by name (for ``python -m gemini_emulator --script NAME``).
SCRIPTS: dict[str, Script] = {"echo": echo, "silent": silent}
