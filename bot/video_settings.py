"""What the caller may show the bot (`LIVE_VIDEO`), how often and at what resolution.

Its own module because video is one feature with its own rules: which sources the
operator allows (`LIVE_VIDEO`: off, camera, screen, both), a frame-rate ceiling
(`LIVE_VIDEO_FPS`; Google documents about one frame a second for Live), the
`media_resolution` the frames are scaled to (`LIVE_MEDIA_RESOLUTION`: low, medium,
high; the token cost per frame), and a room's own switch (`toolsets.video.sources`
in the room entry), which can only narrow what the operator allows.

`video_settings(settings)` reads them from the settings' environment, as the tool
packages read theirs (`bot.settings` is at its size limit and being split; the
`Settings.video` field belongs there once it is). It is called once at start, so a
wrong value stops the bot with the same message style as every other setting.

Which models take video, and which `media_resolution` values: the model table
(`bot.live.models`, `Capabilities.video_input` and `.media_resolutions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.live.models import FAMILIES, Backend, capabilities
from tools.env import EnvReader

if TYPE_CHECKING:
    from bot.rooms import Room
    from bot.settings import Settings


class MediaResolution(StrEnum):
    """Gemini's `media_resolution` (LOW / MEDIUM / HIGH)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# The longest side a frame is scaled to for each `media_resolution` (about 64 tokens
# a frame at LOW, 256 at MEDIUM and HIGH, which reframes zoomed in): the model takes
# no more detail than that, so a bigger frame would cost only bandwidth and encoding.
MAX_SIDE = {MediaResolution.LOW: 384, MediaResolution.MEDIUM: 768, MediaResolution.HIGH: 1536}

SOURCES = {"off": frozenset(), "camera": frozenset({"camera"}), "screen": frozenset({"screen"})}
SOURCES["both"] = SOURCES["camera"] | SOURCES["screen"]

ROOM_KEY = "video"  # the room's `toolsets.video.sources`


@dataclass(frozen=True)
class VideoSettings:
    """The operator's video settings (`LIVE_VIDEO*`, `LIVE_MEDIA_RESOLUTION`)."""

    sources: frozenset[str] = frozenset()  # "camera", "screen"; empty: video off
    fps: float = 1.0
    resolution: MediaResolution = MediaResolution.MEDIUM

    @property
    def max_side(self) -> int:
        return MAX_SIDE[self.resolution]


def model_takes_video(model: str, backend: Backend = Backend.DEVELOPER) -> bool:
    return capabilities(model, backend).video_input


def video_families() -> list[str]:
    """The model families (the table's) that take video, for messages."""
    return list(dict.fromkeys(dev.family for _, dev, _ in FAMILIES if dev.video_input))


def _sources(raw: str | None, name: str) -> tuple[frozenset[str] | None, str | None]:
    value = (raw or "off").strip().lower()
    if value in SOURCES:
        return SOURCES[value], None
    return None, f"{name}={raw!r}: set it to off, camera, screen or both."


def read_video_settings(
    r: EnvReader, model: str, compression: bool, backend: Backend = Backend.DEVELOPER
) -> VideoSettings:
    """The video settings; problems go to `r.problems` with what to set instead."""
    sources, problem = _sources(r.str("LIVE_VIDEO"), "LIVE_VIDEO")
    if problem:
        r.problems.append(problem)
    fps = r.float("LIVE_VIDEO_FPS", 1.0, lo=0.05, hi=1.0)
    resolution = r.choice("LIVE_MEDIA_RESOLUTION", MediaResolution, MediaResolution.MEDIUM)
    caps = capabilities(model, backend)
    if sources and not caps.video_input:
        r.problems.append(
            f"LIVE_VIDEO={r.str('LIVE_VIDEO')}: the model {model} does not take video input; "
            f"set LIVE_VIDEO=off or LIVE_MODEL to a {' / '.join(video_families())} model."
        )
    elif sources and resolution and resolution.value not in caps.media_resolutions:
        r.problems.append(
            f"LIVE_MEDIA_RESOLUTION={resolution.value}: {model} takes "
            f"{', '.join(caps.media_resolutions)}; set one of those."
        )
    if sources and not compression:
        r.problems.append(
            "LIVE_VIDEO is on with LIVE_CONTEXT_COMPRESSION=false: an audio+video session "
            "ends after 2 minutes without compression. Turn compression on or video off."
        )
    return VideoSettings(
        sources=sources or frozenset(),
        fps=fps,
        resolution=resolution or MediaResolution.MEDIUM,
    )


def room_sources(video: VideoSettings, room_settings: Mapping[str, str] | None) -> frozenset[str]:
    """What a room's callers may show: the operator's sources, narrowed by the room's own
    `toolsets.video.sources` (a bad value there turns video off in that room)."""
    raw = (room_settings or {}).get("sources")
    if raw is None:
        return video.sources
    narrowed, _problem = _sources(raw, "sources")
    return video.sources & (narrowed or frozenset())


def video_settings(settings: Settings) -> VideoSettings:
    """The operator's video settings; `SettingsError` saying what to fix."""
    from bot.settings import SettingsError

    r = EnvReader(settings.env)
    live = settings.live
    video = read_video_settings(r, live.model, live.context_compression, live.backend)
    if r.problems:
        raise SettingsError(r.problems)
    return video


def room_video(settings: Settings, room: Room) -> frozenset[str]:
    """What this room's callers may show the bot (empty: video off)."""
    return room_sources(video_settings(settings), room.settings_for(ROOM_KEY))


def call_video(settings: Settings, room: Room) -> VideoSettings | None:
    """The video settings of a call in this room, or None when the room has no video."""
    sources = room_video(settings, room)
    return replace(video_settings(settings), sources=sources) if sources else None
