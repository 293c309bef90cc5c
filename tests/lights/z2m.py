"""A real Mosquitto broker for the tests, and a fake Zigbee2MQTT that drives fake lights.

`Mosquitto` runs `/usr/sbin/mosquitto` on a free loopback port from a generated
config. `FakeZigbee2MQTT` behaves like Z2M on the wire: it publishes the retained
`<base>/bridge/devices` and each light's availability, answers `<name>/set` by
applying the change and publishing the light's state on `<name>`, and answers
`<name>/get` with the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiomqtt
from loguru import logger

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """One broker process; `stop()` then `start()` restarts it on the same port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.dir = directory
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not Path(MOSQUITTO).exists():
            raise RuntimeError(
                f"{MOSQUITTO} not found: install the Debian package mosquitto "
                "(scripts/test-packages.txt; ./livebot test installs it)"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        log = (self.dir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    text = (self.dir / "mosquitto.log").read_text(errors="replace")
                    raise RuntimeError(f"mosquitto did not start on {self.port}: {text}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def z2m_light(
    name: str,
    room: str | None,
    *,
    dimmable: bool = True,
    mireds: tuple[int, int] | None = (153, 455),
) -> dict[str, Any]:
    """A `bridge/devices` entry for a light, shaped like Z2M's."""
    features: list[dict[str, Any]] = [
        {
            "type": "binary",
            "name": "state",
            "property": "state",
            "value_on": "ON",
            "value_off": "OFF",
        }
    ]
    if dimmable:
        features.append(
            {
                "type": "numeric",
                "name": "brightness",
                "property": "brightness",
                "value_min": 0,
                "value_max": 254,
            }
        )
    if mireds:
        features.append(
            {
                "type": "numeric",
                "name": "color_temp",
                "property": "color_temp",
                "unit": "mired",
                "value_min": mireds[0],
                "value_max": mireds[1],
            }
        )
    return {
        "ieee_address": f"0x{abs(hash(name)) % 16**16:016x}",
        "type": "Router",
        "friendly_name": name,
        "description": f"room: {room}" if room else "",
        "supported": True,
        "disabled": False,
        "definition": {
            "model": "LED1545G12",
            "vendor": "IKEA",
            "exposes": [
                {"type": "light", "features": features},
                {"type": "numeric", "name": "linkquality", "property": "linkquality"},
            ],
        },
    }


def house_devices() -> list[dict[str, Any]]:
    """The same house as the local backend's seed, plus devices that are not lights."""
    return [
        {"ieee_address": "0x00", "type": "Coordinator", "friendly_name": "Coordinator"},
        z2m_light("kitchen ceiling", "kitchen"),
        z2m_light("kitchen counter", "kitchen"),
        z2m_light("living room ceiling", "living room"),
        z2m_light("living room floor lamp", "Living Room"),
        z2m_light("bedroom lamp", "bedroom"),
        z2m_light("hallway", "hallway", mireds=None),
        {
            "ieee_address": "0x99",
            "type": "EndDevice",
            "friendly_name": "hallway motion",
            "description": "room: hallway",
            "definition": {
                "exposes": [{"type": "binary", "name": "occupancy", "property": "occupancy"}]
            },
        },
        {**z2m_light("old lamp", "attic"), "disabled": True},
    ]


class FakeZigbee2MQTT:
    """Plays Zigbee2MQTT and its lights on a broker; reconnects if the broker restarts."""

    def __init__(self, host: str, port: int, base: str, devices: list[dict[str, Any]]) -> None:
        self.host, self.port, self.base = host, port, base
        self.devices = devices
        self.state: dict[str, dict[str, Any]] = {}
        for d in devices:
            exposes = (d.get("definition") or {}).get("exposes") or []
            if any(e.get("type") == "light" for e in exposes):
                self.state[d["friendly_name"]] = {
                    "state": "OFF",
                    "brightness": 127,
                    "color_temp": 370,
                }
        self.mute: set[str] = set()  # lights that ignore commands
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def publish_state(self, name: str) -> None:
        assert self._client is not None
        await self._client.publish(f"{self.base}/{name}", json.dumps(self.state[name]))

    async def outside_change(self, name: str, **values: Any) -> None:
        """Somebody pressed a wall switch: the light changes and Z2M reports it."""
        self.state[name].update(values)
        await self.publish_state(name)

    async def availability(self, name: str, online: bool) -> None:
        assert self._client is not None
        payload = json.dumps({"state": "online" if online else "offline"})
        await self._client.publish(f"{self.base}/{name}/availability", payload, retain=True)

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port) as client:
                    await client.subscribe(f"{self.base}/+/set")
                    await client.subscribe(f"{self.base}/+/get")
                    await client.publish(
                        f"{self.base}/bridge/devices", json.dumps(self.devices), retain=True
                    )
                    self._client = client
                    for name in self.state:
                        await self.availability(name, True)
                    self.connected.set()
                    async for message in client.messages:
                        await self._on_message(str(message.topic), message.payload)
            except aiomqtt.MqttError as e:
                logger.debug(f"fake z2m: {e}")
                self._client = None
                self.connected.clear()
                await asyncio.sleep(0.2)

    async def _on_message(self, topic: str, payload: Any) -> None:
        name, action = topic[len(self.base) + 1 :].rsplit("/", 1)
        if name not in self.state:
            return
        body = json.loads(payload)
        self.received.append((topic, body))
        if action == "set":
            if name in self.mute:
                return
            state = self.state[name]
            for key, value in body.items():
                if key == "state":
                    state["state"] = (
                        value if value != "TOGGLE" else ("OFF" if state["state"] == "ON" else "ON")
                    )
                elif key == "brightness":
                    state["brightness"] = max(0, min(254, int(value)))
                    state["state"] = "ON" if value else "OFF"
                elif key == "color_temp":
                    state["color_temp"] = max(153, min(455, int(value)))
        await self.publish_state(name)
