"""What a resumption handle holds: `lastConsumedClientMessageIndex` (transparent mode) and
the caller's utterance in progress, on the wire (gemini_emulator/resumption.py)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from gemini_emulator import LiveSession
from gemini_emulator.audio import INPUT_RATE, voice_like
from tests.emulator.helpers import MODEL, raw_ws, silence

CHUNK = INPUT_RATE * 20 // 1000 * 2  # 20 ms


def setup(**resumption: Any) -> str:
    return json.dumps({"setup": {"model": MODEL, "sessionResumption": resumption}})


def audio(pcm: bytes) -> str:
    data = base64.b64encode(pcm).decode()
    return json.dumps(
        {"realtimeInput": {"audio": {"data": data, "mimeType": "audio/pcm;rate=16000"}}}
    )


async def updates_until(ws: Any, pred: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while True:
            msg = json.loads(await ws.recv())
            if "sessionResumptionUpdate" in msg:
                seen.append(msg["sessionResumptionUpdate"])
                if pred(seen[-1]):
                    return seen


async def send_chunks(ws: Any, pcm: bytes) -> int:
    n = 0
    for i in range(0, len(pcm), CHUNK):
        await ws.send(audio(pcm[i : i + CHUNK]))
        n += 1
    return n


async def test_a_transparent_handle_says_which_message_it_holds_and_resumes_from_there(
    make_emulator,
) -> None:  # type: ignore[no-untyped-def]
    speech = voice_like(2.0, INPUT_RATE)
    first, rest = speech[: len(speech) // 2], speech[len(speech) // 2 :]
    first = first[: len(first) // CHUNK * CHUNK]
    rest = speech[len(first) :]
    heard: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        utt = await s.next_utterance()
        heard["utterance"] = utt

    async with make_emulator(script=script) as emu:
        async with raw_ws(emu) as ws:
            await ws.send(setup(transparent=True))
            await updates_until(ws, lambda u: u.get("resumable"))  # after setupComplete
            sent = await send_chunks(ws, silence(0.2) + first)
            await emu.wait_for(lambda: emu.connections[0].audio_bytes >= 0.2 * 32000 + len(first))
            session = emu.session()
            await session.issue_resumption_update()
            update = (await updates_until(ws, lambda u: "lastConsumedClientMessageIndex" in u))[-1]
            # an int64 in proto3 JSON: a string; the index of the last message it holds
            assert update["lastConsumedClientMessageIndex"] == str(sent - 1)
            handle = update["newHandle"]
            await send_chunks(ws, rest[: len(rest) // 2])  # sent after the handle: lost
        async with raw_ws(emu) as ws:
            await ws.send(setup(transparent=True, handle=handle))
            await updates_until(ws, lambda u: u.get("resumable"))
            # the client sends again what came after the handle, then goes on
            await send_chunks(ws, rest + silence(1.0))
            await emu.wait_for(lambda: "utterance" in heard, timeout=5)

    utt = heard["utterance"]
    assert utt.connection == 1
    # the whole utterance, its first half from the handle's state (no double, no gap)
    assert abs(utt.duration - 2.0) < 0.1, utt.duration


async def test_without_transparent_no_index_is_sent_and_unsent_audio_is_not_in_the_state(
    make_emulator,
) -> None:  # type: ignore[no-untyped-def]
    speech = voice_like(2.0, INPUT_RATE)
    first = speech[: len(speech) // 2 // CHUNK * CHUNK]
    heard: dict[str, Any] = {}

    async def script(s: LiveSession) -> None:
        heard["utterance"] = await s.next_utterance()

    async with make_emulator(script=script) as emu:
        async with raw_ws(emu) as ws:
            await ws.send(setup())
            await updates_until(ws, lambda u: u.get("resumable"))
            await send_chunks(ws, silence(0.2) + first)
            await emu.wait_for(lambda: emu.connections[0].audio_bytes >= 0.2 * 32000 + len(first))
            await emu.session().issue_resumption_update()
            update = (await updates_until(ws, lambda u: u.get("resumable")))[-1]
            assert "lastConsumedClientMessageIndex" not in update
            handle = update["newHandle"]
        async with raw_ws(emu) as ws:
            await ws.send(setup(handle=handle))
            await updates_until(ws, lambda u: u.get("resumable"))
            await send_chunks(ws, silence(1.0))  # the rest never sent again
            await emu.wait_for(lambda: "utterance" in heard, timeout=5)

    assert heard["utterance"].connection == 1
    assert abs(heard["utterance"].duration - 1.0) < 0.1, heard["utterance"].duration
