"""The caller's Opus, decoded in-line straight to 16 kHz mono, lost packets concealed.

Why: aiortc's `RTCRtpReceiver` sends every 20 ms packet to a decoder thread
(`queue.Queue` → `decoder_worker`), which decodes to 48 kHz *stereo* and hands each
frame back to the event loop with `run_coroutine_threadsafe` (a coroutine, a future and
a cross-thread wake-up per frame); Pipecat's input transport then resamples every frame
to the 16 kHz mono Gemini takes (smallwebrtc `read_audio_frame`). The profile had the
decoder thread at ~10 % of the bot's CPU and the resampler at ~3 %, with the thread
competing with the event loop for the GIL. A missing packet was not concealed either:
Gemini got 20 ms less audio per lost packet, the stream shifted in time.

`InlineDecodeQueue` takes the place of that receiver's decoder queue (aiortc's only
seam, a private attribute): `put((codec, frame))` decodes at once, in the event loop,
with libopus itself at 16 kHz mono (~30 us a packet: cheaper than the thread hop; PyAV's
FFmpeg wrapper always decodes at 48 kHz), and puts the frame on the track's queue.
Pipecat then sees 16 kHz mono and skips its resampler. For a frame that says packets
were lost just before it (`AudioJitterFrame.lost_before`, bot/media/jitter.py):

* the packet right before is rebuilt from this one's in-band FEC data (browsers send it
  when they see loss; libopus falls back to concealment when there is none);
* older ones (up to `MAX_CONCEALED`) are concealed (libopus PLC), so the stream Gemini
  hears keeps its timing; a longer gap is a pause, not loss, and is not filled.

aiortc's decoder thread is still started; it only waits for the end of the call (our
queue's `get()` returns the `None` that `stop()` puts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fractions
import glob
import os
import threading
from typing import Any

import av
import numpy as np

from bot.media.formats import CALLER_AUDIO

RATE = CALLER_AUDIO.rate  # what Gemini Live takes (and the call's audio_in_sample_rate)
MAX_PACKET_SAMPLES = RATE * 120 // 1000  # Opus packets are at most 120 ms
MAX_CONCEALED = 5  # packets (100 ms): a longer gap is not filled in
TIME_BASE = fractions.Fraction(1, 48_000)  # RTP clock of Opus

_lib: ctypes.CDLL | None = None
_lib_loaded = False


def libopus() -> ctypes.CDLL | None:
    """libopus: the copy PyAV ships, else the system's; None if there is none."""
    global _lib, _lib_loaded
    if _lib_loaded:
        return _lib
    _lib_loaded = True
    here = os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libopus*.so*")
    candidates = sorted(glob.glob(here))
    system = ctypes.util.find_library("opus")
    if system:
        candidates.append(system)
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [
            ctypes.c_int32,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decode.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int16),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
        _lib = lib
        break
    return _lib


class OpusDecoder16k:
    """libopus at 16 kHz mono: packets → `av.AudioFrame`s, with FEC and concealment."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        err = ctypes.c_int()
        self._dec = lib.opus_decoder_create(RATE, 1, ctypes.byref(err))
        if err.value != 0 or not self._dec:
            raise RuntimeError(f"opus_decoder_create failed ({err.value})")
        self._buf = (ctypes.c_int16 * MAX_PACKET_SAMPLES)()
        self.decoded = 0
        self.recovered = 0  # rebuilt from in-band FEC (or concealed if it had none)
        self.concealed = 0  # concealed (PLC)

    def __del__(self) -> None:
        dec, self._dec = getattr(self, "_dec", None), None
        if dec:
            self._lib.opus_decoder_destroy(dec)

    def _run(self, data: bytes | None, samples: int, fec: bool, pts: int) -> av.AudioFrame | None:
        n = self._lib.opus_decode(
            self._dec, data, len(data) if data else 0, self._buf, samples, int(fec)
        )
        if n <= 0:
            return None
        pcm = np.frombuffer(memoryview(self._buf), dtype=np.int16, count=n).copy()
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = pts
        frame.time_base = TIME_BASE
        return frame

    def decode(self, encoded: Any) -> list[av.AudioFrame]:
        data: bytes = encoded.data
        timestamp: int = encoded.timestamp
        samples = self._lib.opus_packet_get_nb_samples(data, len(data), RATE)
        if samples <= 0:
            return []
        out: list[av.AudioFrame | None] = []
        lost = getattr(encoded, "lost_before", 0)
        if 0 < lost <= MAX_CONCEALED:
            step = samples * 3  # 48 kHz RTP units per packet
            for k in range(lost, 1, -1):  # the older ones: concealed
                out.append(self._run(None, samples, False, timestamp - k * step))
                self.concealed += 1
            out.append(self._run(data, samples, True, timestamp - step))  # FEC
            self.recovered += 1
        out.append(self._run(data, MAX_PACKET_SAMPLES, False, timestamp))
        self.decoded += 1
        return [f for f in out if f is not None]


class InlineDecodeQueue:
    """Stands in for `RTCRtpReceiver`'s decoder `queue.Queue` (see module docstring)."""

    def __init__(self, receiver: Any, lib: ctypes.CDLL) -> None:
        self._receiver = receiver
        self.decoder = OpusDecoder16k(lib)
        self._ended = threading.Event()

    def put(self, item: Any) -> None:  # on the event loop (the receiver's RTP handler)
        if item is None:  # the receiver stops: let its decoder thread end the track
            self._ended.set()
            return
        codec, encoded = item
        if codec.name.lower() != "opus":
            return
        queue = self._receiver.track._queue
        for frame in self.decoder.decode(encoded):
            queue.put_nowait(frame)

    def get(self, *args: Any, **kwargs: Any) -> None:  # aiortc's decoder thread
        self._ended.wait()
        return None


_ATTR = "_RTCRtpReceiver__decoder_queue"


def install_inline_decoder(receiver: Any) -> InlineDecodeQueue | None:
    """Decode this audio receiver's Opus in-line at 16 kHz mono. Only before it started
    receiving (its decoder thread takes the queue when it starts); None if not changed."""
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "audio" or not hasattr(receiver, _ATTR):
        return None
    current = getattr(receiver, _ATTR)
    if isinstance(current, InlineDecodeQueue):
        return None
    if getattr(receiver, "_RTCRtpReceiver__started", True):
        return None
    lib = libopus()
    if lib is None:
        return None
    queue = InlineDecodeQueue(receiver, lib)
    setattr(receiver, _ATTR, queue)
    return queue


def inline_decoder(receiver: Any) -> OpusDecoder16k | None:
    queue = getattr(receiver, _ATTR, None)
    return queue.decoder if isinstance(queue, InlineDecodeQueue) else None
