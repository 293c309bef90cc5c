"""Lights that live in a JSON file: for trying the bot without a smart home.

The file is seeded with a small house on first run. Several processes may share
it (two bots on one data directory), so every change is read-merge-write under
the file's cross-process lock (`tools.files.locked`): re-read the file, change
the one light, write it atomically (temp file, fsync, rename). The in-memory
state is only ever what the file holds: a write that fails (disk full, a
read-only file) changes nothing here, and the tool reports the failure. Changes
other processes made are picked up (and notified) when the file is next read.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loguru import logger
from pydantic import TypeAdapter, ValidationError

from tools.files import DataFileError, locked, write_atomically
from tools.lights.backend import Change, Light, LightError, LightsBackend


class LightsFileError(LightError, DataFileError):
    """The lights file cannot be read or written (the message names it)."""


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
        self._seen: tuple[int, ...] | None = None  # the file version `_lights` is from
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._start)
        logger.info(f"lights: {len(self._lights)} local lights from {self.path}")

    def _start(self) -> None:
        if self.path.exists():
            self._adopt(self._read())
            return
        with self._locked():
            if not self.path.exists():  # another process may have seeded it meanwhile
                lights = seed_house()
                logger.info(f"lights: seeding {self.path} with {len(lights)} lights")
                self._write(lights)
            self._adopt(self._read())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The file's cross-process lock; a lock that cannot be had is a `LightError`."""
        try:
            with locked(self.path):
                yield
        except LightError:
            raise
        except DataFileError as e:
            raise LightsFileError(f"the change could not be saved: {e}") from e

    async def lights(self) -> list[Light]:
        async with self._lock:
            changed = await asyncio.to_thread(self._refresh)
        self._notify_all(changed)
        return list(self._lights.values())

    async def set(self, name: str, change: Change) -> Light:
        async with self._lock:
            new, changed = await asyncio.to_thread(self._set, name, change)
        self._notify_all(changed)
        return new

    def _notify_all(self, lights: list[Light]) -> None:
        for light in lights:
            self._notify(light)

    def _set(self, name: str, change: Change) -> tuple[Light, list[Light]]:
        """Under the file lock: re-read, change one light, write; then adopt the file."""
        with self._locked():
            current = {x.name: x for x in self._read()}
            light = current.get(name)
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
            current[name] = new
            if new != light:
                self._write(list(current.values()))  # raises: then nothing changes here
            return new, self._adopt(list(current.values()))

    def _version(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> list[Light]:
        """Pick up the file if another process changed it since we last read it."""
        return self._adopt(self._read()) if self._version() != self._seen else []

    def _read(self) -> list[Light]:
        try:
            data = json.loads(self.path.read_text())
            return _LIGHTS.validate_python(data["lights"])
        except FileNotFoundError as e:
            raise LightsFileError(f"the lights file {self.path} is gone: restart to seed it") from e
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as e:
            problem = str(e).splitlines()[0]
            raise LightsFileError(
                f"cannot read the lights file {self.path}: {problem}; fix or delete it"
            ) from e

    def _adopt(self, lights: list[Light]) -> list[Light]:
        """Take the file's state as ours; the lights that changed (to notify)."""
        old, self._lights = self._lights, {light.name: light for light in lights}
        self._seen = self._version()
        return [x for x in self._lights.values() if old and old.get(x.name) != x]

    def _write(self, lights: list[Light]) -> None:
        """Write the file atomically: a crash leaves the old or the new file, never half."""
        data = {"lights": [light.model_dump(mode="json") for light in lights]}
        try:
            write_atomically(self.path, json.dumps(data, indent=2).encode())
        except OSError as e:
            logger.error(f"lights: cannot write {self.path}: {e}")
            raise LightsFileError(
                f"the change could not be saved ({e.strerror or e}); the lights are as they were"
            ) from e
