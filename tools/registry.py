"""The set of tools one call offers the model, looked up by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from tools.api import Tool

if TYPE_CHECKING:
    from tools.toolset import Toolset


class ToolRegistry:
    """Tools by name; names are unique because the model calls tools by name."""

    def __init__(self, tools: Iterable[Tool] = (), *, toolsets: Sequence[Toolset] = ()):
        self._tools: dict[str, Tool] = {}
        # The toolsets the tools came from (see `tools.toolset.registry_of`), for what
        # else they bring to a call: room instructions, page panels.
        self.toolsets: tuple[Toolset, ...] = tuple(toolsets)
        for t in tools:
            self.add(t)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"two tools are named {tool.name!r}; tool names must be unique")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
