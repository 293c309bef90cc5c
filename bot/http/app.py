"""The bot's HTTP app: its parts put together, with the middleware, errors and lifespan.

The routes live by job (`pages`, `signalling`, `ops`); this module makes the one set
of parts they share (the calls, the gate on new calls, the calling, the metrics), puts
them on `app.state` for the routes' dependencies (`bot.http.deps`), and wraps every
answer in the same limits and security headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from bot.admission import Admission
from bot.call import CallOptions
from bot.call_options import options_factory as default_options
from bot.http import ops, pages, signalling
from bot.http.bodylimit import BodyLimit
from bot.http.calling import Calling
from bot.http.calls import CallRegistry
from bot.http.errors import Problem, handle_errors
from bot.http.gate import Gate
from bot.http.opsport import OpsOnly
from bot.http.ratelimit import RateLimiter
from bot.http.room_slots import RoomSlots
from bot.metrics import Metrics
from bot.rooms import Room, RoomStore
from bot.settings import Settings
from bot.shared.running import shared_running, shared_state
from tools.room_options import room_options
from tools.toolset import Toolset

# The page loads nothing from anywhere else and may not be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def create_app(
    settings: Settings,
    options_factory: Callable[[Room], CallOptions] | None = None,
    *,
    secret: bytes,
    rooms: RoomStore,
    toolsets: Sequence[Toolset] = (),
    echo: bool = False,
) -> FastAPI:
    """The bot's HTTP app.

    `options_factory` makes each call's options from its room (default: from the
    settings and `toolsets`, `bot.call_options`); `echo` says the Live endpoint is the
    built-in emulator's echo test, so callers are told so.
    """
    # Find the tool packages' room settings now: reading a room needs them, and a
    # caller's join should not be the one that imports every package (~5 MiB, ~0.1 s).
    room_options()
    calls = CallRegistry()
    metrics = Metrics()
    shared = shared_state(settings)  # None: this host's files and memory, as before
    gate = Gate(
        calls,
        Admission(max_calls=settings.max_calls, shared=shared),
        RateLimiter(per_minute=settings.join_rate_per_minute, burst=settings.join_burst),
        RoomSlots(settings.data_dir / "room-slots"),  # room places, across processes
        shared,
    )
    calling = Calling(
        settings,
        secret=secret,
        rooms=rooms,
        calls=calls,
        gate=gate,
        metrics=metrics,
        options_factory=options_factory or default_options(settings, toolsets, echo=echo),
        echo=echo,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await calling.start()
        async with shared_running(shared, settings, calls, gate.draining):
            yield
            await calls.stop_all()
        await calling.close()

    # No /docs: its page would load scripts from a CDN; /openapi.json describes the API.
    app = FastAPI(
        title="livebot",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses={413: {"model": Problem, "description": "Request body too large"}},
    )
    app.state.settings = settings
    app.state.secret = secret
    app.state.rooms = rooms
    app.state.calls = calls
    app.state.gate = gate
    app.state.shared = shared
    app.state.calling = calling
    app.state.connections = calling.connections
    app.state.metrics = metrics
    app.state.draining = gate.draining
    drain: Callable[[float], Awaitable[None]] = partial(calls.drain, gate.draining)
    app.state.drain = drain
    # Bodies bounded before any route reads them; production's ops endpoints only on
    # the loopback ops listener (both inside security_headers, so their answers get them).
    app.add_middleware(BodyLimit)
    app.add_middleware(OpsOnly, ops_port=settings.ops_port, public_ops=not settings.production)
    pages.mount_assets(app)
    app.middleware("http")(security_headers)
    handle_errors(app, metrics)
    app.include_router(pages.router)
    app.include_router(ops.router)
    app.include_router(signalling.router)
    return app


async def security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Room links carry their token in the URL: never send it on as a referrer.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    # The room page sets its own (camera / screen where the room allows video).
    headers.setdefault("Permissions-Policy", pages.permissions_policy())
    if headers.get("content-type", "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not request.url.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    return response
