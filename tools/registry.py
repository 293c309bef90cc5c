"""The set of tools one call offers the model, looked up by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tools.api import Tool


class ToolRegistry:
    """Tools by name; names are unique because the model calls tools by name."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
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

    def declarations(self) -> list[dict[str, Any]]:
        """The function declarations, without behaviour (the Live stage adds it)."""
        return [t.declaration() for t in self]
