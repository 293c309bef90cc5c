"""The package contract: settings, declarations Gemini accepts, the rate limiter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.lights.conftest import context
from tools.api import Behavior, Scheduling
from tools.lights import toolset
from tools.lights.local import LocalLights
from tools.lights.mqtt import MqttLights
from tools.lights.ratelimit import TokenBucket
from tools.toolset import ToolSettingsError, load_toolsets


def test_local_is_the_default(tmp_path: Path):
    ts = toolset(context(tmp_path, {}))
    assert ts.name == "lights"
    assert isinstance(ts.extras["backend"], LocalLights)
    assert [t.name for t in ts.tools] == [
        "list_lights",
        "set_light",
        "set_room",
        "set_all",
        "set_scene",
    ]


def test_mqtt_settings(tmp_path: Path):
    env = {
        "LIGHTS_BACKEND": "MQTT",
        "MQTT_HOST": "broker.lan",
        "MQTT_PORT": "8883",
        "MQTT_USERNAME": "bot",
        "MQTT_PASSWORD": "secret",
        "MQTT_BASE_TOPIC": "z2m/",
    }
    backend = toolset(context(tmp_path, env)).extras["backend"]
    assert isinstance(backend, MqttLights)
    assert (backend.host, backend.port, backend.base) == ("broker.lan", 8883, "z2m")
    assert (backend.username, backend.password) == ("bot", "secret")


def test_bad_settings_name_every_variable(tmp_path: Path):
    with pytest.raises(ToolSettingsError) as e:
        toolset(context(tmp_path, {"LIGHTS_BACKEND": "mqtt", "MQTT_PORT": "99999"}))
    text = "\n".join(e.value.problems)
    assert "MQTT_HOST" in text and "MQTT_PORT" in text
    with pytest.raises(ToolSettingsError, match=r"LIGHTS_BACKEND.*local, mqtt"):
        toolset(context(tmp_path, {"LIGHTS_BACKEND": "hue"}))
    with pytest.raises(ToolSettingsError, match="LIGHTS_MAX_CHANGES"):
        toolset(context(tmp_path, {"LIGHTS_MAX_CHANGES": "0"}))


def test_loaded_by_name(tmp_path: Path):
    from zoneinfo import ZoneInfo

    (ts,) = load_toolsets(["lights"], {}, tmp_path, ZoneInfo("UTC"))
    assert ts.name == "lights"


def test_scheduling(tmp_path: Path):
    tools = {t.name: t for t in toolset(context(tmp_path, {})).tools}
    assert all(t.behavior is Behavior.NON_BLOCKING for t in tools.values())
    assert tools["list_lights"].scheduling is Scheduling.WHEN_IDLE
    for name in ("set_light", "set_room", "set_all", "set_scene"):
        assert tools[name].scheduling is Scheduling.SILENT
        assert tools[name].error_scheduling is Scheduling.INTERRUPT


def _check_schema(node: Any, where: str) -> None:
    assert isinstance(node, dict), where
    for bad in ("$ref", "$defs", "additionalProperties", "title", "default"):
        assert bad not in node, f"{where} has {bad}"
    assert "type" in node or "anyOf" in node, f"{where} has neither type nor anyOf"
    if "enum" in node:
        assert node["type"] == "string" and all(isinstance(v, str) for v in node["enum"]), where
    for name, prop in node.get("properties", {}).items():
        _check_schema(prop, f"{where}.{name}")
    if "items" in node:
        _check_schema(node["items"], f"{where}[]")
    for i, option in enumerate(node.get("anyOf", [])):
        _check_schema(option, f"{where}|{i}")
    for required in node.get("required", []):
        assert required in node.get("properties", {}), f"{where} requires unknown {required}"


def test_declarations_are_valid_for_gemini(tmp_path: Path):
    for t in toolset(context(tmp_path, {})).tools:
        decl = t.declaration()
        assert decl["name"] == t.name and len(decl["description"]) > 20
        if "parameters" in decl:
            _check_schema(decl["parameters"], t.name)
            assert decl["parameters"]["type"] == "object"
    decl = {t.name: t.declaration() for t in toolset(context(tmp_path, {})).tools}
    props = decl["set_light"]["parameters"]["properties"]
    assert (props["brightness"]["minimum"], props["brightness"]["maximum"]) == (0, 100)
    assert decl["set_light"]["parameters"]["required"] == ["name"]
    assert decl["set_scene"]["parameters"]["properties"]["scene"]["enum"] == [
        "bright",
        "focus",
        "relax",
        "night",
        "off",
    ]


def test_token_bucket_refills_over_the_period():
    now = [0.0]
    bucket = TokenBucket(3, 6.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 1.0  # half a token back
    assert not bucket.take()
    now[0] = 2.0
    assert bucket.take() and not bucket.take()
    now[0] = 100.0  # never more than the capacity
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
