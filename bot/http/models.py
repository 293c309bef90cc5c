"""The signalling API's request and response bodies, typed.

They are the API's contract: FastAPI validates every request against them and describes
them in `/openapi.json`, from which tests/fuzz generates its cases. The answers of a
refusal are `bot.http.errors.Problem`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot import links

MAX_SDP_BYTES = 64 * 1024  # a browser's audio offer is ~3-6 KB


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
    # The rejoin secret of a call this caller left (`bot.rejoin`): come back to it.
    rejoin: str | None = Field(default=None, min_length=16, max_length=128)


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
    video: list[str] = []  # "camera", "screen": what the caller may show (LIVE_VIDEO)
    rejoined: bool = False  # the ticket's call goes on the conversation the caller left
