"""HTTP: room pages, joining, WebRTC signalling and health.

Signalling is Pipecat's SmallWebRTC contract (`POST /api/offer` with an SDP
offer, `PATCH /api/offer` with ICE candidates), so Pipecat's own JS client can
call the bot, with one addition: every signalling request carries a call
ticket (`Authorization: Bearer …`) obtained by joining with a room link.
Each new peer connection becomes one call (`bot.call`); a ticket stays bound to its call
through renegotiations and ICE restarts (`bot.signalling`), and every remote ICE candidate
is checked first (`bot.ice`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
)
from pydantic import BaseModel, Field

from bot import links
from bot.admission import Admission
from bot.bodylimit import BodyLimit
from bot.call import Call, CallOptions, build_call, run_call
from bot.ice import CandidatePolicy, CandidateRefused, RelayAddresses, sdp_candidates, sdp_ufrag
from bot.metrics import Metrics
from bot.opsport import OpsOnly
from bot.pages import message_page
from bot.ratelimit import RateLimiter, client_network
from bot.room_slots import RoomSlots
from bot.rooms import DEFAULT_ROOM, Room, RoomStore
from bot.sdp import OfferError, check_offer
from bot.settings import Settings
from bot.signalling import CallBinding, CallConnections, Tickets
from bot.turn import turn_credentials
from bot.used_tickets import UsedTickets
from tools.toolset import Toolset, registry_of

MAX_SDP_BYTES = 64 * 1024  # a browser's audio offer is ~3-6 KB
STOP_SECONDS = 4.0  # all calls' pipelines together, when the server stops them
TICKET_SECONDS = 300  # time to go from Join to a connected call
# The page loads nothing from anywhere else and may not be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
WEB_DIST = Path(str(resources.files("bot.web"))) / "dist"


class Offer(BaseModel):
    """An SDP offer from a caller (or a renegotiation of its existing connection)."""

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


class JoinRequest(BaseModel):
    token: str = Field(min_length=1, max_length=links.MAX_TOKEN_LENGTH)


class RoomInfo(BaseModel):
    name: str
    title: str


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Joined(BaseModel):
    """What the page needs to place the call."""

    room: RoomInfo
    ticket: str
    ice_servers: list[IceServer]
    ice_transport_policy: Literal["all", "relay"] = "all"
    mode: Literal["live", "echo"]
    message: str


class Problem(BaseModel):
    detail: str
    reason: str | None = None


STATUS_FOR: dict[str, int] = {
    "draining": 503,
    "busy": 503,
    "invalid": 403,
    "used": 403,
    "expired": 410,
    "revoked": 410,
    "unknown_room": 404,
    "full": 409,
    "rate_limited": 429,
    "missing_ticket": 401,
    "replaced": 409,
    "unknown_connection": 404,
}


class ApiError(Exception):
    """A refusal with a human sentence and a machine reason."""

    def __init__(self, reason: str, detail: str, headers: dict[str, str] | None = None):
        self.reason, self.detail, self.headers = reason, detail, headers or {}


@dataclass
class CallRegistry:
    """The calls running in this process, by peer connection id."""

    calls: dict[str, Call] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)  # pc_id -> room name

    def start(self, call: Call, room: str, on_end: Callable[[], None] | None = None) -> None:
        task = asyncio.create_task(run_call(call), name=f"call-{call.call_id}")
        self.calls[call.call_id] = call
        self.tasks[call.call_id] = task
        self.rooms[call.call_id] = room

        def ended(_task: asyncio.Task) -> None:
            self._forget(call.call_id)
            if on_end is not None:
                on_end()

        task.add_done_callback(ended)

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
        self.tasks.pop(call_id, None)
        self.rooms.pop(call_id, None)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait until every call has ended (True) or `timeout` passes (False)."""
        tasks = list(self.tasks.values())
        if not tasks:
            return True
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    def in_room(self, room: str) -> int:
        return sum(1 for r in self.rooms.values() if r == room)

    async def stop_all(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel every call, all within `timeout`; log (one line each) what is still running."""
        if not self.tasks:
            return

        async def stop(call: Call) -> None:
            with contextlib.suppress(Exception):
                await call.task.cancel()

        tasks = list(self.tasks.items())
        stopping = [asyncio.ensure_future(stop(c)) for c in list(self.calls.values())]
        _done, pending = await asyncio.wait([t for _c, t in tasks] + stopping, timeout=timeout)
        for task in stopping:
            task.cancel()
        for call_id, task in tasks:
            if task in pending:
                logger.warning(f"call {call_id} did not stop within {timeout:g} s")


def offline_message() -> str:
    return (
        "Offline echo test: no GOOGLE_API_KEY is set, so the bot runs against its built-in "
        "Live emulator and plays back each thing you say after you stop. This proves your "
        "microphone, network and speaker. For a real conversation, set GOOGLE_API_KEY in .env "
        "(see .env.example) and restart."
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

    `options_factory` makes each call's options from its room; `echo` says the
    Live endpoint is the built-in emulator's echo test, so callers are told so.
    """
    handler = CallConnections()
    calls = CallRegistry()
    used_tickets = UsedTickets(settings.data_dir / "tickets-used.json")  # across processes
    slots = RoomSlots(settings.data_dir / "room-slots")  # room places, across processes
    tickets = Tickets(settings.max_candidates_per_call, settings.candidate_patches_per_minute)
    relay = RelayAddresses(settings.turn_relay_addresses, settings.turn_urls)
    ending: set[asyncio.Task] = set()  # closing the connections of calls that ended
    limiter = RateLimiter(per_minute=settings.join_rate_per_minute, burst=settings.join_burst)
    metrics = Metrics()
    admission = Admission(max_calls=settings.max_calls)
    # New calls whose offer is being answered: counted against the limits until they are
    # calls, so a burst of simultaneous offers cannot slip past MAX_CALLS or a room's cap.
    starting: Counter[str] = Counter()
    draining = asyncio.Event()
    mode: Literal["live", "echo"] = "echo" if echo else "live"
    message = offline_message() if echo else "Talk to the bot once you are connected."
    if options_factory is None:

        def options_factory(room: Room) -> CallOptions:
            # A room may bring its own calendar; each package decides (and caches).
            sets = [ts.in_room(room.settings_for(ts.name)) for ts in toolsets]
            backends = {ts.name: ts.extras.get("backend") for ts in sets}
            # The echo test answers what the caller says; a greeting would only be echoed.
            return CallOptions(
                greeting=None if echo else settings.live.greeting,
                tools=registry_of(sets),
                google_search=settings.google_search,
                room=room,
                mode=mode,
                message=message,
                lights=backends.get("lights"),
                calendar=backends.get("calendar"),
                timezone=settings.timezone,
            )

    async def candidate_policy() -> CandidatePolicy:
        if settings.ice_transport_policy != "relay":
            return CandidatePolicy()
        return CandidatePolicy(relay_only=True, relay_addresses=await relay.get())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.ice_transport_policy == "relay":
            await relay.get()  # logs the relay's addresses (or why there are none)
        yield
        await calls.stop_all()
        if ending:
            await asyncio.wait(list(ending), timeout=1)
        await handler.close()

    # No /docs: its page would load scripts from a CDN; /openapi.json describes the API.
    app = FastAPI(
        title="livebot",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses={413: {"model": Problem, "description": "Request body too large"}},
    )
    app.state.calls = calls
    app.state.connections = handler
    app.state.metrics = metrics
    app.state.draining = draining

    async def drain(grace: float) -> None:
        """Stop taking calls, tell callers, give their calls `grace` seconds, end the rest."""
        if draining.is_set():
            return
        draining.set()
        logger.warning(f"shutting down: {len(calls.calls)} call(s) get {grace:g} s to finish")
        for call in list(calls.calls.values()):
            await call.feed.send(
                {
                    "type": "notice",
                    "level": "warning",
                    "text": f"The bot is restarting: this call ends within {grace:.0f} seconds. "
                    "Please call again in a minute.",
                }
            )
        await calls.wait_empty(grace)
        for call in list(calls.calls.values()):
            call.outcome = "shutdown"
        await calls.stop_all()

    app.state.drain = drain
    # Bodies bounded before any route reads them; production's ops endpoints only on
    # the loopback ops listener (both inside security_headers, so their answers get them).
    app.add_middleware(BodyLimit)
    app.add_middleware(OpsOnly, ops_port=settings.ops_port, public_ops=not settings.production)
    if WEB_DIST.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIST), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Room links carry their token in the URL: never send it on as a referrer.
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "microphone=(self), camera=(), geolocation=()")
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(
            status_code=400, content={"detail": f"bad request: {problems}", "reason": "bad_request"}
        )

    @app.exception_handler(ApiError)
    async def refused(_request: Request, exc: ApiError) -> JSONResponse:
        metrics.refusals.labels(exc.reason).inc()
        return JSONResponse(
            status_code=STATUS_FOR.get(exc.reason, 400),
            content={"detail": exc.detail, "reason": exc.reason},
            headers=exc.headers,
        )

    def client_key(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def accepting() -> None:
        if draining.is_set():
            raise ApiError(
                "draining",
                "The bot is restarting: please call again in a minute.",
                {"Retry-After": "60"},
            )
        refusal = admission.refusal(len(calls.calls) + sum(starting.values()))
        if refusal is not None:
            message, retry_after = refusal
            raise ApiError("busy", message, {"Retry-After": str(retry_after)})

    def rate_limit(request: Request) -> None:
        wait = limiter.take(client_network(client_key(request)))  # an IPv6 /64 is one client
        if wait:
            raise ApiError(
                "rate_limited",
                f"Too many attempts from your address: try again in {wait:.0f} s.",
                {"Retry-After": str(max(1, round(wait)))},
            )

    def room_of(claims: links.Claims) -> Room:
        try:  # the room must exist, be the same room (generation) and the link not revoked
            return rooms.room_for(claims)
        except links.TokenError as e:
            raise ApiError(e.reason, str(e)) from e

    def room_full(room: Room) -> ApiError:
        return ApiError(
            "full",
            f"The room '{room.display_title}' is full ({room.max_callers} callers): "
            "try again in a few minutes.",
        )

    def check_capacity(room: Room) -> None:
        here = calls.in_room(room.name) + starting[room.name]
        if here >= room.max_callers or not slots.free(room.name, room.max_callers):
            raise room_full(room)

    def ticket_of(request: Request) -> links.Claims:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise ApiError("missing_ticket", "Join the room from its link before calling.")
        token = auth[7:].strip()
        try:
            return links.verify(secret, "ticket", token)
        except links.TokenError as e:
            if e.reason == "expired":
                # A ticket outlives its 5 minutes only for the call it already made.
                claims = links.verify(secret, "ticket", token, now=0)
                binding = tickets.get(claims.nonce)
                if binding is not None and binding.call_id in calls.calls:
                    return claims
            raise ApiError(e.reason, str(e)) from e

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        if settings.production:
            return message_page(
                404, "livebot", "To call the bot, open the room link you were given."
            )
        lobby = rooms.ensure_default()
        return RedirectResponse(
            links.room_url(settings.base_url, secret, DEFAULT_ROOM, 86400, lobby.generation),
            status_code=302,
        )

    @app.get("/r/{room}", include_in_schema=False)
    async def room_page(room: str, t: str = "") -> Response:
        try:
            claims = links.verify(secret, "link", t)
            if claims.room != room:
                raise links.TokenError("invalid", "This room link is not valid for this room.")
        except links.TokenError as e:
            status = STATUS_FOR[e.reason]
            title = "This link has expired" if e.reason == "expired" else "This link does not work"
            return message_page(status, title, str(e), "Ask whoever sent it for a new link.")
        try:
            rooms.room_for(claims)
        except links.TokenError as e:
            if e.reason == "unknown_room":
                return message_page(404, "No such room", str(e), "Check the link.")
            return message_page(
                STATUS_FOR[e.reason], "This link does not work", str(e), "Ask for a new link."
            )
        index = WEB_DIST / "index.html"
        if not index.is_file():
            index = Path(str(resources.files("bot.web"))) / "index.html"
        return HTMLResponse(index.read_text())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive (the process answers)."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": Problem}})
    async def readyz() -> JSONResponse:
        """Accepting calls: not shutting down, and Gemini Live not refusing sessions."""
        if draining.is_set():
            return JSONResponse({"status": "draining", "calls": len(calls.calls)}, status_code=503)
        if admission.live_down:
            return JSONResponse(
                {"status": "live_unavailable", "calls": len(calls.calls)}, status_code=503
            )
        return JSONResponse({"status": "ready", "calls": len(calls.calls)})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/api/join",
        responses={s: {"model": Problem} for s in (400, 403, 404, 409, 410, 429, 503)},
    )
    async def join(body: JoinRequest, request: Request) -> Joined:
        accepting()
        rate_limit(request)
        try:
            claims = links.verify(secret, "link", body.token)
        except links.TokenError as e:
            raise ApiError(e.reason, str(e)) from e
        room = room_of(claims)
        check_capacity(room)
        ticket = links.sign(
            secret,
            "ticket",
            room.name,
            int(time.time()) + TICKET_SECONDS,
            generation=room.generation,
        )
        logger.info(f"caller from {client_key(request)} joined room {room.name}")
        ice = [IceServer(urls=list(settings.stun_urls))] if settings.stun_urls else []
        if settings.turn_urls and settings.turn_secret:
            username, credential = turn_credentials(
                settings.turn_secret, room.name, settings.turn_ttl_seconds
            )
            ice.append(
                IceServer(urls=list(settings.turn_urls), username=username, credential=credential)
            )
        return Joined(
            room=RoomInfo(name=room.name, title=room.display_title),
            ticket=ticket,
            ice_servers=ice,
            ice_transport_policy="relay" if settings.ice_transport_policy == "relay" else "all",
            mode=mode,
            message=message,
        )

    @app.post(
        "/api/offer",
        responses={s: {"model": Problem} for s in (400, 401, 403, 404, 409, 429, 503)},
    )
    async def offer(body: Offer, request: Request) -> Answer:
        claims = ticket_of(request)
        binding = tickets.get(claims.nonce)
        if body.pc_id is not None:
            if binding is None or binding.ended or binding.call_id not in calls.calls:
                raise ApiError("used", "This call ticket belongs to another connection.")
            if binding.was(body.pc_id):
                raise ApiError("replaced", "This connection was replaced by an ICE restart.")
            if body.pc_id != binding.pc_id:
                raise ApiError("used", "This call ticket belongs to another connection.")
        else:
            if binding is not None:
                raise ApiError("used", "This call ticket was already used: join again.")
            rate_limit(request)
        try:
            check_offer(body.sdp)
        except OfferError as e:
            logger.info(f"offer refused: {e}")
            raise ApiError("bad_offer", f"bad SDP offer: {e}") from e
        policy = await candidate_policy()
        offered = sdp_candidates(body.sdp)
        for number, line in enumerate(offered, 1):
            try:
                policy.check(line)
            except CandidateRefused as e:
                logger.info(f"offer refused: candidate {number}: {e}")
                raise ApiError(e.reason, f"bad ICE candidate {number} in the offer: {e}") from e
        room = room_of(claims)
        if body.pc_id is None:
            return await new_call(body, claims, room, len(offered))
        binding = tickets.get(claims.nonce)
        assert binding is not None
        async with binding.lock:  # a second renegotiation waits, then finds a new pc_id
            if body.pc_id != binding.pc_id or binding.call_id not in calls.calls:
                raise ApiError("replaced", "This connection was replaced by an ICE restart.")
            if body.pc_id not in handler.pc_ids:  # closed: Pipecat would make a new one
                raise ApiError("unknown_connection", "This connection has ended.")
            take_candidates(binding, len(offered))
            try:
                answer = await answer_offer(body, None)
            finally:
                binding.follow()  # a failed restart may still have replaced the pc_id
            early = binding.answered(sdp_ufrag(body.sdp))
            if early:  # trickled before this answer, under the old pc_id
                try:
                    await add_candidates(binding, early)
                except ApiError as e:
                    logger.info(f"early candidates not added: {e.detail}")
        return answer

    async def new_call(body: Offer, claims: links.Claims, room: Room, offered: int) -> Answer:
        accepting()  # no await between these checks, the claims and the count below
        check_capacity(room)
        slot = slots.take(room.name, room.max_callers)  # the room place, across instances
        if slot is None:  # taken meanwhile by another instance
            raise room_full(room)
        binding = tickets.claim(claims.nonce, claims.expires_at)
        if binding is None:  # another offer with this ticket got here first
            slot.release()
            raise ApiError("used", "This call ticket was already used: join again.")
        if not used_tickets.claim(claims.nonce, claims.expires_at):  # by any instance
            tickets.release(binding)
            slot.release()
            raise ApiError("used", "This call ticket was already used: join again.")
        try:
            take_candidates(binding, offered)
        except ApiError:
            tickets.release(binding)
            used_tickets.release(claims.nonce)
            slot.release()
            raise
        starting[room.name] += 1

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            binding.connection = connection
            binding.follow()
            binding.answered(sdp_ufrag(body.sdp))
            options = replace(
                options_factory(room),
                metrics=metrics,
                admission=admission,
                caller_gone_seconds=settings.caller_gone_seconds or None,
            )
            call = build_call(connection, settings.live, options, connection.pc_id)
            calls.start(call, room.name, on_end=lambda: call_ended(binding, connection))
            # The room place goes back when the call ends.
            calls.tasks[call.call_id].add_done_callback(lambda _t: slot.release())

        try:
            return await answer_offer(body, on_connection)
        finally:
            starting[room.name] -= 1
            if not binding.started:  # no call started: the ticket may try again
                used_tickets.release(claims.nonce)
                slot.release()
            tickets.release(binding)  # only if no call started: the ticket may be used again

    def call_ended(binding: CallBinding, connection: SmallWebRTCConnection) -> None:
        """Forget the call's connection (every pc_id it had) and close it, sockets and all."""
        binding.end()
        task = asyncio.ensure_future(handler.end(connection))
        ending.add(task)
        task.add_done_callback(ending.discard)

    def take_candidates(binding: CallBinding, count: int) -> None:
        if not tickets.take_candidates(binding, count):
            raise ApiError(
                "too_many_candidates",
                f"too many ICE candidates: a call may signal {tickets.max_candidates} in all "
                f"(this one has {binding.candidates}).",
            )

    async def answer_offer(body: Offer, on_connection) -> Answer:
        async def no_new_call(_connection: SmallWebRTCConnection) -> None:
            raise RuntimeError("a renegotiation cannot start a call")

        try:
            answer = await handler.handle_web_request(
                SmallWebRTCRequest(
                    sdp=body.sdp, type=body.type, pc_id=body.pc_id, restart_pc=body.restart_pc
                ),
                on_connection or no_new_call,
            )
        except HTTPException:
            raise
        except Exception as e:
            logger.warning(f"offer refused: {type(e).__name__}: {e}")
            raise ApiError("bad_offer", f"the SDP offer could not be used: {e}") from e
        if answer is None:
            raise ApiError("bad_offer", "the SDP offer produced no answer")
        return Answer(sdp=answer["sdp"], type="answer", pc_id=answer["pc_id"])

    @app.patch(
        "/api/offer",
        status_code=204,
        responses={s: {"model": Problem} for s in (400, 401, 403, 404, 409, 429)},
    )
    async def candidates(body: CandidatePatch, request: Request) -> None:
        claims = ticket_of(request)
        policy = await candidate_policy()
        binding = tickets.get(claims.nonce)
        if binding is None or binding.connection is None or body.pc_id not in binding.pc_ids:
            raise ApiError("used", "This call ticket belongs to another connection.")
        wait = tickets.patch_wait(binding)
        if wait:
            raise ApiError(
                "rate_limited",
                f"Too many candidate updates for this call: try again in {wait:.1f} s.",
                {"Retry-After": str(max(1, round(wait)))},
            )
        lines = [c.candidate for c in body.candidates if c.candidate]  # "": end of candidates
        for number, line in enumerate(lines, 1):
            try:
                policy.check(line)
            except CandidateRefused as e:
                raise ApiError(e.reason, f"bad ICE candidate {number}: {e}") from e
        take_candidates(binding, len(lines))
        async with binding.lock:  # an ICE restart being answered finishes first
            if binding.ended or binding.call_id not in calls.calls:
                raise ApiError("unknown_connection", "This connection has ended.")
            early = len(binding.early)
            now, _stale = binding.sort(list(body.candidates), body.pc_id)
            if body.pc_id != binding.pc_id and not now and len(binding.early) == early:
                raise ApiError("replaced", "This connection was replaced by an ICE restart.")
            if now:
                await add_candidates(binding, now)

    async def add_candidates(binding: CallBinding, candidates: list[Candidate]) -> None:
        assert binding.pc_id is not None
        try:
            await handler.handle_patch_request(
                SmallWebRTCPatchRequest(
                    pc_id=binding.pc_id,
                    candidates=[
                        IceCandidate(
                            candidate=c.candidate,
                            sdp_mid=c.sdp_mid,
                            sdp_mline_index=c.sdp_mline_index,
                        )
                        for c in candidates
                    ],
                )
            )
        except HTTPException as e:
            raise ApiError("unknown_connection", "This connection has ended.") from e
        except Exception as e:
            raise ApiError("bad_candidate", f"bad ICE candidate: {e}") from e

    return app
