"""Fixtures: a Mosquitto broker for the session, and a house on either backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.lights.z2m import FakeZigbee2MQTT, Mosquitto, house_devices
from tools.api import Outcome, Tool
from tools.lights import LightsBackend, toolset
from tools.toolset import ToolContext, Toolset


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@dataclass
class House:
    """A started lights toolset and, on MQTT, the fake Zigbee2MQTT behind it."""

    kind: str
    toolset: Toolset
    z2m: FakeZigbee2MQTT | None

    @property
    def backend(self) -> LightsBackend:
        backend = self.toolset.extras["backend"]
        assert isinstance(backend, LightsBackend)
        return backend

    @property
    def tools(self) -> dict[str, Tool]:
        return {t.name: t for t in self.toolset.tools}

    async def call(self, tool: str, /, **args: Any) -> Outcome:
        return await self.tools[tool].invoke(args)

    async def light(self, name: str) -> dict[str, Any]:
        listed = await self.call("list_lights")
        return next(x for x in listed.response["lights"] if x["name"] == name)


def context(data_dir: Path, env: dict[str, str]) -> ToolContext:
    data_dir.mkdir(parents=True, exist_ok=True)
    return ToolContext(env=env, data_dir=data_dir, timezone=ZoneInfo("Europe/Berlin"))


def mqtt_env(broker: Mosquitto, base: str) -> dict[str, str]:
    return {
        "LIGHTS_BACKEND": "mqtt",
        "MQTT_HOST": broker.host,
        "MQTT_PORT": str(broker.port),
        "MQTT_BASE_TOPIC": base,
        "LIGHTS_CONFIRM_TIMEOUT": "1",
    }


MakeHouse = Callable[..., Any]


@asynccontextmanager
async def open_house(
    kind: str, data_dir: Path, broker: Mosquitto | None, **env: str
) -> AsyncIterator[House]:
    """The seeded house on `kind`; on MQTT, with a fake Z2M on a fresh topic tree."""
    z2m = None
    if kind == "mqtt":
        assert broker is not None
        base = f"z2m-{uuid.uuid4().hex[:8]}"
        z2m = FakeZigbee2MQTT(broker.host, broker.port, base, house_devices())
        await z2m.start()
        env = {**mqtt_env(broker, base), **env}
    ts = toolset(context(data_dir, env))
    assert ts.start is not None and ts.stop is not None
    await ts.start()
    try:
        yield House(kind, ts, z2m)
    finally:
        await ts.stop()
        if z2m is not None:
            await z2m.stop()


@pytest.fixture(params=["local", "mqtt"])
def make_house(request: pytest.FixtureRequest, tmp_path: Path) -> MakeHouse:
    """`async with make_house(**env) as house`: the seeded house on this test's backend."""
    kind: str = request.param
    broker = request.getfixturevalue("mosquitto") if kind == "mqtt" else None
    return lambda **env: open_house(kind, tmp_path / "lights", broker, **env)


@pytest.fixture
async def house(make_house: MakeHouse) -> AsyncIterator[House]:
    async with make_house() as h:
        yield h


@pytest.fixture
async def make_house_mqtt(
    mosquitto: Mosquitto, tmp_path: Path
) -> AsyncIterator[tuple[House, FakeZigbee2MQTT]]:
    """The house on MQTT only, with its fake Zigbee2MQTT."""
    async with open_house("mqtt", tmp_path / "lights", mosquitto) as h:
        assert h.z2m is not None
        yield h, h.z2m
