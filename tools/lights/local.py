"""Lights that live in a JSON file: for trying the bot without a smart home.

The file is seeded with a small house on first run and written atomically
(temp file, fsync, rename) after every change, so a restart keeps the state and
a crash never leaves half a file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from loguru import logger
from pydantic import TypeAdapter, ValidationError

from tools.files import write_atomically
from tools.lights.backend import Change, Light, LightError, LightsBackend

MIN_KELVIN, MAX_KELVIN = 2200, 6500


def _tunable(name: str, room: str, on: bool, brightness: int, kelvin: int) -> Light:
    return Light(
        name=name,
        room=room,
        on=on,
        brightness=brightness,
        color_temp_kelvin=kelvin,
        min_kelvin=MIN_KELVIN,
        max_kelvin=MAX_KELVIN,
    )


def seed_house() -> list[Light]:
    """The house a fresh install starts with."""
    return [
        _tunable("kitchen ceiling", "kitchen", False, 80, 4000),
        _tunable("kitchen counter", "kitchen", False, 100, 4000),
        _tunable("living room ceiling", "living room", False, 70, 3000),
        _tunable("living room floor lamp", "living room", False, 50, 2700),
        _tunable("bedroom lamp", "bedroom", False, 40, 2700),
        # A plain dimmable bulb: no colour temperature.
        Light(name="hallway", room="hallway", on=False, brightness=60),
    ]


_LIGHTS = TypeAdapter(list[Light])


class LocalLights(LightsBackend):
    """Lights whose state is a JSON file (`{"lights": [...]}`)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._lights: dict[str, Light] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                lights = _LIGHTS.validate_python(data["lights"])
            except (OSError, ValueError, KeyError, TypeError, ValidationError) as e:
                raise LightError(
                    f"cannot read the lights file {self.path}: {e}; fix or delete it"
                ) from e
        else:
            lights = seed_house()
            logger.info(f"lights: seeding {self.path} with {len(lights)} lights")
        self._lights = {light.name: light for light in lights}
        if not self.path.exists():
            self._save()
        logger.info(f"lights: {len(self._lights)} local lights from {self.path}")

    async def lights(self) -> list[Light]:
        return list(self._lights.values())

    async def set(self, name: str, change: Change) -> Light:
        async with self._lock:
            light = self._lights.get(name)
            if light is None:
                raise LightError(f"there is no light named '{name}'")
            update: dict[str, object] = {}
            if change.on is not None:
                update["on"] = change.on
            if change.brightness is not None and light.dimmable:
                update["brightness"] = max(0, min(100, change.brightness))
            if change.color_temp_kelvin is not None and light.min_kelvin and light.max_kelvin:
                k = max(light.min_kelvin, min(light.max_kelvin, change.color_temp_kelvin))
                update["color_temp_kelvin"] = k
            new = light.model_copy(update=update)
            self._lights[name] = new
            self._save()
        if new != light:
            self._notify(new)
        return new

    def _save(self) -> None:
        """Write the file atomically: a crash leaves the old or the new file, never half."""
        data = {"lights": [light.model_dump(mode="json") for light in self._lights.values()]}
        write_atomically(self.path, json.dumps(data, indent=2).encode())
