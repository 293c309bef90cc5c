"""What the lights tools need from a backend: a list of lights, a way to change one,
and notifications when one changes (so a UI can show the real current state).

Backends trust their input: names, ranges and rate limits are checked by the
tools (`tools/lights/tools.py`) before a backend is asked for anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from pydantic import BaseModel


class Light(BaseModel):
    """One light as it is now. `brightness` is 0–100 % (the level it comes on at when
    off); `color_temp_kelvin` is None for lights without tunable white."""

    name: str
    room: str
    on: bool
    brightness: int
    color_temp_kelvin: int | None = None
    reachable: bool = True
    dimmable: bool = True
    min_kelvin: int | None = None  # the colour temperature range, if it has one
    max_kelvin: int | None = None


@dataclass(frozen=True)
class Change:
    """What to change on one light; None leaves a property as it is."""

    on: bool | None = None
    brightness: int | None = None
    color_temp_kelvin: int | None = None

    def is_empty(self) -> bool:
        return self.on is None and self.brightness is None and self.color_temp_kelvin is None


class LightError(Exception):
    """A backend failure the model should hear about (the message is what it is told)."""


Listener = Callable[[Light], None]


class LightsBackend(ABC):
    """The interface of every lights backend."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect (or load state); called once before the first tool call."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Disconnect; called once at shutdown."""

    @abstractmethod
    async def lights(self) -> list[Light]:
        """Every light, in a stable order."""

    @abstractmethod
    async def set(self, name: str, change: Change) -> Light:
        """Apply `change` to the light `name`; return its confirmed state or raise
        `LightError`."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(light)` whenever a light's state changes (from us or from
        anywhere else); returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, light: Light) -> None:
        for listener in list(self._listeners):
            try:
                listener(light)
            except Exception:
                logger.exception(f"lights listener {listener!r} failed")
