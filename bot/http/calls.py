"""The calls running in this process, and how they end when the process stops.

The routes start calls here and look them up by their first pc_id; the lifespan
and a drain (SIGTERM: `bot.__main__`) end them within a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

from bot.call import Call, run_call
from bot.events import BotRestarting

STOP_SECONDS = 4.0  # all calls' pipelines together, when the server stops them


@dataclass
class CallRegistry:
    """The calls running in this process, by peer connection id."""

    calls: dict[str, Call] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)  # pc_id -> room name

    def start(self, call: Call, room: str, on_end: Callable[[], None] | None = None) -> None:
        task = asyncio.create_task(run_call(call), name=f"call-{call.call_id}")
        self.calls[call.call_id] = call
        self.tasks[call.call_id] = task
        self.rooms[call.call_id] = room

        def ended(_task: asyncio.Task) -> None:
            self._forget(call.call_id)
            if on_end is not None:
                on_end()

        task.add_done_callback(ended)

    def _forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
        self.tasks.pop(call_id, None)
        self.rooms.pop(call_id, None)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait until every call has ended (True) or `timeout` passes (False)."""
        tasks = list(self.tasks.values())
        if not tasks:
            return True
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def end_left(self, rejoin_key: str, timeout: float) -> None:
        """The caller of the call with this rejoin key is back on a new connection: end
        the old call as left by them (so it is parked), within `timeout`."""
        for call_id, call in list(self.calls.items()):
            if call.rejoin_key == rejoin_key and (task := self.tasks.get(call_id)):
                logger.info(f"call {call_id}: its caller is back on a new connection")
                call.caller_left = True
                with contextlib.suppress(Exception):
                    await call.task.cancel()
                await asyncio.wait([task], timeout=timeout)

    def in_room(self, room: str) -> int:
        return sum(1 for r in self.rooms.values() if r == room)

    async def stop_all(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel every call, all within `timeout`; log (one line each) what is still running."""
        if not self.tasks:
            return

        async def stop(call: Call) -> None:
            with contextlib.suppress(Exception):
                await call.task.cancel()

        tasks = list(self.tasks.items())
        stopping = [asyncio.ensure_future(stop(c)) for c in list(self.calls.values())]
        _done, pending = await asyncio.wait([t for _c, t in tasks] + stopping, timeout=timeout)
        for task in stopping:
            task.cancel()
        for call_id, task in tasks:
            if task in pending:
                logger.warning(f"call {call_id} did not stop within {timeout:g} s")

    async def drain(self, draining: asyncio.Event, grace: float) -> None:
        """Stop taking calls (`draining`), tell callers, give their calls `grace` seconds,
        end the rest."""
        if draining.is_set():
            return
        draining.set()
        logger.warning(f"shutting down: {len(self.calls)} call(s) get {grace:g} s to finish")
        for call in list(self.calls.values()):
            await call.feed.on_event(BotRestarting(grace))
        await self.wait_empty(grace)
        for call in list(self.calls.values()):
            call.outcome = "shutdown"
        await self.stop_all()
