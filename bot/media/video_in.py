"""The caller's camera or screen, as JPEG frames into the call's Live session.

Why our own reader and not Pipecat's `TransportParams(video_in_enabled=True)`:
Pipecat's SmallWebRTC input (`read_video_frame`) turns *every* decoded frame into a
full-size RGB array on the event loop (`to_ndarray` + OpenCV) before its sampler
throws most of them away, and `GeminiLiveLLMService._send_user_video` then encodes
each kept frame as a full-size JPEG on the event loop too, sends it outside our
`Outbound` (lost, not held, while the session moves) and never skips a frame that
shows the same thing as the last. At 30 fps of 720p that is ~80 MB/s of RGB copies on
the loop every call's audio shares. Here:

* frames are taken from the track as aiortc decodes them (its decoder thread), and
  all but the due ones are dropped at once, untouched (`FrameSampler`: at most
  `LIVE_VIDEO_FPS`);
* a due frame goes to a worker thread (`prepare`): a 32x32 grayscale thumbnail is
  compared with the last frame sent (mean absolute difference below
  `SAME_THRESHOLD`: skipped), else it is scaled to the `media_resolution`'s longest
  side and JPEG-encoded; one frame at a time, never more in flight;
* the JPEG goes to `Outbound.video` (bot/live/outbound.py), which sends it on the
  socket or keeps only the newest while the session moves.

Pipecat's transport disables the video receiver at connect (`SmallWebRTCTrack`
sets `receiver._enabled = False`: RTP is dropped before decoding); `VideoIn` enables
it only where video is allowed, so an audio-only or video-off call decodes nothing.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError
from loguru import logger

from bot.video_settings import VideoSettings

THUMB = 32  # side of the grayscale thumbnail compared between frames
SAME_THRESHOLD = 2.0  # mean absolute difference (0..255) under which a frame is "the same"
JPEG_QUALITY = 80
MAX_PIXELS = 3840 * 2160  # a larger frame is dropped (4K is the most a screen share needs)
# Still send a frame this often when nothing changes, so the model's picture is current.
REFRESH_SECONDS = 10.0

SendJpeg = Callable[[bytes], Awaitable[None]]

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="video-jpeg")


class FrameSampler:
    """Frames due at most `fps` a second: one interval after the last frame taken."""

    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / fps
        self._clock = clock
        self._next = 0.0

    def due(self) -> bool:
        now = self._clock()
        if now < self._next - 1e-6:
            return False
        self._next = now + self.interval
        return True


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the worker made of one due frame."""

    thumb: np.ndarray
    jpeg: bytes | None  # None: the same as the last frame sent, skipped
    size: tuple[int, int]  # of the JPEG (or what it would have been)


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Fit (width, height) within max_side, aspect kept, never enlarged; even sides."""
    scale = min(1.0, max_side / max(width, height, 1))
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return w - w % 2, h - h % 2


def thumbnail(frame: Any) -> np.ndarray:
    small = frame.reformat(width=THUMB, height=THUMB, format="gray")
    return small.to_ndarray().astype(np.int16)


def prepare(frame: Any, last: np.ndarray | None, max_side: int, force: bool = False) -> Prepared:
    """In a worker thread: skip the frame if it is the same as `last`, else a JPEG."""
    thumb = thumbnail(frame)
    size = scaled_size(frame.width, frame.height, max_side)
    if not force and last is not None and float(np.abs(thumb - last).mean()) < SAME_THRESHOLD:
        return Prepared(thumb, None, size)
    image = frame.reformat(width=size[0], height=size[1], format="rgb24").to_image()
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return Prepared(thumb, out.getvalue(), size)


def video_receiver(connection: Any) -> Any | None:
    """The call's current video receiver (the peer connection may be replaced)."""
    for transceiver in connection.pc.getTransceivers():
        if transceiver.kind == "video" and transceiver.receiver is not None:
            return transceiver.receiver
    return None


class VideoIn:
    """One call's caller video: read, sample, skip, scale, encode, send."""

    def __init__(
        self,
        connection: Any,
        send: SendJpeg,
        *,
        fps: float,
        max_side: int,
        log: Any = logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connection = connection
        self._send = send
        self._sampler = FrameSampler(fps, clock)
        self._max_side = max_side
        self._log = log
        self._clock = clock
        self._last: np.ndarray | None = None
        self._last_sent = 0.0
        self.in_flight = 0
        self.sent = 0
        self.skipped = 0
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        self._log.info(f"caller video: {self.sent} frames sent, {self.skipped} unchanged skipped")

    async def run(self) -> None:
        track = None
        while True:
            receiver = video_receiver(self._connection)
            if receiver is None:
                await asyncio.sleep(0.5)
                continue
            receiver._enabled = True  # Pipecat disables it at connect; here video is allowed
            if receiver.track is not track:
                track = receiver.track
                self._log.info("caller video track: reading")
            try:
                frame = await asyncio.wait_for(track.recv(), timeout=1.0)
            except TimeoutError:
                continue  # not sending (camera off, recvonly): look again
            except MediaStreamError:
                await asyncio.sleep(0.5)  # ended: a renegotiation may bring a new one
                continue
            if self.in_flight or not self._sampler.due():
                continue  # dropped untouched: aiortc's queue stays empty
            await self.take(frame)

    async def take(self, frame: Any) -> None:
        """One due frame: prepared in the worker, then sent (one at a time)."""
        if self.in_flight:  # the last one is still being encoded or sent: this one waits out
            return
        if frame.width * frame.height > MAX_PIXELS:
            self.skipped += 1
            self._log.warning(
                f"caller video frame dropped: {frame.width}x{frame.height} is too big"
            )
            return
        self.in_flight += 1
        try:
            force = self._clock() - self._last_sent >= REFRESH_SECONDS
            loop = asyncio.get_running_loop()
            prepared = await loop.run_in_executor(
                _executor, prepare, frame, self._last, self._max_side, force
            )
            if prepared.jpeg is None:
                self.skipped += 1
                return
            self._last, self._last_sent = prepared.thumb, self._clock()
            if self.sent == 0:
                w, h = prepared.size
                self._log.info(f"caller video: first frame {w}x{h}, {len(prepared.jpeg)} bytes")
            self.sent += 1
            await self._send(prepared.jpeg)
        except Exception as e:  # a frame PyAV cannot convert: dropped, the call goes on
            self._log.warning(f"caller video frame dropped: {type(e).__name__}: {e}")
        finally:
            self.in_flight -= 1


def caller_video(
    connection: Any, send: SendJpeg, video: VideoSettings | None, call_id: str
) -> VideoIn | None:
    """The call's video reader, if the room allows video (started once connected)."""
    if video is None or not video.sources:
        return None
    return VideoIn(
        connection, send, fps=video.fps, max_side=video.max_side, log=logger.bind(call_id=call_id)
    )
