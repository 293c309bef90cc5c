"""What the stage's delegates see of Pipecat's socket state, by name.

`outbound.py`, `session_moves.py` and `stall_watch.py` take the stage through small
protocols (session, ready, closing, the handle, connect, drop). These are the
stage's answers, read from `GeminiLiveLLMService`'s private members (each listed in
`pipecat_seams.py`); a mixin of `LiveStage`, kept apart so the stage holds only its
seam overrides.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class _PipecatLive(Protocol):
    """The members of Pipecat's Gemini Live service read here."""

    _session: Any
    _connection_task: Any
    _ready_for_realtime_input: bool
    _disconnecting: bool
    _bot_is_responding: bool
    _session_resumption_handle: str | None
    _log: Any

    @property
    def _is_gemini_3(self) -> bool: ...

    async def _connect(self, session_resumption_handle: str | None = None) -> None: ...

    async def cancel_task(self, task: asyncio.Task[Any], timeout: float | None = None) -> None: ...


class SocketView:
    """Mixin of `LiveStage`: its socket state as its delegates' protocols ask for it."""

    _session: Any  # Pipecat's (`drop_socket` clears them)
    _connection_task: Any

    @property
    def session(self: _PipecatLive) -> Any | None:
        return self._session

    @property
    def realtime_ready(self: _PipecatLive) -> bool:
        return self._ready_for_realtime_input

    @property
    def closing(self: _PipecatLive) -> bool:
        return self._disconnecting

    @property
    def bot_is_responding(self: _PipecatLive) -> bool:
        return self._bot_is_responding

    @property
    def gemini_3(self: _PipecatLive) -> bool:
        return self._is_gemini_3

    @property
    def resumption_handle(self: _PipecatLive) -> str | None:
        return self._session_resumption_handle

    @resumption_handle.setter
    def resumption_handle(self: _PipecatLive, handle: str | None) -> None:
        self._session_resumption_handle = handle

    async def connect(self: _PipecatLive, handle: str | None) -> None:
        await self._connect(session_resumption_handle=handle)

    async def drop_socket(self: _PipecatLive) -> None:
        """Close the socket and stop its receive loop (a move opens the next one)."""
        task, session = self._connection_task, self._session
        self._connection_task = None
        self._session = None
        self._ready_for_realtime_input = False
        if session is not None:
            try:
                await session.close()
            except Exception as e:
                self._log.debug(f"closing the old Live socket: {e}")
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task, timeout=1.0)
