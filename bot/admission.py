"""Admission control: new callers are told the bot is busy instead of being
connected to nothing.

Two reasons to refuse a new call: the process already carries `MAX_CALLS`
calls, or Gemini Live just refused a session (a bad key, or the quota of
concurrent sessions reached) — then new calls are refused for a cool-down,
while calls in progress go on.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from bot.events import CallEvent, SessionLost
from bot.shared.state import SharedState, SharedUnavailable


@dataclass
class Admission:
    max_calls: int
    cooldown_seconds: float = 60.0
    _live_down_until: float = 0.0
    _live_down_reason: str = ""
    shared: SharedState | None = None  # with Redis: the cool-down every instance sees

    def refusal(
        self,
        active_calls: int,
        now: float | None = None,
        cooldown: tuple[str, float] | None = None,
    ) -> tuple[str, int] | None:
        """(message, retry-after seconds) when a new call should be refused, else None.
        `cooldown`: (reason, seconds left) of one another instance set."""
        now = time.monotonic() if now is None else now
        if cooldown is not None:
            reason, left = cooldown
            if now + left > self._live_down_until:
                self._live_down_until, self._live_down_reason = now + left, reason
        if now < self._live_down_until:
            wait = int(self._live_down_until - now) + 1
            if self._live_down_reason == "busy":
                return (
                    "The bot is busy right now (its voice service is at capacity). "
                    "Please try again in a minute.",
                    wait,
                )
            return "The bot cannot reach its voice service right now. Please try again later.", wait
        if active_calls >= self.max_calls:
            return "The bot is busy with other calls. Please try again in a minute.", 30
        return None

    async def on_call_event(self, event: CallEvent) -> None:
        """A call's Live session was refused outright: stop admitting calls for a while."""
        match event:
            case SessionLost(reason="busy" | "refused"):
                self._live_down_until = time.monotonic() + self.cooldown_seconds
                self._live_down_reason = event.reason
                if self.shared is not None:  # the other instances too
                    with contextlib.suppress(SharedUnavailable):  # logged there
                        await self.shared.set_cooldown(event.reason, self.cooldown_seconds)

    @property
    def live_down(self) -> bool:
        return time.monotonic() < self._live_down_until
