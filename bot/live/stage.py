"""The Live stage: Pipecat's GeminiLiveLLMService with what a phone-grade call needs.

Pipecat 1.14's service carries the audio, transcripts and function calls. This
subclass only overrides its seams and delegates each to a module with one job:

- `tool_calls.py` (the ledger): each call id once; one answer each, with the tool's
  BLOCKING/NON_BLOCKING and per-result scheduling (INTERRUPT, WHEN_IDLE, SILENT,
  `will_continue` progress); `toolCallCancellation`; tools cancelled on barge-in;
- `outbound.py`: the one way to the socket (caller audio, typed text, tool results),
  held while the session moves and delivered in order after the new `setupComplete`,
  with what no resumable handle holds sent again first (`replay_log.py`);
- `usage.py` (tokens per modality, the end-of-call line, the per-call cap) and
  `audio_stream_end.py` (`audioStreamEnd` when the caller's frames stop);
- `session_moves.py`: `goAway` handover with the latest resumable handle, a lost
  socket resumed, started afresh with a summary, or given up (`recovery_plan`);
- `transcript.py` and `caller_intent.py`: what the caller said, the tools guard
  (acting tools run only on the caller's own request), the reconnect summary;
- `client.py` (keepalive that tolerates Gemini's slow pongs, compression and
  resumption on by default) and `declarations.py` (the first `setup` already
  declares every tool and its behaviour); `tool_updates.py`: a tool added or removed
  during the call reaches the model by resuming the session; `vertex.py`: Vertex AI;
- `stall_watch.py`: a model that does not answer is nudged, then moved;
  `local_turns.py`: with LIVE_TURN_DETECTION=local, Silero decides the caller's turns;
- `call_events.py`: the typed events (`bot/events.py`) the page and metrics get.

`socket_view.py` is what the delegates see of Pipecat's socket state. Every Pipecat
private member used here is listed, with the reason, in
`pipecat_seams.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from google.genai.types import Content, FunctionResponse, LiveServerMessage, Part, Transcription
from loguru import logger
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.processors.frameworks.rtvi import RTVISendTextFrame
from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService, GeminiMediaResolution
from pipecat.services.llm_service import FunctionCallFromLLM

from bot.events import EventSink, Role, TranscriptPiece
from bot.live.audio_stream_end import AudioStreamEnd
from bot.live.call_events import CallEvents
from bot.live.client import (
    SetupFinisher,
    live_http_options,
    pipecat_settings,
    room_words,
    shared_client,
)
from bot.live.declarations import tag_behaviors, tools_schema
from bot.live.limits import apply_to_setup
from bot.live.local_turns import TurnMarks, preroll_seconds
from bot.live.models import capabilities
from bot.live.outbound import Outbound
from bot.live.replay_log import NumberedSession
from bot.live.session_moves import SessionMoves, parse_duration
from bot.live.socket_view import SocketView
from bot.live.stall_watch import StallWatch
from bot.live.tool_calls import ToolCallLedger
from bot.live.tool_updates import ToolUpdates
from bot.live.transcript import CallerTranscript
from bot.live.usage import CallUsage, say_goodbye
from bot.settings import LiveSettings
from tools.api import CallInfo, RoomInfo
from tools.registry import ToolRegistry

OnInterrupted = Callable[[], object]  # silence the caller's speaker now


class LiveStage(GeminiLiveLLMService, SocketView):
    """One call's Gemini Live session, as a Pipecat pipeline stage."""

    transparent_resumption = False  # google-genai allows it on Vertex AI only

    def __init__(
        self,
        *,
        live: LiveSettings,
        tools: ToolRegistry | None = None,
        system_instruction: str | None = None,
        google_search: bool = False,
        call_id: str = "-",
        room: RoomInfo | None = None,
        on_event: EventSink | None = None,
        on_interrupted: OnInterrupted | None = None,
        media_resolution: str | None = None,  # "low" / "medium" / "high": video is on
        **kwargs: Any,
    ):
        self._registry = tools or ToolRegistry()
        self._live = live
        self._model_caps = capabilities(live.model, live.backend)  # the session's for good
        self._log = logger.bind(call_id=call_id)
        self._on_interrupted = on_interrupted
        settings = pipecat_settings(live)
        if media_resolution:
            settings.media_resolution = GeminiMediaResolution(
                f"MEDIA_RESOLUTION_{media_resolution.upper()}"
            )
        super().__init__(
            api_key=live.api_key or "",
            settings=settings,
            system_instruction=system_instruction or live.system_instruction,
            tools=tools_schema(self._registry, google_search=google_search),
            http_options=live_http_options(live),
            user_audio_preroll_secs=preroll_seconds(live),
            **kwargs,
        )
        self.hung_up: str | None = None
        self._rejoined = self._rejoin_fresh = False
        self._finisher = SetupFinisher(live, room_words(self._registry, room))
        self.transcript = CallerTranscript()
        self.events = CallEvents(on_event, self.create_task, self._log)
        self.outbound = Outbound(
            self,
            hold_seconds=live.handover_buffer_seconds,
            replay_seconds=live.limits.replay_seconds,
            start_task=self.create_task,
            on_send_error=self._handle_send_error,
            log=self._log,
        )
        self.moves = SessionMoves(
            self,
            self.outbound,
            self.events,
            resume=live.session_resumption,
            on_lost=self._report_lost,
            end_call=self._end_call,
            log=self._log,
        )
        self.ledger = ToolCallLedger(
            self._registry,
            self.transcript,
            self.events,
            self._tool_response,
            self._cancel_calls,
            non_blocking_ok=lambda: self._supports_non_blocking_tools,
            call=CallInfo(id=call_id, room=room),
            log=self._log,
        )
        self.tool_updates = ToolUpdates(
            self,
            self.ledger.tools,
            self.moves,
            busy=lambda: self.ledger.busy,
            google_search=google_search,
            log=self._log,
        )
        self.ledger.on_answered = self._after_answer
        self.watch = StallWatch(
            self,
            self.events,
            seconds=live.stall_seconds,
            move=lambda: self.moves.move("stall: the model did not answer", kind="stall"),
            caller_words=self.transcript.caller_words,
            replayed=lambda: self.outbound.replayed_seconds,
            log=self._log,
        )
        self.moves.on_socket_lost, self.moves.on_moved = self.watch.socket_lost, self.watch.moved
        self.usage = CallUsage(
            live.limits,
            self.events,
            self.create_task,
            goodbye=partial(say_goodbye, self),
            hang_up=self._end_call,
            log=self._log,
        )
        self.stream_end = AudioStreamEnd(self.outbound.stream_end, self.create_task, log=self._log)
        self.marks = TurnMarks(self, self.outbound, self.watch, self.stream_end)
        # Register now, not when the first context frame arrives, so the first
        # setup already knows every tool (and its behaviour); None: any other name.
        for t in self._registry:
            self.register_function(t.name, self.ledger.run, cancel_on_interruption=False)
        self.register_function(None, self.ledger.run, cancel_on_interruption=False)

    # ---- what the session moves and the outbound queue see --------------------

    @property
    def reconnects(self) -> int:
        return self.moves.reconnects

    @property
    def lost(self) -> bool:
        return self.moves.lost

    @property
    def lost_reason(self) -> str | None:
        return self.moves.lost_reason

    def _after_answer(self) -> None:
        """After each final tool answer: a goAway or tools move may be due now."""
        self.moves.maybe_move_after_go_away()
        self.tool_updates.maybe_apply()

    async def _cancel_calls(self, ids: set[str], reason: str) -> int:
        cancelled = await self._cancel_function_call_tasks(
            lambda item: item.tool_call_id in ids, reason=reason
        )
        return len(cancelled)

    async def _report_lost(self, error: Exception, why: str) -> None:
        await self.push_error(error_msg=f"Live session {why}: {error}", exception=error)

    async def _end_call(self, reason: str) -> None:
        self.hung_up = reason  # the bot ended the call: it is not parked for a rejoin
        await self.push_frame(EndWorkerFrame(reason=reason))

    def rejoined(self, handle: str | None, transcript: list[tuple[str, str]]) -> None:
        """The caller came back (`bot.rejoin`): resume their session, else seed its summary."""
        self.resumption_handle, self._rejoined, self._rejoin_fresh = handle, True, handle is None
        self.transcript.restore(transcript)

    # ---- Pipecat seams: the client and the setup ------------------------------

    def create_client(self) -> None:
        """One shared client per configuration (`client.py`)."""
        self._client = shared_client(self._live, self._http_options)

    @property
    def _supports_non_blocking_tools(self) -> bool:
        return self._model_caps.non_blocking  # models.py

    def _tag_tool_behaviors(self, tools: list[Any]) -> None:
        """Declare each function's behaviour from our registry (Pipecat infers it)."""
        tag_behaviors(tools, self.ledger.tools, blocking_ok=self._model_caps.blocking)

    async def _connect(self, session_resumption_handle: str | None = None) -> None:
        if self._session is None:  # each setup declares the call's tools as they are now
            self._tools_from_init = self.tool_updates.declare()
        await super()._connect(session_resumption_handle or self.resumption_handle)

    async def cleanup(self) -> None:
        self.usage.finish()
        self.stream_end.stop()
        await super().cleanup()
        if self.events.task is not None:
            await self.cancel_task(self.events.task)
            self.events.task = None

    # ---- Pipecat seams: what goes to the socket ---------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, RTVISendTextFrame):
            # Typed text from the page: the user aggregator keeps the append for the
            # context, so Gemini hears it here, as realtime text input.
            self._log.info(f"caller typed: {frame.text[:200]!r}")
            self.transcript.heard("user", f" {frame.text}")
            self.watch.caller_turn()
            await self._send_user_text(frame.text)

    async def _send_user_audio(self, frame: InputAudioRawFrame) -> None:
        if self._audio_input_paused:
            return
        self.watch.caller_audio(frame.audio, frame.sample_rate, frame.num_channels)
        if self._vad_disabled and not self._user_is_speaking:  # local_turns.py: pre-roll
            return await super()._send_user_audio(frame)
        self.stream_end.frame()
        await self.outbound.audio(frame.audio, frame.sample_rate, frame.num_channels)

    async def _handle_user_started_speaking(self, frame: Any) -> None:
        await self.marks.started(super()._handle_user_started_speaking, frame)  # local_turns

    async def _handle_user_stopped_speaking(self, frame: Any) -> None:
        await self.marks.stopped(super()._handle_user_stopped_speaking, frame)

    async def _send_user_text(self, text: str) -> None:
        await self.outbound.text(text, own_turn=self._vad_disabled and not self._user_is_speaking)

    async def _tool_response(self, response: FunctionResponse) -> None:
        self.watch.tool_result(response)
        await self.outbound.tool_response(response)

    async def _handle_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Pipecat sends a result when its frame comes back here; the ledger has sent it."""

    async def _tool_result(self, tool_call_id: str, tool_name: str, *_: Any, **__: Any) -> None:
        """Pipecat re-sends results it finds in the context; the ledger sends each once."""

    # ---- Pipecat seams: what comes from the socket ------------------------------

    async def _handle_server_message(self, message: LiveServerMessage) -> None:
        sc = message.server_content
        if sc and sc.interrupted and self._on_interrupted is not None:
            # Barge-in: silence the caller's speaker now, before the interruption has
            # travelled the pipeline to the output transport.
            self._on_interrupted()
        if sc and (sc.model_turn or sc.input_transcription or sc.output_transcription):
            self.moves.activity()
        if sc and (sc.model_turn or sc.output_transcription):
            self.transcript.intent.model_output()
            self.watch.model_output()
            self.outbound.model_spoke()
        pieces: tuple[tuple[Role, Transcription | None], ...] = (
            ("user", sc.input_transcription if sc else None),
            ("bot", sc.output_transcription if sc else None),
        )
        for role, said in pieces:
            if said and said.text:
                self.transcript.heard(role, said.text)
                self.events.emit(TranscriptPiece(role, said.text))
                if role == "user":
                    self.watch.caller_turn()
        if sc and (sc.turn_complete or sc.interrupted):
            self.events.emit(TranscriptPiece("bot", "", final=True))
        self.usage.on_message(message)
        if message.tool_call_cancellation:
            self.watch.tool_cancelled(message.tool_call_cancellation.ids or [])
            await self.ledger.server_cancelled(message.tool_call_cancellation.ids or [])
        await super()._handle_server_message(message)
        if sc and (sc.turn_complete or sc.interrupted):
            # After super(): a toolCall bundled with the end belongs to the turn it ends.
            self.transcript.intent.model_turn_ended(interrupted=bool(sc.interrupted))
            self.watch.turn_ended(sc)
            if sc.interrupted:
                self.transcript.caller()  # Gemini's VAD heard the caller over the bot
        update = message.session_resumption_update
        if update and update.resumable and update.new_handle:
            self.moves.handle_arrived()
            self.outbound.handle_arrived(update.last_consumed_client_message_index)
        if message.go_away:
            self.moves.go_away(parse_duration(message.go_away.time_left))
        self.moves.maybe_move_after_go_away()
        self.tool_updates.maybe_apply()

    async def _handle_msg_tool_call(self, message: LiveServerMessage) -> None:
        """Start each new call once (the ledger); Pipecat runs the handlers."""
        assert message.tool_call is not None
        self.moves.activity()
        calls = self.ledger.start(message.tool_call.function_calls or [])
        self.watch.tool_calls(c.id for c in calls)
        if calls:
            await self.run_function_calls(
                [
                    FunctionCallFromLLM(
                        context=self._context,
                        tool_call_id=c.id,
                        function_name=c.name,
                        arguments=c.arguments,
                    )
                    for c in calls
                ]
            )

    async def _handle_interruption(self) -> None:
        """Barge-in: Pipecat stops the bot's turn; the ledger stops tools that asked for it."""
        await super()._handle_interruption()
        await self.ledger.barge_in()

    # ---- Pipecat seams: the socket's life -------------------------------------

    async def _connection_task_handler(self, config: Any) -> None:
        """Pipecat's receive loop, but a failed or dropped socket is recovered, not fatal."""
        generation = self.moves.generation
        config = await self._finisher.finish(config)  # what Pipecat leaves out (client.py)
        if self.transparent_resumption and config.session_resumption is not None:
            config.session_resumption.transparent = True  # the index of what a handle holds
        apply_to_setup(config, self._live.limits)
        try:
            async with self._client.aio.live.connect(
                model=self._settings.model,  # type: ignore[attr-defined]
                config=config,
            ) as session:
                self._log.info(
                    f"Live socket open (resumed: {self._session_resumption_handle is not None})"
                )
                self._connection_start_time = time.time()  # type: ignore[assignment]
                await self._handle_session_ready(NumberedSession(session))
                while True:
                    async for message in session.receive():
                        await self._handle_server_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.moves.socket_lost(e, generation)

    async def _handle_session_ready(self, session: Any) -> None:
        await super()._handle_session_ready(session)
        self.moves.socket_ready()
        await self.moves.settled()

    async def _create_initial_response(self, for_reconnect: bool = False) -> None:
        # History must reach the session before any realtime input, so held
        # input waits until the seeding is done.
        # A rejoined call whose handle did not resume (or had none) is a fresh session too.
        fresh = for_reconnect or (self._rejoined and (self._rejoin_fresh or self.moves.fresh))
        if fresh and self._session is not None and not self._disconnecting:
            # A fresh session after the old one was lost: a bounded summary instead of
            # the whole history (which may be what filled the context), and no new
            # turn, so the bot does not greet the caller a second time.
            summary = self.transcript.summary()
            if summary:
                await self._session.send_client_content(
                    turns=[Content(role="user", parts=[Part(text=summary)])], turn_complete=False
                )
            self._ready_for_realtime_input = True
        else:
            await super()._create_initial_response(for_reconnect)
        await self.moves.settled()

    async def _disconnect(self) -> None:
        """No more moves once the stage disconnects for good."""
        await self.moves.stop()
        await self.watch.stop()
        await super()._disconnect()
