"""What the lights package adds to a room's calls: its system-instruction line, its page
panel, and its names (lights, rooms) as a transcription hint.

A room may say which lights room it is in (its `room` setting, `room create
--lights-room`): the model is told that "the lights" means that room's, and the
caller's page shows that room's lights (all of them when the room has none), as
they really are, on every change the backend reports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from tools.lights.backend import LightsBackend
from tools.room_options import RoomOption
from tools.toolset import PagePanel, RoomSettings

ROOM = "room"  # the room setting: the lights room a room controls by default

ROOM_OPTIONS = [
    RoomOption(
        ROOM,
        "--lights-room",
        "the lights room this room controls by default",
        label="lights",
        legacy_key="lights_room",
    )
]


def instructions(settings: RoomSettings) -> str | None:
    room = settings.get(ROOM)
    if not room:
        return None
    return (
        f"The caller is in the {room}: when they say 'the lights' "
        f"without naming a room, they mean the {room} lights."
    )


def vocabulary_for(backend: LightsBackend) -> Callable[[RoomSettings], Awaitable[list[str]]]:
    """The lights' and rooms' names (the room's own first): what callers say to the bot."""

    async def words(settings: RoomSettings) -> list[str]:
        room = settings.get(ROOM)
        lights = sorted(await backend.lights(), key=lambda x: x.room != room)
        return list(dict.fromkeys(w for x in lights for w in (x.room, x.name)))

    return words


def page_panel(backend: LightsBackend, room: str | None) -> PagePanel:
    """The `{"type": "lights", ...}` message: the room's lights (or all), on each change."""

    async def snapshot() -> dict[str, Any] | None:
        try:
            lights = await backend.lights()
        except Exception as e:
            logger.warning(f"lights state unavailable for the page: {e}")
            return None
        if room:
            lights = [x for x in lights if x.room == room] or lights
        return {
            "type": "lights",
            "room": room,
            "lights": [
                {
                    "name": x.name,
                    "room": x.room,
                    "on": x.on,
                    "brightness": x.brightness,
                    "color_temp_kelvin": x.color_temp_kelvin,
                    "reachable": x.reachable,
                }
                for x in lights
            ],
        }

    def subscribe(changed: Callable[[], None]) -> Callable[[], None]:
        return backend.subscribe(lambda _light: changed())

    return PagePanel(snapshot, subscribe)


def panel_for(backend: LightsBackend) -> Callable[[RoomSettings], PagePanel]:
    return lambda settings: page_panel(backend, settings.get(ROOM) or None)
