"""Request bodies are bounded: at most `MAX_BODY_BYTES`, and JSON at most `MAX_JSON_DEPTH` deep.

A body that declares more than the bound (`Content-Length`) is refused with 413 before
a byte of it is kept; a streamed (chunked) body is counted as it arrives and refused
as soon as it passes the bound. The connection is then closed, so the rest is never
read — except that a body at most `DRAIN_BYTES` past the bound is first read and
thrown away: closing a socket with unread data resets it, and the client would see
a reset instead of the 413 that says why. What fits is read once (at most the bound)
and handed to the app as is.

Why our own middleware: FastAPI/Starlette's `max_body_size` refuses with a plain-text
413 that carries no `reason`, and swaps in that response at response start, so an
exception handler cannot give it the API's `{"detail", "reason"}` shape; and it does
not bound nesting. A deeply nested JSON body otherwise reaches `json.loads`, whose
`RecursionError` FastAPI answers with a bare 400.
"""

from __future__ import annotations

import json
import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest body the API takes is an offer: a 64 KiB SDP (models.MAX_SDP_BYTES; a
# browser's is 3-6 KB) plus JSON escaping of its line ends. A PATCH of 64 candidates
# is under 80 KB. Anything bigger is not a request of ours.
MAX_BODY_BYTES = 128 * 1024
# Our deepest body is a candidates PATCH: {"candidates": [{...}]}, three levels.
MAX_JSON_DEPTH = 32
# Thrown away before answering 413, so a client that sent a little too much reads why.
DRAIN_BYTES = 1024 * 1024

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes, stop_above: int) -> int:
    """How deep `body`'s arrays and objects nest (brackets inside strings do not count);
    counting stops once it passes `stop_above`."""
    if body.count(b"[") + body.count(b"{") <= stop_above:
        return 0  # cannot be deeper than its number of openers
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


class BodyLimit:
    """ASGI middleware: refuse oversized or over-nested bodies with a reason."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
    ):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        if declared is not None and declared > self.max_bytes:
            if declared <= self.max_bytes + DRAIN_BYTES:
                await _drain(receive, declared)
            await self._too_large(send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nothing to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                if more:
                    await _drain(receive, DRAIN_BYTES)
                await self._too_large(send)
                return
        if "json" in headers.get("content-type", "") and (
            json_depth(bytes(body), self.max_depth) > self.max_depth
        ):
            await _refuse(
                send,
                400,
                "bad_request",
                f"bad request: JSON nested more than {self.max_depth} levels deep",
            )
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, send: Send) -> None:
        await _refuse(
            send,
            413,
            "too_large",
            f"request body too large: at most {self.max_bytes} bytes",
            close=True,
        )


async def _drain(receive: Receive, limit: int) -> None:
    """Read and drop at most `limit` more bytes of the body (less if it ends first)."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, as one message; then the real channel (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None  # none (chunked) or unreadable: the body is counted as it comes


async def _refuse(send: Send, status: int, reason: str, detail: str, close: bool = False) -> None:
    payload = json.dumps({"detail": detail, "reason": reason}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:  # the rest of the body is never read: end the connection after the answer
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
