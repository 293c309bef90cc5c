"""One call's pipeline: caller's WebRTC audio → Live stage → caller's ears.

The same shape as Pipecat's realtime Gemini Live example (transport in, context
aggregators around the service, transport out); the transport resamples the
caller's Opus to 16 kHz mono PCM for Gemini and plays its 24 kHz audio back.

The user aggregator's turn strategies come from `bot/live/local_turns.py`: by default
`ExternalUserTurnStrategies` (Gemini Live decides turns on the server; Pipecat's
default strategies would load the Smart Turn ONNX model in every call's constructor:
65-80 ms of the event loop at each join, which every call in progress hears as a gap,
and ~8 MiB per call, for an analyser that never runs); with
`LIVE_TURN_DETECTION=local`, Silero VAD and the strategies that turn it into
`activityStart` / `activityEnd`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loguru import logger
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

from bot.admission import Admission
from bot.events import (
    CallEvent,
    EventSink,
)
from bot.feed import CallFeed
from bot.live.local_turns import caller_turns
from bot.live.stage import LiveStage
from bot.live.vertex import live_stage
from bot.media import flush_output, install_barge_in_flush, install_call_media
from bot.media.formats import BOT_AUDIO, CALLER_AUDIO
from bot.media.video_in import VideoIn, caller_video
from bot.metrics import Metrics
from bot.pagemessage import bound_page_messages
from bot.rejoin import ParkedCall, new_secret, secret_key
from bot.rooms import Room
from bot.settings import LiveSettings
from bot.video_settings import VideoSettings
from bot.watchdog import DEFAULT_CALLER_GONE_SECONDS, CallerWatchdog
from tools.api import RoomInfo
from tools.registry import ToolRegistry
from tools.toolset import PagePanel, RoomSettings

CALLER_SAMPLE_RATE = CALLER_AUDIO.rate  # what Gemini Live takes (bot/media/formats.py)
BOT_SAMPLE_RATE = BOT_AUDIO.rate  # what Gemini Live speaks


@dataclass
class CallOptions:
    """What differs between calls.

    `tools` also carries the toolsets the tools came from (`registry_of`): each adds its
    lines to the room's system instruction and may show a panel on the caller's page.
    """

    greeting: str | None = None
    system_instruction: str | None = None
    google_search: bool = False
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    room: Room | None = None
    mode: str = "live"  # or "echo": the page says which
    message: str = ""
    metrics: Metrics | None = None
    admission: Admission | None = None
    # End the call after this long without any caller audio packet (None: never).
    caller_gone_seconds: float | None = DEFAULT_CALLER_GONE_SECONDS
    video: VideoSettings | None = None  # what the caller may show (None: audio only)
    rejoin_seconds: float = 0.0  # a caller who leaves may come back this long (0: off)
    rejoin: ParkedCall | None = None  # this call is a caller coming back (bot/rejoin.py)


@dataclass
class Call:
    """A running call, as the server tracks it."""

    call_id: str
    task: PipelineWorker
    stage: LiveStage
    feed: CallFeed
    metrics: Metrics | None = None
    outcome: str | None = None  # set by whoever ends the call early (e.g. "shutdown")
    video: VideoIn | None = None  # the caller's camera / screen into the session
    room: str = ""
    rejoin_key: str | None = None  # the key of its rejoin secret (None: no rejoin)
    caller_left: bool = False  # the caller's connection went (not the bot's doing)
    park: Callable[[str, ParkedCall], Awaitable[None]] | None = None  # set by the server

    def parked(self) -> ParkedCall | None:
        """What a caller who left may come back to; None if they may not (rejoin off,
        or the bot ended the call: shut down, lost the session, reached a cap)."""
        if not self.caller_left or self.rejoin_key is None or self.outcome == "shutdown":
            return None
        if self.stage.lost or self.stage.hung_up is not None:
            return None
        transcript = [(str(role), text) for role, text in self.stage.transcript.pieces()]
        room = self.room
        return ParkedCall(room, self.stage.resumption_handle, transcript, list(self.feed.history))


def build_call(
    connection: SmallWebRTCConnection, live: LiveSettings, options: CallOptions, call_id: str
) -> Call:
    """Assemble the pipeline for one caller's peer connection."""
    install_call_media(connection)  # bot/media: our fixes to aiortc's media path
    bound_page_messages(connection)  # nothing on the data channel exceeds its limit
    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=CALLER_SAMPLE_RATE,
            audio_out_sample_rate=BOT_SAMPLE_RATE,
        ),
    )
    install_barge_in_flush(transport.output(), connection)  # bot/media/output.py
    room = options.room
    system_instruction = options.system_instruction or live.system_instruction
    if room is not None and room.persona:
        system_instruction += f"\n\nIn this room ({room.display_title}): {room.persona}"
    for lines in room_instructions(options.tools, room):
        system_instruction += f"\n\n{lines}"
    if room is not None and room.voice:
        live = replace(live, voice=room.voice)
    task_ref: list[PipelineWorker] = []

    async def to_page(data: dict[str, Any]) -> None:
        await task_ref[0].rtvi.send_server_message(data)

    rejoin, secret = options.rejoin, new_secret() if options.rejoin_seconds > 0 else None
    session: dict[str, Any] = {
        "mode": options.mode,
        "message": options.message,
        "room": {"name": room.name, "title": room.display_title} if room else None,
        "rejoined": rejoin is not None,
        "video": sorted(options.video.sources) if options.video else [],  # the page's buttons
    }
    if secret is not None:  # the page keeps it to come back (bot/rejoin.py)
        session["rejoin"] = {"secret": secret, "seconds": options.rejoin_seconds}
    feed = CallFeed(
        to_page,
        session=session,
        panels=page_panels(options.tools, room),
        restored=rejoin.page if rejoin else (),
    )
    events = fan_out(
        feed.on_event,
        options.metrics.on_call_event if options.metrics else None,
        options.admission.on_call_event if options.admission else None,
    )
    stage = live_stage(
        live=live,
        tools=options.tools,
        system_instruction=system_instruction,
        google_search=options.google_search,
        call_id=call_id,
        room=room_info(room),
        on_interrupted=lambda: flush_output(connection),
        on_event=events,
        inference_on_context_initialization=bool(options.greeting) and rejoin is None,
        media_resolution=options.video.resolution if options.video else None,
    )
    context = LLMContext()
    if rejoin is not None:  # the same conversation goes on: no second greeting
        stage.rejoined(rejoin.handle, rejoin.transcript)
    elif options.greeting:
        context.add_message({"role": "developer", "content": options.greeting})
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=caller_turns(live)
    )
    watchdog = CallerWatchdog(options.caller_gone_seconds)
    pipeline = Pipeline(
        [
            transport.input(),
            watchdog,
            user_aggregator,
            stage,
            transport.output(),
            assistant_aggregator,
        ]
    )
    task = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        idle_timeout_secs=None,
    )
    task_ref.append(task)

    @task.rtvi.event_handler("on_client_ready")
    async def on_client_ready(_rtvi) -> None:
        await feed.start()

    @transport.event_handler("on_client_connected")
    async def on_client_connected(_transport, _client) -> None:
        logger.info("caller connected")
        if call.video is not None and call.video.task is None:
            call.video.start()
        # Hands the context to the stage: it seeds the session and starts taking audio.
        await task.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(_transport, _client) -> None:
        logger.info("caller left")
        call.caller_left = True
        feed.close()
        await task.cancel()

    call = Call(call_id=call_id, task=task, stage=stage, feed=feed, metrics=options.metrics)
    call.room = room.name if room else ""
    call.rejoin_key = secret_key(secret) if secret is not None else None
    call.video = caller_video(connection, stage.outbound.video, options.video, call_id)

    def caller_gone(reason: str) -> None:  # "caller_gone" or "never_connected"
        call.outcome = call.outcome or reason
        call.caller_left = reason == "caller_gone"
        feed.close()

    watchdog.on_gone = caller_gone
    return call


