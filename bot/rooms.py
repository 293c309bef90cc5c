"""Rooms: where a call happens, each with its own persona, voice and toolset settings.

Rooms live in `<data dir>/rooms.json`, edited with `livebot room
create/list/delete/revoke`. A call in a room gets the room's persona added to the
system instruction and its voice; a room also caps how many callers it holds at
once. Its `toolsets` settings (`{"<toolset>": {"<key>": "<value>"}}`, e.g. its
default lights room, its own calendar) are opaque here: each tool package declares
the ones it takes (`tools.room_options`: their `room create` flags, the checks of
their values, their keys in files written before rooms carried them) and
interprets them in its calls.

The file is shared by every process on the data directory (the CLI, two bots):

- Reads are lenient per entry: a room entry that is not a valid room (an
  upper-case name, a list instead of an object, `"max_callers": "4"`) is skipped
  and logged with the file and the entry; the other rooms keep working. A file
  that is not a JSON object at all is an error naming the file, and it is never
  overwritten.
- Writes are read-merge-write under the file's cross-process lock
  (`tools.files.locked`): the file is re-read inside the lock, only the one
  entry is changed (other entries, even skipped ones, are kept as they are) and
  the file is written atomically.

Links are revocable here (see `bot/links.py`): each room has a random
`generation`, made when the room is created, that its links carry; deleting the
room, or `room revoke NAME --all`, ends them for good. Single links are revoked
by id (the token's nonce) in the file's `revoked` map, kept until they expire.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from loguru import logger

from bot.links import MAX_LINK_SECONDS, ROOM_NAME, Claims, TokenError
from tools.files import DataFileError, locked, write_atomically
from tools.room_options import problem, room_options

DEFAULT_ROOM = "lobby"
ToolsetSettings = Mapping[str, Mapping[str, str]]  # toolset name -> its settings here


class RoomError(ValueError):
    """A room name or setting that cannot be used."""


class RoomFileError(DataFileError):
    """The rooms file cannot be read (or would have to be overwritten to be written)."""


def new_generation() -> str:
    return secrets.token_urlsafe(6)


@dataclass(frozen=True)
class Room:
    name: str
    title: str = ""
    persona: str | None = None  # added to the system instruction
    voice: str | None = None  # a Gemini prebuilt voice; None = the bot's default
    # Each toolset's settings in this room, for the toolset to interpret.
    toolsets: ToolsetSettings = field(default_factory=dict)
    max_callers: int = 4
    generation: str = ""  # what its links carry; a new room gets a new one

    def __post_init__(self) -> None:
        if not ROOM_NAME.fullmatch(self.name):
            raise RoomError(
                f"room name {self.name!r} is not allowed: use 1-40 lowercase letters, "
                "digits and dashes, starting with a letter or digit"
            )
        if not 1 <= self.max_callers <= 50:
            raise RoomError(f"max callers {self.max_callers} is out of range: use 1 to 50")
        if not isinstance(self.toolsets, Mapping):
            raise RoomError(f"toolsets is {self.toolsets!r}: it must be an object")
        for toolset, settings in self.toolsets.items():
            if not isinstance(settings, Mapping):
                raise RoomError(f"toolsets.{toolset} is {settings!r}: it must be an object")
            for key, value in settings.items():
                if not isinstance(value, str):
                    raise RoomError(f"toolsets.{toolset}.{key} is {value!r}: it must be text")
                wrong = problem(toolset, key, value)
                if wrong is not None:
                    raise RoomError(wrong)
        # A copy of plain dicts: the room stays what it was made with.
        object.__setattr__(self, "toolsets", {k: dict(v) for k, v in self.toolsets.items()})

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("-", " ").title()

    def settings_for(self, toolset: str) -> Mapping[str, str]:
        """This room's settings for `toolset` (empty when it has none)."""
        return self.toolsets.get(toolset, {})


_OPTIONAL_TEXT = ("persona", "voice")
_KNOWN = {f.name for f in fields(Room)} - {"name", "toolsets"}


