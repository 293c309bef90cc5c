"""Session moves: one Live session kept across sockets (goAway, drops, refusals).

Why we do this instead of Pipecat: Pipecat 1.14 reconnects after an error with the
latest handle (up to three times, then the call fails), ignores `goAway`, and sends
caller audio into a closed socket meanwhile. Here:

- `goAway`: move before time runs out, as soon as a resumable handle newer than any
  turn content or tool call has arrived (else at the deadline, with the latest one);
- a lost socket: `recovery_plan` - a pure function of the close and the session's
  state - says resume with the handle, start a fresh session seeded with a summary
  (1007: context full or invalid; 1008 on resume: the handle was refused; resuming
  keeps failing), or give up (quota, a refused key or model, too many failures).
  Whether the socket had reached `setupComplete` decides what a close means: after
  it, any code (1008 "Operation is not implemented, or supported, or enabled.",
  reported mid-call by users of every SDK; 1011; an abrupt 1006) is a lost socket,
  resumed (or, before the first handle, started afresh); only a refusal at setup
  (a bad key, a refused handle) - or a quota, whenever it comes - gives up;
- every move holds the outbound queue (`outbound.py`), closes the old socket first,
  opens the new one, and `settled()` after its `setupComplete` delivers what was held
  and reports `SessionMoved`; a give-up reports `SessionLost` and ends the call once
  the caller has been told (the wording is the page feed's, not ours).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from google.genai.errors import APIError
from loguru import logger

from bot.events import LossReason, SessionInterrupted, SessionLost, SessionMoved
from bot.live.call_events import CallEvents
from bot.live.outbound import Outbound

GO_AWAY_DEFAULT_SECONDS = 10.0  # when goAway does not say
MAX_FAILURES = 5  # in a row, before the session is given up
HEALTHY_SECONDS = 10.0  # a socket that lived this long (or carried turns) was no failure
END_CALL_GRACE_SECONDS = 1.5  # for the data channel to carry the news
LOSS_REASONS: dict[str, LossReason] = {"busy": "busy", "refused": "refused", "lost": "lost"}


class Plan(StrEnum):
    RESUME = "resume"
    FRESH = "fresh"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Recovery:
    plan: Plan
    why: str  # for GIVE_UP, a `LossReason`


def recovery_plan(
    error: Exception, *, resuming: bool, failures: int, set_up: bool = False
) -> Recovery:
    """After a lost socket: resume with the handle, start afresh, or give up.

    `resuming`: the session has a resumable handle; `failures`: lost sockets in a
    row, this one included; `set_up`: the socket had reached `setupComplete` (then
    its close is not a refusal of the session, whatever its code)."""
    code = error.code if isinstance(error, APIError) else None
    text = str(error).lower()
    if any(word in text for word in ("quota", "resource_exhausted", "resource exhausted")):
        return Recovery(Plan.GIVE_UP, "busy")  # the account's quota: a new socket hits it too
    if code == 1007:
        return Recovery(
            Plan.FRESH, "the server closed the session as invalid or its context as full"
        )
    if set_up and failures <= MAX_FAILURES and not (failures >= 2 and resuming):
        if resuming:
            return Recovery(Plan.RESUME, f"socket lost after setup ({code or 'no code'})")
        return Recovery(Plan.FRESH, f"socket lost before the first handle ({code or 'no code'})")
    if code == 1008 and not resuming and not set_up:
        return Recovery(Plan.GIVE_UP, "refused")  # a bad key or a refused model
    if code == 1008 and not set_up:
        return Recovery(Plan.FRESH, "the server refused to resume the session")
    if failures > MAX_FAILURES:
        return Recovery(Plan.GIVE_UP, "lost")
    if failures >= 2 and resuming:
        return Recovery(Plan.FRESH, "resumption keeps failing")
    return Recovery(Plan.RESUME, "socket lost")


def backoff_seconds(failures: int) -> float:
    """The pause before reconnecting after `failures` lost sockets in a row."""
    return min(2.0, 0.25 * (failures - 1))


def parse_duration(value: str | None) -> float | None:
    """Google's protobuf Duration JSON ("1.5s") in seconds."""
    if not value:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)s\s*", str(value))
    return float(match.group(1)) if match else None


