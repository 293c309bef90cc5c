"""The jitter buffer inside a real aiortc call: frames delivered under packet loss.

Two peer connections on loopback; the sender's RTP is dropped at random (in-process,
before SRTP), the receiver decodes with aiortc's Opus decoder. Counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaStreamError
from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtp import is_rtcp

from bot.media.jitter import install_audio_jitter_buffer, jitter_stats

FRAMES = 150  # 3 s of 20 ms frames


async def call_with_loss(loss: float, fix: bool) -> tuple[int, int]:
    """(RTP packets that reached the receiver, audio frames its track delivered)."""
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(AudioStreamTrack())  # aiortc's silence source, paced in real time
    got: list[int] = []
    arrived = [0]
    readers: list[asyncio.Task[None]] = []

    @receiver.on("track")
    def on_track(track) -> None:
        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    got.append(1)

        readers.append(asyncio.ensure_future(read()))

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    if fix:
        for t in receiver.getTransceivers():
            install_audio_jitter_buffer(t.receiver)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)

    rng = random.Random(3)
    dtls = sender.getSenders()[0].transport
    send_rtp = dtls._send_rtp

    async def lossy(data: bytes) -> None:
        if not is_rtcp(data):
            if rng.random() < loss:
                return
            arrived[0] += 1
        await send_rtp(data)

    dtls._send_rtp = lossy
    try:
        async with asyncio.timeout(30):
            while arrived[0] < FRAMES:
                await asyncio.sleep(0.05)
        # one snapshot of both counters: what arrived vs what the track has given out
        snapshot = arrived[0], len(got)
        if fix:
            stats = jitter_stats(receiver.getTransceivers()[0].receiver)
            assert stats is not None and stats.lost > 0
        return snapshot
    except TimeoutError:
        return arrived[0], len(got)
    finally:
        await sender.close()
        await receiver.close()


async def test_every_frame_that_arrives_is_delivered_at_5_percent_loss():
    arrived, delivered = await call_with_loss(0.05, fix=True)
    assert delivered >= arrived - 3  # (a packet or two may be in the decoder thread)


async def test_stock_buffer_discards_frames_that_arrived():
    arrived, delivered = await call_with_loss(0.05, fix=False)
    assert delivered <= arrived - 10  # held back and discarded after the first loss
