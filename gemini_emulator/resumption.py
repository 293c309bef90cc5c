"""What a resumption handle holds of the caller's input, and which client message it ends at.

Google documents `SessionResumptionUpdate.lastConsumedClientMessageIndex` as the "index
of last message sent by client that is included in state represented by this
SessionResumptionToken", sent "only when `SessionResumptionConfig.transparent` is set",
so that a client can buffer what it sent since the last update and send it again after
reconnecting. The docs do not say how messages are counted; we count every client
message on the socket after `setup` from 0 (realtime input, client content, tool
responses alike), the reading clients in the wild use (the index is an int64, so a
JSON string). A message counts as consumed once the session has applied it.

The state a handle stands for includes what the caller had said of an utterance not yet
ended (the VAD's audio so far), so a session resumed from it goes on hearing that
utterance from where the handle left it, and hears nothing sent after it: that is
what lets a test tell a client that sends the rest again from one that does not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .caller_input import CallerInput
from .recording import ConnectionRecord

__all__ = ["HandleStates"]


@dataclass(frozen=True)
class _CallerState:
    vad: Any
    start: float | None
    barge: bool
    manual: bytearray | None


@dataclass(frozen=True)
class HandleState:
    #: The last client message (on the socket that got the handle) the state includes.
    index: int | None
    caller: _CallerState


class HandleStates:
    """Per session: client messages consumed per socket, and each handle's caller state."""

    def __init__(self) -> None:
        self._consumed: dict[int, int] = {}
        self.states: dict[str, HandleState] = {}

    def consumed(self, conn: ConnectionRecord) -> None:
        """One more client message (after setup) applied on `conn`."""
        self._consumed[conn.index] = self._consumed.get(conn.index, 0) + 1

    def last_index(self, conn: ConnectionRecord) -> int | None:
        count = self._consumed.get(conn.index, 0)
        return count - 1 if count else None

    def update(
        self, conn: ConnectionRecord, handle: str, caller: CallerInput, setup: dict[str, Any]
    ) -> dict[str, Any]:
        """The `sessionResumptionUpdate` for a new `handle`, its state kept for a resume."""
        index = self.last_index(conn)
        # CallerInput's fields are the state of the utterance in progress.
        self.states[handle] = HandleState(
            index,
            _CallerState(
                copy.deepcopy(caller._vad),
                caller._start,
                caller._barge,
                None if caller._manual is None else bytearray(caller._manual),
            ),
        )
        body: dict[str, Any] = {"newHandle": handle, "resumable": True}
        if (setup.get("sessionResumption") or {}).get("transparent") and index is not None:
            body["lastConsumedClientMessageIndex"] = str(index)
        return {"sessionResumptionUpdate": body}

    def restore(self, handle: str, caller: CallerInput) -> None:
        """A socket resumed from `handle`: its caller input starts from the handle's."""
        state = self.states.get(handle)
        if state is None:
            return
        c = state.caller
        caller._vad = copy.deepcopy(c.vad)
        caller._start, caller._barge = c.start, c.barge
        caller._manual = None if c.manual is None else bytearray(c.manual)
