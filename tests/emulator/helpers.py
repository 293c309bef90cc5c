"""Test helpers: drive google-genai sessions and raw websockets against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

from google.genai import errors, types
from google.genai.live import AsyncSession
from websockets.asyncio.client import ClientConnection, connect

from gemini_emulator import LiveEmulator

MODEL = "models/gemini-live-test"
BIDI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


class Collector:
    """Reads every server message of a google-genai session in the background."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.messages: list[types.LiveServerMessage] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                async for msg in self.session.receive():
                    self.messages.append(msg)
                    self._changed.set()
        except BaseException as e:
            self.error = e
            self._changed.set()
            if isinstance(e, asyncio.CancelledError):
                raise

    async def wait(self, pred: Callable[[], Any], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := pred()):
                if self.error is not None and not isinstance(self.error, asyncio.CancelledError):
                    raise AssertionError(f"session ended: {self.error!r}")
                self._changed.clear()
                await self._changed.wait()
            return value

    async def wait_error(self, timeout: float = 5.0) -> BaseException:
        async with asyncio.timeout(timeout):
            while self.error is None:
                self._changed.clear()
                await self._changed.wait()
        return self.error

    def contents(self) -> list[types.LiveServerContent]:
        return [m.server_content for m in self.messages if m.server_content]

    def turn_completes(self) -> int:
        return sum(1 for c in self.contents() if c.turn_complete)

    def model_audio(self) -> bytes:
        out = b""
        for c in self.contents():
            for part in (c.model_turn.parts if c.model_turn else None) or []:
                if part.inline_data and part.inline_data.data:
                    assert part.inline_data.mime_type == "audio/pcm;rate=24000"
                    out += part.inline_data.data
        return out

    def output_text(self) -> str:
        return "".join(
            c.output_transcription.text or "" for c in self.contents() if c.output_transcription
        )

    def input_text(self) -> str:
        return "".join(
            c.input_transcription.text or "" for c in self.contents() if c.input_transcription
        )

    def handles(self) -> list[types.LiveServerSessionResumptionUpdate]:
        return [m.session_resumption_update for m in self.messages if m.session_resumption_update]

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


@contextlib.asynccontextmanager
async def collecting(session: AsyncSession) -> AsyncIterator[Collector]:
    c = Collector(session)
    try:
        yield c
    finally:
        await c.aclose()


async def send_pcm(
    session: AsyncSession, pcm: bytes, *, chunk_ms: int = 20, pace: float = 0.0
) -> None:
    """Send 16 kHz PCM as realtime audio in ``chunk_ms`` chunks (``pace`` s between chunks)."""
    step = 16000 * chunk_ms // 1000 * 2
    for i in range(0, len(pcm), step):
        await session.send_realtime_input(
            audio=types.Blob(data=pcm[i : i + step], mime_type="audio/pcm;rate=16000")
        )
        await asyncio.sleep(pace)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(16000 * seconds)


def api_error_code(exc: BaseException) -> int | None:
    return exc.code if isinstance(exc, errors.APIError) else None


@contextlib.asynccontextmanager
async def raw_ws(
    emu: LiveEmulator, *, path: str = BIDI_PATH, key: str | None = "test-key", **kw: Any
) -> AsyncIterator[ClientConnection]:
    ctx = ssl.create_default_context(cafile=str(emu.ca_file))
    headers = {"x-goog-api-key": key} if key else {}
    async with connect(
        f"wss://127.0.0.1:{emu.port}{path}", ssl=ctx, additional_headers=headers, **kw
    ) as ws:
        yield ws
