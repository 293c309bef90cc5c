"""The tool-call ledger: every call id once, one answer each, straight to the socket.

Why we keep our own instead of Pipecat's bookkeeping: Pipecat 1.14 runs a call's
handler and sends its result when the `FunctionCallResultFrame` comes back through
`push_frame`; it forgets what it answered when it disconnects (so a reconnect can
answer twice), knows one scheduling per model (WHEN_IDLE or SILENT, not per tool
and per result), and has no `toolCallCancellation`. Here, for each call:

- `start` records a new id once (a repeated id is answered already or still running),
  looks its tool up once among the tools the call offers now (`tools.call_tools`: a
  tool may add or remove tools of its call; a removed one is refused with an error
  result and nothing runs), and decides once whether it is NON_BLOCKING;
- `run` (the Pipecat handler of every tool) asks the tools guard about acting calls,
  invokes the tool, and `_answer` turns each outcome into exactly one
  `FunctionResponse` with its scheduling and `will_continue`, handed to the stage's
  outbound queue - not to the pipeline. Pipecat still gets the result (its
  `result_callback`) for the context and the observers; the stage closes Pipecat's
  own two sending paths (see `pipecat_seams.py`);
- `server_cancelled` honours `toolCallCancellation` (exactly those calls stop and get
  no result); `barge_in` stops the calls whose tools asked for it, with a result.

Scheduling is decided here and nowhere else: the outcome's (`Tool.invoke` sets it
per result), else the tool's, else INTERRUPT; a BLOCKING call's progress is not sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.genai.types import FunctionCall, FunctionResponse, FunctionResponseScheduling
from loguru import logger
from pipecat.adapters.llm.services.gemini_live_adapter import GeminiLiveLLMAdapter
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams, LLMService

from bot.events import ToolNotRun, ToolState, ToolStateName
from bot.live.call_events import CallEvents
from bot.live.caller_intent import Refusal, explain
from bot.live.transcript import CallerTranscript
from tools.api import Behavior, CallInfo, Outcome, Scheduling, Tool
from tools.call_tools import CallTools
from tools.registry import ToolRegistry

SendResponse = Callable[[FunctionResponse], Awaitable[None]]
CancelTasks = Callable[[set[str], str], Awaitable[int]]  # ids, reason -> how many were running
BARGE_IN_RESULT = {"error": "cancelled because the caller interrupted"}


def short_args(args: Any, limit: int = 80) -> str:
    """The call's arguments on one caller-safe line (for logs and the page)."""
    text = ", ".join(f"{k}={v}" for k, v in dict(args or {}).items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call as the ledger started it: its tool looked up once."""

    id: str
    name: str
    arguments: dict[str, Any]
    tool: Tool | None  # None: the model called a tool the call does not offer
    non_blocking: bool
    at: int  # where its toolCall arrived in the guard's timeline


class ToolCallLedger:
    """One call's tool calls, from `toolCall` to their one answer each."""

    def __init__(
        self,
        registry: ToolRegistry,
        transcript: CallerTranscript,
        events: CallEvents,
        send: SendResponse,
        cancel_tasks: CancelTasks,
        *,
        non_blocking_ok: Callable[[], bool],
        call: CallInfo | None = None,
        log: Any = logger,
    ) -> None:
        self._transcript = transcript
        self._events = events
        self._send = send
        self._cancel_tasks = cancel_tasks
        self._non_blocking_ok = non_blocking_ok
        self._log = log
        # What every tool of this call sees of it (`CallContext.caller_id/room/state`).
        self.call = call or CallInfo()
        self.call.recent_words = transcript.caller_words
        # This call's own tool set, started from the registry (`CallContext.tools`).
        self.call.tools = self.tools = CallTools(registry)
        self._calls: dict[str, ToolCall] = {}  # every id ever started
        self._pending: set[str] = set()  # awaiting a final answer
        self._answered: set[str] = set()
        self._cancelled: set[str] = set()
        self.on_answered: Callable[[], None] = lambda: None  # after each final answer

    # ---- a toolCall arrives ------------------------------------------------

    def start(self, function_calls: Iterable[FunctionCall]) -> list[ToolCall]:
        """The new calls among these, recorded and reported as running."""
        at = self._transcript.intent.mark()
        started = []
        for f in function_calls:
            call_id = f.id or f"{f.name}-{len(self._calls)}"
            if call_id in self._calls:
                self._log.warning(
                    f"tool call {call_id} ({f.name}) repeated by the server; not run again"
                )
                continue
            name = f.name or ""
            t = self.tools.get(name)
            call = ToolCall(
                id=call_id,
                name=name,
                arguments=dict(f.args or {}),
                tool=t,
                non_blocking=bool(
                    t is not None
                    and t.behavior is Behavior.NON_BLOCKING
                    and self._non_blocking_ok()
                ),
                at=at,
            )
            self._calls[call_id] = call
            self._pending.add(call_id)
            self._log.info(f"tool call {call_id}: {f.name}({f.args or {}})")
            if t is None:
                self._log.warning(
                    f"model called {f.name!r}, not run: {self.tools.unavailable(name)}"
                )
            self._state(call, "running", t.scheduling if t else None, short_args(f.args))
            started.append(call)
        return started

    @property
    def busy(self) -> bool:
        """A call is still waiting for its final answer."""
        return bool(self._pending)

    # ---- the handler Pipecat runs for every tool ---------------------------

    async def run(self, params: FunctionCallParams) -> None:
        """Run one started call and answer it (registered for every tool, and for
        names we do not have)."""
        call = self._calls.get(params.tool_call_id)
        if call is None:  # not a toolCall of this session: nothing to answer
            self._log.warning(f"tool call {params.tool_call_id} was not started by the ledger")
            return
        t = call.tool
        if t is None:
            missing = LLMService.MISSING_FUNCTION_CALL_MESSAGE_TEMPLATE.format(
                function_name=call.name
            )
            response = {"error": self.tools.unavailable(call.name), "value": missing}
            await self._answer(call, Outcome(response, Scheduling.INTERRUPT, ok=False), params)
            return

        async def progress(response: dict[str, Any], scheduling: Scheduling) -> None:
            await self._answer(call, Outcome(response, scheduling, ok=True), params, final=False)

        async def tool_text(response: dict[str, Any], scheduling: Scheduling) -> None:
            self._transcript.intent.tool_text()
            await progress(response, scheduling)

        outcome = await self._refusal_if_not_asked(call, t) if t.acting else None
        if outcome is None:
            outcome = await t.invoke(params.arguments, call.id, tool_text, self.call)
            self._transcript.intent.tool_text()
        await self._answer(call, outcome, params)

    async def _refusal_if_not_asked(self, call: ToolCall, t: Tool) -> Outcome | None:
        """None if the caller asked for this acting call; else the outcome that says
        why not, and how to ask."""
        args = call.arguments
        verdict = await self._transcript.judge(
            t.name, args, at=call.at, confirm=t.needs_confirmation(args)
        )
        if verdict.allowed:
            if verdict.confirmed:
                self._log.info(f"tool {t.name} runs on the caller's confirmation")
            return None
        reason = verdict.refusal or Refusal.NO_CALLER_TURN
        summary = short_args(args)
        self._log.warning(f"tool call {call.id} not run: {t.name}({summary}): {reason.value}")
        self._events.emit(ToolNotRun(call.id, t.name, reason.value, summary))
        return t.refusal(explain(reason, t.name, args), reason.value)

    # ---- one answer per call -------------------------------------------------

    async def _answer(
        self,
        call: ToolCall,
        outcome: Outcome,
        params: FunctionCallParams | None,
        *,
        final: bool = True,
        run_llm: bool | None = None,
    ) -> None:
        """Send this result (final or progress) once, with its scheduling; then tell
        Pipecat (for the context), which sends nothing itself."""
        await self._send_answer(call, outcome, final)
        if params is not None:
            if final and run_llm is None:
                run_llm = outcome.scheduling is not Scheduling.SILENT
            await params.result_callback(
                outcome.response,
                properties=FunctionCallResultProperties(is_final=final, run_llm=run_llm),
            )

    async def _send_answer(self, call: ToolCall, outcome: Outcome, final: bool) -> None:
        if call.id in self._cancelled:
            self._log.info(
                f"tool call {call.id} was cancelled by the server; its result is dropped"
            )
            return
        if call.id in self._answered:
            self._log.warning(f"tool call {call.id} already answered; duplicate result dropped")
            return
        t = call.tool
        scheduling = outcome.scheduling or (t.scheduling if t else Scheduling.INTERRUPT)
        response = dict(GeminiLiveLLMAdapter.to_function_response_dict(outcome.response))
        fr = FunctionResponse(id=call.id, name=call.name, response=response)
        if call.non_blocking:
            # The scheduling is a field of FunctionResponse; the tool's data stays as it was.
            fr.scheduling = FunctionResponseScheduling(scheduling.value)
            fr.will_continue = not final
        elif not final:
            self._log.debug(f"progress for BLOCKING tool {call.name} not sent")
            return
        if final:
            self._answered.add(call.id)
            self._pending.discard(call.id)
        self._log.info(
            f"tool result {call.id} ({call.name}): {'final' if final else 'progress'}, "
            f"{scheduling.value if call.non_blocking else 'blocking'}"
        )
        await self._send(fr)
        if final:
            failed = "error" in response
            self._state(
                call,
                "failed" if failed else "done",
                scheduling,
                str(response["error"])[:120] if failed else None,
            )
            self.on_answered()

    # ---- calls stopped before their answer -----------------------------------

    async def server_cancelled(self, ids: Iterable[str]) -> None:
        """Honour `toolCallCancellation`: stop exactly these calls, answer none of them."""
        ids_set = set(ids)
        self._cancelled |= ids_set
        self._pending -= ids_set
        running = await self._cancel_tasks(ids_set, "server cancellation")
        self._log.info(
            f"server cancelled tool calls {sorted(ids_set)}; {running} were running and are stopped"
        )
        for call_id in sorted(ids_set):
            call = self._calls.get(call_id)
            if call is None:
                call = ToolCall(call_id, "", {}, None, non_blocking=False, at=0)
            self._state(call, "cancelled", None, "cancelled by the model")

    async def barge_in(self) -> None:
        """The caller interrupted: stop the running calls whose tools asked for it,
        each answered (silently) that it was cancelled."""
        ids = {
            call_id
            for call_id in self._pending
            if (t := self._calls[call_id].tool) is not None and t.cancel_on_barge_in
        }
        if not ids:
            return
        await self._cancel_tasks(ids, "barge-in")
        for call_id in ids:
            outcome = Outcome(dict(BARGE_IN_RESULT), Scheduling.SILENT, ok=False)
            await self._send_answer(self._calls[call_id], outcome, final=True)

    # ---- what the page and the metrics are told -------------------------------

    def _state(
        self,
        call: ToolCall,
        state: ToolStateName,
        scheduling: Scheduling | None,
        summary: str | None,
    ) -> None:
        self._events.emit(
            ToolState(
                call_id=call.id,
                name=call.name,
                state=state,
                scheduling=scheduling.value if scheduling and call.non_blocking else None,
                behavior="NON_BLOCKING" if call.non_blocking else "BLOCKING",
                summary=summary,
            )
        )
