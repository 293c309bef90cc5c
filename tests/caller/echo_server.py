"""A stand-in bot server for the caller tests: Pipecat's SmallWebRTC endpoint with a
pipeline that sends the caller's audio straight back (16 kHz in, 24 kHz out).

The output transport plays only ``OutputAudioRawFrame``s, so ``Echo`` turns the input
transport's ``InputAudioRawFrame``s into those (the output transport resamples).

Run: ``python -m tests.caller.echo_server --port 7861``; ``GET /health`` answers once it is up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, HTTPException
from loguru import logger
from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner


class Echo(FrameProcessor):
    """Caller audio in -> the same audio out; everything else passes through."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            frame = OutputAudioRawFrame(
                audio=frame.audio, sample_rate=frame.sample_rate, num_channels=frame.num_channels
            )
        await self.push_frame(frame, direction)


def make_app() -> FastAPI:
    handler = SmallWebRTCRequestHandler()
    sessions: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await handler.close()
        for t in list(sessions):
            t.cancel()

    app = FastAPI(lifespan=lifespan)

    async def run_echo(conn: SmallWebRTCConnection) -> None:
        transport = SmallWebRTCTransport(
            webrtc_connection=conn,
            params=TransportParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=16000,
                audio_out_sample_rate=24000,
            ),
        )
        worker = PipelineWorker(Pipeline([transport.input(), Echo(), transport.output()]))

        @transport.event_handler("on_client_disconnected")
        async def on_disconnected(_transport: object, _client: object) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
        logger.info(f"echo session {conn.pc_id} ended")

    async def on_connection(conn: SmallWebRTCConnection) -> None:
        t = asyncio.create_task(run_echo(conn))
        sessions.add(t)
        t.add_done_callback(sessions.discard)

    @app.post("/api/offer")
    async def offer(request: SmallWebRTCRequest) -> dict[str, str]:
        if "m=audio" not in request.sdp:
            raise HTTPException(status_code=400, detail="bad offer: no audio section")
        try:
            answer = await handler.handle_web_request(request, on_connection)
        except ValueError as e:  # aiortc rejects the SDP
            raise HTTPException(status_code=400, detail=f"bad offer: {e}") from e
        if answer is None:
            raise HTTPException(status_code=500, detail="no answer")
        return answer

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    config = uvicorn.Config(make_app(), host=args.host, port=args.port, log_level="warning")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
