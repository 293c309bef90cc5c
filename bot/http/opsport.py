"""The ops endpoints (`/metrics`, `/openapi.json`) and who may reach them.

Development: served on the bot's port, as before. Production: never on the public
listener (404 there, whatever the proxy in front does), only on the ops listener,
`127.0.0.1:OPS_PORT` (not set: not served at all). The ops listener is the same
uvicorn server with a second, loopback-only socket, so one process, one signal
handler, one drain; a request's listener is told by the local port it came in on
(`scope["server"]`, the socket's own address: no header can change it). It serves the
ops endpoints and the health checks, and nothing else.

Why a port and not a token: Prometheus scrapes the host it runs on (compose: the host's
network) without a secret to hand out, rotate or leak into a scrape config.
"""

from __future__ import annotations

import json
import socket

from starlette.types import ASGIApp, Receive, Scope, Send

OPS_HOST = "127.0.0.1"
OPS_PATHS = frozenset({"/metrics", "/openapi.json"})
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})


def ops_socket(port: int) -> socket.socket:
    """The ops listener's socket, bound to loopback only."""
    sock = socket.create_server((OPS_HOST, port))
    sock.set_inheritable(True)
    return sock


class OpsOnly:
    """ASGI middleware: ops paths only where allowed, the ops listener only for ops."""

    def __init__(self, app: ASGIApp, *, ops_port: int | None, public_ops: bool):
        self.app, self.ops_port, self.public_ops = app, ops_port, public_ops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            server = scope.get("server")
            on_ops = (
                self.ops_port is not None and server is not None and (server[1] == self.ops_port)
            )
            if on_ops and path not in OPS_PATHS | HEALTH_PATHS:
                await _not_found(send)
                return
            if path in OPS_PATHS and not (on_ops or self.public_ops):
                await _not_found(send)
                return
        await self.app(scope, receive, send)


async def _not_found(send: Send) -> None:
    body = json.dumps({"detail": "Not Found", "reason": "not_found"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
