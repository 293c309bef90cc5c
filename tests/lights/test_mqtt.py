"""The Zigbee2MQTT backend: units, device parsing, confirmation, outside changes, reconnects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lights.conftest import context, mqtt_env
from tests.lights.z2m import FakeZigbee2MQTT, Mosquitto, house_devices, z2m_light
from tools.lights import LightError, toolset
from tools.lights.mqtt import (
    MqttLights,
    kelvin_to_mireds,
    mireds_to_kelvin,
    parse_devices,
    pct_to_z2m,
    room_of,
    z2m_to_pct,
)
from tools.toolset import Toolset

pytestmark = pytest.mark.timeout(30)


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def test_brightness_percent_and_z2m_0_254():
    assert pct_to_z2m(100) == 254 and z2m_to_pct(254) == 100
    assert pct_to_z2m(0) == 0 and z2m_to_pct(0) == 0
    assert pct_to_z2m(50) == 127 and z2m_to_pct(127) == 50
    assert z2m_to_pct(1) == 0 and pct_to_z2m(1) == 3
    assert all(z2m_to_pct(pct_to_z2m(p)) == p for p in range(101))
    assert z2m_to_pct(255, top=255) == 100


def test_kelvin_and_mireds():
    assert kelvin_to_mireds(2700) == 370 and mireds_to_kelvin(370) == 2700
    assert kelvin_to_mireds(6500) == 154 and mireds_to_kelvin(153) == 6540
    assert kelvin_to_mireds(2200) == 455 and mireds_to_kelvin(455) == 2200
    assert mireds_to_kelvin(500) == 2000
    assert all(abs(mireds_to_kelvin(kelvin_to_mireds(k)) - k) <= 30 for k in range(2200, 6501, 50))


def test_lights_are_found_in_the_device_list():
    devices = parse_devices(house_devices())
    assert sorted(devices) == [
        "bedroom lamp",
        "hallway",
        "kitchen ceiling",
        "kitchen counter",
        "living room ceiling",
        "living room floor lamp",
    ]
    ceiling = devices["kitchen ceiling"].light()
    assert (ceiling.min_kelvin, ceiling.max_kelvin) == (2200, 6540)
    assert devices["hallway"].light().min_kelvin is None
    assert devices["living room floor lamp"].room == "living room"
    assert room_of("Bought 2023; room = Guest Room; bulb E27") == "guest room"
    assert room_of("") == room_of(None) == "other"
    assert parse_devices({"not": "a list"}) == {}
    plug = z2m_light("plug", None, dimmable=False, mireds=None)
    assert parse_devices([plug])["plug"].light().dimmable is False


def test_commands_use_z2m_units():
    from tools.lights.backend import Change

    d = parse_devices([z2m_light("a", "x")])["a"]
    assert d.command(Change(on=True, brightness=100, color_temp_kelvin=2700)) == {
        "state": "ON",
        "brightness": 254,
        "color_temp": 370,
    }
    assert d.command(Change(on=False, brightness=50)) == {"state": "OFF"}
    # Clamped to the device's mired range (153–455).
    assert d.command(Change(color_temp_kelvin=10000)) == {"color_temp": 153}


async def test_commands_on_the_wire(make_house_mqtt):
    house, z2m = make_house_mqtt
    out = await house.call("set_light", name="bedroom lamp", brightness=100, color_temp_kelvin=2700)
    assert out.ok
    sets = [body for topic, body in z2m.received if topic.endswith("bedroom lamp/set")]
    assert sets == [{"state": "ON", "brightness": 254, "color_temp": 370}]
    assert z2m.state["bedroom lamp"] == {"state": "ON", "brightness": 254, "color_temp": 370}


async def test_no_confirmation_is_an_interrupting_error(make_house_mqtt):
    house, z2m = make_house_mqtt
    z2m.mute.add("kitchen counter")
    out = await house.call("set_light", name="kitchen counter", on=True)
    assert not out.ok and out.scheduling == "INTERRUPT"
    assert "'kitchen counter' did not confirm" in out.response["error"]
    # A room with one silent light: what worked is reported, the failure interrupts.
    out = await house.call("set_room", room="kitchen", on=True)
    assert out.ok and out.scheduling == "INTERRUPT"
    assert "kitchen counter" in out.response["error"]
    assert [x["name"] for x in out.response["lights"]] == ["kitchen ceiling"]


async def test_outside_changes_and_availability(make_house_mqtt):
    house, z2m = make_house_mqtt
    seen = []
    house.backend.subscribe(seen.append)
    await z2m.outside_change("hallway", state="ON", brightness=254)
    await eventually(lambda: any(x.name == "hallway" and x.on for x in seen))
    assert (await house.light("hallway"))["brightness"] == 100
    await z2m.availability("hallway", False)
    await eventually(lambda: any(x.name == "hallway" and not x.reachable for x in seen))
    assert (await house.light("hallway"))["reachable"] is False
    out = await house.call("set_light", name="hallway", on=False)
    assert not out.ok and "unreachable" in out.response["error"]


async def test_reconnects_after_the_broker_restarts(tmp_path: Path):
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    base = f"z2m-{uuid.uuid4().hex[:8]}"
    z2m = FakeZigbee2MQTT(broker.host, broker.port, base, house_devices())
    ts: Toolset | None = None
    try:
        await z2m.start()
        ts = toolset(context(tmp_path / "lights", mqtt_env(broker, base)))
        assert ts.start is not None
        await ts.start()
        backend = ts.extras["backend"]
        assert isinstance(backend, MqttLights)
        set_light = next(t for t in ts.tools if t.name == "set_light")
        assert (await set_light.invoke({"name": "hallway", "on": True})).ok

        broker.stop()
        await eventually(lambda: not backend.connected)
        out = await set_light.invoke({"name": "hallway", "on": False})
        assert not out.ok and "offline" in out.response["error"]

        broker.start()  # same port, empty: Z2M republishes its devices when it is back
        await eventually(lambda: backend.connected and z2m.connected.is_set(), timeout=15)
        await eventually(lambda: "hallway" in backend._seen)
        out = await set_light.invoke({"name": "hallway", "on": False})
        assert out.ok, out.response
    finally:
        if ts is not None and ts.stop is not None:
            await ts.stop()
        await z2m.stop()
        broker.stop()


async def test_no_broker_means_offline_not_a_crash(tmp_path: Path):
    from tests.lights.z2m import free_port

    backend = MqttLights("127.0.0.1", free_port(), connect_timeout=0.5)
    await backend.start()
    try:
        with pytest.raises(LightError, match="offline"):
            await backend.lights()
    finally:
        await backend.stop()
