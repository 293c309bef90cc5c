"""A room's per-toolset settings: opaque to the bot, declared and checked by each package.

Files written before rooms carried `toolsets` (top-level `lights_room`, `calendar`)
read the same; `room create --lights-room/--calendar` keep working (the flags come
from the packages' `ROOM_OPTIONS`); the packages' own lines and panels follow them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.call import page_panels, room_instructions
from bot.rooms import Room, RoomError, RoomStore
from tests.rooms.cli import run_room_cli
from tools.room_options import room_options
from tools.toolset import load_toolsets, registry_of

PARIS = ZoneInfo("Europe/Paris")


def test_a_file_of_old_reads_as_toolset_settings_and_is_written_in_the_new_shape(tmp_path):
    path = tmp_path / "rooms.json"
    old = {
        "title": "Kitchen",
        "persona": None,
        "voice": "Puck",
        "lights_room": "kitchen",
        "calendar": "Family",
        "max_callers": 2,
        "generation": "g1",
    }
    path.write_text(json.dumps({"rooms": {"kitchen": old, "hall": {"calendar": None}}}))
    store = RoomStore(path)
    kitchen = store.get("kitchen")
    assert kitchen == Room(
        name="kitchen",
        title="Kitchen",
        voice="Puck",
        toolsets={"lights": {"room": "kitchen"}, "calendar": {"name": "Family"}},
        max_callers=2,
        generation="g1",
    )
    assert store.get("hall") == Room(name="hall")
    store.update("kitchen", toolsets={"calendar": {"name": "Work"}})
    entry = json.loads(path.read_text())["rooms"]["kitchen"]
    assert "lights_room" not in entry and "calendar" not in entry
    assert entry["toolsets"] == {"lights": {"room": "kitchen"}, "calendar": {"name": "Work"}}
    assert store.get("kitchen").settings_for("lights") == {"room": "kitchen"}
    assert store.get("kitchen").settings_for("clock") == {}


def test_bad_toolset_settings_are_refused_with_the_packages_own_words():
    with pytest.raises(RoomError, match=re.escape("calendar name '../x' is not allowed")):
        Room(name="a", toolsets={"calendar": {"name": "../x"}})
    with pytest.raises(RoomError, match="must be text"):
        Room(name="a", toolsets={"lights": {"room": 3}})  # type: ignore[dict-item]
    with pytest.raises(RoomError, match="must be an object"):
        Room(name="a", toolsets={"lights": "kitchen"})  # type: ignore[dict-item]
    # A setting no package declares is kept as it is, for its package to read.
    assert Room(name="a", toolsets={"weather": {"city": "Oslo"}}).settings_for("weather") == {
        "city": "Oslo"
    }


def test_the_packages_declare_their_room_options():
    declared = {(p, o.key, o.flag) for p, opts in room_options().items() for o in opts}
    assert declared >= {("lights", "room", "--lights-room"), ("calendar", "name", "--calendar")}


def test_room_create_and_list_with_the_packages_flags(tmp_path: Path):
    data = tmp_path / "data"
    made = run_room_cli(data, "create", "office", "--lights-room", "living room")
    assert made.returncode == 0, made.stderr
    made = run_room_cli(data, "create", "office", "--calendar", "Work", "--voice", "Kore")
    assert made.returncode == 0, made.stderr
    room = RoomStore(data / "rooms.json").get("office")
    assert room is not None
    assert room.toolsets == {"lights": {"room": "living room"}, "calendar": {"name": "Work"}}
    listed = run_room_cli(data, "list")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("office:"))
    assert "voice Kore" in line and "lights living room" in line and "calendar Work" in line
    helped = run_room_cli(data, "create", "--help")
    assert "--lights-room" in helped.stdout and "--calendar" in helped.stdout


async def test_a_rooms_settings_give_its_lines_and_panels(tmp_path):
    sets = load_toolsets(["calendar", "lights", "clock"], {}, tmp_path, PARIS)
    for ts in sets:
        if ts.start is not None:
            await ts.start()  # the local lights seed their house
    room = Room(name="office", toolsets={"lights": {"room": "kitchen"}})
    tools = registry_of([ts.in_room(room.settings_for(ts.name)) for ts in sets])
    assert room_instructions(tools, room) == [
        "The caller is in the kitchen: when they say 'the lights' without naming a room, "
        "they mean the kitchen lights."
    ]
    assert room_instructions(tools, Room(name="hall")) == []
    snapshots = [await p.snapshot() for p in page_panels(tools, room)]
    assert [s["type"] for s in snapshots if s] == ["calendar", "lights"]
    lights = next(s for s in snapshots if s and s["type"] == "lights")
    assert lights["room"] == "kitchen" and {x["room"] for x in lights["lights"]} == {"kitchen"}
    everywhere = [await p.snapshot() for p in page_panels(tools, Room(name="hall"))]
    lights = next(s for s in everywhere if s and s["type"] == "lights")
    assert lights["room"] is None and len({x["room"] for x in lights["lights"]}) > 1
    for ts in sets:
        if ts.stop is not None:
            await ts.stop()
