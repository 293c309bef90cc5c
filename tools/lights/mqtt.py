"""Lights through Zigbee2MQTT (Z2M), over MQTT with aiomqtt.

- Devices: the retained `<base>/bridge/devices` (a JSON list). A light is a device
  whose `definition.exposes` has a `light` entry with a `state` feature;
  `brightness` and `color_temp` features make it dimmable / tunable white (the
  colour temperature range comes from `color_temp`'s `value_min`/`value_max`).
- Rooms: Z2M has no room field, so the room is written in the device's
  *description* (Z2M frontend → device → About → Description) as `room: kitchen`
  (or `room=kitchen`). A light without one is in the room "other".
- State: `<base>/<friendly_name>` (JSON); availability `<base>/<name>/availability`.
  Lights whose state we have not seen since connecting are asked with
  `<base>/<name>/get`.
- Commands: `<base>/<name>/set` with `{"state": "ON", "brightness": 127,
  "color_temp": 370}`. Z2M brightness is 0–254 and colour temperature is in
  mireds (1e6 / kelvin); we speak percent and kelvin and convert.
- A change is reported only once the light's state echo confirms it (within
  `confirm_timeout`); no echo is an error ("did not confirm").
- The connection is kept up in a background task that reconnects with backoff
  when the broker goes away.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from loguru import logger

from tools.lights.backend import Change, Light, LightError, LightsBackend

Z2M_BRIGHTNESS_MAX = 254
DEFAULT_MIREDS = (153, 500)  # Z2M's usual color_temp range: ~6500 K to 2000 K
_ROOM = re.compile(r"\broom\s*[:=]\s*([^;,\n]+)", re.IGNORECASE)


def pct_to_z2m(pct: int, top: int = Z2M_BRIGHTNESS_MAX) -> int:
    return round(pct * top / 100)


def z2m_to_pct(raw: float, top: int = Z2M_BRIGHTNESS_MAX) -> int:
    return max(0, min(100, round(raw * 100 / top)))


def kelvin_to_mireds(kelvin: int) -> int:
    return round(1_000_000 / kelvin)


def mireds_to_kelvin(mireds: float) -> int:
    """Rounded to 10 K: mireds are coarse, 370 mireds is '2700 K', not 2703."""
    return round(1_000_000 / mireds / 10) * 10


def room_of(description: str | None) -> str:
    match = _ROOM.search(description or "")
    return " ".join(match.group(1).split()).lower() if match else "other"


@dataclass
class _Device:
    """A Z2M light: its payload keys and ranges, and the raw state last seen."""

    name: str
    room: str
    state_key: str = "state"
    brightness_key: str | None = None
    brightness_max: int = Z2M_BRIGHTNESS_MAX
    color_temp_key: str | None = None
    mireds: tuple[int, int] = DEFAULT_MIREDS
    raw: dict[str, Any] = field(default_factory=dict)
    reachable: bool = True
    updates: int = 0  # state messages seen, so a confirmation is one that came after

    def light(self) -> Light:
        kelvin_range = (mireds_to_kelvin(self.mireds[1]), mireds_to_kelvin(self.mireds[0]))
        ct = self.raw.get(self.color_temp_key) if self.color_temp_key else None
        brightness = self.raw.get(self.brightness_key) if self.brightness_key else None
        on = str(self.raw.get(self.state_key, "OFF")).upper() == "ON"
        return Light(
            name=self.name,
            room=self.room,
            on=on,
            brightness=(
                z2m_to_pct(brightness, self.brightness_max)
                if isinstance(brightness, int | float)
                else (100 if on else 0)
            ),
            color_temp_kelvin=mireds_to_kelvin(ct) if isinstance(ct, int | float) and ct else None,
            reachable=self.reachable,
            dimmable=self.brightness_key is not None,
            min_kelvin=kelvin_range[0] if self.color_temp_key else None,
            max_kelvin=kelvin_range[1] if self.color_temp_key else None,
        )

    def command(self, change: Change) -> dict[str, Any]:
        """The `/set` payload for `change` (also what the echo must show)."""
        out: dict[str, Any] = {}
        if change.on is not None:
            out[self.state_key] = "ON" if change.on else "OFF"
        if change.on is False:
            return out
        if change.brightness is not None and self.brightness_key:
            out[self.brightness_key] = pct_to_z2m(change.brightness, self.brightness_max)
        if change.color_temp_kelvin is not None and self.color_temp_key:
            lo, hi = self.mireds
            out[self.color_temp_key] = max(lo, min(hi, kelvin_to_mireds(change.color_temp_kelvin)))
        return out

    def confirms(self, command: dict[str, Any]) -> bool:
        """Does the last state seen show `command` done? (±2 raw steps for levels)"""
        for key, want in command.items():
            have = self.raw.get(key)
            if key == self.state_key:
                if str(have).upper() != want:
                    return False
            elif not isinstance(have, int | float) or abs(have - want) > 2:
                return False
        return True


def parse_devices(devices: Any) -> dict[str, _Device]:
    """The lights among Z2M's `bridge/devices`."""
    found: dict[str, _Device] = {}
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict) or dev.get("disabled") or not dev.get("friendly_name"):
            continue
        definition = dev.get("definition") or {}
        for expose in definition.get("exposes") or []:
            if not isinstance(expose, dict) or expose.get("type") != "light":
                continue
            features = {f.get("name"): f for f in expose.get("features") or []}
            if "state" not in features:
                continue
            d = _Device(name=dev["friendly_name"], room=room_of(dev.get("description")))
            d.state_key = features["state"].get("property", "state")
            if "brightness" in features:
                d.brightness_key = features["brightness"].get("property", "brightness")
                d.brightness_max = int(features["brightness"].get("value_max", 254))
            if "color_temp" in features:
                ct = features["color_temp"]
                d.color_temp_key = ct.get("property", "color_temp")
                d.mireds = (
                    int(ct.get("value_min", DEFAULT_MIREDS[0])),
                    int(ct.get("value_max", DEFAULT_MIREDS[1])),
                )
            found[d.name] = d
            break
    return found


