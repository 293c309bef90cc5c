"""Refusals: one shape for every answer the API gives when it says no.

Every refusal is `{"detail": <a sentence for people>, "reason": <a word for machines>}`
with the status its reason maps to (the page reads `reason`; people read `detail`), and
each is counted by reason in the metrics. Request validation errors get the same shape
(400, `bad_request`) instead of FastAPI's 422 list.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.metrics import Metrics

STATUS_FOR: dict[str, int] = {
    "draining": 503,
    "busy": 503,
    "unavailable": 503,  # the shared state (Redis) cannot be reached
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
    "ended": 410,  # the call's instance holds it no longer (bot.http.routing)
}


class Problem(BaseModel):
    detail: str
    reason: str | None = None


class ApiError(Exception):
    """A refusal with a human sentence and a machine reason."""

    def __init__(self, reason: str, detail: str, headers: dict[str, str] | None = None):
        self.reason, self.detail, self.headers = reason, detail, headers or {}


class Answered(Exception):
    """A route's dependency answered the request itself (another instance's answer,
    `bot.http.routing`): that answer is sent as it is."""

    def __init__(self, response: Response):
        self.response = response


def problems(responses: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that refuses with these statuses."""
    return {s: {"model": Problem} for s in responses}


def handle_errors(app: FastAPI, metrics: Metrics) -> None:
    """Answer validation errors and `ApiError`s as problems (refusals counted by reason)."""

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(
            status_code=400, content={"detail": f"bad request: {problems}", "reason": "bad_request"}
        )

    @app.exception_handler(Answered)
    async def answered(_request: Request, exc: Answered) -> Response:
        return exc.response

    @app.exception_handler(ApiError)
    async def refused(_request: Request, exc: ApiError) -> JSONResponse:
        metrics.refusals.labels(exc.reason).inc()
        return JSONResponse(
            status_code=STATUS_FOR.get(exc.reason, 400),
            content={"detail": exc.detail, "reason": exc.reason},
            headers=exc.headers,
        )
