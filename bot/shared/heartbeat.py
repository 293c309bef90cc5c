"""The instance's heartbeat: its entry in the registry and its calls' leases, renewed.

Every third of the lease, so that two missed beats (a slow loop, a Redis blip) do not
lose a live call's place; when Redis is away the beats fail (logged, once per outage)
and calls go on; the next beat that gets through renews everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger

from bot.shared.state import Instance, SharedState, SharedUnavailable


async def beat(shared: SharedState, me: Callable[[], Instance], lease: float) -> None:
    """Run until cancelled."""
    down = False
    while True:
        try:
            await shared.heartbeat(me(), lease)
            if down:
                logger.info("shared state reachable again: heartbeat renewed")
            down = False
        except SharedUnavailable:
            if not down:
                logger.warning("heartbeat failed: calls go on, new calls are refused meanwhile")
            down = True
        await asyncio.sleep(lease / 3)
