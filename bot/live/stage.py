"""The Live stage: Pipecat's GeminiLiveLLMService with what a phone-grade call needs.

Pipecat 1.14's service carries the audio, transcripts and function calls; this
subclass adds, at its seams:

1. each tool's BLOCKING/NON_BLOCKING behaviour in the very first `setup`
   (declared by our tool registry, not inferred from registered handlers);
2. all three result schedulings (INTERRUPT, WHEN_IDLE, SILENT), per tool and
   per result, and `will_continue` progress;
3. `toolCallCancellation`: exactly the cancelled calls stop, and get no result;
4. `goAway`: the session moves to a new socket with the latest resumable
   handle before time runs out (old socket closed first, caller audio buffered
   and delivered after the new `setupComplete`, pending tool results first);
5. keepalive that tolerates Gemini's slow pongs;
6. context compression and session resumption on by default;
7. barge-in: queued bot audio stops on `interrupted` (Pipecat broadcasts the
   interruption; tools marked cancel_on_barge_in are cancelled with a result);
8. acting tools run only on the caller's own request (`caller_intent.py` judges it
   from the turn order this stage reports to it);
plus: a call id never runs twice, and results are never re-sent after a
reconnect (Pipecat 1.14 forgets what it answered when it disconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.genai import Client
from google.genai.errors import APIError
from google.genai.types import (
    Blob,
    Content,
    FunctionResponse,
    FunctionResponseScheduling,
    HttpOptions,
    LiveServerMessage,
    Part,
    ProactivityConfig,
    ThinkingConfig,
)
from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import AdapterType, ToolsSchema
from pipecat.adapters.llm.services.gemini_live_adapter import GeminiLiveLLMAdapter
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    InputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.processors.frameworks.rtvi import RTVISendTextFrame
from pipecat.services.google.gemini_live.llm import (
    ContextWindowCompressionParams,
    GeminiLiveLLMService,
    GeminiVADParams,
)
from pipecat.services.llm_service import FunctionCallFromLLM, FunctionCallParams

from bot.live.caller_intent import CallerIntent, Refusal, explain
from bot.media.formats import CALLER_AUDIO, pcm_mime_type
from bot.settings import Backend, LiveSettings
from tools.api import Behavior, Outcome, Scheduling, Tool
from tools.registry import ToolRegistry


@dataclass
class ScheduledResultProperties(FunctionCallResultProperties):
    """Result properties that also carry the result's scheduling."""

    scheduling: Scheduling | None = None


def parse_duration(value: str | None) -> float | None:
    """Google's protobuf Duration JSON ("1.5s") in seconds."""
    if not value:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)s\s*", str(value))
    return float(match.group(1)) if match else None


def live_http_options(live: LiveSettings) -> HttpOptions:
    """Client options: API version and a keepalive that survives 30 s pongs.

    websockets' default (ping every 20 s, close after 20 s without a pong) drops
    healthy Gemini sessions with 1011. google-genai hands `async_client_args`
    keys that `websockets.connect` knows straight to it.
    """
    return HttpOptions(
        api_version=live.api_version,
        async_client_args={
            "ping_interval": live.ping_interval,
            "ping_timeout": live.ping_timeout,
            # Base64 audio barely compresses; deflating it costs CPU on every frame.
            "compression": None,
        },
    )


_clients: dict[tuple, Client] = {}


def shared_client(live: LiveSettings, http_options: HttpOptions) -> Client:
    """One google-genai client per configuration, shared by every call in the process.

    Building a client loads the CA bundle three times (~150 ms, more under load) on
    the event loop; every call's Live socket is its own connection either way. The
    key includes the SDK's endpoint variables, so pointing them elsewhere (as the
    offline echo test and the tests do) gets a client of its own.
    """
    key = (
        live.backend,
        live.api_key,
        live.project,
        live.location,
        live.credentials_path,
        http_options.model_dump_json(),
        *(os.environ.get(v) for v in ("GOOGLE_GEMINI_BASE_URL", "SSL_CERT_FILE", "SSL_CERT_DIR")),
    )
    client = _clients.get(key)
    if client is None:
        if live.backend is Backend.VERTEX:
            credentials = None
            if live.credentials_path:
                from google.oauth2 import service_account

                credentials = service_account.Credentials.from_service_account_file(
                    live.credentials_path,
                    scopes=["https://www.googleapis.com/auth/cloud-platform"],
                )
            client = Client(
                vertexai=True,
                project=live.project,
                location=live.location,
                credentials=credentials,
                http_options=http_options,
            )
        else:
            client = Client(api_key=live.api_key or "", http_options=http_options)
        _clients[key] = client
    return client


