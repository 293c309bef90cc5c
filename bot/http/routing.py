"""A call's later signalling, routed to the instance that holds the call.

With many instances behind one load balancer, a caller's requests after the first offer
(trickled ICE candidates, `PATCH /api/offer`; renegotiations and ICE restarts, `POST
/api/offer` with the call's pc_id) may land on any instance, but only the one that
answered the first offer holds the peer connection. When a call takes its places in the
shared state it also records its holder (ticket nonce -> instance id, under the places'
lease: `bot.shared.redis_state`). An instance that gets such a request for a call it
does not hold looks the holder up, forwards the request as it came (headers and body)
to the holder's `LIVEBOT_INSTANCE_ADDRESS` from the registry, and answers with the
holder's answer. A holder that is gone (its lease ran out, or it does not answer): 410,
`ended`. No sticky sessions needed, and a draining instance, which the load balancer no
longer sends requests to, still gets its own calls' signalling.

A forwarded request carries `X-Livebot-Routed`, an HMAC (with the link secret every
instance shares) of the holder's id and the ticket's nonce: only an instance can make
it, and the instance it names answers it itself, never forwarding it again (no loops).

One instance (no `REDIS_URL`): nothing is looked up; every call is this instance's.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from fastapi import Request, Response
from loguru import logger

from bot import links
from bot.http.errors import Answered, ApiError
from bot.http.gate import unavailable
from bot.http.tickets import Tickets
from bot.metrics import Metrics
from bot.settings import Settings
from bot.shared.state import Instance, SharedState, SharedUnavailable

ROUTED = "x-livebot-routed"  # on a forwarded request: the HMAC that says an instance sent it
ROUTED_VIA = "x-livebot-routed-via"  # on its answer: the instance that passed it on
FORWARD_SECONDS = 10.0  # an ICE restart's answer takes well under a second
# Not passed on: they describe one connection (hop), not the request.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)


class CallRoutes:
    """Where a call's later signalling goes: here, or to the instance holding the call."""

    def __init__(
        self,
        settings: Settings,
        secret: bytes,
        shared: SharedState | None,
        tickets: Tickets,
        metrics: Metrics,
    ) -> None:
        self.me, self.secret, self.shared = settings.instance_id, secret, shared
        self.tickets, self.metrics = tickets, metrics
        self._http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def forward_if_elsewhere(self, request: Request, pc_id: str | None) -> None:
        """Return if this instance answers the request; else raise `Answered` with the
        holder's answer (or the refusal saying the call has ended)."""
        if self.shared is None or pc_id is None:  # a first offer: any instance places it
            return
        nonce = self._nonce(request)
        if nonce is None or self.tickets.get(nonce) is not None:  # refused here / held here
            return
        if self._routed_here(request, nonce):
            return  # an instance sent it to us: answered here (refused if the call is gone)
        try:
            holder = await self.shared.holder(nonce)
        except SharedUnavailable as e:
            raise unavailable() from e
        if holder is None:
            logger.info(
                f"{request.method} {request.url.path}: its call is held by no live instance"
            )
            raise ended()
        if holder.id == self.me:
            return
        raise Answered(await self._forward(request, holder, nonce))

    def mark(self, instance_id: str, nonce: str) -> str:
        """The `X-Livebot-Routed` value for a request about call `nonce`, sent to `instance_id`."""
        body = f"routed.{instance_id}.{nonce}".encode()
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def _routed_here(self, request: Request, nonce: str) -> bool:
        given = request.headers.get(ROUTED)
        if given is None:
            return False
        if hmac.compare_digest(given, self.mark(self.me, nonce)):
            return True
        logger.warning(f"{ROUTED} header not made by an instance (another secret?): ignored")
        return False

    def _nonce(self, request: Request) -> str | None:
        """The nonce of the request's call ticket (expired or not: an expired ticket still
        serves its call, which its holder checks); None if it is no ticket of ours."""
        authorization = request.headers.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            return None
        try:
            return links.verify(self.secret, "ticket", authorization[7:].strip(), now=0).nonce
        except links.TokenError:
            return None

    async def _forward(self, request: Request, holder: Instance, nonce: str) -> Response:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=FORWARD_SECONDS, trust_env=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers[ROUTED] = self.mark(holder.id, nonce)
        url = f"http://{holder.address}{request.url.path}"
        what = f"{request.method} {request.url.path} routed to {holder.id} ({holder.address})"
        try:
            answer = await self._http.request(
                request.method, url, content=await request.body(), headers=headers
            )
        except httpx.TimeoutException as e:
            logger.warning(f"{what}: no answer within {FORWARD_SECONDS:g} s")
            raise unavailable() from e
        except httpx.TransportError as e:
            logger.warning(f"{what}: unreachable ({type(e).__name__}): its calls have ended")
            raise ended() from e
        logger.info(f"{what}: {answer.status_code}")
        self.metrics.routed.labels(str(answer.status_code)).inc()
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        passed[ROUTED_VIA] = self.me
        return Response(answer.content, status_code=answer.status_code, headers=passed)


def ended() -> ApiError:
    return ApiError(
        "ended",
        "This call has ended (or the bot instance that held it has stopped): join again.",
    )
