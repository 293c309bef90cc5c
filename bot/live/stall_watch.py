"""The stall watch: the model heard the caller and says nothing; notice it, and recover.

Why our own: the most reported production failure of Gemini Live integrations is a
silent stall - the model hears the question (or gets a tool result it should speak
about) and never answers: no audio, no tool call, no `turnComplete`, or an empty or
rejected turn (`turnCompleteReason`). The socket stays open, so nothing errs. Pipecat
1.14 has no watch for it (its held-turn timeout only covers a `turnComplete` it
deferred itself), and a caller then waits in silence for ever.

The stage reports what it sees; the watch keeps one deadline:

- armed when the caller finished a turn (their speech went quiet, by our own energy
  detection of the audio we send, or with local turn detection at `activityEnd`, or
  Gemini transcribed their words), when a tool
  result the model must speak about was sent (BLOCKING, INTERRUPT, WHEN_IDLE), or
  after a move that cut an answer (or lost one not yet begun);
- cleared by any model output (audio, its transcription, a tool call); not armed
  while the caller speaks, while the model's turn is under way, or while a tool call
  awaits its result;
- an empty turn after a caller turn, or a `turnCompleteReason` of a rejected
  response (anything but `NEED_MORE_INPUT`), is a stall at once.

When it runs out (`LIVE_STALL_SECONDS`, 4 s by default): first a nudge on the same
socket - a `clientContent` with `turnComplete` (what Pipecat sends so a seeded 2.5
model answers), and for 3.x models a realtime text of one space (without a realtime
input a 3.x model runs no inference, as Pipecat's `_complete_turn` notes); if still
nothing within half that time, the session moves to a new socket with the newest
handle. If the move sent the question again (outbound's replay of what no handle
held), the new socket answers that; else it is nudged at once with the caller's last
words (the handle holds the question but not an answer to it). So a caller waits
about 1.5 x the stall time at worst.
Each step is logged with the call id and reported as a `LiveStalled` event
(metrics, a notice on the page); after one move per wait the watch stops and says so.
The first model output after a reported stall is reported as `StallRecovered` (the
page takes its notice away).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

import numpy as np
from google.genai.types import Content, FunctionResponse, LiveServerContent, Part
from loguru import logger

from bot.events import LiveStalled, StallAction, StallRecovered
from bot.live.call_events import CallEvents

SPEECH_RMS = 400.0  # int16 RMS of a 20 ms frame that is speech, not room noise
MIN_SPEECH_SECONDS = 0.25  # a cough or a click is not a caller turn
END_SILENCE_SECONDS = 0.8  # this much quiet after speech ends the caller's turn
MAX_MOVES = 1  # per wait: nudge, move (and nudge), then stop trying
NUDGE_WAIT = 0.5  # of the stall time: a nudged model that answers at all starts soon
TICK_SECONDS = 0.1
NOT_REJECTED = {None, "TURN_COMPLETE_REASON_UNSPECIFIED", "NEED_MORE_INPUT"}
REANSWER = (
    "(The connection was renewed while you were answering or about to answer. "
    "{said}Answer the caller now, without greeting them again.)"
)


class NudgeableStage(Protocol):
    """What the watch needs of the stage (each backed by a Pipecat member)."""

    @property
    def session(self) -> Any | None: ...

    @property
    def realtime_ready(self) -> bool: ...

    @property
    def closing(self) -> bool: ...

    @property
    def gemini_3(self) -> bool: ...

    def create_task(
        self, coroutine: Coroutine[Any, Any, None], name: str
    ) -> asyncio.Task[None]: ...

    async def cancel_task(self, task: asyncio.Task[None], timeout: float | None = None) -> None: ...


class StallWatch:
    """One call's watch on the model's answers."""

    def __init__(
        self,
        stage: NudgeableStage,
        events: CallEvents,
        *,
        seconds: float,
        move: Callable[[], Coroutine[Any, Any, None]],
        caller_words: Callable[[], str],
        replayed: Callable[[], float] = lambda: 0.0,
        log: Any = logger,
    ) -> None:
        self._stage = stage
        self._events = events
        self._seconds = seconds
        self._move = move
        self._caller_words = caller_words
        self._replayed = replayed  # seconds of caller audio the move sent again
        self._log = log
        self._task: asyncio.Task[None] | None = None
        self._due: float | None = None  # when the current wait runs out
        self._since = 0.0  # when it began (for the figures)
        self._waiting_for = ""
        self._nudges = 0
        self._moves = 0
        self._reanswer = False  # the next nudge carries the caller's last words
        self._in_turn = False  # the model produced output since its last turn ended
        self._after_interrupt = False  # the next turnComplete ends an interrupted turn
        self._tools: set[str] = set()  # tool calls awaiting their result
        self._speech = 0.0  # seconds of speech in the caller's current run
        self._quiet = 0.0  # seconds of quiet since the caller's last speech
        self._speaking = False
        self._marks = False  # the caller's turns come from activityStart / activityEnd
        self._expecting_at_loss = False
        self._reported = False  # a LiveStalled went out and no answer has come since

    # ---- what the stage reports ------------------------------------------

    def caller_audio(self, pcm: bytes, sample_rate: int, num_channels: int = 1) -> None:
        """Caller audio on its way to Gemini: our own detection of a finished turn."""
        if self._marks:
            return
        samples = np.frombuffer(pcm, dtype=np.int16, count=len(pcm) // 2).astype(np.float32)
        if not len(samples):
            return
        seconds = len(samples) / num_channels / sample_rate
        rms = float(np.sqrt(np.dot(samples, samples) / len(samples)))  # no copy of the bytes
        if rms >= SPEECH_RMS:
            self._speech += seconds
            self._quiet = 0.0
            if self._speech >= MIN_SPEECH_SECONDS:
                self._speaking = True
                self._due = None  # no waiting while the caller speaks
            return
        self._quiet += seconds
        if self._quiet >= END_SILENCE_SECONDS:
            self._speech = 0.0
            if self._speaking:
                self._speaking = False
                self.caller_turn("caller")

    def caller_turn(self, why: str = "caller") -> None:
        """The caller finished a turn (or Gemini transcribed some of it): an answer is due."""
        if self._in_turn or self._speaking:
            return  # the model is answering already, or the caller is still speaking
        self._arm(why)

    def turns_from_marks(self) -> None:
        """Local turn detection: the caller speaks from `activityStart` to `activityEnd`
        (Silero's decision), not by our energy detection (room noise is loud too)."""
        self._marks = True

    def caller_turn_started(self) -> None:
        """`activityStart`: the caller speaks; no waiting meanwhile."""
        self._speaking = True
        self._due = None

    def caller_turn_ended(self) -> None:
        """`activityEnd`: the caller's turn is over, an answer is due."""
        self._speaking = False
        self.caller_turn()

    def model_output(self) -> None:
        """Audio, its transcription or a tool call: the model is answering."""
        self._in_turn = True
        self._after_interrupt = False
        if self._reported:
            self._reported = False
            waited = time.monotonic() - self._since
            self._events.emit(StallRecovered(self._waiting_for, waited_seconds=waited))
        self._clear()

    def turn_ended(self, content: LiveServerContent) -> None:
        """`interrupted` or `turnComplete` (with its reason, if any)."""
        if content.interrupted:
            self._in_turn = False
            self._after_interrupt = True
            self._clear()
            return
        status = getattr(content, "interaction_status", None)
        if getattr(status, "value", status) == "IN_PROGRESS":
            return  # the model is still at work: this only closed a chunk
        reason_value = content.turn_complete_reason
        reason = getattr(reason_value, "value", reason_value)
        empty = not self._in_turn and not self._after_interrupt
        self._in_turn = self._after_interrupt = False
        if reason not in NOT_REJECTED:
            self._log.warning(f"the model's turn ended without an answer: {reason}")
            self._stalled_now("rejected")
        elif reason == "NEED_MORE_INPUT":
            self._clear()
        elif empty and self._due is not None and self._waiting_for == "caller":
            self._log.warning("the model's turn ended empty after the caller's turn")
            self._stalled_now("rejected")
        else:
            self._clear()

    def tool_calls(self, ids: Iterable[str]) -> None:
        self._tools.update(ids)
        self.model_output()

    def tool_cancelled(self, ids: Iterable[str]) -> None:
        self._tools.difference_update(ids)

    def tool_result(self, response: FunctionResponse) -> None:
        """A result on its way: one the model must speak about arms the watch."""
        if response.will_continue:
            return
        self._tools.discard(response.id or "")
        scheduling = getattr(response.scheduling, "value", response.scheduling)
        if scheduling in (None, "INTERRUPT", "WHEN_IDLE"):
            self._in_turn = False
            self._arm("tool_result")

    def socket_lost(self) -> None:
        """The socket is gone: was an answer due or under way? (Asked again after the move.)"""
        self._expecting_at_loss = self._due is not None or self._in_turn
        self._due = None
        self._in_turn = False

    def moved(self, reason: str) -> None:
        """A move settled on a new socket."""
        if reason == "stall" and self._replayed() > 0:
            # The new socket hears the question again (outbound's replay): no second
            # telling of it; the wait goes on, and a nudge follows if nothing comes.
            self._log.info("stall move: the question was sent again; waiting for the answer")
            self._reanswer = True  # if it does not come: a nudge with the caller's words
            self._due = time.monotonic() + self._seconds
        elif reason == "stall":
            self._stage.create_task(self._nudge_after_stall_move(), "stall_nudge")
        elif self._expecting_at_loss:
            self._log.info("an answer was cut by the move: waiting for it on the new socket")
            self._arm("recovery", reanswer=True)
        self._expecting_at_loss = False

    async def stop(self) -> None:
        self._due = None
        if self._task is not None:
            await self._stage.cancel_task(self._task)
            self._task = None

    # ---- waiting -------------------------------------------------------------

    def _arm(self, why: str, *, reanswer: bool = False) -> None:
        now = time.monotonic()
        if self._due is None:
            self._since, self._nudges, self._moves = now, 0, 0
            self._reanswer = reanswer
        self._waiting_for = why
        self._reanswer = self._reanswer or reanswer
        self._due = now + self._seconds
        if self._task is None or self._task.done():
            self._task = self._stage.create_task(self._watch(), "stall_watch")

    def _clear(self) -> None:
        if self._nudges or self._moves:
            waited = time.monotonic() - self._since
            self._log.info(
                f"Live stall recovered: the model answered {waited:.1f} s after the "
                f"{self._waiting_for} turn ({self._nudges} nudges, {self._moves} moves)"
            )
            self._nudges = self._moves = 0
        self._due = None

    def _stalled_now(self, why: str) -> None:
        if self._due is None:
            self._arm(why)
        self._waiting_for = why
        self._due = time.monotonic()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            due = self._due
            if due is None or time.monotonic() < due or self._tools or self._speaking:
                continue
            await self._recover()

    async def _recover(self) -> None:
        waited = time.monotonic() - self._since
        if self._nudges <= self._moves:
            if not await self._nudge():
                return  # no socket to nudge on now: try again on the next tick
            self._nudges += 1
            self._report("nudge", waited)
            self._due = time.monotonic() + self._seconds * NUDGE_WAIT
        elif self._moves < MAX_MOVES:
            self._moves += 1
            self._report("move", waited)
            self._due = None  # until the move settles (`moved`)
            self._stage.create_task(self._move(), "stall_move")
        else:
            self._report("gave_up", waited)
            self._due = None

    async def _nudge_after_stall_move(self) -> None:
        self._reanswer = True
        if await self._nudge():
            self._nudges += 1
            self._due = time.monotonic() + self._seconds

    async def _nudge(self) -> bool:
        """Make the model run inference on what it has (plus the caller's words after a move)."""
        session = self._stage.session
        if session is None or not self._stage.realtime_ready or self._stage.closing:
            return False
        turns = None
        if self._reanswer:
            words = self._caller_words()[-300:]
            said = f'The caller\'s last words were: "{words}". ' if words else ""
            turns = [Content(role="user", parts=[Part(text=REANSWER.format(said=said))])]
        try:
            await session.send_client_content(turns=turns, turn_complete=True)
            if self._stage.gemini_3:
                await session.send_realtime_input(text=" ")
        except Exception as e:
            self._log.warning(f"stall nudge not sent: {e}")
            return False
        return True

    def _report(self, action: StallAction, waited: float) -> None:
        words = {
            "nudge": "nudging it on the same socket",
            "move": "moving the session to a new socket",
            "gave_up": "giving up on this answer",
        }[action]
        log = self._log.error if action == "gave_up" else self._log.warning
        log(f"Live stall: no answer {waited:.1f} s after the {self._waiting_for} turn: {words}")
        self._reported = True
        self._events.emit(
            LiveStalled(action=action, waiting_for=self._waiting_for, waited_seconds=waited)
        )