class MovableStage(Protocol):
    """What session moves need of the stage (each backed by a Pipecat member)."""

    resumption_handle: str | None

    @property
    def bot_is_responding(self) -> bool: ...

    @property
    def closing(self) -> bool: ...

    @property
    def session(self) -> Any | None: ...

    @property
    def realtime_ready(self) -> bool: ...

    async def drop_socket(self) -> None: ...  # close the socket, stop its receive loop

    async def connect(self, handle: str | None) -> None: ...

    def create_task(
        self, coroutine: Coroutine[Any, Any, None], name: str
    ) -> asyncio.Task[None]: ...

    async def cancel_task(self, task: asyncio.Task[None], timeout: float | None = None) -> None: ...


class SessionMoves:
    """One call's moves of its Live session between sockets."""

    def __init__(
        self,
        stage: MovableStage,
        outbound: Outbound,
        events: CallEvents,
        *,
        resume: bool,
        on_lost: Callable[[Exception, str], Awaitable[None]],
        end_call: Callable[[str], Awaitable[None]],
        log: Any = logger,
    ) -> None:
        self._stage = stage
        self._outbound = outbound
        self._events = events
        self._resume = resume
        self._on_lost = on_lost  # tells the pipeline (Pipecat's push_error)
        self._end_call = end_call
        self._log = log
        self._lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self.generation = 0  # bumped per socket: a stale socket's errors are ignored
        self._go_away_deadline: float | None = None
        self._go_away_task: asyncio.Task[None] | None = None
        self._seq = 0
        self._handle_seq = -1  # _seq when the latest resumable handle arrived
        self._activity_seq = 0  # _seq of the latest turn content or tool call
        self.failures = 0
        self._ready: tuple[int, float] = (-1, 0.0)  # (generation, monotonic) of setupComplete
        self._fresh = False  # the latest move opened a session without a handle
        self._started: tuple[float, str] | None = None  # (monotonic, reason) of a move
        # What else follows the moves (the stall watch): a socket lost, a move settled.
        self.on_socket_lost: Callable[[], None] = lambda: None
        self.on_moved: Callable[[str], None] = lambda reason: None
        self.reconnects = 0
        self.lost = False  # the Live session could not be kept (refused or failed for good)
        self.lost_reason: LossReason | None = None

    # ---- what the stage reports ------------------------------------------

    def activity(self) -> None:
        """Turn content or a tool call: a handle from before it would lose it (and the
        socket works: the next loss starts a new count of failures)."""
        self._activity_seq = self._tick()
        self.failures = 0

    def handle_arrived(self) -> None:
        """A resumable handle arrived (the stage's Pipecat keeps it)."""
        self._handle_seq = self._tick()

    def go_away(self, time_left: float | None) -> None:
        left = GO_AWAY_DEFAULT_SECONDS if time_left is None else time_left
        self._log.info(f"goAway: the server closes this socket in {left:g} s")
        margin = min(1.0, left / 2)
        self._go_away_deadline = time.monotonic() + left - margin
        if self._go_away_task is None or self._go_away_task.done():
            self._go_away_task = self._stage.create_task(
                self._go_away_watchdog(), "go_away_watchdog"
            )

    def maybe_move_after_go_away(self) -> None:
        """After a goAway, move as soon as it is safe (checked after each message/result)."""
        if self._go_away_deadline is None or self._outbound.held or not self._safe_to_move():
            return
        self._go_away_deadline = None
        self._stage.create_task(self.move("goAway"), "live_switch")

    def socket_lost(self, error: Exception, generation: int) -> None:
        """The receive loop of socket `generation` ended with `error`."""
        if self._stage.closing or generation != self.generation:
            return
        ready_generation, ready_at = self._ready
        set_up = ready_generation == generation
        if set_up and time.monotonic() - ready_at >= HEALTHY_SECONDS:
            self.failures = 0
        self._log.warning(f"Live socket lost ({'after' if set_up else 'before'} setup): {error}")
        self._events.emit(SessionInterrupted(reason=str(error)))
        self.on_socket_lost()
        self._stage.create_task(
            self.move(f"socket lost: {error}", error=error, set_up=set_up), "live_recover"
        )

    def socket_ready(self) -> None:
        """A new socket's setup is complete (its failures are forgiven once it works)."""
        self._ready = (self.generation, time.monotonic())

    async def settled(self) -> None:
        """After setupComplete (and any seeding): deliver what was held, end the move."""
        async with self._flush_lock:
            if self._stage.session is None or not self._stage.realtime_ready:
                return
            await self._outbound.flush(fresh=self._fresh)
            if self._started is not None:
                started, reason = self._started
                self._started = None
                gap = time.monotonic() - started
                self._log.info(f"Live session moved ({reason}) in {gap * 1000:.0f} ms")
                self._events.emit(SessionMoved(reason=reason, gap_seconds=gap))
                self.on_moved(reason)

    async def stop(self) -> None:
        """The stage disconnects for good: no more moves."""
        self.generation += 1
        if self._go_away_task is not None:
            self._go_away_deadline = None
            await self._stage.cancel_task(self._go_away_task)
            self._go_away_task = None

    # ---- moving ------------------------------------------------------------

    async def move(
        self,
        reason: str,
        error: Exception | None = None,
        *,
        set_up: bool = False,
        kind: str | None = None,
    ) -> None:
        """Close the current socket, then open a new one resuming the same session.

        `error`: the socket was lost (`set_up`: after its `setupComplete`); `kind`: what
        the move is reported as (goaway, stall, tools; default goaway, or error when an
        error caused it)."""
        async with self._lock:
            if self._stage.closing:
                return
            self._outbound.hold()
            self._go_away_deadline = None
            if self._started is None:
                self._started = (time.monotonic(), kind or ("goaway" if error is None else "error"))
            self.generation += 1
            await self._stage.drop_socket()
            if error is not None:
                self.failures += 1
                resuming = self._resume and self._stage.resumption_handle is not None
                recovery = recovery_plan(
                    error, resuming=resuming, failures=self.failures, set_up=set_up
                )
                if recovery.plan is Plan.GIVE_UP:
                    await self._give_up(error, recovery.why)
                    return
                self._log.info(f"recovery: {recovery.plan.value} ({recovery.why})")
                if recovery.plan is Plan.FRESH and self._stage.resumption_handle:
                    self._log.warning(
                        f"{recovery.why}: opening a fresh session seeded with a summary"
                    )
                    self._stage.resumption_handle = None
                await asyncio.sleep(backoff_seconds(self.failures))
            handle = self._stage.resumption_handle if self._resume else None
            if handle is None:
                self._stage.resumption_handle = None  # a fresh session: seeded, not resumed
            self._fresh = handle is None
            self.reconnects += 1
            self._log.info(
                f"moving the Live session to a new socket ({reason}); resume={bool(handle)}"
            )
            await self._stage.connect(handle)

    @property
    def fresh(self) -> bool:
        """The latest move opened a new session (no handle): it needs the summary."""
        return self._fresh

    def can_resume_now(self) -> bool:
        """A move now would resume the session safely (for `tool_updates.py`)."""
        return self._resume and not self._outbound.held and self._safe_to_move()

    def _safe_to_move(self) -> bool:
        """A resumable handle newer than any turn content or tool call we have seen."""
        return (
            self._stage.resumption_handle is not None
            and self._handle_seq > self._activity_seq
            and not self._stage.bot_is_responding
        )

    async def _go_away_watchdog(self) -> None:
        while self._go_away_deadline is not None:
            if time.monotonic() >= self._go_away_deadline:
                self._go_away_deadline = None
                self._log.warning(
                    "goAway deadline reached without a fresh resumable handle; "
                    "moving with the latest one"
                )
                await self.move("goAway deadline")
                return
            await asyncio.sleep(0.05)

    async def _give_up(self, error: Exception, why: str) -> None:
        """The Live session cannot be kept: tell the caller and the operator, end the call."""
        reason = LOSS_REASONS.get(why, "lost")
        self.lost = True
        self.lost_reason = reason
        self._log.error(f"Live session given up ({reason}) after {self.failures} tries: {error}")
        self._events.emit(SessionLost(reason=reason))
        await self._on_lost(error, reason)
        # A call with no Live session only holds a place: end it once the caller has been
        # told (the news goes out through the event queue first).
        self._stage.create_task(self._end_call_after_news(reason), "end_call_after_give_up")

    async def _end_call_after_news(self, why: str, grace: float = END_CALL_GRACE_SECONDS) -> None:
        await self._events.drained(grace + 3)
        await asyncio.sleep(grace)  # time for the data channel to carry it
        self._log.warning(f"ending the call: its Live session was given up ({why})")
        await self._end_call(f"live session {why}")

    def _tick(self) -> int:
        self._seq += 1
        return self._seq
