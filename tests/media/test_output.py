"""bot.media.output: the bot's audio leaves as 20 ms Opus packets with in-band FEC.

Counted in packets, chunks and samples, never in time. libopus itself (the copy PyAV
ships) is asked whether a packet carries FEC data and decodes a lost packet from the
next one, the way a caller's WebRTC stack does.
"""

from __future__ import annotations

import asyncio
import ctypes
import glob
import itertools
import os
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
from aiortc.codecs.opus import OpusEncoder
from pipecat.frames.frames import InterruptionFrame, TextFrame
from pipecat.transports.smallwebrtc.transport import RawAudioTrack

from bot.media.output import (
    SILENCE_SETTLE_FRAMES,
    OpusOutputTrack,
    install_barge_in_flush,
    install_output_track,
    output_track,
)

RATE = 24_000  # what Gemini speaks
FRAME = RATE // 50  # 20 ms


def libopus() -> ctypes.CDLL:
    libs = os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libopus*.so*")
    lib = ctypes.CDLL(sorted(glob.glob(libs))[0])
    lib.opus_packet_has_lbrr.argtypes = [ctypes.c_char_p, ctypes.c_int32]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int32,
        ctypes.POINTER(ctypes.c_int16),
        ctypes.c_int,
        ctypes.c_int,
    ]
    return lib


def voice(n_frames: int, jump_at: int | None = None) -> bytes:
    """A vowel-like signal (a few harmonics with a slow vibrato), mono s16 at RATE; from
    frame `jump_at` on the pitch jumps up a fifth (concealment cannot guess that)."""
    t = np.arange(n_frames * FRAME) / RATE
    f0 = 140 + 10 * np.sin(2 * np.pi * 3 * t)
    if jump_at is not None:
        f0[jump_at * FRAME :] *= 1.5
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    return (4000 * x / np.max(np.abs(x))).astype("<i2").tobytes()


def pcm_frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME * 2] for i in range(0, len(pcm), FRAME * 2)]


def our_packets(pcm: bytes) -> list[bytes]:
    track = OpusOutputTrack(RawAudioTrack(RATE))
    return [bytes(p) for f in pcm_frames(pcm) for p in track.encode(f)]


def test_one_packet_per_20_ms_frame_at_the_output_rate():
    packets = our_packets(voice(25))
    assert len(packets) == 25
    # the TOC byte says 20 ms frames, one frame per packet (code 0)
    assert all(p[0] & 0x3 == 0 for p in packets)