async def park(call: Call) -> None:
    """The caller left: keep the call for their rejoin (its Live socket is closed now)."""
    parked = call.parked()
    if parked is None or call.park is None or call.rejoin_key is None:
        return
    try:
        await call.park(call.rejoin_key, parked)
    except Exception as e:  # the shared state away: the caller gets a new call instead
        logger.warning(f"call not parked for a rejoin: {e}")
        return
    logger.info(f"call parked for a rejoin (resumable: {parked.handle is not None})")


def room_info(room: Room | None) -> RoomInfo | None:
    """What a call's tools see of its room (`CallContext.room`)."""
    if room is None:
        return None
    return RoomInfo(room.name, room.display_title, dict(room.toolsets))


def _settings(room: Room | None, toolset: str) -> RoomSettings:
    return room.settings_for(toolset) if room is not None else {}


def room_instructions(tools: ToolRegistry, room: Room | None) -> list[str]:
    """What the call's toolsets add to the system instruction in this room, in order."""
    found = (ts.room_instructions(_settings(room, ts.name)) for ts in tools.toolsets)
    return [lines for lines in found if lines]


def page_panels(tools: ToolRegistry, room: Room | None) -> list[PagePanel]:
    """The panels the call's toolsets show on the caller's page in this room, in order."""
    found = (ts.page_panel(_settings(room, ts.name)) for ts in tools.toolsets)
    return [panel for panel in found if panel is not None]


def fan_out(*sinks: EventSink | None) -> EventSink:
    """One event sink that delivers each call event to several consumers, in order."""
    targets = [s for s in sinks if s is not None]

    async def deliver(event: CallEvent) -> None:
        for sink in targets:
            await sink(event)

    return deliver


async def run_call(call: Call) -> None:
    """Run the call until the caller leaves or the server stops it."""
    started = time.monotonic()
    if call.metrics:
        call.metrics.active_calls.inc()
    with logger.contextualize(call_id=call.call_id):
        logger.info("call started")
        try:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(call.task)
            await runner.run()
        finally:
            if call.video is not None:
                await call.video.stop()
            call.feed.close()
            await park(call)
            outcome = call.outcome or ("live_lost" if call.stage.lost else "ended")
            seconds = time.monotonic() - started
            if call.metrics:
                call.metrics.active_calls.dec()
                call.metrics.calls.labels(outcome).inc()
                call.metrics.call_duration.observe(seconds)
            logger.info(
                f"call ended: {outcome} after {seconds:.0f} s "
                f"(Live reconnects: {call.stage.reconnects})"
            )
