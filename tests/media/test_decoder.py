"""bot.media.decoder: the caller's Opus decoded in-line to 16 kHz mono, losses filled.

Counted in frames and samples, never in time: unit tests on packets from a real Opus
encoder, then a real aiortc call (loopback) whose receiver gets the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtp import is_rtcp

from bot.media.decoder import OpusDecoder16k, inline_decoder, install_inline_decoder, libopus
from bot.media.jitter import AudioJitterFrame, install_audio_jitter_buffer
from tests.media.test_output import our_packets, voice


def frames_for(packets: list[bytes], lost: set[int] = frozenset()) -> list[AudioJitterFrame]:
    out, gap = [], 0
    for i, p in enumerate(packets):
        if i in lost:
            gap += 1
            continue
        out.append(AudioJitterFrame(p, 1000 + i * 960, lost_before=gap))
        gap = 0
    return out


def test_decodes_straight_to_16_khz_mono():
    lib = libopus()
    assert lib is not None
    dec = OpusDecoder16k(lib)
    frames = [f for jf in frames_for(our_packets(voice(10))) for f in dec.decode(jf)]
    assert len(frames) == 10
    assert {(f.sample_rate, f.layout.name, f.format.name, f.samples) for f in frames} == {
        (16_000, "mono", "s16", 320)
    }
    assert [f.pts for f in frames] == [1000 + i * 960 for i in range(10)]


def test_lost_packets_are_filled_so_the_stream_keeps_its_length():
    dec = OpusDecoder16k(libopus())
    packets = our_packets(voice(40))
    lost = {10, 20, 21, 22}
    frames = [f for jf in frames_for(packets, lost) for f in dec.decode(jf)]
    assert sum(f.samples for f in frames) == 40 * 320  # nothing missing for Gemini
    assert dec.decoded == 36 and dec.recovered == 2 and dec.concealed == 2
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == 40


def test_a_long_gap_is_a_pause_not_filled():
    dec = OpusDecoder16k(libopus())
    packets = our_packets(voice(30))
    frames = [f for jf in frames_for(packets, set(range(5, 25))) for f in dec.decode(jf)]
    assert len(frames) == 10 and dec.concealed == 0


class FakeReceiver:
    _RTCRtpReceiver__kind = "audio"
    _RTCRtpReceiver__started = False

    def __init__(self) -> None:
        self._RTCRtpReceiver__decoder_queue = "aiortc's queue"
        self.track = type("T", (), {"_queue": asyncio.Queue()})()


async def test_install_only_on_an_audio_receiver_that_has_not_started():
    r = FakeReceiver()
    q = install_inline_decoder(r)
    assert q is not None and install_inline_decoder(r) is None  # once
    for jf in frames_for(our_packets(voice(3))):
        q.put((type("C", (), {"name": "opus"})(), jf))
    assert r.track._queue.qsize() == 3  # decoded at once, no thread
    started = FakeReceiver()
    started._RTCRtpReceiver__started = True
    assert install_inline_decoder(started) is None
    video = FakeReceiver()
    video._RTCRtpReceiver__kind = "video"
    assert install_inline_decoder(video) is None


async def test_a_real_call_delivers_16_khz_mono_and_fills_losses():
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(AudioStreamTrack())  # aiortc's silence source, paced in real time
    frames: list = []
    readers: list[asyncio.Task[None]] = []

    @receiver.on("track")
    def on_track(track) -> None:
        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frames.append(await track.recv())

        readers.append(asyncio.ensure_future(read()))

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    for t in receiver.getTransceivers():  # what install_call_media does to each receiver
        install_audio_jitter_buffer(t.receiver)
        install_inline_decoder(t.receiver)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    rng, arrived = random.Random(5), [0]
    dtls = sender.getSenders()[0].transport
    send_rtp = dtls._send_rtp

    async def lossy(data: bytes) -> None:
        if not is_rtcp(data):
            if rng.random() < 0.05:
                return
            arrived[0] += 1
        await send_rtp(data)

    dtls._send_rtp = lossy
    try:
        async with asyncio.timeout(30):
            while arrived[0] < 120:
                await asyncio.sleep(0.05)
        dec = inline_decoder(receiver.getTransceivers()[0].receiver)
        assert dec is not None and dec.decoded >= 100 and dec.recovered > 0
        assert {(f.sample_rate, f.layout.name) for f in frames} == {(16_000, "mono")}
        assert len(frames) == dec.decoded + dec.recovered + dec.concealed
    finally:
        await sender.close()
        await receiver.close()
        for t in readers:
            t.cancel()