def test_encoder_asks_for_in_band_fec():
    lib = libopus()
    ours = our_packets(voice(50))
    with_fec = [lib.opus_packet_has_lbrr(p, len(p)) for p in ours]
    # libopus adds the copy where it judges the previous frame worth it: most of speech
    assert sum(with_fec) >= len(with_fec) // 2
    # aiortc's own encoder (what Pipecat's track goes through) sends none
    stock = OpusEncoder()
    pcm = np.frombuffer(voice(50), dtype="<i2")
    out: list[bytes] = []
    for i in range(0, len(pcm), RATE // 100):
        frame = av.AudioFrame.from_ndarray(pcm[None, i : i + RATE // 100], layout="mono")
        frame.sample_rate = RATE
        frame.pts, frame.time_base = i, Fraction(1, RATE)
        out += stock.encode(frame)[0]
    assert out and not any(lib.opus_packet_has_lbrr(p, len(p)) == 1 for p in out[5:])


def decode(lib, dec, packet: bytes | None, fec: bool = False) -> np.ndarray:
    buf = (ctypes.c_int16 * 960)()
    n = lib.opus_decode(dec, packet, len(packet) if packet else 0, buf, 960, int(fec))
    assert n == 960
    return np.frombuffer(bytes(buf), dtype="<i2").astype(float)


def recovered_correlation(packets: list[bytes], lost: int) -> float:
    """Decode at 48 kHz with packet `lost` missing, recovered from the next packet's FEC
    data as WebRTC does; correlation of the recovered 20 ms with what was lost."""
    lib = libopus()
    err = ctypes.c_int()
    dec = lib.opus_decoder_create(48_000, 1, ctypes.byref(err))
    assert err.value == 0
    for p in packets[:lost]:
        decode(lib, dec, p)
    got = decode(lib, dec, packets[lost + 1], fec=True)
    # what a clean decode of the lost packet gives (a fresh decoder over all packets)
    dec2 = lib.opus_decoder_create(48_000, 1, ctypes.byref(err))
    clean = [decode(lib, dec2, p) for p in packets[: lost + 1]][-1]
    return float(np.corrcoef(got, clean)[0, 1])


def test_a_lost_packet_is_recovered_from_the_next_one():
    # the lost packet is where the pitch jumps: concealment alone would repeat the old one
    pcm = voice(60, jump_at=40)
    corr = recovered_correlation(our_packets(pcm), lost=40)
    # the lost 20 ms comes back (as its low-bitrate copy): ~0.99; without FEC ~0.4
    assert corr > 0.8


def late_clock():
    """A clock a second further on at every reading: every packet is already due."""
    return itertools.count(0.0, 1.0).__next__


def queue_pcm(source: RawAudioTrack, pcm: bytes) -> asyncio.Future:
    return source.add_audio_bytes(pcm)


async def test_track_sends_queued_audio_then_silence_in_20_ms_packets():
    source = RawAudioTrack(RATE)
    track = OpusOutputTrack(source, clock=late_clock())  # never waits
    done = queue_pcm(source, voice(4))  # 80 ms, as 8 chunks of 10 ms
    packets = [await track.recv() for _ in range(6)]
    assert done.done()  # Pipecat's writer is released once its audio is taken
    assert track.audio_frames == 4 and track.sent == 6
    assert [p.pts for p in packets] == [i * 960 for i in range(6)]  # 48 kHz RTP clock
    assert all(p.time_base.denominator == 48_000 for p in packets)
    assert not source._chunk_queue
    track.stop()


async def test_no_silence_burst_after_a_stall():
    now = [0.0]
    track = OpusOutputTrack(RawAudioTrack(RATE), clock=lambda: now[0])
    await track.recv()
    now[0] = 5.0  # the loop was stalled: 250 packets behind, nothing queued
    await track.recv()
    # the clock restarted: the next packet is due 20 ms from now, not 5 s ago
    assert track._next is not None and track._next >= 5.0
    track.stop()


async def test_queued_audio_catches_up_after_a_stall():
    now = [0.0]
    source = RawAudioTrack(RATE)
    track = OpusOutputTrack(source, clock=lambda: now[0])
    await track.recv()
    now[0] = 1.0
    queue_pcm(source, voice(5))
    for _ in range(5):  # due long ago: all go out now, none waits for the clock
        await track.recv()
    assert track.audio_frames == 5 and track._next < now[0]
    track.stop()


async def test_flush_drops_the_queued_audio_and_releases_the_writer():
    source = RawAudioTrack(RATE)
    track = OpusOutputTrack(source, clock=late_clock())
    done = queue_pcm(source, voice(10))  # 200 ms
    await track.recv()
    assert track.flush() == 18 and done.done()
    await track.recv()
    assert track.audio_frames == 1
    track.stop()


class FakeConnection:
    def __init__(self) -> None:
        self.replaced: list[object] = []

    def replace_audio_track(self, track: object) -> None:
        self.replaced.append(track)


def test_install_swaps_pipecats_track_per_connection():
    conn, other = FakeConnection(), FakeConnection()
    install_output_track(conn)
    install_output_track(conn)  # twice is once
    source = RawAudioTrack(RATE)
    conn.replace_audio_track(source)
    other.replace_audio_track(source)
    sent = conn.replaced[0]
    assert isinstance(sent, OpusOutputTrack) and sent.source is source
    assert output_track(conn) is sent and len(conn.replaced) == 1
    assert other.replaced == [source]  # another connection is left alone
    plain = SimpleNamespace(kind="audio")
    conn.replace_audio_track(plain)  # not Pipecat's track: unchanged
    assert conn.replaced[-1] is plain


async def test_interruption_flushes_the_track():
    conn = FakeConnection()
    install_output_track(conn)
    source = RawAudioTrack(RATE)
    conn.replace_audio_track(source)
    seen: list[object] = []

    async def process_frame(frame, direction):
        seen.append(frame)

    processor = SimpleNamespace(process_frame=process_frame)
    install_barge_in_flush(processor, conn)
    queue_pcm(source, voice(5))
    await processor.process_frame(TextFrame("hi"), None)
    assert len(source._chunk_queue) == 10
    await processor.process_frame(InterruptionFrame(), None)
    assert not source._chunk_queue and output_track(conn).flushed == 10
    assert len(seen) == 2  # the frames still reach Pipecat's own handling


async def test_settled_silence_reuses_one_packet_and_decodes_to_silence():
    source = RawAudioTrack(RATE)
    track = OpusOutputTrack(source, clock=late_clock())
    queue_pcm(source, voice(10))
    packets = [bytes(await track.recv()) for _ in range(60)]  # 10 speech, 50 silence
    assert track.audio_frames == 10
    assert track.encoded == 10 + SILENCE_SETTLE_FRAMES  # the rest skipped the encoder
    assert len(set(packets[10 + SILENCE_SETTLE_FRAMES :])) == 1
    lib = libopus()
    err = ctypes.c_int()
    dec = lib.opus_decoder_create(48_000, 1, ctypes.byref(err))
    out = [decode(lib, dec, p) for p in packets]
    assert max(np.abs(f).max() for f in out[20:]) < 50  # silence to the caller's ear
    # speech after silence is encoded again
    queue_pcm(source, voice(2))
    await track.recv()
    assert track.audio_frames == 11 and track.encoded == 10 + SILENCE_SETTLE_FRAMES + 1
    track.stop()
