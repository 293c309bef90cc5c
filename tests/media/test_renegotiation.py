"""bot.media.renegotiation: the jitter buffer fix is back on the new peer connection
after an ICE restart (Pipecat's `renegotiate(restart_pc=True)`), and on a plain one."""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from bot.media import install_call_media
from bot.media.jitter import AudioJitterBuffer

ATTR = "_RTCRtpReceiver__jitter_buffer"


async def caller_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def audio_buffers(connection: SmallWebRTCConnection) -> list[object]:
    return [getattr(t.receiver, ATTR) for t in connection.pc.getTransceivers() if t.kind == "audio"]


async def test_ice_restart_gets_the_fix_on_its_new_peer_connection():
    caller, sdp = await caller_offer()
    conn = SmallWebRTCConnection()
    await conn.initialize(sdp=sdp, type="offer")
    install_call_media(conn)
    install_call_media(conn)  # twice is once
    first_pc = conn.pc
    assert all(isinstance(b, AudioJitterBuffer) for b in audio_buffers(conn))

    caller2, sdp2 = await caller_offer()
    await conn.renegotiate(sdp=sdp2, type="offer", restart_pc=True)
    assert conn.pc is not first_pc  # a new peer connection, new receivers
    buffers = audio_buffers(conn)
    assert buffers and all(isinstance(b, AudioJitterBuffer) for b in buffers)
    assert not any(type(b) is JitterBuffer for b in buffers)

    await conn.renegotiate(sdp=sdp2, type="offer")  # a plain renegotiation too
    assert all(isinstance(b, AudioJitterBuffer) for b in audio_buffers(conn))
    for pc in (caller, caller2):
        await pc.close()
    await conn.disconnect()
