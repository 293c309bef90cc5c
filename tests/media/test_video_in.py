"""bot.media.video_in: which caller frames become JPEGs for the model, and how big;
bot.live.outbound's video: only the newest frame is kept while the session moves."""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from PIL import Image

from bot.live.outbound import Outbound
from bot.media.video_in import FrameSampler, VideoIn, prepare, scaled_size
from bot.video_settings import MAX_SIDE, MediaResolution


def frame(rgb: tuple[int, int, int], width: int = 1280, height: int = 720) -> av.VideoFrame:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, :] = rgb
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_sampler_lets_through_at_most_fps_frames_a_second():
    clock = Clock()
    sampler = FrameSampler(1.0, clock)
    due = []
    for _ in range(90):  # 3 s of a 30 fps camera
        due.append(sampler.due())
        clock.now += 1 / 30
    assert sum(due) == 3
    half = FrameSampler(0.5, clock)
    assert [half.due() for _ in range(3)] == [True, False, False]


def test_frames_are_scaled_to_the_media_resolution_keeping_their_shape():
    assert scaled_size(1280, 720, MAX_SIDE[MediaResolution.LOW]) == (384, 216)
    assert scaled_size(1280, 720, MAX_SIDE[MediaResolution.MEDIUM]) == (768, 432)
    assert scaled_size(720, 1280, MAX_SIDE[MediaResolution.MEDIUM]) == (432, 768)
    assert scaled_size(640, 480, MAX_SIDE[MediaResolution.HIGH]) == (640, 480)  # not enlarged
    red = prepare(frame((200, 20, 20)), None, MAX_SIDE[MediaResolution.LOW])
    assert red.jpeg is not None
    with Image.open(io.BytesIO(red.jpeg)) as image:
        assert image.format == "JPEG" and image.size == (384, 216)
        r, g, b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
        assert r > 150 and g < 60 and b < 60


def test_a_frame_like_the_last_one_sent_is_skipped_and_a_changed_one_is_not():
    first = prepare(frame((50, 120, 200)), None, 768)
    same = prepare(frame((51, 120, 199)), first.thumb, 768)  # encoder noise, nothing else
    changed = prepare(frame((200, 120, 50)), first.thumb, 768)
    assert first.jpeg and same.jpeg is None and changed.jpeg
    forced = prepare(frame((51, 120, 199)), first.thumb, 768, force=True)
    assert forced.jpeg  # the periodic refresh sends it anyway


class SlowSend:
    """A Live socket that takes a while: counts how many frames were in flight at once."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.busy = 0
        self.most = 0
        self.release = asyncio.Event()

    async def __call__(self, jpeg: bytes) -> None:
        self.busy += 1
        self.most = max(self.most, self.busy)
        await self.release.wait()
        self.sent.append(jpeg)
        self.busy -= 1


async def test_one_frame_at_a_time_encoded_off_the_event_loop(monkeypatch):
    import bot.media.video_in as video_in

    threads: list[str] = []
    original = video_in.prepare

    def recording_prepare(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args)

    monkeypatch.setattr(video_in, "prepare", recording_prepare)
    clock = Clock()
    send = SlowSend()
    reader = VideoIn(None, send, fps=1.0, max_side=768, clock=clock)
    first = asyncio.ensure_future(reader.take(frame((250, 0, 0))))
    await asyncio.sleep(0.2)
    assert reader.in_flight == 1
    # While the first is still being sent, another frame is not taken up.
    await reader.take(frame((0, 250, 0)))
    send.release.set()
    await first
    await reader.take(frame((0, 0, 250)))
    assert send.most == 1 and len(send.sent) == 2
    assert threads and all(t.startswith("video-jpeg") for t in threads)


async def test_an_oversized_frame_is_dropped_not_encoded():
    send = SlowSend()
    send.release.set()
    reader = VideoIn(None, send, fps=1.0, max_side=768)
    await reader.take(frame((1, 2, 3), width=7680, height=4320))
    assert send.sent == [] and reader.skipped == 1


@dataclass
class FakeSession:
    sent: list[bytes] = field(default_factory=list)

    async def send_realtime_input(self, *, video: Any = None, **_: Any) -> None:
        assert video.mime_type == "image/jpeg"
        self.sent.append(video.data)


@dataclass
class FakeSocket:
    session: FakeSession | None = None
    realtime_ready: bool = True
    closing: bool = False


async def test_while_the_session_moves_only_the_newest_frame_is_kept():
    socket = FakeSocket(FakeSession())
    errors: list[Exception] = []

    async def on_error(e: Exception) -> None:
        errors.append(e)

    out = Outbound(socket, hold_seconds=1.0, on_send_error=on_error)
    await out.video(b"now")
    assert socket.session and socket.session.sent == [b"now"]
    out.hold()
    for jpeg in (b"old", b"older", b"newest"):
        await out.video(jpeg)
    socket.session = FakeSession()  # the new socket
    await out.flush()
    assert socket.session.sent == [b"newest"] and not errors
    await out.flush()
    assert socket.session.sent == [b"newest"]  # never replayed
