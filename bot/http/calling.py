"""Placing a call: a ticket's first offer starts one call; its later offers renegotiate it.

The signalling routes (`bot.http.signalling`) check who may call; this is what happens
once they may: the room place and the ticket are claimed before the first `await`, the
offer is answered through Pipecat's request handler (`bot.http.connections`), the call
starts on the new connection (`bot.call`), and a renegotiation or an ICE restart keeps
the ticket bound to its call (`bot.http.tickets`). Every remote ICE candidate, in an
offer or trickled, is checked first (`bot.http.ice`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from fastapi import HTTPException
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
)

from bot import links
from bot.call import CallOptions, build_call
from bot.call_options import call_mode, caller_message
from bot.http.calls import CallRegistry
from bot.http.connections import CallConnections
from bot.http.errors import ApiError
from bot.http.gate import Gate, shared_admit, shared_release
from bot.http.ice import (
    CandidatePolicy,
    CandidateRefused,
    RelayAddresses,
    sdp_candidates,
    sdp_ufrag,
)
from bot.http.models import Answer, Candidate, Offer
from bot.http.routing import CallRoutes
from bot.http.sdp import OfferError, check_offer
from bot.http.tickets import CallBinding, Tickets
from bot.http.used_tickets import UsedTickets
from bot.metrics import Metrics
from bot.rejoin import ParkedCall, ParkedCalls
from bot.rooms import Room, RoomStore
from bot.settings import Settings
from bot.video_settings import call_video, room_video

OnConnection = Callable[[SmallWebRTCConnection], Awaitable[None]]


class Calling:
    """The app's calls, their tickets and their peer connections."""

    def __init__(
        self,
        settings: Settings,
        *,
        secret: bytes,
        rooms: RoomStore,
        calls: CallRegistry,
        gate: Gate,
        metrics: Metrics,
        options_factory: Callable[[Room], CallOptions],
        echo: bool,
    ) -> None:
        self.settings, self.rooms, self.calls, self.gate = settings, rooms, calls, gate
        self.metrics, self.options_factory = metrics, options_factory
        # What the page is told: Gemini Live, or the built-in emulator's echo test.
        self.mode, self.message = call_mode(echo), caller_message(echo)
        self.connections = CallConnections()
        used = UsedTickets(settings.data_dir / "tickets-used.json")  # across processes
        self.tickets = Tickets(
            secret, settings.max_candidates_per_call, settings.candidate_patches_per_minute, used
        )
        self.parked = ParkedCalls(gate.shared, settings.rejoin_seconds)  # bot/rejoin.py
        self.routes = CallRoutes(settings, secret, gate.shared, self.tickets, metrics)
        self.relay = RelayAddresses(settings.turn_relay_addresses, settings.turn_urls)
        self.ending: set[asyncio.Task] = set()  # closing the connections of calls that ended

    async def start(self) -> None:
        if self.settings.ice_transport_policy == "relay":
            await self.relay.get()  # logs the relay's addresses (or why there are none)

    async def close(self) -> None:
        """After the calls have stopped: close what is left of their connections."""
        if self.ending:
            await asyncio.wait(list(self.ending), timeout=1)
        await self.connections.close()
        await self.routes.close()

    async def candidate_policy(self) -> CandidatePolicy:
        if self.settings.ice_transport_policy != "relay":
            return CandidatePolicy()
        return CandidatePolicy(relay_only=True, relay_addresses=await self.relay.get())

    def room_of(self, claims: links.Claims) -> Room:
        try:  # the room must exist, be the same room (generation) and the link not revoked
            return self.rooms.room_for(claims)
        except links.TokenError as e:
            raise ApiError(e.reason, str(e)) from e

    async def checked_offer(self, body: Offer, room: Room | None = None) -> int:
        """Refuse an unusable SDP offer or a candidate in it; the number of candidates."""
        try:
            check_offer(body.sdp, video=bool(room and room_video(self.settings, room)))
        except OfferError as e:
            logger.info(f"offer refused: {e}")
            raise ApiError("bad_offer", f"bad SDP offer: {e}") from e
        policy = await self.candidate_policy()
        offered = sdp_candidates(body.sdp)
        for number, line in enumerate(offered, 1):
            try:
                policy.check(line)
            except CandidateRefused as e:
                logger.info(f"offer refused: candidate {number}: {e}")
                raise ApiError(e.reason, f"bad ICE candidate {number} in the offer: {e}") from e
        return len(offered)

    async def new_call(self, body: Offer, claims: links.Claims, room: Room, offered: int) -> Answer:
        gate, tickets = self.gate, self.tickets
        gate.accepting()  # no await between these checks, the claims and the count below
        gate.check_capacity(room)
        slot = gate.take_place(room)  # the room place, across instances
        binding = tickets.claim(claims.nonce, claims.expires_at)  # here and by any instance
        if binding is None:  # another offer with this ticket got here first
            slot.release()
            raise ApiError("used", "This call ticket was already used: join again.")
        try:
            tickets.take_candidates(binding, offered)
        except ApiError:
            tickets.release(binding)
            slot.release()
            raise
        gate.starting[room.name] += 1
        try:  # with Redis: the same across instances (its first await)
            place = await shared_admit(gate, room, claims.nonce, claims.expires_at, claims.nonce)
        except ApiError:
            gate.starting[room.name] -= 1
            tickets.release(binding)
            slot.release()
            raise
        rejoin = await self.rejoining(claims)

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            binding.connection = connection
            binding.follow()
            binding.answered(sdp_ufrag(body.sdp))
            options = replace(
                self.options_factory(room),
                metrics=self.metrics,
                admission=gate.admission,
                caller_gone_seconds=self.settings.caller_gone_seconds or None,
                video=call_video(self.settings, room),
                rejoin_seconds=self.parked.seconds,
                rejoin=rejoin,
            )
            call = build_call(connection, self.settings.live, options, connection.pc_id)
            call.park = self.parked.park
            self.calls.start(call, room.name, on_end=lambda: self.call_ended(binding, connection))
            # The room place goes back when the call ends.
            self.calls.tasks[call.call_id].add_done_callback(lambda _t: slot.release())
            if place is not None:
                self.calls.tasks[call.call_id].add_done_callback(lambda _t: place.release())

        try:
            return await self.answer_offer(body, on_connection)
        finally:
            gate.starting[room.name] -= 1
            if not binding.started:  # no call started: the ticket may try again
                slot.release()
                await shared_release(gate, place, claims.nonce)
                if rejoin is not None:
                    await self.parked.give_back(
                        claims.nonce, rejoin, claims.expires_at - time.time()
                    )
            tickets.release(binding)  # only if no call started: the ticket may be used again

    async def rejoining(self, claims: links.Claims) -> ParkedCall | None:
        """The parked call this ticket took at its join (`bot.rejoin`), if any."""
        if not self.parked.on:
            return None
        try:
            return await self.parked.for_ticket(claims.nonce)
        except Exception as e:  # the shared state away: a new call instead
            logger.warning(f"rejoin not possible: {e}")
            return None

    async def renegotiate(self, body: Offer, binding: CallBinding, offered: int) -> Answer:
        """A call's next offer (a renegotiation or an ICE restart), on its current pc_id."""
        async with binding.lock:  # a second renegotiation waits, then finds a new pc_id
            if body.pc_id != binding.pc_id or binding.call_id not in self.calls.calls:
                raise ApiError("replaced", "This connection was replaced by an ICE restart.")
            if body.pc_id not in self.connections.pc_ids:  # closed: Pipecat would make a new one
                raise ApiError("unknown_connection", "This connection has ended.")
            self.tickets.take_candidates(binding, offered)
            try:
                answer = await self.answer_offer(body, None)
            finally:
                binding.follow()  # a failed restart may still have replaced the pc_id
            early = binding.answered(sdp_ufrag(body.sdp))
            if early:  # trickled before this answer, under the old pc_id
                try:
                    await self.add_candidates(binding, early)
                except ApiError as e:
                    logger.info(f"early candidates not added: {e.detail}")
        return answer

    def call_ended(self, binding: CallBinding, connection: SmallWebRTCConnection) -> None:
        """Forget the call's connection (every pc_id it had) and close it, sockets and all."""
        binding.end()
        task = asyncio.ensure_future(self.connections.end(connection))
        self.ending.add(task)
        task.add_done_callback(self.ending.discard)

    async def answer_offer(self, body: Offer, on_connection: OnConnection | None) -> Answer:
        async def no_new_call(_connection: SmallWebRTCConnection) -> None:
            raise RuntimeError("a renegotiation cannot start a call")

        try:
            answer = await self.connections.handle_web_request(
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

    async def add_candidates(self, binding: CallBinding, candidates: list[Candidate]) -> None:
        assert binding.pc_id is not None
        try:
            await self.connections.handle_patch_request(
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