def pipecat_settings(live: LiveSettings) -> GeminiLiveLLMService.Settings:
    """Our settings in the shape Pipecat's service takes."""
    vad = live.vad
    has_vad = any(
        v is not None
        for v in (
            vad.start_sensitivity,
            vad.end_sensitivity,
            vad.prefix_padding_ms,
            vad.silence_duration_ms,
        )
    )
    return GeminiLiveLLMService.Settings(
        model=live.model,
        voice=live.voice,
        language=live.language,
        vad=GeminiVADParams(
            start_sensitivity=f"START_SENSITIVITY_{vad.start_sensitivity}"
            if vad.start_sensitivity
            else None,
            end_sensitivity=f"END_SENSITIVITY_{vad.end_sensitivity}"
            if vad.end_sensitivity
            else None,
            prefix_padding_ms=vad.prefix_padding_ms,
            silence_duration_ms=vad.silence_duration_ms,
        )
        if has_vad
        else None,
        context_window_compression=ContextWindowCompressionParams(
            enabled=live.context_compression, trigger_tokens=live.compression_trigger_tokens
        ),
        thinking=ThinkingConfig(thinking_budget=live.thinking_budget)
        if live.thinking_budget is not None
        else {},
        enable_affective_dialog=live.affective_dialog,
        proactivity=ProactivityConfig(proactive_audio=True) if live.proactive_audio else {},
    )


class DeclaredFunction(FunctionSchema):
    """A tool's declaration as `tools.declarations` built it.

    Pipecat's own always adds an OBJECT `parameters`, which Gemini rejects when it
    has no properties; a parameterless tool goes out without `parameters`.
    """

    def __init__(self, declaration: dict[str, Any]):
        params = declaration.get("parameters") or {}
        super().__init__(
            name=declaration["name"],
            description=declaration["description"],
            properties=params.get("properties", {}),
            required=params.get("required", []),
        )
        self._declaration = declaration

    def to_default_dict(self) -> dict[str, Any]:
        return {"parameters": None, **self._declaration}  # None: left out of the setup


def tools_schema(registry: ToolRegistry, *, google_search: bool = False) -> ToolsSchema | None:
    """Pipecat's tool schema for our registry (plus Google Search grounding if asked)."""
    standard: list[FunctionSchema] = [DeclaredFunction(t.declaration()) for t in registry]
    custom = {AdapterType.GEMINI: [{"google_search": {}}]} if google_search else None
    if not standard and not custom:
        return None
    return ToolsSchema(standard_tools=standard, custom_tools=custom)


def tag_behaviors(tools: list, registry: ToolRegistry) -> None:
    """Put each registered tool's BLOCKING/NON_BLOCKING into its declaration."""
    for group in tools:
        if not isinstance(group, dict):
            continue
        for decl in group.get("function_declarations") or []:
            t = registry.get(decl.get("name", ""))
            if t is not None:
                decl["behavior"] = t.behavior.value


async def setup_tools(
    registry: ToolRegistry, *, google_search: bool = False, non_blocking: bool = True
) -> list[dict[str, Any]]:
    """The `tools` of the setup message as they go over the wire (for `livebot tools`).

    Built as the stage's first connect builds them (Pipecat's adapter, then our
    behaviours), then put through google-genai's own setup conversion (private
    API: a test compares the result with what the emulator receives).
    """
    from google.genai import _common, _live_converters
    from google.genai import live as genai_live
    from google.genai.types import LiveConnectConfig, LiveConnectParameters

    schema = tools_schema(registry, google_search=google_search)
    tools = list(GeminiLiveLLMAdapter().from_standard_tools(schema) or []) if schema else []
    if non_blocking:
        tag_behaviors(tools, registry)
    api = Client(api_key="not-used-offline")._api_client
    config = await genai_live._t_live_connect_config(api, LiveConnectConfig(tools=tools))
    params = LiveConnectParameters(model="models/x", config=config).model_dump(exclude_none=True)
    request = _common.convert_to_dict(
        _live_converters._LiveConnectParameters_to_mldev(api_client=api, from_object=params)
    )
    return request["setup"].get("tools", [])


