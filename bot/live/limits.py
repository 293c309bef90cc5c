"""The bounds of one call's Live session: what is kept to say again, and what it may cost.

Why its own module: these settings belong together (each bounds a call's memory,
context or spend) and `bot/settings.py` is full; they are read with the same
`EnvReader`, so a wrong value is reported at start with every other problem.

- `LIVE_REPLAY_SECONDS`: caller audio kept since the newest resumable handle, to send
  again after a drop (`replay_log.py`);
- `LIVE_COMPRESSION_TARGET_TOKENS`: what the sliding window cuts the context down to
  when `LIVE_COMPRESSION_TRIGGER_TOKENS` is reached (Gemini's `SlidingWindow.targetTokens`);
- `LIVE_CALL_MAX_TOKENS` / `LIVE_CALL_MAX_MINUTES`: a per-call cap; at it the bot says it
  has to end and hangs up (`usage.py`). Unset (or 0 minutes): no cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.env import EnvReader


@dataclass(frozen=True)
class LiveLimits:
    replay_seconds: float = 15.0
    compression_target_tokens: int | None = None
    call_max_tokens: int | None = None
    call_max_minutes: float | None = None


def live_limits(r: EnvReader) -> LiveLimits:
    """Read and check the limits (problems go to `r.problems`)."""
    target = r.int("LIVE_COMPRESSION_TARGET_TOKENS", None, lo=500, hi=10_000_000)
    trigger = r.env.get("LIVE_COMPRESSION_TRIGGER_TOKENS", "").strip()
    if target is not None and trigger.isdigit() and target >= int(trigger):
        r.problems.append(
            f"LIVE_COMPRESSION_TARGET_TOKENS={target} must be below "
            f"LIVE_COMPRESSION_TRIGGER_TOKENS={trigger}: compression cuts the context down "
            "to the target once it reaches the trigger (e.g. target 16000, trigger 25000)."
        )
        target = None
    minutes = r.float("LIVE_CALL_MAX_MINUTES", 0.0, lo=0.0, hi=24 * 60.0)
    return LiveLimits(
        replay_seconds=r.float("LIVE_REPLAY_SECONDS", 15.0, lo=1.0, hi=120.0),
        compression_target_tokens=target,
        call_max_tokens=r.int("LIVE_CALL_MAX_TOKENS", None, lo=1000, hi=1_000_000_000),
        call_max_minutes=minutes or None,
    )


def apply_to_setup(config: Any, limits: LiveLimits) -> None:
    """What the Live setup carries of the limits (Pipecat's has no compression target)."""
    cwc = getattr(config, "context_window_compression", None)
    if limits.compression_target_tokens and cwc is not None and cwc.sliding_window is not None:
        cwc.sliding_window.target_tokens = limits.compression_target_tokens
