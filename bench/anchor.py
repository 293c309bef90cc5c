"""The anchor: a bot made of Pipecat's stock pieces only, for the benchmark to compare with.

It is Pipecat's realtime Gemini Live example (examples/realtime/realtime-gemini-live.py)
with the SmallWebRTC transport: `GeminiLiveLLMService` between `transport.input()` and
`transport.output()`, context aggregators around it, stock `TransportParams` (audio in
and out, Pipecat's default 16 kHz in / 24 kHz out), one tool registered with
`register_function`. Signalling is Pipecat's `SmallWebRTCRequestHandler` on its own
FastAPI app (`POST /api/offer`), the contract `caller.Caller` speaks.

Nothing of livebot is imported here: no `bot.media` fixes, no Live stage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from loguru import logger
from pipecat.adapters.schemas.function_schema import FunctionSchema
from pipecat.adapters.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService
from pipecat.services.llm_service import FunctionCallParams
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

TOOL_NAME = "bench_ping"


async def bench_ping(params: FunctionCallParams) -> None:
    """The benchmark's tool: answers at once."""
    await params.result_callback({"ok": True})


async def run_anchor_bot(connection: SmallWebRTCConnection, api_key: str) -> None:
    """One call, exactly the shape of Pipecat's realtime Gemini Live example."""
    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(audio_in_enabled=True, audio_out_enabled=True),
    )
    tools = ToolsSchema(
        standard_tools=[
            FunctionSchema(
                name=TOOL_NAME,
                description="Answers at once (benchmark).",
                properties={},
                required=[],
            )
        ]
    )
    llm = GeminiLiveLLMService(
        api_key=api_key,
        settings=GeminiLiveLLMService.Settings(
            system_instruction="You are a helpful assistant.", voice="Aoede"
        ),
        tools=tools,
    )
    llm.register_function(TOOL_NAME, bench_ping)
    context = LLMContext()
    # (newer Pipecat examples pass realtime_service_mode=...; 1.14 has no such option)
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context)
    pipeline = Pipeline(
        [transport.input(), user_aggregator, llm, transport.output(), assistant_aggregator]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        idle_timeout_secs=None,
    )

    @transport.event_handler("on_client_connected")
    async def on_client_connected(_transport: Any, _client: Any) -> None:
        context.add_message(
            {"role": "developer", "content": "Please introduce yourself to the user."}
        )
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(_transport: Any, _client: Any) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def create_anchor_app(api_key: str = "bench-key") -> FastAPI:
    """FastAPI app: `POST /api/offer` through Pipecat's `SmallWebRTCRequestHandler`."""
    handler = SmallWebRTCRequestHandler()
    tasks: set[asyncio.Task[None]] = set()
    app = FastAPI(title="pipecat-anchor")

    @app.post("/api/offer")
    async def offer(body: dict[str, Any]) -> dict[str, Any]:
        async def start(connection: SmallWebRTCConnection) -> None:
            task = asyncio.create_task(run_anchor_bot(connection, api_key))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        answer = await handler.handle_web_request(
            SmallWebRTCRequest(
                sdp=body["sdp"],
                type=body["type"],
                pc_id=body.get("pc_id"),
                restart_pc=body.get("restart_pc"),
                request_data=body.get("request_data"),
            ),
            start,
        )
        return answer or {}

    @app.get("/healthz")
    async def healthz() -> dict[str, int]:
        return {"calls": len(tasks)}

    @app.on_event("shutdown")
    async def shutdown() -> None:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await handler.close()
        logger.info("anchor stopped")

    return app
