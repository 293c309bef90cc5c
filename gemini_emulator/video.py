"""Realtime video input: the caller's frames as the session received them.

The Live API takes video as `realtimeInput.video` (a `Blob`, JPEG frames at about
one a second; `mediaChunks` is the deprecated older form, of which only the first
blob counts). The model sees each frame; it does not answer a frame by itself, only
the caller's turns. The emulator records every frame (`LiveSession.video_frames`:
when, how big, its size in pixels and mean colour) so a test can check what reached
the session, and a script can answer about the last frame (`colour_name`,
`describe_video`) to prove the frames were the caller's.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import protocol as P

if TYPE_CHECKING:
    from .session import LiveSession

# Plain colour words and their RGB, for "what colour do you see".
COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 30, 30),
    "green": (30, 180, 30),
    "blue": (30, 30, 220),
    "yellow": (230, 220, 30),
    "orange": (240, 140, 20),
    "purple": (140, 40, 170),
    "cyan": (30, 200, 220),
}


@dataclass(frozen=True)
class VideoFrame:
    """One realtime video frame as the session received it."""

    connection: int
    mime_type: str
    size: int  # bytes of image data
    t: float = field(default_factory=time.monotonic)
    width: int | None = None  # None: not an image the emulator could read
    height: int | None = None
    mean_rgb: tuple[int, int, int] | None = None


def video_frame(connection: int, blob: dict[str, Any]) -> VideoFrame:
    """Read one `video` blob (a frame that does not decode is still recorded)."""
    mime = str(blob.get("mimeType") or "")
    data = P.b64decode(str(blob.get("data") or ""))
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
            small = rgb.resize((1, 1), Image.Resampling.BOX)
            r, g, b = small.getpixel((0, 0))  # type: ignore[misc]
            return VideoFrame(
                connection,
                mime,
                len(data),
                width=rgb.width,
                height=rgb.height,
                mean_rgb=(int(r), int(g), int(b)),
            )
    except Exception:
        return VideoFrame(connection, mime, len(data))


def colour_name(rgb: tuple[int, int, int]) -> str:
    """The nearest plain colour word."""
    return min(
        COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(COLOURS[n], rgb, strict=True))
    )


def last_frame(s: LiveSession) -> VideoFrame | None:
    return s.video_frames[-1] if s.video_frames else None


async def describe_video(s: LiveSession) -> None:
    """A script: each caller turn is answered with the colour of the last frame seen."""
    while True:
        await s.next_utterance()
        frame = last_frame(s)
        if frame is None or frame.mean_rgb is None:
            await s.say("I cannot see anything.")
        else:
            await s.say(f"I see {colour_name(frame.mean_rgb)}.")
