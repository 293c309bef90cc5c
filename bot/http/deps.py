"""What a route needs, as FastAPI dependencies: the app's parts, by type.

`create_app` puts each part on `app.state` once; a route names what it uses in its
signature (`gate: GateDep`), so no route shares state with another through a closure
and a test can see what each one touches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.http.calls import CallRegistry
from bot.http.gate import Gate
from bot.metrics import Metrics
from bot.rooms import RoomStore
from bot.settings import Settings


async def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def secret_of(request: Request) -> bytes:
    return request.app.state.secret


async def rooms_of(request: Request) -> RoomStore:
    return request.app.state.rooms


async def calls_of(request: Request) -> CallRegistry:
    return request.app.state.calls


async def gate_of(request: Request) -> Gate:
    return request.app.state.gate


async def metrics_of(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(settings_of)]
SecretDep = Annotated[bytes, Depends(secret_of)]
RoomsDep = Annotated[RoomStore, Depends(rooms_of)]
CallsDep = Annotated[CallRegistry, Depends(calls_of)]
GateDep = Annotated[Gate, Depends(gate_of)]
MetricsDep = Annotated[Metrics, Depends(metrics_of)]
