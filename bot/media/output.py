"""The bot's voice to the caller: 20 ms Opus packets, encoded in-line, with in-band FEC.

Why: Pipecat's `RawAudioTrack` (smallwebrtc/transport.py) hands aiortc one 10 ms
`AudioFrame` per `recv()`, paced by the wall clock. aiortc's `RTCRtpSender` then, for
every 10 ms frame, hops to the default thread pool (`run_in_executor(encoder.encode)`),
resamples 24 kHz mono to 48 kHz stereo and buffers until it has 20 ms for one Opus
packet. Per call that is 100 track wake-ups, 100 thread-pool round trips and a
resampler per second, all on the event loop the call's pipeline and Gemini socket share.
The profile put the sender at ~15 % of the bot's CPU (~6 % the thread-pool handoff).

`OpusOutputTrack` takes the place of Pipecat's track *on the peer connection* while
Pipecat keeps writing to its own one (`add_audio_bytes`, the queue of 10 ms chunks and
their futures, unchanged): every 20 ms it takes two chunks from that queue and encodes
them itself, at the output rate (libopus takes 24 kHz mono as is: no resampler), in
the event loop (~50 us per packet: cheaper than any thread hop), and returns an
`av.Packet`, which aiortc sends as is (`RTCRtpSender` only packs pre-encoded packets).

* In-band FEC (`fec=1`, `packet_loss=10`): each packet also carries a low-bitrate copy of
  the one before, so a caller's decoder recovers a single lost packet from the next one
  instead of concealing it. (DTX is not exposed by PyAV's FFmpeg `libopus` wrapper.)
* Pacing: one packet per 20 ms of a monotonic clock. After a stall, queued audio goes
  out back to back until the clock is caught up (as Pipecat does: the backlog must not
  stay as added latency), but silence is never burst: with nothing queued the clock
  restarts from now.
* Interruptions: `flush()` drops what is queued (Pipecat only clears its own queue).
* Silence: the track sends silence whenever the bot is not speaking (most of a call).
  Once the encoder has settled on digital silence, the same silence packet is sent
  again instead of encoding zeros 50 times a second (DTX in spirit: the caller's decoder
  still gets a packet every 20 ms, so nothing downstream changes).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

FRAME_MS = 20
RTP_RATE = 48_000  # Opus RTP clock, whatever rate was encoded
RTP_TIME_BASE = fractions.Fraction(1, RTP_RATE)
BITRATE = 32_000  # mono speech; aiortc's own encoder uses 96 kbit/s stereo
EXPECTED_LOSS_PERCENT = 10  # tells libopus how much redundancy (FEC) to add
# complexity 5 (libopus's default is 10): ~30 % less encoder CPU, still wideband speech
COMPLEXITY = 5
OPUS_OPTIONS = {
    "application": "voip",
    "fec": "1",
    "packet_loss": str(EXPECTED_LOSS_PERCENT),
    "compression_level": str(COMPLEXITY),
}
# after this many silent frames in a row the encoder has settled (and sent the FEC copy
# of the last speech frame): further silence reuses its last packet, not the encoder
SILENCE_SETTLE_FRAMES = 5


def opus_encoder(sample_rate: int) -> av.AudioCodecContext:
    """A libopus encoder for mono s16 at `sample_rate` (8/12/16/24/48 kHz), 20 ms frames."""
    codec = av.AudioCodecContext.create("libopus", "w")
    codec.bit_rate = BITRATE
    codec.format = "s16"
    codec.layout = "mono"
    codec.sample_rate = sample_rate
    codec.time_base = fractions.Fraction(1, sample_rate)
    codec.options = dict(OPUS_OPTIONS)
    codec.open()
    return codec


class OpusOutputTrack(MediaStreamTrack):
    """Sends what Pipecat queues on `source` (a `RawAudioTrack`) as 20 ms Opus packets."""

    kind = "audio"

    def __init__(self, source: Any, *, clock=time.monotonic) -> None:
        super().__init__()
        self.source = source  # Pipecat's track: the transport writes to it
        self._queue: deque[tuple[bytes, asyncio.Future | None]] = source._chunk_queue
        self._rate: int = source._sample_rate
        self._auto_silence: bool = getattr(source, "_auto_silence", True)
        self._samples = self._rate * FRAME_MS // 1000
        self._frame_bytes = self._samples * 2
        self._silence = bytes(self._frame_bytes)
        self._encoder = opus_encoder(self._rate)
        self._packets: deque[av.Packet] = deque()
        self._clock = clock
        self._next: float | None = None  # when the next packet is due
        self._pts = 0  # 48 kHz RTP units
        self._in_pts = 0
        self.sent = 0  # packets returned
        self.audio_frames = 0  # ... that carried queued audio (not silence)
        self.flushed = 0  # 10 ms chunks dropped by flush()
        self.encoded = 0  # frames that went through the encoder
        self._silent_run = 0  # silent frames encoded in a row
        self._silence_packet: bytes | None = None

    def _take(self) -> bytes | None:
        """20 ms of queued audio (padded with silence), or None if nothing is queued."""
        if not self._queue:
            return None
        parts: list[bytes] = []
        size = 0
        while self._queue and size < self._frame_bytes:
            chunk, future = self._queue.popleft()
            if future is not None and not future.done():
                future.set_result(True)  # Pipecat's writer waits for this
            parts.append(chunk)
            size += len(chunk)
        pcm = b"".join(parts)
        if len(pcm) < self._frame_bytes:
            pcm += self._silence[len(pcm) :]
        return pcm[: self._frame_bytes]

    def flush(self) -> int:
        """Drop the queued audio (on barge-in); return how many 10 ms chunks were dropped."""
        n = 0
        while self._queue:
            _chunk, future = self._queue.popleft()
            if future is not None and not future.done():
                future.set_result(True)
            n += 1
        self.flushed += n
        return n

    def encode(self, pcm: bytes) -> list[av.Packet]:
        """Encode one 20 ms frame (mono s16 at the output rate) to Opus packets."""
        silent = pcm == self._silence
        if not silent:
            self._silent_run = 0
        elif self._silence_packet is not None and self._silent_run >= SILENCE_SETTLE_FRAMES:
            self._in_pts += self._samples
            return [av.Packet(self._silence_packet)]
        packets = self._encode(pcm)
        if silent:
            self._silent_run += 1
            if packets:
                self._silence_packet = bytes(packets[-1])
        return packets

    def _encode(self, pcm: bytes) -> list[av.Packet]:
        self.encoded += 1
        samples = np.frombuffer(pcm, dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._in_pts
        frame.time_base = self._encoder.time_base
        self._in_pts += self._samples
        return list(self._encoder.encode(frame))

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        while not self._packets:
            now = self._clock()
            if self._next is None:
                self._next = now
            wait = self._next - now
            if wait > 0:
                await asyncio.sleep(wait)
            pcm = self._take()
            if pcm is None and self._clock() > self._next:
                # behind: Pipecat's writer may be one loop turn from queueing the next
                # chunk (it waits for the last one to be taken); give it that turn
                await asyncio.sleep(0)
                pcm = self._take()
            if pcm is None:
                if not self._auto_silence:
                    while not self._queue:  # noqa: ASYNC110 (as Pipecat polls: its writer sets no event)
                        await asyncio.sleep(0.005)
                    pcm = self._take()
                else:
                    pcm = self._silence
                # nothing was waiting: do not burst silence to catch up with the clock
                self._next = max(self._next, self._clock() - FRAME_MS / 1000)
            else:
                self.audio_frames += 1
            self._next += FRAME_MS / 1000
            self._packets.extend(self.encode(pcm or self._silence))
        packet = self._packets.popleft()
        packet.pts = self._pts
        packet.time_base = RTP_TIME_BASE
        self._pts += RTP_RATE * FRAME_MS // 1000
        self.sent += 1
        return packet


def install_output_track(connection: Any) -> None:
    """Make `connection.replace_audio_track` (what Pipecat calls with its `RawAudioTrack`
    once the caller is connected) send an `OpusOutputTrack` reading that track instead.
    Per connection; a track that is not Pipecat's goes through unchanged."""
    if getattr(connection, "_livebot_output_installed", False):
        return
    original = connection.replace_audio_track

    def replace_audio_track(track: Any) -> Any:
        if hasattr(track, "_chunk_queue") and hasattr(track, "_sample_rate"):
            track = OpusOutputTrack(track)
            connection.livebot_output_track = track
        return original(track)

    connection.replace_audio_track = replace_audio_track
    connection._livebot_output_installed = True


def output_track(connection: Any) -> OpusOutputTrack | None:
    return getattr(connection, "livebot_output_track", None)


def flush_output(connection: Any) -> None:
    """Barge-in: drop the bot audio queued in this call's output track.

    The one flush, whichever trigger comes first: the Live stage calls it the moment
    Gemini says `interrupted` (before the interruption has travelled the pipeline),
    and `install_barge_in_flush` when the `InterruptionFrame` reaches the output."""
    track = output_track(connection)
    if track is not None:
        track.flush()


def install_barge_in_flush(output_processor: Any, connection: Any) -> None:
    """On an `InterruptionFrame`, also drop the audio waiting in the output track.

    Pipecat's output transport clears its own queue on an interruption, but up to one
    `audio_out_10ms_chunks` chunk already handed to the track still plays: ~40 ms of
    the bot talking over the caller after they barged in. Wraps this one processor's
    `process_frame` (per instance)."""
    from pipecat.frames.frames import InterruptionFrame

    original = output_processor.process_frame

    async def process_frame(frame: Any, direction: Any) -> None:
        if isinstance(frame, InterruptionFrame):
            flush_output(connection)
        await original(frame, direction)

    output_processor.process_frame = process_frame
