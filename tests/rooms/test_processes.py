"""Finding 7: simultaneous room changes from several processes are all kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rooms import RoomStore
from tests.rooms.cli import room_cli
from tests.together import run_together

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("round_", range(3))
def test_eight_simultaneous_room_creates_by_the_cli_are_all_kept(tmp_path: Path, round_: int):
    data = tmp_path / "data"
    RoomStore(data / "rooms.json").ensure_default()
    procs = [room_cli(data, "create", f"room-{i}") for i in range(8)]
    codes = [p.wait(60) for p in procs]
    for p in procs:
        p.communicate()
    names = sorted(r.name for r in RoomStore(data / "rooms.json").all())
    print(f"round {round_}: exit codes {codes}, {len(names)} of 9 rooms kept")
    assert codes == [0] * 8
    assert names == sorted(["lobby", *(f"room-{i}" for i in range(8))])


def test_eight_processes_updating_at_once_lose_nothing(tmp_path: Path):
    rooms = tmp_path / "rooms.json"
    results = run_together(
        tmp_path / "go", [["tests.rooms.worker", str(rooms), f"p{i}", "10"] for i in range(8)]
    )
    kept = RoomStore(rooms).all()
    print(f"8 processes x 10 updates at once: {len(kept)} of 80 rooms kept")
    assert sum(r["updated"] for r in results) == 80
    assert sorted(r.name for r in kept) == sorted(f"p{i}-{j}" for i in range(8) for j in range(10))
