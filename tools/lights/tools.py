"""The lights tools the model calls, over any `LightsBackend`.

Everything the model asks for is checked here, outside the model: names and
rooms must exist (an unknown one is answered with the known ones), brightness
is 0–100, a colour temperature must be within the light's range, a change must
change something, and changes are rate-limited.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from loguru import logger
from pydantic import Field

from tools.api import Behavior, Handler, Result, Scheduling, Tool, ToolError, tool
from tools.lights.backend import Change, Light, LightError, LightsBackend
from tools.lights.ratelimit import TokenBucket

MAX_NAMES = 12  # an error lists at most this many known names

SceneName = Literal["bright", "focus", "relax", "night", "off"]
SCENES: dict[str, Change] = {
    "bright": Change(on=True, brightness=100, color_temp_kelvin=4000),
    "focus": Change(on=True, brightness=100, color_temp_kelvin=5000),
    "relax": Change(on=True, brightness=50, color_temp_kelvin=2700),
    "night": Change(on=True, brightness=10, color_temp_kelvin=2200),
    "off": Change(on=False),
}

On = Annotated[bool | None, Field(description="true to switch on, false to switch off")]
Brightness = Annotated[
    int | None,
    Field(ge=0, le=100, description="Brightness in percent, 0 to 100 (0 switches off)"),
]
Kelvin = Annotated[
    int | None,
    Field(
        ge=1000,
        le=10000,
        description=(
            "Colour temperature in kelvin: 2200 candle-warm, 2700 warm white, "
            "4000 neutral, 6500 daylight. Each light has its own range (see list_lights)."
        ),
    ),
]
Room = Annotated[str, Field(description="A room's name, as list_lights gives it")]


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _known(names: Iterable[str], wanted: str) -> str:
    """'Did you mean …? Known …: a, b, c (and 7 more).' — bounded, closest first."""
    names = list(dict.fromkeys(names))
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    ordered = close + [n for n in names if n not in close]
    shown = ", ".join(ordered[:MAX_NAMES])
    more = f" and {len(ordered) - MAX_NAMES} more" if len(ordered) > MAX_NAMES else ""
    quoted = [f"'{c}'" for c in close]
    either = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else "".join(quoted)
    hint = f" Did you mean {either}?" if close else ""
    return f"{hint} Known: {shown or 'none'}{more}."


def brief(light: Light, *, with_range: bool = False) -> dict[str, Any]:
    """A light as the model reads it."""
    out: dict[str, Any] = {
        "name": light.name,
        "room": light.room,
        "on": light.on,
        "brightness": light.brightness,
    }
    if light.color_temp_kelvin is not None:
        out["color_temp_kelvin"] = light.color_temp_kelvin
    if with_range and light.min_kelvin and light.max_kelvin:
        out["color_temp_range_kelvin"] = [light.min_kelvin, light.max_kelvin]
    if with_range and not light.dimmable:
        out["dimmable"] = False
    if not light.reachable:
        out["reachable"] = False
    return out


def normalise(change: Change) -> Change:
    """Off means only off; a brightness switches on (0 switches off)."""
    if change.on is False or change.brightness == 0:
        return Change(on=False)
    if change.brightness is not None:
        return Change(True, change.brightness, change.color_temp_kelvin)
    return change


def check(light: Light, change: Change) -> None:
    """Refuse what this one light cannot do, saying what it can."""
    if not light.reachable:
        raise ToolError(f"the light '{light.name}' is unreachable (no power or out of range)")
    if change.brightness is not None and not light.dimmable:
        raise ToolError(f"'{light.name}' cannot be dimmed; it can only be switched on or off")
    k = change.color_temp_kelvin
    if k is not None:
        if not (light.min_kelvin and light.max_kelvin):
            raise ToolError(f"'{light.name}' has no colour temperature setting")
        if not light.min_kelvin <= k <= light.max_kelvin:
            raise ToolError(
                f"color_temp_kelvin {k} is out of range for '{light.name}': "
                f"it takes {light.min_kelvin} to {light.max_kelvin} K"
            )


def fit(light: Light, change: Change, *, clamp: bool) -> Change:
    """The part of a group change this light can do (clamping a scene's kelvin)."""
    brightness = change.brightness if light.dimmable else None
    k = change.color_temp_kelvin
    if k is not None:
        if not (light.min_kelvin and light.max_kelvin):
            k = None
        elif clamp:
            k = max(light.min_kelvin, min(light.max_kelvin, k))
    return Change(change.on, brightness, k)


def check_group(lights: list[Light], change: Change) -> None:
    """A model-given kelvin must suit every light in the group that has one."""
    k = change.color_temp_kelvin
    ranged = [light for light in lights if light.min_kelvin and light.max_kelvin]
    if k is None or not ranged:
        return
    lo = max(light.min_kelvin or 0 for light in ranged)
    hi = min(light.max_kelvin or 0 for light in ranged)
    if not lo <= k <= hi:
        raise ToolError(f"color_temp_kelvin {k} is out of range: these lights take {lo} to {hi} K")


def _whole_house(arguments: Mapping[str, Any]) -> bool:
    """A scene without a room is set in every room."""
    return not arguments.get("room")


def light_tools(backend: LightsBackend, limiter: TokenBucket) -> list[Tool]:
    """The lights tools over `backend`, sharing one rate limit."""

    async def all_lights() -> list[Light]:
        try:
            return await backend.lights()
        except LightError as e:
            raise ToolError(str(e)) from e

    async def in_room(room: str) -> list[Light]:
        lights = await all_lights()
        found = [light for light in lights if _norm(light.room) == _norm(room)]
        if not found:
            raise ToolError(f"there is no room '{room}'.{_known((x.room for x in lights), room)}")
        return found

    async def apply(targets: list[Light], change: Change, *, clamp: bool = False) -> Result:
        """Change every reachable target at once; one rate-limit token per action."""
        reachable = [light for light in targets if light.reachable]
        if not reachable:
            names = ", ".join(light.name for light in targets)
            raise ToolError(f"no light can be reached ({names})")
        if not limiter.take():
            raise ToolError("too many light changes, wait a moment")
        results = await asyncio.gather(
            *(backend.set(light.name, fit(light, change, clamp=clamp)) for light in reachable),
            return_exceptions=True,
        )
        changed: list[dict[str, Any]] = []
        failed: list[str] = [
            f"'{light.name}' is unreachable" for light in targets if not light.reachable
        ]
        for light, result in zip(reachable, results, strict=True):
            if isinstance(result, Light):
                changed.append(brief(result))
            elif isinstance(result, LightError):
                failed.append(str(result))
            else:
                logger.opt(exception=result).error(f"lights: setting {light.name} failed")
                failed.append(f"'{light.name}' failed unexpectedly ({type(result).__name__})")
        if not failed:
            return Result({"lights": changed})
        if not changed:
            raise ToolError("; ".join(failed))
        # Partly done: say so at once, with what did change.
        return Result({"error": "; ".join(failed), "lights": changed}, Scheduling.INTERRUPT)

    def change_of(on: bool | None, brightness: int | None, kelvin: int | None) -> Change:
        change = Change(on, brightness, kelvin)
        if change.is_empty():
            raise ToolError("say what to change: on, brightness or color_temp_kelvin")
        return normalise(change)

    # Changes: the light itself is the answer (SILENT); a failure must be heard
    # (INTERRUPT); they act, so they run only on the caller's own request, and a
    # whole-house change only once the caller has confirmed it.
    def light_change(
        *, confirm: bool | Callable[[Mapping[str, Any]], bool] = False
    ) -> Callable[[Handler], Tool]:
        return tool(
            behavior=Behavior.NON_BLOCKING,
            scheduling=Scheduling.SILENT,
            error_scheduling=Scheduling.INTERRUPT,
            acting=True,
            confirm=confirm,
        )

    @tool(behavior=Behavior.NON_BLOCKING, scheduling=Scheduling.WHEN_IDLE)
    async def list_lights(room: Room | None = None) -> dict:
        """List the lights (optionally of one room): name, room, on/off, brightness in
        percent and colour temperature in kelvin with the range each light takes."""
        lights = await in_room(room) if room else await all_lights()
        return {"lights": [brief(light, with_range=True) for light in lights]}

    @light_change()
    async def set_light(
        name: Annotated[str, Field(description="The light's name, as list_lights gives it")],
        on: On = None,
        brightness: Brightness = None,
        color_temp_kelvin: Kelvin = None,
    ) -> Result:
        """Change one light: switch it on or off, set its brightness and/or its colour
        temperature. Give at least one of them. The change is silent when it works."""
        change = change_of(on, brightness, color_temp_kelvin)
        lights = await all_lights()
        light = next((x for x in lights if _norm(x.name) == _norm(name)), None)
        if light is None:
            raise ToolError(f"there is no light '{name}'.{_known((x.name for x in lights), name)}")
        check(light, change)
        return await apply([light], change)

    @light_change()
    async def set_room(
        room: Room,
        on: On = None,
        brightness: Brightness = None,
        color_temp_kelvin: Kelvin = None,
    ) -> Result:
        """Change every light in one room the same way (on/off, brightness, colour
        temperature; at least one). The change is silent when it works."""
        change = change_of(on, brightness, color_temp_kelvin)
        lights = await in_room(room)
        check_group(lights, change)
        return await apply(lights, change)

    @light_change(confirm=True)
    async def set_all(
        on: On = None,
        brightness: Brightness = None,
        color_temp_kelvin: Kelvin = None,
    ) -> Result:
        """Change every light in the house the same way (on/off, brightness, colour
        temperature; at least one). The change is silent when it works."""
        change = change_of(on, brightness, color_temp_kelvin)
        lights = await all_lights()
        check_group(lights, change)
        return await apply(lights, change)

    @light_change(confirm=_whole_house)
    async def set_scene(
        scene: Annotated[
            SceneName,
            Field(
                description="bright: full, neutral white; focus: full, cool white; "
                "relax: half, warm; night: very dim, warmest; off: all off"
            ),
        ],
        room: Annotated[
            str | None, Field(description="Only this room (default: the whole house)")
        ] = None,
    ) -> Result:
        """Set a named lighting scene in one room or the whole house. The change is
        silent when it works."""
        lights = await in_room(room) if room else await all_lights()
        return await apply(lights, SCENES[scene], clamp=True)

    return [list_lights, set_light, set_room, set_all, set_scene]
