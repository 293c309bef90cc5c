"""The signalling routes: join a room, offer SDP, trickle ICE candidates.

Signalling is Pipecat's SmallWebRTC contract (`POST /api/offer` with an SDP offer,
`PATCH /api/offer` with ICE candidates), so Pipecat's own JS client can call the bot,
with one addition: every signalling request carries a call ticket
(`Authorization: Bearer …`) obtained by joining with a room link (`POST /api/join`).

Each route names what it needs as FastAPI dependencies: `admitted` (the bot takes new
calls, then the caller's address is under its join rate), `ticketed_offer` /
`ticketed_patch` (the request's call ticket), and `Calling`, which places the call. The
dependencies that can refuse take the request's body themselves, so FastAPI validates it
first: a bad body is refused as such (400) before a ticket, the admission or the rate
limit is looked at (and spends no rate-limit token). A first offer's rate limit depends
on the ticket's state, so `offer` takes it from the gate itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import APIRouter, Depends, Request
from loguru import logger

from bot import links
from bot.http.calling import Calling
from bot.http.deps import GateDep, SecretDep, SettingsDep
from bot.http.errors import ApiError, problems
from bot.http.gate import client_key, shared_room_hint
from bot.http.ice import CandidateRefused
from bot.http.models import (
    Answer,
    CandidatePatch,
    IceServer,
    Joined,
    JoinRequest,
    Offer,
    RoomInfo,
)
from bot.http.turn import turn_credentials
from bot.rejoin import secret_key as rejoin_key
from bot.video_settings import room_video

TICKET_SECONDS = 300  # time to go from Join to a connected call
REJOIN_WAIT_SECONDS = 5.0  # for a left call still running here to end and be parked

Body = TypeVar("Body", Offer, CandidatePatch)
router = APIRouter()


async def calling_of(request: Request) -> Calling:
    return request.app.state.calling


CallingDep = Annotated[Calling, Depends(calling_of)]


async def admitted(body: JoinRequest, request: Request, gate: GateDep) -> JoinRequest:
    """A join's body, once the bot takes new calls and the caller is under its rate."""
    gate.accepting()
    gate.rate_limit(request)
    return body


@dataclass
class Ticketed(Generic[Body]):
    """A signalling request's body and the claims of its call ticket."""

    body: Body
    claims: links.Claims


def ticket(request: Request, calling: Calling) -> links.Claims:
    """The request's call ticket (`Authorization: Bearer …`), or its refusal."""
    running = calling.calls.calls
    return calling.tickets.verify(request.headers.get("authorization", ""), running)


async def ticketed_offer(body: Offer, request: Request, calling: CallingDep) -> Ticketed[Offer]:
    await calling.routes.forward_if_elsewhere(request, body.pc_id)  # another instance's call
    return Ticketed(body, ticket(request, calling))


async def ticketed_patch(
    body: CandidatePatch, request: Request, calling: CallingDep
) -> Ticketed[CandidatePatch]:
    await calling.routes.forward_if_elsewhere(request, body.pc_id)  # another instance's call
    return Ticketed(body, ticket(request, calling))


@router.post("/api/join", responses=problems((400, 403, 404, 409, 410, 429, 503)))
async def join(
    body: Annotated[JoinRequest, Depends(admitted)],
    request: Request,
    settings: SettingsDep,
    secret: SecretDep,
    gate: GateDep,
    calling: CallingDep,
) -> Joined:
    try:
        claims = links.verify(secret, "link", body.token)
    except links.TokenError as e:
        raise ApiError(e.reason, str(e)) from e
    room = calling.room_of(claims)
    if body.rejoin and calling.parked.on:  # a reload can get here before its old call ended
        await calling.calls.end_left(rejoin_key(body.rejoin), REJOIN_WAIT_SECONDS)
    gate.check_capacity(room)
    await shared_room_hint(gate, room)  # with Redis: across instances
    ticket = links.sign(
        secret,
        "ticket",
        room.name,
        int(time.time()) + TICKET_SECONDS,
        generation=room.generation,
    )
    nonce = links.verify(secret, "ticket", ticket).nonce
    rejoined = bool(body.rejoin) and await rejoin(calling, body.rejoin or "", room.name, nonce)
    logger.info(
        f"caller from {client_key(request)} {'rejoined' if rejoined else 'joined'} room {room.name}"
    )
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
        mode=calling.mode,
        message=calling.message,
        video=sorted(room_video(settings, room)),
        rejoined=rejoined,
    )


async def rejoin(calling: Calling, secret: str, room: str, nonce: str) -> bool:
    """Bind the call the caller left (if it is parked, in this room) to their new ticket."""
    if not calling.parked.on:
        return False
    try:
        return await calling.parked.take(secret, room, nonce, TICKET_SECONDS)
    except Exception as e:  # the shared state away: a new call instead
        logger.warning(f"rejoin not possible: {e}")
        return False


@router.post("/api/offer", responses=problems((400, 401, 403, 404, 409, 429, 503)))
async def offer(
    ticketed: Annotated[Ticketed[Offer], Depends(ticketed_offer)],
    request: Request,
    gate: GateDep,
    calling: CallingDep,
) -> Answer:
    body, claims = ticketed.body, ticketed.claims
    binding = calling.tickets.get(claims.nonce)
    if body.pc_id is not None:
        if binding is None or binding.ended or binding.call_id not in calling.calls.calls:
            raise ApiError("used", "This call ticket belongs to another connection.")
        if binding.was(body.pc_id):
            raise ApiError("replaced", "This connection was replaced by an ICE restart.")
        if body.pc_id != binding.pc_id:
            raise ApiError("used", "This call ticket belongs to another connection.")
    else:
        if binding is not None:
            raise ApiError("used", "This call ticket was already used: join again.")
        gate.rate_limit(request)
    room = calling.room_of(claims)
    offered = await calling.checked_offer(body, room)  # a sent video track: if the room allows
    if body.pc_id is None:
        return await calling.new_call(body, claims, room, offered)
    binding = calling.tickets.get(claims.nonce)
    assert binding is not None
    return await calling.renegotiate(body, binding, offered)


@router.patch(
    "/api/offer",
    status_code=204,
    responses=problems((400, 401, 403, 404, 409, 429)),
)
async def candidates(
    ticketed: Annotated[Ticketed[CandidatePatch], Depends(ticketed_patch)],
    calling: CallingDep,
) -> None:
    body, claims = ticketed.body, ticketed.claims
    policy = await calling.candidate_policy()
    binding = calling.tickets.get(claims.nonce)
    if binding is None or binding.connection is None or body.pc_id not in binding.pc_ids:
        raise ApiError("used", "This call ticket belongs to another connection.")
    wait = calling.tickets.patch_wait(binding)
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
    calling.tickets.take_candidates(binding, len(lines))
    async with binding.lock:  # an ICE restart being answered finishes first
        if binding.ended or binding.call_id not in calling.calls.calls:
            raise ApiError("unknown_connection", "This connection has ended.")
        early = len(binding.early)
        now, _stale = binding.sort(list(body.candidates), body.pc_id)
        if body.pc_id != binding.pc_id and not now and len(binding.early) == early:
            raise ApiError("replaced", "This connection was replaced by an ICE restart.")
        if now:
            await calling.add_candidates(binding, now)
