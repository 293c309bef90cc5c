"""An audio jitter buffer that hands each Opus packet on as soon as it arrives.

Why: aiortc's `RTCRtpReceiver` gives audio `JitterBuffer(capacity=16, prefetch=4)`
(aiortc/jitterbuffer.py). That buffer is written for video frames split over packets:

* a frame leaves only once the *next* timestamp has arrived and `prefetch` more frames
  are complete, so every caller frame waits ~4-5 packets (~80-100 ms) with no loss;
* a missing packet blocks the walk from the origin until 16 packets are buffered; then
  `smart_remove` drops just enough to fit and the buffer stays full: ~280 ms of caller
  audio held for the rest of the call, and every later loss or burst (a busy event
  loop delivers 20 packets at once) discards good packets too (aiortc issue #543).

An Opus packet is a whole 20 ms frame and the decoder conceals what is missing, so for
audio there is nothing to reassemble. `AudioJitterBuffer` returns each packet at once:

* a packet newer than expected is delivered at once; the packets in between count as
  lost (the frame carries `lost_before`, for a decoder that conceals them);
* a packet older than one already delivered (late or duplicate) is dropped: playing it
  now would put old audio after newer audio; Gemini takes a stream, not a playout;
* a jump of more than `RESYNC` packets is a new stream (sender restart), not loss.

So the caller's audio is never held for reordering: on loopback and on most networks
audio packets do not reorder, and a frame that comes late is better skipped than
waited for when the listener (Gemini's VAD and model) tolerates a 20 ms gap.

The buffer is the receiver's private attribute (`_RTCRtpReceiver__jitter_buffer`, no
public seam); `install_audio_jitter_buffer` swaps it on one receiver, only for audio,
and returns what was there so a caller can put it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

RESYNC = 1000  # a forward jump this large (packets) is a new stream, not loss


class AudioJitterFrame(JitterFrame):
    """A packet's payload, and how many packets were lost just before it."""

    def __init__(self, data: bytes, timestamp: int, lost_before: int = 0) -> None:
        super().__init__(data, timestamp)
        self.lost_before = lost_before


@dataclass
class JitterStats:
    delivered: int = 0
    lost: int = 0  # sequence numbers never seen before a newer packet came
    late: int = 0  # arrived after a newer packet was delivered (dropped)


class AudioJitterBuffer:
    """Drop-in for aiortc's `JitterBuffer` on an audio receiver (see module docstring)."""

    def __init__(self) -> None:
        self._expected: int | None = None
        self.stats = JitterStats()

    @property
    def capacity(self) -> int:  # aiortc's JitterBuffer exposes it
        return 1

    @property
    def held(self) -> int:
        """Frames waiting in the buffer: always 0 (each `add` delivers or drops)."""
        return 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """aiortc's contract: (send a picture-loss indication?, frame to decode or None)."""
        seq = packet.sequence_number
        lost = 0
        if self._expected is not None:
            gap = (seq - self._expected) & 0xFFFF
            if gap >= 0x8000:  # behind what was delivered: late or a duplicate
                self.stats.late += 1
                return False, None
            lost = gap if gap <= RESYNC else 0
        self._expected = (seq + 1) & 0xFFFF
        self.stats.lost += lost
        self.stats.delivered += 1
        data = getattr(packet, "_data", packet.payload)  # aiortc sets _data (depayloaded)
        return False, AudioJitterFrame(data, packet.timestamp, lost)


_ATTR = "_RTCRtpReceiver__jitter_buffer"


def install_audio_jitter_buffer(receiver: RTCRtpReceiver) -> object | None:
    """Give one audio receiver an `AudioJitterBuffer`; return the buffer it had (to
    restore with `setattr(receiver, "_RTCRtpReceiver__jitter_buffer", old)`), or None
    if nothing was changed (not audio, or this aiortc has no such attribute)."""
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "audio" or not hasattr(receiver, _ATTR):
        return None
    old = getattr(receiver, _ATTR)
    if isinstance(old, AudioJitterBuffer):
        return None
    setattr(receiver, _ATTR, AudioJitterBuffer())
    return old


def jitter_stats(receiver: RTCRtpReceiver) -> JitterStats | None:
    buf = getattr(receiver, _ATTR, None)
    return buf.stats if isinstance(buf, AudioJitterBuffer) else None