class MqttLights(LightsBackend):
    """Zigbee2MQTT lights over one MQTT connection, kept up in the background."""

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        username: str | None = None,
        password: str | None = None,
        base_topic: str = "zigbee2mqtt",
        confirm_timeout: float = 2.0,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.base = base_topic.strip("/")
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self._devices: dict[str, _Device] = {}
        self._seen: set[str] = set()  # lights whose state arrived on this connection
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()  # the device list has arrived
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return f"the MQTT broker at {self.host}:{self.port}"

    async def start(self) -> None:
        """Connect in the background; wait (bounded) for the device list and states."""
        self._task = asyncio.create_task(self._run(), name="lights-mqtt")
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._ready.wait()
                async with self._changed:
                    await self._changed.wait_for(lambda: self._seen >= set(self._devices))
        except TimeoutError:
            if not self._ready.is_set():
                logger.warning(
                    f"lights: no Zigbee2MQTT device list from {self.where} (topic "
                    f"{self.base}/bridge/devices) after {self.connect_timeout:g} s; still trying"
                )
            else:
                missing = ", ".join(sorted(set(self._devices) - self._seen))
                logger.warning(f"lights: no state yet from {missing}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def lights(self) -> list[Light]:
        if self._client is None:
            raise LightError(f"the lights are offline: not connected to {self.where}")
        if not self._ready.is_set():
            raise LightError(
                f"no lights known yet: Zigbee2MQTT has not published {self.base}/bridge/devices"
            )
        return [d.light() for d in self._devices.values()]

    async def set(self, name: str, change: Change) -> Light:
        client, device = self._client, self._devices.get(name)
        if client is None:
            raise LightError(f"the lights are offline: not connected to {self.where}")
        if device is None:
            raise LightError(f"there is no light named '{name}'")
        command = device.command(change)
        if not command:
            return device.light()
        since = device.updates
        try:
            async with asyncio.timeout(self.confirm_timeout):
                await client.publish(f"{self.base}/{name}/set", json.dumps(command), qos=1)
                async with self._changed:
                    await self._changed.wait_for(lambda: self._confirmed(name, since, command))
        except TimeoutError:
            now = device.light()
            raise LightError(
                f"the light '{name}' did not confirm the change within "
                f"{self.confirm_timeout:g} s (it reports: {'on' if now.on else 'off'}, "
                f"{now.brightness}%)"
            ) from None
        except aiomqtt.MqttError as e:
            raise LightError(f"could not send to the light '{name}': {e}") from e
        return self._devices.get(name, device).light()

    def _confirmed(self, name: str, since: int, command: dict[str, Any]) -> bool:
        device = self._devices.get(name)
        return device is not None and device.updates > since and device.confirms(command)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    keepalive=30,
                ) as client:
                    await client.subscribe(f"{self.base}/#")
                    self._client, self._seen = client, set()
                    logger.info(f"lights: connected to {self.where}")
                    backoff = 0.5
                    async for message in client.messages:
                        try:
                            await self._handle(client, str(message.topic), message.payload)
                        except aiomqtt.MqttError:
                            raise
                        except Exception:  # one odd message must not stop the lights
                            logger.exception(f"lights: cannot handle a message on {message.topic}")
            except aiomqtt.MqttError as e:
                was = self._client is not None
                self._client = None
                log = logger.warning if was else logger.debug
                log(f"lights: {self.where}: {e}; reconnecting in {backoff:g} s")
            finally:
                self._client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _handle(self, client: aiomqtt.Client, topic: str, payload: Any) -> None:
        if not topic.startswith(self.base + "/"):
            return
        rest = topic[len(self.base) + 1 :]
        try:
            text = payload.decode() if isinstance(payload, bytes | bytearray) else str(payload)
            data = json.loads(text) if text.strip()[:1] in ("{", "[") else text.strip()
        except (UnicodeDecodeError, json.JSONDecodeError):
            logger.debug(f"lights: ignoring unreadable message on {topic}")
            return
        if rest == "bridge/devices":
            await self._on_devices(client, data)
        elif rest in self._devices and isinstance(data, dict):
            await self._on_state(self._devices[rest], data)
        elif rest.endswith("/availability") and rest[: -len("/availability")] in self._devices:
            state = data.get("state") if isinstance(data, dict) else data
            device = self._devices[rest[: -len("/availability")]]
            if device.reachable != (state == "online"):
                device.reachable = state == "online"
                self._notify(device.light())

    async def _on_devices(self, client: aiomqtt.Client, data: Any) -> None:
        devices = parse_devices(data)
        for name, device in devices.items():  # keep what we know of known lights
            if name in self._devices:
                old = self._devices[name]
                device.raw, device.reachable, device.updates = old.raw, old.reachable, old.updates
        self._devices = devices
        logger.info(f"lights: {len(devices)} Zigbee2MQTT lights: {', '.join(devices)}")
        self._ready.set()
        async with self._changed:
            self._changed.notify_all()
        for name, device in devices.items():
            if name not in self._seen:
                ask = {
                    k: ""
                    for k in (device.state_key, device.brightness_key, device.color_temp_key)
                    if k
                }
                await client.publish(f"{self.base}/{name}/get", json.dumps(ask))

    async def _on_state(self, device: _Device, data: dict[str, Any]) -> None:
        self._seen.add(device.name)
        before = device.light()
        device.raw.update(data)
        device.updates += 1
        after = device.light()
        if after != before:
            self._notify(after)
        async with self._changed:
            self._changed.notify_all()
