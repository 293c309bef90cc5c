"""Findings 11 and 16: a write that fails (disk full, an immutable or read-only file)
changes nothing, in the file or in memory, and is answered as failed; a symlinked
data file stays a symlink (written through to its target) and keeps its mode."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import icalendar
import pytest

from bot.rooms import RoomFileError, RoomStore
from tests.calendar.helpers import PARIS, at, call
from tests.lights.conftest import open_house
from tools import files
from tools.calendar import toolset as calendar_toolset
from tools.toolset import ToolContext

pytestmark = pytest.mark.timeout(60)

FAILURES = {
    "disk full": errno.ENOSPC,
    "immutable file": errno.EPERM,
    "read-only file system": errno.EROFS,
}


class Fault:
    """Makes `os.replace` (the atomic rename every store ends with) fail as `kind` does."""

    def __init__(self, kind: str, monkeypatch: pytest.MonkeyPatch):
        self.kind, self.code, self._mp = kind, FAILURES[kind], monkeypatch

    def start(self) -> None:
        def replace(_src, _dst):
            raise OSError(self.code, os.strerror(self.code))

        self._mp.setattr(files.os, "replace", replace)

    def heal(self) -> None:
        self._mp.undo()


@pytest.fixture(params=list(FAILURES))
def fault(request, monkeypatch) -> Fault:
    return Fault(request.param, monkeypatch)


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


async def test_a_failed_lights_write_answers_failed_and_changes_nothing(
    tmp_path: Path, fault: Fault
):
    async with open_house("local", tmp_path, None) as house:
        before = (tmp_path / "lights.json").read_bytes()
        notified: list[str] = []
        house.backend.subscribe(lambda light: notified.append(light.name))
        fault.start()
        out = await house.call("set_light", name="bedroom lamp", on=True)
        whole = await house.call("set_all", on=True)
        fault.heal()
        lamp = await house.light("bedroom lamp")
        print(f"{fault.kind}: answered {out.response}; the lamp is on: {lamp['on']}")
        assert not out.ok and "could not be saved" in out.response["error"]
        assert not whole.ok
        assert lamp["on"] is False  # what the model and the page are told: as on disk
        assert all(not x.on for x in await house.backend.lights())
        assert notified == []  # the page was never told "on"
        assert (tmp_path / "lights.json").read_bytes() == before
        assert leftovers(tmp_path) == []
        healed = await house.call("set_light", name="bedroom lamp", on=True)  # disk freed
        assert healed.ok and (await house.light("bedroom lamp"))["on"] is True


async def test_a_failed_calendar_write_answers_failed_and_changes_nothing(
    tmp_path: Path, fault: Fault
):
    ts = calendar_toolset(ToolContext(env={}, data_dir=tmp_path, timezone=PARIS))
    first = await call(ts, "create_event", title="Dentist", start=at(9))
    assert first.ok
    before = (tmp_path / "calendar.ics").read_bytes()
    fault.start()
    out = await call(ts, "create_event", title="Lunch", start=at(12))
    event_id = first.response["created"]["event_id"]
    moved = await call(ts, "move_event", event_id=event_id, new_start=at(15))
    fault.heal()
    listed = await call(ts, "list_events", start=at(0), end=at(0, days=1))
    print(f"{fault.kind}: answered {out.response['error']}")
    assert not out.ok and "could not be saved; nothing was changed" in out.response["error"]
    assert not moved.ok
    assert [(e["title"], e["start"][11:16]) for e in listed.response["events"]] == [
        ("Dentist", "09:00")
    ]
    assert (tmp_path / "calendar.ics").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_failed_rooms_write_is_an_error_naming_the_file(tmp_path: Path, fault: Fault):
    store = RoomStore(tmp_path / "rooms.json")
    store.update("kitchen")
    before = (tmp_path / "rooms.json").read_bytes()
    fault.start()
    with pytest.raises(RoomFileError, match=r"rooms\.json.*nothing was changed"):
        store.update("hall")
    fault.heal()
    assert (tmp_path / "rooms.json").read_bytes() == before
    assert [r.name for r in store.all()] == ["kitchen"]


async def test_a_symlinked_calendar_stays_a_link_and_keeps_its_mode(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "family.ics"
    target.write_bytes(b"")
    target.chmod(0o644)  # another app (a web server) reads it
    data = tmp_path / "data"
    data.mkdir()
    (data / "calendar.ics").symlink_to(target)
    ts = calendar_toolset(ToolContext(env={}, data_dir=data, timezone=PARIS))
    for hour in (9, 11):
        assert (await call(ts, "create_event", title=f"At {hour}", start=at(hour))).ok
    link = data / "calendar.ics"
    mode = stat.S_IMODE(target.stat().st_mode)
    print(f"after 2 writes: calendar.ics is a symlink: {link.is_symlink()}, mode {mode:o}")
    assert link.is_symlink() and link.resolve() == target
    assert mode == 0o644
    cal = icalendar.Calendar.from_ical(target.read_bytes())
    assert sorted(str(e["SUMMARY"]) for e in cal.walk("VEVENT")) == ["At 11", "At 9"]
    assert leftovers(shared) == [] and leftovers(data) == []


async def test_symlinked_lights_and_rooms_files_stay_links_and_keep_their_modes(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    async with open_house("local", elsewhere, None):
        pass  # seeds elsewhere/lights.json
    (elsewhere / "lights.json").chmod(0o640)
    (data / "lights.json").symlink_to(elsewhere / "lights.json")
    async with open_house("local", data, None) as house:
        assert (await house.call("set_light", name="hallway", on=True)).ok
    assert (data / "lights.json").is_symlink()
    assert stat.S_IMODE((elsewhere / "lights.json").stat().st_mode) == 0o640
    saved = json.loads((elsewhere / "lights.json").read_text())["lights"]
    assert [x["on"] for x in saved if x["name"] == "hallway"] == [True]

    rooms_target = elsewhere / "rooms.json"
    rooms_target.write_text('{"rooms": {}}')
    rooms_target.chmod(0o600)
    (data / "rooms.json").symlink_to(rooms_target)
    RoomStore(data / "rooms.json").update("kitchen")
    assert (data / "rooms.json").is_symlink()
    assert stat.S_IMODE(rooms_target.stat().st_mode) == 0o600
    assert "kitchen" in json.loads(rooms_target.read_text())["rooms"]


def test_a_new_file_is_private_and_a_changed_one_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "x.json"
    files.write_atomically(path, b"1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o664)
    files.write_atomically(path, b"2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o664 and path.read_bytes() == b"2"


@pytest.mark.parametrize("round_", range(3))
def test_processes_starting_at_once_share_one_link_secret(tmp_path: Path, round_: int):
    from tests.together import run_together

    data = tmp_path / "data"
    results = run_together(
        tmp_path / "go", [["tests.unit.secret_worker", str(data)] for _ in range(4)]
    )
    secrets = {r["secret"] for r in results}
    print(f"round {round_}: 4 processes, {len(secrets)} secret(s)")
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    assert sorted(p.name for p in data.iterdir()) == ["secret"]
    assert stat.S_IMODE((data / "secret").stat().st_mode) == 0o600
