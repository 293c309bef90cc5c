"""Every lights tool against both backends (local file; Zigbee2MQTT over a real broker)."""

from __future__ import annotations

import asyncio

import pytest

from tests.lights.conftest import House, MakeHouse
from tools.lights import Light

pytestmark = pytest.mark.timeout(30)

KITCHEN = ["kitchen ceiling", "kitchen counter"]


async def test_list_lights_all_and_by_room(house: House):
    listed = await house.call("list_lights")
    assert listed.ok and listed.scheduling == "WHEN_IDLE"
    lights = {x["name"]: x for x in listed.response["lights"]}
    assert len(lights) == 6  # not the motion sensor, coordinator or disabled lamp
    assert lights["kitchen ceiling"]["room"] == "kitchen"
    assert lights["kitchen ceiling"]["color_temp_range_kelvin"][0] == 2200
    assert "color_temp_kelvin" not in lights["hallway"]
    kitchen = await house.call("list_lights", room="Kitchen ")
    assert [x["name"] for x in kitchen.response["lights"]] == KITCHEN
    living = await house.call("list_lights", room="living room")
    assert len(living.response["lights"]) == 2


async def test_unknown_room_names_the_rooms(house: House):
    out = await house.call("list_lights", room="garage")
    assert not out.ok and out.scheduling == "INTERRUPT"
    for room in ("kitchen", "living room", "bedroom", "hallway"):
        assert room in out.response["error"]


async def test_set_light_is_silent_and_confirmed(house: House):
    out = await house.call(
        "set_light", name="Kitchen Ceiling", on=True, brightness=40, color_temp_kelvin=3000
    )
    assert out.ok, out.response
    assert out.scheduling == "SILENT"
    (light,) = out.response["lights"]
    assert (light["name"], light["on"], light["brightness"]) == ("kitchen ceiling", True, 40)
    assert light["color_temp_kelvin"] == 3000
    assert await house.light("kitchen ceiling") == {
        **light,
        "color_temp_range_kelvin": [2200, light_max(house)],
    }


def light_max(house: House) -> int:
    return 6500 if house.kind == "local" else 6540  # 153 mireds


async def test_brightness_over_100_is_refused_naming_the_range(house: House):
    out = await house.call("set_light", name="kitchen ceiling", brightness=150)
    assert not out.ok and out.scheduling == "INTERRUPT"
    assert "brightness" in out.response["error"] and "0 to 100" in out.response["error"]
    assert (await house.light("kitchen ceiling"))["on"] is False


async def test_kelvin_outside_the_lights_range_is_refused(house: House):
    out = await house.call("set_light", name="bedroom lamp", color_temp_kelvin=9000)
    assert not out.ok and out.scheduling == "INTERRUPT"
    assert "2200 to" in out.response["error"] and "bedroom lamp" in out.response["error"]
    out = await house.call("set_light", name="hallway", color_temp_kelvin=3000)
    assert "no colour temperature" in out.response["error"]
    out = await house.call("set_room", room="kitchen", color_temp_kelvin=1800)
    assert "2200 to" in out.response["error"]


async def test_unknown_light_gets_the_known_names(house: House):
    out = await house.call("set_light", name="garage", on=True)
    assert not out.ok and out.scheduling == "INTERRUPT"
    assert "garage" in out.response["error"]
    assert "kitchen ceiling" in out.response["error"] and "hallway" in out.response["error"]
    out = await house.call("set_light", name="kitchn ceiling", on=True)
    assert "Did you mean 'kitchen ceiling'" in out.response["error"]


async def test_a_change_must_change_something(house: House):
    out = await house.call("set_light", name="hallway")
    assert not out.ok and "on, brightness or color_temp_kelvin" in out.response["error"]
    out = await house.call("set_all")
    assert not out.ok


async def test_brightness_switches_on_and_zero_switches_off(house: House):
    out = await house.call("set_light", name="hallway", brightness=30)
    assert out.response["lights"][0]["on"] is True
    assert out.response["lights"][0]["brightness"] == 30
    out = await house.call("set_light", name="hallway", brightness=0)
    assert out.ok and out.response["lights"][0]["on"] is False


async def test_set_room_changes_only_that_room(house: House):
    out = await house.call("set_room", room="kitchen", on=True, brightness=70)
    assert out.ok and out.scheduling == "SILENT"
    assert sorted(x["name"] for x in out.response["lights"]) == KITCHEN
    listed = (await house.call("list_lights")).response["lights"]
    on = sorted(x["name"] for x in listed if x["on"])
    assert on == KITCHEN
    assert all(x["brightness"] == 70 for x in listed if x["on"])


async def test_set_all_skips_what_a_light_cannot_do(house: House):
    out = await house.call("set_all", brightness=30, color_temp_kelvin=2700)
    assert out.ok and out.scheduling == "SILENT", out.response
    lights = {x["name"]: x for x in out.response["lights"]}
    assert len(lights) == 6 and all(x["on"] and x["brightness"] == 30 for x in lights.values())
    assert lights["bedroom lamp"]["color_temp_kelvin"] == 2700
    assert "color_temp_kelvin" not in lights["hallway"]
    out = await house.call("set_all", on=False)
    assert out.ok and not any(x["on"] for x in out.response["lights"])


async def test_scenes(house: House):
    out = await house.call("set_scene", scene="night", room="bedroom")
    assert out.ok and out.scheduling == "SILENT"
    (bedroom,) = out.response["lights"]
    assert (bedroom["on"], bedroom["brightness"], bedroom["color_temp_kelvin"]) == (True, 10, 2200)
    out = await house.call("set_scene", scene="relax")
    assert all(x["on"] and x["brightness"] == 50 for x in out.response["lights"])
    out = await house.call("set_scene", scene="off")
    assert not any(x["on"] for x in out.response["lights"])
    out = await house.call("set_scene", scene="disco")
    assert not out.ok and "bright, focus, relax, night, off" in out.response["error"]
    out = await house.call("set_scene", scene="bright", room="cellar")
    assert not out.ok and "kitchen" in out.response["error"]


async def test_rate_limit_stops_a_runaway_model(make_house: MakeHouse):
    async with make_house(LIGHTS_MAX_CHANGES="3", LIGHTS_CHANGE_PERIOD="60") as house:
        for i in range(3):
            out = await house.call("set_light", name="hallway", brightness=10 + i)
            assert out.ok, out.response
        out = await house.call("set_all", on=False)
        assert not out.ok and out.scheduling == "INTERRUPT"
        assert out.response["error"] == "too many light changes, wait a moment"
        assert (await house.light("hallway"))["on"] is True
        assert (await house.call("list_lights")).ok  # looking is not limited


async def test_changes_are_notified(house: House):
    seen: list[Light] = []
    unsubscribe = house.backend.subscribe(seen.append)
    await house.call("set_light", name="bedroom lamp", on=True, brightness=25)
    async with asyncio.timeout(5):
        while not any(x.name == "bedroom lamp" and x.on and x.brightness == 25 for x in seen):
            await asyncio.sleep(0.02)
    unsubscribe()
    count = len(seen)
    await house.call("set_light", name="bedroom lamp", on=False)
    await asyncio.sleep(0.1)
    assert len(seen) == count
