"""The app's shared state from the settings, checked at start, beating while it serves.

`REDIS_URL` unset: no shared state object at all (the gate keeps this host's files and
memory, exactly as before). Set: Redis is reached at start or the start fails with
what to fix; then this instance's heartbeat runs until the app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from loguru import logger

from bot.shared.heartbeat import beat
from bot.shared.redis_state import RedisState
from bot.shared.state import Instance, SharedState, SharedUnavailable

if TYPE_CHECKING:
    from bot.http.calls import CallRegistry
    from bot.settings import Settings


def shared_state(settings: Settings) -> SharedState | None:
    if not settings.redis_url:
        return None
    return RedisState(settings.redis_url, settings.shared_lease_seconds, settings.instance_id)


@asynccontextmanager
async def shared_running(
    shared: SharedState | None,
    settings: Settings,
    calls: CallRegistry,
    draining: asyncio.Event,
) -> AsyncIterator[None]:
    if shared is None:
        yield
        return
    try:
        await shared.start()
    except SharedUnavailable as e:
        logger.error(f"livebot cannot start: {e}")
        raise

    def me() -> Instance:
        return Instance(
            settings.instance_id, settings.instance_address, len(calls.calls), draining.is_set()
        )

    lease = settings.shared_lease_seconds
    task = asyncio.create_task(beat(shared, me, lease), name="shared-heartbeat")
    logger.info(f"shared state on Redis: instance {settings.instance_id}, lease {lease:g} s")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await shared.close()
