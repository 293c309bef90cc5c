"""One model turn on the wire: audio in paced chunks with its transcription, stoppable.

Gemini streams a turn as `modelTurn` audio chunks with `outputTranscription`
pieces, then `generationComplete`; a barge-in stops it mid-chunk with
`interrupted`. The pacing and the interruption are timing-sensitive and shared
(the stream and a barge-in take the same lock), so they live here, apart from the
session's bookkeeping (usage, resumption, the scripting API).
"""

from __future__ import annotations

import asyncio
import math
import re

from websockets.exceptions import ConnectionClosed

from . import protocol as P
from .audio import OUTPUT_RATE
from .recording import ConnectionRecord, TurnResult

__all__ = ["ModelTurn", "words_of"]


def words_of(text: str) -> list[str]:
    """Split into transcription pieces the way Gemini streams them (leading spaces)."""
    return re.findall(r"\s*\S+", text)


class ModelTurn:
    """The model speaking on one socket, until it finishes or is interrupted."""

    def __init__(self, conn: ConnectionRecord) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.stop = asyncio.Event()
        self.interrupted = False

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early on interruption."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def interrupt(self) -> bool:
        """Stop the turn as a barge-in does (`interrupted`); False if it already was."""
        if self.interrupted:
            return False
        async with self.lock:
            if self.interrupted:
                return False
            self.interrupted = True
            try:
                await self.conn.send(P.server_content(interrupted=True))
            except ConnectionClosed:
                pass
        self.stop.set()
        return True

    async def stream(
        self,
        pcm: bytes,
        text: str,
        result: TurnResult,
        *,
        chunk_ms: int,
        stream_rate: float,
        wait_for_playback: bool,
    ) -> None:
        """Send `pcm` (24 kHz) in `chunk_ms` chunks paced at `stream_rate` x real time
        (0: unpaced) with the pieces of `text`, then `generationComplete`; with
        `wait_for_playback`, return once the audio would have played out. Counts the
        audio sent in `result.audio_seconds`; stops early when interrupted."""
        total = len(pcm) / 2 / OUTPUT_RATE
        step = max(2, OUTPUT_RATE * chunk_ms // 1000 * 2)
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        words = words_of(text)
        said = 0
        t0 = asyncio.get_running_loop().time()
        for i, chunk in enumerate(chunks):
            async with self.lock:
                if self.interrupted:
                    break
                await self.conn.send(P.server_content(modelTurn={"parts": [P.audio_part(chunk)]}))
                result.audio_seconds += len(chunk) / 2 / OUTPUT_RATE
                due = math.ceil((i + 1) * len(words) / len(chunks))
                if due > said:
                    piece = "".join(words[said:due])
                    said = due
                    await self.conn.send(P.server_content(outputTranscription={"text": piece}))
            if stream_rate > 0:
                now = asyncio.get_running_loop().time()
                await self.sleep(t0 + result.audio_seconds / stream_rate - now)
        async with self.lock:
            if not self.interrupted:
                if said < len(words):
                    piece = "".join(words[said:])
                    await self.conn.send(P.server_content(outputTranscription={"text": piece}))
                await self.conn.send(P.server_content(generationComplete=True))
        if wait_for_playback and not self.interrupted:
            await self.sleep(t0 + total - asyncio.get_running_loop().time())
