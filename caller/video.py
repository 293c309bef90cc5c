"""A camera for the headless caller: a solid colour the test can change mid-call.

Why: a test must prove that the frames reaching the Live session are this caller's
(and that a change on camera reaches it); a plain colour survives VP8, scaling and
JPEG, so the emulator can name it back (gemini_emulator/video.py).
"""

from __future__ import annotations

import av
import numpy as np
from aiortc import VideoStreamTrack


class ColourCamera(VideoStreamTrack):
    """A video track of one colour (RGB), `width` x `height`, at aiortc's 30 fps."""

    def __init__(self, rgb: tuple[int, int, int], width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.rgb = rgb
        self.frames = 0
        self._image: tuple[tuple[int, int, int], np.ndarray] | None = None

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        if self._image is None or self._image[0] != self.rgb:  # made once per colour
            image = np.empty((self.height, self.width, 3), dtype=np.uint8)
            image[:, :] = self.rgb
            self._image = (self.rgb, image)
        frame = av.VideoFrame.from_ndarray(self._image[1], format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame
