"""Tool packages: how a domain (`tools/calendar/`, `tools/lights/`, yours) plugs in.

A package under `tools/` is a tool package when its `__init__.py` defines

    def toolset(ctx: ToolContext) -> Toolset

It reads its own settings from `ctx.env` (with `EnvReader`, raising
`ToolSettingsError` listing every problem), builds its backend and returns its
tools. The bot imports only the packages named in the `TOOLS` setting, so a
new package is enabled by configuration, without editing the bot.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    for_room: Callable[[Mapping[str, str | None]], Toolset] | None = None

    def in_room(self, room: Mapping[str, str | None]) -> Toolset:
        return self.for_room(room) if self.for_room is not None else self


def available_packages() -> list[str]:
    """The tool packages under `tools/` (those defining `toolset`)."""
    import tools

    names = []
    for info in pkgutil.iter_modules(tools.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"tools.{info.name}")
        if callable(getattr(module, "toolset", None)):
            names.append(info.name)
    return sorted(names)


def load_toolsets(
    names: Sequence[str], env: Mapping[str, str], data_dir: Path, timezone: ZoneInfo
) -> list[Toolset]:
    """Build the named packages' toolsets; raise `ToolSettingsError` with every problem."""
    problems: list[str] = []
    sets: list[Toolset] = []
    known = available_packages()
    for name in names:
        if name not in known:
            problems.append(
                f"TOOLS names '{name}', which is not a tool package "
                f"(available: {', '.join(known) or 'none'})."
            )
            continue
        module = importlib.import_module(f"tools.{name}")
        pkg_dir = data_dir / name
        pkg_dir.mkdir(parents=True, exist_ok=True)
        try:
            sets.append(module.toolset(ToolContext(env=env, data_dir=pkg_dir, timezone=timezone)))
        except ToolSettingsError as e:
            problems.extend(e.problems)
    if problems:
        raise ToolSettingsError(problems)
    return sets


def registry_of(toolsets: Sequence[Toolset]) -> ToolRegistry:
    return ToolRegistry(t for s in toolsets for t in s.tools)
