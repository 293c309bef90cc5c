"""Lights: list them, change one, a room, the whole house, or set a scene.

Tools: `list_lights(room?)`, `set_light(name, ...)`, `set_room(room, ...)`,
`set_all(...)`, `set_scene(scene, room?)`.

Scheduling, and why:

- Every change is NON_BLOCKING with SILENT on success: the light itself is the
  answer. The caller sees the kitchen go dark; the model saying "done, the
  kitchen lights are off" over that only delays the conversation. The model
  still takes the confirmed state in, so it knows it for later questions.
- A failed change is INTERRUPT (the tools' `error_scheduling`, and
  `Result(..., INTERRUPT)` when only some lights of a room failed): the caller is
  waiting for a light that will not change, so they must hear it at once, not
  after whatever the model is saying.
- `list_lights` is NON_BLOCKING with WHEN_IDLE: an answer to a question, worth
  saying, but not worth cutting the model off for.

Checks happen here, not in the model: names and rooms must exist (an unknown one
gets the known ones, bounded), brightness is 0–100, a colour temperature must be
within the light's range, a change must change something, and changes are
rate-limited by a token bucket (LIGHTS_MAX_CHANGES per LIGHTS_CHANGE_PERIOD
seconds, per process), so a runaway model cannot strobe the house.

Backends (`LIGHTS_BACKEND`): `local` (default) keeps lights in a JSON file
(`LIGHTS_FILE`, default `<data dir>/lights/lights.json`, seeded with a small
house); `mqtt` drives Zigbee2MQTT over MQTT (see `tools.lights.mqtt` for topics,
units and how rooms are found).

In a room (`room create --lights-room NAME`), "the lights" means that room's, and
the caller's page shows them (see `tools.lights.panel`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from tools.env import EnvReader
from tools.lights.backend import Change, Light, LightError, LightsBackend
from tools.lights.local import LocalLights
from tools.lights.mqtt import MqttLights
from tools.lights.panel import ROOM_OPTIONS, instructions, panel_for, vocabulary_for
from tools.lights.ratelimit import TokenBucket
from tools.lights.tools import light_tools
from tools.toolset import ToolContext, Toolset, ToolSettingsError

__all__ = [
    "ROOM_OPTIONS",
    "Change",
    "Light",
    "LightError",
    "LightsBackend",
    "backend_from_env",
    "toolset",
]


class BackendKind(StrEnum):
    LOCAL = "local"
    MQTT = "mqtt"


def backend_from_env(ctx: ToolContext) -> tuple[LightsBackend, TokenBucket]:
    """The backend and rate limit the settings ask for; `ToolSettingsError` lists problems."""
    env = EnvReader(ctx.env)
    kind = env.choice("LIGHTS_BACKEND", BackendKind, BackendKind.LOCAL)
    max_changes = env.int("LIGHTS_MAX_CHANGES", 10, lo=1, hi=1000) or 10
    period = env.float("LIGHTS_CHANGE_PERIOD", 10.0, lo=0.1, hi=3600.0)
    backend: LightsBackend | None = None
    if kind is BackendKind.MQTT:
        host = env.str("MQTT_HOST")
        port = env.int("MQTT_PORT", 1883, lo=1, hi=65535) or 1883
        confirm = env.float("LIGHTS_CONFIRM_TIMEOUT", 2.0, lo=0.1, hi=30.0)
        if host is None:
            env.problems.append(
                "MQTT_HOST is not set: set it to your MQTT broker's host name "
                "(LIGHTS_BACKEND=mqtt needs it), or set LIGHTS_BACKEND=local."
            )
        else:
            backend = MqttLights(
                host,
                port,
                username=env.str("MQTT_USERNAME"),
                password=env.str("MQTT_PASSWORD"),
                base_topic=env.str("MQTT_BASE_TOPIC", "zigbee2mqtt") or "zigbee2mqtt",
                confirm_timeout=confirm,
            )
    else:
        file = env.str("LIGHTS_FILE")
        backend = LocalLights(Path(file).expanduser() if file else ctx.data_dir / "lights.json")
    if env.problems or backend is None:
        raise ToolSettingsError(env.problems)
    return backend, TokenBucket(max_changes, period)


def toolset(ctx: ToolContext) -> Toolset:
    backend, limiter = backend_from_env(ctx)
    return Toolset(
        name="lights",
        tools=light_tools(backend, limiter),
        start=backend.start,
        stop=backend.stop,
        description="the house's lights: list them, switch and dim them, set scenes",
        extras={"backend": backend},
        instructions=instructions,
        panel=panel_for(backend),
        vocabulary=vocabulary_for(backend),
    )
