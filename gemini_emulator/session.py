"""The logical Live session (survives resumption) and the scripting API.

A *script* is ``async def script(s: LiveSession) -> None``; the emulator runs it once
per logical session, starting right after the first ``setupComplete``.  The script
plays the model: it waits for caller input (:meth:`LiveSession.next_utterance`),
speaks (:meth:`LiveSession.say`), calls tools (:meth:`LiveSession.call_tool`) and
waits for their responses (:meth:`LiveSession.tool_response`).

Sends made while the session has no open socket (after ``goAway``/close and before
the client resumes) wait for the resumed socket, up to ``reconnect_timeout`` seconds,
then raise :class:`SessionGone`.

Parts live beside it: the caller's audio becoming utterances (`caller_input`), a
model turn on the wire (`model_turn`), and the records a script reads (`recording`).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from loguru import logger
from websockets.exceptions import ConnectionClosed

from . import protocol as P
from .audio import INPUT_RATE, OUTPUT_RATE, resample, voice_like
from .caller_input import CallerInput
from .model_turn import ModelTurn
from .recording import ConnectionRecord, FunctionResponseRecord, TurnResult, Utterance
from .resumption import HandleStates
from .vad import VadConfig
from .video import VideoFrame

__all__ = ["LiveSession", "Script", "SessionGone", "resample_to_output"]

Script = Callable[["LiveSession"], Awaitable[None]]
T = TypeVar("T")

AUDIO_TOKENS_PER_SECOND = 25
_call_ids = itertools.count(1)
_session_ids = itertools.count(1)


class SessionGone(Exception):
    """The session has no socket and none came back in time (or it has ended)."""


def _text_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


class LiveSession:
    """A logical session.  The public methods below are the scripting API."""

    def __init__(
        self,
        setup: dict[str, Any],
        *,
        stream_rate: float = 1.5,
        chunk_ms: int = 40,
        wait_for_playback: bool = True,
        reconnect_timeout: float = 30.0,
    ) -> None:
        self.id = f"session-{next(_session_ids)}"
        #: The setup (camelCase) that created the session; resumes append to ``setups``.
        self.setup = setup
        self.setups: list[dict[str, Any]] = [setup]
        #: Model audio is streamed ``stream_rate`` x real time (0 = no pacing).
        self.stream_rate = stream_rate
        self.chunk_ms = chunk_ms
        #: Delay ``turnComplete`` until the audio would have played out in real time.
        self.wait_for_playback = wait_for_playback
        self.reconnect_timeout = reconnect_timeout

        self.connections: list[ConnectionRecord] = []
        self.utterances: list[Utterance] = []
        self.function_responses: list[FunctionResponseRecord] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.cancelled_call_ids: list[str] = []
        self.known_call_ids: set[str] = set()
        self.pending_calls: dict[str, str] = {}
        self.forgotten_call_ids: set[str] = set()
        self.turns: list[TurnResult] = []
        #: Handles issued: handle -> known call ids at issue time.
        self.handles: dict[str, frozenset[str]] = {}
        #: All caller audio (16 kHz int16) and clientContent turns received.
        self.caller_pcm = bytearray()
        self.client_turns: list[dict[str, Any]] = []
        #: Every realtime video frame received (gemini_emulator/video.py).
        self.video_frames: list[VideoFrame] = []
        #: Set if the script raised.
        self.script_error: BaseException | None = None
        self.ended = False
        self.task: asyncio.Task[None] | None = None

        self._utt_read = 0
        self._bg_tasks: set[asyncio.Task[Any]] = set()
        self._turn: ModelTurn | None = None
        self._turn_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        #: The current socket's caller audio and activity marks, becoming utterances.
        self.caller_input = self._new_input()
        self.resumption = HandleStates()  # what each handle holds (`resumption.py`)
        self._history_tokens = _text_tokens(self._system_text())
        self._prompt_audio_tokens = 0

    # ------------------------------------------------------------------ config

    @property
    def resumption_enabled(self) -> bool:
        return self.setup.get("sessionResumption") is not None

    @property
    def realtime_input_config(self) -> dict[str, Any]:
        return self.setup.get("realtimeInputConfig") or {}

    @property
    def automatic_activity_detection(self) -> bool:
        aad = self.realtime_input_config.get("automaticActivityDetection") or {}
        return not aad.get("disabled", False)

    @property
    def vad_config(self) -> VadConfig:
        return VadConfig.from_setup(self.realtime_input_config.get("automaticActivityDetection"))

    @property
    def barge_in_enabled(self) -> bool:
        return self.realtime_input_config.get("activityHandling") != "NO_INTERRUPTION"

    @property
    def function_declarations(self) -> dict[str, dict[str, Any]]:
        """``name -> functionDeclaration`` from the setup's tools."""
        out: dict[str, dict[str, Any]] = {}
        for tool in self.setup.get("tools") or []:
            for fd in tool.get("functionDeclarations") or []:
                out[fd.get("name", "")] = fd
        return out

    def _system_text(self) -> str:
        si = self.setup.get("systemInstruction") or {}
        if isinstance(si, str):
            return si
        return "".join(p.get("text", "") for p in si.get("parts") or [])

    # ------------------------------------------------------------------ state helpers

    @property
    def connection(self) -> ConnectionRecord | None:
        """The current open socket, if any."""
        for conn in reversed(self.connections):
            if conn.open:
                return conn
        return None

    @property
    def model_speaking(self) -> bool:
        return self._turn is not None

    def _notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    async def _wait_for(self, pred: Callable[[], T | None], timeout: float | None) -> T:
        async with asyncio.timeout(timeout):
            while True:
                value = pred()
                if value:
                    return value
                if self.ended:
                    raise SessionGone(f"{self.id} has ended")
                await self._changed.wait()

    async def _conn(self) -> ConnectionRecord:
        try:
            return await self._wait_for(lambda: self.connection, self.reconnect_timeout)
        except TimeoutError:
            raise SessionGone(f"{self.id}: no socket for {self.reconnect_timeout:.1f}s") from None

    async def _send(self, message: dict[str, Any]) -> ConnectionRecord:
        """Send on the current socket, waiting for a resumed one if needed."""
        while True:
            conn = await self._conn()
            try:
                await conn.send(message)
                return conn
            except ConnectionClosed:
                conn.closing = True
                self._notify()

    # ------------------------------------------------------------------ scripting API

    async def next_utterance(self, timeout: float | None = None) -> Utterance:
        """Wait for the next caller utterance (audio via VAD / activity window, or text).

        Raises ``TimeoutError`` after ``timeout`` seconds, :class:`SessionGone` if the
        session ends.
        """
        await self._wait_for(lambda: self._utt_read < len(self.utterances), timeout)
        utt = self.utterances[self._utt_read]
        self._utt_read += 1
        return utt

    def transcribe(self, text: str) -> dict[str, Any]:
        """An ``inputTranscription`` server message (pass to :meth:`send_raw`)."""
        return P.server_content(inputTranscription={"text": text})

    async def send_raw(self, message: dict[str, Any]) -> None:
        """Send any server message as is (camelCase keys!)."""
        await self._send(message)

    async def say(
        self,
        text: str = "",
        *,
        audio: bytes | None = None,
        seconds: float | None = None,
        transcribe_input: str | None = None,
        turn_complete_reason: str | None = None,
    ) -> TurnResult:
        """Play one model turn and return how it ended.

        Sends the optional ``inputTranscription`` first, then the model audio (``audio``:
        24 kHz int16 PCM; else a voice-like signal of ``seconds``, default 0.06 s per
        character) in ``chunk_ms`` chunks paced at ``stream_rate`` x real time, with
        ``outputTranscription`` pieces of ``text``; then ``generationComplete``, (after
        the audio would have played out) ``turnComplete`` + ``usageMetadata``.  On
        barge-in / :meth:`interrupt` the turn stops, ``interrupted`` is sent and the
        turn ends with ``turnComplete`` (no ``generationComplete``).
        """
        async with self._turn_lock:
            conn = await self._conn()
            pcm = (
                audio
                if audio is not None
                else voice_like(
                    seconds if seconds is not None else max(0.4, 0.06 * len(text)), OUTPUT_RATE
                )
            )
            pcm = pcm[: len(pcm) // 2 * 2]
            result = TurnResult(text=text, audio_seconds=0.0, connection=conn.index)
            turn = ModelTurn(conn)
            self._turn = turn
            self._notify()
            try:
                await self._resumption_update(conn)
                if transcribe_input:
                    await conn.send(P.server_content(inputTranscription={"text": transcribe_input}))
                await turn.stream(
                    pcm,
                    text,
                    result,
                    chunk_ms=self.chunk_ms,
                    stream_rate=self.stream_rate,
                    wait_for_playback=self.wait_for_playback,
                )
                result.interrupted = turn.interrupted
                # usage: this turn's output joins the context
                out_tokens = math.ceil(result.audio_seconds * AUDIO_TOKENS_PER_SECOND)
                usage = P.usage_metadata(
                    prompt_text=self._history_tokens,
                    prompt_audio=self._prompt_audio_tokens,
                    response_audio=out_tokens,
                )
                self._history_tokens += _text_tokens(text)
                self._prompt_audio_tokens += out_tokens
                done: dict[str, Any] = {"turnComplete": True}
                if turn_complete_reason:
                    done["turnCompleteReason"] = turn_complete_reason
                await conn.send({"serverContent": done, "usageMetadata": usage})
                result.completed = not turn.interrupted
            except (ConnectionClosed, SessionGone):
                result.disconnected = True
                result.interrupted = turn.interrupted
            finally:
                self._turn = None
                self.turns.append(result)
                self._notify()
            if not result.disconnected:
                try:
                    await self._resumption_update(conn)
                except ConnectionClosed:
                    pass
            return result

    async def interrupt(self) -> bool:
        """Interrupt the current model turn as a barge-in would; False if none."""
        return await self._interrupt()

    async def call_tool(
        self, name: str, args: dict[str, Any] | None = None, *, id: str | None = None
    ) -> str:
        """Send a ``toolCall`` with one function call; return its id."""
        return (await self.call_tools([(name, args or {}, id)]))[0]

    async def call_tools(
        self, calls: Sequence[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str | None]]
    ) -> list[str]:
        """Send one ``toolCall`` with several function calls ``(name, args[, id])``."""
        fcs: list[dict[str, Any]] = []
        for call in calls:
            name, args = call[0], call[1]
            cid = (
                call[2] if len(call) > 2 else None
            ) or f"function-call-{secrets.randbelow(10**19):d}{next(_call_ids)}"
            fcs.append({"id": cid, "name": name, "args": dict(args)})
        for fc in fcs:
            self.known_call_ids.add(fc["id"])
            self.pending_calls[fc["id"]] = fc["name"]
            self.tool_calls.append(fc)
        conn = await self._send(P.tool_call(fcs))
        self._notify()
        await self._resumption_update(conn)
        return [fc["id"] for fc in fcs]

    async def tool_response(
        self, id: str, *, final: bool = True, timeout: float | None = 30.0
    ) -> FunctionResponseRecord:
        """Wait for the client's functionResponse for ``id``.

        ``final=True`` waits for one without ``willContinue`` (earlier partial responses
        are skipped); ``final=False`` returns the first response of any kind.
        """

        def find() -> FunctionResponseRecord | None:
            for r in self.function_responses:
                if r.id == id and r.known and (r.final or not final):
                    return r
            return None

        return await self._wait_for(find, timeout)

    async def cancel_tool_calls(self, ids: Sequence[str]) -> None:
        """Send ``toolCallCancellation`` for ``ids``."""
        for cid in ids:
            self.pending_calls.pop(cid, None)
        self.cancelled_call_ids.extend(ids)
        await self._send(P.tool_call_cancellation(list(ids)))

    async def go_away(
        self,
        time_left: float,
        *,
        close_code: int = P.CLOSE_INTERNAL,
        reason: str = "Deadline expired before operation could complete.",
    ) -> ConnectionRecord:
        """Send ``goAway{timeLeft}``; close the socket when the time runs out.

        Google closes an expired connection with 1011 "Deadline expired before
        operation could complete."; pass ``close_code`` to change that.
        """
        conn = await self._send(P.go_away(time_left))

        async def expire() -> None:
            await asyncio.sleep(time_left)
            if conn.open:
                logger.debug("emulator: goAway time ran out on connection {}", conn.index)
                await conn.close(close_code, reason)
                self._notify()

        task = asyncio.create_task(expire(), name=f"goaway-{conn.index}")
        self._bg_tasks.add(task)
        task.add_done_callback(self._bg_tasks.discard)
        return conn

    async def close(self, code: int = P.CLOSE_NORMAL, reason: str = "") -> None:
        """Close the current socket (no-op if there is none)."""
        conn = self.connection
        if conn is not None:
            await conn.close(code, reason)
            self._notify()

    async def wait_reconnect(
        self, timeout: float | None = 30.0, *, after: ConnectionRecord | None = None
    ) -> ConnectionRecord:
        """Wait for an open socket newer than ``after`` (a resume) and return it.

        ``after`` defaults to the current socket, or the last one if none is open.
        """
        ref = after or self.connection or (self.connections[-1] if self.connections else None)
        floor = ref.index if ref is not None else -1
        return await self._wait_for(
            lambda: next((c for c in self.connections if c.index > floor and c.open), None),
            timeout,
        )

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the session has no open socket."""
        await self._wait_for(lambda: self.connection is None or None, timeout)

    async def issue_resumption_update(self) -> None:
        """Send a ``sessionResumptionUpdate`` now (resumable only when idle)."""
        conn = self.connection
        if conn is not None:
            await self._resumption_update(conn)

    # ------------------------------------------------------------------ internals

    async def _resumption_update(self, conn: ConnectionRecord) -> None:
        if not self.resumption_enabled or not conn.open:
            return
        if self.pending_calls or self._turn is not None:
            await conn.send(P.session_resumption_update(None, False))
            return
        handle = secrets.token_urlsafe(32)
        self.handles[handle] = frozenset(self.known_call_ids)
        await conn.send(self.resumption.update(conn, handle, self.caller_input, self.setup))

    def _attach(self, conn: ConnectionRecord, handle: str | None) -> None:
        if handle is not None:
            known = self.handles[handle]
            forgotten = self.known_call_ids - known
            self.forgotten_call_ids |= forgotten
            self.known_call_ids = set(known)
            for cid in forgotten:
                self.pending_calls.pop(cid, None)
        conn.session_id = self.id
        self.connections.append(conn)
        self.caller_input = self._new_input()
        if handle is not None:
            self.resumption.restore(handle, self.caller_input)
        self._notify()

    def _detached(self) -> None:
        self._notify()

    def _end(self) -> None:
        self.ended = True
        self._notify()

    async def _interrupt(self) -> bool:
        turn = self._turn
        return await turn.interrupt() if turn is not None else False

    def _add_utterance(self, utt: Utterance) -> None:
        self.utterances.append(utt)
        if utt.kind == "audio":
            tokens = math.ceil(utt.duration * AUDIO_TOKENS_PER_SECOND)
            self._prompt_audio_tokens += tokens
        else:
            self._history_tokens += _text_tokens(utt.text or "")
        logger.debug(
            "emulator {}: utterance {} ({:.2f}s, text={!r})",
            self.id,
            utt.kind,
            utt.duration,
            utt.text,
        )
        self._notify()

    def _new_input(self) -> CallerInput:
        return CallerInput(
            self.vad_config,
            automatic=self.automatic_activity_detection,
            speech_started=self._on_speech_start,
            utterance=self._add_utterance,
            model_speaking=lambda: self.model_speaking,
        )

    async def _on_speech_start(self) -> None:
        if self.barge_in_enabled:
            await self._interrupt()

    def _on_function_response(
        self, conn: ConnectionRecord, fr: dict[str, Any]
    ) -> FunctionResponseRecord:
        cid = fr.get("id")
        known = cid in self.known_call_ids
        rec = FunctionResponseRecord.of(fr, conn.index, self.id, known=known)
        if not known:
            logger.warning("emulator {}: functionResponse for unknown call id {!r}", self.id, cid)
        elif rec.final and isinstance(cid, str):  # known: it is one of our (string) ids
            self.pending_calls.pop(cid, None)
        self.function_responses.append(rec)
        self._history_tokens += _text_tokens(str(rec.response))
        self._notify()
        return rec


def resample_to_output(pcm16k: bytes) -> bytes:
    """Caller audio (16 kHz) as model audio (24 kHz)."""
    return resample(pcm16k, INPUT_RATE, OUTPUT_RATE)
