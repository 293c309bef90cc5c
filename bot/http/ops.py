"""Operations: liveness, readiness and the Prometheus metrics.

`/healthz` says the process answers; `/readyz` whether it takes calls (a load balancer
stops sending callers while it drains or Gemini Live refuses sessions); `/metrics` is
for Prometheus. Who may reach them (production: the loopback ops listener) is
`bot.http.opsport`'s business, not these routes'.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from bot.http.deps import CallsDep, GateDep, MetricsDep
from bot.http.errors import problems

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive (the process answers)."""
    return {"status": "ok"}


@router.get("/readyz", responses=problems((503,)))
async def readyz(gate: GateDep, calls: CallsDep) -> JSONResponse:
    """Accepting calls: not shutting down, and Gemini Live not refusing sessions."""
    if gate.draining.is_set():
        return JSONResponse({"status": "draining", "calls": len(calls.calls)}, status_code=503)
    if gate.admission.live_down:
        return JSONResponse(
            {"status": "live_unavailable", "calls": len(calls.calls)}, status_code=503
        )
    return JSONResponse({"status": "ready", "calls": len(calls.calls)})


@router.get("/metrics", include_in_schema=False)
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4")
