"""What each client message does to its session, once the server has read it.

`realtimeInput` (audio at any rate, resampled to 16 kHz; manual activity marks;
`audioStreamEnd`; text), `clientContent` and `toolResponse`. The server owns the
sockets, the handshake and the records; this module is the protocol's meaning,
so the two can be read (and changed) apart.
"""

from __future__ import annotations

from typing import Any

from . import protocol as P
from .audio import INPUT_RATE, resample
from .recording import ConnectionRecord, Utterance
from .session import LiveSession
from .video import video_frame


async def _on_audio_blob(
    session: LiveSession, conn: ConnectionRecord, blob: dict[str, Any], record_audio: bool
) -> None:
    mime = str(blob.get("mimeType") or "")
    if not mime.startswith("audio/"):
        return  # video/image frames: recorded only
    pcm = P.b64decode(str(blob.get("data") or ""))
    rate = INPUT_RATE
    for param in mime.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k == "rate" and v.isdigit():
            rate = int(v)
    if rate != INPUT_RATE:
        pcm = resample(pcm, rate, INPUT_RATE)
    conn.audio_bytes += len(pcm)
    if record_audio:
        session.caller_pcm += pcm
    await session.caller_input.audio(conn, pcm)


async def dispatch(
    session: LiveSession, conn: ConnectionRecord, msg: P.ClientMessage, *, record_audio: bool
) -> None:
    """Apply one client message (after setup) to its session; `ProtocolError` if it
    is not allowed. `record_audio`: keep the caller's audio in `session.caller_pcm`."""
    body = msg.body
    if msg.kind == "setup":
        raise P.ProtocolError(
            P.CLOSE_INVALID_ARGUMENT,
            "Invalid request: setup may only be sent once per connection.",
        )
    if msg.kind == "realtimeInput":
        if isinstance(body.get("audio"), dict):
            await _on_audio_blob(session, conn, body["audio"], record_audio)
        if isinstance(body.get("video"), dict):
            session.video_frames.append(video_frame(conn.index, body["video"]))
            session._notify()
        for blob in body.get("mediaChunks") or []:  # the deprecated form: audio or images
            if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("image/"):
                session.video_frames.append(video_frame(conn.index, blob))
                session._notify()
            elif isinstance(blob, dict):
                await _on_audio_blob(session, conn, blob, record_audio)
        manual_keys = [k for k in ("activityStart", "activityEnd") if k in body]
        if manual_keys and session.automatic_activity_detection:
            raise P.ProtocolError(
                P.CLOSE_INVALID_ARGUMENT,
                "Explicit activity control is not supported when automatic activity "
                "detection is enabled.",
            )
        if "activityStart" in body:
            await session.caller_input.activity_start()
        if "activityEnd" in body:
            session.caller_input.activity_end(conn)
        if body.get("audioStreamEnd"):
            await session.caller_input.audio_stream_end(conn)
        if isinstance(body.get("text"), str) and body["text"]:
            session.caller_input.text(conn, body["text"])
    elif msg.kind == "clientContent":
        turns = body.get("turns") or []
        if isinstance(turns, dict):
            turns = [turns]
        session.client_turns.extend(turns)
        if body.get("turnComplete"):
            text = "".join(
                str(p.get("text", ""))
                for t in turns[-1:]
                for p in (t.get("parts") or [])
                if isinstance(p, dict)
            )
            await session._interrupt()
            session._add_utterance(
                Utterance("client_content", conn.index, text=text, turns=list(turns))
            )
    elif msg.kind == "toolResponse":
        for fr in body.get("functionResponses") or []:
            if isinstance(fr, dict):
                session._on_function_response(conn, fr)
