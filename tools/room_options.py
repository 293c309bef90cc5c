"""The per-room settings tool packages offer, found without building their toolsets.

A room carries an opaque mapping of settings per toolset (`Room.toolsets`, e.g. the
lights room a room controls, the calendar it uses). The bot must not know what
they mean, yet `livebot room create` needs a flag for each, a bad value must be
refused when a room is created or read from `rooms.json`, and files written before
rooms carried per-toolset settings (with top-level keys such as `lights_room`) must
still read the same. So a package declares its settings in its module:

    ROOM_OPTIONS = [RoomOption("room", "--lights-room", "the lights room ...", ...)]

and the bot asks here. Packages are found as `TOOLS` finds them (`tools.discovery`),
whether or not `TOOLS` enables them (a room is set up before its tools may be), and
keyed by their package name, which is also their `Toolset.name`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from loguru import logger


@dataclass(frozen=True)
class RoomOption:
    """One setting a room may carry for a tool package."""

    key: str  # its key in the room's settings for the package
    flag: str  # the `livebot room create` option, e.g. "--lights-room"
    help: str
    label: str  # how `livebot room list` names it
    legacy_key: str | None = None  # its top-level key in rooms.json files of old
    # The problem with a value (a sentence naming it), or None when it is fine.
    check: Callable[[str], str | None] | None = None


@functools.cache
def room_options() -> dict[str, tuple[RoomOption, ...]]:
    """Every tool package's room options, by package name (packages without any left out)."""
    from tools.discovery import discover

    found: dict[str, tuple[RoomOption, ...]] = {}
    for name, source in sorted(discover().packages.items()):
        try:
            module = _module_of(source.module, source.entry_point)
        except Exception as e:  # a broken package is reported when TOOLS names it
            logger.debug(f"tool package {name!r}: no room options ({type(e).__name__}: {e})")
            continue
        options = tuple(getattr(module, "ROOM_OPTIONS", ()) or ())
        if options:
            found[name] = options
    return found


def option(package: str, key: str) -> RoomOption | None:
    return next((o for o in room_options().get(package, ()) if o.key == key), None)


def problem(package: str, key: str, value: str) -> str | None:
    """What is wrong with a room's setting `key` = `value` for `package`, or None."""
    known = option(package, key)
    if known is None or known.check is None:
        return None
    return known.check(value)


def _module_of(module: str | None, entry_point: object) -> ModuleType | None:
    if module is not None:
        return importlib.import_module(module)
    loaded = entry_point.load()  # type: ignore[attr-defined]
    return loaded if isinstance(loaded, ModuleType) else inspect.getmodule(loaded)
