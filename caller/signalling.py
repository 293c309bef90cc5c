"""The bot's HTTP signalling as the caller speaks it: join a room, post an SDP offer.

Kept apart from the peer connection (`caller.peer`) because it is plain HTTP with
the standard library (in a worker thread, so the event loop that paces the audio
never waits on a socket), and because its errors are the bot's answers, which the
tests assert on: `CallerError` keeps the status and the server's detail.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any


class CallerError(RuntimeError):
    """The server refused the call (HTTP error) or answered something unusable."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def _shown(detail: object) -> str:
    """An error detail for a message: the server's text, or the raw body's repr."""
    return repr(detail) if isinstance(detail, bytes) else str(detail)


async def post_json(
    url: str, body: dict[str, Any], ticket: str | None = None
) -> tuple[int, Any, bytes]:
    """POST `body` as JSON (with the call ticket, if any); the status, the parsed JSON
    answer (None if it is not JSON) and the raw answer."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if ticket is not None:
        headers["Authorization"] = f"Bearer {ticket}"

    def post() -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, raw = await asyncio.to_thread(post)
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    return status, payload, raw


async def join_room(
    base_url: str, link_token: str | None, ticket: str | None = None, rejoin: str | None = None
) -> dict[str, Any]:
    """Exchange a room link's token for a call ticket (`POST /api/join`); with `rejoin`
    (a call's rejoin secret), come back to the call the caller left."""
    body: dict[str, Any] = {"token": link_token}
    if rejoin is not None:
        body["rejoin"] = rejoin
    status, payload, raw = await post_json(base_url + "/api/join", body, ticket)
    if status >= 400 or not isinstance(payload, dict) or "ticket" not in payload:
        detail = payload.get("detail") if isinstance(payload, dict) else raw[:500]
        raise CallerError(f"join -> {status}: {_shown(detail)}", status=status, detail=payload)
    return payload


async def post_offer(url: str, body: dict[str, Any], ticket: str | None) -> dict[str, Any]:
    """Post an SDP offer; the SDP answer, or `CallerError`."""
    status, payload, raw = await post_json(url, body, ticket)
    if status >= 400:
        detail = payload.get("detail") if isinstance(payload, dict) else raw[:500]
        raise CallerError(f"POST {url} -> {status}: {_shown(detail)}", status=status, detail=detail)
    if not isinstance(payload, dict) or payload.get("type") != "answer" or "sdp" not in payload:
        raise CallerError(f"POST {url} -> {status}: not an SDP answer: {raw[:200]!r}", status)
    return payload
