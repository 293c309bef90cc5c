"""bot.media.jitter: caller audio is handed on as it arrives, also after a loss.

Counted in frames held and frames delivered, never in time. aiortc's own buffer is
run side by side on the same packets to show what the fix changes.
"""

from __future__ import annotations

import random

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from bot.media.jitter import AudioJitterBuffer, install_audio_jitter_buffer, jitter_stats

SAMPLES = 960  # 20 ms at 48 kHz


def packet(i: int, first_seq: int = 65_530) -> RtpPacket:
    """The i-th 20 ms Opus packet (sequence numbers wrap around 65535 early on)."""
    p = RtpPacket(
        payload_type=111,
        sequence_number=(first_seq + i) & 0xFFFF,
        timestamp=(1000 + i * SAMPLES) & 0xFFFFFFFF,
    )
    p.payload = bytes([i & 0xFF]) * 40
    p._data = p.payload  # what aiortc's receiver sets after depayloading
    return p


def held_after_each(buffer, packets) -> list[int]:
    """Frames received but not yet delivered, after each packet (in packets)."""
    held, out = 0, []
    for p in packets:
        held += 1
        _pli, frame = buffer.add(p)
        if frame is not None:
            held -= 1
        out.append(held)
    return out


def test_every_packet_leaves_at_once_without_loss():
    buf = AudioJitterBuffer()
    frames = [buf.add(packet(i))[1] for i in range(100)]
    assert all(f is not None for f in frames)
    assert [f.data[0] for f in frames] == [i & 0xFF for i in range(100)]
    assert buf.stats.delivered == 100 and buf.stats.lost == 0
    # aiortc's buffer holds 4 frames all the time (prefetch=4): ~80 ms of caller audio
    assert held_after_each(JitterBuffer(capacity=16, prefetch=4), map(packet, range(100)))[-1] >= 4


def test_a_lost_packet_costs_only_itself():
    kept = [i for i in range(200) if i not in (50, 120, 121)]
    buf = AudioJitterBuffer()
    held = held_after_each(buf, (packet(i) for i in kept))
    assert max(held) == 0  # nothing ever waits
    assert buf.stats.delivered == len(kept) and buf.stats.lost == 3
    # the frame after a hole says how many are missing before it (for concealment)
    frames = {i: AudioJitterBuffer() for i in (0,)}
    b = frames[0]
    lost_before = [b.add(packet(i))[1].lost_before for i in kept]
    assert lost_before[kept.index(51)] == 1 and lost_before[kept.index(122)] == 2
    # aiortc's buffer: after the first loss it fills up and stays full (aiortc #543)
    stock = held_after_each(JitterBuffer(capacity=16, prefetch=4), (packet(i) for i in kept))
    assert min(stock[70:]) >= 12


def test_random_loss_delivers_every_packet_that_arrived():
    rng = random.Random(7)
    arrived = [i for i in range(3000) if rng.random() >= 0.05]
    buf = AudioJitterBuffer()
    out = [buf.add(packet(i))[1] for i in arrived]
    assert all(f is not None for f in out)
    assert buf.stats.delivered == len(arrived)
    assert buf.stats.lost == 3000 - len(arrived) - (2999 - arrived[-1])
    # aiortc's buffer discards many good packets on top of the lost ones
    stock, delivered = JitterBuffer(capacity=16, prefetch=4), 0
    for i in arrived:
        delivered += stock.add(packet(i))[1] is not None
    assert delivered < 0.9 * len(arrived)


def test_late_and_duplicate_packets_are_dropped_not_replayed():
    buf = AudioJitterBuffer()
    order = [0, 1, 3, 2, 4, 4, 5]  # 2 arrives after 3; 4 twice
    frames = [buf.add(packet(i))[1] for i in order]
    delivered = [f.data[0] for f in frames if f is not None]
    assert delivered == [0, 1, 3, 4, 5]
    assert buf.stats.late == 2 and buf.stats.lost == 1


def test_a_new_stream_is_not_counted_as_loss():
    buf = AudioJitterBuffer()
    buf.add(packet(0, first_seq=100))
    _pli, frame = buf.add(packet(0, first_seq=30_000))
    assert frame is not None and frame.lost_before == 0 and buf.stats.lost == 0


class _Transport:
    state = "new"


def test_install_swaps_only_audio_receivers_and_can_be_undone():
    audio = RTCRtpReceiver("audio", _Transport())
    video = RTCRtpReceiver("video", _Transport())
    old = install_audio_jitter_buffer(audio)
    assert isinstance(old, JitterBuffer)
    assert jitter_stats(audio) is not None
    assert install_audio_jitter_buffer(audio) is None  # already ours
    assert install_audio_jitter_buffer(video) is None and jitter_stats(video) is None
    audio._RTCRtpReceiver__jitter_buffer = old  # how to undo it
    assert jitter_stats(audio) is None
