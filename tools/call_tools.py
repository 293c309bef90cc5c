"""The tools one call offers the model, which a tool may change while the call runs.

Why its own object: the registry (the toolsets' tools) is shared by every call, but
a tool may widen or narrow what *its* call offers ("the caller gave the PIN: offer
`open_door`"; "the order is placed: no more `add_item`"). `CallContext.tools` is this
call's `CallTools`: the ledger looks every model call up here (a removed tool is
refused, an added one runs at once) and the Live stage declares what is here in each
new session setup (`bot/live/tool_updates.py` says when the model learns of it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tools.definition import Tool
from tools.registry import ToolRegistry


@dataclass(frozen=True, slots=True)
class ToolSetChange:
    """One change of a call's tool set: `name` was added or removed; `version` counts
    the changes so far (the Live stage compares it with what it declared)."""

    name: str
    added: bool
    version: int

    def __str__(self) -> str:
        return f"{'+' if self.added else '-'}{self.name}"


class CallTools:
    """The tools this call offers now, by name; `add` and `remove` change this call only."""

    def __init__(self, registry: ToolRegistry | Iterable[Tool] = ()) -> None:
        self._source = registry if isinstance(registry, ToolRegistry) else None
        # Every tool this call has had, in declaration order (the registry's first).
        self._known: dict[str, Tool] = {t.name: t for t in registry}
        self._offered: set[str] = set(self._known)
        self.version = 0  # bumped by each change
        self._listeners: list[Callable[[ToolSetChange], None]] = []

    # ---- what the call offers ----------------------------------------------

    def get(self, name: str) -> Tool | None:
        """The tool the model may call by this name now (None: unknown or removed)."""
        return self._known.get(name) if name in self._offered else None

    def __iter__(self) -> Iterator[Tool]:
        return (t for n, t in self._known.items() if n in self._offered)

    def __len__(self) -> int:
        return len(self._offered)

    def __contains__(self, name: object) -> bool:
        return name in self._offered

    @property
    def names(self) -> list[str]:
        """The names offered now, in declaration order."""
        return [t.name for t in self]

    @property
    def removed(self) -> list[str]:
        """Tools this call had and no longer offers (each can be added back by name)."""
        return [n for n in self._known if n not in self._offered]

    def registry(self) -> ToolRegistry:
        """What is offered now as a registry (for the session's declarations)."""
        toolsets = self._source.toolsets if self._source is not None else ()
        return ToolRegistry(self, toolsets=toolsets)

    def unavailable(self, name: str) -> str:
        """Why the model cannot call `name` (for its error result)."""
        if name in self._known:
            return f"the tool {name!r} was removed from this call and cannot be used any more"
        return f"there is no tool named {name!r}"

    # ---- changing it (from a running tool: `ctx.tools`) ----------------------

    def add(self, tool: Tool | str) -> None:
        """Offer a tool in this call from now on: a `Tool` (e.g. one the toolset kept
        back until the caller proved who they are), or the name of one this call had
        and removed. The model may call it at once; it is declared to the model at the
        next session setup. Adding what is already offered does nothing."""
        if isinstance(tool, str):
            if tool not in self._known:
                raise ValueError(
                    f"cannot add tool {tool!r}: this call never had a tool by that name "
                    f"({self._inventory()}); to offer a new tool, pass the Tool itself"
                )
            name = tool
        elif isinstance(tool, Tool):
            name = tool.name
            same = self._known.get(name)
            if same is not None and same is not tool:
                raise ValueError(
                    f"cannot add tool {name!r}: this call already has a different tool by "
                    "that name (tool names must be unique)"
                )
            self._known.setdefault(name, tool)
        else:
            raise TypeError(
                f"add() takes a Tool (made with @tool) or a tool's name, not {type(tool).__name__}"
            )
        if name not in self._offered:
            self._offered.add(name)
            self._changed(name, added=True)

    def remove(self, name: str) -> None:
        """Stop offering `name` in this call: the model's calls to it are refused from
        now on (it gets an error result; nothing runs), and the next session setup no
        longer declares it. A call of it already running finishes. Removing what is
        already removed does nothing; `add(name)` offers it again."""
        if not isinstance(name, str):
            raise TypeError(f"remove() takes a tool's name, not {type(name).__name__}")
        if name not in self._known:
            raise ValueError(f"cannot remove tool {name!r}: no such tool ({self._inventory()})")
        if name in self._offered:
            self._offered.discard(name)
            self._changed(name, added=False)

    def on_change(self, listener: Callable[[ToolSetChange], None]) -> None:
        """Call `listener` after each change (the Live stage redeclares the tools)."""
        self._listeners.append(listener)

    def _changed(self, name: str, *, added: bool) -> None:
        self.version += 1
        change = ToolSetChange(name, added, self.version)
        for listener in list(self._listeners):
            listener(change)

    def _inventory(self) -> str:
        text = f"available: {', '.join(self.names) or 'none'}"
        if self.removed:
            text += f"; removed: {', '.join(self.removed)}"
        return text
