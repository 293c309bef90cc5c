"""The benchmark's caller: `caller.Caller` plus what measuring needs.

* every outgoing 20 ms frame's hand-off time (to the Opus encoder) and which queued
  audio it carried, so a marker's send time is known;
* packet loss, in-process, on the caller's side of the call: RTP packets are dropped
  (seeded Bernoulli) before they are SRTP-protected and sent (uplink loss), and after
  they are received and decrypted, before its receiver sees them (downlink loss). RTCP
  and the data channel are never dropped;
* a receive path that hands every RTP packet to the decoder as it arrives (no jitter
  buffer wait, no discards), so a downlink frame's receive time is its network arrival
  (+ decoding), whoever the bot is. It does not conceal lost packets.
"""

from __future__ import annotations

import bisect
import random
import time
from typing import Any

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket, is_rtcp

from caller import Caller, OutgoingAudio


class _TimedOutgoingAudio(OutgoingAudio):
    """Records (hand-off time, queued bytes sent before, after) for every frame."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[float, int, int]] = []

    async def recv(self):  # type: ignore[override]
        before = self._sent  # only recv() moves it, and recv() calls never overlap
        frame = await super().recv()
        self.frames.append((time.monotonic(), before, self._sent))
        return frame


class PassThroughJitterBuffer:
    """Hands each packet on as it arrives (in sequence order; late duplicates dropped)."""

    capacity = 1

    def __init__(self) -> None:
        self.last_seq: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if (
            self.last_seq is not None
            and ((packet.sequence_number - self.last_seq) & 0xFFFF) > 0x8000
        ):
            return False, None  # older than one already handed on
        self.last_seq = packet.sequence_number
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


class BenchCaller(Caller):
    def __init__(self, url: str, *, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._out = _TimedOutgoingAudio()
        self.loss = 0.0
        self.rng = random.Random(seed)
        self.sent_rtp = 0
        self.dropped_up = 0
        self.received_rtp = 0
        self.dropped_down = 0

    @property
    def out_frames(self) -> list[tuple[float, int, int]]:
        return self._out.frames  # type: ignore[attr-defined]

    async def connect(self, timeout: float = 10) -> None:
        await super().connect(timeout)
        assert self.pc is not None
        transceiver = self.pc.getTransceivers()[0]
        transceiver.receiver._RTCRtpReceiver__jitter_buffer = PassThroughJitterBuffer()  # type: ignore[attr-defined]
        dtls = transceiver.sender.transport
        send_rtp, handle_rtp = dtls._send_rtp, dtls._handle_rtp_data
        audio_ssrc = transceiver.sender._ssrc  # the camera's packets share the transport

        async def lossy_send(data: bytes) -> None:
            if not is_rtcp(data):
                audio = int.from_bytes(data[8:12], "big") == audio_ssrc
                self.sent_rtp += audio  # the delivery figure counts audio frames
                if self.loss and self.rng.random() < self.loss:
                    self.dropped_up += audio
                    return
            await send_rtp(data)

        async def lossy_handle(data: bytes, arrival_time_ms: int) -> None:
            self.received_rtp += 1
            if self.loss and self.rng.random() < self.loss:
                self.dropped_down += 1
                return
            await handle_rtp(data, arrival_time_ms)

        dtls._send_rtp = lossy_send
        dtls._handle_rtp_data = lossy_handle

    def send_time_of(self, queued_byte: int) -> float | None:
        """Hand-off time of the frame that carried the queued byte at `queued_byte`."""
        frames = self.out_frames
        i = bisect.bisect_right(frames, queued_byte, key=lambda f: f[1]) - 1
        while 0 <= i < len(frames) and frames[i][2] <= queued_byte:
            i += 1
        if 0 <= i < len(frames) and frames[i][1] <= queued_byte < frames[i][2]:
            return frames[i][0]
        return None
