"""What a call costs: Gemini's `usageMetadata` counted, summed per call, and an optional cap.

Why our own: Pipecat turns `usageMetadata` into an `LLMUsageMetricsFrame` only when it
comes with `turnComplete`, folded into prompt/completion totals (no modality for
text, nothing an operator can see per call). Here every message that carries it is
counted by direction (prompt, response, thoughts, tool_prompt) and modality (audio,
text, ...) into a `TokensUsed` event (the metrics count it), summed for the call, and
logged in one line when the call ends. The Live API reports each turn's usage (its
prompt is the context so far, which is what is billed again every turn), so the sum
is what the call cost.

A cap (`LIVE_CALL_MAX_TOKENS`, `LIVE_CALL_MAX_MINUTES`) winds the call down
gracefully: the page is told (`CallCapReached`), the caller's audio stops going to
the model, the model is asked to say a short goodbye (a client-content turn, the
way Gemini Live takes an instruction mid-session), and once that turn is over (or
after `GOODBYE_TIMEOUT_SECONDS`) the call is hung up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from google.genai.types import Content, LiveServerMessage, ModalityTokenCount, Part, UsageMetadata
from loguru import logger

from bot.events import CallCapReached, CapName, TokensUsed
from bot.live.call_events import CallEvents
from bot.live.limits import LiveLimits

GOODBYE = (
    "This call has reached its limit and ends now. In one short sentence, in the "
    "caller's language, tell the caller you have to end the call, and say goodbye. "
    "Do not call any tool."
)
GOODBYE_TIMEOUT_SECONDS = 12.0  # for the goodbye turn to end
HANG_UP_GRACE_SECONDS = 1.5  # for the last words and the notice to reach the caller
StartTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


def usage_counts(usage: UsageMetadata) -> tuple[tuple[str, str, int], ...]:
    """(direction, modality, tokens) of one `usageMetadata`; totals without a breakdown
    are "unspecified", a breakdown that does not add up keeps the rest as "unspecified"."""
    out: list[tuple[str, str, int]] = []
    parts: tuple[tuple[str, int | None, list[ModalityTokenCount] | None], ...] = (
        ("prompt", usage.prompt_token_count, usage.prompt_tokens_details),
        ("response", usage.response_token_count, usage.response_tokens_details),
        ("thoughts", usage.thoughts_token_count, None),
        ("tool_prompt", usage.tool_use_prompt_token_count, usage.tool_use_prompt_tokens_details),
    )
    for direction, total, details in parts:
        counted = 0
        for d in details or []:
            if d.token_count:
                name = d.modality.value.lower() if d.modality else "unspecified"
                out.append((direction, name, d.token_count))
                counted += d.token_count
        if total and total > counted:
            out.append((direction, "unspecified", total - counted))
    return tuple(out)


class CallUsage:
    """One call's tokens and minutes, and its cap."""

    def __init__(
        self,
        limits: LiveLimits,
        events: CallEvents,
        start_task: StartTask,
        *,
        goodbye: Callable[[str], Awaitable[None]],
        hang_up: Callable[[str], Awaitable[None]],
        log: Any = logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._events = events
        self._start_task = start_task
        self._goodbye = goodbye  # asks the model to say goodbye (and stops the caller's audio)
        self._hang_up = hang_up
        self._log = log
        self._clock = clock
        self.started = clock()
        self.tokens: Counter[tuple[str, str]] = Counter()
        self.turns = 0
        self.capped: CapName | None = None
        self._watch: asyncio.Task[None] | None = None
        self._turn_ended = asyncio.Event()

    @property
    def total(self) -> int:
        return sum(self.tokens.values())

    def on_message(self, message: LiveServerMessage) -> None:
        """Every server message: count its usage, see a turn end, check the cap."""
        if self._watch is None and self._limits.call_max_minutes:
            self._watch = self._start_task(self._watch_minutes(), "call_minutes_cap")
        sc = message.server_content
        if sc and sc.turn_complete:
            self.turns += 1
            self._turn_ended.set()
        if message.usage_metadata:
            counts = usage_counts(message.usage_metadata)
            for direction, modality, n in counts:
                self.tokens[direction, modality] += n
            if counts:
                self._events.emit(TokensUsed(counts))
            cap = self._limits.call_max_tokens
            if cap and self.total >= cap:
                self.reach("tokens")

    def reach(self, limit: CapName) -> None:
        """The cap is reached: wind the call down (once)."""
        if self.capped is not None:
            return
        self.capped = limit
        self._start_task(self._wind_down(limit), "call_cap_wind_down")

    def summary(self) -> str:
        """The one line logged at the end of the call."""
        minutes = (self._clock() - self.started) / 60
        by_direction: dict[str, list[str]] = {}
        for (direction, modality), n in sorted(self.tokens.items()):
            by_direction.setdefault(direction, []).append(f"{modality} {n}")
        parts = [
            f"{d} {sum(n for (dd, _), n in self.tokens.items() if dd == d)} ({', '.join(m)})"
            for d, m in by_direction.items()
        ]
        capped = f"; capped at its {self.capped} limit" if self.capped else ""
        detail = f": {'; '.join(parts)}" if parts else ""
        return (
            f"call usage: {self.total} tokens in {self.turns} turns, "
            f"{minutes:.1f} min{detail}{capped}"
        )

    def finish(self) -> None:
        """The call ends: log its usage."""
        if self._watch is not None:
            self._watch.cancel()
        self._log.info(self.summary())

    async def _watch_minutes(self) -> None:
        assert self._limits.call_max_minutes
        deadline = self.started + self._limits.call_max_minutes * 60
        await asyncio.sleep(max(0.0, deadline - self._clock()))
        self.reach("minutes")

    async def _wind_down(self, limit: CapName) -> None:
        self._log.warning(
            f"call cap reached ({limit}: {self.total} tokens, "
            f"{(self._clock() - self.started) / 60:.1f} min): saying goodbye, then hanging up"
        )
        self._events.emit(CallCapReached(limit))
        self._turn_ended.clear()
        try:
            await self._goodbye(GOODBYE)
            await asyncio.wait_for(self._turn_ended.wait(), GOODBYE_TIMEOUT_SECONDS)
        except TimeoutError:
            self._log.warning("the goodbye turn did not end in time: hanging up")
        except Exception as e:
            self._log.warning(f"could not ask the model to say goodbye ({e}): hanging up")
        await self._events.drained(3)
        await asyncio.sleep(HANG_UP_GRACE_SECONDS)
        await self._hang_up(f"call {limit} limit reached")


async def say_goodbye(stage: Any, instruction: str) -> None:
    """The call's cap on the stage: no more caller audio to the model, which says goodbye."""
    stage.set_audio_input_paused(True)
    if stage.session is None:
        raise ConnectionError("no Live socket")
    turn = Content(role="user", parts=[Part(text=instruction)])
    await stage.session.send_client_content(turns=[turn], turn_complete=True)
    if stage.gemini_3:
        await stage.session.send_realtime_input(text=" ")  # 3.x infers on realtime input
