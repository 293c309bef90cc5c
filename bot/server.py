"""HTTP: the caller page, WebRTC signalling and health.

Signalling is Pipecat's SmallWebRTC contract (`POST /api/offer` with an SDP
offer, `PATCH /api/offer` with ICE candidates), so Pipecat's own clients can
call the bot. Each new peer connection becomes one call (`bot.call`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pydantic import BaseModel, Field

from bot.call import Call, CallOptions, build_call, run_call
from bot.sdp import OfferError, check_offer
from bot.settings import Settings
from tools.registry import ToolRegistry

MAX_SDP_BYTES = 64 * 1024  # a browser's audio offer is ~3-6 KB


class Offer(BaseModel):
    """An SDP offer from a caller (or a renegotiation of an existing connection)."""

    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"]
    pc_id: str | None = Field(default=None, max_length=128)
    restart_pc: bool | None = None


class Answer(BaseModel):
    """The bot's SDP answer and the id of the peer connection it made."""

    sdp: str
    type: Literal["answer"]
    pc_id: str


class Candidate(BaseModel):
    candidate: str = Field(max_length=1024)
    sdp_mid: str = Field(max_length=64)
    sdp_mline_index: int = Field(ge=0, le=16)


class CandidatePatch(BaseModel):
    pc_id: str = Field(max_length=128)
    candidates: list[Candidate] = Field(max_length=64)


class Info(BaseModel):
    """What the page needs to know to explain itself."""

    mode: Literal["live", "echo"]
    message: str


@dataclass
class CallRegistry:
    """The calls running in this process."""

    calls: dict[str, Call] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    def start(self, call: Call) -> None:
        task = asyncio.create_task(run_call(call), name=f"call-{call.call_id}")
        self.calls[call.call_id] = call
        self.tasks[call.call_id] = task
        task.add_done_callback(lambda _t: self._forget(call.call_id))

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
        self.tasks.pop(call_id, None)

    async def stop_all(self) -> None:
        for call in list(self.calls.values()):
            await call.task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=5)


def offline_message() -> str:
    return (
        "Offline echo test: no GOOGLE_API_KEY is set, so the bot runs against its built-in "
        "Live emulator and plays back each thing you say after you stop. This proves your "
        "microphone, network and speaker. For a real conversation, set GOOGLE_API_KEY in .env "
        "(see .env.example) and restart."
    )


def create_app(
    settings: Settings,
    options_factory: Callable[[], CallOptions] | None = None,
    *,
    tools: ToolRegistry | None = None,
    echo: bool = False,
) -> FastAPI:
    """The bot's HTTP app.

    `options_factory` makes each call's options (tools, greeting); `echo` says
    the Live endpoint is the built-in emulator's echo test, so the page says so.
    """
    handler = SmallWebRTCRequestHandler()
    calls = CallRegistry()
    mode: Literal["live", "echo"] = "echo" if echo else "live"
    if options_factory is None:
        # The echo test answers what the caller says; a greeting would only be echoed noise.
        greeting = None if echo else settings.live.greeting
        registry = tools if tools is not None else ToolRegistry()

        def options_factory() -> CallOptions:
            return CallOptions(
                greeting=greeting, tools=registry, google_search=settings.google_search
            )

    info = Info(
        mode=mode,
        message=offline_message() if mode == "echo" else "Talk to the bot once you are connected.",
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await calls.stop_all()
        await handler.close()

    app = FastAPI(title="livebot", version="0.1.0", lifespan=lifespan)
    app.state.calls = calls

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(status_code=400, content={"detail": f"bad request: {problems}"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return resources.files("bot.web").joinpath("index.html").read_text()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/info")
    async def get_info() -> Info:
        return info

    @app.post("/api/offer", responses={400: {"description": "The offer could not be used"}})
    async def offer(body: Offer) -> Answer:
        if body.pc_id and body.pc_id not in calls.calls:
            raise HTTPException(404, detail="no call with that pc_id: start a new call")
        try:
            check_offer(body.sdp)
        except OfferError as e:
            logger.info(f"offer refused: {e}")
            raise HTTPException(400, detail=f"bad SDP offer: {e}") from e

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            call = build_call(connection, settings.live, options_factory(), connection.pc_id)
            calls.start(call)

        try:
            answer = await handler.handle_web_request(
                SmallWebRTCRequest(
                    sdp=body.sdp, type=body.type, pc_id=body.pc_id, restart_pc=body.restart_pc
                ),
                on_connection,
            )
        except HTTPException:
            raise
        except Exception as e:
            logger.warning(f"offer refused: {type(e).__name__}: {e}")
            raise HTTPException(400, detail=f"the SDP offer could not be used: {e}") from e
        if answer is None:
            raise HTTPException(400, detail="the SDP offer produced no answer")
        return Answer(sdp=answer["sdp"], type="answer", pc_id=answer["pc_id"])

    @app.patch("/api/offer", status_code=204, responses={404: {"description": "Unknown pc_id"}})
    async def candidates(body: CandidatePatch) -> None:
        try:
            await handler.handle_patch_request(
                SmallWebRTCPatchRequest(
                    pc_id=body.pc_id,
                    candidates=[
                        IceCandidate(
                            candidate=c.candidate,
                            sdp_mid=c.sdp_mid,
                            sdp_mline_index=c.sdp_mline_index,
                        )
                        for c in body.candidates
                    ],
                )
            )
        except HTTPException:
            raise
        except Exception as e:
            raise HTTPException(400, detail=f"bad ICE candidate: {e}") from e

    return app
