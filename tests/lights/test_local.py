"""The local backend: a JSON file that survives restarts and is written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lights.conftest import context, open_house
from tools.lights import Light, LightError, toolset
from tools.lights.local import LocalLights

pytestmark = pytest.mark.timeout(30)


async def test_a_restart_keeps_the_state(tmp_path: Path):
    async with open_house("local", tmp_path, None) as house:
        out = await house.call("set_light", name="bedroom lamp", on=True, brightness=35)
        assert out.ok
    async with open_house("local", tmp_path, None) as house:
        lamp = await house.light("bedroom lamp")
        assert (lamp["on"], lamp["brightness"]) == (True, 35)
    assert_only_the_file(tmp_path)


def assert_only_the_file(directory: Path) -> None:
    # No temp files left; the lock file other processes share stays.
    assert sorted(p.name for p in directory.iterdir()) == [".lights.json.lock", "lights.json"]
    saved = json.loads((directory / "lights.json").read_text())
    assert len(saved["lights"]) == 6


async def test_lights_file_setting_and_a_bounded_list_of_names(tmp_path: Path):
    many = [Light(name=f"spot {i}", room="hall", on=False, brightness=50) for i in range(40)]
    file = tmp_path / "elsewhere" / "house.json"
    file.parent.mkdir()
    file.write_text(json.dumps({"lights": [x.model_dump() for x in many]}))
    async with open_house("local", tmp_path / "data", None, LIGHTS_FILE=str(file)) as house:
        out = await house.call("set_light", name="spot 41", on=True)
        error = out.response["error"]
        known = error.split("Known: ")[1]
        assert known.endswith("and 28 more.") and known.count("spot") == 12, error
        assert "Did you mean 'spot 4', 'spot 1' or 'spot 34'?" in error
        assert (await house.call("set_light", name="spot 7", on=True)).ok
    assert json.loads(file.read_text())["lights"][7]["on"] is True
    assert not (tmp_path / "data" / "lights.json").exists()


async def test_a_broken_file_is_named(tmp_path: Path):
    (tmp_path / "lights.json").write_text("{not json")
    with pytest.raises(LightError, match=r"lights\.json.*fix or delete it"):
        await LocalLights(tmp_path / "lights.json").start()
    ts = toolset(context(tmp_path, {}))
    assert ts.start is not None
    with pytest.raises(LightError):
        await ts.start()
