"""Run the Live stage in a real Pipecat pipeline against the emulator, without WebRTC.

For tests (ours and tool developers'): `running_stage()` gives a live stage
whose Google client talks to a `LiveEmulator` through the SDK's own
variables, exactly as in production.

The pipeline is the call's own minus the transport: context aggregators around
the stage (with the call's turn detection, `bot/live/local_turns.py`), a recorder
where the output transport would be. Caller audio is fed
as 20 ms `InputAudioRawFrame`s, as the SmallWebRTC input produces them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMRunFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from bot.envpatch import patched_env
from bot.events import EventSink
from bot.live.local_turns import caller_turns
from bot.live.stage import LiveStage
from bot.live.vertex import live_stage
from bot.media.formats import CALLER_AUDIO
from bot.settings import LiveSettings
from gemini_emulator import LiveEmulator
from gemini_emulator.testing import client_env
from tools.api import RoomInfo
from tools.registry import ToolRegistry

FRAME_BYTES = CALLER_AUDIO.nbytes(0.020)  # 20 ms at 16 kHz, 16-bit mono


@dataclass
class Seen:
    frame: Frame
    at: float


class Recorder(FrameProcessor):
    """Stands where the output transport would: records what the stage emits."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            self.seen.append(Seen(frame, time.monotonic()))
        await self.push_frame(frame, direction)

    def audio_seconds(self, after: float = 0.0) -> float:
        return sum(
            len(s.frame.audio) / 2 / s.frame.sample_rate
            for s in self.seen
            if isinstance(s.frame, TTSAudioRawFrame) and s.at >= after
        )

    def first(self, kind: type[Frame]) -> Seen | None:
        return next((s for s in self.seen if isinstance(s.frame, kind)), None)


@dataclass
class StageHarness:
    stage: LiveStage
    worker: PipelineWorker
    recorder: Recorder
    emulator: LiveEmulator
    fed_bytes: int = 0
    _feeding: list[asyncio.Task] = field(default_factory=list)

    async def feed(self, pcm: bytes, *, realtime: bool = True) -> None:
        """Send caller audio as 20 ms frames (paced like a microphone when `realtime`)."""
        t0 = time.monotonic()
        for i in range(0, len(pcm) - len(pcm) % FRAME_BYTES, FRAME_BYTES):
            chunk = pcm[i : i + FRAME_BYTES]
            await self.worker.queue_frame(
                InputAudioRawFrame(audio=chunk, sample_rate=CALLER_AUDIO.rate, num_channels=1)
            )
            self.fed_bytes += len(chunk)
            if realtime:
                due = t0 + CALLER_AUDIO.seconds(i + FRAME_BYTES)
                await asyncio.sleep(max(0.0, due - time.monotonic()))

    def feed_in_background(self, pcm: bytes) -> asyncio.Task:
        task = asyncio.create_task(self.feed(pcm))
        self._feeding.append(task)
        return task

    def interruptions(self) -> list[Seen]:
        return [s for s in self.recorder.seen if isinstance(s.frame, InterruptionFrame)]


def live_settings(**overrides: Any) -> LiveSettings:
    return replace(LiveSettings(api_key="test-key", model="models/gemini-3.8-live"), **overrides)


@asynccontextmanager
async def running_stage(
    emulator: LiveEmulator,
    *,
    tools: ToolRegistry | None = None,
    live: LiveSettings | None = None,
    google_search: bool = False,
    greeting: str | None = None,
    on_event: EventSink | None = None,
    room: RoomInfo | None = None,
    call_id: str = "test",
) -> AsyncIterator[StageHarness]:
    """The stage in a running pipeline, its client pointed at `emulator`.

    With `greeting`, the session starts with that instruction as a turn (as a call does);
    `on_event` gets the stage's typed call events (`bot/events.py`: tool states,
    transcripts, guard refusals, session moves); `room` and `call_id` are what the
    tools see of their call (`CallContext.room`, `.caller_id`).
    """
    with patched_env(client_env(emulator)):
        async with _running_stage(
            emulator, tools, live, google_search, greeting, on_event, room, call_id
        ) as harness:
            yield harness


@asynccontextmanager
async def _running_stage(
    emulator: LiveEmulator,
    tools: ToolRegistry | None,
    live: LiveSettings | None,
    google_search: bool,
    greeting: str | None = None,
    on_event: EventSink | None = None,
    room: RoomInfo | None = None,
    call_id: str = "test",
) -> AsyncIterator[StageHarness]:
    live = live or live_settings()
    stage = live_stage(
        live=live,
        tools=tools or ToolRegistry(),
        google_search=google_search,
        inference_on_context_initialization=greeting is not None,
        call_id=call_id,
        room=room,
        on_event=on_event,
    )
    recorder = Recorder()
    context = LLMContext()
    if greeting:
        context.add_message({"role": "developer", "content": greeting})
    user_agg, assistant_agg = LLMContextAggregatorPair(context, user_params=caller_turns(live))
    worker = PipelineWorker(
        Pipeline([user_agg, stage, recorder, assistant_agg]),
        params=PipelineParams(),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    await worker.queue_frame(LLMRunFrame())
    harness = StageHarness(stage, worker, recorder, emulator)
    try:
        yield harness
    finally:
        for t in harness._feeding:
            t.cancel()
        await worker.cancel()
        try:
            await asyncio.wait_for(run, 10)
        except TimeoutError:
            run.cancel()


def silence(seconds: float) -> bytes:
    return bytes(CALLER_AUDIO.nbytes(seconds))