def _toolsets_of(entry: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The entry's toolset settings: its `toolsets` object, over the top-level keys that
    files of old carried (each package names its own, e.g. `lights_room`)."""
    found: dict[str, dict[str, str]] = {}
    for package, options in room_options().items():
        for o in options:
            value = entry.get(o.legacy_key) if o.legacy_key else None
            if value is None:
                continue
            if not isinstance(value, str):
                raise RoomError(f"{o.legacy_key} is {value!r}: it must be text or null")
            found.setdefault(package, {})[o.key] = value
    given = entry.get("toolsets", {})
    if not isinstance(given, dict):
        raise RoomError(f"toolsets is {json.dumps(given)[:60]}: it must be an object")
    for package, settings in given.items():
        if not isinstance(settings, dict):
            raise RoomError(f"toolsets.{package} is {json.dumps(settings)[:60]}: not an object")
        found[package] = {**found.get(package, {}), **settings}
    return found


def room_from_entry(name: object, entry: object) -> Room:
    """One `rooms` entry of the file as a `Room`; `RoomError` saying what is wrong."""
    if not isinstance(name, str):
        raise RoomError(f"room name {name!r} is not text")
    if not isinstance(entry, dict):
        raise RoomError(f"is {type(entry).__name__} {json.dumps(entry)[:60]}, not an object")
    for key in ("title", "generation"):
        if key in entry and not isinstance(entry[key], str):
            raise RoomError(f"{key} is {entry[key]!r}: it must be text")
    for key in _OPTIONAL_TEXT:
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise RoomError(f"{key} is {entry[key]!r}: it must be text or null")
    max_callers = entry.get("max_callers", 4)
    if not isinstance(max_callers, int) or isinstance(max_callers, bool):
        raise RoomError(f"max_callers is {max_callers!r}: it must be a whole number, 1 to 50")
    known = {k: v for k, v in entry.items() if k in _KNOWN}
    return Room(name=name, toolsets=_toolsets_of(entry), **known)


def _entry_of(room: Room) -> dict[str, Any]:
    entry = {f.name: getattr(room, f.name) for f in fields(Room) if f.name != "name"}
    entry["toolsets"] = {k: dict(v) for k, v in room.toolsets.items()}
    return entry


def merged(room: Room, toolsets: ToolsetSettings) -> dict[str, dict[str, str]]:
    """The room's toolset settings with `toolsets` set over them, key by key."""
    result = {k: dict(v) for k, v in room.toolsets.items()}
    for package, settings in toolsets.items():
        result[package] = {**result.get(package, {}), **settings}
    return result


class RoomStore:
    """The rooms file. Small and rarely written, so it is re-read on each lookup."""

    def __init__(self, path: Path):
        self.path = path
        self._logged: set[str] = set()  # problems already logged (each once per process)

    # ----------------------------------------------------------------- reading

    def _raw(self) -> dict[str, Any]:
        """The file's JSON object (`{"rooms": {...}, "revoked": {...}}`); `RoomFileError`."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {"rooms": {}}
        except (OSError, UnicodeDecodeError) as e:
            raise RoomFileError(f"cannot read the rooms file {self.path}: {e}") from e
        if not text.strip():
            return {"rooms": {}}
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise RoomFileError(
                f"the rooms file {self.path} is not valid JSON ({e}): fix or delete it"
            ) from e
        if not isinstance(raw, dict) or not isinstance(raw.get("rooms", {}), dict):
            raise RoomFileError(
                f'the rooms file {self.path} must be an object with a "rooms" object, '
                f"not {type(raw).__name__}: fix or delete it"
            )
        if not isinstance(raw.get("revoked", {}), dict):
            raise RoomFileError(
                f'the rooms file {self.path}: "revoked" must be an object: fix or delete it'
            )
        raw.setdefault("rooms", {})
        return raw

    def _once(self, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            logger.error(message)

    def _rooms_of(self, raw: dict[str, Any]) -> dict[str, Room]:
        rooms = {}
        for name, entry in raw["rooms"].items():
            try:
                rooms[name] = room_from_entry(name, entry)
            except (RoomError, TypeError) as e:
                self._once(f"rooms file {self.path}: skipped the room entry {name!r}: {e}")
        return rooms

    def load(self) -> dict[str, Room]:
        """Every valid room; bad entries skipped (and logged); `RoomFileError` if the file
        as a whole cannot be read."""
        return self._rooms_of(self._raw())

    def check(self) -> None:
        """At start-up: `RoomFileError` (one line naming the file) if the file is unreadable;
        bad entries are logged."""
        self.load()

    def _lenient(self) -> dict[str, Any]:
        """The file for a lookup during calls: an unreadable file is logged and read as no
        rooms (the pages say "no such room"), never a server error."""
        try:
            return self._raw()
        except RoomFileError as e:
            self._once(str(e))
            return {"rooms": {}}

    def get(self, name: str) -> Room | None:
        return self._rooms_of(self._lenient()).get(name)

    def all(self) -> list[Room]:
        return list(self.load().values())

    def room_for(self, claims: Claims) -> Room:
        """The room a verified link or ticket is for; `TokenError` if there is no such
        room, the room was deleted since (a new generation), or the link was revoked."""
        raw = self._lenient()
        room = self._rooms_of(raw).get(claims.room)
        if room is None:
            raise TokenError("unknown_room", f"There is no room called '{claims.room}' here.")
        if claims.generation != room.generation:
            raise TokenError(
                "revoked",
                "This link no longer works: its room was deleted or its links were revoked.",
            )
        if claims.nonce in raw.get("revoked", {}):
            raise TokenError("revoked", "This link was revoked: ask for a new one.")
        return room

    # ----------------------------------------------------------------- writing

    def _change(self, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Re-read the file under its lock, let `change` edit the raw data, write it back
        atomically (unless `change` returns `None`), and return what `change` returned."""
        with locked(self.path):
            raw = self._raw()  # raises for an unreadable file: it is never overwritten
            result = change(raw)
            if result is not None:
                now = time.time()
                revoked = raw.get("revoked", {})
                raw["revoked"] = {
                    k: v for k, v in revoked.items() if not isinstance(v, int) or v > now
                }
                if not raw["revoked"]:
                    raw.pop("revoked")
                raw["rooms"] = dict(sorted(raw["rooms"].items()))
                try:
                    write_atomically(self.path, json.dumps(raw, indent=2).encode())
                except OSError as e:
                    raise RoomFileError(
                        f"cannot write the rooms file {self.path}: {e.strerror or e}; "
                        "nothing was changed"
                    ) from e
            return result

    def put(self, room: Room) -> Room:
        """Store `room` exactly as given (its generation too)."""

        def change(raw: dict[str, Any]) -> Room:
            raw["rooms"][room.name] = _entry_of(room)
            return room

        return self._change(change)

    def update(self, name: str, **changes: object) -> Room:
        """Create the room (with a new generation) or change the given settings (None
        values are left as they are; `toolsets` settings are set key by key)."""
        wanted = {k: v for k, v in changes.items() if v is not None}
        Room(name=name, **wanted)  # type: ignore[arg-type]  # refuse bad values before locking

        def change(raw: dict[str, Any]) -> Room:
            try:
                current = room_from_entry(name, raw["rooms"][name])
            except (KeyError, RoomError):
                if name in raw["rooms"]:
                    logger.warning(f"rooms file {self.path}: replacing the bad entry {name!r}")
                current = Room(name=name, generation=new_generation())
            if "toolsets" in wanted:
                wanted["toolsets"] = merged(current, wanted["toolsets"])  # type: ignore[arg-type]
            room = replace(current, **wanted)  # type: ignore[arg-type]
            raw["rooms"][name] = _entry_of(room)
            return room

        return self._change(change)

    def delete(self, name: str) -> bool:
        """Remove the room; its links never work again (a room of that name made later
        gets a new generation)."""

        def change(raw: dict[str, Any]) -> bool | None:
            return True if raw["rooms"].pop(name, None) is not None else None

        return bool(self._change(change))

    def revoke_all(self, name: str) -> Room | None:
        """End every link of the room (it gets a new generation); None if no such room."""

        def change(raw: dict[str, Any]) -> Room | None:
            try:
                current = room_from_entry(name, raw["rooms"][name])
            except (KeyError, RoomError):
                return None
            room = replace(current, generation=new_generation())
            raw["rooms"][name] = _entry_of(room)
            return room

        return self._change(change)

    def revoke(self, link_id: str, expires_at: int | None = None) -> None:
        """End one link (by its id); kept on the list until the link would have expired."""
        until = int(expires_at if expires_at is not None else time.time() + MAX_LINK_SECONDS)

        def change(raw: dict[str, Any]) -> bool:
            raw.setdefault("revoked", {})[link_id] = until
            return True

        self._change(change)

    def ensure_default(self) -> Room:
        """The lobby, created if there is none. An unreadable file (or a bad lobby
        entry) is logged and left alone: the lobby then exists only in memory."""

        def change(raw: dict[str, Any]) -> Room | None:
            if DEFAULT_ROOM in raw["rooms"]:
                return None
            room = Room(name=DEFAULT_ROOM, title="Lobby", generation=new_generation())
            raw["rooms"][DEFAULT_ROOM] = _entry_of(room)
            return room

        try:
            created = self._change(change)
        except (RoomFileError, OSError) as e:
            self._once(f"{e}" if isinstance(e, RoomFileError) else f"rooms file {self.path}: {e}")
            return Room(name=DEFAULT_ROOM, title="Lobby")
        return created or self.get(DEFAULT_ROOM) or Room(name=DEFAULT_ROOM, title="Lobby")
