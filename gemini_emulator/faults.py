"""The service's misbehaviour, on command: a silent stall, a rejected turn, a mid-call close.

Why its own module: these are what users of every SDK report from the real Live API,
and a script must be able to play them the way the service does, not the way a
client would like:

- :func:`stall`: the model hears the caller (their words are transcribed, as the
  service transcribes input whatever the model does) and never answers: no audio,
  no ``turnComplete``. Whether a client's nudge (a ``clientContent`` with
  ``turnComplete``, or a blank realtime text, as Pipecat sends for 3.x models) gets
  an answer out of the stuck session varies in the field, so the script says which:
  ``nudge="helps"`` or ``"ignored"``. A new socket (a resumed session) ends the stall.
- :func:`reject_turn`: the turn ends at once, empty, with a ``turnCompleteReason``.
- :func:`drop`: the socket ends without a close frame (the client sees 1006), as a
  dropped TCP connection or a crashed frontend does; closes with a code and reason
  (1008 "Operation is not implemented, or supported, or enabled.", reported mid-call
  by users of every SDK; 1011) are :meth:`LiveSession.close`.
- :func:`cut_answer`: the model starts answering and the socket closes mid-answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from loguru import logger

from . import protocol as P
from .recording import ConnectionRecord, TurnResult, Utterance
from .session import LiveSession

__all__ = [
    "INTERNAL_ERROR",
    "NOT_IMPLEMENTED",
    "cut_answer",
    "drop",
    "is_nudge",
    "reject_turn",
    "stall",
]

#: Google's reason for the mid-call 1008 users of every SDK report.
NOT_IMPLEMENTED = "Operation is not implemented, or supported, or enabled."
#: Google's reason for a 1011.
INTERNAL_ERROR = "Internal error encountered."

Nudge = Literal["helps", "ignored"]


def is_nudge(utt: Utterance) -> bool:
    """A client's push to answer: ``clientContent`` with ``turnComplete``, or blank text."""
    return utt.kind == "client_content" or (utt.kind == "text" and not (utt.text or "").strip())


async def stall(
    s: LiveSession,
    *,
    heard: str | None = None,
    nudge: Nudge = "helps",
    timeout: float | None = None,
) -> Utterance | None:
    """Hear the caller and stall: send ``heard`` as the input transcription, then nothing.

    Returns when the stall ends: the nudge that ended it (``nudge="helps"``), or
    ``None`` when the session is resumed on a new socket (the stuck one is gone). What
    the caller says meanwhile is heard and not answered. ``TimeoutError`` after
    ``timeout`` seconds."""
    conn = s.connection
    if heard:
        await s.send_raw(s.transcribe(heard))
    logger.info("emulator {}: stalling (nudge {})", s.id, nudge)
    async with asyncio.timeout(timeout):
        while True:
            utt = await _next_on(s, conn)
            if utt is None:
                logger.info("emulator {}: stall ended by a new socket", s.id)
                return None
            if is_nudge(utt) and nudge == "helps":
                logger.info("emulator {}: stall ended by a nudge", s.id)
                return utt
            logger.info("emulator {}: stalled, ignoring {} input", s.id, utt.kind)


async def _next_on(s: LiveSession, conn: ConnectionRecord | None) -> Utterance | None:
    """The next utterance, or None once a socket newer than `conn` is open."""
    utterance = asyncio.ensure_future(s.next_utterance())
    if conn is None:
        return await utterance
    reconnect = asyncio.ensure_future(s.wait_reconnect(None, after=conn))
    try:
        await asyncio.wait({utterance, reconnect}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reconnect.cancel()
    if utterance.done():
        return utterance.result()
    utterance.cancel()
    return None


async def reject_turn(s: LiveSession, reason: str = "RESPONSE_REJECTED") -> None:
    """End the model's turn at once with no content and ``turnCompleteReason``."""
    await s.send_raw({"serverContent": {"turnComplete": True, "turnCompleteReason": reason}})


async def drop(s: LiveSession) -> None:
    """End the current socket abruptly: no close frame (the client sees 1006)."""
    conn = s.connection
    if conn is None or conn.ws is None:
        return
    conn.closing = True
    conn.close_code, conn.close_reason, conn.closed_by = 1006, "", "server"
    conn.closed_at = time.monotonic()
    conn.ws.transport.abort()  # the server's read loop ends and detaches the socket


async def cut_answer(
    s: LiveSession,
    text: str,
    *,
    after: float = 0.6,
    code: int | None = P.CLOSE_POLICY,
    reason: str = NOT_IMPLEMENTED,
    seconds: float | None = None,
    heard: str | None = None,
) -> TurnResult:
    """Start answering ``text`` (``heard``: the caller's words, transcribed first), then
    close the socket ``after`` seconds into the answer (``code`` and ``reason``;
    ``code=None``: an abrupt :func:`drop`)."""
    answer = asyncio.ensure_future(s.say(text, seconds=seconds, transcribe_input=heard))
    await asyncio.sleep(after)
    if code is None:
        await drop(s)
    else:
        await s.close(code, reason)
    return await answer