EventSink = Callable[[dict[str, Any]], Awaitable[None]]


def _summary(args: Any, limit: int = 80) -> str:
    text = ", ".join(f"{k}={v}" for k, v in dict(args or {}).items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LiveStage(GeminiLiveLLMService):
    """One call's Gemini Live session, as a Pipecat pipeline stage."""

    def __init__(
        self,
        *,
        live: LiveSettings,
        tools: ToolRegistry | None = None,
        system_instruction: str | None = None,
        google_search: bool = False,
        call_id: str = "-",
        on_event: EventSink | None = None,
        on_interrupted: Callable[[], object] | None = None,
        **kwargs: Any,
    ):
        self._registry = tools or ToolRegistry()
        self._live = live
        self._log = logger.bind(call_id=call_id)
        self._on_event = on_event
        self._on_interrupted = on_interrupted
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._event_task: asyncio.Task | None = None
        super().__init__(
            api_key=live.api_key or "",
            settings=pipecat_settings(live),
            system_instruction=system_instruction or live.system_instruction,
            tools=tools_schema(self._registry, google_search=google_search),
            http_options=live_http_options(live),
            **kwargs,
        )
        # Register now, not when the first context frame arrives, so the first
        # setup already knows every tool (and its behaviour).
        for t in self._registry:
            self.register_function(t.name, self._handler_for(t), cancel_on_interruption=False)

        # Calls: every id we ever started, ids answered for good, ids the server cancelled.
        self._started_calls: set[str] = set()
        self._answered_calls: set[str] = set()
        self._cancelled_calls: set[str] = set()
        self._pending_calls: dict[str, str] = {}  # id -> tool name, awaiting a final answer

        # Moving the session between sockets.
        self._switching = False
        self._switch_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._generation = 0
        self._audio_backlog: deque[InputAudioRawFrame] = deque()
        self._audio_backlog_bytes = 0
        self._audio_backlog_dropped = 0
        self._response_backlog: list[FunctionResponse] = []
        self._go_away_deadline: float | None = None
        self._go_away_task: asyncio.Task | None = None
        self._event_seq = 0
        self._handle_seq = -1  # _event_seq when the latest resumable handle arrived
        self._activity_seq = 0  # _event_seq of the latest turn content or tool call
        self._failures = 0
        self._switch_started: tuple[float, str] | None = None  # (monotonic, reason)
        self.reconnects = 0
        self.lost = False  # the Live session could not be kept (refused or failed for good)
        self.lost_reason: str | None = None
        self._transcript: list[list[str]] = []  # [role, text], consecutive pieces joined
        # Acting tools run only on the caller's own request: see bot/live/caller_intent.py.
        self._intent = CallerIntent()
        self._call_marks: dict[str, int] = {}  # call id -> where its toolCall arrived
        self._caller_heard = asyncio.Event()  # set (and replaced) on each caller input

    # ---- what the caller's page is told ------------------------------------

    async def _emit(self, data: dict[str, Any]) -> None:
        """Report a call event (tool activity, transcript, notice) without waiting for it.

        Events go through a queue to one delivery task, in order, so the page and the
        metrics never hold up the Live session or a tool result on the hot path.
        """
        if self._on_event is None:
            return
        if self._event_task is None:
            self._event_task = self.create_task(self._deliver_events(), "call_events")
        self._events.put_nowait(data)

    async def _deliver_events(self) -> None:
        while True:
            data = await self._events.get()
            if self._on_event is None:
                continue
            try:
                await self._on_event(data)
            except Exception as e:
                self._log.debug(f"call event not delivered: {e!r}")

    async def cleanup(self) -> None:
        await super().cleanup()
        if self._event_task is not None:
            await self.cancel_task(self._event_task)
            self._event_task = None

    async def _emit_tool(
        self,
        call_id: str,
        name: str,
        state: str,
        scheduling: Scheduling | None,
        summary: str | None,
    ) -> None:
        t = self._registry.get(name)
        non_blocking = (
            self._supports_non_blocking_tools
            and t is not None
            and t.behavior is Behavior.NON_BLOCKING
        )
        await self._emit(
            {
                "type": "tool",
                "call_id": call_id,
                "name": name,
                "state": state,
                "scheduling": scheduling.value if scheduling and non_blocking else None,
                "behavior": "NON_BLOCKING" if non_blocking else "BLOCKING",
                "summary": summary,
            }
        )

    # ---- backend -----------------------------------------------------------

    def create_client(self) -> None:
        """The Developer API (API key) or Vertex AI (project, location, credentials)."""
        self._client = shared_client(self._live, self._http_options)

    def _get_history_config(self):
        # Vertex AI refuses history_config; the Developer API wants it.
        return None if self._live.backend is Backend.VERTEX else super()._get_history_config()

    @property
    def _supports_non_blocking_tools(self) -> bool:
        # Vertex AI's Live endpoint breaks on NON_BLOCKING and scheduling (said at start).
        if self._live.backend is Backend.VERTEX:
            return False
        return super()._supports_non_blocking_tools

    # ---- tools -------------------------------------------------------------

    def _handler_for(self, t: Tool):
        """A Pipecat handler that runs our tool and reports one outcome."""

        async def handler(params: FunctionCallParams) -> None:
            async def progress(response: dict[str, Any], scheduling: Scheduling) -> None:
                await params.result_callback(
                    response,
                    properties=ScheduledResultProperties(is_final=False, scheduling=scheduling),
                )

            async def tool_text(response: dict[str, Any], scheduling: Scheduling) -> None:
                self._intent.tool_text()
                await progress(response, scheduling)

            at = self._call_marks.pop(params.tool_call_id, None) or self._intent.mark()
            outcome = await self._refusal_if_not_asked(t, params, at) if t.acting else None
            if outcome is None:
                outcome = await t.invoke(params.arguments, params.tool_call_id, tool_text)
                self._intent.tool_text()
            await params.result_callback(
                outcome.response,
                properties=ScheduledResultProperties(
                    is_final=True,
                    scheduling=outcome.scheduling,
                    run_llm=outcome.scheduling is not Scheduling.SILENT,
                ),
            )

        return handler

    async def _refusal_if_not_asked(
        self, t: Tool, params: FunctionCallParams, at: int
    ) -> Outcome | None:
        """None if the caller asked for this acting call (its toolCall arrived at `at`);
        else the outcome that says why not, and how to ask."""
        args, call_id = params.arguments, params.tool_call_id
        confirm = t.needs_confirmation(args)
        if self._intent.verdict(t.name, args, at=at, confirm=confirm).refusal is (
            Refusal.NO_CALLER_TURN
        ):
            # The caller's transcription can lag the toolCall a little: wait for it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._caller_heard.wait(), 1.5)
        verdict = self._intent.decide(t.name, args, at=at, confirm=confirm)
        if verdict.allowed:
            if verdict.confirmed:
                self._log.info(f"tool {t.name} runs on the caller's confirmation")
            return None
        reason = verdict.refusal or Refusal.NO_CALLER_TURN
        summary = _summary(args)
        self._log.warning(f"tool call {call_id} not run: {t.name}({summary}): {reason.value}")
        await self._emit(
            {
                "type": "guard",
                "call_id": call_id,
                "name": t.name,
                "refusal": reason.value,
                "summary": summary,
            }
        )
        return t.refusal(explain(reason, t.name, args), reason.value)

    def _note_caller(self) -> None:
        """The caller produced input (transcribed speech, typed text, a barge-in)."""
        self._intent.caller()
        self._caller_heard.set()
        self._caller_heard = asyncio.Event()

    def _tag_tool_behaviors(self, tools: list) -> None:
        """Declare each function's behaviour from our registry (Pipecat infers it)."""
        tag_behaviors(tools, self._registry)

    async def _handle_msg_tool_call(self, message: LiveServerMessage) -> None:
        """Start each new call once; a repeated id is answered already or still running."""
        assert message.tool_call is not None
        self._activity_seq = self._next_seq()
        at = self._intent.mark()
        calls = []
        for f in message.tool_call.function_calls or []:
            call_id = f.id or f"{f.name}-{len(self._started_calls)}"
            if call_id in self._started_calls:
                self._log.warning(
                    f"tool call {call_id} ({f.name}) repeated by the server; not run again"
                )
                continue
            self._started_calls.add(call_id)
            self._call_marks[call_id] = at
            self._pending_calls[call_id] = f.name or ""
            self._tool_call_id_to_name[call_id] = f.name or ""
            self._log.info(f"tool call {call_id}: {f.name}({f.args or {}})")
            if f.name not in self._registry:
                self._log.warning(f"model called unknown tool {f.name!r}")
            t = self._registry.get(f.name or "")
            await self._emit_tool(
                call_id, f.name or "", "running", t.scheduling if t else None, _summary(f.args)
            )
            calls.append(
                FunctionCallFromLLM(
                    context=self._context,
                    tool_call_id=call_id,
                    function_name=f.name or "",
                    arguments=f.args or {},
                )
            )
        if calls:
            await self.run_function_calls(calls)

    async def _handle_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Send one result (final or progress) with its scheduling."""
        call_id = frame.tool_call_id
        props = frame.properties
        is_final = props.is_final if props else True
        if call_id in self._cancelled_calls:
            self._log.info(
                f"tool call {call_id} was cancelled by the server; its result is dropped"
            )
            return
        if call_id in self._answered_calls:
            self._log.warning(f"tool call {call_id} already answered; duplicate result dropped")
            return
        t = self._registry.get(frame.function_name)
        scheduling = props.scheduling if isinstance(props, ScheduledResultProperties) else None
        if scheduling is None:
            scheduling = t.scheduling if t else Scheduling.INTERRUPT
        response = self.get_llm_adapter().to_function_response_dict(frame.result)
        if t is None and "error" not in response:
            response = {"error": f"there is no tool named {frame.function_name!r}", **response}
        non_blocking = (
            self._supports_non_blocking_tools
            and t is not None
            and t.behavior is Behavior.NON_BLOCKING
        )
        fr = FunctionResponse(id=call_id, name=frame.function_name, response=dict(response))
        if non_blocking:
            # The scheduling is a field of FunctionResponse; the tool's data stays as it was.
            fr.scheduling = FunctionResponseScheduling(scheduling.value)
            fr.will_continue = not is_final
        elif not is_final:
            self._log.debug(f"progress for BLOCKING tool {frame.function_name} not sent")
            return
        if is_final:
            self._answered_calls.add(call_id)
            self._completed_tool_calls.add(call_id)
            self._pending_calls.pop(call_id, None)
        self._log.info(
            f"tool result {call_id} ({frame.function_name}): "
            f"{'final' if is_final else 'progress'}, {scheduling.value if non_blocking else 'blocking'}"
        )
        await self._send_function_response(fr)
        if is_final:
            failed = "error" in response
            await self._emit_tool(
                call_id,
                frame.function_name,
                "failed" if failed else "done",
                scheduling,
                str(response["error"])[:120] if failed else None,
            )
            self._maybe_switch_after_go_away()

    async def _send_function_response(self, response: FunctionResponse) -> None:
        if self._switching or not self._session:
            self._response_backlog.append(response)
            return
        try:
            await self._session.send_tool_response(function_responses=response)
        except Exception as e:
            self._log.warning(f"tool result {response.id} could not be sent ({e}); kept for resend")
            self._response_backlog.append(response)

    async def _tool_result(
        self, tool_call_id: str, tool_name: str, tool_result_message: dict, **_: Any
    ):
        """Pipecat re-sends results it sees in the context; ours are sent once, above."""
        if tool_call_id not in self._answered_calls:
            self._log.debug(f"context holds a result for {tool_call_id} not sent by this stage")

    async def _cancel_server_calls(self, ids: list[str]) -> None:
        """Honour `toolCallCancellation`: stop exactly these calls, answer none of them."""
        ids_set = set(ids)
        self._cancelled_calls |= ids_set
        for call_id in ids_set:
            self._pending_calls.pop(call_id, None)
        cancelled = await self._cancel_function_call_tasks(
            lambda item: item.tool_call_id in ids_set, reason="server cancellation"
        )
        self._log.info(
            f"server cancelled tool calls {sorted(ids_set)}; "
            f"{len(cancelled)} were running and are stopped"
        )
        for call_id in sorted(ids_set):
            name = self._tool_call_id_to_name.get(call_id, "")
            await self._emit_tool(call_id, name, "cancelled", None, "cancelled by the model")

    async def _handle_interruption(self) -> None:
        """Barge-in: Pipecat stops the bot's turn; we also stop tools that asked for it."""
        await super()._handle_interruption()
        cancellable = {
            call_id
            for call_id, name in self._pending_calls.items()
            if (t := self._registry.get(name)) is not None and t.cancel_on_barge_in
        }
        if not cancellable:
            return
        await self._cancel_function_call_tasks(
            lambda item: item.tool_call_id in cancellable, reason="barge-in"
        )
        for call_id in cancellable:
            name = self._pending_calls.get(call_id, "")
            await self._handle_function_call_result(
                FunctionCallResultFrame(
                    function_name=name,
                    tool_call_id=call_id,
                    arguments={},
                    result={"error": "cancelled because the caller interrupted"},
                    run_llm=False,
                    properties=ScheduledResultProperties(scheduling=Scheduling.SILENT),
                )
            )

    # ---- server messages ---------------------------------------------------

    def _next_seq(self) -> int:
        self._event_seq += 1
        return self._event_seq

    async def _handle_server_message(self, message: LiveServerMessage) -> None:
        sc = message.server_content
        if sc and sc.interrupted and self._on_interrupted is not None:
            # Barge-in: silence the caller's speaker now, before the interruption has
            # travelled the pipeline to the output transport.
            self._on_interrupted()
        if sc and (sc.model_turn or sc.input_transcription or sc.output_transcription):
            self._activity_seq = self._next_seq()
        if sc and (sc.model_turn or sc.output_transcription):
            self._intent.model_output()
        for role, said in (
            ("user", sc and sc.input_transcription),
            ("bot", sc and sc.output_transcription),
        ):
            if said and said.text:
                self._note_transcript(role, said.text)
                await self._emit(
                    {"type": "transcript", "role": role, "text": said.text, "final": False}
                )
        if sc and (sc.turn_complete or sc.interrupted):
            await self._emit({"type": "transcript", "role": "bot", "text": "", "final": True})
        if message.tool_call_cancellation:
            await self._cancel_server_calls(list(message.tool_call_cancellation.ids or []))
        await super()._handle_server_message(message)
        if sc and (sc.turn_complete or sc.interrupted):
            # After super(): a toolCall bundled with the end belongs to the turn it ends.
            self._intent.model_turn_ended(interrupted=bool(sc.interrupted))
            if sc.interrupted:
                self._note_caller()  # Gemini's VAD heard the caller over the bot
        update = message.session_resumption_update
        if update and update.resumable and update.new_handle:
            self._handle_seq = self._next_seq()
        if message.go_away:
            self._on_go_away(parse_duration(message.go_away.time_left))
        self._maybe_switch_after_go_away()

    # ---- keeping one session across sockets --------------------------------

    def _on_go_away(self, time_left: float | None) -> None:
        left = 10.0 if time_left is None else time_left
        self._log.info(f"goAway: the server closes this socket in {left:g} s")
        margin = min(1.0, left / 2)
        self._go_away_deadline = time.monotonic() + left - margin
        if self._go_away_task is None or self._go_away_task.done():
            self._go_away_task = self.create_task(self._go_away_watchdog(), "go_away_watchdog")

    def _safe_to_switch(self) -> bool:
        """A resumable handle newer than any turn content or tool call we have seen."""
        return (
            self._session_resumption_handle is not None
            and self._handle_seq > self._activity_seq
            and not self._bot_is_responding
        )

    def _maybe_switch_after_go_away(self) -> None:
        if self._go_away_deadline is None or self._switching or not self._safe_to_switch():
            return
        self._go_away_deadline = None
        self.create_task(self._switch_socket("goAway"), "live_switch")

    async def _go_away_watchdog(self) -> None:
        while self._go_away_deadline is not None:
            if time.monotonic() >= self._go_away_deadline:
                self._go_away_deadline = None
                self._log.warning(
                    "goAway deadline reached without a fresh resumable handle; "
                    "moving with the latest one"
                )
                await self._switch_socket("goAway deadline")
                return
            await asyncio.sleep(0.05)

    async def _connection_task_handler(self, config) -> None:
        """Pipecat's receive loop, but a failed or dropped socket is recovered, not fatal."""
        generation = self._generation
        try:
            async with self._client.aio.live.connect(
                model=self._settings.model, config=config
            ) as session:
                self._log.info(
                    f"Live socket open (resumed: {self._session_resumption_handle is not None})"
                )
                self._connection_start_time = time.time()
                await self._handle_session_ready(session)
                while True:
                    async for message in session.receive():
                        await self._handle_server_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if self._disconnecting or generation != self._generation:
                return
            self._log.warning(f"Live socket lost: {e}")
            await self._emit(
                {"type": "notice", "level": "warning", "text": "Reconnecting to Gemini…"}
            )
            self.create_task(self._switch_socket(f"socket lost: {e}", error=e), "live_recover")

    async def _handle_session_ready(self, session) -> None:
        await super()._handle_session_ready(session)
        self._failures = 0
        await self._flush_backlogs()

    async def _create_initial_response(self, for_reconnect: bool = False) -> None:
        # History must reach the session before any realtime input, so held
        # audio waits until the seeding is done.
        if for_reconnect and self._session is not None and not self._disconnecting:
            # A fresh session after the old one was lost: a bounded summary instead of
            # the whole history (which may be what filled the context), and no new
            # turn, so the bot does not greet the caller a second time.
            summary = self.conversation_summary()
            if summary:
                await self._session.send_client_content(
                    turns=[Content(role="user", parts=[Part(text=summary)])], turn_complete=False
                )
            self._ready_for_realtime_input = True
        else:
            await super()._create_initial_response(for_reconnect)
        await self._flush_backlogs()

    def conversation_summary(self, max_chars: int = 2000) -> str:
        """The conversation so far, newest last, within `max_chars`, from the transcripts."""
        lines: list[str] = []
        used = 0
        for role, text in reversed(self._transcript):
            line = f"{'Caller' if role == 'user' else 'You'}: {text.strip()}"
            if used + len(line) > max_chars:
                break
            lines.append(line)
            used += len(line) + 1
        if not lines:
            return ""
        return (
            "(The connection was renewed. This is a summary of the conversation so far, "
            "from its transcript; carry on from it without greeting the caller again.)\n"
            + "\n".join(reversed(lines))
        )

    def _note_transcript(self, role: str, text: str) -> None:
        if role == "user" and text.strip():
            self._note_caller()
        if self._transcript and self._transcript[-1][0] == role:
            self._transcript[-1][1] += text
        else:
            self._transcript.append([role, text])
        del self._transcript[:-200]

    async def _flush_backlogs(self) -> None:
        """After setupComplete: pending tool results first, then the caller's buffered audio."""
        async with self._flush_lock:
            if self._session is None or not self._ready_for_realtime_input:
                return
            await self._flush_backlogs_locked(self._session)

    async def _flush_backlogs_locked(self, session) -> None:
        while self._response_backlog:
            response = self._response_backlog.pop(0)
            self._log.info(f"sending tool result {response.id} held during the switch")
            await session.send_tool_response(function_responses=response)
        sent = 0
        while self._audio_backlog:
            frame = self._audio_backlog.popleft()
            self._audio_backlog_bytes -= len(frame.audio)
            await session.send_realtime_input(
                audio=Blob(data=frame.audio, mime_type=pcm_mime_type(frame.sample_rate))
            )
            sent += len(frame.audio)
        if sent:
            self._log.info(
                f"delivered {CALLER_AUDIO.seconds(sent):.2f} s of caller audio held during the switch"
            )
        if self._audio_backlog_dropped:
            self._log.warning(
                f"{self._audio_backlog_dropped} caller audio bytes were dropped: the switch took "
                f"longer than LIVE_HANDOVER_BUFFER_SECONDS"
            )
            self._audio_backlog_dropped = 0
        self._switching = False
        if self._switch_started is not None:
            started, reason = self._switch_started
            self._switch_started = None
            gap = time.monotonic() - started
            self._log.info(f"Live session moved ({reason}) in {gap * 1000:.0f} ms")
            await self._emit({"type": "live", "event": "switched", "reason": reason, "gap": gap})

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, RTVISendTextFrame):
            # Typed text from the page: the user aggregator keeps the append for the
            # context, so Gemini hears it here, as realtime text input.
            self._log.info(f"caller typed: {frame.text[:200]!r}")
            self._note_transcript("user", f" {frame.text}")
            await self._send_user_text(frame.text)

    async def _send_user_audio(self, frame: InputAudioRawFrame) -> None:
        if self._disconnecting or self._audio_input_paused:
            return
        if (
            self._switching
            or self._audio_backlog
            or not self._session
            or not self._ready_for_realtime_input
        ):
            self._hold_audio(frame)
            return
        await super()._send_user_audio(frame)

    def _hold_audio(self, frame: InputAudioRawFrame) -> None:
        """Keep caller audio while there is no socket to send it on (bounded)."""
        self._audio_backlog.append(frame)
        self._audio_backlog_bytes += len(frame.audio)
        limit = int(self._live.handover_buffer_seconds * frame.sample_rate * 2 * frame.num_channels)
        while self._audio_backlog_bytes > limit and self._audio_backlog:
            old = self._audio_backlog.popleft()
            self._audio_backlog_bytes -= len(old.audio)
            self._audio_backlog_dropped += len(old.audio)

    async def _switch_socket(self, reason: str, error: Exception | None = None) -> None:
        """Close the current socket, then open a new one resuming the same session."""
        async with self._switch_lock:
            if self._disconnecting:
                return
            self._switching = True
            self._go_away_deadline = None
            if self._switch_started is None:
                self._switch_started = (time.monotonic(), "goaway" if error is None else "error")
            await self._close_socket()
            if error is not None:
                self._failures += 1
                plan, why = self._recovery_plan(error)
                if plan == "give_up":
                    await self._give_up(error, why)
                    return
                if plan == "fresh" and self._session_resumption_handle:
                    self._log.warning(f"{why}: opening a fresh session seeded with a summary")
                    self._session_resumption_handle = None
                await asyncio.sleep(min(2.0, 0.25 * (self._failures - 1)))
            handle = self._session_resumption_handle if self._live.session_resumption else None
            self.reconnects += 1
            self._log.info(
                f"moving the Live session to a new socket ({reason}); resume={bool(handle)}"
            )
            await self._connect(session_resumption_handle=handle)

    def _recovery_plan(self, error: Exception) -> tuple[str, str]:
        """After a lost socket: resume with the handle, start afresh, or give up."""
        code = error.code if isinstance(error, APIError) else None
        text = str(error).lower()
        resuming = self._session_resumption_handle is not None
        if any(word in text for word in ("quota", "resource_exhausted", "resource exhausted")):
            return "give_up", "busy"
        if code == 1008 and not resuming:
            return "give_up", "refused"  # a bad key or a refused model: retrying won't help
        if code == 1008:
            return "fresh", "the server refused to resume the session"
        if code == 1007:
            return "fresh", "the server closed the session as invalid or its context as full"
        if self._failures > 5:
            return "give_up", "lost"
        if self._failures >= 2 and resuming:
            return "fresh", "resumption keeps failing"
        return "resume", "socket lost"

    async def _give_up(self, error: Exception, why: str) -> None:
        """The Live session cannot be kept: tell the caller and the operator, end the call."""
        self.lost = True
        self.lost_reason = why
        text = {
            "busy": "The bot is busy right now (too many calls). Please try again in a few minutes.",
            "refused": "The bot cannot reach Gemini right now (it was refused). "
            "Please try again later.",
            "lost": "The bot lost its connection to Gemini. Please call again.",
        }[why]
        self._log.error(f"Live session given up ({why}) after {self._failures} tries: {error}")
        await self._emit({"type": "notice", "level": "error", "text": text})
        await self._emit({"type": "live", "event": "lost", "reason": why})
        await self.push_error(error_msg=f"Live session {why}: {error}", exception=error)
        # A call with no Live session only holds a place: end it once the caller has been
        # told (the notice goes out through the event queue first).
        self.create_task(self._end_call_after_notice(why), "end_call_after_give_up")

    async def _end_call_after_notice(self, why: str, grace: float = 1.5) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace + 3):
                while not self._events.empty():  # noqa: ASYNC110 (a queue has no drained event)
                    await asyncio.sleep(0.05)
        await asyncio.sleep(grace)  # time for the data channel to carry it
        self._log.warning(f"ending the call: its Live session was given up ({why})")
        await self.push_frame(EndWorkerFrame(reason=f"live session {why}"))

    async def _close_socket(self) -> None:
        self._generation += 1
        task, session = self._connection_task, self._session
        self._connection_task = None
        self._session = None
        self._ready_for_realtime_input = False
        if session is not None:
            try:
                await session.close()
            except Exception as e:
                self._log.debug(f"closing the old Live socket: {e}")
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task, timeout=1.0)

    async def _disconnect(self) -> None:
        """Pipecat forgets which calls it answered here; we keep that across sockets."""
        completed, names = set(self._completed_tool_calls), dict(self._tool_call_id_to_name)
        self._generation += 1
        if self._go_away_task is not None:
            self._go_away_deadline = None
            await self.cancel_task(self._go_away_task)
            self._go_away_task = None
        await super()._disconnect()
        self._completed_tool_calls |= completed
        self._tool_call_id_to_name.update(names)
