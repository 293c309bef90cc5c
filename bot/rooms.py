"""Rooms: where a call happens, each with its own persona, voice, lights and calendar.

Rooms live in `<data dir>/rooms.json` (written atomically), edited with
`livebot room create/list/delete`. A call in a room gets the room's persona
added to the system instruction, its voice, its default lights room and its
calendar; a room also caps how many callers it holds at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from bot.links import ROOM_NAME
from tools.files import write_atomically

DEFAULT_ROOM = "lobby"


class RoomError(ValueError):
    """A room name or setting that cannot be used."""


@dataclass(frozen=True)
class Room:
    name: str
    title: str = ""
    persona: str | None = None  # added to the system instruction
    voice: str | None = None  # a Gemini prebuilt voice; None = the bot's default
    lights_room: str | None = None  # the lights room this room controls by default
    calendar: str | None = None  # a calendar name (CalDAV) for this room's calendar tools
    max_callers: int = 4

    def __post_init__(self) -> None:
        if not ROOM_NAME.fullmatch(self.name):
            raise RoomError(
                f"room name {self.name!r} is not allowed: use 1-40 lowercase letters, "
                "digits and dashes, starting with a letter or digit"
            )
        if not 1 <= self.max_callers <= 50:
            raise RoomError(f"max callers {self.max_callers} is out of range: use 1 to 50")

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("-", " ").title()


class RoomStore:
    """The rooms file. Small and rarely written, so it is re-read on each lookup."""

    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict[str, Room]:
        if not self.path.is_file():
            return {}
        raw = json.loads(self.path.read_text())
        known = {f.name for f in fields(Room)}
        return {
            name: Room(**{k: v for k, v in data.items() if k in known}, name=name)
            for name, data in raw.get("rooms", {}).items()
        }

    def _save(self, rooms: dict[str, Room]) -> None:
        data = {
            "rooms": {
                n: {k: v for k, v in asdict(r).items() if k != "name"}
                for n, r in sorted(rooms.items())
            }
        }
        write_atomically(self.path, json.dumps(data, indent=2).encode())

    def get(self, name: str) -> Room | None:
        return self._load().get(name)

    def all(self) -> list[Room]:
        return list(self._load().values())

    def put(self, room: Room) -> Room:
        rooms = self._load()
        rooms[room.name] = room
        self._save(rooms)
        return room

    def update(self, name: str, **changes: object) -> Room:
        """Create the room or change the given settings (None values are left as they are)."""
        current = self.get(name) or Room(name=name)
        return self.put(replace(current, **{k: v for k, v in changes.items() if v is not None}))

    def delete(self, name: str) -> bool:
        rooms = self._load()
        if rooms.pop(name, None) is None:
            return False
        self._save(rooms)
        return True

    def ensure_default(self) -> Room:
        return self.get(DEFAULT_ROOM) or self.put(Room(name=DEFAULT_ROOM, title="Lobby"))
