"""What the caller said that the Live session may not have: kept to be said again.

Why: a resumable handle is the state of the session up to some client message. When
a socket drops, what we sent after that message (caller audio, typed text) is gone
from the resumed session: measured with a 1011 in mid-question, the answering session
got 2.4 s of a 3.1 s question. The Live API says which message a handle includes
(`SessionResumptionUpdate.lastConsumedClientMessageIndex`, sent when the setup asks for
`sessionResumption.transparent`, which google-genai allows on Vertex AI only) so that
a client can keep, and resend, only what came after it. Pipecat keeps nothing.

- `NumberedSession` wraps google-genai's `AsyncSession` and numbers every client
  message on the socket (realtime input, client content, tool responses) from 0, the
  first message after `setup` (the index counts messages, so each of them counts,
  whoever sends it: Pipecat's own seeding and nudges too). Google does not say whether
  `setup` counts; we count as clients in the wild do, and as our emulator does. Were
  `setup` message 0, each resume would lose one 20 ms frame, never send one twice.
- `ReplayLog` keeps the caller's realtime input sent on the current socket with its
  index; a handle with an index drops what it includes; a handle without one (the
  Developer API) drops what was sent before it arrived (the service cannot have made
  a state of what it had not received; at most what was in flight is lost). A send
  that failed is kept whatever a handle says. Bounded by `LIVE_REPLAY_SECONDS` of
  audio and `MAX_TEXTS` typed messages, oldest out first.
- `take()` at a move hands what is left to the outbound queue, which sends it again
  first on the new socket. A fresh session (no handle) gets only what the caller said
  after the model last spoke: the summary it is seeded with has the rest.

Tool responses are never kept here: the ledger (`tool_calls.py`) answers each call
once, and a call the resumed session no longer knows must not be answered again.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

MAX_TEXTS = 64  # typed messages kept (each at most a page's message)


class NumberedSession:
    """google-genai's `AsyncSession`, counting the client messages sent on it."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.sent = 0  # the index the next client message gets

    async def send_realtime_input(self, **kwargs: Any) -> None:
        self.sent += 1
        await self._session.send_realtime_input(**kwargs)

    async def send_client_content(self, **kwargs: Any) -> None:
        self.sent += 1
        await self._session.send_client_content(**kwargs)

    async def send_tool_response(self, **kwargs: Any) -> None:
        self.sent += 1
        await self._session.send_tool_response(**kwargs)

    async def send(self, **kwargs: Any) -> None:
        self.sent += 1
        await self._session.send(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass(slots=True)
class Entry:
    item: Any  # the outbound queue's realtime item (audio or typed text)
    seconds: float  # of audio; 0 for text
    index: int | None  # its client-message index on the socket (None: not numbered)
    delivered: bool  # False: its send failed, no state can hold it
    sent_at: float
    seq: int  # order across the call, for "after the model last spoke"


class ReplayLog:
    """The caller's input sent on the current socket that no handle is known to hold."""

    def __init__(self, max_seconds: float, *, clock: Any = time.monotonic) -> None:
        self.max_seconds = max_seconds
        self._clock = clock
        self._entries: deque[Entry] = deque()
        self._seconds = 0.0
        self._texts = 0
        self._seq = 0
        self._answered_seq = 0  # entries before this were answered by the model
        self.dropped_seconds = 0.0  # audio that fell out of the bound since the last take

    @property
    def seconds(self) -> float:
        """Seconds of caller audio kept."""
        return self._seconds

    def __len__(self) -> int:
        return len(self._entries)

    def sent(
        self, item: Any, index: int | None, *, seconds: float = 0.0, delivered: bool = True
    ) -> None:
        """`item` (`seconds` of audio, or 0: text) went out as client message `index`
        (`delivered=False`: its send failed)."""
        self._seq += 1
        self._entries.append(Entry(item, seconds, index, delivered, self._clock(), self._seq))
        self._seconds += seconds
        self._texts += not seconds
        self._bound()

    def consumed(self, index: int | None) -> int:
        """A resumable handle arrived that holds messages up to `index` (None: up to
        what was sent before now). Returns how many entries it let go."""
        now = self._clock()
        kept: deque[Entry] = deque()
        gone = 0
        for e in self._entries:
            held = (
                e.index <= index if index is not None and e.index is not None else e.sent_at < now
            )
            if e.delivered and held:
                self._forget(e)
                gone += 1
            else:
                kept.append(e)
        self._entries = kept
        return gone

    def answered(self) -> None:
        """The model spoke: what the caller said so far was heard and answered."""
        self._answered_seq = self._seq

    def take(self) -> list[Entry]:
        """At a move: everything kept, to send again on the new socket (see `unanswered`)."""
        entries = list(self._entries)
        self._entries.clear()
        self._seconds = 0.0
        self._texts = 0
        return entries

    def unanswered(self, entries: list[Entry]) -> list[Entry]:
        """Of `entries`, what the caller said after the model last spoke (for a fresh
        session, seeded with a summary of the rest)."""
        return [e for e in entries if e.seq > self._answered_seq]

    def _forget(self, e: Entry) -> None:
        self._seconds -= e.seconds
        self._texts -= not e.seconds

    def _bound(self) -> None:
        while self._seconds > self.max_seconds + 1e-9:
            old = next(e for e in self._entries if e.seconds)
            self._entries.remove(old)
            self._forget(old)
            self.dropped_seconds += old.seconds
        while self._texts > MAX_TEXTS:
            old = next(e for e in self._entries if not e.seconds)
            self._entries.remove(old)
            self._forget(old)
