"""Prometheus metrics: what an operator watches (calls, reconnects, tools, latency).

One registry per app, fed by the call's typed events (`bot.events`, the same
events the caller's page gets), so the numbers and the page never disagree.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.events import (
    CallCapReached,
    CallEvent,
    LiveStalled,
    SessionLost,
    SessionMoved,
    TokensUsed,
    ToolNotRun,
    ToolState,
)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.active_calls = Gauge("livebot_active_calls", "Calls in progress", registry=r)
        self.calls = Counter(
            "livebot_calls_total", "Calls that ended, by outcome", ["outcome"], registry=r
        )
        self.refusals = Counter(
            "livebot_call_refusals_total",
            "Joins and offers refused, by reason",
            ["reason"],
            registry=r,
        )
        self.routed = Counter(
            "livebot_signalling_routed_total",
            "Signalling passed on to the instance holding its call, by that one's answer",
            ["status"],
            registry=r,
        )
        self.call_duration = Histogram(
            "livebot_call_duration_seconds",
            "Call length",
            buckets=(10, 30, 60, 120, 300, 600, 900, 1800, 3600),
            registry=r,
        )
        self.reconnects = Counter(
            "livebot_live_reconnects_total",
            "Live sessions moved to a new socket, by reason",
            ["reason"],
            registry=r,
        )
        self.switch_gap = Histogram(
            "livebot_live_switch_seconds",
            "Time without a Live socket while moving a session",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "livebot_tool_calls_total",
            "Tool calls by tool, outcome and scheduling",
            ["tool", "outcome", "scheduling"],
            registry=r,
        )
        self.tool_latency = Histogram(
            "livebot_tool_seconds",
            "Time from the model's call to the result",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.live_failures = Counter(
            "livebot_live_failures_total",
            "Live sessions given up, by reason (refused, busy, lost)",
            ["reason"],
            registry=r,
        )
        self.guard_refusals = Counter(
            "livebot_tool_calls_not_run_total",
            "Acting tool calls the caller-intent guard did not run, by tool and reason "
            "(no_caller_turn, needs_confirmation, ...): a rise can be injected text at work",
            ["tool", "reason"],
            registry=r,
        )
        self.stalls = Counter(
            "livebot_live_stalls_total",
            "Model answers that did not come, by what the stage did (nudge, move, gave_up) "
            "and what it waited for (caller, tool_result, rejected, recovery)",
            ["action", "waiting_for"],
            registry=r,
        )
        self.live_tokens = Counter(
            "livebot_live_tokens_total",
            "Gemini Live tokens (usageMetadata) by direction (prompt, response, thoughts, "
            "tool_prompt) and modality (audio, text, ...; unspecified: no breakdown given)",
            ["direction", "modality"],
            registry=r,
        )
        self.calls_capped = Counter(
            "livebot_calls_capped_total",
            "Calls wound down at LIVE_CALL_MAX_TOKENS / LIVE_CALL_MAX_MINUTES, by limit",
            ["limit"],
            registry=r,
        )
        self._started: dict[str, float] = {}

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def on_call_event(self, event: CallEvent) -> None:
        """Count what the call reports (tool states, guard refusals, session moves)."""
        match event:
            case ToolState(state="running"):
                self._started[event.call_id] = time.monotonic()
            case ToolState():
                started = self._started.pop(event.call_id, None)
                tool = event.name or "unknown"
                if started is not None:
                    self.tool_latency.labels(tool).observe(time.monotonic() - started)
                self.tool_calls.labels(tool, event.state, event.scheduling or "none").inc()
            case ToolNotRun():
                self.guard_refusals.labels(event.name or "unknown", event.refusal or "?").inc()
            case SessionLost():
                self.live_failures.labels(event.reason).inc()
            case SessionMoved():
                self.reconnects.labels(event.reason).inc()
                self.switch_gap.observe(event.gap_seconds)
            case LiveStalled():
                self.stalls.labels(event.action, event.waiting_for).inc()
            case TokensUsed():
                for direction, modality, tokens in event.counts:
                    self.live_tokens.labels(direction, modality).inc(tokens)
            case CallCapReached():
                self.calls_capped.labels(event.limit).inc()
