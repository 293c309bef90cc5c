"""Tool packages: how a domain (`tools/calendar/`, `tools/lights/`, yours) plugs in.

A package under `tools/` is a tool package when its `__init__.py` defines

    def toolset(ctx: ToolContext) -> Toolset

It reads its own settings from `ctx.env` (with `EnvReader`, raising
`ToolSettingsError` listing every problem), builds its backend and returns its
tools. The bot imports only the packages named in the `TOOLS` setting, so a
new package is enabled by configuration, without editing the bot. A package can
also live outside this repository, as an installed distribution with an entry
point in the group `livebot.tools` (see `tools.discovery`).

Besides its tools, a toolset may contribute to a call without the bot knowing it
by name (the bot loops over toolsets):

- `instructions(settings)`: its lines for the system instruction of a room;
- `vocabulary(settings)`: names callers say (lights, rooms), a transcription hint;
- `panel(settings)`: a `PagePanel`, what the caller's page shows beside the call
  (a snapshot message, sent at the start and again on each change it reports);
- `for_room(settings)`: the toolset calls in a room use (e.g. the room's calendar).

`settings` is the room's opaque mapping for this toolset (`Room.toolsets[name]`),
which only the toolset interprets. A package declares the settings a room may
carry in its module as `ROOM_OPTIONS` (`RoomOption`s: the `livebot room create`
flag, the check of a value), see `tools.room_options`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tools.api import Tool
from tools.registry import ToolRegistry


class ToolSettingsError(ValueError):
    """A tool package's settings are wrong; `problems` says what to set, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ToolContext:
    """What a tool package gets to build its toolset."""

    env: Mapping[str, str]
    data_dir: Path  # the package's own directory for state (created for it)
    timezone: ZoneInfo


RoomSettings = Mapping[str, str]  # one toolset's settings in one room, its own to interpret


@dataclass(frozen=True)
class PagePanel:
    """What a toolset shows on the caller's page: one RTVI `server-message` it keeps fresh.

    `snapshot()` returns the whole message (a dict with its own `"type"`, e.g. the
    room's lights) or None when there is nothing to show; the page feed sends it when
    the page is ready and again after each change. Changes come from `subscribe`
    (the backend calls `changed()`, possibly many times at once: the feed sends one
    snapshot shortly after; the returned function unsubscribes) and from the
    toolset's own tools: a call of a tool in `refresh_after` that finished refreshes
    the panel.
    """

    snapshot: Callable[[], Awaitable[dict[str, Any] | None]]
    subscribe: Callable[[Callable[[], None]], Callable[[], None]] | None = None
    refresh_after: frozenset[str] = frozenset()


@dataclass
class Toolset:
    """A domain's tools and the backend they share, started once per bot process."""

    name: str
    tools: list[Tool]
    start: Callable[[], Awaitable[None]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    description: str = ""
    extras: dict[str, object] = field(default_factory=dict)
    # A room may configure the package differently (e.g. its own calendar): given the
    # room's settings, return the toolset calls in that room use (the package caches it).
    for_room: Callable[[RoomSettings], Toolset] | None = None
    # Lines for the system instruction of a room with these settings (None: nothing).
    instructions: Callable[[RoomSettings], str | None] | None = None
    # What the caller's page shows for this toolset in a room with these settings.
    panel: Callable[[RoomSettings], PagePanel | None] | None = None
    # Names a caller may say in such a room (lights, rooms): a transcription hint.
    vocabulary: Callable[[RoomSettings], Awaitable[list[str]]] | None = None

    def in_room(self, settings: RoomSettings) -> Toolset:
        return self.for_room(settings) if self.for_room is not None else self

    def room_instructions(self, settings: RoomSettings) -> str | None:
        return self.instructions(settings) if self.instructions is not None else None

    def page_panel(self, settings: RoomSettings) -> PagePanel | None:
        return self.panel(settings) if self.panel is not None else None

    async def room_vocabulary(self, settings: RoomSettings) -> list[str]:
        return await self.vocabulary(settings) if self.vocabulary is not None else []


def available_packages() -> list[str]:
    """The tool packages `TOOLS` may name: those under `tools/` and installed ones
    (entry-point group `livebot.tools`, see `tools.discovery`)."""
    from tools.discovery import discover

    return sorted(discover().packages)


def load_toolsets(
    names: Sequence[str], env: Mapping[str, str], data_dir: Path, timezone: ZoneInfo
) -> list[Toolset]:
    """Build the named packages' toolsets; raise `ToolSettingsError` with every problem."""
    from tools.discovery import PackageLoadError, discover

    problems: list[str] = []
    sets: list[Toolset] = []
    found = discover()
    known = sorted(found.packages)
    offered: dict[str, str] = {}  # tool name -> the package that offers it
    for name in names:
        if name in found.clashes:
            problems.append(f"TOOLS names '{name}', which is ambiguous: {found.clashes[name]}.")
            continue
        source = found.packages.get(name)
        if source is None:
            problems.append(
                f"TOOLS names '{name}', which is not a tool package "
                f"(available: {', '.join(known) or 'none'})."
            )
            continue
        try:
            make = source.toolset_factory()
        except PackageLoadError as e:
            problems.append(f"{e}.")
            continue
        pkg_dir = data_dir / name
        pkg_dir.mkdir(parents=True, exist_ok=True)
        try:
            toolset = make(ToolContext(env=env, data_dir=pkg_dir, timezone=timezone))
        except ToolSettingsError as e:
            problems.extend(e.problems)
            continue
        except Exception as e:
            if source.builtin:
                raise
            problems.append(
                f"tool package '{name}' from {source.origin} failed in toolset(): "
                f"{type(e).__name__}: {e}."
            )
            continue
        if not isinstance(toolset, Toolset):
            problems.append(
                f"tool package '{name}' from {source.origin}: toolset() returned "
                f"{type(toolset).__name__}, not a tools.toolset.Toolset."
            )
            continue
        for t in toolset.tools:
            if t.name in offered:
                problems.append(
                    f"tool '{t.name}' is offered by both '{offered[t.name]}' and '{name}' "
                    f"({source.origin}): tool names must be unique, so enable only one of "
                    f"them or rename the tool."
                )
            else:
                offered[t.name] = name
        sets.append(toolset)
    if problems:
        raise ToolSettingsError(problems)
    return sets


def registry_of(toolsets: Sequence[Toolset]) -> ToolRegistry:
    """The tools of `toolsets` (the registry keeps the toolsets: their room instructions
    and page panels go with their tools into the call)."""
    return ToolRegistry((t for s in toolsets for t in s.tools), toolsets=toolsets)
